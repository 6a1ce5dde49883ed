//! Replays are cheap (issue 14): a tx already included, or already pending, is refused over
//! RPC and ignored over gossip before its signature costs a verification. The nonce check
//! against the sender's committed nonce and the mempool's hash lookup come first.

use super::network::{first_status, genesis_of, gossip_counter, rogue_keyed};
use super::*;
use ergon::network::Topic;

fn counter(node: &Node, series: &str) -> u128 {
    metric(&http_get(node.port, "/metrics").text(), series)
}

#[test]
fn replays_are_refused_before_any_signature_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let n = Node::start(dir.path(), &[]);
    let bob = Keypair::dev("bob");
    let nonce = n.account(BOB).1;
    let included = [transfer(&bob, CHARLIE, 1, nonce + 1), transfer(&bob, CHARLIE, 2, nonce + 2)];
    let hashes: Vec<String> = included.iter().map(|tx| n.send(tx)).collect();
    hashes.iter().for_each(|h| drop(n.wait_included(h)));
    // Two ahead of the next nonce: it stays pending.
    let pending = transfer(&bob, CHARLIE, 3, nonce + 4);
    n.send(&pending);
    let rpc_checked = || counter(&n, "ergon_rpc_tx_signatures_checked_total");
    let before = rpc_checked();
    assert_eq!(before, 3, "each admitted tx had its signature verified once");

    let spoiled = |tx: &SignedTx| {
        let mut tx = tx.clone();
        tx.signature.0[0] ^= 1;
        tx
    };
    // An included tx again, and with its signature spoiled: the same answer (1005, not 1001
    // for the spoiled one), so neither was verified.
    for tx in [included[0].clone(), spoiled(&included[0])] {
        let (code, msg) = n.send_err(&tx);
        assert_eq!(code, 1005, "a replay of an included tx is nonce too low: {msg}");
        assert!(msg.contains(&format!("next nonce is {}", nonce + 3)), "{msg}");
    }
    for tx in [pending.clone(), spoiled(&pending)] {
        let (code, msg) = n.send_err(&tx);
        assert_eq!(code, 1009, "a replay of a pending tx is already pending: {msg}");
    }
    assert_eq!(rpc_checked(), before, "no replay cost a signature verification");
    // A new tx with a bad signature is verified, and refused for it.
    let (code, msg) = n.send_err(&spoiled(&transfer(&bob, CHARLIE, 1, nonce + 3)));
    assert_eq!(code, 1001, "{msg}");
    assert_eq!(rpc_checked(), before + 1, "the counter counts verifications");

    // A peer relays both included txs (as one message no one has sent before: gossip ids are
    // content hashes). It is judged (ignored) with no signature verified.
    let genesis = genesis_of(&n);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let (net, mut events) = rogue_keyed(&n, genesis, 51);
        first_status(&mut events).await;
        let ignored = gossip_counter(&n, "ignored");
        net.publish(Topic::Txs, ergon::wire::encode_tx_batch([&included[1], &included[0]]));
        let deadline = Instant::now() + PROGRESS;
        while gossip_counter(&n, "ignored") == ignored {
            assert!(Instant::now() < deadline, "the replayed message was never judged; stderr:\n{}", n.stderr());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert_eq!(gossip_counter(&n, "rejected"), 0, "a replay is not the relaying peer's fault");
    assert_eq!(counter(&n, "ergon_gossip_tx_signatures_checked_total"), 0, "the gossiped replay was not verified");
}
