//! Pending transactions. Pure: the caller verifies signatures (batched) and stateless rules
//! ([`crate::ledger::check_stateless`]) first and passes the sender's account in.
//!
//! Rules:
//! - a tx's nonce must lie in `account.nonce + 1 ..= account.nonce + nonce_window`;
//! - the sender's balance must cover fee + amount of all its pending txs together;
//! - the same (sender, nonce) is replaced only by a fee at least 10% higher;
//! - per-sender and global limits; when full, *gapped* txs go first, whatever their fee (a
//!   gapped tx's nonce cannot be reached from its sender's next nonce through pending txs, so
//!   it cannot execute, and pays nothing while it waits: spam that costs nothing must not
//!   crowd out txs that would pay), then the lowest-fee ready tx (and the same sender's later
//!   txs, which it would leave unexecutable) if the newcomer pays more. A gapped newcomer may
//!   only displace gapped txs of lower fee;
//! - blocks take txs by fee, keeping each sender's nonce order without gaps;
//! - after each block, included and stale txs are dropped.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

use crate::ledger::Account;
use crate::primitives::{Address, FastMap, FastSet, Hash, SealedTx};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::{Arc, PoisonError, RwLock};

#[cfg(test)]
mod tests;

#[derive(Debug, Clone, Copy)]
pub struct MempoolConfig {
    pub max_txs: usize,
    pub max_bytes: usize,
    pub max_per_sender: usize,
    pub nonce_window: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig { max_txs: 200_000, max_bytes: 128 << 20, max_per_sender: 64, nonce_window: 64 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    #[error("tx {0} is already pending")]
    AlreadyKnown(Hash),
    #[error("nonce {got} is too low: the account's next nonce is {next}")]
    NonceTooLow { got: u64, next: u64 },
    #[error("nonce {got} is too far ahead: pending txs may use nonces {next} to {max}")]
    NonceTooHigh { got: u64, next: u64, max: u64 },
    #[error(
        "insufficient balance: {balance} does not cover {needed} (fee + amount of this and the sender's pending txs)"
    )]
    InsufficientBalance { balance: u128, needed: u128 },
    #[error("replacement fee {got} is too low: replacing a pending tx needs at least {min} (10% more)")]
    ReplacementUnderpriced { got: u128, min: u128 },
    #[error("sender already has {limit} pending txs")]
    SenderLimit { limit: usize },
    #[error("mempool is full and fee {fee} does not beat the lowest pending fee {lowest}")]
    Full { fee: u128, lowest: u128 },
    #[error(
        "mempool is full: a tx whose earlier nonces are not pending may only displace other such txs, and fee {fee} does not beat their lowest fee {lowest}"
    )]
    FullGapped { fee: u128, lowest: u128 },
    #[error("mempool is full and only this sender's own pending txs could make room; wait for them to be included")]
    FullOfOwn,
    #[error("amount overflows u128")]
    Overflow,
}

struct Entry {
    tx: Arc<SealedTx>,
    sender: Address,
    nonce: u64,
    fee: u128,
    size: usize,
}

#[derive(Default)]
struct SenderQueue {
    /// The account nonce + 1 as last seen.
    next: u64,
    /// Hash and cost (fee + amount: what the tx can take from the balance) by nonce; the
    /// balance check sums costs here, without a lookup per pending tx in the big `entries` map.
    txs: BTreeMap<u64, (Hash, u128)>,
}

/// The hashes of a mempool's txs, readable from any thread without asking the mempool's
/// owner: admission refuses a tx that is already pending before its signatures cost a
/// verification, without waiting for the node's driver (which may be building or committing a
/// block). Kept by [`Mempool`] itself, at the one place it adds an entry and the one place it
/// removes one, and it never holds a hash the pool lacks; it drops a block's txs as soon as
/// the block is durable ([`Mempool::committed`]), before the pool itself does.
#[derive(Default)]
pub struct PendingHashes(RwLock<FastSet<Hash>>);

