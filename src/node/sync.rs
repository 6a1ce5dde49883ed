//! Following the chain: gossip of txs and blocks, and range sync from peers when behind.
//!
//! A node learns peers' heads from `status` (on connect) and from gossiped blocks. When a
//! peer is ahead, it asks that peer for up to [`BATCH`] committed blocks at a time, imports
//! them in order (each fully checked), and repeats until it reaches the target. Responses
//! are at most one message (1 MiB by default): a block too large for one comes compact, and
//! its txs follow in pieces. Gossiped blocks beyond the head are left to sync.

use super::Driver;
use crate::consensus::CommitError;
use crate::ledger::check_stateless;
use crate::network::{GossipId, NetworkError, NetworkEvent, PeerRef, Verdict};
use crate::primitives::{Block, CommitCertificate, CompactBlock, SealedTx};
use crate::wire::SyncRequest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// Blocks asked for per sync request.
pub const BATCH: u32 = 128;

pub(super) struct SyncResult {
    peer: PeerRef,
    from: u64,
    result: Result<Vec<(Block, CommitCertificate)>, NetworkError>,
}

#[derive(Default)]
pub(super) struct SyncState {
    pub(super) peer_heads: HashMap<PeerRef, u64>,
    /// Highest height any peer claims; shared with RPC (system_health).
    target: Arc<AtomicU64>,
    in_flight: bool,
    started: Option<(Instant, u64)>,
    last_log: Option<Instant>,
}

impl SyncState {
    pub(super) fn target_handle(&self) -> Arc<AtomicU64> {
        self.target.clone()
    }

    pub(super) fn is_syncing(&self, height: u64) -> bool {
        self.target.load(Relaxed) > height
    }

    fn raise_target(&mut self, h: u64) {
        self.target.fetch_max(h, Relaxed);
    }
}

/// How long a peer that sent a tx with a bad signature has its tx messages rejected
/// unchecked (gossip scoring bans it at its third invalid message).
pub(super) const BAD_SIGNER_MEMORY: std::time::Duration = std::time::Duration::from_secs(60);
/// Peers remembered so at most.
const MAX_BAD_SIGNERS: usize = 1024;

impl Driver {
    pub(super) fn on_network(&mut self, ev: NetworkEvent) {
        match ev {
            NetworkEvent::Txs { txs, id } => self.on_gossip_txs(txs, id),
            NetworkEvent::Block { block, commit, id } => self.on_gossip_block(*block, commit, id),
            NetworkEvent::Consensus { msg, id } => self.on_consensus(msg, id),
            NetworkEvent::Receipt { msg, id } => self.on_receipt_gossip(msg, id),
            NetworkEvent::PeerStatus { peer, status } => {
                self.sync.peer_heads.insert(peer, status.finalized_height);
                self.sync.raise_target(status.finalized_height);
                self.maybe_sync();
            }
            NetworkEvent::PeerDisconnected { peer } => {
                self.sync.peer_heads.remove(&peer);
            }
        }
    }

    pub(super) fn report(&self, id: GossipId, verdict: Verdict) {
        if let Some(net) = &self.net {
            net.report(id, verdict);
        }
    }

    /// Stateless checks now; signatures with the rest of the burst ([`Driver::flush_txs`]).
    /// A batch holding a tx that can never be valid is rejected whole: its sender sent it.
    /// Replays cost no verification: a tx already pending with the same signature, or whose
    /// nonce its sender's committed nonce has reached (an included tx), is left out.
    fn on_gossip_txs(&mut self, txs: Vec<SealedTx>, id: GossipId) {
        // A peer that just sent bad signatures costs no more verification: rejected
        // unchecked, each message is one more strike towards its ban.
        if self.bad_signers.get(&id.source()).is_some_and(|t| t.elapsed() < BAD_SIGNER_MEMORY) {
            return self.report(id, Verdict::Reject);
        }
        let mut fresh = Vec::with_capacity(txs.len());
        for tx in txs {
            match check_stateless(&self.spec, &tx) {
                Ok(()) => {
                    let known = self.mempool.get(&tx.hash()).is_some_and(|m| m.signature == tx.signature);
                    if !known && super::handle::check_replay(&self.store, &tx).is_ok() {
                        fresh.push(tx);
                    }
                }
                Err(crate::ledger::TxInvalid::State(_)) => {}
                Err(_) => return self.report(id, Verdict::Reject),
            }
        }
        if fresh.is_empty() {
            return self.report(id, Verdict::Ignore);
        }
        self.txs_in.push((fresh, id));
    }

