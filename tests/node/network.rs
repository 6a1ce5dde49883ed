//! Several real `ergon` processes on 127.0.0.1: gossip, sync, chain separation, private
//! swarms, and a peer that publishes garbage (an in-process libp2p node built from the
//! library's own network module).

use super::*;
use ergon::network::{self, ChainView, NetworkConfig, Topic, TransportKind};
use ergon::wire::Status;

/// A chain spec file like dev but with `block_time_ms`, so tests can wait for many blocks.
fn fast_spec(dir: &Path, block_time_ms: u64) -> String {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.consensus.block_time_ms = block_time_ms;
    write_spec(dir, "fast.json", &spec)
}

pub(super) fn state_root(node: &Node, height: u64) -> (String, String) {
    let b = node.call("chain_getBlock", json!([height]));
    (b["hash"].as_str().unwrap().to_string(), b["header"]["stateRoot"].as_str().unwrap().to_string())
}

pub(super) fn peers(node: &Node) -> Vec<Value> {
    node.call("system_peers", json!([])).as_array().cloned().unwrap_or_default()
}

pub(super) fn gossip_counter(node: &Node, name: &str) -> u64 {
    node.call("system_networkState", json!([]))["gossip"][name].as_u64().unwrap_or(0)
}

#[test]
fn validator_and_full_nodes_agree_and_relay_txs() {
    let dir = tempfile::tempdir().unwrap();
    let v = Node::spawn(&dir.path().join("v"), &["--dev"], &[]);
    let boot = v.p2p_addr();
    let f1 = Node::spawn(&dir.path().join("f1"), &["--chain", "dev", "--bootnodes", &boot], &[]);
    let f2 = Node::spawn(&dir.path().join("f2"), &["--chain", "dev", "--bootnodes", &boot], &[]);

    // A transfer sent to a full node reaches the validator by gossip and lands in a block.
    let before = f2.account(CHARLIE).0;
    let tx = transfer(&Keypair::dev("bob"), CHARLIE, 4242, 1);
    let hash = f1.send(&tx);
    let st = f1.wait_included(&hash);
    let height = st["blockHeight"].as_u64().unwrap();
    // Only the validator makes blocks, so it included the tx the full node gossiped.
    assert_eq!(v.call("tx_get", json!([hash]))["blockHeight"], height);

    // Everyone reaches that height with the same block and state root.
    for n in [&f1, &f2] {
        n.wait_height(height + 2);
        assert_eq!(state_root(n, height), state_root(&v, height), "same block and state root at {height}");
        assert_eq!(state_root(n, height + 2), state_root(&v, height + 2));
    }
    assert_eq!(f2.account(CHARLIE).0, before + 4242, "the full node applied the transfer too");
    // A faucet drip made on a full node is gossiped to the validator too.
    let drip = f1.call("admin_mintFaucet", json!([EVE, "1000"]));
    f1.wait_included(drip["txHash"].as_str().unwrap());
    assert_eq!(f2.call("tx_get", json!([hash]))["status"], "included");
    let health = f1.call("system_health", json!([]));
    assert!(health["peers"].as_u64().unwrap() >= 1, "{health}");
    assert_eq!(health["shouldHavePeers"], true);
    // The network's series in /metrics: peers, gossip verdicts, the sync target.
    let metrics = http_get(f2.port, "/metrics").text();
    let value = |series: &str| -> u64 {
        let line = metrics.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("no {series}:\n{metrics}"));
        line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{line}"))
    };
    assert!(value("ergon_peers ") >= 1);
    assert!(value("ergon_gossip_messages_total{topic=\"blocks\",verdict=\"accepted\"} ") >= 1, "the blocks it took");
    for topic in ["blocks", "txs", "consensus", "receipts", "other"] {
        assert_eq!(value(&format!("ergon_gossip_messages_total{{topic=\"{topic}\",verdict=\"rejected\"}} ")), 0);
    }
    assert!(value("ergon_sync_target_height ") >= height);
}

#[test]
fn a_late_node_syncs_a_hundred_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let spec = fast_spec(dir.path(), 100);
    let v = Node::spawn(&dir.path().join("v"), &["--chain", &spec, "--validator-key", "alice"], &[]);
    v.wait_height(110);
    // No bootnodes: it joins through admin_addPeer.
    let late = Node::spawn(&dir.path().join("late"), &["--chain", &spec], &[]);
    assert!(peers(&late).is_empty());
    let (code, msg) = late.call_err("admin_addPeer", json!(["not-a-multiaddr"]));
    assert_eq!(code, -32602, "{msg}");
    // Nobody listens on port 1: the dial's failure comes back as an error.
    let dead = format!("/ip4/127.0.0.1/tcp/1/p2p/{}", v.peer_id());
    let (code, msg) = late.call_err("admin_addPeer", json!([dead]));
    assert_eq!(code, 1040, "{msg}");
    late.call("admin_addPeer", json!([v.p2p_addr()]));
    let target = v.head().0;
    late.wait_height(target);
    assert_eq!(state_root(&late, target), state_root(&v, target));
    // And it keeps following by gossip afterwards.
    let next = v.head().0 + 20;
    late.wait_height(next);
    assert_eq!(state_root(&late, next), state_root(&v, next));
}

