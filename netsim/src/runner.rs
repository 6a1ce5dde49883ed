//! Plays a schedule: starts every node, applies events and the transaction load on time,
//! samples heights, then lets the nodes settle, stops them and runs the checks.
//!
//! Time is real (tokio's clock, not paused): the nodes are real, with RocksDB and libp2p
//! timers, so a run of 60 simulated seconds takes about 60 seconds. Scenario times count
//! from the moment every node is up.

use crate::byzantine::Equivocator;
use crate::chain;
use crate::checks::{self, Check, EvidenceSeen};
use crate::compute::{self, Client};
use crate::link::Links;
use crate::node::{NodeError, Shared, SimNode};
use crate::recorder::{Recorder, Sample};
use crate::report::{peak_rss_bytes, throughput, txs_up_to, NodeEnd, Percentiles, Report, Traffic, Txs};
use crate::scenario::{ByzantineKind, Compute, Expect, Scenario};
use crate::schedule::{Action, Schedule};
use ergon::primitives::{Address, Hash};
use std::collections::BTreeSet;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    #[error(transparent)]
    Chain(#[from] chain::ChainError),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("cannot create the nodes' data directory: {0}")]
    Dir(std::io::Error),
    #[error("compute: {0}")]
    Compute(String),
}

pub type Result<T> = std::result::Result<T, RunError>;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Print a progress line to stderr while running.
    pub progress: bool,
    /// Where the nodes' stores go (a fresh temporary directory inside it, removed after the
    /// run); `None`: [`default_data_dir`].
    pub data_dir: Option<std::path::PathBuf>,
}

