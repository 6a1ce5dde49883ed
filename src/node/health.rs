//! Whether the node is doing its job, for `GET /health` and `system_health`: `ok`, or
//! `degraded` with the reasons.
//!
//! - `no-peers`: the node should have peers and has none. It should when it was given
//!   bootnodes or reserved peers, or when it is a validator in a set of more than one (it
//!   cannot commit alone). A lone `--dev` validator is healthy without peers.
//! - `syncing`: a peer claims a finalized height more than [`SYNC_SLACK`] blocks above ours.
//! - `halted`: the head has not advanced while [`HALT_ROUNDS`] consensus rounds would have
//!   run their course (see [`halt_after`]), and the node is not catching up with a peer. Rounds
//!   are the unit because a healthy chain commits within one or two; the node measures them by
//!   the time their timeouts take, on its monotonic clock, rather than by counting timeouts
//!   fired: a validator without a quorum of any votes never reaches the prevote or precommit
//!   timeouts (Tendermint starts them only after a quorum), so it can sit in one round forever.
//!   Block timestamps (proposers' wall clocks) play no part.
//! - `storage-error`: the last block commit, the last write of the double-sign guard, or the
//!   read of the head failed (a full or failing disk). The node stops producing then. Also, until
//!   the node restarts, once a read of stored data failed (a checksum mismatch, a record that
//!   does not decode, an I/O error): damaged data does not heal, and only a read of that same
//!   record would show it again ([`HealthState::read_failed`]).
//!
//! Every evaluation goes through [`HealthState::observe`], which logs a change of reasons once:
//! a warning when the node becomes (or stays, with other reasons) degraded, info when it
//! recovers. A monitor task evaluates every [`MONITOR_EVERY`] so changes are logged even when
//! nobody asks.

use crate::chainspec::ConsensusParams;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Consensus rounds without a new block after which the chain counts as halted.
pub const HALT_ROUNDS: u64 = 3;
/// Blocks a node may trail its peers' claims before it counts as syncing: peers announce
/// heights as they commit, so a healthy node is often one behind for a moment.
pub const SYNC_SLACK: u64 = 2;
/// How often the monitor evaluates health (and so notices a transition).
pub const MONITOR_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    NoPeers,
    Syncing,
    Halted,
    StorageError,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NoPeers => "no-peers",
            Reason::Syncing => "syncing",
            Reason::Halted => "halted",
            Reason::StorageError => "storage-error",
        }
    }
}

/// One evaluation, as `/health` and `system_health` return it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: &'static str,
    /// Empty when `ok`.
    pub reasons: Vec<Reason>,
    pub height: u64,
    pub sync_target: u64,
    pub is_syncing: bool,
    pub peers: usize,
    pub should_have_peers: bool,
    /// Whole seconds since this node last saw its head advance.
    pub secs_since_new_block: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_error: Option<String>,
}

impl Health {
    pub fn is_ok(&self) -> bool {
        self.reasons.is_empty()
    }
}

/// What one evaluation looks at.
#[derive(Debug, Clone)]
pub struct Observed {
    pub height: u64,
    pub sync_target: u64,
    pub peers: usize,
    pub should_have_peers: bool,
    /// Since the head last advanced.
    pub stalled_for: Duration,
    pub halt_after: Duration,
    pub storage_error: Option<String>,
}

/// The health those observations amount to.
pub fn assess(o: Observed) -> Health {
    let syncing = o.sync_target > o.height.saturating_add(SYNC_SLACK);
    let mut reasons = Vec::new();
    if o.should_have_peers && o.peers == 0 {
        reasons.push(Reason::NoPeers);
    }
    if syncing {
        reasons.push(Reason::Syncing);
    } else if o.stalled_for >= o.halt_after {
        reasons.push(Reason::Halted);
    }
    if o.storage_error.is_some() {
        reasons.push(Reason::StorageError);
    }
    Health {
        status: if reasons.is_empty() { "ok" } else { "degraded" },
        reasons,
        height: o.height,
        sync_target: o.sync_target.max(o.height),
        is_syncing: o.sync_target > o.height,
        peers: o.peers,
        should_have_peers: o.should_have_peers,
        secs_since_new_block: o.stalled_for.as_secs(),
        storage_error: o.storage_error,
    }
}

/// How long [`HALT_ROUNDS`] rounds take when each times out: the pause before a height, then
/// per round `r` the propose timeout and both vote timeouts, each grown by `r` deltas.
pub fn halt_after(c: &ConsensusParams) -> Duration {
    let mut ms = c.block_time_ms;
    for r in 0..HALT_ROUNDS {
        let delta = c.timeout_delta_ms.saturating_mul(r);
        let round = c
            .propose_timeout_ms
            .saturating_add(delta)
            .saturating_add(c.vote_timeout_ms.saturating_add(delta).saturating_mul(2));
        ms = ms.saturating_add(round);
    }
    Duration::from_millis(ms)
}

