//! Counters for `GET /metrics` (Prometheus text format).

use crate::primitives::Header;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
    /// Txs of compact blocks that were not here and were fetched from a peer.
    txs_fetched: AtomicU64,
    /// RPC connections and calls refused, by [`RpcRefusal`].
    rpc_refused: [AtomicU64; 4],
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
}

impl RpcRefusal {
    const ALL: [RpcRefusal; 4] = [RpcRefusal::PerIp, RpcRefusal::HttpFull, RpcRefusal::WsFull, RpcRefusal::RateLimited];

    pub fn label(self) -> &'static str {
        match self {
            RpcRefusal::PerIp => "per-ip",
            RpcRefusal::HttpFull => "http-full",
            RpcRefusal::WsFull => "ws-full",
            RpcRefusal::RateLimited => "rate-limited",
        }
    }
}

impl Metrics {
    pub fn set_head(&self, height: u64, finalized: u64) {
        self.height.store(height, Relaxed);
        self.finalized.store(finalized, Relaxed);
    }

    pub fn set_mempool(&self, n: usize) {
        self.mempool.store(n as u64, Relaxed);
    }

    pub fn on_block(&self, h: &Header, parent_time_ms: Option<u64>, mempool: usize) {
        self.set_head(h.height, h.height);
        self.set_mempool(mempool);
        self.txs_applied.fetch_add(u64::from(h.tx_count), Relaxed);
        self.blocks.fetch_add(1, Relaxed);
        if let Some(p) = parent_time_ms {
            self.last_block_interval_ms.store(h.timestamp_ms.saturating_sub(p), Relaxed);
        }
    }

    pub fn on_gossip_signatures(&self, n: usize) {
        self.gossip_signatures.fetch_add(n as u64, Relaxed);
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
            "ergon_compact_block_txs_fetched_total",
            "counter",
            "Txs of compact blocks (proposals, gossiped blocks) missing here and fetched from a peer.",
            self.txs_fetched.load(Relaxed).to_string(),
        );
        let name = "ergon_rpc_refused_total";
        let _ = writeln!(
            out,
            "# HELP {name} RPC connections (per-ip, http-full, ws-full) and calls (rate-limited) refused since start.\n\
             # TYPE {name} counter"
        );
        for why in RpcRefusal::ALL {
            let _ = writeln!(out, "{name}{{reason=\"{}\"}} {}", why.label(), self.rpc_refused(why));
        }
        out
    }
}
