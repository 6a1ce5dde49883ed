//! What the network sees of the chain: our status and committed blocks to serve, read
//! straight from the store.

use crate::network::ChainView;
use crate::storage::Store;
use crate::wire::{self, Status};
use std::sync::Arc;

pub(super) struct StoreView(pub Arc<Store>);

impl ChainView for StoreView {
    fn status(&self) -> Status {
        let zero = crate::primitives::Hash::ZERO;
        let head = self.0.head().ok();
        let fin = self.0.finalized().ok();
        Status {
            genesis: self.0.genesis_hash().unwrap_or(zero),
            head_height: head.map_or(0, |h| h.height),
            head_hash: head.map_or(zero, |h| h.hash),
            finalized_height: fin.map_or(0, |h| h.height),
            finalized_hash: fin.map_or(zero, |h| h.hash),
        }
    }

    fn committed_blocks(&self, from: u64, count: u32, max_bytes: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for h in from.max(1)..from.max(1).saturating_add(u64::from(count)) {
            let (Ok(Some(block)), Ok(Some(commit))) = (self.0.block(h), self.0.commit(h)) else { break };
            let enc = wire::encode_committed_block(&block, &commit);
            bytes = bytes.saturating_add(enc.len());
            if bytes > max_bytes && !out.is_empty() {
                break;
            }
            out.push(enc);
        }
        out
    }

    fn blob_piece(&self, hash: &crate::primitives::Hash, offset: u64) -> Option<wire::BlobPiece> {
        let (total, data) = self.0.blob_piece(hash, offset, wire::BLOB_CHUNK).ok()??;
        Some(wire::BlobPiece { total, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob over 1 MiB is served in pieces of at most 1 MiB that reassemble to it.
    #[test]
    fn large_blobs_come_in_pieces() {
        let spec = crate::chainspec::ChainSpec::load("dev").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), &spec).unwrap());
        let data: Vec<u8> = (0..(5u32 << 19)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        let hash = store.put_blob(&data).unwrap();
        let view = StoreView(store);
        let mut got = Vec::new();
        let mut pieces = 0;
        while got.len() < data.len() {
            let p = view.blob_piece(&hash, got.len() as u64).unwrap();
            assert_eq!(p.total, data.len() as u64);
            assert!(!p.data.is_empty() && p.data.len() <= wire::BLOB_CHUNK);
            got.extend_from_slice(&p.data);
            pieces += 1;
        }
        assert_eq!((pieces, got), (3, data));
        assert!(view.blob_piece(&crate::primitives::Hash([1; 32]), 0).is_none());
    }
}
