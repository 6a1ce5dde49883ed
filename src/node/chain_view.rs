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
}
