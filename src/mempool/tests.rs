//! Admission, replacement, limits, eviction, block selection and cleanup after a block.

use super::*;
use crate::primitives::{Keypair, Payload, Priority, Transfer, Tx};
use proptest::prelude::*;
use std::collections::HashMap;

const RICH: u128 = 1_000_000_000_000_000;

fn key(i: u8) -> Keypair {
    Keypair::from_secret([i; 32])
}

fn addr_of(k: &Keypair) -> Address {
    Address::from_public_key(&k.public())
}

fn tx_to(k: &Keypair, nonce: u64, fee: u128, amount: u128) -> SealedTx {
    Tx {
        chain_id: "ergon-dev".into(),
        sender: k.public(),
        nonce,
        fee,
        priority: Priority::Normal,
        payload: Payload::Transfer(Transfer { to: Address([0xAA; 20]), amount }),
    }
    .sign(k)
    .into()
}

fn tx(k: &Keypair, nonce: u64, fee: u128) -> SealedTx {
    tx_to(k, nonce, fee, 1)
}

/// A bigger tx: a batch of `n` transfers.
fn batch_tx(k: &Keypair, nonce: u64, fee: u128, n: usize) -> SealedTx {
    Tx {
        chain_id: "ergon-dev".into(),
        sender: k.public(),
        nonce,
        fee,
        priority: Priority::Normal,
        payload: Payload::Batch(vec![Transfer { to: Address([0xAA; 20]), amount: 1 }; n]),
    }
    .sign(k)
    .into()
}

fn acct(nonce: u64, balance: u128) -> Account {
    Account { balance, nonce, ..Default::default() }
}

fn rich(nonce: u64) -> Account {
    acct(nonce, RICH)
}

fn pool(max_txs: usize, max_per_sender: usize) -> Mempool {
    Mempool::new(MempoolConfig { max_txs, max_bytes: 1 << 30, max_per_sender, nonce_window: 64 })
}

fn hashes(v: &[Arc<SealedTx>]) -> Vec<Hash> {
    v.iter().map(|t| t.hash()).collect()
}

/// Pool-wide consistency: byte count, per-sender views and lookups agree.
fn check_consistent(p: &Mempool, senders: &[Keypair]) {
    let mut n = 0;
    let mut bytes = 0;
    let mut all = Vec::new();
    for k in senders {
        for (nonce, h) in p.pending_of(&addr_of(k)) {
            let t = p.get(&h).expect("pending hash is in the pool");
            assert_eq!(t.tx.nonce, nonce);
            assert_eq!(t.tx.sender, k.public());
            n += 1;
            bytes += t.size();
            all.push(h);
        }
    }
    assert_eq!(n, p.len());
    // The set other threads read holds exactly the pool's hashes.
    let shared = p.shared_hashes();
    assert!(shared.contains_each(all).into_iter().all(|known| known));
    assert_eq!(shared.len(), n);
    assert_eq!(bytes, p.bytes());
    assert_eq!(p.is_empty(), n == 0);
}

// ---------------------------------------------------------------------------------------------
// Admission
// ---------------------------------------------------------------------------------------------

#[test]
fn admits_and_knows_a_tx() {
    let mut p = pool(100, 10);
    let k = key(1);
    let t = tx(&k, 1, 100);
    let h = p.insert(t.clone(), &rich(0)).unwrap();
    assert_eq!(h, t.hash());
    assert!(p.contains(&h));
    assert_eq!(*p.get(&h).unwrap(), t);
    assert_eq!(p.len(), 1);
    assert_eq!(p.bytes(), t.size());
    assert_eq!(p.insert(t, &rich(0)), Err(MempoolError::AlreadyKnown(h)));
    assert_eq!(p.len(), 1);
    check_consistent(&p, &[k]);
}

#[test]
fn nonce_window() {
    let mut p = pool(1000, 1000);
    let k = key(1);
    let account = rich(5);
    assert_eq!(p.insert(tx(&k, 0, 10), &account), Err(MempoolError::NonceTooLow { got: 0, next: 6 }));
    assert_eq!(p.insert(tx(&k, 5, 10), &account), Err(MempoolError::NonceTooLow { got: 5, next: 6 }));
    assert_eq!(p.insert(tx(&k, 70, 10), &account), Err(MempoolError::NonceTooHigh { got: 70, next: 6, max: 69 }));
    assert_eq!(
        p.insert(tx(&k, u64::MAX, 10), &account),
        Err(MempoolError::NonceTooHigh { got: u64::MAX, next: 6, max: 69 })
    );
    assert!(p.is_empty());
    // Both ends of the window are accepted (gaps are allowed in the pool).
    p.insert(tx(&k, 6, 10), &account).unwrap();
    p.insert(tx(&k, 69, 10), &account).unwrap();
    assert_eq!(p.len(), 2);
    check_consistent(&p, &[k]);
}

