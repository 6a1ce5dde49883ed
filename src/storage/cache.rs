//! A bounded cache of the latest state's records, in front of RocksDB.
//!
//! Every tx reads its accounts at admission and again when a block runs it; from RocksDB each
//! read is a memtable skiplist search and often a table lookup. The cache holds the records
//! blocks wrote (write-through, after the block's batch is synced) and the records reads
//! fetched, as the raw bytes the column family holds, so a hit returns exactly what RocksDB
//! would.
//!
//! A read that misses fetches from RocksDB without the lock and inserts only if no block was
//! written meanwhile (the epoch did not move): a value read just before a commit can never
//! overwrite the value the commit put in the cache.
//!
//! Bounded by two generations: inserts go to the young one; when it is full it becomes the
//! old one and the previous old one is dropped. Recent writes and reads stay; at most
//! `2 * GENERATION` records are held.

use std::sync::{Mutex, MutexGuard};

/// Records per generation: about 30 MB for two full generations of accounts.
const GENERATION: usize = 1 << 17;

type Map = crate::primitives::FastMap<Vec<u8>, Option<Vec<u8>>>;

#[derive(Default)]
pub(super) struct StateCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Moves on every block written.
    epoch: u64,
    young: Map,
    old: Map,
}

/// What the cache knows of a key.
pub(super) enum Lookup {
    /// The record (`None`: absent), as RocksDB holds it.
    Hit(Option<Vec<u8>>),
    /// Not cached; pass the epoch to [`StateCache::fill`] with what RocksDB returned.
    Miss(u64),
}

impl Inner {
    fn insert(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if self.young.len() >= GENERATION && !self.young.contains_key(&key) {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
    }
}

impl StateCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The maps stay consistent whatever panicked while holding the lock: each operation
        // is a single insert or lookup.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &[u8]) -> Lookup {
        let inner = self.lock();
        match inner.young.get(key).or_else(|| inner.old.get(key)) {
            Some(v) => Lookup::Hit(v.clone()),
            None => Lookup::Miss(inner.epoch),
        }
    }

    /// Caches what RocksDB returned for `key`, unless a block was written since `epoch`.
    pub fn fill(&self, epoch: u64, key: Vec<u8>, value: Option<Vec<u8>>) {
        let mut inner = self.lock();
        if inner.epoch == epoch {
            inner.insert(key, value);
        }
    }

    /// A block's state writes, once they are durable in RocksDB.
    pub fn written(&self, writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>) {
        let mut inner = self.lock();
        inner.epoch = inner.epoch.wrapping_add(1);
        for (k, v) in writes {
            inner.insert(k, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(c: &StateCache, k: &[u8]) -> Option<Option<Vec<u8>>> {
        match c.get(k) {
            Lookup::Hit(v) => Some(v),
            Lookup::Miss(_) => None,
        }
    }

    #[test]
    fn a_read_from_before_a_write_is_not_cached() {
        let c = StateCache::default();
        let Lookup::Miss(epoch) = c.get(b"a") else { panic!("empty cache hit") };
        // A block writes `a` while the read was at RocksDB with the old value.
        c.written([(b"a".to_vec(), Some(b"new".to_vec()))]);
        c.fill(epoch, b"a".to_vec(), Some(b"old".to_vec()));
        assert_eq!(hit(&c, b"a"), Some(Some(b"new".to_vec())));
        // With no write in between, a read is cached, absent records included.
        let Lookup::Miss(epoch) = c.get(b"b") else { panic!("b was never cached") };
        c.fill(epoch, b"b".to_vec(), None);
        assert_eq!(hit(&c, b"b"), Some(None));
        // A delete is cached as absent.
        c.written([(b"a".to_vec(), None)]);
        assert_eq!(hit(&c, b"a"), Some(None));
    }

    #[test]
    fn it_holds_at_most_two_generations() {
        let c = StateCache::default();
        let n = GENERATION.saturating_mul(3);
        c.written((0..n).map(|i| (i.to_be_bytes().to_vec(), Some(vec![1]))));
        let inner = c.lock();
        assert!(inner.young.len().saturating_add(inner.old.len()) <= GENERATION.saturating_mul(2));
        drop(inner);
        // The newest records are the ones kept.
        assert_eq!(hit(&c, &(n.saturating_sub(1)).to_be_bytes()), Some(Some(vec![1])));
        assert_eq!(hit(&c, &0usize.to_be_bytes()), None);
    }
}
