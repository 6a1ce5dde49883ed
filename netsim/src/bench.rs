//! `netsim bench`: commit latency and committed transfers per second of N validators over
//! simulated links, beside one validator measured the same way.
//!
//! The nodes are the real ones (as in a scenario run): `nodes` of them, the first `validators`
//! validators and the rest full nodes, every link `latency +- jitter` one way. After a
//! warm-up:
//!
//! - **idle**: for a while no load; every commit at every validator is timed from the
//!   block's header timestamp, which the proposer sets when it builds the block (one
//!   process, one clock), to the validator's `Finalized` event;
//! - **loaded**: `accounts x per_account` transfers, signed beforehand (round-major: every
//!   account's nonce 1, then every nonce 2, ...), are submitted in bulk (`submit_many`, 4096
//!   at a time), each account's to one node; committed transfers per second = all of them /
//!   (first submission to the commit, on validator 0, of the block holding the last).

use crate::chain;
use crate::checks::percentile;
use crate::link::Links;
use crate::node::{Shared, SimNode};
use crate::recorder::Recorder;
use crate::runner::{default_data_dir, RunError};
use crate::scenario::{LinkProfile, Span};
use ergon::mempool::MempoolConfig;
use ergon::node::ChainEvent;
use ergon::primitives::{Address, SignedTx};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub validators: usize,
    /// All nodes, validators included (at least `validators`).
    pub nodes: usize,
    pub latency: Duration,
    pub jitter: Duration,
    pub block_time: Duration,
    pub accounts: usize,
    /// Transfers per account (at most the mempool's nonce window, 64).
    pub per_account: u64,
    /// How long the idle phase times commits.
    pub idle: Duration,
    /// Give up on the loaded phase after this long.
    pub timeout: Duration,
    pub data_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
}

