//! The store on disk: genesis, committing a block, reopening, proofs, and refusing foreign data.

use super::*;
use crate::consensus::{verify_commit, ValidatorSet};
use crate::ledger::{BlockEnv, BlockExecutor, BlockVotes, TxFailure, TxOutcome};
use crate::primitives::{Keypair, Payload, Priority, SealedTx, Transfer, Tx};
use jmt::mock::MockTreeStore;
use jmt::storage::TreeWriter;

const DEV_BALANCE: u128 = 1_000_000_000_000_000;

pub(super) fn dev_spec() -> ChainSpec {
    ChainSpec::load("dev").unwrap()
}

fn addr(name: &str) -> Address {
    Address::from_public_key(&Keypair::dev(name).public())
}

fn transfer(spec: &ChainSpec, from: &str, to: Address, amount: u128, nonce: u64) -> SealedTx {
    let k = Keypair::dev(from);
    Tx {
        chain_id: spec.chain_id.clone(),
        sender: k.public(),
        nonce,
        fee: 100_000,
        priority: Priority::Normal,
        payload: Payload::Transfer(Transfer { to, amount }),
    }
    .sign(&k)
    .into()
}

/// What `build_block` made, for checking after a reopen.
pub(super) struct Built {
    pub(super) block: Block,
    cert: CommitCertificate,
    diff: StateDiff,
    root: Hash,
    outcomes: Vec<TxOutcome>,
    events: Vec<crate::ledger::AccountEvent>,
}

/// Builds the next block on top of `store`'s head from `txs`, the way the node does, and
/// certifies it with alice (the dev chain's only validator).
pub(super) fn build_block(store: &Store, spec: &ChainSpec, txs: Vec<SealedTx>) -> Built {
    let head = store.head().unwrap();
    let height = head.height + 1;
    let alice = Keypair::dev("alice");
    let timestamp_ms = spec.genesis_timestamp_ms + height * spec.consensus.block_time_ms;
    let secret = crate::ledger::beacon::RevealSecret::new(&alice, &spec.chain_id);
    let reveal = crate::ledger::beacon::next_reveal(store, &addr("alice"), &secret).unwrap();
    let env = BlockEnv { height, timestamp_ms, proposer: addr("alice"), parent: head.hash, reveal };
    let last_commit = store.commit(head.height).unwrap();
    let votes = BlockVotes { last_commit: last_commit.as_ref(), evidence: &[] };
    let mut exec = BlockExecutor::begin(store, spec, env, votes).unwrap();
    for tx in &txs {
        exec.apply(tx).unwrap();
    }
    let out = exec.finish().unwrap();
    let (diff, outcomes, events) = (out.diff, out.outcomes, out.events);
    let (root, _) = state_tree::apply_diff(store, &diff, height).unwrap();
    let header = Header {
        parent: head.hash,
        height,
        timestamp_ms,
        proposer: alice.public(),
        tx_root: Block::tx_root(&txs),
        state_root: root,
        tx_count: u32::try_from(txs.len()).unwrap(),
        evidence_root: Block::evidence_root(&[]),
        receipts_root: out.receipts_root,
        last_commit_hash: Block::last_commit_hash(last_commit.as_ref()),
        reveal,
    };
    let block = Block { header, txs, evidence: vec![], last_commit };
    let mut cert = CommitCertificate { height, round: 0, block_hash: block.hash(), signatures: vec![] };
    let sig = alice.sign(&cert.vote(&spec.chain_id).signing_hash());
    cert.signatures.push((alice.public(), sig));
    Built { block, cert, diff, root, outcomes, events }
}

/// `b`'s writes, prepared on top of `store`'s head as the node does after executing it.
pub(super) fn prepare(store: &Store, b: &Built) -> PreparedBlock {
    store.prepare_block(BlockBody::of(&b.block, &b.events, &b.diff)).unwrap()
}

pub(super) fn commit(store: &Store, b: &Built) {
    let mut prepared = prepare(store, b);
    assert_eq!(prepared.state_root, b.root);
    store.commit_block(&b.block, &b.cert, &b.outcomes, &mut prepared).unwrap();
}

