//! Who a node lets in: bans that expire and double for repeat offenders, a burst of garbage
//! banned at once, a stock libp2p peer (no ergon protocols) disconnected but never banned and
//! kept out of the Kademlia table, garbage on the `receipts` topic penalised, and the per-IP cap
//! on inbound connections.

use super::network::{first_status, genesis_of, peers, rogue_keyed};
use super::*;
use ergon::network::{NetworkHandle, Topic};
use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    identify, kad, noise, ping, request_response, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm, SwarmBuilder,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

fn connected(node: &Node, peer: &str) -> bool {
    peers(node).iter().any(|p| p["peerId"] == peer)
}

/// The `disconnecting and banning peer` lines the node logged so far.
fn bans(node: &Node) -> Vec<String> {
    node.stderr().lines().filter(|l| l.contains("disconnecting and banning peer")).map(String::from).collect()
}

/// Publishes distinct undecodable messages on `topic` in bursts of `burst`, one burst a second,
/// until the node has logged `count` bans; returns the last ban's line.
async fn garbage_until_banned(net: &NetworkHandle, node: &Node, topic: Topic, burst: u8, count: usize) -> String {
    let deadline = Instant::now() + PROGRESS;
    let mut i = 0u32;
    loop {
        if let Some(line) = bans(node).get(count - 1) {
            return line.clone();
        }
        assert!(Instant::now() < deadline, "ban {count} never came; stderr:\n{}", node.stderr());
        for _ in 0..burst {
            i += 1;
            let mut junk = vec![0xff, 0x13, 0x37];
            junk.extend_from_slice(&i.to_le_bytes());
            net.publish(topic, junk);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Dials `node` from `net` every 500 ms until the node lists it as a peer.
async fn dial_until_let_in(net: &NetworkHandle, node: &Node, what: &str) {
    let id = net.local_peer_id();
    let deadline = Instant::now() + PROGRESS;
    while !connected(node, &id) {
        assert!(Instant::now() < deadline, "{what} was never let in; stderr:\n{}", node.stderr());
        let _ = net.dial(&node.p2p_addr()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[test]
fn a_ban_expires_and_a_repeat_offender_waits_twice_as_long() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::spawn(&dir.path().join("n"), &["--dev", "--peer-ban-secs", "2"], &[]);
    let genesis = genesis_of(&n);
    runtime().block_on(async {
        let (net, mut events) = rogue_keyed(&n, genesis, 21);
        first_status(&mut events).await;
        // One burst: gossipsub graylists the sender at its third message and ignores it from
        // then on, so the node must ban at that moment, not at a later periodic check.
        let first = garbage_until_banned(&net, &n, Topic::Txs, 6, 1).await;
        assert!(first.contains("secs=2"), "a first offence is banned for --peer-ban-secs: {first}");
        // The ban ends and the same peer id is let in again.
        dial_until_let_in(&net, &n, "the peer, after its ban,").await;
        let second = garbage_until_banned(&net, &n, Topic::Txs, 1, 2).await;
        assert!(second.contains("secs=4"), "a second offence waits twice as long: {second}");
    });
    // The node kept producing blocks throughout.
    let h = n.head().0;
    n.wait_height(h + 1);
}

/// A libp2p peer with only identify and ping, like a generic tool or a crawler.
#[derive(NetworkBehaviour)]
struct Stock {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

fn stock_peer() -> Swarm<Stock> {
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|key| Stock {
            identify: identify::Behaviour::new(identify::Config::new("/stock/1.0.0".into(), key.public())),
            ping: ping::Behaviour::default(),
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build()
}

/// Dials `addr` and follows the connection until it closes.
async fn connect_until_closed(swarm: &mut Swarm<Stock>, addr: &Multiaddr) {
    swarm.dial(addr.clone()).unwrap();
    let follow = async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionClosed { num_established: 0, .. } => return,
                SwarmEvent::OutgoingConnectionError { error, .. } => panic!("dial failed: {error}"),
                _ => {}
            }
        }
    };
    tokio::time::timeout(PROGRESS, follow).await.expect("the node never closed the connection");
}

#[test]
fn a_stock_libp2p_peer_is_disconnected_not_banned() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::spawn(&dir.path().join("n"), &["--dev"], &[]);
    let addr: Multiaddr = n.p2p_addr().parse().unwrap();
    let why = "does not speak the ergon status protocol";
    runtime().block_on(async {
        let mut stock = stock_peer();
        connect_until_closed(&mut stock, &addr).await;
        // A banned peer's next connection would be refused before the node asks its status.
        connect_until_closed(&mut stock, &addr).await;
    });
    wait_for("both connections to be judged", PROGRESS, || (n.stderr().matches(why).count() >= 2).then_some(()));
    assert!(bans(&n).is_empty(), "a peer that merely lacks a protocol must not be banned:\n{}", n.stderr());
}

#[test]
fn inbound_connections_per_ip_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::spawn(&dir.path().join("n"), &["--dev", "--max-peers-per-ip", "1"], &[]);
    let genesis = genesis_of(&n);
    runtime().block_on(async {
        let (a, mut a_events) = rogue_keyed(&n, genesis, 31);
        first_status(&mut a_events).await;
        let (b, _b_events) = rogue_keyed(&n, genesis, 32);
        // 127.0.0.1 already holds its one inbound connection.
        let refused = b.dial(&n.p2p_addr()).await;
        assert!(refused.is_err(), "a second peer from the same address got in");
        assert!(connected(&n, &a.local_peer_id()) && !connected(&n, &b.local_peer_id()));
        // When the first goes, the address has room again.
        drop((a, a_events));
        dial_until_let_in(&b, &n, "the second peer").await;
    });
}

/// The `ergon_gossip_tx_signatures_checked_total` counter of `node`'s `/metrics`.
fn signatures_checked(node: &Node) -> u64 {
    let text = http_get(node.port, "/metrics").text();
    let line = text.lines().find(|l| l.starts_with("ergon_gossip_tx_signatures_checked_total ")).expect("the metric");
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Issue 14: a gossip peer sending txs with bad signatures costs one batch verification:
/// its later messages are rejected unchecked, each a strike towards the ban gossip scoring
/// gives at the third.
#[test]
fn a_peer_sending_bad_signatures_is_checked_once_then_banned() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::spawn(&dir.path().join("n"), &["--dev"], &[]);
    let genesis = genesis_of(&n);
    let bob = Keypair::dev("bob");
    runtime().block_on(async {
        let (net, mut events) = rogue_keyed(&n, genesis, 41);
        first_status(&mut events).await;
        // One message at a time, each judged before the next goes: three checks before.
        for nonce in 1..=3 {
            let mut tx = transfer(&bob, CHARLIE, 1, nonce);
            tx.signature.0[0] ^= 1;
            let before = super::network::gossip_counter(&n, "rejected");
            net.publish(Topic::Txs, ergon::wire::encode_tx_batch([&tx]));
            let deadline = Instant::now() + PROGRESS;
            while super::network::gossip_counter(&n, "rejected") == before {
                assert!(Instant::now() < deadline, "message {nonce} was never judged; stderr:\n{}", n.stderr());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    wait_for("the bad signer to be banned", PROGRESS, || (!bans(&n).is_empty()).then_some(()));
    assert_eq!(signatures_checked(&n), 1, "only the first message's signature was verified");
}

/// Issue 14, item 8: every topic's validator penalises undecodable data; `receipts` did not.
/// A peer publishing garbage there is banned, and it is counted under its topic.
#[test]
fn garbage_on_the_receipts_topic_gets_the_sender_banned() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::spawn(&dir.path().join("n"), &["--dev"], &[]);
    let genesis = genesis_of(&n);
    runtime().block_on(async {
        let (net, mut events) = rogue_keyed(&n, genesis, 61);
        first_status(&mut events).await;
        garbage_until_banned(&net, &n, Topic::Receipts, 6, 1).await;
    });
    let by_topic = n.call("system_networkState", json!([]))["gossip"]["byTopic"].clone();
    assert!(by_topic["receipts"]["undecodable"].as_u64().unwrap_or(0) >= 1, "{by_topic}");
    assert_eq!(by_topic["txs"]["undecodable"], 0, "{by_topic}");
}

/// A peer that asks for the node's closest peers over the chain's Kademlia protocol. It takes
/// the node's status request and never answers it, so the node keeps it connected until the
/// request times out (a peer without the protocol is dropped at once, before kad can answer).
#[derive(NetworkBehaviour)]
struct Seeker {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    status: request_response::Behaviour<Mute>,
}

/// A libp2p peer with identify, ping and a status protocol that takes requests and never
/// answers (so the node keeps it connected for a while), but no Kademlia.
#[derive(NetworkBehaviour)]
struct NoKad {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    status: request_response::Behaviour<Mute>,
}

fn mute_status() -> request_response::Behaviour<Mute> {
    request_response::Behaviour::new(
        [(StreamProtocol::new("/ergon/status/1"), request_response::ProtocolSupport::Inbound)],
        request_response::Config::default(),
    )
}

fn no_kad_peer() -> Swarm<NoKad> {
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|key| NoKad {
            identify: identify::Behaviour::new(identify::Config::new("/no-kad/1.0.0".into(), key.public())),
            ping: ping::Behaviour::default(),
            status: mute_status(),
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build()
}

/// A codec that reads and writes nothing: requests are taken, never answered.
#[derive(Clone, Default)]
struct Mute;

impl request_response::Codec for Mute {
    type Protocol = StreamProtocol;
    type Request = ();
    type Response = ();

    async fn read_request<T>(&mut self, _: &StreamProtocol, _: &mut T) -> std::io::Result<()> {
        Ok(())
    }
    async fn read_response<T>(&mut self, _: &StreamProtocol, _: &mut T) -> std::io::Result<()> {
        Ok(())
    }
    async fn write_request<T>(&mut self, _: &StreamProtocol, _: &mut T, _: ()) -> std::io::Result<()> {
        Ok(())
    }
    async fn write_response<T>(&mut self, _: &StreamProtocol, _: &mut T, _: ()) -> std::io::Result<()> {
        Ok(())
    }
}

fn seeker(genesis: ergon::primitives::Hash) -> Swarm<Seeker> {
    let protocol = format!("/ergon/{}/kad/1.0.0", hex::encode(&genesis.0[..8]));
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|key| {
            let id = key.public().to_peer_id();
            let config = kad::Config::new(StreamProtocol::try_from_owned(protocol).unwrap());
            let mut kad = kad::Behaviour::with_config(id, kad::store::MemoryStore::new(id), config);
            kad.set_mode(Some(kad::Mode::Client));
            let status = mute_status();
            let identify = identify::Behaviour::new(identify::Config::new("/seeker/1.0.0".into(), key.public()));
            Seeker { identify, ping: ping::Behaviour::default(), kad, status }
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// Issue 14, item 8 (paritytech/substrate#6549): only peers that speak the chain's Kademlia
/// protocol enter the node's routing table, so the node never hands out a stock libp2p peer
/// to those who ask it for peers. A peer without kad that listens and identifies itself (with
/// its listen address) to the node, and an ergon peer, both connect; a seeker asking the node
/// for its closest peers then dials the ergon peer (the node handed it out) and never the other.
#[test]
fn a_peer_that_does_not_speak_kad_is_not_handed_out() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::spawn(&dir.path().join("n"), &["--dev"], &[]);
    let genesis = genesis_of(&n);
    let node_addr: Multiaddr = n.p2p_addr().parse().unwrap();
    let node_id: PeerId = n.peer_id().parse().unwrap();
    runtime().block_on(async {
        let (ergon_peer, mut events) = rogue_keyed(&n, genesis, 71);
        first_status(&mut events).await;
        let ergon_peer: PeerId = ergon_peer.local_peer_id().parse().unwrap();

        // A peer without kad listens, so that it has an address to give, and stays connected
        // (its status request held) after it gave the node its identify info.
        let mut no_kad = no_kad_peer();
        no_kad.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
        let no_kad_id = *no_kad.local_peer_id();
        let dial_addr = node_addr.clone();
        let (identified_tx, identified) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut held, mut sent, mut tell) = (Vec::new(), false, Some(identified_tx));
            loop {
                match no_kad.select_next_some().await {
                    SwarmEvent::NewListenAddr { .. } if held.is_empty() && !sent => {
                        no_kad.dial(dial_addr.clone()).unwrap()
                    }
                    SwarmEvent::Behaviour(NoKadEvent::Identify(identify::Event::Sent { peer_id, .. }))
                        if peer_id == node_id =>
                    {
                        sent = true
                    }
                    SwarmEvent::Behaviour(NoKadEvent::Status(request_response::Event::Message {
                        message: request_response::Message::Request { channel, .. },
                        ..
                    })) => held.push(channel),
                    _ => {}
                }
                if sent && !held.is_empty() {
                    if let Some(t) = tell.take() {
                        let _ = t.send(());
                    }
                }
            }
        });
        tokio::time::timeout(PROGRESS, identified)
            .await
            .expect("the node never took the kad-less peer's identify info")
            .unwrap();

        // Ask the node for its closest peers until the answer brings the ergon peer.
        let mut seeker = seeker(genesis);
        seeker.behaviour_mut().kad.add_address(&node_id, node_addr.clone());
        let (mut dialed, mut held) = (Vec::new(), Vec::new());
        let search = async {
            seeker.behaviour_mut().kad.get_closest_peers(PeerId::random());
            loop {
                match seeker.select_next_some().await {
                    SwarmEvent::Behaviour(SeekerEvent::Status(request_response::Event::Message {
                        message: request_response::Message::Request { channel, .. },
                        ..
                    })) => held.push(channel),
                    SwarmEvent::Dialing { peer_id: Some(p), .. } => dialed.push(p),
                    // A query ends once every peer the node handed out was tried (dialed).
                    SwarmEvent::Behaviour(SeekerEvent::Kad(kad::Event::OutboundQueryProgressed {
                        result: kad::QueryResult::GetClosestPeers(_),
                        step,
                        ..
                    })) if step.last => {
                        if dialed.contains(&ergon_peer) {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        seeker.behaviour_mut().kad.get_closest_peers(PeerId::random());
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(PROGRESS, search).await.expect("the node never handed out the ergon peer");
        assert!(!dialed.contains(&no_kad_id), "the node handed out a peer that does not speak kad");
    });
}