impl PendingHashes {
    /// Whether each of `hashes` is pending, in order (one read lock for all of them).
    pub fn contains_each(&self, hashes: impl IntoIterator<Item = Hash>) -> Vec<bool> {
        let set = self.0.read().unwrap_or_else(PoisonError::into_inner);
        hashes.into_iter().map(|h| set.contains(&h)).collect()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn insert(&self, h: Hash) {
        self.0.write().unwrap_or_else(PoisonError::into_inner).insert(h);
    }

    fn remove(&self, h: &Hash) {
        self.0.write().unwrap_or_else(PoisonError::into_inner).remove(h);
    }

    fn remove_all(&self, hashes: impl IntoIterator<Item = Hash>) {
        let mut set = self.0.write().unwrap_or_else(PoisonError::into_inner);
        for h in hashes {
            set.remove(&h);
        }
    }
}

#[derive(Default)]
pub struct Mempool {
    config: MempoolConfig,
    entries: FastMap<Hash, Entry>,
    /// The keys of `entries`, shared (see [`PendingHashes`]).
    hashes: Arc<PendingHashes>,
    senders: FastMap<Address, SenderQueue>,
    /// (fee, hash) of every entry, lowest first: the eviction order.
    by_fee: BTreeSet<(u128, Hash)>,
    /// (fee, hash) of the gapped entries (see the module doc), evicted first.
    gapped: BTreeSet<(u128, Hash)>,
    bytes: usize,
}

impl Mempool {
    pub fn new(config: MempoolConfig) -> Self {
        Mempool { config, ..Default::default() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, h: &Hash) -> bool {
        self.entries.contains_key(h)
    }

    /// The pool's hashes as other threads see them (see [`PendingHashes`]).
    pub fn shared_hashes(&self) -> Arc<PendingHashes> {
        self.hashes.clone()
    }

    pub fn get(&self, h: &Hash) -> Option<Arc<SealedTx>> {
        self.entries.get(h).map(|e| e.tx.clone())
    }

    /// Admits `tx` (signature and stateless checks already passed) given its sender's account.
    pub fn insert(&mut self, tx: SealedTx, account: &Account) -> Result<Hash, MempoolError> {
        let hash = tx.hash();
        if self.entries.contains_key(&hash) {
            return Err(MempoolError::AlreadyKnown(hash));
        }
        let sender = tx.tx.sender_address();
        let nonce = tx.tx.nonce;
        let next = account.nonce.checked_add(1).ok_or(MempoolError::Overflow)?;
        let max = account.nonce.saturating_add(self.config.nonce_window);
        if nonce < next {
            return Err(MempoolError::NonceTooLow { got: nonce, next });
        }
        if nonce > max {
            return Err(MempoolError::NonceTooHigh { got: nonce, next, max });
        }
        let fee = tx.tx.fee;
        let cost = crate::ledger::payload::spend(&tx.tx.payload)
            .and_then(|a| a.checked_add(fee))
            .ok_or(MempoolError::Overflow)?;
        let size = tx.size();

        let queue = self.senders.get(&sender);
        let replaced = queue.and_then(|q| q.txs.get(&nonce)).map(|(h, _)| *h);
        // Reachable from the next nonce through this sender's pending txs (at most the nonce
        // window of lookups).
        let ready = (next..nonce).all(|n| queue.is_some_and(|q| q.txs.contains_key(&n)));
        if let Some(old) = replaced.and_then(|h| self.entries.get(&h)) {
            let min = old.fee.checked_mul(11).ok_or(MempoolError::Overflow)?.div_ceil(10);
            if fee < min {
                return Err(MempoolError::ReplacementUnderpriced { got: fee, min });
            }
        }
        // The balance must cover every pending tx of this sender, counting this one in place of
        // the one it replaces. Pending txs below the new account nonce are stale and not counted.
        let mut needed = cost;
        if let Some(q) = queue {
            for (n, (_, c)) in q.txs.range(next..) {
                if *n != nonce {
                    needed = needed.checked_add(*c).ok_or(MempoolError::Overflow)?;
                }
            }
            if replaced.is_none() && q.txs.range(next..).count() >= self.config.max_per_sender {
                return Err(MempoolError::SenderLimit { limit: self.config.max_per_sender });
            }
        }
        if needed > account.balance {
            return Err(MempoolError::InsufficientBalance { balance: account.balance, needed });
        }
        match replaced.and_then(|h| self.entries.get(&h)) {
            Some(old) => self.make_room(fee, ready, 0, size.saturating_sub(old.size), &sender)?,
            None => self.make_room(fee, ready, 1, size, &sender)?,
        }
        if let Some(old) = replaced {
            self.remove(&old);
        }
        let q = self.senders.entry(sender).or_default();
        q.next = next;
        // Anything below the account nonce is stale now that we know the account.
        let stale: Vec<Hash> = q.txs.range(..next).map(|(_, (h, _))| *h).collect();
        q.txs.insert(nonce, (hash, cost));
        for h in stale {
            self.remove(&h);
        }
        self.by_fee.insert((fee, hash));
        self.bytes = self.bytes.saturating_add(size);
        self.entries.insert(hash, Entry { tx: Arc::new(tx), sender, nonce, fee, size });
        self.hashes.insert(hash);
        self.regap(&sender);
        Ok(hash)
    }

    /// Recomputes which of `sender`'s txs are gapped: those after the first missing nonce
    /// counted from its next nonce (a queue holds at most the nonce window).
    fn regap(&mut self, sender: &Address) {
        let Some(q) = self.senders.get(sender) else { return };
        let mut expect = Some(q.next);
        for (n, (h, _)) in q.txs.range(q.next..) {
            let Some(e) = self.entries.get(h) else { continue };
            if expect == Some(*n) {
                self.gapped.remove(&(e.fee, *h));
                expect = n.checked_add(1);
            } else {
                expect = None;
                self.gapped.insert((e.fee, *h));
            }
        }
    }

    /// Makes room for `add_txs` more txs and `add_bytes` more bytes by evicting gapped txs,
    /// then (for a `ready` newcomer) lower-fee ready txs, never `protect`'s. Decides first and
    /// evicts only if that frees enough: a newcomer that cannot get in evicts nothing.
    fn make_room(
        &mut self,
        fee: u128,
        ready: bool,
        add_txs: usize,
        add_bytes: usize,
        protect: &Address,
    ) -> Result<(), MempoolError> {
        let need_txs = self.entries.len().saturating_add(add_txs).saturating_sub(self.config.max_txs);
        let need_bytes = self.bytes.saturating_add(add_bytes).saturating_sub(self.config.max_bytes);
        if need_txs == 0 && need_bytes == 0 {
            return Ok(());
        }
        let full = if ready {
            MempoolError::Full { fee, lowest: self.by_fee.iter().next().map_or(0, |(f, _)| *f) }
        } else {
            MempoolError::FullGapped { fee, lowest: self.gapped.iter().next().map_or(0, |(f, _)| *f) }
        };
        let mut victims: BTreeSet<Hash> = BTreeSet::new();
        let (mut freed_txs, mut freed_bytes) = (0usize, 0usize);
        let mut others = false;
        // First gapped txs: of any fee for a ready newcomer, of a lower fee for a gapped one.
        // Then, for a ready newcomer only, ready txs of a lower fee.
        let gapped = self.gapped.iter().map(|g| (g, true));
        let by_fee = self.by_fee.iter().filter(|_| ready).map(|g| (g, false));
        for ((f, h), is_gapped) in gapped.chain(by_fee) {
            if freed_txs >= need_txs && freed_bytes >= need_bytes {
                break;
            }
            let Some(e) = self.entries.get(h) else { continue };
            if victims.contains(h) || &e.sender == protect {
                continue;
            }
            others = true;
            // Each list is lowest fee first: nothing further on is cheaper.
            if *f >= fee && !(ready && is_gapped) {
                return Err(full);
            }
            // Later txs of a ready victim's sender could never execute without it: they go
            // too. A gapped victim's later txs were gapped already; they stay in line.
            let later = self.senders.get(&e.sender).map(|q| q.txs.range(e.nonce..)).into_iter().flatten();
            let take = if is_gapped { 1 } else { usize::MAX };
            for (_, (lh, _)) in later.take(take) {
                if victims.insert(*lh) {
                    freed_txs = freed_txs.saturating_add(1);
                    freed_bytes = freed_bytes.saturating_add(self.entries.get(lh).map_or(0, |x| x.size));
                }
            }
        }
        if freed_txs < need_txs || freed_bytes < need_bytes {
            return Err(if others { full } else { MempoolError::FullOfOwn });
        }
        for h in victims {
            self.remove(&h);
        }
        Ok(())
    }

    fn remove(&mut self, h: &Hash) -> Option<Entry> {
        let e = self.entries.remove(h)?;
        self.hashes.remove(h);
        self.by_fee.remove(&(e.fee, *h));
        self.gapped.remove(&(e.fee, *h));
        self.bytes = self.bytes.saturating_sub(e.size);
        if let Some(q) = self.senders.get_mut(&e.sender) {
            if q.txs.get(&e.nonce).map(|(x, _)| x) == Some(h) {
                q.txs.remove(&e.nonce);
            }
            if q.txs.is_empty() {
                self.senders.remove(&e.sender);
            }
        }
        Some(e)
    }

    /// Drops one tx (e.g. one that turned out invalid while building a block); the sender's
    /// later txs are gapped from then on.
    pub fn evict(&mut self, h: &Hash) {
        if let Some(e) = self.remove(h) {
            self.regap(&e.sender);
        }
    }

    /// Txs for the next block: highest fee first, each sender's txs in nonce order starting at
    /// its next nonce and without gaps, within the count and byte limits.
    pub fn select(&self, max_txs: usize, max_bytes: usize) -> Vec<Arc<SealedTx>> {
        // Heap of each sender's next executable tx, by (fee, then earliest hash for determinism).
        let mut heap: BinaryHeap<(u128, std::cmp::Reverse<Hash>, Address, u64)> = BinaryHeap::new();
        for (sender, q) in &self.senders {
            if let Some((h, _)) = q.txs.get(&q.next) {
                if let Some(e) = self.entries.get(h) {
                    heap.push((e.fee, std::cmp::Reverse(*h), *sender, q.next));
                }
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while let Some((_, std::cmp::Reverse(h), sender, nonce)) = heap.pop() {
            if out.len() >= max_txs {
                break;
            }
            let Some(e) = self.entries.get(&h) else { continue };
            if bytes.saturating_add(e.size) > max_bytes {
                continue; // this sender's chain ends here; smaller txs of others may still fit
            }
            bytes = bytes.saturating_add(e.size);
            out.push(e.tx.clone());
            let next = nonce.saturating_add(1);
            if let Some((nh, _)) = self.senders.get(&sender).and_then(|q| q.txs.get(&next)) {
                if let Some(ne) = self.entries.get(nh) {
                    heap.push((ne.fee, std::cmp::Reverse(*nh), sender, next));
                }
            }
        }
        out
    }

    /// A block with `included` is durable: they are no longer pending for anyone who asks
    /// ([`PendingHashes`]), though the pool drops them only in [`Mempool::on_block`]. Lets the
    /// node announce the block before it tidies the pool (tens of ms for a large block), and a
    /// reader told of the block then finds its txs in the store, not pending.
    pub fn committed<'a>(&self, included: impl IntoIterator<Item = &'a SealedTx>) {
        self.hashes.remove_all(included.into_iter().map(SealedTx::hash));
    }

    /// After a block: drops the included txs and, for their senders, every tx whose nonce the
    /// account has passed. `account` gives each sender's state after the block.
    pub fn on_block<'a>(
        &mut self,
        included: impl IntoIterator<Item = &'a SealedTx>,
        account: impl Fn(&Address) -> Account,
    ) {
        let mut touched = BTreeSet::new();
        for tx in included {
            let h = tx.hash();
            if let Some(e) = self.remove(&h) {
                touched.insert(e.sender);
            } else {
                touched.insert(tx.tx.sender_address());
            }
        }
        for sender in touched {
            let next = account(&sender).nonce.saturating_add(1);
            let stale: Vec<Hash> = match self.senders.get_mut(&sender) {
                Some(q) => {
                    q.next = next;
                    q.txs.range(..next).map(|(_, (h, _))| *h).collect()
                }
                None => continue,
            };
            for h in stale {
                self.remove(&h);
            }
            self.regap(&sender);
        }
    }

    /// How many pending txs are gapped (cannot execute until a missing nonce arrives).
    pub fn gapped(&self) -> usize {
        self.gapped.len()
    }

    /// Hashes of every pending tx from `sender`, by nonce.
    pub fn pending_of(&self, sender: &Address) -> Vec<(u64, Hash)> {
        self.senders.get(sender).map(|q| q.txs.iter().map(|(n, (h, _))| (*n, *h)).collect()).unwrap_or_default()
    }
}