#[test]
fn nonce_window_is_configurable() {
    let mut p = Mempool::new(MempoolConfig { nonce_window: 2, ..MempoolConfig::default() });
    let k = key(1);
    p.insert(tx(&k, 2, 1), &rich(0)).unwrap();
    assert_eq!(p.insert(tx(&k, 3, 1), &rich(0)), Err(MempoolError::NonceTooHigh { got: 3, next: 1, max: 2 }));
}

#[test]
fn exhausted_nonce_space_is_an_error_not_a_panic() {
    let mut p = pool(10, 10);
    let k = key(1);
    assert_eq!(p.insert(tx(&k, u64::MAX, 1), &rich(u64::MAX)), Err(MempoolError::Overflow));
}

#[test]
fn balance_covers_all_pending_txs_of_the_sender() {
    let mut p = pool(100, 10);
    let k = key(1);
    // Each tx costs fee 100 + amount 1 = 101.
    let account = acct(0, 3 * 101 - 1);
    p.insert(tx(&k, 1, 100), &account).unwrap();
    p.insert(tx(&k, 2, 100), &account).unwrap();
    assert_eq!(
        p.insert(tx(&k, 3, 100), &account),
        Err(MempoolError::InsufficientBalance { balance: 302, needed: 303 })
    );
    // A single tx larger than the balance.
    let other = key(2);
    assert_eq!(
        p.insert(tx_to(&other, 1, 10, 1_000), &acct(0, 1_009)),
        Err(MempoolError::InsufficientBalance { balance: 1_009, needed: 1_010 })
    );
    // A replacement counts in place of the tx it replaces: 101 + 111 = 212 <= 302.
    p.insert(tx(&k, 2, 110), &account).unwrap();
    assert_eq!(p.len(), 2);
    // ...but not if the replacement itself no longer fits: 101 + 202 = 303.
    assert_eq!(
        p.insert(tx_to(&k, 2, 121, 81), &account),
        Err(MempoolError::InsufficientBalance { balance: 302, needed: 303 })
    );
    check_consistent(&p, &[k, other]);
}

#[test]
fn pending_txs_below_the_account_nonce_do_not_count() {
    let mut p = pool(100, 10);
    let k = key(1);
    p.insert(tx(&k, 1, 100), &acct(0, 202)).unwrap();
    p.insert(tx(&k, 2, 100), &acct(0, 202)).unwrap();
    // Nonce 1 has been executed elsewhere; the account now holds less.
    let h3 = p.insert(tx(&k, 3, 100), &acct(1, 202)).unwrap();
    let pending: Vec<u64> = p.pending_of(&addr_of(&k)).into_iter().map(|(n, _)| n).collect();
    assert_eq!(pending, vec![2, 3], "nonce 1 is stale and dropped");
    assert!(p.contains(&h3));
    check_consistent(&p, &[k]);
}

#[test]
fn amount_overflow_is_rejected() {
    let mut p = pool(10, 10);
    let k = key(1);
    assert_eq!(p.insert(tx_to(&k, 1, 1, u128::MAX), &acct(0, u128::MAX)), Err(MempoolError::Overflow));
}

// ---------------------------------------------------------------------------------------------
// Replacement
// ---------------------------------------------------------------------------------------------

#[test]
fn replacement_needs_ten_percent_more() {
    let mut p = pool(100, 10);
    let k = key(1);
    let old = p.insert(tx(&k, 1, 1000), &rich(0)).unwrap();
    assert_eq!(p.insert(tx(&k, 1, 1099), &rich(0)), Err(MempoolError::ReplacementUnderpriced { got: 1099, min: 1100 }));
    assert_eq!(p.insert(tx(&k, 1, 999), &rich(0)), Err(MempoolError::ReplacementUnderpriced { got: 999, min: 1100 }));
    assert!(p.contains(&old));
    let new = p.insert(tx(&k, 1, 1100), &rich(0)).unwrap();
    assert!(!p.contains(&old));
    assert!(p.contains(&new));
    assert_eq!(p.len(), 1);
    assert_eq!(p.pending_of(&addr_of(&k)), vec![(1, new)]);
    check_consistent(&p, &[k]);
}