impl Latency {
    fn of(v: &[f64]) -> Latency {
        Latency { count: v.len(), p50_ms: percentile(v, 50.0), p95_ms: percentile(v, 95.0) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub validators: usize,
    pub nodes: usize,
    pub latency_ms: u64,
    pub jitter_ms: u64,
    pub block_time_ms: u64,
    /// Commit latency (header timestamp to commit at each validator) without load.
    pub idle: Latency,
    /// The same, while the transfers are being committed.
    pub loaded: Latency,
    pub transfers: u64,
    pub committed: u64,
    pub rejected: u64,
    pub seconds: f64,
    pub committed_per_sec: f64,
    /// Blocks with transfers in them, on validator 0.
    pub blocks: u64,
    /// Bytes sent over all links (both directions, below noise) from the first submission
    /// to the last commit, per committed transfer and node: what carrying one tx costs.
    pub bytes_per_tx_per_node: f64,
}

#[derive(Clone, Copy)]
struct Commit {
    node: usize,
    latency_ms: f64,
    tx_count: u32,
    at: Instant,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Signs every transfer beforehand; returns them per node (account `i` goes to node
/// `i % nodes`), each list in nonce order.
fn workload(spec: &ergon::chainspec::ChainSpec, o: &BenchOptions) -> Result<Vec<Vec<SignedTx>>, RunError> {
    let keys: Vec<_> = (0..o.accounts).map(chain::account_key).collect();
    let addrs: Vec<Address> = keys.iter().map(|k| Address::from_public_key(&k.public())).collect();
    let mut out = vec![Vec::new(); o.nodes];
    for nonce in 1..=o.per_account {
        for (i, key) in keys.iter().enumerate() {
            let to = addrs.get((i + 1) % addrs.len()).copied().unwrap_or(addrs[0]);
            let tx = chain::transfer(spec, key, nonce, to, 1)?;
            if let Some(v) = out.get_mut(i % o.nodes) {
                v.push(tx);
            }
        }
    }
    Ok(out)
}

pub async fn bench(o: &BenchOptions) -> Result<BenchReport, RunError> {
    let spec = chain::spec(o.validators, o.accounts, o.block_time)?;
    let work = workload(&spec, o)?;
    let transfers = work.iter().map(|w| w.len() as u64).sum::<u64>();
    let parent = o.data_dir.clone().unwrap_or_else(default_data_dir);
    let dir = tempfile::Builder::new().prefix("netsim-bench-").tempdir_in(&parent).map_err(RunError::Dir)?;
    let profile = LinkProfile { latency: Span(o.latency), jitter: Span(o.jitter), ..LinkProfile::default() };
    let links = Links::new(o.nodes, profile, 0);
    let shared = Arc::new(Shared {
        spec: spec.clone(),
        links: links.clone(),
        recorder: Recorder::new(o.nodes, links.clone()),
        bootnodes: (0..o.nodes).map(|i| (0..i).collect()).collect(),
        validators: o.validators,
        byzantine: vec![],
        roles: vec![],
        mempool: MempoolConfig { max_txs: transfers as usize * 2 + 1000, max_bytes: 512 << 20, ..Default::default() },
    });
    let mut nodes: Vec<SimNode> = (0..o.nodes).map(|i| SimNode::new(i, dir.path().join(format!("node-{i}")))).collect();
    for n in &mut nodes {
        n.start(&shared).await?;
    }
    let handles: Vec<_> = nodes.iter().filter_map(|n| n.handle().cloned()).collect();
    let commits: Arc<Mutex<Vec<Commit>>> = Arc::default();
    let mut watchers = Vec::new();
    for (node, h) in handles.iter().enumerate() {
        let mut events = h.subscribe();
        let commits = commits.clone();
        watchers.push(tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                if let ChainEvent::Finalized(head) = e {
                    let latency_ms = now_ms().saturating_sub(head.timestamp_ms) as f64;
                    let c = Commit { node, latency_ms, tx_count: head.tx_count, at: Instant::now() };
                    commits.lock().unwrap_or_else(|e| e.into_inner()).push(c);
                }
            }
        }));
    }
    let taken = |since: Instant| -> Vec<Commit> {
        commits.lock().unwrap_or_else(|e| e.into_inner()).iter().filter(|c| c.at >= since).copied().collect()
    };
    // Warm-up: every validator has committed a few heights (connected, rounds going).
    let warm = Instant::now();
    while handles.iter().any(|h| h.store().head().map_or(true, |x| x.height < 3)) && warm.elapsed() < o.timeout {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let idle_from = Instant::now();
    tokio::time::sleep(o.idle).await;
    let idle: Vec<f64> = taken(idle_from).iter().map(|c| c.latency_ms).collect();

    let start = Instant::now();
    let bytes_before = links.counters.bytes.load(std::sync::atomic::Ordering::Relaxed);
    let mut submitters = Vec::new();
    for (h, txs) in handles.iter().cloned().zip(work) {
        submitters.push(tokio::spawn(async move {
            let mut rejected = 0u64;
            let mut it = txs.into_iter().peekable();
            while it.peek().is_some() {
                let chunk: Vec<SignedTx> = it.by_ref().take(4096).collect();
                rejected += h.submit_many(chunk).await.iter().filter(|r| r.is_err()).count() as u64;
            }
            rejected
        }));
    }
    let mut rejected = 0;
    for s in submitters {
        rejected += s.await.unwrap_or(0);
    }
    let target = transfers.saturating_sub(rejected);
    let (committed, last, blocks) = loop {
        let seen: Vec<Commit> = taken(start).into_iter().filter(|c| c.node == 0).collect();
        let committed: u64 = seen.iter().map(|c| u64::from(c.tx_count)).sum();
        let last = seen.last().map_or(start, |c| c.at);
        if committed >= target || start.elapsed() > o.timeout {
            break (committed, last, seen.iter().filter(|c| c.tx_count > 0).count() as u64);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let bytes = links.counters.bytes.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(bytes_before);
    let loaded: Vec<f64> = taken(start).iter().filter(|c| c.at <= last).map(|c| c.latency_ms).collect();
    let seconds = last.duration_since(start).as_secs_f64();
    for w in watchers {
        w.abort();
    }
    drop(handles);
    for n in &mut nodes {
        n.stop().await;
    }
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Ok(BenchReport {
        validators: o.validators,
        nodes: o.nodes,
        latency_ms: ms(o.latency),
        jitter_ms: ms(o.jitter),
        block_time_ms: ms(o.block_time),
        idle: Latency::of(&idle),
        loaded: Latency::of(&loaded),
        transfers,
        committed,
        rejected,
        seconds,
        committed_per_sec: if seconds > 0.0 { committed as f64 / seconds } else { 0.0 },
        blocks,
        bytes_per_tx_per_node: bytes as f64 / committed.max(1) as f64 / o.nodes.max(1) as f64,
    })
}

impl BenchReport {
    /// One line per figure, for the terminal.
    pub fn summary(&self) -> String {
        let f = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
        let rtt = 2 * self.latency_ms;
        format!(
            "{} validator(s) of {} node(s), links {} ms +- {} ms one way, block time {} ms\n  \
             commit latency idle:   p50 {} / p95 {} ms (n={}; target <= 3 round trips + 50 = {} ms)\n  \
             commit latency loaded: p50 {} / p95 {} ms (n={})\n  \
             committed {} of {} transfers ({} rejected) in {:.2}s: {:.0} transfers/s, {} blocks\n  \
             on the wire: {:.0} bytes per committed transfer per node\n",
            self.validators,
            self.nodes,
            self.latency_ms,
            self.jitter_ms,
            self.block_time_ms,
            f(self.idle.p50_ms),
            f(self.idle.p95_ms),
            self.idle.count,
            3 * rtt + 50,
            f(self.loaded.p50_ms),
            f(self.loaded.p95_ms),
            self.loaded.count,
            self.committed,
            self.transfers,
            self.rejected,
            self.seconds,
            self.committed_per_sec,
            self.blocks,
            self.bytes_per_tx_per_node
        )
    }
}
