//! The outcome of a run: the JSON report (everything measured, the schedule that was
//! played, the checks) and the plain-text summary printed at the end.

use crate::checks::{percentile, Check, EvidenceSeen};
use crate::compute::ComputeStats;
use crate::recorder::Sample;
use crate::schedule::Schedule;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

impl Percentiles {
    pub fn of(values: &[f64]) -> Percentiles {
        Percentiles {
            count: values.len(),
            p50: percentile(values, 50.0),
            p95: percentile(values, 95.0),
            p99: percentile(values, 99.0),
            max: percentile(values, 100.0),
        }
    }

    fn line(&self) -> String {
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
        format!(
            "p50 {} / p95 {} / p99 {} / max {} ms (n={})",
            f(self.p50),
            f(self.p95),
            f(self.p99),
            f(self.max),
            self.count
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeEnd {
    pub node: usize,
    pub validator: bool,
    pub up: bool,
    pub height: Option<u64>,
    pub head: Option<String>,
    pub crashes: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Traffic {
    /// Chunks (writes of noise frames) carried by the links, both directions.
    pub chunks: u64,
    pub bytes: u64,
    pub retransmitted_chunks: u64,
    pub connections: u64,
    pub refused_dials: u64,
    pub reset_connections: u64,
    /// Gossip messages the nodes judged (accepted / ignored / rejected), summed.
    pub gossip_accepted: u64,
    pub gossip_ignored: u64,
    pub gossip_rejected: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Txs {
    pub submitted: usize,
    pub included: usize,
    pub rejected: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub nodes: usize,
    pub validators: usize,
    pub duration_ms: u64,
    /// Time from the first node's start until every node was up; scenario times count from
    /// there.
    pub startup_ms: u64,
    pub wall_ms: u64,
    /// Peak resident memory of the process (VmHWM), if the OS tells.
    pub peak_rss_bytes: Option<u64>,
    pub passed: bool,
    pub converged: bool,
    pub checks: Vec<Check>,
    pub final_nodes: Vec<NodeEnd>,
    /// Distinct blocks among the running nodes at the lowest of their final heights: 1 when
    /// they are on one chain. (Their tips may differ by the block in flight: nodes stop one
    /// after another while the chain goes on.)
    pub distinct_heads: usize,
    /// From the last partition, heal, crash or restart until all running nodes were within
    /// one block of each other.
    pub converge_after_disturbance_ms: Option<u64>,
    pub block_propagation_ms: Percentiles,
    /// From submission to the first commit of the block that includes it.
    pub finality_ms: Percentiles,
    pub txs: Txs,
    pub traffic: Traffic,
    /// What each node recorded against each byzantine validator.
    pub evidence: Vec<EvidenceSeen>,
    /// Conflicting vote pairs the byzantine validators published.
    pub equivocations: u64,
    /// What became of the compute jobs, in a scenario with `[compute]`.
    pub compute: Option<ComputeStats>,
    pub schedule: Schedule,
    pub samples: Vec<Sample>,
    /// Raw propagation delays, for the histogram.
    pub propagation_values_ms: Vec<f64>,
}

impl Report {
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let verdict = if self.passed { "PASSED" } else { "FAILED" };
        let _ = writeln!(
            s,
            "netsim {} (seed {}): {verdict} -- {} nodes, {} validators, {:.1}s simulated, {:.1}s wall",
            self.scenario,
            self.seed,
            self.nodes,
            self.validators,
            self.duration_ms as f64 / 1000.0,
            self.wall_ms as f64 / 1000.0
        );
        let heights: Vec<u64> = self.final_nodes.iter().filter_map(|n| n.height).collect();
        let up = self.final_nodes.iter().filter(|n| n.up).count();
        let _ = writeln!(
            s,
            "  converged:        {} ({} of {} nodes running; heights {}..{}; {} distinct block(s) at the lowest)",
            if self.converged { "yes" } else { "NO" },
            up,
            self.nodes,
            heights.iter().min().copied().unwrap_or(0),
            heights.iter().max().copied().unwrap_or(0),
            self.distinct_heads
        );
        if let Some(ms) = self.converge_after_disturbance_ms {
            let _ = writeln!(s, "  converge after last disturbance: {:.1}s", ms as f64 / 1000.0);
        }
        let _ = writeln!(s, "  block propagation: {}", self.block_propagation_ms.line());
        let _ = writeln!(s, "  finality (tx):     {}", self.finality_ms.line());
        let _ = writeln!(
            s,
            "  txs:              {} submitted, {} included, {} rejected at submission",
            self.txs.submitted, self.txs.included, self.txs.rejected
        );
        let t = &self.traffic;
        let _ = writeln!(
            s,
            "  traffic:          {} chunks, {:.1} MB, {} retransmitted; {} connections, {} refused, {} reset; gossip {} accepted / {} ignored / {} rejected",
            t.chunks,
            t.bytes as f64 / 1e6,
            t.retransmitted_chunks,
            t.connections,
            t.refused_dials,
            t.reset_connections,
            t.gossip_accepted,
            t.gossip_ignored,
            t.gossip_rejected
        );
        if !self.schedule.byzantine.is_empty() {
            let recorded: Vec<String> = self
                .evidence
                .iter()
                .filter(|e| e.records > 0)
                .map(|e| format!("node {}: {} vs v{}", e.node, e.records, e.against))
                .collect();
            let _ = writeln!(
                s,
                "  byzantine:        validators {:?} published {} conflicting vote pairs; evidence recorded: {}",
                self.schedule.byzantine,
                self.equivocations,
                if recorded.is_empty() { "none".into() } else { recorded.join(", ") }
            );
        }
        if let Some(c) = &self.compute {
            let secs = |ms: Option<u64>| ms.map_or("-".into(), |ms| format!("{:.1}s", ms as f64 / 1000.0));
            let rate = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}"));
            let _ = writeln!(
                s,
                "  compute:          {} jobs posted, {} receipts ({} dishonest, {} of them matured), {} settled, {} refunded, \
                 {} expired; slashed {}",
                c.posted, c.receipts, c.dishonest, c.dishonest_matured, c.settled, c.refunded, c.expired, c.slashed
            );
            let _ = writeln!(
                s,
                "  compute rate:     all claimed {} after the first post ({} jobs/s); all settled or refunded {} after it \
                 ({} jobs/s end to end)",
                secs(c.claim_ms),
                rate(c.claimed_per_sec),
                secs(c.settle_ms),
                rate(c.settled_per_sec)
            );
        }
        if let Some(rss) = self.peak_rss_bytes {
            let _ = writeln!(s, "  peak RSS:         {:.0} MiB", rss as f64 / (1024.0 * 1024.0));
        }
        for c in &self.checks {
            let _ = writeln!(s, "  [{}] {}: {}", if c.passed { "ok" } else { "FAIL" }, c.name, c.detail);
        }
        s
    }
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}
