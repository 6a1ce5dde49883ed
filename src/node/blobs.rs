//! Blobs across nodes: a node announces every blob it stores (a Kademlia provider record),
//! and fetches a blob it lacks from the peers that announced it, then from any connected
//! peer, in pieces of at most 1 MiB over the `blobs` protocol. The whole blob is checked
//! against its hash before it is stored or used; a peer that sends wrong bytes is skipped.
//!
//! Blobs are kept while a job needs them and a retention period after ([`keep`]): a sweep
//! every few blocks marks the programs and inputs of open and claimed jobs and the outputs
//! their receipts name as needed now, and deletes (and stops announcing) the blobs last
//! needed more than the retention period ago. A blob uploaded for a job not yet posted has the
//! same period from its upload. A settled job's output so stays fetchable for the period
//! after its challenge window closed.

use super::NodeHandle;
use crate::primitives::Hash;
use crate::storage::MAX_BLOB_BYTES;

/// Blobs announced at start (the rest are announced as they are used).
const ANNOUNCE_AT_START: usize = 4096;

/// Blocks a blob is kept after the last one at which a job needed it (`--blob-retention`).
pub const DEFAULT_BLOB_RETENTION: u64 = 100_000;

/// Sweeps happen at most this many blocks apart.
const MAX_SWEEP_INTERVAL: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("no peer has blob {0}")]
    NotFound(Hash),
    #[error("this node has no network to fetch blob {0} from")]
    NoNetwork(Hash),
    #[error("storage: {0}")]
    Store(#[from] crate::storage::StoreError),
}

impl NodeHandle {
    /// Stores a blob and announces that this node holds it.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Hash, crate::storage::StoreError> {
        let hash = self.store.put_blob(bytes)?;
        if let Some(net) = &self.network {
            net.provide(hash);
        }
        Ok(hash)
    }

    /// The blob `hash`: from the store, or fetched from peers (checked, stored, announced).
    pub async fn fetch_blob(&self, hash: Hash) -> Result<Vec<u8>, FetchError> {
        fetch(self.network.as_ref(), &self.store, hash).await
    }

    /// Announces the blobs this node already holds (after a restart).
    pub(super) fn announce_blobs(&self) {
        let Some(net) = &self.network else { return };
        match self.store.blob_hashes(ANNOUNCE_AT_START) {
            Ok(hashes) => hashes.into_iter().for_each(|h| net.provide(h)),
            Err(e) => tracing::warn!(error = %e, "cannot list stored blobs"),
        }
    }
}