#[test]
fn replacement_minimum_rounds_up() {
    let mut p = pool(100, 10);
    let k = key(1);
    p.insert(tx(&k, 1, 1001), &rich(0)).unwrap();
    // 1001 x 1.1 = 1101.1 -> 1102.
    assert_eq!(p.insert(tx(&k, 1, 1101), &rich(0)), Err(MempoolError::ReplacementUnderpriced { got: 1101, min: 1102 }));
    p.insert(tx(&k, 1, 1102), &rich(0)).unwrap();
    // A zero fee is replaced by any fee, even zero... but an identical tx is AlreadyKnown.
    let z = key(2);
    let h = p.insert(tx(&z, 1, 0), &rich(0)).unwrap();
    assert_eq!(p.insert(tx(&z, 1, 0), &rich(0)), Err(MempoolError::AlreadyKnown(h)));
    p.insert(tx_to(&z, 1, 0, 2), &rich(0)).unwrap();
}

#[test]
fn replacement_keeps_the_rest_of_the_queue() {
    let mut p = pool(100, 10);
    let k = key(1);
    for n in 1..=3 {
        p.insert(tx(&k, n, 100), &rich(0)).unwrap();
    }
    let h2 = p.insert(tx(&k, 2, 200), &rich(0)).unwrap();
    let pending = p.pending_of(&addr_of(&k));
    assert_eq!(pending.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(pending[1].1, h2);
    assert_eq!(p.select(10, usize::MAX).len(), 3);
    check_consistent(&p, &[k]);
}

// ---------------------------------------------------------------------------------------------
// Limits and eviction
// ---------------------------------------------------------------------------------------------

#[test]
fn per_sender_limit() {
    let mut p = pool(100, 3);
    let k = key(1);
    for n in 1..=3 {
        p.insert(tx(&k, n, 100), &rich(0)).unwrap();
    }
    assert_eq!(p.insert(tx(&k, 4, 100), &rich(0)), Err(MempoolError::SenderLimit { limit: 3 }));
    // A replacement at the limit is fine; other senders are unaffected.
    p.insert(tx(&k, 3, 200), &rich(0)).unwrap();
    p.insert(tx(&key(2), 1, 100), &rich(0)).unwrap();
    assert_eq!(p.len(), 4);
    // Once the account moves on, stale txs stop counting against the limit.
    p.insert(tx(&k, 4, 100), &rich(1)).unwrap();
    assert_eq!(p.pending_of(&addr_of(&k)).len(), 3);
}

#[test]
fn global_limit_evicts_the_lowest_fee() {
    let mut p = pool(3, 10);
    let (a, b, c, d, e) = (key(1), key(2), key(3), key(4), key(5));
    let ha = p.insert(tx(&a, 1, 100), &rich(0)).unwrap();
    let hb = p.insert(tx(&b, 1, 200), &rich(0)).unwrap();
    let hc = p.insert(tx(&c, 1, 300), &rich(0)).unwrap();
    // 150 beats the lowest (100): a's tx goes.
    let hd = p.insert(tx(&d, 1, 150), &rich(0)).unwrap();
    assert_eq!(p.len(), 3);
    assert!(!p.contains(&ha));
    assert!(p.contains(&hb) && p.contains(&hc) && p.contains(&hd));
    // Not beating the lowest (150) is rejected, equal included.
    assert_eq!(p.insert(tx(&e, 1, 149), &rich(0)), Err(MempoolError::Full { fee: 149, lowest: 150 }));
    assert_eq!(p.insert(tx(&e, 1, 150), &rich(0)), Err(MempoolError::Full { fee: 150, lowest: 150 }));
    assert_eq!(p.len(), 3);
    assert!(p.contains(&hd));
    check_consistent(&p, &[a, b, c, d, e]);
}

#[test]
fn eviction_takes_the_victims_later_nonces_too() {
    let mut p = pool(3, 10);
    let (a, b, c) = (key(1), key(2), key(3));
    p.insert(tx(&a, 1, 100), &rich(0)).unwrap();
    p.insert(tx(&a, 2, 500), &rich(0)).unwrap();
    let hb = p.insert(tx(&b, 1, 300), &rich(0)).unwrap();
    let hc = p.insert(tx(&c, 1, 200), &rich(0)).unwrap();
    // a's nonce 1 was the lowest: it and its dependent nonce 2 are gone.
    assert!(p.pending_of(&addr_of(&a)).is_empty());
    assert_eq!(p.len(), 2);
    assert!(p.contains(&hb) && p.contains(&hc));
    check_consistent(&p, &[a, b, c]);
}

#[test]
fn eviction_keeps_the_victims_earlier_nonces() {
    let mut p = pool(3, 10);
    let (a, b) = (key(1), key(2));
    let h1 = p.insert(tx(&a, 1, 500), &rich(0)).unwrap();
    p.insert(tx(&a, 2, 100), &rich(0)).unwrap();
    let h3 = p.insert(tx(&key(3), 1, 400), &rich(0)).unwrap();
    let hb = p.insert(tx(&b, 1, 300), &rich(0)).unwrap();
    assert_eq!(p.pending_of(&addr_of(&a)), vec![(1, h1)]);
    assert!(p.contains(&h3) && p.contains(&hb));
}

#[test]
fn a_sender_never_evicts_its_own_txs() {
    let mut p = pool(2, 10);
    let a = key(1);
    p.insert(tx(&a, 1, 10), &rich(0)).unwrap();
    p.insert(tx(&a, 2, 10), &rich(0)).unwrap();
    // Evicting nonce 1 would strand the newcomer; a's own txs are protected.
    assert_eq!(p.insert(tx(&a, 3, 1000), &rich(0)), Err(MempoolError::FullOfOwn));
    assert_eq!(p.len(), 2);
}

#[test]
fn byte_limit_evicts_too() {
    let one = tx(&key(1), 1, 100).size();
    let mut p = Mempool::new(MempoolConfig { max_txs: 100, max_bytes: 2 * one, max_per_sender: 10, nonce_window: 64 });
    let ha = p.insert(tx(&key(1), 1, 100), &rich(0)).unwrap();
    let hb = p.insert(tx(&key(2), 1, 200), &rich(0)).unwrap();
    assert_eq!(p.bytes(), 2 * one);
    let hc = p.insert(tx(&key(3), 1, 300), &rich(0)).unwrap();
    assert!(!p.contains(&ha));
    assert!(p.contains(&hb) && p.contains(&hc));
    assert!(p.bytes() <= 2 * one);
    assert_eq!(p.insert(tx(&key(4), 1, 150), &rich(0)), Err(MempoolError::Full { fee: 150, lowest: 200 }));
}

/// Rejecting a newcomer must not cost the pool anything. Today `make_room` evicts the cheapest
/// txs one at a time and only then finds that the next victim pays more than the newcomer, so a
/// large tx with a middling fee flushes cheap txs and is itself rejected.
#[test]
fn rejected_newcomer_evicts_nothing() {
    let one = tx(&key(1), 1, 100).size();
    let mut p = Mempool::new(MempoolConfig { max_txs: 100, max_bytes: 3 * one, max_per_sender: 10, nonce_window: 64 });
    let ha = p.insert(tx(&key(1), 1, 100), &rich(0)).unwrap();
    p.insert(tx(&key(2), 1, 300), &rich(0)).unwrap();
    p.insert(tx(&key(3), 1, 400), &rich(0)).unwrap();
    let big = batch_tx(&key(4), 1, 200, 10);
    assert!(big.size() > one, "needs more than one eviction");
    assert!(matches!(p.insert(big, &rich(0)), Err(MempoolError::Full { .. })));
    assert!(p.contains(&ha), "the 100-fee tx was evicted for a newcomer that was then rejected");
    assert_eq!(p.len(), 3);
}

/// A replacement skips `make_room`, so a larger replacement can push the pool past max_bytes.
#[test]
fn replacement_respects_the_byte_limit() {
    let one = tx(&key(1), 1, 100).size();
    let mut p = Mempool::new(MempoolConfig { max_txs: 100, max_bytes: 2 * one, max_per_sender: 10, nonce_window: 64 });
    p.insert(tx(&key(1), 1, 100), &rich(0)).unwrap();
    p.insert(tx(&key(2), 1, 100), &rich(0)).unwrap();
    let bigger = batch_tx(&key(1), 1, 1_000, 4);
    assert!(bigger.size() > one);
    let _ = p.insert(bigger, &rich(0));
    assert!(p.bytes() <= 2 * one, "{} > {}", p.bytes(), 2 * one);
}

#[test]
fn evict_drops_one_tx() {
    let mut p = pool(10, 10);
    let k = key(1);
    let h1 = p.insert(tx(&k, 1, 10), &rich(0)).unwrap();
    let h2 = p.insert(tx(&k, 2, 10), &rich(0)).unwrap();
    p.evict(&h1);
    assert!(!p.contains(&h1));
    assert!(p.contains(&h2));
    // Nonce 2 cannot execute without 1: select leaves it alone.
    assert!(p.select(10, usize::MAX).is_empty());
    p.evict(&h1); // unknown: no-op
    p.evict(&h2);
    assert!(p.is_empty());
    assert_eq!(p.bytes(), 0);
}

// ---------------------------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------------------------

#[test]
fn select_orders_by_fee_keeping_nonce_order() {
    let mut p = pool(100, 10);
    let (a, b, c) = (key(1), key(2), key(3));
    let a1 = p.insert(tx(&a, 1, 500), &rich(0)).unwrap();
    let a2 = p.insert(tx(&a, 2, 10_000), &rich(0)).unwrap();
    let b1 = p.insert(tx(&b, 1, 1_000), &rich(0)).unwrap();
    let c1 = p.insert(tx(&c, 1, 700), &rich(0)).unwrap();
    let c2 = p.insert(tx(&c, 2, 600), &rich(0)).unwrap();
    // a2 pays most but needs a1 first; it becomes eligible once a1 is taken.
    assert_eq!(hashes(&p.select(100, usize::MAX)), vec![b1, c1, c2, a1, a2]);
}

#[test]
fn select_ties_are_deterministic() {
    let mut p = pool(100, 10);
    for i in 1..=5 {
        p.insert(tx(&key(i), 1, 100), &rich(0)).unwrap();
    }
    let first = hashes(&p.select(100, usize::MAX));
    assert_eq!(first.len(), 5);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(first, sorted, "equal fees: lowest hash first");
    assert_eq!(hashes(&p.select(100, usize::MAX)), first);
}

#[test]
fn select_stops_at_a_gap_and_starts_at_the_account_nonce() {
    let mut p = pool(100, 10);
    let (a, b) = (key(1), key(2));
    let a5 = p.insert(tx(&a, 5, 100), &rich(4)).unwrap();
    let a6 = p.insert(tx(&a, 6, 100), &rich(4)).unwrap();
    p.insert(tx(&a, 8, 900), &rich(4)).unwrap();
    // b has nothing at its next nonce.
    p.insert(tx(&b, 2, 1_000), &rich(0)).unwrap();
    assert_eq!(hashes(&p.select(100, usize::MAX)), vec![a5, a6]);
}

#[test]
fn select_respects_count_and_byte_limits() {
    let mut p = pool(100, 10);
    let (a, b, c) = (key(1), key(2), key(3));
    let a1 = p.insert(tx(&a, 1, 300), &rich(0)).unwrap();
    let b1 = p.insert(tx(&b, 1, 200), &rich(0)).unwrap();
    p.insert(tx(&c, 1, 100), &rich(0)).unwrap();
    let one = p.get(&a1).unwrap().size();
    assert!(p.select(0, usize::MAX).is_empty());
    assert_eq!(hashes(&p.select(2, usize::MAX)), vec![a1, b1]);
    assert_eq!(hashes(&p.select(100, 2 * one)), vec![a1, b1]);
    assert_eq!(hashes(&p.select(100, 2 * one - 1)), vec![a1]);
    assert!(p.select(100, one - 1).is_empty());
    // A big tx that does not fit leaves room for smaller ones after it.
    let big = batch_tx(&key(4), 1, 10_000, 10);
    let big_size = big.size();
    let hbig = p.insert(big, &rich(0)).unwrap();
    assert!(big_size > 2 * one);
    assert_eq!(hashes(&p.select(100, 2 * one)), vec![a1, b1]);
    assert_eq!(hashes(&p.select(100, 3 * one)), vec![hbig], "{big_size} + {one} > {}", 3 * one);
    assert_eq!(hashes(&p.select(100, big_size + one)), vec![hbig, a1]);
    // Selecting does not remove anything.
    assert_eq!(p.len(), 4);
}

#[test]
fn select_skips_a_senders_chain_once_it_does_not_fit() {
    let mut p = pool(100, 10);
    let a = key(1);
    let a1 = p.insert(tx(&a, 1, 1_000), &rich(0)).unwrap();
    p.insert(batch_tx(&a, 2, 900, 10), &rich(0)).unwrap();
    p.insert(tx(&a, 3, 800), &rich(0)).unwrap();
    let b1 = p.insert(tx(&key(2), 1, 10), &rich(0)).unwrap();
    let one = p.get(&a1).unwrap().size();
    // a2 does not fit, so a3 (which would fit) must not be taken either.
    assert_eq!(hashes(&p.select(100, 2 * one)), vec![a1, b1]);
}

// ---------------------------------------------------------------------------------------------
// After a block
// ---------------------------------------------------------------------------------------------

#[test]
fn on_block_drops_included_and_stale_txs() {
    let mut p = pool(100, 10);
    let (a, b, c) = (key(1), key(2), key(3));
    let a1 = tx(&a, 1, 100);
    let ha1 = p.insert(a1.clone(), &rich(0)).unwrap();
    let ha2 = p.insert(tx(&a, 2, 100), &rich(0)).unwrap();
    let ha3 = p.insert(tx(&a, 3, 100), &rich(0)).unwrap();
    let hb1 = p.insert(tx(&b, 1, 100), &rich(0)).unwrap();
    let hc2 = p.insert(tx(&c, 2, 100), &rich(0)).unwrap();
    // The block holds a1 and a different a2 (same nonce, other fee) that never reached us.
    let other_a2 = tx(&a, 2, 777);
    let (addr_a, addr_c) = (addr_of(&a), addr_of(&c));
    let c1 = tx(&c, 1, 5);
    p.on_block([&a1, &other_a2, &c1], |who| {
        if *who == addr_a {
            rich(2)
        } else if *who == addr_c {
            rich(1)
        } else {
            rich(0)
        }
    });
    assert!(!p.contains(&ha1), "included");
    assert!(!p.contains(&ha2), "stale: nonce 2 was used by another tx");
    assert!(p.contains(&ha3));
    assert!(p.contains(&hb1), "untouched sender");
    assert!(p.contains(&hc2));
    // The pool's idea of each sender's next nonce moved on: a3 and c2 are now executable.
    let sel = hashes(&p.select(100, usize::MAX));
    assert_eq!(sel.len(), 3);
    assert!(sel.contains(&ha3) && sel.contains(&hb1) && sel.contains(&hc2));
    check_consistent(&p, &[a, b, c]);
}

#[test]
fn on_block_with_everything_included_empties_the_pool() {
    let mut p = pool(100, 10);
    let k = key(1);
    for n in 1..=4 {
        p.insert(tx(&k, n, 100 + u128::from(n)), &rich(0)).unwrap();
    }
    let sel = p.select(100, usize::MAX);
    assert_eq!(sel.len(), 4);
    p.on_block(sel.iter().map(|t| &**t), |_| rich(4));
    assert!(p.is_empty());
    assert_eq!(p.bytes(), 0);
    assert!(p.pending_of(&addr_of(&k)).is_empty());
    // The sender starts afresh at nonce 5.
    p.insert(tx(&k, 5, 1), &rich(4)).unwrap();
    assert_eq!(p.select(10, usize::MAX).len(), 1);
}

/// A committed block's txs stop being pending for readers at once, while the pool still
/// holds them until `on_block` (the node announces the block in between).
#[test]
fn committed_txs_leave_the_shared_hashes_before_the_pool() {
    let mut p = pool(100, 10);
    let (a, b) = (key(1), key(2));
    let (a1, b1) = (tx(&a, 1, 100), tx(&b, 1, 100));
    p.insert(a1.clone(), &rich(0)).unwrap();
    p.insert(b1.clone(), &rich(0)).unwrap();
    let shared = p.shared_hashes();
    p.committed([&a1]);
    assert_eq!(shared.contains_each([a1.hash(), b1.hash()]), vec![false, true]);
    assert_eq!(p.len(), 2, "the pool drops it in on_block");
    p.on_block([&a1], |who| if *who == addr_of(&a) { rich(1) } else { rich(0) });
    assert_eq!(p.len(), 1);
    check_consistent(&p, &[a, b]);
}

// ---------------------------------------------------------------------------------------------
// Property: selection keeps every sender's nonces in order and without gaps
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Insert { sender: usize, offset: u64, fee: u128, big: bool },
    Evict { pick: usize },
    Block { max_txs: usize },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0usize..5, prop_oneof![3 => 0u64..2, 1 => 0u64..8], 0u128..1_000, prop::bool::weighted(0.1))
            .prop_map(|(sender, offset, fee, big)| Op::Insert { sender, offset, fee, big }),
        1 => any::<usize>().prop_map(|pick| Op::Evict { pick }),
        1 => (0usize..6).prop_map(|max_txs| Op::Block { max_txs }),
    ]
}

