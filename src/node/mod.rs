//! The driver. It owns the mempool and the consensus engine, turns RPC submissions and timers
//! into their inputs, and executes the engine's effects: building blocks, committing them to
//! storage, and announcing new heads.
//!
//! Everyone else talks to it through a cloneable [`NodeHandle`]: reads go straight to the
//! store (RocksDB is safe to read concurrently); writes and mempool queries are commands with
//! `oneshot` replies. Signature checks run in the caller's task (and batched, on blocking
//! threads, for bulk submissions) so both cores verify while the driver does stateful work.

#[cfg(test)]
mod admission_tests;
mod blobs;
mod builder;
mod chain_view;
pub mod compute;
mod consensus;
mod epoch;
mod fill;
mod handle;
mod health;
mod import;
mod metrics;
mod receipts;
pub mod service;
mod sync;

pub use blobs::{keep as keep_blobs, sweep as sweep_blobs, FetchError, DEFAULT_BLOB_RETENTION};
pub use handle::{ChainEvent, HeadInfo as ChainEventHead, NodeHandle, SubmitError};
pub use health::{Health, Reason as HealthReason};
pub use metrics::{Metrics, RpcRefusal};

use crate::chainspec::ChainSpec;
use crate::consensus::{Engine, Input, SignedVote, Timeout};
use crate::mempool::{Mempool, MempoolConfig};
use crate::primitives::{Hash, KeyCache, Keypair, SealedTx};
use crate::storage::sign_guard::SignGuard;
use crate::storage::{Store, StoreError};
use builder::Candidate;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use handle::{Checked, Command};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid validator set: {0}")]
    Validators(#[from] crate::consensus::CommitError),
    #[error("block building failed: {0}")]
    Build(String),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
}

pub struct NodeConfig {
    pub spec: ChainSpec,
    pub validator_key: Option<Keypair>,
    pub mempool: MempoolConfig,
    /// `None`: a node without peers (benchmarks, single-process tests).
    pub network: Option<crate::network::NetworkConfig>,
}

/// Public keys kept decompressed per node (about 200 bytes each).
const KEY_CACHE: usize = 65_536;

/// Gossiped txs signature-checked in one go on the driver (about 50 ms of work).
const MAX_TXS_PER_FLUSH: usize = 4096;

/// Keys of former validators remembered so their late votes are not blamed on relays.
const RECENT_VALIDATORS_KEPT: usize = 4096;

/// Txs per gossip message: a bulk submission travels in a few messages, not one per tx.
const TXS_PER_GOSSIP: usize = 256;

type TimerFuture = Pin<Box<dyn Future<Output = Timeout> + Send>>;

/// The next network event; never, without a network.
async fn next_event(events: &mut Option<crate::network::NetworkEvents>) -> Option<crate::network::NetworkEvent> {
    match events {
        Some(e) => e.recv().await,
        None => std::future::pending().await,
    }
}

struct Driver {
    spec: Arc<ChainSpec>,
    store: Arc<Store>,
    /// The double-sign guard's file; saved before any message it covers is sent.
    guard: SignGuard,
    mempool: Mempool,
    engine: Engine,
    /// Blocks built or received as proposals at the height at hand, executed, by hash.
    candidates: HashMap<Hash, Candidate>,
    /// Compact blocks waiting for txs fetched from their senders, and where those arrive.
    filling: fill::FillingMap,
    fill_results: mpsc::Sender<fill::Fetched>,
    /// The txs of the last blocks built, filled or committed here, served to peers filling
    /// them (shared with the network's view of the chain).
    recent: Arc<chain_view::RecentBlocks>,
    /// Gossiped txs (with their hashes) waiting for the burst's batch signature check.
    txs_in: Vec<(Vec<SealedTx>, crate::network::GossipId)>,
    /// Gossip peers that sent txs with bad signatures, and when: their tx messages are
    /// rejected unchecked for a while ([`sync::BAD_SIGNER_MEMORY`]).
    bad_signers: HashMap<crate::network::PeerRef, std::time::Instant>,
    /// Votes received since the last batch verification.
    votes_in: Vec<(SignedVote, crate::network::GossipId)>,
    /// Equivocation seen here and not yet in a block; proposers include it.
    pending_evidence: Vec<crate::primitives::Evidence>,
    /// The head's commit certificate, grown with precommits for the head that arrive after
    /// it was decided: the next block built here carries it (validator uptime).
    last_commit: Option<crate::primitives::CommitCertificate>,
    /// Own consensus messages at the height at hand, for resending.
    outbox: consensus::Outbox,
    /// A decided block the store refused (a full or failing disk), tried again with backoff.
    stalled: Option<consensus::Stalled>,
    /// The value whose block is kept as the locked block ([`Store::save_locked_block`]).
    locked_saved: Option<Hash>,
    timers: FuturesUnordered<TimerFuture>,
    events: broadcast::Sender<ChainEvent>,
    metrics: Arc<Metrics>,
    /// This node's validator key, which blocks it builds name as proposer.
    proposer: Option<crate::primitives::PublicKey>,
    /// The root of this validator's beacon reveals (derived from its key).
    reveal_secret: Option<crate::ledger::beacon::RevealSecret>,
    net: Option<crate::network::NetworkHandle>,
    /// Decompressed public keys for tx signature checks, shared with the handle.
    keys: Arc<KeyCache>,
    sync: sync::SyncState,
    sync_results: mpsc::Sender<sync::SyncResult>,
    /// Storage outcomes and the validator set, for health.
    health: Arc<health::HealthState>,
    /// Checked `receipts` gossip, for the compute roles.
    receipts: broadcast::Sender<crate::wire::ReceiptGossip>,
    /// Validators of the sets before the current one (and the jailed): their votes are not
    /// the relay's fault.
    recent_validators: std::collections::BTreeSet<crate::primitives::PublicKey>,
}

