//! Compact blocks. A proposal and a block on the `blocks` topic name their txs by hash; the
//! txs themselves travel once, on the `txs` topic. A node fills a compact block from the
//! blocks at hand and its mempool, and fetches what is missing from the peer that sent it:
//! that peer holds the txs, since a node forwards a compact block only once it has filled it
//! (or built it). A peer that answers with txs it was not asked for is banned; one that
//! cannot answer costs nothing but this block, which the round's timeout then passes over.

use super::Driver;
use crate::consensus::SignedProposal;
use crate::network::{GossipId, NetworkHandle, PeerRef, Verdict};
use crate::primitives::{Block, CommitCertificate, CompactBlock, FillError, Hash, SealedTx};
use crate::wire::BlockTxsRequest;
use std::collections::HashMap;

/// Blocks being filled at once; more (a flood of proposals) are ignored until some finish.
const MAX_FILLING: usize = 16;

/// What a compact block is for, once filled.
pub(super) enum Purpose {
    Proposal(SignedProposal),
    Committed(CommitCertificate),
}

/// A compact block waiting for txs fetched from its sender.
pub(super) struct Filling {
    compact: CompactBlock,
    /// The block's txs found here, in order; `None` where one is being fetched.
    found: Vec<Option<SealedTx>>,
    /// Every tx is being fetched by position: those found here gave another tx root (the
    /// same txs, signed again), so the sender's own copies are wanted.
    whole: bool,
    purpose: Purpose,
    id: GossipId,
}

/// Txs fetched for the block `block`.
pub(super) struct Fetched {
    block: Hash,
    result: Result<Vec<SealedTx>, String>,
}

impl Driver {
    /// Fills `compact` and goes on with `purpose`, now if this node holds every tx, or once
    /// the missing ones are fetched from the sender. The gossip verdict waits until then.
    pub(super) fn fill(&mut self, compact: CompactBlock, purpose: Purpose, id: GossipId) {
        let hash = compact.hash();
        if self.filling.contains_key(&hash) {
            // The same block from another peer while the first sender is asked.
            return self.report(id, Verdict::Ignore);
        }
        // A block built or filled here before (a proposal now committed, a round's repeat),
        // else the mempool.
        let known = self.candidates.get(&hash).map(|c| c.block.txs.clone()).or_else(|| self.recent.txs(&hash));
        let found: Vec<Option<SealedTx>> = match known {
            Some(txs) => txs.into_iter().map(Some).collect(),
            None => compact.tx_hashes.iter().map(|h| self.mempool.get(h).map(|t| t.as_ref().clone())).collect(),
        };
        if found.iter().all(Option::is_some) {
            match compact.clone().fill(found.into_iter().flatten().collect()) {
                Ok(block) => return self.filled(block, purpose, id),
                // Found by hash, so only the signatures can differ: fetch the sender's txs.
                Err(e) => {
                    tracing::debug!(block = %hash, error = %e, "the mempool's txs do not fill the block; fetching all");
                    let none = vec![None; compact.tx_hashes.len()];
                    return self.fetch(Filling { compact, found: none, whole: true, purpose, id });
                }
            }
        }
        self.fetch(Filling { compact, found, whole: false, purpose, id })
    }

    fn fetch(&mut self, f: Filling) {
        let Some(net) = self.net.clone() else { return self.report(f.id, Verdict::Ignore) };
        if self.filling.len() >= MAX_FILLING {
            return self.report(f.id, Verdict::Ignore);
        }
        let block = f.compact.hash();
        let want: Vec<Hash> =
            f.found.iter().zip(&f.compact.tx_hashes).filter(|(t, _)| t.is_none()).map(|(_, h)| *h).collect();
        self.metrics.on_txs_fetched(want.len());
        let (height, whole, peer) = (f.compact.header.height, f.whole, f.id.source());
        let results = self.fill_results.clone();
        tokio::spawn(async move {
            let result = fetch_txs(&net, peer, block, height, &want, whole).await;
            let _ = results.send(Fetched { block, result }).await;
        });
        self.filling.insert(block, f);
    }

    pub(super) fn on_fetched(&mut self, fetched: Fetched) {
        let Some(mut f) = self.filling.remove(&fetched.block) else { return };
        let txs = match fetched.result {
            Ok(txs) => txs,
            Err(e) => {
                tracing::debug!(block = %fetched.block, peer = %f.id.source(), error = %e, "cannot fill a compact block");
                return self.report(f.id, Verdict::Ignore);
            }
        };
        // The fetched txs are exactly the missing ones, in order (checked by the fetch).
        let mut txs = txs.into_iter();
        for slot in f.found.iter_mut().filter(|t| t.is_none()) {
            *slot = txs.next();
        }
        match f.compact.clone().fill(f.found.into_iter().flatten().collect()) {
            Ok(block) => self.filled(block, f.purpose, f.id),
            Err(FillError::Root { .. }) if !f.whole => {
                let none = vec![None; f.compact.tx_hashes.len()];
                self.fetch(Filling { found: none, whole: true, ..f });
            }
            // The sender's own txs do not make the block it forwarded (or proposed).
            Err(e) => {
                tracing::warn!(block = %fetched.block, peer = %f.id.source(), error = %e, "compact block does not fill");
                if let Purpose::Proposal(proposal) = f.purpose {
                    self.proposal_invalid(proposal);
                }
                self.report(f.id, Verdict::Reject);
            }
        }
    }

    fn filled(&mut self, block: Block, purpose: Purpose, id: GossipId) {
        self.recent.keep(&block);
        match purpose {
            Purpose::Proposal(proposal) => self.proposal_filled(proposal, block, id),
            Purpose::Committed(commit) => self.committed_filled(block, commit, id),
        }
    }
}

/// The txs `want` of block `block` from `peer`, in order, in as many requests as their size
/// takes: by hash, or with `whole`, by position (`want` is then the block's every hash).
pub(super) async fn fetch_txs(
    net: &NetworkHandle,
    peer: PeerRef,
    block: Hash,
    height: u64,
    want: &[Hash],
    whole: bool,
) -> Result<Vec<SealedTx>, String> {
    let mut got: Vec<SealedTx> = Vec::with_capacity(want.len());
    while got.len() < want.len() {
        let rest = &want[got.len()..];
        let (hashes, from_index) = match whole {
            true => (Vec::new(), u32::try_from(got.len()).map_err(|e| e.to_string())?),
            false => (rest.to_vec(), 0),
        };
        let request = BlockTxsRequest { block, height, hashes, from_index };
        let txs = net.block_txs(peer, request).await.map_err(|e| e.to_string())?;
        if txs.is_empty() {
            return Err(format!("the peer holds none of the {} txs still missing", rest.len()));
        }
        if txs.len() > rest.len() || txs.iter().zip(rest).any(|(t, h)| t.hash() != *h) {
            let reason = "answered a block-txs request with txs it was not asked for".to_string();
            net.penalise(peer, reason.clone());
            return Err(reason);
        }
        got.extend(txs);
    }
    Ok(got)
}

/// Blocks being filled, by hash.
pub(super) type FillingMap = HashMap<Hash, Filling>;