/// Checks a selection against the pool's senders and their account nonces.
fn check_selection(
    sel: &[Arc<SealedTx>],
    accounts: &HashMap<Address, Account>,
    max_txs: usize,
    max_bytes: usize,
) -> Result<(), TestCaseError> {
    prop_assert!(sel.len() <= max_txs);
    prop_assert!(sel.iter().map(|t| t.size()).sum::<usize>() <= max_bytes);
    let mut next: HashMap<Address, u64> = HashMap::new();
    for t in sel {
        let sender = t.tx.sender_address();
        let want = next.get(&sender).copied().unwrap_or_else(|| accounts[&sender].nonce + 1);
        prop_assert_eq!(t.tx.nonce, want, "sender {:?} skipped or reordered a nonce", sender);
        next.insert(sender, want + 1);
    }
    Ok(())
}

/// The gapped txs (see the module doc), recomputed from the sender queues.
fn gapped_of(p: &Mempool) -> BTreeSet<(u128, Hash)> {
    let mut out = BTreeSet::new();
    for q in p.senders.values() {
        let mut expect = Some(q.next);
        for (n, (h, _)) in q.txs.range(q.next..) {
            if expect == Some(*n) {
                expect = n.checked_add(1);
            } else {
                expect = None;
                out.insert((p.entries[h].fee, *h));
            }
        }
    }
    out
}