    /// Verifies the gossiped txs gathered since the last call as one batch and admits the
    /// good ones. A message is forwarded if any of its txs got in, rejected if any signature
    /// is bad, ignored otherwise (valid but not for us now: nonce, balance, full).
    pub(super) fn flush_txs(&mut self) {
        if self.txs_in.is_empty() {
            return;
        }
        let batches = std::mem::take(&mut self.txs_in);
        let items: Vec<_> = batches.iter().flat_map(|(txs, _)| txs.iter().flat_map(SealedTx::signatures)).collect();
        self.metrics.on_gossip_signatures(items.len());
        let mut checks = super::builder::heavy(|| self.keys.verify_each(&items)).into_iter();
        for (txs, id) in batches {
            let signatures: usize = txs.iter().map(|t| t.signatures().count()).sum();
            let ok: Vec<bool> = checks.by_ref().take(signatures).map(|c| c.is_ok()).collect();
            if ok.iter().any(|good| !good) {
                if self.bad_signers.len() >= MAX_BAD_SIGNERS {
                    self.bad_signers.retain(|_, t| t.elapsed() < BAD_SIGNER_MEMORY);
                }
                if self.bad_signers.len() < MAX_BAD_SIGNERS {
                    self.bad_signers.insert(id.source(), std::time::Instant::now());
                }
                self.report(id, Verdict::Reject);
                continue;
            }
            let txs = txs.into_iter().map(super::handle::Checked::payload_unchecked).collect();
            let admitted = self.admit(txs).iter().filter(|r| r.is_ok()).count();
            self.report(id, if admitted > 0 { Verdict::Accept } else { Verdict::Ignore });
        }
        self.metrics.set_mempool(self.mempool.len(), self.mempool.bytes());
    }

    fn on_gossip_block(&mut self, block: CompactBlock, commit: CommitCertificate, id: GossipId) {
        let head = match self.store.head() {
            Ok(h) => h.height,
            Err(e) => {
                tracing::error!(error = %e, "cannot read head");
                return self.report(id, Verdict::Ignore);
            }
        };
        let height = block.header.height;
        if height <= head {
            return self.report(id, Verdict::Ignore);
        }
        let cert = crate::consensus::verify_commit(
            &self.spec.chain_id,
            self.engine.validators(),
            &commit,
            height,
            block.hash(),
        );
        if let Err(e) = cert {
            // Beyond the next height the set may have changed in blocks this node has not
            // seen (an epoch boundary, a jailing): signers it does not know, or too little of
            // its power, say nothing against the sender. Sync checks those blocks in order.
            let set_may_differ = height > head.saturating_add(1)
                && matches!(e, CommitError::UnknownSigner(_) | CommitError::NoQuorum { .. });
            tracing::debug!(peer = %id.source(), height, error = %e, set_may_differ, "gossiped block with a certificate this node cannot accept");
            return self.report(id, if set_may_differ { Verdict::Ignore } else { Verdict::Reject });
        }
        let source = id.source();
        self.sync.peer_heads.insert(source, height);
        self.sync.raise_target(height);
        if height == head.saturating_add(1) {
            // Forwarded once filled and imported: whoever gets it from us can fetch its txs.
            self.fill(block, super::fill::Purpose::Committed(commit), id);
        } else {
            // A gap: sync fills it with whole blocks. Not forwarded, since this node could
            // not serve the txs of a block it does not hold.
            self.report(id, Verdict::Ignore);
            self.maybe_sync();
        }
    }