/// Starts the driver on the current tokio runtime and returns its handle. The driver stops
/// when `shutdown` resolves. `guard` is the chain's double-sign guard
/// ([`SignGuard::open_for_node`]).
pub fn start(
    config: NodeConfig,
    store: Arc<Store>,
    guard: SignGuard,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(NodeHandle, tokio::task::JoinHandle<()>), NodeError> {
    config.spec.genesis().map_err(StoreError::from)?;
    let head = store.head()?;
    let validators = epoch::validator_set(&store)?;
    let spec = Arc::new(config.spec);
    let (cmd_tx, cmd_rx) = mpsc::channel(1024);
    let (events, _) = broadcast::channel(256);
    let (receipts, _) = broadcast::channel(256);
    let metrics = Arc::new(Metrics::default());
    metrics.set_head(head.height, head.height);
    let sign_state = config.validator_key.as_ref().and_then(|k| guard.state_of(&k.public())).cloned();
    if let Some(s) = sign_state.as_ref().filter(|s| s.height > head.height.saturating_add(1)) {
        tracing::warn!(
            signed = s.height,
            head = head.height,
            guard = %guard.path().display(),
            "this validator signed up to height {} but the chain here is at {}: it signs nothing until the chain \
             passes that height (synced from peers). If this chain was started over from genesis, the guard \
             belongs to the old one: --unsafe-reset-sign-state",
            s.height,
            head.height
        );
    }
    // A lock at the next height names a block the engine may have to propose again.
    let locked = sign_state.as_ref().filter(|s| s.height == head.height.saturating_add(1)).and_then(|s| s.lock);
    let engine = Engine::new(
        spec.chain_id.clone(),
        config.validator_key.clone(),
        validators,
        spec.consensus.clone(),
        sign_state,
    );
    let peers_configured =
        config.network.as_ref().is_some_and(|n| !n.bootnodes.is_empty() || !n.reserved_peers.is_empty());
    let health = Arc::new(health::HealthState::new(peers_configured, &spec.consensus, head.height));
    let recent = Arc::new(chain_view::RecentBlocks::default());
    let (net, net_events) = match config.network {
        Some(mut net_config) => {
            net_config.genesis = store.genesis_hash()?;
            let view = std::sync::Arc::new(chain_view::StoreView {
                store: store.clone(),
                recent: recent.clone(),
                metrics: metrics.clone(),
                health: health.clone(),
            });
            let (h, ev) = crate::network::start(net_config, view)?;
            (Some(h), Some(ev))
        }
        None => (None, None),
    };
    let sync = sync::SyncState::default();
    let (sync_tx, sync_rx) = mpsc::channel(16);
    let (fill_tx, fill_rx) = mpsc::channel(16);
    let keys = Arc::new(KeyCache::new(KEY_CACHE));
    let mempool = Mempool::new(config.mempool);
    let handle = NodeHandle {
        commands: cmd_tx,
        store: store.clone(),
        spec: spec.clone(),
        events: events.clone(),
        metrics: metrics.clone(),
        network: net.clone(),
        sync_target: sync.target_handle(),
        keys: keys.clone(),
        pending: mempool.shared_hashes(),
        health: health.clone(),
        receipts: receipts.clone(),
        checkers: Arc::new(tokio::sync::Semaphore::new(cores())),
    };
    handle.announce_blobs();
    // Seen before a restart and not on chain yet.
    let pending_evidence =
        store.evidence(0, 1024)?.into_iter().filter(|(_, at)| at.is_none()).map(|(e, _)| e).collect();
    let last_commit = store.commit(head.height)?;
    let mut driver = Driver {
        last_commit,
        proposer: config.validator_key.as_ref().map(Keypair::public),
        reveal_secret: config
            .validator_key
            .as_ref()
            .map(|k| crate::ledger::beacon::RevealSecret::new(k, &spec.chain_id)),
        spec,
        store,
        guard,
        mempool,
        engine,
        candidates: HashMap::new(),
        filling: HashMap::new(),
        fill_results: fill_tx,
        recent,
        votes_in: Vec::new(),
        txs_in: Vec::new(),
        bad_signers: HashMap::new(),
        outbox: consensus::Outbox::default(),
        stalled: None,
        locked_saved: None,
        pending_evidence,
        timers: FuturesUnordered::new(),
        events,
        metrics,
        net,
        keys,
        sync,
        sync_results: sync_tx,
        health,
        receipts,
        recent_validators: Default::default(),
    };
    driver.note_validator_set();
    if let Some(lock) = locked {
        driver.restore_locked_block(lock.value);
    }
    tokio::spawn(health::monitor(handle.clone()));
    let task = tokio::spawn(async move {
        let start = driver.start_after(head.height, head.hash);
        driver.input(start);
        driver.run(cmd_rx, net_events, sync_rx, fill_rx, shutdown).await;
    });
    Ok((handle, task))
}

impl Driver {
    async fn run(
        &mut self,
        mut commands: mpsc::Receiver<Command>,
        mut net_events: Option<crate::network::NetworkEvents>,
        mut sync_results: mpsc::Receiver<sync::SyncResult>,
        mut fill_results: mpsc::Receiver<fill::Fetched>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A consensus timeout that is due goes first: building a block at its time must
            // not wait its turn among a queue of tx submissions, each of which may take tens
            // of milliseconds to admit (select! picks among ready branches at random).
            while let Some(Some(t)) = self.timers.next().now_or_never() {
                self.input(Input::TimeoutElapsed(t));
            }
            tokio::select! {
                _ = &mut shutdown => break,
                Some(cmd) = commands.recv() => self.command(cmd),
                Some(t) = self.timers.next(), if !self.timers.is_empty() => self.input(Input::TimeoutElapsed(t)),
                Some(ev) = next_event(&mut net_events) => {
                    self.on_network(ev);
                    // Take what else has arrived, so votes and txs are verified in batches;
                    // a flush of gossiped txs is bounded so the next vote waits little.
                    for _ in 0..256 {
                        let Some(events) = net_events.as_mut() else { break };
                        let ev = if self.txs_in_count() < MAX_TXS_PER_FLUSH {
                            events.try_recv()
                        } else {
                            events.try_recv_urgent()
                        };
                        let Some(ev) = ev else { break };
                        self.on_network(ev);
                    }
                    self.flush_votes();
                    self.flush_txs();
                    self.recheck_filling();
                }
                Some(r) = sync_results.recv() => self.on_sync_result(r),
                Some(f) = fill_results.recv() => self.on_fetched(f),
                _ = tick.tick() => {
                    self.retry_stalled();
                    self.maybe_sync();
                    self.resend_if_stuck();
                }
            }
        }
        tracing::info!("driver stopped");
    }

    /// Tells health whether this node is a validator in a set of more than one (and so
    /// cannot make blocks without peers).
    fn note_validator_set(&mut self) {
        let me = self.proposer.as_ref().is_some_and(|k| self.engine.is_validator(k));
        self.health.set_in_shared_set(me && self.engine.validators().len() > 1);
        if let Ok(v) = crate::ledger::validators::current(self.store.as_ref()) {
            let keys = v.previous.iter().map(|(k, _)| *k).chain(v.jailed.iter().map(|j| j.key));
            self.recent_validators.extend(keys);
            // Bounded: a long-lived node forgets the oldest sets' keys.
            if self.recent_validators.len() > RECENT_VALIDATORS_KEPT {
                self.recent_validators = v.previous.iter().map(|(k, _)| *k).collect();
            }
        }
    }

    /// Gossiped txs waiting for [`Driver::flush_txs`].
    fn txs_in_count(&self) -> usize {
        self.txs_in.iter().map(|(txs, _)| txs.len()).sum()
    }

    /// After importing block `height` (`hash`), restart consensus at the next height.
    fn engine_restart(&mut self, height: u64, hash: Hash) {
        let start = self.start_after(height, hash);
        self.input(start);
    }

    /// The engine's input to begin the height after the committed block `height` (`hash`).
    fn start_after(&self, height: u64, hash: Hash) -> Input {
        let made_at = self.store.header(height).ok().flatten().map_or(0, |h| h.timestamp_ms);
        Input::Start {
            height: height.saturating_add(1),
            parent: hash,
            since_parent_ms: builder::now_ms().saturating_sub(made_at),
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Submit { txs, reply } => {
                let results = self.admit(txs);
                // Gossip only what the mempool took.
                self.gossip_txs(results.iter().filter_map(|r| r.as_ref().ok()));
                self.metrics.set_mempool(self.mempool.len(), self.mempool.bytes());
                let _ = reply.send(results);
            }
            Command::ConsensusState { reply } => {
                let _ = reply.send(self.engine.state());
            }
            Command::NextNonce { address, reply } => {
                let committed = crate::ledger::StateReader::account(self.store.as_ref(), &address)
                    .map(|a| a.unwrap_or_default().nonce)
                    .map_err(|e| e.to_string());
                let pending: std::collections::BTreeSet<u64> =
                    self.mempool.pending_of(&address).into_iter().map(|(n, _)| n).collect();
                let _ = reply.send(committed.map(|n| {
                    let mut next = n.saturating_add(1);
                    while pending.contains(&next) {
                        next = next.saturating_add(1);
                    }
                    next
                }));
            }
            Command::Import { blocks, reply } => {
                let mut result = Ok(0);
                for (block, commit) in blocks {
                    let height = block.header.height;
                    match self.import(block, commit) {
                        Ok(()) => result = Ok(height),
                        Err(e) => {
                            result = Err(format!("block {height}: {e}"));
                            break;
                        }
                    }
                }
                let _ = reply.send(result);
            }
            Command::Faucet { to, amount, reply } => {
                let result = self.faucet(to, amount);
                self.gossip_txs(result.as_ref().ok());
                let _ = reply.send(result);
                self.metrics.set_mempool(self.mempool.len(), self.mempool.bytes());
            }
        }
    }

    /// Publishes the mempool's txs with these hashes, up to [`TXS_PER_GOSSIP`] per message
    /// and within the chain's message limit.
    fn gossip_txs<'a>(&self, hashes: impl IntoIterator<Item = &'a Hash>) {
        let Some(net) = &self.net else { return };
        let txs: Vec<_> = hashes.into_iter().filter_map(|h| self.mempool.get(h)).collect();
        let max_bytes = self.spec.limits.max_message_bytes as usize;
        for batch in crate::wire::encode_tx_batches(txs.iter().map(|t| t.signed()), TXS_PER_GOSSIP, max_bytes) {
            net.publish(crate::network::Topic::Txs, batch);
        }
    }

    /// Gives `txs` (signatures checked) to the mempool, in order, each with its sender's
    /// account; an economy tx first runs as if it came next on the head, so that one that
    /// would only pay its fee is refused with the ledger's reason. One speculative block on
    /// the head serves the whole batch.
    fn admit(&mut self, txs: Vec<Checked>) -> Vec<Result<Hash, SubmitError>> {
        let internal = |e: &dyn std::fmt::Display| SubmitError::Internal(e.to_string());
        // Txs taken now could not be committed; the sender should try later (or elsewhere).
        if let Some(why) = self.stalled.as_ref().map(|s| s.error.clone()) {
            return vec![Err(SubmitError::Storage(why)); txs.len()];
        }
        let head = match self.store.head() {
            Ok(h) => h,
            Err(e) => return vec![Err(internal(&e)); txs.len()],
        };
        let (store, spec) = (self.store.clone(), self.spec.clone());
        let mut exec = None;
        txs.into_iter().map(|c| self.admit_one(c, &head, &store, &spec, &mut exec)).collect()
    }

    /// The mempool's own rules, after the payload is run against the head (unless admission
    /// already did that against this head: [`Checked`]).
    fn admit_one<'a>(
        &mut self,
        Checked { tx, payload_at }: Checked,
        head: &crate::storage::BlockRef,
        reader: &'a Store,
        spec: &'a ChainSpec,
        slot: &mut Option<crate::ledger::BlockExecutor<'a, Store>>,
    ) -> Result<Hash, SubmitError> {
        let internal = |e: &dyn std::fmt::Display| SubmitError::Internal(e.to_string());
        let sender = tx.tx.sender_address();
        let account = crate::ledger::StateReader::account(self.store.as_ref(), &sender)
            .map_err(|e| internal(&e))?
            .unwrap_or_default();
        self.prefetch_for_dispute(&tx.tx.payload);
        if payload_needs_check(&tx) && payload_at != Some(head.hash) {
            let mut exec = match slot.take() {
                Some(e) => e,
                None => crate::ledger::BlockExecutor::speculative(reader, spec, admission_env(head))
                    .map_err(|e| internal(&e))?,
            };
            let checked = payload_verdict(&mut exec, &tx);
            *slot = Some(exec);
            match checked {
                // The challenged job's blobs are being fetched: the proof waits in the pool
                // until this node can referee it (the builder leaves it out until then).
                Err(SubmitError::Invalid(crate::ledger::TxInvalid::Fraud(_))) if self.net.is_some() => {}
                other => other?,
            }
        }
        self.mempool.insert(tx, &account).map_err(SubmitError::Mempool)
    }

    fn faucet(&mut self, to: crate::primitives::Address, amount: u128) -> Result<Hash, SubmitError> {
        let faucet = self.spec.faucet.as_ref().ok_or_else(|| SubmitError::Faucet("this chain has no faucet".into()))?;
        if amount == 0 || amount > faucet.max_drip {
            return Err(SubmitError::Faucet(format!(
                "amount must be 1 to {} base units, got {amount}",
                faucet.max_drip
            )));
        }
        let key = self
            .spec
            .dev_key("faucet")
            .ok_or_else(|| SubmitError::Faucet("the faucet key is only known on dev and local chains".into()))?;
        let from = crate::primitives::Address::from_public_key(&key.public());
        let account = crate::ledger::StateReader::account(self.store.as_ref(), &from)
            .map_err(|e| SubmitError::Internal(e.to_string()))?
            .unwrap_or_default();
        // Follow on from the faucet's own pending txs.
        let last = self.mempool.pending_of(&from).last().map(|(n, _)| *n).unwrap_or(account.nonce).max(account.nonce);
        let payload = crate::primitives::Payload::Transfer(crate::primitives::Transfer { to, amount });
        let tx = crate::ledger::fees::signed(&self.spec, &key, last.saturating_add(1), payload)
            .ok_or_else(|| SubmitError::Internal("fee overflow".into()))?;
        self.mempool.insert(tx.into(), &account).map_err(SubmitError::Mempool)
    }
}