/// The genesis state root computed without the store.
fn mock_genesis_root(spec: &ChainSpec) -> (MockTreeStore, Hash) {
    let diff = StateDiff::genesis(spec, &spec.genesis().unwrap()).unwrap();
    let mock = MockTreeStore::default();
    let (root, batch) = state_tree::apply_diff(&mock, &diff, 0).unwrap();
    mock.write_node_batch(&batch.node_batch).unwrap();
    (mock, root)
}

#[test]
fn fresh_store_holds_genesis() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &spec).unwrap();
    assert_eq!(store.path(), dir.path());

    let (_, root) = mock_genesis_root(&spec);
    assert_eq!(store.state_root(0).unwrap(), root, "same root as an in-memory jmt");
    let genesis = Store::genesis_block(&spec, root);
    assert_eq!(genesis.header.parent, spec.hash());
    assert_eq!(genesis.header.height, 0);
    assert_eq!(genesis.header.timestamp_ms, spec.genesis_timestamp_ms);
    let head = store.head().unwrap();
    assert_eq!(head, BlockRef { height: 0, hash: genesis.hash() });
    assert_eq!(store.finalized().unwrap(), head);
    assert_eq!(store.genesis_hash().unwrap(), genesis.hash());
    assert_eq!(store.block(0).unwrap().unwrap(), genesis);
    assert_eq!(store.height_of(&genesis.hash()).unwrap(), Some(0));
    assert_eq!(store.commit(0).unwrap(), None, "genesis has no certificate");
    assert!(store.block(1).unwrap().is_none());
    assert!(store.header(1).unwrap().is_none());

    // Accounts and supply as the ledger reads them.
    let alice = store.account(&addr("alice")).unwrap().unwrap();
    assert_eq!(alice, Account { balance: DEV_BALANCE, staked: 10_000_000_000_000, ..Account::default() });
    assert_eq!(store.account(&addr("bob")).unwrap().unwrap().balance, DEV_BALANCE);
    assert_eq!(store.account(&Address([9; 20])).unwrap(), None);
    let supply = store.supply().unwrap();
    let diff = StateDiff::genesis(&spec, &spec.genesis().unwrap()).unwrap();
    assert_eq!(supply, diff.supply);
    assert_eq!(store.state_changes(0).unwrap().unwrap(), diff.accounts);
}