/// `/dev/shm` when there is one: every node commits each block with a synced write, and a
/// hundred nodes' fsyncs on one disk would make the disk, not the network, the bottleneck
/// the run measures. Otherwise the system's temporary directory.
pub fn default_data_dir() -> std::path::PathBuf {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

const TICK: Duration = Duration::from_millis(50);
const SAMPLE_MS: u64 = 500;
/// A sender whose tx has not landed after this is free again (it re-reads its nonce).
const TX_PATIENCE_MS: u64 = 15_000;

type Nodes = Vec<Arc<Mutex<SimNode>>>;

struct Sender {
    key: ergon::primitives::Keypair,
    in_flight: Option<(Hash, u64)>,
}

/// Runs `scenario` to the end and returns its report; the caller decides what a failed check
/// means (the CLI exits non-zero).
pub async fn run(scenario: &Scenario, opts: &RunOptions) -> Result<Report> {
    let wall = std::time::Instant::now();
    let schedule = Schedule::build(scenario)?;
    let accounts = scenario.load.as_ref().map_or(0, |l| l.accounts);
    let spec = chain::spec(schedule.validators, accounts, scenario.block_time.0)?;
    let parent = opts.data_dir.clone().unwrap_or_else(default_data_dir);
    let dir = tempfile::Builder::new().prefix("netsim-").tempdir_in(&parent).map_err(RunError::Dir)?;
    let links = Links::new(schedule.nodes, scenario.link, schedule.seed);
    let recorder = Recorder::new(schedule.nodes, links.clone());
    let shared = Arc::new(Shared {
        spec: spec.clone(),
        links: links.clone(),
        recorder: recorder.clone(),
        bootnodes: schedule.bootnodes.clone(),
        validators: schedule.validators,
        byzantine: schedule.byzantine.clone(),
        // A small mempool: a hundred nodes share one machine's memory.
        mempool: ergon::mempool::MempoolConfig { max_txs: 20_000, max_bytes: 16 << 20, ..Default::default() },
        roles: compute::roles(scenario),
    });
    let nodes: Nodes = (0..schedule.nodes)
        .map(|i| Arc::new(Mutex::new(SimNode::new(i, dir.path().join(format!("node-{i}"))))))
        .collect();
    for n in &nodes {
        n.lock().await.start(&shared).await?;
    }
    let mut client = match &scenario.compute {
        Some(c) => Some(start_compute(c, &spec, &nodes).await?),
        None => None,
    };
    let t0 = recorder.now_ms();
    let duration_ms = u64::try_from(scenario.duration.0.as_millis()).unwrap_or(u64::MAX);
    let mut senders: Vec<Sender> =
        (0..accounts).map(|i| Sender { key: chain::account_key(i), in_flight: None }).collect();
    let recipients: Vec<Address> =
        (0..accounts).map(|i| Address::from_public_key(&chain::account_key(i).public())).collect();
    let mut progress = Progress::new(opts.progress, duration_ms);
    let (mut next_event, mut next_tx, mut next_sample, mut cursor) = (0usize, 0usize, 0u64, 0usize);
    let mut restarts = Vec::new();
    // Nodes a crash storm's last kill took down.
    let mut storm_down = BTreeSet::new();
    let mut liars: Vec<(usize, Equivocator, u64, u64)> = scenario
        .byzantine_of(ByzantineKind::Equivocate)
        .map(|b| {
            let from = b.from.map_or(2000, |s| span_ms(s.0));
            let until = b.until.map_or(u64::MAX, |s| span_ms(s.0));
            (b.node, Equivocator::new(chain::validator_key(b.node), spec.chain_id.clone()), from, until)
        })
        .collect();
    let peer_counts = PeerCounts::new(schedule.nodes);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let t = recorder.now_ms().saturating_sub(t0);
        if t >= duration_ms {
            break;
        }
        while let Some(e) = schedule.events.get(next_event).filter(|e| e.at_ms <= t) {
            next_event += 1;
            tracing::info!(t_ms = t, event = %e.action, "event");
            match &e.action {
                Action::Partition { groups } => links.partition(groups),
                Action::Heal => links.heal(),
                Action::SetLinks { from, to, profile } => links.set_profile(from, to, *profile),
                Action::Crash { node } => {
                    if let Some(n) = nodes.get(*node) {
                        n.lock().await.crash(&shared).await;
                    }
                }
                // Restarts wait for the old instance to let go; the run goes on meanwhile.
                Action::Restart { node } => {
                    if let Some(n) = nodes.get(*node).cloned() {
                        let shared = shared.clone();
                        restarts.push(tokio::spawn(async move { n.lock().await.start(&shared).await }));
                    }
                }
                Action::StormKill { nodes: targets, until_height } => {
                    let top = heights(&nodes).into_iter().flatten().max().unwrap_or(0);
                    if until_height.is_none_or(|h| top < h) {
                        for i in targets {
                            if let Some(n) = nodes.get(*i) {
                                n.lock().await.kill(&shared).await;
                                storm_down.insert(*i);
                            }
                        }
                    }
                }
                Action::StormRestart { nodes: targets } => {
                    for i in targets {
                        if let Some(n) = nodes.get(*i).cloned().filter(|_| storm_down.remove(i)) {
                            let shared = shared.clone();
                            restarts.push(tokio::spawn(async move { n.lock().await.start(&shared).await }));
                        }
                    }
                }
            }
        }
        while let Some(p) = schedule.txs.get(next_tx).filter(|p| p.at_ms <= t) {
            next_tx += 1;
            let Some(to) = recipients.get(p.to).copied() else { continue };
            submit(&nodes, &shared, &mut senders, &mut cursor, p.node, to, u128::from(p.amount), t).await;
        }
        if let Some(c) = client.as_mut() {
            if let Some(h) = any_handle(&nodes) {
                c.tick(t, &h).await;
            }
        }
        for (node, liar, from, until) in &mut liars {
            if (*from..*until).contains(&t) {
                if let Some(h) = nodes.get(*node).and_then(|n| n.try_lock().ok()).and_then(|n| n.handle().cloned()) {
                    liar.tick(&h, t);
                }
            }
        }
        if t >= next_sample {
            next_sample = t + SAMPLE_MS;
            let heights = heights(&nodes);
            peer_counts.refresh(&nodes);
            recorder.sample(Sample {
                t_ms: 0,
                heights: heights.clone(),
                quorum: quorum(&links, &schedule),
                mempool: nodes
                    .iter()
                    .map(|n| n.try_lock().ok().and_then(|n| n.handle().and_then(mempool_size)))
                    .collect(),
                peers: peer_counts.get(&heights),
            });
            progress.show(t, &heights, &recorder);
        }
        tick.tick().await;
    }
    progress.finish();
    for r in restarts {
        if let Ok(Err(e)) = r.await {
            return Err(e.into());
        }
    }
    // Compute settles first: every job's receipt matures or is invalidated (the challenge
    // window runs past the scenario's end).
    if let (Some(c), Some(cfg)) = (&client, &scenario.compute) {
        let deadline = tokio::time::Instant::now() + cfg.settle_within.0;
        while tokio::time::Instant::now() < deadline {
            if reference_store(&nodes).is_some_and(|s| c.unsettled(&s) == 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Settle: every running node must reach the highest head any has now.
    let end_ms = recorder.now_ms();
    let target = heights(&nodes).into_iter().flatten().max().unwrap_or(0);
    let bound = scenario.converge_within.0;
    let settle_deadline = tokio::time::Instant::now() + bound;
    let mut settled_at = None;
    while tokio::time::Instant::now() < settle_deadline {
        let hs = heights(&nodes);
        if hs.iter().flatten().all(|h| *h >= target) && hs.iter().any(|h| h.is_some()) {
            settled_at = Some(recorder.now_ms());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Stop everything, keeping the stores open for the checks.
    let mut traffic = Traffic::default();
    let mut stores = Vec::new();
    let mut final_nodes = Vec::new();
    let mut evidence = Vec::new();
    // Peers and mempools as the run left them, asked before any node stops (a stopped
    // node's peers lose it).
    let mut last_seen = Vec::new();
    for n in &nodes {
        let n = n.lock().await;
        let peers = match n.handle().and_then(|h| h.network().cloned()) {
            Some(net) => net.peers().await.ok().map(|p| p.len()),
            None => None,
        };
        last_seen.push((peers, n.handle().and_then(mempool_size)));
    }
    for n in &nodes {
        let mut n = n.lock().await;
        if let Some(net) = n.handle().and_then(|h| h.network().cloned()) {
            if let Ok(c) = net.counters().await.map(|c| c.total()) {
                traffic.gossip_accepted += c.accepted;
                traffic.gossip_ignored += c.ignored;
                traffic.gossip_rejected += c.rejected;
            }
        }
        let (peers, mempool) = last_seen.get(n.index).copied().unwrap_or_default();
        let head = n.head();
        let crashes = n.crashes;
        let store = n.stop().await;
        let mut records = 0;
        if let Some(s) = &store {
            recorder.catch_up(n.index, s);
            evidence.extend(evidence_seen(n.index, s, &schedule));
            records = s.evidence(0, 100_000).map_or(0, |e| e.len());
        }
        final_nodes.push(NodeEnd {
            node: n.index,
            validator: schedule.is_validator(n.index),
            up: store.is_some(),
            height: head.map(|h| h.0),
            head: head.map(|h| h.1.to_string()),
            crashes,
            peers,
            mempool,
            txs: 0,
            evidence: records,
        });
        stores.push((n.index, store));
    }
    let blocks = recorder.blocks();
    for n in &mut final_nodes {
        n.txs = n.height.map_or(0, |h| txs_up_to(&blocks, h));
    }
    let c = &links.counters;
    traffic.chunks = c.chunks.load(Relaxed);
    traffic.bytes = c.bytes.load(Relaxed);
    traffic.retransmitted_chunks = c.retransmitted.load(Relaxed);
    traffic.connections = c.connections.load(Relaxed);
    traffic.refused_dials = c.refused.load(Relaxed);
    // Both pumps of a connection count its reset.
    traffic.reset_connections = c.resets.load(Relaxed) / 2;

    let last_disturbance = schedule.last_disturbance_ms();
    let samples = recorder.samples();
    let converge_after = (last_disturbance > 0).then(|| {
        let from = t0 + last_disturbance;
        samples
            .iter()
            .filter(|s| s.t_ms >= from)
            .find(|s| {
                let hs: Vec<u64> = s.heights.iter().flatten().copied().collect();
                !hs.is_empty() && hs.iter().max().zip(hs.iter().min()).is_some_and(|(a, b)| a - b <= 1)
            })
            .map(|s| s.t_ms)
            .or(settled_at)
            .map(|t| t.saturating_sub(from))
    });
    let converge_after = converge_after.flatten();

    let mut checks = vec![checks::safety(&recorder.safety_violations())];
    checks.push(checks::liveness(
        &samples,
        &recorder.first_commits_ms(),
        u64::try_from(scenario.liveness_window.0.as_millis()).unwrap_or(u64::MAX),
        end_ms,
    ));
    let agreement = agreement(&stores, target);
    let bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    let convergence = match (settled_at, agreement, converge_after) {
        (None, _, _) => Check::fail(
            "convergence",
            format!("not every running node reached height {target} within {:.0}s of the end", bound.as_secs_f64()),
        ),
        (_, Err(e), _) => Check::fail("convergence", e),
        (_, Ok(_), Some(ms)) if ms > bound_ms => Check::fail(
            "convergence",
            format!(
                "nodes took {:.1}s to converge after the last disturbance (bound {:.0}s)",
                ms as f64 / 1000.0,
                bound.as_secs_f64()
            ),
        ),
        (Some(at), Ok(detail), _) => Check::pass(
            "convergence",
            format!("{detail}, {:.1}s after the end", at.saturating_sub(end_ms) as f64 / 1000.0),
        ),
    };
    let converged = convergence.passed;
    checks.push(convergence);
    let commits = recorder.first_commits_ms();
    for e in &scenario.expect {
        checks.push(match e {
            Expect::Evidence { against, included } => checks::evidence(&evidence, *against, *included),
            Expect::Halt { from, until, resume_within } => {
                checks::halt(&commits, t0 + span_ms(from.0), t0 + span_ms(until.0), resume_within.map(|w| span_ms(w.0)))
            }
            Expect::MinHeight { height } => {
                let honest: Vec<(usize, Option<u64>)> = final_nodes
                    .iter()
                    .filter(|n| n.up && schedule.is_honest_validator(n.node))
                    .map(|n| (n.node, n.height))
                    .collect();
                checks::min_height(&honest, *height)
            }
            Expect::NoEvidence => {
                let records: Vec<(usize, usize)> = stores
                    .iter()
                    .filter_map(|(i, s)| s.as_ref().map(|s| (*i, s.evidence(0, 100_000).map_or(0, |e| e.len()))))
                    .collect();
                checks::no_evidence(&records)
            }
        });
    }
    let conservation: Vec<String> =
        stores.iter().filter_map(|(i, s)| s.as_ref().and_then(|s| checks::conservation(*i, s, &spec).err())).collect();
    let up = stores.iter().filter(|(_, s)| s.is_some()).count();
    checks.push(match conservation.first() {
        None => Check::pass(
            "conservation",
            format!("supply = genesis + minted = sum of holdings, on all {up} running nodes"),
        ),
        Some(e) => Check::fail("conservation", format!("{} node(s) fail; first: {e}", conservation.len())),
    });
    let mut compute_stats = None;
    if let Some(c) = client.take() {
        let reference = stores.iter().filter_map(|(_, s)| s.as_ref()).max_by_key(|s| s.head().map_or(0, |h| h.height));
        match reference {
            Some(store) => {
                let (found, stats) = compute::checks(store, &spec, scenario, &c);
                checks.extend(found);
                compute_stats = Some(stats);
            }
            None => checks.push(Check::fail("compute", "no node was running at the end to read the jobs from")),
        }
    }
    let common = final_nodes.iter().filter(|n| n.up).filter_map(|n| n.height).min();
    let distinct_heads = stores
        .iter()
        .filter_map(|(_, s)| s.as_ref().zip(common))
        .filter_map(|(s, h)| s.header(h).ok().flatten().map(|header| header.hash()))
        .collect::<BTreeSet<_>>()
        .len();
    drop(stores);

    let propagation = recorder.propagation_ms();
    let (submitted, included, rejected, finality) = recorder.txs();
    let throughput = throughput(&recorder.submission_times_ms(), &blocks, t0);
    let report = Report {
        scenario: scenario.name.clone(),
        seed: schedule.seed,
        nodes: schedule.nodes,
        validators: schedule.validators,
        duration_ms,
        startup_ms: t0,
        wall_ms: u64::try_from(wall.elapsed().as_millis()).unwrap_or(u64::MAX),
        peak_rss_bytes: peak_rss_bytes(),
        passed: checks.iter().all(|c| c.passed),
        converged,
        checks,
        final_nodes,
        distinct_heads,
        converge_after_disturbance_ms: converge_after,
        block_propagation_ms: Percentiles::of(&propagation),
        finality_ms: Percentiles::of(&finality),
        txs: Txs { submitted, included, rejected },
        traffic,
        evidence,
        equivocations: liars.iter().map(|(_, l, _, _)| l.pairs).sum(),
        compute: compute_stats,
        parameters: scenario.clone(),
        schedule,
        samples,
        blocks,
        throughput,
        propagation_values_ms: propagation,
        finality_values_ms: finality,
    };
    drop(dir);
    Ok(report)
}

/// Every running node's height at `target`: same block hash, and a state root recomputed
/// from the node's own state tree that matches the header's.
fn agreement(
    stores: &[(usize, Option<Arc<ergon::storage::Store>>)],
    target: u64,
) -> std::result::Result<String, String> {
    let mut seen: Option<(usize, Hash, Hash)> = None;
    let mut count = 0;
    for (i, store) in stores {
        let Some(store) = store else { continue };
        let header = store
            .header(target)
            .map_err(|e| format!("node {i}: {e}"))?
            .ok_or_else(|| format!("node {i} has no block at height {target}"))?;
        let root = store.state_root(target).map_err(|e| format!("node {i}: {e}"))?;
        if root != header.state_root {
            return Err(format!(
                "node {i}: its state root at {target} is {root}, the block says {}",
                header.state_root
            ));
        }
        let hash = header.hash();
        match seen {
            None => seen = Some((*i, hash, root)),
            Some((j, h, r)) if h != hash || r != root => {
                return Err(format!(
                    "at height {target} node {j} has block {h} (state {r}), node {i} has {hash} (state {root})"
                ))
            }
            Some(_) => {}
        }
        count += 1;
    }
    Ok(format!("all {count} running nodes have the same block and state root at height {target}"))
}

/// Puts every job's blobs on every node's store (blobs are not exchanged between nodes yet,
/// and every validator needs them to referee a fraud proof), and stakes the miners.
async fn start_compute(c: &Compute, spec: &ergon::chainspec::ChainSpec, nodes: &Nodes) -> Result<Client> {
    let client = Client::new(c, spec).map_err(RunError::Compute)?;
    for n in nodes {
        if let Some(store) = n.lock().await.store() {
            client.put_blobs(&store).map_err(RunError::Compute)?;
        }
    }
    let miners = nodes.get(c.miner_node).ok_or_else(|| RunError::Compute("no miners' node".into()))?;
    let handle = miners.lock().await.handle().cloned();
    let handle = handle.ok_or_else(|| RunError::Compute("the miners' node is not running".into()))?;
    client.stake_miners(&handle).await.map_err(RunError::Compute)?;
    Ok(client)
}

/// A running node's handle, the lowest-numbered one.
fn any_handle(nodes: &Nodes) -> Option<ergon::node::NodeHandle> {
    nodes.iter().find_map(|n| n.try_lock().ok().and_then(|n| n.handle().cloned()))
}

/// The store of the running node with the highest head.
fn reference_store(nodes: &Nodes) -> Option<Arc<ergon::storage::Store>> {
    nodes
        .iter()
        .filter_map(|x| x.try_lock().ok().and_then(|x| x.store()))
        .max_by_key(|s| s.head().map(|h| h.height).unwrap_or(0))
}

/// Transactions waiting in a node's mempool, read from its metrics as `GET /metrics` would
/// show them (`ergon_mempool_size`).
fn mempool_size(handle: &ergon::node::NodeHandle) -> Option<u64> {
    let text = handle.metrics().render();
    text.lines().find_map(|l| l.strip_prefix("ergon_mempool_size ")).and_then(|v| v.trim().parse().ok())
}

/// Each node's peer count, asked of its network in the background (a busy swarm answers
/// late, and the run must not wait for it): a sample reads the last answers.
struct PeerCounts {
    counts: Arc<std::sync::Mutex<Vec<Option<usize>>>>,
    asking: Arc<AtomicBool>,
}

impl PeerCounts {
    fn new(nodes: usize) -> PeerCounts {
        PeerCounts { counts: Arc::new(std::sync::Mutex::new(vec![None; nodes])), asking: Arc::default() }
    }

    /// Asks every running node, unless the last round of questions is still out.
    fn refresh(&self, nodes: &Nodes) {
        if self.asking.swap(true, Relaxed) {
            return;
        }
        let nets: Vec<Option<ergon::network::NetworkHandle>> = nodes
            .iter()
            .map(|n| n.try_lock().ok().and_then(|n| n.handle().and_then(|h| h.network().cloned())))
            .collect();
        let (counts, asking) = (self.counts.clone(), self.asking.clone());
        tokio::spawn(async move {
            let answers = futures::future::join_all(nets.into_iter().map(|net| async move {
                let net = net?;
                let answer = tokio::time::timeout(Duration::from_secs(2), net.peers()).await;
                answer.ok().and_then(|r| r.ok()).map(|p| p.len())
            }))
            .await;
            *counts.lock().unwrap_or_else(|e| e.into_inner()) = answers;
            asking.store(false, Relaxed);
        });
    }

    /// The last answers, `None` for the nodes that are down now.
    fn get(&self, heights: &[Option<u64>]) -> Vec<Option<usize>> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        heights.iter().enumerate().map(|(i, h)| h.and(counts.get(i).copied().flatten())).collect()
    }
}

fn heights(nodes: &Nodes) -> Vec<Option<u64>> {
    nodes.iter().map(|n| n.try_lock().ok().and_then(|n| n.head().map(|h| h.0))).collect()
}

/// Honest validators holding more than 2/3 of the stake (all stakes are equal) are up and on
/// one side. A byzantine validator's power counts in the set but not towards a quorum.
fn quorum(links: &Links, schedule: &Schedule) -> bool {
    let validators = schedule.validators;
    links
        .components()
        .iter()
        .any(|g| g.iter().filter(|n| schedule.is_honest_validator(**n)).count() * 3 > validators * 2)
}

fn span_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// What `store` (node `node`'s) recorded against each byzantine validator.
fn evidence_seen(node: usize, store: &ergon::storage::Store, schedule: &Schedule) -> Vec<EvidenceSeen> {
    let records = store.evidence(0, 100_000).unwrap_or_default();
    schedule
        .byzantine
        .iter()
        .map(|b| {
            let key = chain::validator_key(*b).public();
            let mine: Vec<&(ergon::primitives::Evidence, Option<u64>)> =
                records.iter().filter(|(e, _)| e.first.validator == key).collect();
            EvidenceSeen {
                node,
                validator: schedule.is_honest_validator(node),
                against: *b,
                records: mine.len(),
                included_in: mine.iter().filter_map(|(_, h)| *h).collect(),
            }
        })
        .collect()
}

/// Sends one transfer from a sender with nothing in flight, to `node` or the next running one.
#[allow(clippy::too_many_arguments)]
async fn submit(
    nodes: &Nodes,
    shared: &Shared,
    senders: &mut [Sender],
    cursor: &mut usize,
    node: usize,
    to: Address,
    amount: u128,
    t: u64,
) {
    let n = nodes.len();
    let Some(handle) = (0..n)
        .find_map(|k| nodes.get((node + k) % n).and_then(|x| x.try_lock().ok()).and_then(|x| x.handle().cloned()))
    else {
        return;
    };
    // The most advanced running node knows every nonce that landed.
    let reference = nodes
        .iter()
        .filter_map(|x| x.try_lock().ok().and_then(|x| x.store()))
        .max_by_key(|s| s.head().map(|h| h.height).unwrap_or(0));
    let Some(reference) = reference else { return };
    let recorder = &shared.recorder;
    let count = senders.len();
    for k in 0..count {
        let i = (*cursor + k) % count;
        let Some(s) = senders.get_mut(i) else { continue };
        let free = match s.in_flight {
            None => true,
            Some((h, at)) => recorder.is_included(&h) || t.saturating_sub(at) > TX_PATIENCE_MS,
        };
        if !free {
            continue;
        }
        *cursor = (i + 1) % count;
        let from = Address::from_public_key(&s.key.public());
        let nonce = match ergon::ledger::StateReader::account(reference.as_ref(), &from) {
            Ok(a) => a.unwrap_or_default().nonce.saturating_add(1),
            Err(_) => return,
        };
        let Ok(tx) = chain::transfer(&shared.spec, &s.key, nonce, to, amount) else { return };
        s.in_flight = Some((tx.hash(), t));
        let recorder = recorder.clone();
        tokio::spawn(async move {
            match handle.submit(tx).await {
                Ok(h) => recorder.submitted(h),
                Err(e) => {
                    tracing::debug!(error = %e, "tx rejected at submission");
                    recorder.rejected();
                }
            }
        });
        return;
    }
}

/// The progress line: a bar, heights, heads and txs, redrawn in place on a terminal and
/// printed every few seconds otherwise.
struct Progress {
    on: bool,
    tty: bool,
    total_ms: u64,
    last_line_ms: Option<u64>,
}

impl Progress {
    fn new(on: bool, total_ms: u64) -> Progress {
        Progress { on, tty: std::io::stderr().is_terminal(), total_ms, last_line_ms: None }
    }

    fn show(&mut self, t: u64, heights: &[Option<u64>], recorder: &Recorder) {
        if !self.on || (!self.tty && self.last_line_ms.is_some_and(|l| t < l + 5000)) {
            return;
        }
        self.last_line_ms = Some(t);
        let width = 30usize;
        let done = (t.min(self.total_ms) as usize * width) / self.total_ms.max(1) as usize;
        let hs: Vec<u64> = heights.iter().flatten().copied().collect();
        let heads = hs.iter().collect::<BTreeSet<_>>().len();
        let (submitted, included, _, _) = recorder.txs();
        let line = format!(
            "[{}{}] {:>6.1}/{:.0}s  up {}/{}  heights {}..{}  ({} distinct)  txs {}/{}",
            "#".repeat(done),
            "-".repeat(width - done),
            t as f64 / 1000.0,
            self.total_ms as f64 / 1000.0,
            hs.len(),
            heights.len(),
            hs.iter().min().copied().unwrap_or(0),
            hs.iter().max().copied().unwrap_or(0),
            heads,
            included,
            submitted
        );
        let mut err = std::io::stderr().lock();
        let _ = if self.tty { write!(err, "\r{line}\x1b[K") } else { writeln!(err, "{line}") };
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.on && self.tty {
            let _ = writeln!(std::io::stderr());
        }
    }
}