#[test]
fn a_node_on_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let v = Node::spawn(&dir.path().join("v"), &["--dev"], &[]);
    // Same chain id, different genesis (the mint rate is part of the spec).
    let other = Node::spawn(&dir.path().join("o"), &["--dev", "--bootnodes", &v.p2p_addr()], &[("MINT_PER_UNIT", "7")]);
    let other_id = other.peer_id();
    // Whichever side hears the other's status first says so and hangs up.
    wait_for("the wrong-chain peer to be refused", PROGRESS, || {
        (v.stderr().contains("another chain") || other.stderr().contains("another chain")).then_some(())
    });
    let v_id = v.peer_id();
    wait_for("the wrong-chain peer to be gone", PROGRESS, || {
        let v_sees = peers(&v).iter().any(|p| p["peerId"] == other_id.as_str());
        let o_sees = peers(&other).iter().any(|p| p["peerId"] == v_id.as_str());
        (!v_sees && !o_sees).then_some(())
    });
    // Its own chain is untouched by ours: different genesis, so different block 1.
    other.wait_height(2);
    v.wait_height(2);
    assert_ne!(state_root(&other, 1).0, state_root(&v, 1).0);
}

#[test]
fn a_private_swarm_keeps_strangers_out() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("swarm.key");
    let out = ergon().args(["key", "generate-swarm-key", "--output"]).arg(&key).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = key.display().to_string();
    let v = Node::spawn(&dir.path().join("v"), &["--dev", "--swarm-key", &key], &[]);
    let member =
        Node::spawn(&dir.path().join("m"), &["--chain", "dev", "--swarm-key", &key, "--bootnodes", &v.p2p_addr()], &[]);
    // Its dial attempts are logged at debug level, so the test can see them fail.
    let stranger = Node::spawn(
        &dir.path().join("s"),
        &["--chain", "dev", "--bootnodes", &v.p2p_addr()],
        &[("RUST_LOG", "info,jsonrpsee=warn,ergon::network=debug")],
    );
    let h = v.wait_height(3);
    member.wait_height(h);
    assert_eq!(state_root(&member, h), state_root(&v, h));
    // The stranger dialed the validator twice (at start, and again 5 s later while alone) and
    // failed both times; it never gets a peer or a block.
    wait_for("the stranger's dials to fail twice", PROGRESS, || {
        (stranger.stderr().matches("dial failed").count() >= 2).then_some(())
    });
    assert!(peers(&stranger).is_empty(), "stranger got peers: {:?}", peers(&stranger));
    assert_eq!(stranger.head().0, 0, "stranger must not sync without the swarm key");
    assert!(!peers(&v).iter().any(|p| p["peerId"] == stranger.peer_id().as_str()));
}

/// An in-process peer built from the library's network module, on `f`'s chain, that can
/// only talk to `f` (so whatever others see of it was forwarded by `f`).
pub(super) fn rogue(f: &Node, genesis: ergon::primitives::Hash) -> (network::NetworkHandle, network::NetworkEvents) {
    rogue_keyed(f, genesis, 9)
}

/// [`rogue`] with its own peer id, from `seed`.
pub(super) fn rogue_keyed(
    f: &Node,
    genesis: ergon::primitives::Hash,
    seed: u8,
) -> (network::NetworkHandle, network::NetworkEvents) {
    rogue_answering(f, genesis, seed, Vec::new())
}

/// [`rogue_keyed`] that answers every request for a block's txs with `txs` (an encoded
/// response).
pub(super) fn rogue_answering(
    f: &Node,
    genesis: ergon::primitives::Hash,
    seed: u8,
    txs: Vec<u8>,
) -> (network::NetworkHandle, network::NetworkEvents) {
    let status = Status { genesis, head_height: 0, head_hash: genesis, finalized_height: 0, finalized_hash: genesis };
    let config = NetworkConfig {
        keypair: network::keypair_from_secret([seed; 32]).unwrap(),
        transport: TransportKind::Tcp { quic: false },
        listen: vec![network::parse_multiaddr("/ip4/127.0.0.1/tcp/0").unwrap()],
        bootnodes: vec![],
        genesis,
        mdns: false,
        swarm_key: None,
        reserved_only: true,
        reserved_peers: vec![network::parse_multiaddr(&f.p2p_addr()).unwrap()],
        max_peers: 10,
        max_message_bytes: 1 << 20,
        max_tx_bytes: 1 << 16,
        policy: ergon::network::PeerPolicy::default(),
    };
    network::start(config, Arc::new(RogueView(status, txs))).unwrap()
}