fn many_key(i: u32) -> Keypair {
    let mut secret = [7u8; 32];
    secret[..4].copy_from_slice(&i.to_le_bytes());
    Keypair::from_secret(secret)
}

/// Issue 14's spam: 100,000 nonce-gapped txs from 1,000 accounts (nonce 2 never comes) at ten
/// times the honest fee. The pool stays within its bounds, and honest ready txs still get in
/// and fill the next block.
#[test]
fn gapped_spam_cannot_crowd_out_ready_txs() {
    let config = MempoolConfig { max_txs: 20_000, max_bytes: 1 << 30, max_per_sender: 64, nonce_window: 128 };
    let mut p = Mempool::new(config);
    let mut refused = 0usize;
    for i in 0..1_000 {
        let k = many_key(i);
        for nonce in 3..103 {
            match p.insert(tx(&k, nonce, 1_000), &rich(0)) {
                Ok(_) => {}
                Err(MempoolError::SenderLimit { .. } | MempoolError::FullGapped { .. }) => refused += 1,
                Err(e) => panic!("unexpected refusal: {e}"),
            }
        }
        assert!(p.pending_of(&addr_of(&k)).len() <= 64);
    }
    assert_eq!(p.len(), 20_000, "the spam fills the pool to its bound and no further");
    assert_eq!(p.gapped(), p.len());
    assert_eq!(refused, 100_000 - 20_000);
    // A replay costs one lookup.
    let first = tx(&many_key(0), 3, 1_000);
    assert_eq!(p.insert(first.clone(), &rich(0)), Err(MempoolError::AlreadyKnown(first.hash())));

    let honest: Vec<Keypair> = (0..500).map(|i| many_key(1_000_000 + i)).collect();
    for k in &honest {
        p.insert(tx(k, 1, 100), &rich(0)).expect("a ready tx displaces gapped spam, whatever its fee");
    }
    assert_eq!(p.len(), 20_000);
    let block = p.select(500, usize::MAX);
    assert_eq!(block.len(), 500);
    let honest_senders: BTreeSet<Address> = honest.iter().map(addr_of).collect();
    assert!(block.iter().all(|t| honest_senders.contains(&t.tx.sender_address())), "the block is the honest txs");
    assert_eq!(p.gapped(), p.len() - 500);
}