#[test]
fn commit_block_and_reopen() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let (bob, charlie) = (addr("bob"), addr("charlie"));
    let good = transfer(&spec, "bob", charlie, 5_000, 1);
    let bad = transfer(&spec, "dave", charlie, 2 * DEV_BALANCE, 1);
    let (b1, genesis_root) = {
        let store = Store::open(dir.path(), &spec).unwrap();
        let genesis_root = store.state_root(0).unwrap();
        let b1 = build_block(&store, &spec, vec![good.clone(), bad.clone()]);
        assert_eq!(b1.outcomes[0].result, Ok(()));
        let want_err = TxFailure::InsufficientBalance { balance: DEV_BALANCE - 100_000, needed: 2 * DEV_BALANCE };
        assert_eq!(b1.outcomes[1].result, Err(want_err));
        // The certificate is one the consensus module accepts.
        let set = ValidatorSet::from_stakes(&[(Keypair::dev("alice").public(), 10_000_000_000_000)]).unwrap();
        verify_commit(&spec.chain_id, &set, &b1.cert, 1, b1.block.hash()).unwrap();
        commit(&store, &b1);
        assert_eq!(store.head().unwrap().height, 1);
        (b1, genesis_root)
    };

    let store = Store::open(dir.path(), &spec).unwrap();
    let head = BlockRef { height: 1, hash: b1.block.hash() };
    assert_eq!(store.head().unwrap(), head);
    assert_eq!(store.finalized().unwrap(), head);
    assert_eq!(store.block(1).unwrap().unwrap(), b1.block);
    assert_eq!(store.header(1).unwrap().unwrap().parent, store.block(0).unwrap().unwrap().hash());
    assert_eq!(store.commit(1).unwrap().unwrap(), b1.cert);
    assert_eq!(store.height_of(&b1.block.hash()).unwrap(), Some(1));
    assert_eq!(store.height_of(&Hash::ZERO).unwrap(), None);
    assert_eq!(
        store.tx_record(&good.hash()).unwrap().unwrap(),
        TxRecord { height: 1, index: 0, block_hash: b1.block.hash(), error: None }
    );
    let rec = store.tx_record(&bad.hash()).unwrap().unwrap();
    assert_eq!((rec.height, rec.index, rec.error.clone()), (1, 1, b1.outcomes[1].result.clone().err()));
    assert_eq!(store.tx_record(&transfer(&spec, "eve", bob, 1, 1).hash()).unwrap(), None);
    assert_eq!(store.state_changes(1).unwrap().unwrap(), b1.diff.accounts);

    // Latest accounts and supply.
    for (a, acc) in &b1.diff.accounts {
        assert_eq!(store.account(a).unwrap().as_ref(), Some(acc));
    }
    assert_eq!(store.account(&bob).unwrap().unwrap().balance, DEV_BALANCE - 5_000 - 100_000);
    assert_eq!(store.account(&bob).unwrap().unwrap().nonce, 1);
    assert_eq!(store.account(&charlie).unwrap().unwrap().balance, DEV_BALANCE + 5_000);
    assert_eq!(store.account(&addr("dave")).unwrap().unwrap().balance, DEV_BALANCE - 100_000);
    assert_eq!(store.supply().unwrap(), b1.diff.supply);
    assert_eq!(b1.diff.supply.height, 1);

    // State roots: both versions kept, equal to an in-memory jmt fed the same diffs.
    assert_eq!(store.state_root(1).unwrap(), b1.root);
    assert_eq!(store.state_root(0).unwrap(), genesis_root);
    assert_eq!(b1.block.header.state_root, b1.root);
    let (mock, mock_root0) = mock_genesis_root(&spec);
    assert_eq!(mock_root0, genesis_root);
    let (mock_root1, _) = state_tree::apply_diff(&mock, &b1.diff, 1).unwrap();
    assert_eq!(mock_root1, b1.root);

    // A second block on the reopened store continues the chain.
    let b2 = build_block(&store, &spec, vec![transfer(&spec, "bob", charlie, 1, 2)]);
    assert_eq!(b2.block.header.parent, b1.block.hash());
    commit(&store, &b2);
    assert_eq!(store.head().unwrap(), BlockRef { height: 2, hash: b2.block.hash() });
    assert_eq!(store.account(&bob).unwrap().unwrap().nonce, 2);
    assert_eq!(store.state_root(1).unwrap(), b1.root, "old versions stay readable");
}

#[test]
fn account_proofs_verify_only_the_right_account() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &spec).unwrap();
    let charlie = addr("charlie");
    let b1 = build_block(&store, &spec, vec![transfer(&spec, "bob", charlie, 777, 1)]);
    commit(&store, &b1);
    let root0 = store.state_root(0).unwrap();
    let root1 = store.state_root(1).unwrap();

    let (acc, proof) = store.prove_account(&charlie, 1).unwrap();
    let acc = acc.unwrap();
    assert_eq!(acc.balance, DEV_BALANCE + 777);
    verify_account_proof(root1, &charlie, Some(&acc), &proof).unwrap();
    // Tampered balance, nonce, absent claim, other address, other root: all rejected.
    let mut t = acc;
    t.balance += 1;
    assert!(verify_account_proof(root1, &charlie, Some(&t), &proof).is_err());
    let mut t = acc;
    t.nonce += 1;
    assert!(verify_account_proof(root1, &charlie, Some(&t), &proof).is_err());
    assert!(verify_account_proof(root1, &charlie, None, &proof).is_err());
    assert!(verify_account_proof(root1, &addr("eve"), Some(&acc), &proof).is_err());
    assert!(verify_account_proof(root0, &charlie, Some(&acc), &proof).is_err());

    // Historical proof: charlie at genesis.
    let (old, old_proof) = store.prove_account(&charlie, 0).unwrap();
    assert_eq!(old.unwrap().balance, DEV_BALANCE);
    verify_account_proof(root0, &charlie, old.as_ref(), &old_proof).unwrap();
    assert!(verify_account_proof(root1, &charlie, old.as_ref(), &old_proof).is_err());

    // Absence is provable too, and a claimed presence is rejected.
    let nobody = Address([0x77; 20]);
    let (none, none_proof) = store.prove_account(&nobody, 1).unwrap();
    assert_eq!(none, None);
    verify_account_proof(root1, &nobody, None, &none_proof).unwrap();
    assert!(verify_account_proof(root1, &nobody, Some(&Account::default()), &none_proof).is_err());
}

