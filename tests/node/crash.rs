//! The crash battery (issue 14): a dev node under load is killed with SIGKILL at random
//! moments and restarted on its store, again and again. After every restart, every block it
//! had finalized is there with the same hash, every tx it had included is included at the
//! same height, and supply is exact.
//!
//! `ERGON_CRASH_ROUNDS=N cargo test --test node crash` runs N rounds (10 by default);
//! `ERGON_CRASH_SEED` replays a run's moments (each run prints its seed).

use super::*;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// Supply as `economy_supply` reports it: (total, minted, burned).
fn supply(node: &Node) -> (u128, u128, u128) {
    let s = node.call("economy_supply", json!([]));
    (amount(&s["total"]), amount(&s["minted"]["total"]), amount(&s["burned"]))
}

#[test]
fn kill9_under_load_at_random_moments_loses_nothing() {
    let rounds: u32 = std::env::var("ERGON_CRASH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("ERGON_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("crash battery: {rounds} rounds, ERGON_CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let bob = Keypair::dev("bob");
    let mut finalized: BTreeMap<u64, String> = BTreeMap::new();
    let mut included: BTreeMap<String, u64> = BTreeMap::new();
    // Genesis supply, from the identity total = genesis + minted - burned at the first start.
    let mut genesis: Option<u128> = None;
    for round in 0..rounds {
        let node = Node::start(dir.path(), &[]);
        let fin = node.call("chain_getHead", json!([]))["finalizedHeight"].as_u64().unwrap();
        let last = finalized.keys().next_back().copied().unwrap_or(0);
        assert!(fin >= last, "round {round}: reopened at finalized {fin}, below {last}");
        for (h, hash) in &finalized {
            let b = node.call("chain_getBlock", json!([h]));
            assert_eq!(b["hash"].as_str(), Some(hash.as_str()), "round {round}: block {h} changed");
        }
        for (tx, h) in &included {
            let st = node.call("tx_get", json!([tx]));
            assert_eq!(st["status"], "included", "round {round}: tx {tx} was lost: {st}");
            assert_eq!(st["blockHeight"].as_u64(), Some(*h), "round {round}: tx {tx} moved");
        }
        let (total, minted, burned) = supply(&node);
        let g = (total + burned).checked_sub(minted).expect("total + burned >= minted");
        assert_eq!(*genesis.get_or_insert(g), g, "round {round}: supply is not genesis + minted - burned");

        // Load: a burst of transfers, then the kill at a random moment while blocks come.
        let nonce = node.account(BOB).1;
        let sent: Vec<String> =
            (1..=20).map(|i| node.send(&transfer(&bob, CHARLIE, 1 + u128::from(round), nonce + i))).collect();
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..2_000)));
        // What the node says is final before the kill must survive it.
        let fin = node.call("chain_getHead", json!([]))["finalizedHeight"].as_u64().unwrap();
        for h in finalized.keys().next_back().map_or(1, |l| l + 1)..=fin {
            let b = node.call("chain_getBlock", json!([h]));
            finalized.insert(h, b["hash"].as_str().unwrap().to_string());
        }
        for tx in sent {
            let st = node.call("tx_get", json!([tx]));
            if st["status"] == "included" && st["blockHeight"].as_u64().is_some_and(|h| h <= fin) {
                included.insert(tx, st["blockHeight"].as_u64().unwrap());
            }
        }
        node.kill9();
    }
    eprintln!(
        "crash battery: {} finalized blocks and {} included txs survived every restart",
        finalized.len(),
        included.len()
    );
    assert!(finalized.len() as u32 >= rounds, "the node made progress: {} blocks finalized", finalized.len());
    assert!(!included.is_empty(), "some of the load was included");
}
