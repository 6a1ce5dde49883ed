//! The crash battery (issue 14): a dev node under load is killed with SIGKILL at random
//! moments and restarted on its store, again and again. Transfers keep arriving from another
//! thread while the kill lands. After every restart, the last one included, every block it had
//! finalized is there with the same hash, every tx it had included is included at the same
//! height, and supply is exact; after the last, the chain goes on and takes a new tx.
//!
//! `ERGON_CRASH_ROUNDS=N cargo test --test node crash` runs N rounds (10 by default);
//! `ERGON_CRASH_SEED` replays a run's moments (each run prints its seed).

use super::*;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Supply as `economy_supply` reports it: (total, minted, burned).
fn supply(node: &Node) -> (u128, u128, u128) {
    let s = node.call("economy_supply", json!([]));
    (amount(&s["total"]), amount(&s["minted"]["total"]), amount(&s["burned"]))
}

/// Transfers from bob, one every 20 ms, sent from a thread of their own until stopped, so the
/// node is taking txs at the moment it is killed. Transport errors (the node is gone) and
/// refusals only make it wait and try again.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl Load {
    fn start(port: u16, amount: u128) -> Load {
        use jsonrpsee::core::client::{ClientT, Error};
        let (stop, sent) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
        let (stop_, sent_) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                let client = jsonrpsee::http_client::HttpClientBuilder::default()
                    .request_timeout(Duration::from_secs(5))
                    .build(format!("http://127.0.0.1:{port}"))
                    .expect("HTTP client");
                let bob = Keypair::dev("bob");
                let mut nonce = None;
                while !stop_.load(Ordering::Relaxed) {
                    let n = match nonce {
                        Some(n) => n,
                        None => {
                            match client.request::<Value, _>("account_nextNonce", jsonrpsee::rpc_params![BOB]).await {
                                Ok(v) => v["nonce"].as_u64().expect("a nonce"),
                                Err(_) => {
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                    continue;
                                }
                            }
                        }
                    };
                    let tx = ergon::rpc::types::tx_to_json(&transfer(&bob, CHARLIE, amount, n), HRP);
                    match client.request::<Value, _>("tx_send", jsonrpsee::rpc_params![tx]).await {
                        Ok(r) => {
                            sent_.lock().unwrap().push(r["txHash"].as_str().expect("a hash").to_string());
                            nonce = Some(n + 1);
                        }
                        Err(Error::Call(e)) if e.code() == 1005 => nonce = None,
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            });
        });
        Load { stop, sent, thread }
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the load thread");
    }
}

/// What the node had said was final, and must survive every restart.
#[derive(Default)]
struct Seen {
    finalized: BTreeMap<u64, String>,
    included: BTreeMap<String, u64>,
    /// Genesis supply, from the identity total = genesis + minted - burned at the first start.
    genesis: Option<u128>,
}

impl Seen {
    fn check(&mut self, node: &Node, round: u32) {
        let fin = node.call("chain_getHead", json!([]))["finalizedHeight"].as_u64().unwrap();
        let last = self.finalized.keys().next_back().copied().unwrap_or(0);
        assert!(fin >= last, "round {round}: reopened at finalized {fin}, below {last}");
        for (h, hash) in &self.finalized {
            let b = node.call("chain_getBlock", json!([h]));
            assert_eq!(b["hash"].as_str(), Some(hash.as_str()), "round {round}: block {h} changed");
        }
        for (tx, h) in &self.included {
            let st = node.call("tx_get", json!([tx]));
            assert_eq!(st["status"], "included", "round {round}: tx {tx} was lost: {st}");
            assert_eq!(st["blockHeight"].as_u64(), Some(*h), "round {round}: tx {tx} moved");
        }
        let (total, minted, burned) = supply(node);
        let g = (total + burned).checked_sub(minted).expect("total + burned >= minted");
        assert_eq!(*self.genesis.get_or_insert(g), g, "round {round}: supply is not genesis + minted - burned");
    }

    /// Records what the node says is final now, and which of `sent` are included in it.
    fn record(&mut self, node: &Node, sent: &[String]) {
        let fin = node.call("chain_getHead", json!([]))["finalizedHeight"].as_u64().unwrap();
        for h in self.finalized.keys().next_back().map_or(1, |l| l + 1)..=fin {
            let b = node.call("chain_getBlock", json!([h]));
            self.finalized.insert(h, b["hash"].as_str().unwrap().to_string());
        }
        for tx in sent {
            let st = node.call("tx_get", json!([tx]));
            if st["status"] == "included" && st["blockHeight"].as_u64().is_some_and(|h| h <= fin) {
                self.included.insert(tx.clone(), st["blockHeight"].as_u64().unwrap());
            }
        }
    }
}

#[test]
fn kill9_under_load_at_random_moments_loses_nothing() {
    let rounds: u32 = std::env::var("ERGON_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("ERGON_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash battery: {rounds} rounds, ERGON_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut seen = Seen::default();
    let mut sent_total = 0;
    for round in 0..rounds {
        let node = Node::start(dir.path(), &[]);
        seen.check(&node, round);
        // Load from another thread; the kill lands at a random moment while it runs.
        let load = Load::start(node.port, 1 + u128::from(round));
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..2_000)));
        // What the node says is final before the kill must survive it.
        seen.record(&node, &load.sent());
        node.kill9();
        let sent = load.sent().len();
        load.stop();
        assert!(sent > 0, "round {round}: the load got no tx in");
        sent_total += sent;
    }
    // The last kill too: the node restarts on its store, has lost nothing, and goes on.
    let node = Node::start(dir.path(), &[]);
    seen.check(&node, rounds);
    let before = seen.finalized.keys().next_back().copied().unwrap_or(0);
    eprintln!(
        "crash battery: {} finalized blocks and {} included txs (of {sent_total} accepted) survived {rounds} kills",
        seen.finalized.len(),
        seen.included.len()
    );
    // How many blocks a round sees depends on its random length and the machine's speed (a
    // block a second on dev, rounds of 0.1-2 s): the node must go on after the last restart,
    // not have made a given number of blocks before it.
    let head = node.head().0;
    node.wait_height(head + 2);
    let bob = Keypair::dev("bob");
    let nonce = node.call("account_nextNonce", json!([BOB]))["nonce"].as_u64().unwrap();
    node.wait_included(&node.send(&transfer(&bob, CHARLIE, 1, nonce)));
    seen.record(&node, &[]);
    let after = seen.finalized.keys().next_back().copied().unwrap_or(0);
    assert!(after >= before + 2, "finalized height {after} after the last restart, {before} before it");
    assert!(!seen.included.is_empty(), "some of the load was included");
}