#[test]
fn reopening_with_another_spec_is_refused() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let genesis = {
        let store = Store::open(dir.path(), &spec).unwrap();
        store.genesis_hash().unwrap()
    };
    let mut other = spec.clone();
    other.apply_dev_overrides(|k| (k == "MINT_PER_UNIT").then(|| "2000".to_string())).unwrap();
    assert_ne!(other.hash(), spec.hash());
    match Store::open(dir.path(), &other) {
        Err(StoreError::GenesisMismatch { stored, expected, path }) => {
            assert_eq!(stored, genesis);
            assert_eq!(expected, super::genesis_hash(&other).unwrap(), "the error names the spec's genesis");
            assert_eq!(path, dir.path().display().to_string());
        }
        Err(e) => panic!("expected GenesisMismatch, got {e}"),
        Ok(_) => panic!("expected GenesisMismatch, the store opened"),
    }
    // Another genesis allocation with the same spec hash is impossible, but another chain id is
    // refused the same way.
    let mut other = spec.clone();
    other.apply_dev_overrides(|k| (k == "CHAIN_ID").then(|| "ergon-other".to_string())).unwrap();
    assert!(matches!(Store::open(dir.path(), &other), Err(StoreError::GenesisMismatch { .. })));
    // The right spec still opens it.
    let store = Store::open(dir.path(), &spec).unwrap();
    assert_eq!(store.genesis_hash().unwrap(), genesis);
}

#[test]
fn committing_at_the_wrong_height_is_refused() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &spec).unwrap();
    let b1 = build_block(&store, &spec, vec![]);

    // Height 2 on a head of 0.
    let mut skip = b1.block.clone();
    skip.header.height = 2;
    let mut prepared = prepare(&store, &b1);
    match store.commit_block(&skip, &b1.cert, &[], &mut prepared) {
        Err(StoreError::NotNext { height: 2, head: 0 }) => {}
        other => panic!("expected NotNext, got {:?}", other.err()),
    }
    assert_eq!(store.head().unwrap().height, 0, "nothing written");
    assert!(store.block(2).unwrap().is_none());

    // Another block at the right height than the one prepared.
    let mut other = b1.block.clone();
    other.header.state_root = Hash::ZERO;
    match store.commit_block(&other, &b1.cert, &[], &mut prepared) {
        Err(StoreError::NotPrepared { height: 1, prepared: 1 }) => {}
        other => panic!("expected NotPrepared, got {:?}", other.err()),
    }
    assert_eq!(store.head().unwrap().height, 0, "nothing written");

    // Refusals leave the prepared writes whole: the same ones commit the block, also when a
    // failed write took the batch staged early (a retry stages it again from the body).
    assert!(prepared.early.is_some());
    prepared.early = None;
    store.commit_block(&b1.block, &b1.cert, &b1.outcomes, &mut prepared).unwrap();
    assert_eq!(store.block(1).unwrap().as_ref(), Some(&b1.block));
    // The same height again.
    match store.commit_block(&b1.block, &b1.cert, &[], &mut prepared) {
        Err(StoreError::NotNext { height: 1, head: 1 }) => {}
        other => panic!("expected NotNext, got {:?}", other.err()),
    }
    // Genesis height.
    let mut zero = b1.block.clone();
    zero.header.height = 0;
    assert!(matches!(
        store.commit_block(&zero, &b1.cert, &[], &mut prepared),
        Err(StoreError::NotNext { height: 0, head: 1 })
    ));
    assert_eq!(store.head().unwrap(), BlockRef { height: 1, hash: b1.block.hash() });
}

