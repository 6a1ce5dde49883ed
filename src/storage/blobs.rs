//! Content-addressed blobs (job programs, inputs, outputs) under their BLAKE3 hash. A blob is
//! checked against its hash on the way in, so what is read back is what was asked for.
//!
//! Each blob has a mark: the last height at which it was known to be needed (stored,
//! uploaded again, or named by a live job, see `node::blobs`). [`Store::sweep_blobs`] deletes
//! the blobs whose mark fell behind the retention period.

use super::{Result, Store, StoreError, CF_BLOBS, CF_BLOB_MARKS};
use crate::primitives::Hash;
use rocksdb::WriteBatch;

/// Largest blob the store keeps: the largest input or output a job may have.
pub const MAX_BLOB_BYTES: usize = 16 * 1024 * 1024;

impl Store {
    /// Stores `bytes` and marks them needed at the head; returns their hash. Storing a blob
    /// twice only marks it again.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Hash> {
        if bytes.len() > MAX_BLOB_BYTES {
            return Err(StoreError::BlobTooLarge { size: bytes.len(), max: MAX_BLOB_BYTES });
        }
        let hash = crate::vm::blob_hash(bytes);
        let height = self.head()?.height;
        let _held = self.blob_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut batch = WriteBatch::default();
        if !self.has_blob(&hash)? {
            batch.put_cf(self.cf(CF_BLOBS), hash.0, bytes);
        }
        batch.put_cf(self.cf(CF_BLOB_MARKS), hash.0, height.to_be_bytes());
        // Not synced: a blob lost with the last writes is fetched again from its providers.
        self.write_unsynced(batch)?;
        Ok(hash)
    }

    /// Marks the held blobs among `hashes` as needed at `height` (marks only move up).
    pub fn mark_blobs(&self, hashes: impl IntoIterator<Item = Hash>, height: u64) -> Result<()> {
        let _held = self.blob_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut batch = WriteBatch::default();
        for hash in hashes {
            if self.has_blob(&hash)? && self.blob_mark(&hash)?.is_none_or(|m| m < height) {
                batch.put_cf(self.cf(CF_BLOB_MARKS), hash.0, height.to_be_bytes());
            }
        }
        self.write_unsynced(batch)
    }

    /// The last height at which the blob `hash` was known to be needed.
    pub fn blob_mark(&self, hash: &Hash) -> Result<Option<u64>> {
        let Some(b) = self.db.get_pinned_cf(self.cf(CF_BLOB_MARKS), hash.0)? else { return Ok(None) };
        let bytes = <[u8; 8]>::try_from(&b[..])
            .map_err(|_| StoreError::Corrupt { cf: CF_BLOB_MARKS, reason: format!("mark of blob {hash}") })?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// Marks at `height` the blobs that have no mark (stored by a build before marks), so
    /// they get a whole retention period from there. Reads every blob once: for a start.
    pub fn mark_unmarked_blobs(&self, height: u64) -> Result<usize> {
        let mut unmarked = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_BLOBS), rocksdb::IteratorMode::Start) {
            let (k, _) = item?;
            if let Ok(h) = <[u8; 32]>::try_from(k.as_ref()) {
                if self.blob_mark(&Hash(h))?.is_none() {
                    unmarked.push(Hash(h));
                }
            }
        }
        let n = unmarked.len();
        self.mark_blobs(unmarked, height)?;
        Ok(n)
    }

    /// Deletes the blobs marked below `before` and returns their hashes.
    pub fn sweep_blobs(&self, before: u64) -> Result<Vec<Hash>> {
        let mut stale = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_BLOB_MARKS), rocksdb::IteratorMode::Start) {
            let (k, v) = item?;
            let (Ok(h), Ok(m)) = (<[u8; 32]>::try_from(k.as_ref()), <[u8; 8]>::try_from(v.as_ref())) else {
                return Err(StoreError::Corrupt { cf: CF_BLOB_MARKS, reason: "a mark of the wrong size".into() });
            };
            if u64::from_be_bytes(m) < before {
                stale.push(Hash(h));
            }
        }
        let _held = self.blob_lock.lock().unwrap_or_else(|e| e.into_inner());
        // Looked at again under the lock: a blob stored or marked since the scan stays.
        let mut swept = Vec::with_capacity(stale.len());
        let mut batch = WriteBatch::default();
        for h in stale {
            if self.blob_mark(&h)?.is_some_and(|m| m < before) {
                batch.delete_cf(self.cf(CF_BLOBS), h.0);
                batch.delete_cf(self.cf(CF_BLOB_MARKS), h.0);
                swept.push(h);
            }
        }
        self.write_unsynced(batch)?;
        Ok(swept)
    }

    pub fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        let Some(bytes) = self.db.get_cf(self.cf(CF_BLOBS), hash.0)? else { return Ok(None) };
        if crate::vm::blob_hash(&bytes) != *hash {
            return Err(StoreError::Corrupt { cf: CF_BLOBS, reason: format!("blob {hash} does not match its hash") });
        }
        Ok(Some(bytes))
    }

    /// `(total length, up to `max` bytes from `offset`)` of a stored blob, read without
    /// copying or re-hashing the rest (a peer fetching it checks the whole blob's hash).
    pub fn blob_piece(&self, hash: &Hash, offset: u64, max: usize) -> Result<Option<(u64, Vec<u8>)>> {
        let Some(bytes) = self.db.get_pinned_cf(self.cf(CF_BLOBS), hash.0)? else { return Ok(None) };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(bytes.len());
        let end = start.saturating_add(max).min(bytes.len());
        Ok(Some((bytes.len() as u64, bytes[start..end].to_vec())))
    }

    pub fn has_blob(&self, hash: &Hash) -> Result<bool> {
        Ok(self.db.get_pinned_cf(self.cf(CF_BLOBS), hash.0)?.is_some())
    }
}

impl Store {
    /// The hashes of the blobs held, at most `limit` (to announce them after a restart).
    pub fn blob_hashes(&self, limit: usize) -> Result<Vec<Hash>> {
        let mut out = Vec::new();
        for item in self.db.iterator_cf(self.cf(CF_BLOBS), rocksdb::IteratorMode::Start).take(limit) {
            let (k, _) = item?;
            if let Ok(h) = <[u8; 32]>::try_from(k.as_ref()) {
                out.push(Hash(h));
            }
        }
        Ok(out)
    }
}
