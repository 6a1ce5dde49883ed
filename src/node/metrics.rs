//! Counters for `GET /metrics` (Prometheus text format).

use crate::consensus::tendermint::Step;
use crate::consensus::TimeoutKind;
use crate::ledger::{AccountEvent, EventCause, Supply, TxOutcome};
use crate::primitives::{Header, Payload, SealedTx};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Default)]
pub struct Metrics {
    height: AtomicU64,
    finalized: AtomicU64,
    mempool: AtomicU64,
    txs_applied: AtomicU64,
    blocks: AtomicU64,
    last_block_interval_ms: AtomicU64,
    equivocations: AtomicU64,
    gossip_signatures: AtomicU64,
    /// Signatures of txs submitted over RPC verified (replays are refused before).
    rpc_signatures: AtomicU64,
    /// Reads of stored data that failed (checksum mismatch, undecodable record, I/O error).
    storage_read_errors: AtomicU64,
    /// Txs of compact blocks that were not here and were fetched from a peer.
    txs_fetched: AtomicU64,
    /// RPC connections and calls refused, by [`RpcRefusal`].
    rpc_refused: [AtomicU64; 5],
    /// The round of the height being decided.
    consensus_round: AtomicU64,
    /// Rounds started beyond a height's first.
    consensus_rounds: AtomicU64,
    /// Timeouts that moved consensus on, by [`TIMEOUT_STEPS`].
    consensus_timeouts: [AtomicU64; 3],
    /// Bytes of the txs waiting in the mempool.
    mempool_bytes: AtomicU64,
    /// Committed txs by payload type and whether they succeeded (type index into
    /// [`PAYLOAD_TYPES`], then ok/failed).
    txs_committed: [[AtomicU64; 2]; PAYLOAD_TYPES.len()],
    /// Validators slashed by the block hooks: double signing, downtime.
    slashes: [AtomicU64; 2],
    /// The head's supply counters, base units.
    supply: Mutex<Supply>,
    /// JSON-RPC calls and error replies by method (a name the node does not serve counts as
    /// `unknown`, so clients cannot grow the label set).
    rpc_calls: Mutex<BTreeMap<&'static str, RpcCalls>>,
}

/// The `type` label of the committed-tx counter, as the JSON form names payloads.
const PAYLOAD_TYPES: [&str; 14] = [
    "TRANSFER",
    "BATCH",
    "JOB_POST",
    "JOB_CANCEL",
    "RECEIPT_CLAIM",
    "STAKE",
    "UNSTAKE",
    "DELEGATE",
    "UNDELEGATE",
    "TRIAL_CLAIM",
    "FRAUD_PROOF",
    "PARAM_UPDATE",
    "UNJAIL",
    "VERDICT",
];

/// `payload`'s index in [`PAYLOAD_TYPES`] (a new payload fails to compile here until it has one).
fn payload_type(payload: &Payload) -> usize {
    match payload {
        Payload::Transfer(_) => 0,
        Payload::Batch(_) => 1,
        Payload::JobPost(_) => 2,
        Payload::JobCancel(_) => 3,
        Payload::ReceiptClaim(_) => 4,
        Payload::Stake(_) => 5,
        Payload::Unstake(_) => 6,
        Payload::Delegate(_) => 7,
        Payload::Undelegate(_) => 8,
        Payload::TrialClaim(_) => 9,
        Payload::FraudProof(_) => 10,
        Payload::ParamUpdate(_) => 11,
        Payload::Unjail => 12,
        Payload::Verdict(_) => 13,
    }
}

/// The `step` label of the timeout counter, by [`TimeoutKind`] (the pause between heights is
/// not a timeout of a round).
const TIMEOUT_STEPS: [(TimeoutKind, &str); 3] =
    [(TimeoutKind::Propose, "propose"), (TimeoutKind::Prevote, "prevote"), (TimeoutKind::Precommit, "precommit")];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RpcCalls {
    pub calls: u64,
    pub errors: u64,
}

/// Why the RPC server refused a connection or a call (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcRefusal {
    /// The address has its cap of open connections.
    PerIp = 0,
    /// Every HTTP connection slot is taken.
    HttpFull = 1,
    /// Every WebSocket connection slot is taken.
    WsFull = 2,
    /// The address is over its call rate.
    RateLimited = 3,
    /// A WebSocket closed for making no calls and holding no subscription
    /// (`--rpc-ws-idle-secs`).
    WsIdle = 4,
}