#[test]
fn a_second_open_of_the_same_path_fails_cleanly() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path(), &spec).unwrap();
    // RocksDB holds a lock on the directory.
    assert!(matches!(Store::open(dir.path(), &spec), Err(StoreError::Db(_))));
}

#[test]
fn evidence_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dev_spec();
    let evidence = {
        let store = Store::open(dir.path(), &spec).unwrap();
        let vote = |value: &[u8]| {
            let key = crate::primitives::Keypair::dev("bob");
            let vote = crate::primitives::Vote {
                chain_id: spec.chain_id.clone(),
                height: 7,
                round: 1,
                kind: crate::primitives::VoteKind::Prevote,
                block_hash: Some(Hash::digest(b"t", value)),
            };
            let signature = key.sign(&vote.signing_hash());
            crate::consensus::SignedVote { vote, validator: key.public(), signature }
        };
        let e = crate::storage::Evidence { first: vote(b"a"), second: vote(b"b") };
        assert!(store.save_evidence(&e).unwrap(), "new evidence");
        assert!(!store.save_evidence(&e).unwrap(), "one record per validator and round");
        e
    };
    let store = Store::open(dir.path(), &spec).unwrap();
    assert_eq!(store.evidence(0, 10).unwrap(), vec![(evidence.clone(), None)]);
    assert!(store.evidence(8, 10).unwrap().is_empty(), "evidence is indexed by height");
}