/// The peer whose status reaches the rogue first (the node it dialed).
pub(super) async fn first_status(events: &mut network::NetworkEvents) -> network::PeerRef {
    tokio::time::timeout(PROGRESS, async {
        loop {
            if let Some(network::NetworkEvent::PeerStatus { peer, .. }) = events.recv().await {
                return peer;
            }
        }
    })
    .await
    .expect("the full node's status")
}

/// A dev validator and a full node following it, past height 2.
fn validator_and_follower(dir: &Path) -> (Node, Node) {
    let v = Node::spawn(&dir.join("v"), &["--dev"], &[]);
    let f = Node::spawn(&dir.join("f"), &["--chain", "dev", "--bootnodes", &v.p2p_addr()], &[]);
    f.wait_height(2);
    (v, f)
}

pub(super) fn genesis_of(n: &Node) -> ergon::primitives::Hash {
    n.call("system_chainSpec", json!([]))["genesisHash"].as_str().unwrap().parse().unwrap()
}

struct RogueView(Status, Vec<u8>);

impl ChainView for RogueView {
    fn status(&self) -> Status {
        self.0
    }
    fn committed_blocks(&self, _: u64, _: u32, _: usize) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
        (vec![], None)
    }
    fn block_txs(&self, _: &ergon::wire::BlockTxsRequest, _: usize) -> Vec<u8> {
        self.1.clone()
    }
    fn blob_piece(&self, _: &ergon::primitives::Hash, _: u64) -> Option<ergon::wire::BlobPiece> {
        None
    }
}

#[test]
fn a_peer_publishing_garbage_is_penalised_and_not_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let (v, f) = validator_and_follower(dir.path());
    let genesis = genesis_of(&f);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let rogue_id = rt.block_on(async {
        let (net, _events) = rogue(&f, genesis);
        // Keep publishing garbage until the full node has rejected it and dropped us.
        let id = net.local_peer_id();
        let deadline = Instant::now() + PROGRESS;
        let mut i = 0u8;
        loop {
            let connected = peers(&f).iter().any(|p| p["peerId"] == id.as_str());
            if !connected && gossip_counter(&f, "undecodable") > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "the full node did not drop the garbage publisher");
            i = i.wrapping_add(1);
            net.publish(Topic::Txs, vec![0xff, i, 0x13, 0x37, i]);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        id
    });
    assert!(f.stderr().contains("banning peer"), "the full node should ban {rogue_id}");
    // The validator is connected to the full node, yet received none of it.
    assert_eq!(gossip_counter(&v, "undecodable"), 0, "garbage must not be forwarded");
    assert!(gossip_counter(&f, "rejected") >= 1);
    // Counted under the topic it came on.
    let by_topic = f.call("system_networkState", json!([]))["gossip"]["byTopic"].clone();
    assert!(by_topic["txs"]["undecodable"].as_u64().unwrap_or(0) >= 1, "{by_topic}");
    assert_eq!(by_topic["blocks"]["undecodable"], 0, "{by_topic}");
    // The network carries on.
    let h = v.head().0;
    f.wait_height(h + 2);
}

#[test]
fn a_peer_flooding_sync_requests_is_banned_and_the_node_keeps_following() {
    let dir = tempfile::tempdir().unwrap();
    let (v, f) = validator_and_follower(dir.path());
    let genesis = genesis_of(&f);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let (asked, served) = rt.block_on(async {
        let (net, mut events) = rogue(&f, genesis);
        let peer = first_status(&mut events).await;
        // Bursts far beyond the per-peer quota (256 per 10 s), until the node bans us.
        let (mut asked, mut served) = (0usize, 0usize);
        let deadline = Instant::now() + PROGRESS;
        while !f.stderr().contains("flooding sync requests") {
            assert!(Instant::now() < deadline, "the flood was not banned ({served} of {asked} requests served)");
            let asks = (0..400).map(|_| net.sync(peer, ergon::wire::SyncRequest { from: 1, count: 1 }));
            let results = futures::future::join_all(asks).await;
            asked += results.len();
            served += results.iter().filter(|r| r.as_ref().is_ok_and(|b| !b.blocks.is_empty())).count();
        }
        (asked, served)
    });
    assert!(served >= 1 && served < asked, "some requests are served, the flood is not: {served} of {asked}");
    // The node stays up and keeps following the validator.
    let h = v.head().0;
    f.wait_height(h + 2);
    assert_eq!(state_root(&f, h + 2), state_root(&v, h + 2));
}