impl RpcRefusal {
    const ALL: [RpcRefusal; 5] =
        [RpcRefusal::PerIp, RpcRefusal::HttpFull, RpcRefusal::WsFull, RpcRefusal::RateLimited, RpcRefusal::WsIdle];

    pub fn label(self) -> &'static str {
        match self {
            RpcRefusal::PerIp => "per-ip",
            RpcRefusal::HttpFull => "http-full",
            RpcRefusal::WsFull => "ws-full",
            RpcRefusal::RateLimited => "rate-limited",
            RpcRefusal::WsIdle => "ws-idle",
        }
    }
}

impl Metrics {
    pub fn set_head(&self, height: u64, finalized: u64) {
        self.height.store(height, Relaxed);
        self.finalized.store(finalized, Relaxed);
    }

    /// The mempool's txs and their bytes.
    pub fn set_mempool(&self, txs: usize, bytes: usize) {
        self.mempool.store(txs as u64, Relaxed);
        self.mempool_bytes.store(bytes as u64, Relaxed);
    }

    /// A block committed; `mempool` is what it left there (txs, bytes).
    pub fn on_block(&self, h: &Header, parent_time_ms: Option<u64>, mempool: (usize, usize)) {
        self.set_head(h.height, h.height);
        self.set_mempool(mempool.0, mempool.1);
        self.txs_applied.fetch_add(u64::from(h.tx_count), Relaxed);
        self.blocks.fetch_add(1, Relaxed);
        if let Some(p) = parent_time_ms {
            self.last_block_interval_ms.store(h.timestamp_ms.saturating_sub(p), Relaxed);
        }
    }

    /// The engine went from `before` to `after` (height, round, step) on an input, which was
    /// the timeout of `timeout` if any: a timeout counts when it moved the engine (a stale one
    /// does not), and so does every round started past a height's first.
    pub fn on_consensus_step(&self, before: (u64, u32, Step), after: (u64, u32, Step), timeout: Option<TimeoutKind>) {
        self.consensus_round.store(u64::from(after.1), Relaxed);
        let rounds = if after.0 == before.0 { after.1.saturating_sub(before.1) } else { after.1 };
        self.consensus_rounds.fetch_add(u64::from(rounds), Relaxed);
        if let Some(i) = timeout.and_then(|k| TIMEOUT_STEPS.iter().position(|(t, _)| *t == k)) {
            if before != after {
                self.consensus_timeouts[i].fetch_add(1, Relaxed);
            }
        }
    }

    pub fn consensus_timeouts(&self, kind: TimeoutKind) -> u64 {
        TIMEOUT_STEPS.iter().position(|(t, _)| *t == kind).map_or(0, |i| self.consensus_timeouts[i].load(Relaxed))
    }

    /// What a committed block did: its txs by type and outcome, the validators its hooks
    /// slashed (an event that lowered a stake with a slashing cause), and the supply after it.
    pub fn on_block_contents(
        &self,
        txs: &[SealedTx],
        outcomes: &[TxOutcome],
        events: &[AccountEvent],
        supply: &Supply,
    ) {
        for (tx, outcome) in txs.iter().zip(outcomes) {
            let i = payload_type(&tx.signed().tx.payload);
            debug_assert_eq!(PAYLOAD_TYPES[i], tx.signed().tx.payload.kind());
            self.txs_committed[i][usize::from(outcome.result.is_err())].fetch_add(1, Relaxed);
        }
        for e in events.iter().filter(|e| e.after.staked < e.before.staked) {
            match e.cause {
                EventCause::Slash => self.slashes[0].fetch_add(1, Relaxed),
                EventCause::Downtime => self.slashes[1].fetch_add(1, Relaxed),
                _ => 0,
            };
        }
        *self.supply.lock().unwrap_or_else(|e| e.into_inner()) = *supply;
    }

    pub fn on_gossip_signatures(&self, n: usize) {
        self.gossip_signatures.fetch_add(n as u64, Relaxed);
    }

    pub fn on_rpc_signatures(&self, n: usize) {
        self.rpc_signatures.fetch_add(n as u64, Relaxed);
    }

    pub fn on_storage_read_error(&self) {
        self.storage_read_errors.fetch_add(1, Relaxed);
    }

    pub fn storage_read_errors(&self) -> u64 {
        self.storage_read_errors.load(Relaxed)
    }

    pub fn on_txs_fetched(&self, n: usize) {
        self.txs_fetched.fetch_add(n as u64, Relaxed);
    }

    pub fn on_evidence(&self) {
        self.equivocations.fetch_add(1, Relaxed);
    }