    /// A gossiped finalized block, whole again: imported if it still extends the head.
    pub(super) fn committed_filled(&mut self, block: Block, commit: CommitCertificate, id: GossipId) {
        let height = block.header.height;
        if self.store.head().map_or(true, |h| h.height.saturating_add(1) != height) {
            return self.report(id, Verdict::Ignore);
        }
        match self.import(block, commit) {
            Ok(()) => self.report(id, Verdict::Accept),
            Err(e) if e.is_invalid() => {
                tracing::warn!(peer = %id.source(), height, error = %e, "rejecting invalid block");
                self.report(id, Verdict::Reject);
            }
            Err(e) => {
                tracing::error!(height, error = %e, "block import failed");
                self.report(id, Verdict::Ignore);
            }
        }
    }

    /// Asks the most advanced peer for the next range if we are behind and not already asking.
    pub(super) fn maybe_sync(&mut self) {
        let Some(net) = self.net.clone() else { return };
        if self.sync.in_flight {
            return;
        }
        let Ok(head) = self.store.head() else { return };
        let Some((&peer, &peer_head)) = self.sync.peer_heads.iter().max_by_key(|(_, h)| **h) else { return };
        if peer_head <= head.height {
            if self.sync.started.take().is_some() {
                tracing::info!(height = head.height, "sync complete");
            }
            return;
        }
        let from = head.height.saturating_add(1);
        let count = u32::try_from(peer_head.saturating_sub(head.height)).unwrap_or(u32::MAX).min(BATCH);
        self.sync.in_flight = true;
        self.sync.started.get_or_insert((Instant::now(), head.height));
        let results = self.sync_results.clone();
        tokio::spawn(async move {
            let result = fetch_range(&net, peer, SyncRequest { from, count }).await;
            let _ = results.send(SyncResult { peer, from, result }).await;
        });
    }

    pub(super) fn on_sync_result(&mut self, r: SyncResult) {
        self.sync.in_flight = false;
        match r.result {
            Err(e) => {
                tracing::debug!(peer = %r.peer, from = r.from, error = %e, "sync request failed");
                // Try someone else next time.
                self.sync.peer_heads.remove(&r.peer);
            }
            Ok(blocks) if blocks.is_empty() => {
                self.sync.peer_heads.remove(&r.peer);
            }
            Ok(blocks) => {
                let head = self.store.head().map_or(0, |h| h.height);
                for (block, commit) in blocks.into_iter().filter(|(b, _)| b.header.height > head) {
                    let height = block.header.height;
                    if let Err(e) = self.import(block, commit) {
                        tracing::warn!(peer = %r.peer, height, error = %e, "synced block does not import");
                        self.sync.peer_heads.remove(&r.peer);
                        break;
                    }
                }
                self.log_progress();
            }
        }
        self.maybe_sync();
    }

    fn log_progress(&mut self) {
        let Ok(head) = self.store.head() else { return };
        let now = Instant::now();
        if self.sync.last_log.is_some_and(|t| now.duration_since(t).as_secs() < 2) {
            return;
        }
        self.sync.last_log = Some(now);
        if let Some((start, from)) = self.sync.started {
            let secs = now.duration_since(start).as_secs_f64().max(1e-3);
            let rate = head.height.saturating_sub(from) as f64 / secs;
            tracing::info!(
                height = head.height,
                target = self.sync.target.load(Relaxed),
                blocks_per_sec = format!("{rate:.1}"),
                "syncing"
            );
        }
    }
}

/// Up to `request.count` committed blocks from `peer`, the last perhaps sent compact (alone
/// over the message limit) and filled here with its txs, fetched in pieces.
async fn fetch_range(
    net: &crate::network::NetworkHandle,
    peer: PeerRef,
    request: SyncRequest,
) -> Result<Vec<(Block, CommitCertificate)>, NetworkError> {
    let reply = net.sync(peer, request).await?;
    let mut blocks = reply.blocks;
    if let Some((compact, commit)) = reply.partial {
        let (hash, height) = (compact.hash(), compact.header.height);
        let txs = super::fill::fetch_txs(net, peer, hash, height, &compact.tx_hashes, true)
            .await
            .map_err(|e| NetworkError::Sync(format!("peer {peer}, txs of block {height}: {e}")))?;
        let block = compact.fill(txs).map_err(|e| NetworkError::Sync(format!("peer {peer}, block {height}: {e}")))?;
        blocks.push((block, commit));
    }
    Ok(blocks)
}