/// `blobs` from the outside: an independent libp2p peer fetches a blob from a node piece by
/// piece from any offset and reassembles it to its hash, gets "not found" for a blob the node
/// lacks, and is banned when it floods requests past the per-peer quota.
#[test]
fn blobs_are_served_in_pieces_and_a_flood_is_banned() {
    let dir = tempfile::tempdir().unwrap();
    let (v, f) = validator_and_follower(dir.path());
    let genesis = genesis_of(&f);
    // As large as blob_put takes in one 2 MiB JSON-RPC request (hex doubles it).
    let data: Vec<u8> = (0..900_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let put = f.call("blob_put", json!([format!("0x{}", hex::encode(&data))]));
    let hash: ergon::primitives::Hash = put["hash"].as_str().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let (net, mut events) = rogue(&f, genesis);
        let peer = first_status(&mut events).await;
        let head = net.blob_piece(peer, hash, 0).await.unwrap().expect("the node holds it");
        assert_eq!((head.total, head.data.len()), (900_000, 900_000));
        let tail = net.blob_piece(peer, hash, 600_000).await.unwrap().expect("the node holds it");
        assert_eq!(tail.data, data[600_000..]);
        let past = net.blob_piece(peer, hash, 2_000_000).await.unwrap().expect("the node holds it");
        assert!(past.data.is_empty() && past.total == 900_000);
        assert_eq!(ergon::vm::blob_hash(&head.data), hash);
        let missing = net.blob_piece(peer, ergon::primitives::Hash([7; 32]), 0).await.unwrap();
        assert!(missing.is_none(), "a blob the node lacks is not found, not an error");
        let deadline = Instant::now() + PROGRESS;
        while !f.stderr().contains("flooding blob requests") {
            assert!(Instant::now() < deadline, "the blob flood was not banned");
            let asks = (0..100).map(|_| net.blob_piece(peer, hash, 890_000));
            futures::future::join_all(asks).await;
        }
    });
    let h = v.head().0;
    f.wait_height(h + 2);
}

/// A node whose P2P port is taken exits with an error that names the address and why, rather
/// than "listening" beside the other process (libp2p-tcp binds with SO_REUSEPORT, so the
/// kernel would have let it); the same for QUIC's UDP port, whose reason used to be empty.
#[test]
fn a_p2p_port_in_use_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let first = Node::spawn(&dir.path().join("first"), &["--dev"], &[]);
    let addr = first.p2p_addr();
    let tcp = addr.split("/p2p/").next().unwrap().to_string();
    let base = dir.path().join("second");
    let base_arg = base.to_str().unwrap();
    let args = ["node", "--dev", "--base-path", base_arg, "--rpc-addr", "127.0.0.1:0", "--no-mdns", "--listen-addr"];
    let out = run_ergon(&[&args[..], &[tcp.as_str()]].concat(), &[], Duration::from_secs(60));
    assert!(!out.status.success(), "a second node on {tcp} must not start\nstdout:\n{}", out.stdout);
    assert!(
        out.stderr.contains(&format!("cannot listen on {tcp}: ")) && out.stderr.contains("in use"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("P2P listening"), "{}", out.stdout);
    // The first node never noticed.
    first.wait_height(first.head().0 + 1);

    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let quic = format!("/ip4/127.0.0.1/udp/{}/quic-v1", udp.local_addr().unwrap().port());
    let out = run_ergon(&[&args[..], &[quic.as_str()]].concat(), &[], Duration::from_secs(60));
    assert!(!out.status.success(), "a node on a taken UDP port must not start\nstdout:\n{}", out.stdout);
    let line = out.stderr.lines().find(|l| l.contains(&format!("cannot listen on {quic}: "))).unwrap_or_else(|| {
        panic!("no listen error for {quic}:\n{}", out.stderr);
    });
    let reason = line.split(&format!("{quic}: ")).nth(1).unwrap_or_default();
    assert!(reason.contains("in use"), "the reason is given: {line:?}");
}

/// `system_peers` shows each peer's head as it moves on, not the one it had when it connected.
#[test]
fn peer_heights_in_system_peers_keep_up() {
    let dir = tempfile::tempdir().unwrap();
    let (v, f) = validator_and_follower(dir.path());
    let v_id = v.peer_id();
    let head_of_v = || -> Option<u64> {
        peers(&f).iter().find(|p| p["peerId"] == v_id.as_str()).and_then(|p| p["headHeight"].as_u64())
    };
    let first = wait_for("the validator's status at the follower", PROGRESS, head_of_v);
    let later = wait_for("the validator's head to move on in system_peers", PROGRESS, || {
        head_of_v().filter(|h| *h >= first + 3)
    });
    assert!(later <= v.head().0, "never above the validator's own head: {later}");
    let finalized = peers(&f).iter().find(|p| p["peerId"] == v_id.as_str()).unwrap()["finalizedHeight"].clone();
    assert!(finalized.as_u64().unwrap() >= first + 3, "{finalized}");
}
