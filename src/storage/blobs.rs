//! Content-addressed blobs (job programs, inputs, outputs) under their BLAKE3 hash. A blob is
//! checked against its hash on the way in, so what is read back is what was asked for.

use super::{Result, Store, StoreError, CF_BLOBS};
use crate::primitives::Hash;

/// Largest blob the store keeps: the largest input or output a job may have.
pub const MAX_BLOB_BYTES: usize = 16 * 1024 * 1024;

impl Store {
    /// Stores `bytes`; returns their hash. Storing a blob twice is a no-op.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Hash> {
        if bytes.len() > MAX_BLOB_BYTES {
            return Err(StoreError::BlobTooLarge { size: bytes.len(), max: MAX_BLOB_BYTES });
        }
        let hash = crate::vm::blob_hash(bytes);
        if !self.has_blob(&hash)? {
            self.db.put_cf(self.cf(CF_BLOBS), hash.0, bytes)?;
        }
        Ok(hash)
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