/// A storage operation whose last failure degrades health until it next succeeds.
#[derive(Debug, Clone, Copy)]
pub(super) enum StorageOp {
    CommitBlock,
    SaveSignState,
    /// Reads of stored data; only failures are recorded ([`HealthState::read_failed`]).
    ReadData,
}

/// The health inputs the node keeps between evaluations; shared by the driver (which
/// records storage outcomes and the validator set) and the handle (which evaluates).
pub(super) struct HealthState {
    /// Bootnodes or reserved peers were configured.
    has_peers_configured: bool,
    /// This node is a validator in a set of more than one.
    in_shared_set: AtomicBool,
    halt_after: Duration,
    /// The last head height seen, and when it was first seen.
    head: Mutex<(u64, Instant)>,
    /// Last failure of each [`StorageOp`], cleared by its next success.
    storage: Mutex<[Option<String>; 3]>,
    /// The reasons last logged, for logging transitions once.
    reported: Mutex<Vec<Reason>>,
}

impl HealthState {
    pub(super) fn new(has_peers_configured: bool, consensus: &ConsensusParams, height: u64) -> Self {
        HealthState {
            has_peers_configured,
            in_shared_set: AtomicBool::new(false),
            halt_after: halt_after(consensus),
            head: Mutex::new((height, Instant::now())),
            storage: Mutex::new([None, None, None]),
            reported: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn set_in_shared_set(&self, yes: bool) {
        self.in_shared_set.store(yes, Ordering::Relaxed);
    }

    /// Records how a storage operation went.
    pub(super) fn storage_result<E: std::fmt::Display>(&self, op: StorageOp, result: Result<(), &E>) {
        let what = match op {
            StorageOp::CommitBlock => "committing a block",
            StorageOp::SaveSignState => "saving the double-sign guard",
            StorageOp::ReadData => "reading stored data",
        };
        let mut s = self.storage.lock().unwrap_or_else(|e| e.into_inner());
        s[op as usize] = result.err().map(|e| format!("{what}: {e}"));
    }

    /// A read of stored data failed. Kept until restart: other reads succeeding say nothing
    /// about the damaged record.
    pub(super) fn read_failed<E: std::fmt::Display>(&self, error: &E) {
        self.storage_result(StorageOp::ReadData, Err(&format!("{error}; run `ergon db check`")));
    }

    /// Evaluates health from the head (or the error reading it), the sync target and the
    /// peer count, and logs a change of reasons.
    pub(super) fn observe(&self, head: Result<u64, String>, sync_target: u64, peers: usize) -> Health {
        let now = Instant::now();
        let (height, stalled_for, read_error) = {
            let mut last = self.head.lock().unwrap_or_else(|e| e.into_inner());
            match head {
                Ok(h) => {
                    if h != last.0 {
                        *last = (h, now);
                    }
                    (h, now.duration_since(last.1), None)
                }
                Err(e) => (last.0, now.duration_since(last.1), Some(format!("reading the head: {e}"))),
            }
        };
        let storage_error = read_error.or_else(|| {
            let s = self.storage.lock().unwrap_or_else(|e| e.into_inner());
            s.iter().flatten().next().cloned()
        });
        let health = assess(Observed {
            height,
            sync_target,
            peers,
            should_have_peers: self.has_peers_configured || self.in_shared_set.load(Ordering::Relaxed),
            stalled_for,
            halt_after: self.halt_after,
            storage_error,
        });
        self.log_transition(&health);
        health
    }

    fn log_transition(&self, h: &Health) {
        let mut reported = self.reported.lock().unwrap_or_else(|e| e.into_inner());
        if *reported == h.reasons {
            return;
        }
        let names = |r: &[Reason]| r.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
        if h.reasons.is_empty() {
            tracing::info!(height = h.height, peers = h.peers, was = %names(&reported), "health: ok again");
        } else {
            tracing::warn!(
                reasons = %names(&h.reasons),
                height = h.height,
                peers = h.peers,
                secs_since_new_block = h.secs_since_new_block,
                storage_error = h.storage_error.as_deref().unwrap_or(""),
                "health: degraded"
            );
        }
        *reported = h.reasons.clone();
    }
}

/// Evaluates health every [`MONITOR_EVERY`] until the driver stops; then it lets go of its
/// handle (and so of the store) at once, even in the middle of an evaluation.
pub(super) async fn monitor(node: super::NodeHandle) {
    let mut tick = tokio::time::interval(MONITOR_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let evaluate = async {
        loop {
            tick.tick().await;
            node.health().await;
        }
    };
    tokio::select! {
        _ = node.commands.closed() => {}
        _ = evaluate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Observed {
        Observed {
            height: 10,
            sync_target: 10,
            peers: 3,
            should_have_peers: true,
            stalled_for: Duration::from_secs(1),
            halt_after: Duration::from_secs(20),
            storage_error: None,
        }
    }

    #[test]
    fn each_reason_comes_from_its_own_fact() {
        let h = assess(healthy());
        assert_eq!((h.status, h.reasons.as_slice()), ("ok", &[][..]));
        let cases: [(Observed, &[Reason]); 6] = [
            (Observed { peers: 0, ..healthy() }, &[Reason::NoPeers]),
            (Observed { peers: 0, should_have_peers: false, ..healthy() }, &[]),
            (Observed { sync_target: 12, ..healthy() }, &[]),
            (Observed { sync_target: 13, stalled_for: Duration::from_secs(60), ..healthy() }, &[Reason::Syncing]),
            (Observed { stalled_for: Duration::from_secs(20), ..healthy() }, &[Reason::Halted]),
            (
                Observed {
                    peers: 0,
                    stalled_for: Duration::from_secs(99),
                    storage_error: Some("disk".into()),
                    ..healthy()
                },
                &[Reason::NoPeers, Reason::Halted, Reason::StorageError],
            ),
        ];
        for (o, want) in cases {
            let h = assess(o.clone());
            assert_eq!(h.reasons, want, "{o:?}");
            assert_eq!(h.status, if want.is_empty() { "ok" } else { "degraded" });
        }
    }

    #[test]
    fn health_serializes_as_documented() {
        let h = assess(Observed { peers: 0, storage_error: Some("disk full".into()), ..healthy() });
        let v = serde_json::to_value(&h).unwrap();
        assert_eq!(v["status"], "degraded");
        assert_eq!(v["reasons"], serde_json::json!(["no-peers", "storage-error"]));
        for field in ["height", "syncTarget", "isSyncing", "peers", "shouldHavePeers", "secsSinceNewBlock"] {
            assert!(v.get(field).is_some(), "{field} in {v}");
        }
        assert_eq!(v["storageError"], "disk full");
        assert!(serde_json::to_value(assess(healthy())).unwrap().get("storageError").is_none());
    }

    #[test]
    fn halt_span_is_three_timed_out_rounds() {
        let spec = crate::chainspec::ChainSpec::load("dev").unwrap();
        let c = &spec.consensus;
        // 1000 + (3000 + 2*1000) + (3500 + 2*1500) + (4000 + 2*2000) with the dev timeouts.
        assert_eq!(
            (c.block_time_ms, c.propose_timeout_ms, c.vote_timeout_ms, c.timeout_delta_ms),
            (1000, 3000, 1000, 500)
        );
        assert_eq!(halt_after(c), Duration::from_millis(20_500));
    }

    #[test]
    fn storage_failures_clear_on_the_next_success() {
        let spec = crate::chainspec::ChainSpec::load("dev").unwrap();
        let s = HealthState::new(false, &spec.consensus, 5);
        assert!(s.observe(Ok(5), 0, 0).is_ok());
        s.storage_result(StorageOp::SaveSignState, Err(&"No space left on device"));
        let h = s.observe(Ok(6), 0, 0);
        assert_eq!(h.reasons, [Reason::StorageError]);
        assert_eq!(h.storage_error.as_deref(), Some("saving the double-sign guard: No space left on device"));
        s.storage_result::<String>(StorageOp::CommitBlock, Ok(()));
        assert!(!s.observe(Ok(7), 0, 0).is_ok(), "another operation's success does not clear it");
        s.storage_result::<String>(StorageOp::SaveSignState, Ok(()));
        assert!(s.observe(Ok(8), 0, 0).is_ok());
        assert_eq!(s.observe(Err("io error".into()), 0, 0).reasons, [Reason::StorageError]);
    }

    #[test]
    fn a_failed_read_of_stored_data_degrades_until_restart() {
        let spec = crate::chainspec::ChainSpec::load("dev").unwrap();
        let s = HealthState::new(false, &spec.consensus, 5);
        s.read_failed(&"Corruption: block checksum mismatch");
        s.storage_result::<String>(StorageOp::CommitBlock, Ok(()));
        let h = s.observe(Ok(6), 0, 0);
        assert_eq!(h.reasons, [Reason::StorageError]);
        let e = h.storage_error.unwrap();
        assert!(
            e.starts_with("reading stored data: Corruption: block checksum mismatch") && e.contains("db check"),
            "{e}"
        );
    }
}