#[test]
fn gapped_txs_are_displaced_first_and_displace_only_cheaper_gapped_txs() {
    let mut p = pool(3, 10);
    let (a, b, c, d, e) = (key(1), key(2), key(3), key(4), key(5));
    p.insert(tx(&a, 1, 10), &rich(0)).unwrap();
    p.insert(tx(&b, 1, 10), &rich(0)).unwrap();
    let c3 = p.insert(tx(&c, 3, 50), &rich(0)).unwrap();
    assert_eq!(p.gapped(), 1);
    // A gapped newcomer, whatever it pays, displaces only a cheaper gapped tx.
    let d5 = p.insert(tx(&d, 5, 60), &rich(0)).unwrap();
    assert!(!p.contains(&c3) && p.contains(&d5));
    assert_eq!(p.insert(tx(&c, 4, 59), &rich(0)), Err(MempoolError::FullGapped { fee: 59, lowest: 60 }));
    // A ready newcomer displaces the gapped tx first, even one that pays more than it.
    p.insert(tx(&e, 1, 20), &rich(0)).unwrap();
    assert!(!p.contains(&d5));
    assert_eq!((p.len(), p.gapped()), (3, 0));
    // Then it is by fee again.
    assert_eq!(p.insert(tx(&c, 1, 10), &rich(0)), Err(MempoolError::Full { fee: 10, lowest: 10 }));

    // Filling a gap makes the later txs ready; evicting one opens a gap again.
    let mut q = pool(10, 10);
    let a2 = q.insert(tx(&a, 2, 10), &rich(0)).unwrap();
    q.insert(tx(&a, 3, 10), &rich(0)).unwrap();
    assert_eq!(q.gapped(), 2);
    q.insert(tx(&a, 1, 10), &rich(0)).unwrap();
    assert_eq!(q.gapped(), 0);
    q.evict(&a2);
    assert_eq!(q.gapped(), 1);
    assert_eq!(&q.gapped, &gapped_of(&q));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn select_never_reorders_or_skips_nonces(
        ops in prop::collection::vec(arb_op(), 1..60),
        max_txs in 1usize..30,
        max_bytes_txs in 2usize..40,
        start in prop::collection::vec(0u64..3, 5),
        balance_small in prop::bool::weighted(0.2),
    ) {
        let keys: Vec<Keypair> = (1..=5u8).map(key).collect();
        let one = tx(&keys[0], 1, 0).size();
        let config = MempoolConfig { max_txs, max_bytes: max_bytes_txs * one, max_per_sender: 6, nonce_window: 8 };
        let mut p = Mempool::new(config);
        let balance = if balance_small { 2_500 } else { RICH };
        let mut accounts: HashMap<Address, Account> =
            keys.iter().zip(&start).map(|(k, n)| (addr_of(k), acct(*n, balance))).collect();
        for op in ops {
            match op {
                Op::Insert { sender, offset, fee, big } => {
                    let k = &keys[sender];
                    let acc = accounts[&addr_of(k)];
                    let nonce = acc.nonce + 1 + offset;
                    let t = if big { batch_tx(k, nonce, fee, 5) } else { tx(k, nonce, fee) };
                    let _ = p.insert(t, &acc);
                }
                Op::Evict { pick } => {
                    let all: Vec<Hash> = keys.iter().flat_map(|k| p.pending_of(&addr_of(k))).map(|(_, h)| h).collect();
                    if !all.is_empty() {
                        p.evict(&all[pick % all.len()]);
                    }
                }
                Op::Block { max_txs } => {
                    let sel = p.select(max_txs, usize::MAX);
                    check_selection(&sel, &accounts, max_txs, usize::MAX)?;
                    for t in &sel {
                        let a = accounts.get_mut(&t.tx.sender_address()).unwrap();
                        a.nonce = t.tx.nonce;
                        let cost = t.tx.fee + t.tx.payload.total_amount().unwrap();
                        let left = a.balance.checked_sub(cost);
                        prop_assert!(left.is_some(), "selected a tx its sender cannot pay");
                        a.balance = left.unwrap();
                    }
                    let snapshot = accounts.clone();
                    p.on_block(sel.iter().map(|t| &**t), |a| snapshot[a]);
                    for t in &sel {
                        prop_assert!(!p.contains(&t.hash()));
                    }
                }
            }
            // Pool invariants after every step. (`bytes <= max_bytes` does not hold: a larger
            // replacement skips eviction; see `replacement_respects_the_byte_limit`.)
            prop_assert!(p.len() <= config.max_txs);
            for k in &keys {
                let a = addr_of(k);
                let pending = p.pending_of(&a);
                prop_assert!(pending.len() <= config.max_per_sender);
                for (n, h) in pending {
                    prop_assert!(n > accounts[&a].nonce, "stale tx left in the pool");
                    prop_assert_eq!(p.get(&h).unwrap().tx.nonce, n);
                }
            }
            let total: usize = keys
                .iter()
                .flat_map(|k| p.pending_of(&addr_of(k)))
                .map(|(_, h)| p.get(&h).unwrap().size())
                .sum();
            prop_assert_eq!(total, p.bytes());
            prop_assert_eq!(&p.gapped, &gapped_of(&p), "the gapped set drifted from the queues");
        }
        for (mt, mb) in [(usize::MAX, usize::MAX), (max_txs, max_bytes_txs * one), (3, 2 * one)] {
            let sel = p.select(mt, mb);
            check_selection(&sel, &accounts, mt, mb)?;
        }
    }
}
