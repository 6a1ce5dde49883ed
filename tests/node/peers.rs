//! Who a node lets in: bans that expire and double for repeat offenders, a burst of garbage
//! banned at once, a stock libp2p peer (no ergon protocols) disconnected but never banned, and
//! the per-IP cap on inbound connections.

use super::network::{first_status, genesis_of, peers, rogue_keyed};
use super::*;
use ergon::network::{NetworkHandle, Topic};
use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identify, noise, ping, tcp, yamux, Multiaddr, Swarm, SwarmBuilder};

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

/// Publishes distinct undecodable txs messages in bursts of `burst`, one burst a second, until
/// the node has logged `count` bans; returns the last ban's line.
async fn garbage_until_banned(net: &NetworkHandle, node: &Node, burst: u8, count: usize) -> String {
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
            net.publish(Topic::Txs, junk);
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
        let first = garbage_until_banned(&net, &n, 6, 1).await;
        assert!(first.contains("secs=2"), "a first offence is banned for --peer-ban-secs: {first}");
        // The ban ends and the same peer id is let in again.
        dial_until_let_in(&net, &n, "the peer, after its ban,").await;
        let second = garbage_until_banned(&net, &n, 1, 2).await;
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
