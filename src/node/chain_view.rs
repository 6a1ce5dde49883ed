//! What the network sees of the chain: our status, committed blocks to serve, read straight
//! from the store, and the txs of recent blocks (proposals and blocks being filled by peers).

use crate::network::ChainView;
use crate::primitives::{Block, CompactBlock, Hash, SealedTx};
use crate::storage::Store;
use crate::wire::{self, BlockTxsRequest, Status};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Blocks kept for peers filling compact blocks: a few heights' proposals and commits.
const RECENT_BLOCKS: usize = 8;

/// The txs of the last few blocks this node built, executed or committed, by block hash:
/// a peer filling one of them (it forwarded us the block, or we proposed it) asks us.
#[derive(Default)]
pub(super) struct RecentBlocks(Mutex<VecDeque<(Hash, Arc<Vec<SealedTx>>)>>);

impl RecentBlocks {
    pub(super) fn keep(&self, block: &Block) {
        let hash = block.hash();
        let mut recent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if recent.iter().any(|(h, _)| *h == hash) {
            return;
        }
        if recent.len() >= RECENT_BLOCKS {
            recent.pop_front();
        }
        recent.push_back((hash, Arc::new(block.txs.clone())));
    }

    fn get(&self, hash: &Hash) -> Option<Arc<Vec<SealedTx>>> {
        let recent = self.0.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().find(|(h, _)| h == hash).map(|(_, txs)| txs.clone())
    }

    /// The txs of block `hash`, if it is one of the recent ones.
    pub(super) fn txs(&self, hash: &Hash) -> Option<Vec<SealedTx>> {
        self.get(hash).map(|txs| txs.as_ref().clone())
    }
}

pub(super) struct StoreView {
    pub store: Arc<Store>,
    pub recent: Arc<RecentBlocks>,
    /// Where a failed read of a block is reported ([`super::handle::report_read_error`]).
    pub metrics: Arc<super::Metrics>,
    pub health: Arc<super::health::HealthState>,
}

impl ChainView for StoreView {
    fn status(&self) -> Status {
        let zero = crate::primitives::Hash::ZERO;
        let head = self.store.head().ok();
        let fin = self.store.finalized().ok();
        Status {
            genesis: self.store.genesis_hash().unwrap_or(zero),
            head_height: head.map_or(0, |h| h.height),
            head_hash: head.map_or(zero, |h| h.hash),
            finalized_height: fin.map_or(0, |h| h.height),
            finalized_hash: fin.map_or(zero, |h| h.hash),
        }
    }

    fn committed_blocks(&self, from: u64, count: u32, max_bytes: usize) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for h in from.max(1)..from.max(1).saturating_add(u64::from(count)) {
            let (block, commit) = match self.store.block(h).and_then(|b| Ok((b, self.store.commit(h)?))) {
                Ok((Some(block), Some(commit))) => (block, commit),
                Ok(_) => break,
                Err(e) => {
                    super::handle::report_read_error(&self.metrics, &self.health, "sync", &e);
                    break;
                }
            };
            let enc = wire::encode_committed_block(&block, &commit);
            bytes = bytes.saturating_add(enc.len());
            if bytes > max_bytes {
                // Too large for one message alone: compact, its txs asked for in pieces.
                let partial =
                    out.is_empty().then(|| wire::encode_compact_committed(&CompactBlock::of(&block), &commit));
                return (out, partial);
            }
            out.push(enc);
        }
        (out, None)
    }

    /// The txs asked for, in the order asked, up to the first this node does not hold or
    /// `max_bytes`.
    fn block_txs(&self, request: &BlockTxsRequest, max_bytes: usize) -> Vec<u8> {
        let txs = match self.recent.get(&request.block) {
            Some(txs) => txs,
            None => match self.store.block(request.height) {
                Ok(Some(b)) if b.hash() == request.block => Arc::new(b.txs),
                _ => return Vec::new(),
            },
        };
        let picked: Vec<&SealedTx> = if request.hashes.is_empty() {
            txs.get(request.from_index as usize..).unwrap_or_default().iter().collect()
        } else {
            let at: HashMap<Hash, &SealedTx> = txs.iter().map(|t| (t.hash(), t)).collect();
            request.hashes.iter().map_while(|h| at.get(h).copied()).collect()
        };
        wire::encode_txs_response(picked.into_iter().map(SealedTx::signed), max_bytes)
    }

    fn blob_piece(&self, hash: &crate::primitives::Hash, offset: u64) -> Option<wire::BlobPiece> {
        let (total, data) = self.store.blob_piece(hash, offset, wire::BLOB_CHUNK).ok()??;
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
        let health = Arc::new(crate::node::health::HealthState::new(false, &spec.consensus, 0));
        let view = StoreView { store, recent: Default::default(), metrics: Default::default(), health };
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