    pub fn on_rpc_refused(&self, why: RpcRefusal) {
        self.rpc_refused[why as usize].fetch_add(1, Relaxed);
    }

    /// One JSON-RPC call of `method` answered, with an error or not.
    pub fn on_rpc_call(&self, method: &'static str, error: bool) {
        let mut calls = self.rpc_calls.lock().unwrap_or_else(|e| e.into_inner());
        let c = calls.entry(method).or_default();
        c.calls += 1;
        c.errors += u64::from(error);
    }

    pub fn rpc_calls(&self, method: &str) -> RpcCalls {
        let calls = self.rpc_calls.lock().unwrap_or_else(|e| e.into_inner());
        calls.get(method).copied().unwrap_or_default()
    }

    pub fn rpc_refused(&self, why: RpcRefusal) -> u64 {
        self.rpc_refused[why as usize].load(Relaxed)
    }

    pub fn height(&self) -> u64 {
        self.height.load(Relaxed)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric("ergon_block_height", "gauge", "Height of the best block.", self.height.load(Relaxed).to_string());
        metric(
            "ergon_finalized_height",
            "gauge",
            "Height of the last finalized block.",
            self.finalized.load(Relaxed).to_string(),
        );
        metric(
            "ergon_mempool_size",
            "gauge",
            "Transactions waiting in the mempool.",
            self.mempool.load(Relaxed).to_string(),
        );
        metric(
            "ergon_mempool_bytes",
            "gauge",
            "Bytes of the transactions waiting in the mempool.",
            self.mempool_bytes.load(Relaxed).to_string(),
        );
        metric(
            "ergon_consensus_round",
            "gauge",
            "Round of the height being decided (0 when the first proposal is committed).",
            self.consensus_round.load(Relaxed).to_string(),
        );
        metric(
            "ergon_consensus_rounds_total",
            "counter",
            "Rounds started beyond a height's first since start (each one a failed round).",
            self.consensus_rounds.load(Relaxed).to_string(),
        );
        metric(
            "ergon_txs_applied_total",
            "counter",
            "Transactions included in blocks committed since start.",
            self.txs_applied.load(Relaxed).to_string(),
        );
        metric("ergon_blocks_total", "counter", "Blocks committed since start.", self.blocks.load(Relaxed).to_string());
        metric(
            "ergon_block_time_seconds",
            "gauge",
            "Time between the last two blocks' timestamps.",
            format!("{:.3}", self.last_block_interval_ms.load(Relaxed) as f64 / 1000.0),
        );
        metric(
            "ergon_equivocations_total",
            "counter",
            "Equivocations (two different votes by one validator) recorded since start.",
            self.equivocations.load(Relaxed).to_string(),
        );
        metric(
            "ergon_gossip_tx_signatures_checked_total",
            "counter",
            "Signatures of gossiped txs verified since start.",
            self.gossip_signatures.load(Relaxed).to_string(),
        );
        metric(
            "ergon_rpc_tx_signatures_checked_total",
            "counter",
            "Signatures of txs submitted over RPC verified since start (replays are refused before).",
            self.rpc_signatures.load(Relaxed).to_string(),
        );
        metric(
            "ergon_storage_read_errors_total",
            "counter",
            "Reads of stored data that failed (checksum mismatch, undecodable record, I/O error) since start.",
            self.storage_read_errors.load(Relaxed).to_string(),
        );
        metric(
            "ergon_compact_block_txs_fetched_total",
            "counter",
            "Txs of compact blocks (proposals, gossiped blocks) missing here and fetched from a peer.",
            self.txs_fetched.load(Relaxed).to_string(),
        );
        let name = "ergon_consensus_timeouts_total";
        let _ = writeln!(
            out,
            "# HELP {name} Round timeouts that moved consensus on since start, by step.\n# TYPE {name} counter"
        );
        for (i, (_, step)) in TIMEOUT_STEPS.iter().enumerate() {
            let _ = writeln!(out, "{name}{{step=\"{step}\"}} {}", self.consensus_timeouts[i].load(Relaxed));
        }
        let name = "ergon_rpc_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} RPC connections (per-ip, http-full, ws-full) and calls (rate-limited) refused, and idle WebSockets closed (ws-idle), since start.\n\
             # TYPE {name} counter"
        );
        for why in RpcRefusal::ALL {
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {}", why.label(), self.rpc_refused(why));
        }
        let name = "ergon_txs_committed_total";
        let _ = writeln!(
            out,
            "# HELP {name} Txs in blocks committed since start, by payload type and result (a failed tx \
             paid its fee and changed nothing else).\n# TYPE {name} counter"
        );
        for (t, counts) in PAYLOAD_TYPES.iter().zip(&self.txs_committed) {
            for (result, n) in ["ok", "failed"].iter().zip(counts) {
                let _ = writeln!(out, "{name}{{type=\"{t}\",result=\"{result}\"}} {}", n.load(Relaxed));
            }
        }
        let name = "ergon_slashes_total";
        let _ = writeln!(
            out,
            "# HELP {name} Validators slashed by committed blocks since start, by reason (fraud proofs \
             slash through FRAUD_PROOF txs).\n# TYPE {name} counter"
        );
        for (reason, n) in ["double-sign", "downtime"].iter().zip(&self.slashes) {
            let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {}", n.load(Relaxed));
        }
        let s = *self.supply.lock().unwrap_or_else(|e| e.into_inner());
        let name = "ergon_supply";
        let _ = writeln!(
            out,
            "# HELP {name} The head's supply counters in base units (0 until this node commits a block).\n\
             # TYPE {name} gauge"
        );
        for (kind, v) in [
            ("total", s.total),
            ("minted_reward", s.minted_reward),
            ("minted_compute", s.minted_compute),
            ("minted_trial", s.minted_trial),
            ("burned", s.burned),
        ] {
            let _ = writeln!(out, "{name}{{kind=\"{kind}\"}} {v}");
        }
        let name = "ergon_verified_units_total";
        let _ = writeln!(
            out,
            "# HELP {name} Compute units of every accepted receipt, as of the head.\n# TYPE {name} counter\n{name} {}",
            s.verified_units
        );
        let calls = self.rpc_calls.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (name, help, pick) in [
            (
                "ergon_rpc_calls_total",
                "JSON-RPC calls answered since start, by method.",
                (|c| c.calls) as fn(&RpcCalls) -> u64,
            ),
            ("ergon_rpc_errors_total", "JSON-RPC calls answered with an error since start, by method.", |c| c.errors),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (method, c) in &calls {
                let _ = writeln!(out, "{name}{{method=\"{method}\"}} {}", pick(c));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_counts_when_it_moves_consensus_and_rounds_past_the_first_count() {
        let m = Metrics::default();
        let at = |h, r, s| (h, r, s);
        // A propose timeout that moved the engine to prevote.
        m.on_consensus_step(at(5, 0, Step::Propose), at(5, 0, Step::Prevote), Some(TimeoutKind::Propose));
        // A stale one (the height was decided meanwhile) changes nothing and is not counted.
        m.on_consensus_step(at(6, 0, Step::Propose), at(6, 0, Step::Propose), Some(TimeoutKind::Propose));
        // A precommit timeout starts round 1, and a vote from round 3 skips ahead to it.
        m.on_consensus_step(at(6, 0, Step::Precommit), at(6, 1, Step::Propose), Some(TimeoutKind::Precommit));
        m.on_consensus_step(at(6, 1, Step::Propose), at(6, 3, Step::Propose), None);
        // A new height decided in its first round adds nothing.
        m.on_consensus_step(at(6, 3, Step::Precommit), at(7, 0, Step::Propose), None);
        assert_eq!(m.consensus_timeouts(TimeoutKind::Propose), 1);
        assert_eq!(m.consensus_timeouts(TimeoutKind::Precommit), 1);
        assert_eq!(m.consensus_timeouts(TimeoutKind::Prevote), 0);
        let text = m.render();
        assert!(text.contains("ergon_consensus_rounds_total 3\n"), "{text}");
        assert!(text.contains("ergon_consensus_round 0\n"), "{text}");
        assert!(text.contains("ergon_consensus_timeouts_total{step=\"propose\"} 1\n"), "{text}");
    }

    #[test]
    fn rpc_calls_are_counted_per_method() {
        let m = Metrics::default();
        m.on_rpc_call("chain_getHead", false);
        m.on_rpc_call("chain_getHead", true);
        m.on_rpc_call("unknown", true);
        assert_eq!(m.rpc_calls("chain_getHead"), RpcCalls { calls: 2, errors: 1 });
        let text = m.render();
        assert!(text.contains("ergon_rpc_calls_total{method=\"chain_getHead\"} 2\n"), "{text}");
        assert!(text.contains("ergon_rpc_errors_total{method=\"unknown\"} 1\n"), "{text}");
    }
}
