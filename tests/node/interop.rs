//! js-libp2p interop: an independent libp2p implementation (js-libp2p 3.x, run by Node.js
//! from `tests/interop/peer.mjs`) talks to a real `ergon` node over TCP + noise + yamux:
//! identify, ping, `status` both ways, `sync`, gossipsub in (`blocks`) and out (`txs`), and
//! one request of about 960 KB. The peer prints a JSON line per event; this test checks each
//! against the node's RPC.
//!
//! Needs `node` (Node.js 20 or later) and `npm ci --prefix tests/interop`, which
//! `scripts/deps.sh` runs when npm is installed; without them the test says so on stderr and
//! passes without running.

use super::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("interop")
}

/// Why the js peer cannot run here, if it cannot.
fn js_peer_missing() -> Option<String> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => return Some(format!("`node --version` failed: {}", String::from_utf8_lossy(&out.stderr))),
        Err(e) => return Some(format!("Node.js is not installed (`node`: {e})")),
    }
    let modules = interop_dir().join("node_modules");
    (!modules.join("libp2p").is_dir())
        .then(|| format!("{} is missing: run `npm ci --prefix tests/interop`", modules.display()))
}

/// The js peer's events, in order, and its exit.
struct JsRun {
    events: Vec<Value>,
    status: ExitStatus,
    stderr: String,
}

impl JsRun {
    fn all(&self, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == event).collect()
    }

    fn one(&self, event: &str) -> &Value {
        self.events.iter().find(|e| e["event"] == event).unwrap_or_else(|| {
            panic!("the js peer never reported `{event}`; events:\n{}\nstderr:\n{}", self.lines(), self.stderr)
        })
    }

    fn lines(&self) -> String {
        self.events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")
    }
}

/// Runs `peer.mjs ARGS --hold` until it reports `done`, calls `while_connected` (the peer is
/// still connected then, waiting for its stdin to close), then closes its stdin and waits
/// for it to exit. Panics if it reports an error or takes over `timeout`.
fn run_js_peer(args: &[String], timeout: Duration, while_connected: impl FnOnce(&[Value])) -> JsRun {
    let mut child = Command::new("node")
        .arg(interop_dir().join("peer.mjs"))
        .args(args)
        .arg("--hold")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn `node tests/interop/peer.mjs`");
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = Arc::new(Mutex::new(String::new()));
    let stderr_thread = collect_lines(child.stderr.take().expect("piped stderr"), stderr.clone());
    let mut child = ChildGuard(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err = || stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let deadline = Instant::now() + timeout;
    let mut events: Vec<Value> = Vec::new();
    let mut stdin = Some(stdin);
    let mut while_connected = Some(while_connected);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left.min(Duration::from_millis(500))) {
            Ok(line) => {
                let ev: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("the js peer printed a line that is not JSON ({e}): {line}"));
                eprintln!("js peer: {line}");
                let kind = ev["event"].as_str().unwrap_or_default().to_string();
                events.push(ev);
                if kind == "error" {
                    let _ = child.0.wait();
                    let _ = stderr_thread.join();
                    panic!("the js peer failed: {line}\nstderr:\n{}", err());
                }
                if kind == "done" {
                    if let Some(f) = while_connected.take() {
                        f(&events);
                    }
                    drop(stdin.take()); // lets it stop
                }
            }
            // Its stdout closed: it has exited (or is about to).
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                assert!(
                    Instant::now() < deadline,
                    "the js peer did not finish within {timeout:?}; events:\n{}\nstderr:\n{}",
                    events.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"),
                    err()
                );
            }
        }
    }
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("try_wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "the js peer did not exit within {timeout:?}; stderr:\n{}", err());
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = stderr_thread.join();
    JsRun { events, status, stderr: err() }
}

fn block_hash(node: &Node, height: u64) -> String {
    let b = node.call("chain_getBlock", json!([height]));
    b["hash"].as_str().unwrap_or_else(|| panic!("chain_getBlock({height}): no hash in {b}")).to_string()
}

fn u64_of(ev: &Value, field: &str) -> u64 {
    ev[field].as_u64().unwrap_or_else(|| panic!("`{field}` is not a number in {ev}"))
}

fn str_of<'a>(ev: &'a Value, field: &str) -> &'a str {
    ev[field].as_str().unwrap_or_else(|| panic!("`{field}` is not a string in {ev}"))
}

