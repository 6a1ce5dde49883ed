//! What the simulator saw: when each node committed each block, which block each height
//! holds (first seen wins; a different one later is a safety violation), the load's
//! transactions, and periodic samples of every node's height, mempool size and peer count.
//!
//! Nodes are watched from outside, through their handle's event stream and their store,
//! exactly as an RPC client would; nothing in a node is instrumented for the simulator.

use crate::link::Links;
use ergon::node::{ChainEvent, NodeHandle};
use ergon::primitives::Hash;
use ergon::storage::Store;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The first node to commit a height, and what it committed.
#[derive(Debug, Clone)]
pub struct Canonical {
    pub hash: Hash,
    pub state_root: Hash,
    pub first_node: usize,
    pub at_us: u64,
    /// Nodes that were up and reachable from `first_node` when it committed.
    pub reachable: HashSet<usize>,
    /// Transactions in the block.
    pub txs: usize,
}

/// A height's first commit anywhere, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BlockCommit {
    pub height: u64,
    /// On the recorder's clock (ms since the run began, startup included).
    pub at_ms: u64,
    pub first_node: usize,
    pub txs: usize,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Arrival {
    pub node: usize,
    pub height: u64,
    pub at_us: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t_ms: u64,
    /// `None`: the node is down.
    pub heights: Vec<Option<u64>>,
    /// Validators with more than 2/3 of the stake are up and on one side.
    pub quorum: bool,
    /// Transactions in each node's mempool, as its `ergon_mempool_size` metric says (`None`:
    /// down).
    pub mempool: Vec<Option<u64>>,
    /// Each node's connected peers, as its network reports them (`None`: down, or not
    /// answered yet). Asked in the background, so up to one sample late.
    pub peers: Vec<Option<usize>>,
}

#[derive(Default)]
struct Inner {
    canonical: BTreeMap<u64, Canonical>,
    arrivals: Vec<Arrival>,
    last: Vec<u64>,
    safety: Vec<String>,
    submitted: HashMap<Hash, u64>,
    included: HashMap<Hash, u64>,
    rejected: u64,
    samples: Vec<Sample>,
}

pub struct Recorder {
    start: Instant,
    links: Arc<Links>,
    inner: Mutex<Inner>,
}

impl Recorder {
    pub fn new(nodes: usize, links: Arc<Links>) -> Arc<Recorder> {
        let inner = Inner { last: vec![0; nodes], ..Default::default() };
        Arc::new(Recorder { start: Instant::now(), links, inner: Mutex::new(inner) })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000
    }

    /// Records every block in `node`'s store above what was recorded for it.
    pub fn catch_up(&self, node: usize, store: &Store) {
        let Ok(head) = store.head() else { return };
        let from = self.inner().last.get(node).copied().unwrap_or(0).saturating_add(1);
        for height in from..=head.height {
            let Ok(Some(header)) = store.header(height) else { return };
            let now = self.now_us();
            let hash = header.hash();
            let mut inner = self.inner();
            if let Some(l) = inner.last.get_mut(node) {
                *l = height;
            }
            inner.arrivals.push(Arrival { node, height, at_us: now });
            match inner.canonical.get(&height) {
                Some(c) if c.hash != hash => {
                    let v = format!(
                        "height {height}: node {} committed {}, node {node} committed {hash}",
                        c.first_node, c.hash
                    );
                    inner.safety.push(v);
                }
                Some(_) => {}
                None => {
                    drop(inner);
                    let reachable = self.links.components().into_iter().find(|g| g.contains(&node)).unwrap_or_default();
                    let txs: Vec<Hash> = store
                        .block(height)
                        .ok()
                        .flatten()
                        .map(|b| b.txs.iter().map(|t| t.hash()).collect())
                        .unwrap_or_default();
                    let count = txs.len();
                    let mut inner = self.inner();
                    for tx in txs {
                        inner.included.entry(tx).or_insert(now);
                    }
                    inner.canonical.entry(height).or_insert(Canonical {
                        hash,
                        state_root: header.state_root,
                        first_node: node,
                        at_us: now,
                        reachable: reachable.into_iter().collect(),
                        txs: count,
                    });
                }
            }
        }
    }

    pub fn submitted(&self, tx: Hash) {
        let now = self.now_us();
        self.inner().submitted.insert(tx, now);
    }

    pub fn rejected(&self) {
        self.inner().rejected += 1;
    }

    pub fn is_included(&self, tx: &Hash) -> bool {
        self.inner().included.contains_key(tx)
    }

    /// Records a sample taken now (its `t_ms` is set here).
    pub fn sample(&self, mut sample: Sample) {
        sample.t_ms = self.now_ms();
        self.inner().samples.push(sample);
    }

    pub fn safety_violations(&self) -> Vec<String> {
        self.inner().safety.clone()
    }

    pub fn samples(&self) -> Vec<Sample> {
        self.inner().samples.clone()
    }

    /// When each height was first committed (ms), for liveness.
    pub fn first_commits_ms(&self) -> Vec<(u64, u64)> {
        self.inner().canonical.iter().map(|(h, c)| (*h, c.at_us / 1000)).collect()
    }

    /// Every height's first commit, in height order.
    pub fn blocks(&self) -> Vec<BlockCommit> {
        let inner = self.inner();
        inner
            .canonical
            .iter()
            .map(|(h, c)| BlockCommit { height: *h, at_ms: c.at_us / 1000, first_node: c.first_node, txs: c.txs })
            .collect()
    }

    /// When each tx of the load was submitted (ms, recorder clock), unordered.
    pub fn submission_times_ms(&self) -> Vec<u64> {
        self.inner().submitted.values().map(|t| t / 1000).collect()
    }

    pub fn canonical(&self, height: u64) -> Option<Canonical> {
        self.inner().canonical.get(&height).cloned()
    }

    /// Delay (ms) from a block's first commit to its commit on each other node that was up and
    /// reachable then.
    pub fn propagation_ms(&self) -> Vec<f64> {
        let inner = self.inner();
        inner
            .arrivals
            .iter()
            .filter_map(|a| {
                let c = inner.canonical.get(&a.height)?;
                (a.node != c.first_node && c.reachable.contains(&a.node))
                    .then(|| a.at_us.saturating_sub(c.at_us) as f64 / 1000.0)
            })
            .collect()
    }

    /// (submitted, included, rejected, inclusion delays in ms).
    pub fn txs(&self) -> (usize, usize, u64, Vec<f64>) {
        let inner = self.inner();
        let delays: Vec<f64> = inner
            .submitted
            .iter()
            .filter_map(|(h, t)| inner.included.get(h).map(|i| i.saturating_sub(*t) as f64 / 1000.0))
            .collect();
        (inner.submitted.len(), delays.len(), inner.rejected, delays)
    }
}

/// Follows one node's commits until its event stream ends.
pub async fn observe(node: usize, handle: NodeHandle, recorder: Arc<Recorder>) {
    let mut events = handle.subscribe();
    let store = handle.store().clone();
    drop(handle);
    recorder.catch_up(node, &store);
    loop {
        match events.recv().await {
            Ok(ChainEvent::Finalized(_)) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                recorder.catch_up(node, &store)
            }
            Ok(ChainEvent::NewHead(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
}
