//! The cloneable handle other modules use to reach the node.

use super::Metrics;
use crate::chainspec::ChainSpec;
use crate::ledger::{check_stateless, BlockExecutor, TxInvalid};
use crate::mempool::MempoolError;
use crate::network::NetworkHandle;
use crate::primitives::{Address, Hash, Header, KeyCache, SealedTx, SignedTx};
use crate::storage::{BlockRef, Store, StoreError};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// A tx whose stateless rules, replay and signatures admission has checked, and whose payload
/// it may also have run against the head: `payload_at` is that head's hash (the driver skips
/// the check while its head is the same).
pub(super) struct Checked {
    pub(super) tx: SealedTx,
    pub(super) payload_at: Option<Hash>,
}

impl Checked {
    pub(super) fn payload_unchecked(tx: SealedTx) -> Self {
        Checked { tx, payload_at: None }
    }
}

pub(super) enum Command {
    /// Txs admission has checked (see [`Checked`]).
    Submit { txs: Vec<Checked>, reply: oneshot::Sender<Vec<Result<Hash, SubmitError>>> },
    /// The nonce `address`'s next tx should carry: after its committed nonce and the txs of
    /// it already pending in a row.
    NextNonce { address: Address, reply: oneshot::Sender<Result<u64, String>> },
    /// A snapshot of the consensus engine.
    ConsensusState { reply: oneshot::Sender<crate::consensus::ConsensusState> },
    /// Finalized blocks to check and import in order (e.g. read from another store).
    Import {
        blocks: Vec<(crate::primitives::Block, crate::primitives::CommitCertificate)>,
        reply: oneshot::Sender<Result<u64, String>>,
    },
    /// Send `amount` from the chain's faucet account to `to` (dev and local chains).
    Faucet { to: Address, amount: u128, reply: oneshot::Sender<Result<Hash, SubmitError>> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("invalid signature: it does not verify against the sender's public key")]
    BadSignature,
    #[error(transparent)]
    Invalid(#[from] TxInvalid),
    #[error(transparent)]
    Mempool(#[from] MempoolError),
    /// The tx would only pay its fee: its payload fails on the current state.
    #[error(transparent)]
    Rejected(#[from] crate::ledger::TxFailure),
    #[error("faucet: {0}")]
    Faucet(String),
    #[error("node is shutting down")]
    Stopped,
    /// The store refused the last decided block (a full or failing disk); the node retries.
    #[error("the node cannot store blocks now ({0}); it retries, and takes txs again once a block is stored")]
    Storage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadInfo {
    pub height: u64,
    pub hash: Hash,
    pub parent: Hash,
    pub timestamp_ms: u64,
    pub state_root: Hash,
    pub tx_count: u32,
}

impl HeadInfo {
    pub fn from_header(h: &Header) -> Self {
        HeadInfo {
            height: h.height,
            hash: h.hash(),
            parent: h.parent,
            timestamp_ms: h.timestamp_ms,
            state_root: h.state_root,
            tx_count: h.tx_count,
        }
    }
}

#[derive(Debug, Clone)]
pub enum ChainEvent {
    NewHead(HeadInfo),
    Finalized(HeadInfo),
}

#[derive(Clone)]
pub struct NodeHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) store: Arc<Store>,
    pub(super) spec: Arc<ChainSpec>,
    pub(super) events: broadcast::Sender<ChainEvent>,
    pub(super) metrics: Arc<Metrics>,
    pub(super) network: Option<NetworkHandle>,
    pub(super) sync_target: Arc<AtomicU64>,
    /// The node's decompressed public keys, shared with the driver.
    pub(super) keys: Arc<KeyCache>,
    /// The mempool's hashes, read without a round trip to the driver.
    pub(super) pending: Arc<crate::mempool::PendingHashes>,
    pub(super) health: Arc<super::health::HealthState>,
    /// Checked `receipts` gossip (a receipt for attestation, an attestation).
    pub(super) receipts: broadcast::Sender<crate::wire::ReceiptGossip>,
    /// Admission's checks (signatures and payloads) that may run at once, across every caller:
    /// one per core. Without the bound, each of many concurrent submissions started a blocking
    /// thread per core, and the driver, one thread that builds and commits every block, got a
    /// share of the CPU as small as one thread among dozens.
    pub(super) checkers: Arc<tokio::sync::Semaphore>,
}

impl NodeHandle {
    pub fn network(&self) -> Option<&NetworkHandle> {
        self.network.as_ref()
    }

    /// The highest finalized height any peer has claimed (0 without peers).
    pub fn sync_target(&self) -> u64 {
        self.sync_target.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Evaluates the node's health now (see [`super::health`]).
    pub async fn health(&self) -> super::Health {
        let peers = match &self.network {
            Some(net) => net.peers().await.map_or(0, |p| p.len()),
            None => 0,
        };
        let head = self.store.head().map(|h| h.height).map_err(|e| e.to_string());
        self.health.observe(head, self.sync_target(), peers)
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn spec(&self) -> &Arc<ChainSpec> {
        &self.spec
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// `receipts` gossip from peers, checked (signature, a job this node knows).
    pub fn subscribe_receipts(&self) -> broadcast::Receiver<crate::wire::ReceiptGossip> {
        self.receipts.subscribe()
    }

    /// Publishes on the `receipts` topic (nothing without a network).
    pub fn publish_receipt(&self, msg: &crate::wire::ReceiptGossip) {
        if let Some(net) = &self.network {
            net.publish(crate::network::Topic::Receipts, crate::wire::encode_receipt_gossip(msg));
        }
    }

    /// A read of stored data failed: logged at error level, counted
    /// (`ergon_storage_read_errors_total`) and reported by health until restart.
    pub fn storage_read_failed(&self, e: &StoreError) {
        report_read_error(&self.metrics, &self.health, "rpc", e);
    }

    /// Checks one tx (stateless rules, then whether it is a replay, then its signature) and
    /// hands it to the mempool.
    pub async fn submit(&self, tx: impl Into<SealedTx>) -> Result<Hash, SubmitError> {
        let tx: SealedTx = tx.into();
        check_stateless(&self.spec, &tx)?;
        self.check_replay(&tx)?;
        if self.is_pending(tx.hash()) {
            return Err(MempoolError::AlreadyKnown(tx.hash()).into());
        }
        let signatures: Vec<_> = tx.signatures().collect();
        self.metrics.on_rpc_signatures(signatures.len());
        self.keys.verify_batch(&signatures).map_err(|_| SubmitError::BadSignature)?;
        self.send_checked(vec![Checked::payload_unchecked(tx)]).await.pop().unwrap_or(Err(SubmitError::Stopped))
    }

    /// Refuses, before its signature costs a verification, a tx whose nonce its sender's
    /// committed nonce has reached: a replay of an included tx (or one overtaken). The
    /// mempool would refuse it with the same error after the verification.
    fn check_replay(&self, tx: &SealedTx) -> Result<(), SubmitError> {
        check_replay(&self.store, tx)
    }

    /// Checks many txs, with signatures batch-verified and payloads run against the head on
    /// blocking threads spread over the cores (at most one check per core at a time, all
    /// callers together: see `checkers`), and hands the good ones to the mempool in one
    /// command. Results are in order. Replays (pending, or at or below the sender's committed
    /// nonce) are refused before any signature is verified.
    pub async fn submit_many(&self, txs: Vec<SignedTx>) -> Vec<Result<Hash, SubmitError>> {
        let n = txs.len();
        let txs: Vec<SealedTx> = txs.into_iter().map(SealedTx::seal).collect();
        let pending = self.pending.contains_each(txs.iter().map(SealedTx::hash));
        let chunk = n.div_ceil(super::cores()).max(1);
        let mut tasks = Vec::new();
        let mut rest: Vec<(SealedTx, bool)> =
            txs.into_iter().zip(pending.into_iter().chain(std::iter::repeat(false))).collect();
        while !rest.is_empty() {
            let tail = rest.split_off(chunk.min(rest.len()));
            let part = std::mem::replace(&mut rest, tail);
            let node = self.clone();
            let Ok(permit) = self.checkers.clone().acquire_owned().await else {
                return vec![Err(SubmitError::Stopped); n];
            };
            tasks.push(tokio::task::spawn_blocking(move || {
                let checked = check_chunk(&node, part);
                drop(permit);
                checked
            }));
        }
        // The good txs go to the mempool; each result keeps its place (`None`: ask the pool).
        let mut good = Vec::with_capacity(n);
        let mut results: Vec<Option<Result<Hash, SubmitError>>> = Vec::with_capacity(n);
        for t in tasks {
            let part = match t.await {
                Ok(part) => part,
                Err(e) => return vec![Err(SubmitError::Internal(e.to_string())); n],
            };
            for r in part {
                match r {
                    Ok(tx) => {
                        good.push(tx);
                        results.push(None);
                    }
                    Err(e) => results.push(Some(Err(e))),
                }
            }
        }
        let mut admitted = self.send_checked(good).await.into_iter();
        results.into_iter().map(|r| r.unwrap_or_else(|| admitted.next().unwrap_or(Err(SubmitError::Stopped)))).collect()
    }

    async fn send_checked(&self, txs: Vec<Checked>) -> Vec<Result<Hash, SubmitError>> {
        let n = txs.len();
        let (reply, rx) = oneshot::channel();
        if self.commands.send(super::Command::Submit { txs, reply }).await.is_err() {
            return vec![Err(SubmitError::Stopped); n];
        }
        rx.await.unwrap_or_else(|_| vec![Err(SubmitError::Stopped); n])
    }

    /// Sends `amount` from the faucet to `to`; the driver signs, so faucet nonces never race.
    pub async fn faucet(&self, to: Address, amount: u128) -> Result<Hash, SubmitError> {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Faucet { to, amount, reply }).await.is_err() {
            return Err(SubmitError::Stopped);
        }
        rx.await.unwrap_or(Err(SubmitError::Stopped))
    }

    /// Imports finalized blocks in order with every check a synced block gets; returns the
    /// new head height.
    pub async fn import(
        &self,
        blocks: Vec<(crate::primitives::Block, crate::primitives::CommitCertificate)>,
    ) -> Result<u64, String> {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::Import { blocks, reply }).await.is_err() {
            return Err("node stopped".into());
        }
        rx.await.unwrap_or_else(|_| Err("node stopped".into()))
    }

    /// The nonce `address`'s next tx should carry, counting its pending txs.
    pub async fn next_nonce(&self, address: Address) -> Result<u64, SubmitError> {
        let (reply, rx) = oneshot::channel();
        if self.commands.send(Command::NextNonce { address, reply }).await.is_err() {
            return Err(SubmitError::Stopped);
        }
        rx.await.map_err(|_| SubmitError::Stopped)?.map_err(SubmitError::Internal)
    }

    /// Where consensus stands now (`None` once the node stopped).
    pub async fn consensus_state(&self) -> Option<crate::consensus::ConsensusState> {
        let (reply, rx) = oneshot::channel();
        self.commands.send(Command::ConsensusState { reply }).await.ok()?;
        rx.await.ok()
    }

    /// Whether the mempool holds `hash` (read without a round trip to the driver).
    pub fn is_pending(&self, hash: Hash) -> bool {
        self.pending.contains_each([hash]).first() == Some(&true)
    }
}

/// A failed read of stored data, from `source` (`rpc`, `sync`): logged at error level,
/// counted, and reported by health until restart. Other store errors (a full disk on a write,
/// a block that does not extend the head) are not reads and not reported here.
pub(super) fn report_read_error(
    metrics: &Metrics,
    health: &super::health::HealthState,
    source: &'static str,
    e: &StoreError,
) {
    if matches!(e, StoreError::Db(_) | StoreError::Corrupt { .. }) {
        tracing::error!(source, error = %e, "a read of stored data failed: the database may be damaged (run `ergon db check`)");
        metrics.on_storage_read_error();
        health.read_failed(e);
    }
}

/// See [`NodeHandle::check_replay`]; gossip leaves such txs out by the same rule. A failed
/// read lets the tx go on (admission reads the account again and says what is wrong).
pub(super) fn check_replay(store: &Store, tx: &SealedTx) -> Result<(), SubmitError> {
    let committed = match crate::ledger::StateReader::account(store, &tx.tx.sender_address()) {
        Ok(account) => account.unwrap_or_default().nonce,
        Err(_) => return Ok(()),
    };
    if tx.tx.nonce <= committed {
        return Err(MempoolError::NonceTooLow { got: tx.tx.nonce, next: committed.saturating_add(1) }.into());
    }
    Ok(())
}

/// Stateless rules, replays (`pending`: the mempool holds the tx's hash), then the signatures
/// of what is left, batch-verified, then the payloads of what is still left, against the head
/// as it is then (the signatures take long enough for a block to land meanwhile).
fn check_chunk(node: &NodeHandle, txs: Vec<(SealedTx, bool)>) -> Vec<Result<Checked, SubmitError>> {
    let mut out: Vec<Result<Checked, SubmitError>> = txs
        .into_iter()
        .map(|(tx, pending)| {
            check_stateless(&node.spec, &tx)?;
            if pending {
                return Err(MempoolError::AlreadyKnown(tx.hash()).into());
            }
            node.check_replay(&tx)?;
            Ok(Checked::payload_unchecked(tx))
        })
        .collect();
    let items: Vec<_> = out.iter().filter_map(|r| r.as_ref().ok()).flat_map(|c| c.tx.signatures()).collect();
    node.metrics.on_rpc_signatures(items.len());
    let mut verdicts = node.keys.verify_each(&items).into_iter();
    for r in out.iter_mut() {
        let n = match r {
            Ok(c) => c.tx.signatures().count(),
            Err(_) => continue,
        };
        if verdicts.by_ref().take(n).fold(false, |bad, v| bad | v.is_err()) {
            *r = Err(SubmitError::BadSignature);
        }
    }
    // A failed read leaves the payloads to the driver.
    if let Ok(head) = node.store.head() {
        check_payloads(node, &head, &mut out);
    }
    out
}

/// Runs each good tx's payload against `head`'s state as the driver does at admission (see
/// `Driver::admit_one`), but here, beside the signature batches, instead of on the driver,
/// which also builds and commits every block. A payload the check refuses gets its error
/// now; one it passes is marked with the head. A check that cannot be settled here (a failed
/// read, a fraud proof whose job's blobs may still be fetched) is left to the driver.
fn check_payloads(node: &NodeHandle, head: &BlockRef, out: &mut [Result<Checked, SubmitError>]) {
    let mut exec = None;
    for r in out.iter_mut() {
        let Ok(c) = r else { continue };
        if !super::payload_needs_check(&c.tx) {
            continue;
        }
        let exec = match &mut exec {
            Some(e) => e,
            None => match BlockExecutor::speculative(node.store.as_ref(), &node.spec, super::admission_env(head)) {
                Ok(e) => exec.insert(e),
                Err(_) => return,
            },
        };
        match super::payload_verdict(exec, &c.tx) {
            Ok(()) => c.payload_at = Some(head.hash),
            Err(SubmitError::Internal(_) | SubmitError::Invalid(TxInvalid::Fraud(_))) => {}
            Err(e) => *r = Err(e),
        }
    }
}