/// A js-libp2p 3.x peer (TCP + noise + yamux, js-gossipsub with unsigned messages and BLAKE3
/// message ids, protobuf from `proto/`) dials a dev node and: identifies it and pings it;
/// answers the node's `status` request (or the node would hang up) and gets the node's head
/// from its own; syncs blocks 1..head whose hashes are the node's; receives blocks by gossip,
/// each the node's block at its height; publishes a transfer signed here on `txs`, which the
/// node (never sent it by RPC) puts in a block; then sends a 960 KB `BlockTxsRequest` for
/// that block (the tx's hash, then 29,999 random ones), larger than a yamux window, and gets
/// back exactly its tx, on the same connection; then publishes six tx batches of about 1 MB
/// each back to back (js-yamux sends frames as large as its window, rust-yamux refuses frames
/// over 1 MiB: the node keeps its windows at 1 MiB), which the node receives, on the same
/// connection, and ignores. While it is still connected the node lists
/// it as a peer with the genesis-only status it gave.
#[test]
fn a_js_libp2p_peer_follows_gossip_syncs_and_lands_a_tx() {
    if let Some(why) = js_peer_missing() {
        eprintln!("SKIPPED a_js_libp2p_peer_follows_gossip_syncs_and_lands_a_tx: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::spawn(&dir.path().join("v"), &["--dev"], &[]);
    node.wait_height(3);
    let genesis = node.call("system_chainSpec", json!([]))["genesisHash"].as_str().unwrap().to_string();

    let (charlie_before, _) = node.account(CHARLIE);
    let (_, bob_nonce) = node.account(BOB);
    let amount = 31_337;
    let tx = transfer(&Keypair::dev("bob"), CHARLIE, amount, bob_nonce + 1);
    let tx_hash = tx.hash().to_hex();
    let args: Vec<String> = vec![
        "--addr".into(),
        node.p2p_addr(),
        "--genesis".into(),
        genesis.clone(),
        "--tx-batch".into(),
        hex::encode(ergon::wire::encode_tx_batch([&tx])),
        "--tx-hash".into(),
        tx_hash.clone(),
        "--timeout-ms".into(),
        "60000".into(),
    ];

    let mut listed = Value::Null;
    let mut after_burst = Value::Null;
    let run = run_js_peer(&args, Duration::from_secs(90), |events| {
        let js_id = events.iter().find(|e| e["event"] == "started").map(|e| e["peerId"].clone()).unwrap_or_default();
        listed = wait_for("the node to list the js peer with its status", PROGRESS, || {
            super::network::peers(&node).into_iter().find(|p| p["peerId"] == js_id && !p["headHeight"].is_null())
        });
        // The burst's bytes may still be on their way (publishing only queues them): wait,
        // while the peer holds the connection, until the node has judged every message.
        let messages = events.iter().find(|e| e["event"] == "burst").map_or(0, |e| u64_of(e, "messages"));
        let started = Instant::now();
        after_burst = loop {
            let state = node.call("system_networkState", json!([]));
            if state["gossip"]["byTopic"]["txs"]["ignored"].as_u64() >= Some(messages) {
                break state;
            }
            assert!(started.elapsed() < PROGRESS, "the node judged not all {messages} burst messages: {state}");
            std::thread::sleep(Duration::from_millis(100));
        };
    });
    assert!(run.status.success(), "the js peer exited with {}; stderr:\n{}", run.status, run.stderr);
    eprintln!("the node lists the js peer as {listed}");
    assert_eq!(listed["headHeight"], 0, "the node took the js peer's genesis-only status: {listed}");
    assert_eq!(listed["direction"], "inbound", "{listed}");

    // The node's peer id, identify and ping.
    let connected = run.one("connected");
    assert_eq!(str_of(connected, "peer"), node.peer_id());
    let id = run.one("identify");
    assert!(str_of(id, "agentVersion").starts_with("ergon/"), "{id}");
    let protocols: Vec<&str> = id["protocols"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let g16 = &genesis.trim_start_matches("0x")[..16];
    for p in ["/ergon/status/1", &format!("/ergon/{g16}/sync/1"), "/ipfs/ping/1.0.0", "/ipfs/id/1.0.0"] {
        assert!(protocols.contains(&p), "identify lists {p}: {protocols:?}");
    }
    assert!(protocols.iter().any(|p| p.starts_with("/meshsub/")), "identify lists gossipsub: {protocols:?}");
    let pings = run.all("ping");
    assert_eq!(pings.len(), 2, "a ping before and one after the large request: {pings:?}");
    for p in &pings {
        assert!(u64_of(p, "rttMs") < 10_000, "{p}");
    }

    // Status both ways.
    let served = run.one("status_served");
    assert_eq!(served["genesisMatches"], true, "the node's status names our genesis: {served}");
    let status = run.one("status");
    let head = u64_of(status, "head");
    assert!(head >= 3, "the node was at 3 or more before the peer started: {status}");
    assert_eq!(str_of(status, "headHash"), block_hash(&node, head), "status head hash");

    // Sync: blocks 1..=head, each the node's.
    let synced: Vec<(u64, String)> =
        run.all("synced").iter().map(|e| (u64_of(e, "height"), str_of(e, "hash").to_string())).collect();
    assert_eq!(synced.iter().map(|(h, _)| *h).collect::<Vec<_>>(), (1..=head).collect::<Vec<_>>(), "synced heights");
    for (h, hash) in &synced {
        assert_eq!(*hash, block_hash(&node, *h), "synced block {h}");
    }

    // Gossip in: every block received is the node's block at its height.
    let gossiped: BTreeMap<u64, String> =
        run.all("gossip_block").iter().map(|e| (u64_of(e, "height"), str_of(e, "hash").to_string())).collect();
    assert!(gossiped.len() >= 2, "at least two blocks by gossip: {gossiped:?}");
    for (h, hash) in &gossiped {
        assert_eq!(*hash, block_hash(&node, *h), "gossiped block {h}");
    }

    // Gossip out: the node got the tx and included it where the peer saw it.
    let published = run.one("published");
    let recipients: Vec<&str> = published["recipients"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(recipients.contains(&node.peer_id().as_str()), "published to the node: {published}");
    let landed = run.one("tx_in_block");
    let st = node.wait_included(&tx_hash);
    assert_eq!(st["blockHeight"], landed["height"], "the js peer saw the tx in the block RPC names: {st}");
    assert_eq!(str_of(landed, "hash"), block_hash(&node, u64_of(landed, "height")));
    assert_eq!(node.account(CHARLIE).0, charlie_before + amount, "the transfer was applied");

    // The large request was answered, on the connection it came on.
    let big = run.one("big_request");
    assert!(u64_of(big, "requestBytes") > 900_000, "{big}");
    assert_eq!(u64_of(big, "txs"), 1, "{big}");
    // The burst of large gossip (several MB back to back on one stream) reached the node on
    // that same connection (the peer checked it after the burst, and pinged), and the node
    // ignored each message (its tx is included) without blame (`rejected` is checked below).
    let burst = run.one("burst");
    let messages = u64_of(burst, "messages");
    assert!(messages >= 4 && u64_of(burst, "bytes") > 3 << 20, "{burst}");
    assert!(u64_of(burst, "largest") > 1_000_000, "{burst}");
    // (The node judged them all while the peer held the connection, see above.)
    eprintln!("the node's gossip after the burst: {}", after_burst["gossip"]);
    let done = run.one("done");
    assert!(u64_of(done, "statusServed") >= 1, "{done}");
    // The js peer was the node's only gossip source: what it sent was accepted, none rejected.
    let counters = node.call("system_networkState", json!([]))["gossip"].clone();
    assert!(counters["accepted"].as_u64() >= Some(1), "{counters}");
    assert_eq!(counters["rejected"], 0, "{counters}");
}

/// js-libp2p over QUIC v1 (`tests/interop/quic.mjs`, @chainsafe/libp2p-quic): a js peer dials
/// the node's `/udp/.../quic-v1` address, pings it, reads its identify (agent `ergon/...`),
/// and the node lists it as a peer connected over QUIC.
#[test]
fn a_js_libp2p_peer_connects_over_quic() {
    if let Some(why) = js_peer_missing() {
        eprintln!("SKIPPED: {why}");
        return;
    }
    if !interop_dir().join("node_modules").join("@chainsafe").join("libp2p-quic").is_dir() {
        eprintln!("SKIPPED: @chainsafe/libp2p-quic is missing: run `npm ci --prefix tests/interop`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::spawn(dir.path(), &["--dev", "--listen-addr", "/ip4/127.0.0.1/udp/0/quic-v1"], &[]);
    // The QUIC listener may come up after the startup lines are printed: ask the node.
    let quic: String = wait_for("a QUIC listen address", PROGRESS, || {
        let state = node.call("system_networkState", json!([]));
        let addrs = state["listenAddresses"].as_array()?.clone();
        addrs.iter().filter_map(Value::as_str).find(|a| a.contains("/quic-v1/")).map(str::to_string)
    });
    let mut child = Command::new("node")
        .arg(interop_dir().join("quic.mjs"))
        .arg(&quic)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut events: Vec<Value> = Vec::new();
    let mut me = String::new();
    let mut listed = false;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        if v["event"] == "connected" {
            me = v["me"].as_str().unwrap_or_default().to_string();
        }
        // While the js peer is connected (it pings and waits for identify), the node lists it.
        if !me.is_empty() && !listed {
            listed = wait_for("the node to list the js peer", PROGRESS, || {
                let peers = node.call("system_peers", json!([]));
                let p = peers.as_array()?.iter().find(|p| p["peerId"] == me.as_str())?.clone();
                Some(p["address"].as_str().is_some_and(|a| a.contains("/quic-v1")))
            });
        }
        events.push(v);
    }
    let out = child.wait_with_output().expect("wait for the js peer");
    let all = events.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    assert!(out.status.success(), "{all}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let find = |name: &str| events.iter().find(|e| e["event"] == name).unwrap_or_else(|| panic!("no {name}: {all}"));
    assert_eq!(find("connected")["peer"], node.peer_id().as_str(), "{all}");
    assert!(find("ping")["ms"].as_u64().is_some(), "{all}");
    let id = find("identify");
    assert!(id["agent"].as_str().is_some_and(|a| a.starts_with("ergon/")), "{all}");
    assert!(id["protocols"].as_array().is_some_and(|p| p.iter().any(|p| p == "/ergon/status/1")), "{all}");
    assert!(listed, "the node listed the js peer with a QUIC address");
    // The peer answered the node's status request, so the node had no reason to hang up.
    assert!(!node.stderr().contains("does not speak the ergon status protocol"), "{all}");
}
