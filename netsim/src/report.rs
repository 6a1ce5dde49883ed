//! The outcome of a run: the JSON report (everything measured, the schedule that was
//! played, the checks) and the plain-text summary printed at the end.

use crate::checks::{percentile, Check, EvidenceSeen};
use crate::compute::ComputeStats;
use crate::recorder::{BlockCommit, Sample};
use crate::scenario::Scenario;
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

/// A node at the end of the run, as it was just before it was stopped.
#[derive(Debug, Clone, Serialize)]
pub struct NodeEnd {
    pub node: usize,
    pub validator: bool,
    pub up: bool,
    pub height: Option<u64>,
    pub head: Option<String>,
    pub crashes: u32,
    /// Connected peers, as its network reported them.
    pub peers: Option<usize>,
    /// Transactions waiting in its mempool (its `ergon_mempool_size` metric).
    pub mempool: Option<u64>,
    /// Transactions in the blocks of its chain, up to its height.
    pub txs: u64,
    /// Evidence records (equivocations) in its store, against anyone.
    pub evidence: usize,
}

/// One second of the run: transactions submitted, transactions committed (in blocks first
/// committed that second, anywhere) and those blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Throughput {
    /// Seconds since the scenario started (commits during startup count in second 0).
    pub second: u64,
    pub submitted: u64,
    pub committed: u64,
    pub blocks: u64,
}

/// Per-second throughput from submission times and first commits (ms on the recorder's
/// clock); `t0_ms` is when the scenario started.
pub fn throughput(submitted_ms: &[u64], blocks: &[BlockCommit], t0_ms: u64) -> Vec<Throughput> {
    let second = |t: u64| t.saturating_sub(t0_ms) / 1000;
    let last = submitted_ms.iter().copied().chain(blocks.iter().map(|b| b.at_ms)).map(second).max();
    let Some(last) = last else { return Vec::new() };
    let index = |t: u64| usize::try_from(second(t)).unwrap_or(usize::MAX);
    let mut bins: Vec<Throughput> =
        (0..=last).map(|second| Throughput { second, submitted: 0, committed: 0, blocks: 0 }).collect();
    for t in submitted_ms {
        if let Some(b) = bins.get_mut(index(*t)) {
            b.submitted += 1;
        }
    }
    for c in blocks {
        if let Some(b) = bins.get_mut(index(c.at_ms)) {
            b.committed += c.txs as u64;
            b.blocks += 1;
        }
    }
    bins
}

/// Transactions in the blocks up to `height` (from their first commits).
pub fn txs_up_to(blocks: &[BlockCommit], height: u64) -> u64 {
    blocks.iter().filter(|b| b.height <= height).map(|b| b.txs as u64).sum()
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
    /// The scenario's name.
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
    /// The scenario as it was played (flags applied).
    pub parameters: Scenario,
    pub schedule: Schedule,
    /// Every node's height, mempool size and peer count, every 500 ms.
    pub samples: Vec<Sample>,
    /// Every height's first commit, with its transactions.
    pub blocks: Vec<BlockCommit>,
    pub throughput: Vec<Throughput>,
    /// Raw propagation delays, for the histogram.
    pub propagation_values_ms: Vec<f64>,
    /// Raw finality delays (tx submission to the first commit of its block), for the CDF.
    pub finality_values_ms: Vec<f64>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn block(height: u64, at_ms: u64, txs: usize) -> BlockCommit {
        BlockCommit { height, at_ms, first_node: 0, txs }
    }

    #[test]
    fn throughput_counts_per_second_of_the_scenario() {
        // The scenario starts at 2000 ms; a block during startup counts in second 0.
        let blocks = [block(1, 1500, 0), block(2, 2400, 3), block(3, 2900, 1), block(4, 5100, 2)];
        let submitted = [2100, 2200, 2300, 3999, 4000];
        let t = throughput(&submitted, &blocks, 2000);
        assert_eq!(t.len(), 4, "{t:?}");
        assert_eq!((t[0].submitted, t[0].committed, t[0].blocks), (3, 4, 3));
        assert_eq!((t[1].submitted, t[1].committed, t[1].blocks), (1, 0, 0));
        assert_eq!((t[2].submitted, t[2].committed), (1, 0));
        assert_eq!((t[3].second, t[3].committed, t[3].blocks), (3, 2, 1));
        assert!(throughput(&[], &[], 0).is_empty());
        assert_eq!(txs_up_to(&blocks, 3), 4);
    }
}
