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
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Blocks being filled at once; more (a flood of proposals) are ignored until some finish.
const MAX_FILLING: usize = 16;

/// How long a compact block waits for missing txs to arrive by gossip before they are
/// fetched: a proposal (served first, as consensus messages are) often overtakes the `txs`
/// messages sent just before it.
const GOSSIP_GRACE: Duration = Duration::from_millis(150);

/// What a compact block is for, once filled.
pub(super) enum Purpose {
    Proposal(SignedProposal),
    Committed(CommitCertificate),
}

/// A compact block waiting for txs: from gossip, or fetched from its sender.
pub(super) struct Filling {
    compact: CompactBlock,
    /// The block's txs found here, in order; `None` where one is still missing.
    found: Vec<Option<SealedTx>>,
    /// Every tx is being fetched by position: those found here gave another tx root (the
    /// same txs, signed again), so the sender's own copies are wanted.
    whole: bool,
    purpose: Purpose,
    id: GossipId,
    /// The hashes still missing, read by the fetch when its grace is over; `None` once the
    /// block is whole (nothing is fetched then).
    missing: Arc<Mutex<Option<Vec<Hash>>>>,
}

impl Filling {
    fn new(compact: CompactBlock, found: Vec<Option<SealedTx>>, whole: bool, purpose: Purpose, id: GossipId) -> Self {
        Filling { compact, found, whole, purpose, id, missing: Arc::default() }
    }

    fn still_missing(&self) -> Vec<Hash> {
        self.found.iter().zip(&self.compact.tx_hashes).filter(|(t, _)| t.is_none()).map(|(_, h)| *h).collect()
    }
}

/// Txs fetched for the block `block`.
pub(super) struct Fetched {
    block: Hash,
    result: Result<Vec<SealedTx>, String>,
}

impl Driver {
    /// Fills `compact` and goes on with `purpose`, now if this node holds every tx, or once
    /// the missing ones arrive by gossip or are fetched from the sender. The gossip verdict
    /// waits until then.
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
        self.complete_or_fetch(Filling::new(compact, found, false, purpose, id));
    }

    /// Goes on with `f` if it is whole; else has its missing txs fetched.
    fn complete_or_fetch(&mut self, f: Filling) {
        if f.found.iter().any(Option::is_none) {
            return self.fetch(f);
        }
        *f.missing.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let Filling { compact, found, whole, purpose, id, .. } = f;
        let hash = compact.hash();
        match compact.clone().fill(found.into_iter().flatten().collect()) {
            Ok(block) => self.filled(block, purpose, id),
            // Found by hash, so only the signatures can differ: fetch the sender's txs.
            Err(FillError::Root { .. }) if !whole => {
                tracing::debug!(block = %hash, "the txs here give another tx root; fetching the sender's");
                let none = vec![None; compact.tx_hashes.len()];
                self.fetch(Filling::new(compact, none, true, purpose, id));
            }
            // The sender's own txs do not make the block it forwarded (or proposed).
            Err(e) => {
                tracing::warn!(block = %hash, peer = %id.source(), error = %e, "compact block does not fill");
                if let Purpose::Proposal(proposal) = purpose {
                    self.proposal_invalid(proposal);
                }
                self.report(id, Verdict::Reject);
            }
        }
    }

    fn fetch(&mut self, f: Filling) {
        let Some(net) = self.net.clone() else { return self.report(f.id, Verdict::Ignore) };
        if self.filling.len() >= MAX_FILLING {
            return self.report(f.id, Verdict::Ignore);
        }
        let block = f.compact.hash();
        *f.missing.lock().unwrap_or_else(|e| e.into_inner()) = Some(f.still_missing());
        let (height, whole, peer) = (f.compact.header.height, f.whole, f.id.source());
        let (missing, results, metrics) = (f.missing.clone(), self.fill_results.clone(), self.metrics.clone());
        tokio::spawn(async move {
            if !whole {
                tokio::time::sleep(GOSSIP_GRACE).await;
            }
            // Whole meanwhile: nothing to fetch, and nobody waits.
            let Some(want) = missing.lock().unwrap_or_else(|e| e.into_inner()).clone() else { return };
            metrics.on_txs_fetched(want.len());
            let result = fetch_txs(&net, peer, block, height, &want, whole).await;
            let _ = results.send(Fetched { block, result }).await;
        });
        self.filling.insert(block, f);
    }

    /// After gossiped txs were admitted: blocks they complete go on without a fetch, and the
    /// others' fetches ask only for what is still missing.
    pub(super) fn recheck_filling(&mut self) {
        let waiting: Vec<Hash> = self.filling.iter().filter(|(_, f)| !f.whole).map(|(h, _)| *h).collect();
        for hash in waiting {
            let Some(mut f) = self.filling.remove(&hash) else { continue };
            for (slot, h) in f.found.iter_mut().zip(&f.compact.tx_hashes) {
                if slot.is_none() {
                    *slot = self.mempool.get(h).map(|t| t.as_ref().clone());
                }
            }
            if f.found.iter().all(Option::is_some) {
                self.complete_or_fetch(f);
            } else {
                *f.missing.lock().unwrap_or_else(|e| e.into_inner()) = Some(f.still_missing());
                self.filling.insert(hash, f);
            }
        }
    }

    pub(super) fn on_fetched(&mut self, fetched: Fetched) {
        let Some(mut f) = self.filling.remove(&fetched.block) else { return };
        let txs = match fetched.result {
            Ok(txs) => txs,
            Err(e) => {
                *f.missing.lock().unwrap_or_else(|e| e.into_inner()) = None;
                tracing::debug!(block = %fetched.block, peer = %f.id.source(), error = %e, "cannot fill a compact block");
                return self.report(f.id, Verdict::Ignore);
            }
        };
        // Checked by the fetch: the hashes asked for, in order (by position: the block's).
        if f.whole {
            f.found = txs.into_iter().map(Some).collect();
        } else {
            let mut by_hash: HashMap<Hash, SealedTx> = txs.into_iter().map(|t| (t.hash(), t)).collect();
            for (slot, h) in f.found.iter_mut().zip(&f.compact.tx_hashes) {
                if slot.is_none() {
                    *slot = by_hash.remove(h);
                }
            }
        }
        if f.found.iter().any(Option::is_none) {
            // A block naming one tx twice: no fetch makes it whole.
            tracing::debug!(block = %fetched.block, "compact block names a tx twice");
            return self.report(f.id, Verdict::Ignore);
        }
        self.complete_or_fetch(f);
    }

    /// Keeps `block`'s txs for peers filling it (a copy of every tx): a node without a
    /// network has nobody to serve, and a single-node run builds blocks of 30,000 txs.
    pub(super) fn keep_recent(&self, block: &Block) {
        if self.net.is_some() {
            self.recent.keep(block);
        }
    }

    fn filled(&mut self, block: Block, purpose: Purpose, id: GossipId) {
        self.keep_recent(&block);
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
