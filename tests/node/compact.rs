//! Compact blocks and the message limit (issue 12, item 1): blocks travel as header and tx
//! hashes, every message stays within the chain's `max_message_bytes`, and a block larger
//! than one message reaches a peer in pieces.

use super::network::{genesis_of, rogue_answering, state_root};
use super::*;
use ergon::primitives::{CommitCertificate, CompactBlock, Header, Transfer, Vote, VoteKind};

/// Batches of 256 transfers: about 5.6 KB each (amounts are compact integers).
fn batch(key: &Keypair, nonce: u64) -> SignedTx {
    let to: Vec<Transfer> =
        (0..256u32).map(|i| Transfer { to: Address([(i % 251) as u8; 20]), amount: u128::from(i) + 1 }).collect();
    let mut tx = Tx {
        chain_id: CHAIN_ID.into(),
        sender: key.public(),
        nonce,
        fee: 0,
        priority: Priority::Normal,
        payload: Payload::Batch(to),
    };
    tx.fee = min_fee(&tx);
    tx.sign(key)
}

/// A dev chain whose messages are at most 256 KiB and blocks at most 1 MiB: the largest
/// legal block is four messages' worth.
fn small_message_spec(dir: &Path) -> String {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.consensus.block_time_ms = 1500;
    spec.limits.max_message_bytes = 256 << 10;
    spec.limits.max_block_bytes = 1 << 20;
    spec.limits.max_block_txs = 4000;
    write_spec(dir, "small-messages.json", &spec)
}

/// 180 batches (about 1 MB) fill blocks up to the 1 MiB limit. A follower that watched them being
/// made gets each block compact and fills it from the txs it was gossiped (in messages of at
/// most 256 KiB); one that joins later syncs them, each block compact with its txs in
/// pieces. Both end with the validator's state.
#[test]
fn blocks_larger_than_a_message_arrive_in_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_message_spec(dir.path());
    let v = Node::spawn(&dir.path().join("v"), &["--chain", &spec, "--validator-key", "alice"], &[]);
    let live = Node::spawn(&dir.path().join("live"), &["--chain", &spec, "--bootnodes", &v.p2p_addr()], &[]);
    live.wait_height(2);
    let senders = ["bob", "charlie", "dave"].map(Keypair::dev);
    for nonce in 1..=60 {
        for key in &senders {
            v.send(&batch(key, nonce));
        }
    }
    let start = v.head().0;
    let (mut included, mut largest, mut height) = (0u64, 0u64, start);
    while included < 180 {
        height += 1;
        v.wait_height(height);
        let b = v.call("chain_getBlock", json!([height]));
        let n = b["header"]["txCount"].as_u64().unwrap();
        (included, largest) = (included + n, largest.max(n));
    }
    eprintln!("{included} batches in blocks {} to {height}, the largest holding {largest}", start + 1);
    // 100 batches are over 550 KB: more than two messages, within the block limit.
    assert!(largest >= 100, "the largest block holds {largest} batches");
    let late = Node::spawn(&dir.path().join("late"), &["--chain", &spec, "--bootnodes", &v.p2p_addr()], &[]);
    for f in [&live, &late] {
        f.wait_height(height);
        for h in start..=height {
            assert_eq!(state_root(f, h), state_root(&v, h), "block {h}");
        }
    }
    let bob = addr(&senders[0]);
    assert_eq!(late.account(&bob), v.account(&bob));
}

/// A block at height 1 of the dev chain, compact, with `tx`, and alice's commit for it
/// (she is the dev chain's only validator, and her key is known).
fn signed_compact(
    genesis: ergon::primitives::Hash,
    tx: &SignedTx,
    timestamp_ms: u64,
) -> (CompactBlock, CommitCertificate) {
    let alice = Keypair::dev("alice");
    let zero = ergon::primitives::Hash::ZERO;
    let header = Header {
        parent: genesis,
        height: 1,
        timestamp_ms,
        proposer: alice.public(),
        tx_root: ergon::primitives::Block::tx_root(&[tx.clone().into()]),
        state_root: zero,
        tx_count: 1,
        evidence_root: zero,
        receipts_root: zero,
        last_commit_hash: zero,
        reveal: zero,
    };
    let compact = CompactBlock { header, tx_hashes: vec![tx.hash()], evidence: vec![], last_commit: None };
    let kind = VoteKind::Precommit;
    let vote = Vote { chain_id: CHAIN_ID.into(), height: 1, round: 0, kind, block_hash: Some(compact.hash()) };
    let signatures = vec![(alice.public(), alice.sign(&vote.signing_hash()))];
    let commit = CommitCertificate { height: 1, round: 0, block_hash: compact.hash(), signatures };
    (compact, commit)
}

/// A node fetches the txs of a compact block it cannot fill from the peer that sent it. A
/// peer that does not have them costs nothing but that block (it may have lost them, or be
/// slow); one that answers with other txs than those asked for is banned, since the node
/// checks every fetched tx against the hash the block names.
#[test]
fn a_peer_answering_a_fetch_with_other_txs_is_banned() {
    let dir = tempfile::tempdir().unwrap();
    // A full node of the dev chain whose validator is not running: the test signs for it.
    let envs = [("RUST_LOG", "info,ergon::node=debug")];
    let f = Node::spawn(&dir.path().join("f"), &["--chain", "dev"], &envs);
    let genesis = genesis_of(&f);
    let alice = Keypair::dev("alice");
    let wanted = transfer(&alice, &addr(&Keypair::dev("bob")), 5, 1);
    let other = transfer(&alice, &addr(&Keypair::dev("bob")), 6, 1);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        // Holds nothing.
        let (net, mut events) = rogue_answering(&f, genesis, 11, Vec::new());
        super::network::first_status(&mut events).await;
        let (compact, commit) = signed_compact(genesis, &wanted, 1);
        net.publish(ergon::network::Topic::Blocks, ergon::wire::encode_compact_committed(&compact, &commit));
        wait_for("the node to give up on the block", PROGRESS, || {
            f.stderr().contains("cannot fill a compact block").then_some(())
        });
        assert!(!f.stderr().contains("banning peer"), "a peer without the txs is not banned");

        // Answers with a tx the block does not name.
        let answer = ergon::wire::encode_txs_response([&other], 1 << 20);
        let (net, mut events) = rogue_answering(&f, genesis, 12, answer);
        super::network::first_status(&mut events).await;
        let (compact, commit) = signed_compact(genesis, &wanted, 2);
        net.publish(ergon::network::Topic::Blocks, ergon::wire::encode_compact_committed(&compact, &commit));
        wait_for("the node to ban the peer", PROGRESS, || {
            f.stderr().contains("answered a block-txs request with txs it was not asked for").then_some(())
        });
    });
    assert_eq!(f.head().0, 0, "nothing was imported");
    assert!(f.call("system_health", json!([])).is_object(), "the node is up");
}