/// The blob `hash`: from `store`, or fetched from peers over `net` (checked, stored,
/// announced).
pub(super) async fn fetch(
    net: Option<&crate::network::NetworkHandle>,
    store: &crate::storage::Store,
    hash: Hash,
) -> Result<Vec<u8>, FetchError> {
    if let Some(b) = store.blob(&hash)? {
        return Ok(b);
    }
    let net = net.ok_or(FetchError::NoNetwork(hash))?;
    let sources = net.providers(hash).await.unwrap_or_default();
    for peer in sources {
        match download(net, peer, hash).await {
            Ok(Some(bytes)) => {
                store.put_blob(&bytes)?;
                net.provide(hash);
                tracing::debug!(blob = %hash, %peer, size = bytes.len(), "fetched blob");
                return Ok(bytes);
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(blob = %hash, %peer, error = %e, "blob fetch failed; trying another peer"),
        }
    }
    Err(FetchError::NotFound(hash))
}

impl super::Driver {
    /// Fetches, in the background, the blobs of the job a fraud proof or verdict disputes that this
    /// node lacks, so that it can referee the proof when a block carries it (or include it,
    /// as a proposer). Nothing waits for it: a block this node could not referee is tried
    /// again at the next sync round.
    pub(super) fn prefetch_for_dispute(&self, payload: &crate::primitives::Payload) {
        let receipt_id = match payload {
            crate::primitives::Payload::FraudProof(f) => f.receipt_id,
            crate::primitives::Payload::Verdict(v) => v.receipt_id,
            _ => return,
        };
        let Some(net) = self.net.clone() else { return };
        let job = (|| -> Option<crate::ledger::payload::job::Job> {
            let key = crate::ledger::StateKey::Receipt(receipt_id);
            let rec: crate::ledger::payload::receipt::ReceiptRecord =
                crate::ledger::read(self.store.as_ref(), &key).ok()??;
            crate::ledger::read(self.store.as_ref(), &crate::ledger::StateKey::Job(rec.job_id)).ok()?
        })();
        let Some(job) = job else { return };
        let missing: Vec<Hash> = [job.post.program, job.post.input]
            .into_iter()
            .filter(|h| !self.store.has_blob(h).unwrap_or(true))
            .collect();
        if missing.is_empty() {
            return;
        }
        let store = self.store.clone();
        tokio::spawn(async move {
            for h in missing {
                if let Err(e) = fetch(Some(&net), &store, h).await {
                    tracing::info!(blob = %h, error = %e, "cannot fetch a challenged job's blob");
                }
            }
        });
    }
}

/// The whole blob from `peer`, piece by piece; `None` if it does not hold it. Errors for a
/// peer that breaks the protocol (a length over the cap or changing between pieces, an empty
/// piece, bytes that do not hash to `hash`).
async fn download(
    net: &crate::network::NetworkHandle,
    peer: crate::network::PeerRef,
    hash: Hash,
) -> Result<Option<Vec<u8>>, String> {
    let mut bytes: Vec<u8> = Vec::new();
    let mut total: Option<u64> = None;
    loop {
        let offset = bytes.len() as u64;
        let Some(piece) = net.blob_piece(peer, hash, offset).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        if piece.total > MAX_BLOB_BYTES as u64 {
            return Err(format!("claims a {}-byte blob, over the {MAX_BLOB_BYTES}-byte cap", piece.total));
        }
        if *total.get_or_insert(piece.total) != piece.total {
            return Err("the blob's length changed between pieces".into());
        }
        let remaining = piece.total.saturating_sub(offset);
        if piece.data.len() as u64 > remaining || (piece.data.is_empty() && remaining > 0) {
            return Err(format!("sent {} bytes with {remaining} to go", piece.data.len()));
        }
        bytes.extend_from_slice(&piece.data);
        if bytes.len() as u64 == piece.total {
            break;
        }
    }
    if crate::vm::blob_hash(&bytes) != hash {
        return Err("the bytes do not match the blob's hash".into());
    }
    Ok(Some(bytes))
}

/// Keeps the blobs live jobs need and deletes the others `retention` blocks after they were
/// last needed, sweeping at finalized heights (see the module docs). Returns when `stop`
/// completes, never in the middle of a sweep.
pub async fn keep(node: NodeHandle, retention: u64, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let retention = retention.max(1);
    let every = (retention / 4).clamp(1, MAX_SWEEP_INTERVAL);
    let mut events = node.subscribe();
    let store = node.store.clone();
    let start = store.head().map(|h| h.height).unwrap_or(0);
    match tokio::task::spawn_blocking(move || store.mark_unmarked_blobs(start)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(blobs = n, "blobs from before retention marks are kept from this height"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot mark stored blobs"),
        Err(e) => tracing::warn!(error = %e, "cannot mark stored blobs"),
    }
    loop {
        let event = tokio::select! {
            _ = &mut stop => return,
            e = events.recv() => e,
        };
        let height = match event {
            Ok(super::ChainEvent::Finalized(h)) if h.height % every == 0 => h.height,
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let store = node.store.clone();
        let swept = tokio::task::spawn_blocking(move || sweep(&store, height, retention)).await;
        match swept {
            Ok(Ok(gone)) => {
                if !gone.is_empty() {
                    tracing::info!(height, blobs = gone.len(), "deleted blobs no job needs any more");
                }
                if let Some(net) = &node.network {
                    gone.into_iter().for_each(|h| net.stop_providing(h));
                }
            }
            Ok(Err(e)) => tracing::warn!(height, error = %e, "blob sweep failed; trying again later"),
            Err(e) => tracing::warn!(height, error = %e, "blob sweep failed; trying again later"),
        }
    }
}

/// Marks what live jobs need at `height`, then deletes the blobs last needed before
/// `height - retention`; returns their hashes.
pub fn sweep(
    store: &crate::storage::Store,
    height: u64,
    retention: u64,
) -> Result<Vec<Hash>, crate::storage::StoreError> {
    use crate::ledger::payload::job::{Job, JobStatus};
    use crate::ledger::payload::receipt::ReceiptRecord;
    use crate::ledger::StateKey;
    use parity_scale_codec::Encode;
    let variant = StateKey::Job(Hash::ZERO).encode()[0];
    let live = store
        .state_records::<Job>(variant, usize::MAX, |_, j| matches!(j.status, JobStatus::Open | JobStatus::Claimed))?;
    let mut needed = Vec::with_capacity(live.len() * 3);
    for (_, job) in live {
        needed.extend([job.post.program, job.post.input]);
        if let Some(id) = job.receipt {
            let rec: Option<ReceiptRecord> = crate::ledger::read(store, &StateKey::Receipt(id))?;
            needed.extend(rec.map(|r| r.output_hash));
        }
    }
    store.mark_blobs(needed, height)?;
    store.sweep_blobs(height.saturating_sub(retention))
}