/// Tree nodes made stale by a block are deleted once they are older than the retention;
/// versions inside it keep their proofs, and the latest state is untouched.
#[test]
fn stale_tree_nodes_are_pruned_beyond_the_retention() {
    let spec = dev_spec();
    let (dir, full_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut store = Store::open(dir.path(), &spec).unwrap();
    store.set_retention(3);
    let full = Store::open(full_dir.path(), &spec).unwrap();
    let count_nodes = |s: &Store| s.db.iterator_cf(s.cf(CF_JMT_NODES), rocksdb::IteratorMode::Start).count();
    let mut roots = vec![store.state_root(0).unwrap()];
    for nonce in 1..=8u64 {
        let txs = vec![transfer(&spec, "bob", addr("charlie"), u128::from(nonce), nonce)];
        let b = build_block(&store, &spec, txs.clone());
        commit(&store, &b);
        commit(&full, &build_block(&full, &spec, txs));
        roots.push(b.root);
    }
    assert_eq!(full.state_root(8).unwrap(), roots[8], "pruning does not change the state");
    for v in 5..=8u64 {
        assert_eq!(store.state_root(v).unwrap(), roots[v as usize], "version {v} is kept");
        let (acc, proof) = store.prove_account(&addr("bob"), v).unwrap();
        verify_account_proof(roots[v as usize], &addr("bob"), acc.as_ref(), &proof).unwrap();
    }
    assert!(store.prove_account(&addr("bob"), 1).is_err(), "version 1 is pruned");
    full.prove_account(&addr("bob"), 1).unwrap();
    let (pruned, kept) = (count_nodes(&store), count_nodes(&full));
    assert!(pruned < kept, "pruned store holds {pruned} tree nodes, the unpruned one {kept}");
    assert_eq!(store.account(&addr("charlie")).unwrap().unwrap().balance, DEV_BALANCE + (1..=8).sum::<u128>());
}

/// The history index serves an account's events in height order, by range and with a limit,
/// genesis included, and survives a reopen.
#[test]
fn account_history_by_range_and_limit() {
    use crate::ledger::EventCause;
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let (bob, charlie) = (addr("bob"), addr("charlie"));
    let mut hashes = vec![];
    {
        let store = Store::open(dir.path(), &spec).unwrap();
        for nonce in 1..=3 {
            let tx = transfer(&spec, "bob", charlie, 10 * u128::from(nonce), nonce);
            hashes.push(tx.hash());
            let b = build_block(&store, &spec, vec![tx]);
            commit(&store, &b);
        }
    }
    let store = Store::open(dir.path(), &spec).unwrap();
    let (all, more) = store.account_history(&charlie, 0, u64::MAX, 100).unwrap();
    assert!(!more);
    let got: Vec<(u64, EventCause, Option<Hash>)> = all.iter().map(|e| (e.height, e.cause, e.tx_hash)).collect();
    assert_eq!(
        got,
        vec![
            (0, EventCause::Genesis, None),
            (1, EventCause::Tx(0), Some(hashes[0])),
            (2, EventCause::Tx(0), Some(hashes[1])),
            (3, EventCause::Tx(0), Some(hashes[2])),
        ]
    );
    assert_eq!(all[2].after.balance - all[2].before.balance, 20);
    assert_eq!(all[0].after.balance, DEV_BALANCE);
    let (mid, more) = store.account_history(&charlie, 2, 2, 100).unwrap();
    assert_eq!((mid.len(), mid[0].height, more), (1, 2, false));
    let (first_two, more) = store.account_history(&charlie, 0, u64::MAX, 2).unwrap();
    assert_eq!((first_two.len(), more), (2, true));
    // Bob's account paid amount and fee each time; an address never seen has no events.
    let (b, _) = store.account_history(&bob, 1, 3, 100).unwrap();
    assert!(b.iter().all(|e| e.after.balance < e.before.balance && e.after.nonce == e.before.nonce + 1));
    assert!(store.account_history(&Address([0xee; 20]), 0, u64::MAX, 10).unwrap().0.is_empty());
}

#[test]
fn blobs_are_swept_once_their_mark_falls_behind() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &spec).unwrap();
    let old = store.put_blob(b"old").unwrap();
    let kept = store.put_blob(b"kept").unwrap();
    assert_eq!(store.blob_mark(&old).unwrap(), Some(0), "marked at the head when stored");

    // Marks only move up, and only for blobs held.
    store.mark_blobs([kept, Hash([7; 32])], 50).unwrap();
    store.mark_blobs([kept], 10).unwrap();
    assert_eq!(store.blob_mark(&kept).unwrap(), Some(50));
    assert_eq!(store.blob_mark(&Hash([7; 32])).unwrap(), None);

    assert_eq!(store.sweep_blobs(0).unwrap(), vec![], "nothing is marked below 0");
    assert_eq!(store.sweep_blobs(50).unwrap(), vec![old]);
    assert_eq!(store.blob(&old).unwrap(), None);
    assert_eq!(store.blob_mark(&old).unwrap(), None, "the mark goes with the blob");
    assert_eq!(store.blob(&kept).unwrap().as_deref(), Some(&b"kept"[..]));

    // A blob stored again after its sweep is back, marked anew.
    assert_eq!(store.put_blob(b"old").unwrap(), old);
    assert_eq!(store.blob_mark(&old).unwrap(), Some(0));

    // A blob stored by a build before marks gets a whole period from the first start.
    store.db.delete_cf(store.cf(CF_BLOB_MARKS), kept.0).unwrap();
    assert_eq!(store.mark_unmarked_blobs(70).unwrap(), 1);
    assert_eq!(store.blob_mark(&kept).unwrap(), Some(70));
    assert_eq!(store.sweep_blobs(70).unwrap(), vec![old]);
    assert!(store.has_blob(&kept).unwrap());
}

#[test]
fn a_store_from_before_blob_marks_opens_and_gains_them() {
    let spec = dev_spec();
    let dir = tempfile::tempdir().unwrap();
    let hash = {
        let store = Store::open(dir.path(), &spec).unwrap();
        let h = store.put_blob(b"program").unwrap();
        let mut db = store;
        db.db.drop_cf(CF_BLOB_MARKS).unwrap();
        h
    };
    // Inspection opens it read-only without the column family, and a node opens it.
    Store::open_read_only(dir.path(), &spec).unwrap();
    let store = Store::open(dir.path(), &spec).unwrap();
    assert_eq!(store.blob_mark(&hash).unwrap(), None);
    assert_eq!(store.mark_unmarked_blobs(3).unwrap(), 1);
    assert_eq!(store.blob_mark(&hash).unwrap(), Some(3));
}