/// Whether admission runs a tx's payload against the head before the mempool takes it: every
/// payload but transfers, whose only state rules (nonce, balance) the mempool checks itself.
fn payload_needs_check(tx: &SealedTx) -> bool {
    !matches!(tx.tx.payload, crate::primitives::Payload::Transfer(_) | crate::primitives::Payload::Batch(_))
}

/// Runs `tx`'s payload on `exec` as if it came next: refused with the ledger's reason if it
/// would only pay its fee, or as invalid if it could not be in a block at all; a failed state
/// read is internal.
fn payload_verdict<R: crate::ledger::StateReader>(
    exec: &mut crate::ledger::BlockExecutor<'_, R>,
    tx: &SealedTx,
) -> Result<(), SubmitError> {
    match exec.check_payload(tx) {
        Ok(result) => result.map_err(SubmitError::Rejected),
        Err(crate::ledger::TxInvalid::State(e)) => Err(SubmitError::Internal(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The machine's cores: how many signature checks run at once, at admission and import.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The block admission checks payloads against: the one after `head`, with no proposer, reveal
/// or votes (a tx's validity does not depend on them).
fn admission_env(head: &crate::storage::BlockRef) -> crate::ledger::BlockEnv {
    crate::ledger::BlockEnv {
        height: head.height.saturating_add(1),
        timestamp_ms: builder::now_ms(),
        proposer: crate::primitives::Address([0; 20]),
        parent: head.hash,
        reveal: Hash::ZERO,
    }
}
