//! The schedule: a scenario with every choice made. The seed picks each node's bootnodes,
//! the nodes behind `"random"` and `sides`, and the times, targets and amounts of the
//! transaction load. Two runs with one seed get the same schedule, which the report records;
//! what happens inside the nodes (libp2p's own randomness, thread timing) is not in it.

use crate::scenario::{invalid, ByzantineKind, EventSpec, LinkProfile, NodePick, Result, Scenario};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeSet;

/// An RNG for one purpose (`label`, `index`) of a run with `seed`: streams for different
/// purposes are independent, so adding a draw in one place changes nothing elsewhere.
pub fn derive_rng(seed: u64, label: &str, index: u64) -> ChaCha8Rng {
    let mut h = blake3::Hasher::new();
    h.update(b"ergon-netsim/rng/");
    h.update(label.as_bytes());
    h.update(&seed.to_le_bytes());
    h.update(&index.to_le_bytes());
    ChaCha8Rng::from_seed(*h.finalize().as_bytes())
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Action {
    /// Links between groups are cut: open connections reset, new dials are refused.
    Partition {
        groups: Vec<Vec<usize>>,
    },
    Heal,
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    /// A crash storm's kill of `nodes` at once, skipped once some node has committed
    /// `until_height`.
    StormKill {
        nodes: Vec<usize>,
        until_height: Option<u64>,
    },
    /// Restarts the nodes of `nodes` that the storm's last kill took down.
    StormRestart {
        nodes: Vec<usize>,
    },
    /// Links between `from` and `to` take `profile`; `None` puts the scenario's back.
    SetLinks {
        from: Vec<usize>,
        to: Vec<usize>,
        profile: Option<LinkProfile>,
    },
}

impl Action {
    /// Partitions, heals, crashes and restarts disturb the network; convergence is timed
    /// from the last of them.
    pub fn disturbs(&self) -> bool {
        !matches!(self, Action::SetLinks { .. })
    }
}

/// One sentence for the report and the logs: `node 4 crashed`, `partition: {0, 1} | {2, 3}`.
impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Partition { groups } => {
                let sides: Vec<String> = groups.iter().map(|g| node_set(g)).collect();
                write!(f, "partition: {}", sides.join(" | "))
            }
            Action::Heal => write!(f, "partition healed: every link is back"),
            Action::Crash { node } => write!(f, "node {node} crashed"),
            Action::Restart { node } => write!(f, "node {node} restarted on its store"),
            Action::StormKill { nodes, until_height } => {
                write!(f, "crash storm: nodes {} killed at once", node_set(nodes))?;
                match until_height {
                    Some(h) => write!(f, " (unless some node has reached height {h})"),
                    None => Ok(()),
                }
            }
            Action::StormRestart { nodes } => write!(f, "crash storm: nodes {} restarted", node_set(nodes)),
            Action::SetLinks { from, to, profile: Some(p) } => {
                write!(f, "links between {} and {} now {p}", node_set(from), node_set(to))
            }
            Action::SetLinks { from, to, profile: None } => {
                write!(f, "links between {} and {} back to the scenario's links", node_set(from), node_set(to))
            }
        }
    }
}

/// A set of nodes as a person reads it, runs of three or more as ranges: `{0-3, 7}`.
pub fn node_set(nodes: &[usize]) -> String {
    let mut sorted = nodes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&start) = sorted.get(i) {
        let mut end = i;
        while sorted.get(end + 1).is_some_and(|n| *n == sorted[end] + 1) {
            end += 1;
        }
        match end - i {
            0 => parts.push(start.to_string()),
            1 => parts.extend([start.to_string(), sorted[end].to_string()]),
            _ => parts.push(format!("{start}-{}", sorted[end])),
        }
        i = end + 1;
    }
    format!("{{{}}}", parts.join(", "))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub at_ms: u64,
    #[serde(flatten)]
    pub action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlannedTx {
    pub at_ms: u64,
    /// The node it is sent to (the next running one if that one is down).
    pub node: usize,
    /// Index of the receiving load account.
    pub to: usize,
    pub amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub seed: u64,
    pub nodes: usize,
    /// Validators are nodes `0..validators`.
    pub validators: usize,
    /// Equivocating validators (their nodes run as full nodes). Nodes with lying compute
    /// roles are not here: in consensus they are honest.
    pub byzantine: Vec<usize>,
    pub bootnodes: Vec<Vec<usize>>,
    pub events: Vec<Event>,
    pub txs: Vec<PlannedTx>,
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Schedule {
    pub fn build(s: &Scenario) -> Result<Schedule> {
        s.validate()?;
        let seed = s.seed;
        let bootnodes = (0..s.nodes)
            .map(|i| {
                let mut rng = derive_rng(seed, "bootnodes", i as u64);
                let mut earlier: Vec<usize> = (0..i).collect();
                earlier.shuffle(&mut rng);
                earlier.truncate(s.degree.max(1));
                earlier.sort_unstable();
                earlier
            })
            .collect();
        Ok(Schedule {
            seed,
            nodes: s.nodes,
            validators: s.validators,
            byzantine: s.byzantine_of(ByzantineKind::Equivocate).map(|b| b.node).collect(),
            bootnodes,
            events: resolve_events(s)?,
            txs: plan_txs(s),
        })
    }

    pub fn is_validator(&self, node: usize) -> bool {
        node < self.validators
    }

    /// A validator that follows the protocol.
    pub fn is_honest_validator(&self, node: usize) -> bool {
        self.is_validator(node) && !self.byzantine.contains(&node)
    }

    /// When the network was last disturbed (0 if never).
    pub fn last_disturbance_ms(&self) -> u64 {
        self.events.iter().filter(|e| e.action.disturbs()).map(|e| e.at_ms).max().unwrap_or(0)
    }
}

fn resolve_events(s: &Scenario) -> Result<Vec<Event>> {
    let mut specs: Vec<&EventSpec> = s.events.iter().collect();
    specs.sort_by_key(|e| e.at());
    let mut rng = derive_rng(s.seed, "events", 0);
    let mut out: Vec<Event> = Vec::new();
    let mut crashed = BTreeSet::new();
    // Restarts that crashes asked for, by time.
    let mut restarts: Vec<(u64, usize)> = Vec::new();
    let flush = |until: u64, restarts: &mut Vec<(u64, usize)>, out: &mut Vec<Event>, crashed: &mut BTreeSet<usize>| {
        restarts.sort_unstable();
        while let Some(&(at, node)) = restarts.first() {
            if at > until {
                break;
            }
            restarts.remove(0);
            crashed.remove(&node);
            out.push(Event { at_ms: at, action: Action::Restart { node } });
        }
    };
    for (k, spec) in specs.into_iter().enumerate() {
        let at_ms = ms(spec.at());
        flush(at_ms, &mut restarts, &mut out, &mut crashed);
        if let EventSpec::CrashStorm { until, nodes, up_min, up_max, down, until_height, .. } = spec {
            let nodes = nodes.clone().unwrap_or_else(|| (0..s.validators).collect());
            let (up_min, up_max, down, until) = (ms(up_min.0), ms(up_max.0), ms(down.0), ms(until.0));
            let mut t = at_ms;
            loop {
                t = t.saturating_add(rng.gen_range(up_min..=up_max));
                if t >= until {
                    break;
                }
                out.push(Event {
                    at_ms: t,
                    action: Action::StormKill { nodes: nodes.clone(), until_height: *until_height },
                });
                t = t.saturating_add(down);
                out.push(Event { at_ms: t, action: Action::StormRestart { nodes: nodes.clone() } });
            }
            continue;
        }
        let action = match spec {
            EventSpec::Partition { groups: Some(groups), .. } => {
                let listed: BTreeSet<usize> = groups.iter().flatten().copied().collect();
                let mut groups: Vec<Vec<usize>> = groups.iter().filter(|g| !g.is_empty()).cloned().collect();
                let rest: Vec<usize> = (0..s.nodes).filter(|i| !listed.contains(i)).collect();
                if !rest.is_empty() {
                    groups.push(rest);
                }
                Action::Partition { groups }
            }
            EventSpec::Partition { sides, .. } => {
                let sides = sides.unwrap_or(2).max(1);
                let mut all: Vec<usize> = (0..s.nodes).collect();
                all.shuffle(&mut rng);
                let mut groups = vec![Vec::new(); sides];
                for (i, n) in all.into_iter().enumerate() {
                    if let Some(g) = groups.get_mut(i % sides) {
                        g.push(n);
                    }
                }
                for g in &mut groups {
                    g.sort_unstable();
                }
                Action::Partition { groups }
            }
            EventSpec::Heal { .. } => Action::Heal,
            EventSpec::Crash { node, restart_after, .. } => {
                let node = match node {
                    NodePick::Index(i) => *i,
                    NodePick::Random(which) => {
                        let pool: Vec<usize> = (0..s.nodes)
                            .filter(|i| !crashed.contains(i))
                            .filter(|i| match which.as_str() {
                                "random-validator" => *i < s.validators,
                                "random-full" => *i >= s.validators,
                                _ => true,
                            })
                            .collect();
                        *pool.choose(&mut rng).ok_or_else(|| {
                            invalid(format!("events[{k}].node"), "no running node of that kind is left to crash")
                        })?
                    }
                };
                crashed.insert(node);
                if let Some(after) = restart_after {
                    restarts.push((at_ms.saturating_add(ms(after.0)), node));
                }
                Action::Crash { node }
            }
            EventSpec::Restart { node, .. } => {
                crashed.remove(node);
                Action::Restart { node: *node }
            }
            EventSpec::CrashStorm { .. } => continue,
            EventSpec::SlowLink { from, to, duration, .. } => {
                let profile = spec.link_change().map(|c| c.apply(&s.link));
                let to: Vec<usize> =
                    if to.is_empty() { (0..s.nodes).filter(|i| !from.contains(i)).collect() } else { to.clone() };
                if let Some(d) = duration {
                    // The restore is an ordinary event; keep the list sorted below.
                    out.push(Event {
                        at_ms: at_ms.saturating_add(ms(d.0)),
                        action: Action::SetLinks { from: from.clone(), to: to.clone(), profile: None },
                    });
                }
                Action::SetLinks { from: from.clone(), to, profile }
            }
        };
        out.push(Event { at_ms, action });
    }
    flush(u64::MAX, &mut restarts, &mut out, &mut crashed);
    out.sort_by_key(|e| e.at_ms);
    Ok(out)
}

fn plan_txs(s: &Scenario) -> Vec<PlannedTx> {
    let Some(load) = &s.load else { return vec![] };
    if load.tps <= 0.0 {
        return vec![];
    }
    let mut rng = derive_rng(s.seed, "load", 0);
    let start = load.start.map_or(1000.0, |d| d.0.as_secs_f64() * 1000.0);
    let stop = load.stop.map_or(s.duration.0, |d| d.0.min(s.duration.0)).as_secs_f64() * 1000.0;
    let mut t = start;
    let mut out = Vec::new();
    // Poisson arrivals: exponential gaps with mean 1/tps.
    loop {
        let u: f64 = rng.gen_range(f64::EPSILON..1.0);
        t += -u.ln() / load.tps * 1000.0;
        if t >= stop || out.len() >= 1_000_000 {
            break;
        }
        out.push(PlannedTx {
            at_ms: t as u64,
            node: rng.gen_range(0..s.nodes),
            to: rng.gen_range(0..load.accounts),
            amount: rng.gen_range(1..1000),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Load, Span};
    use std::time::Duration;

    fn scenario(seed: u64) -> Scenario {
        let mut s = Scenario::quick(8, 2, Duration::from_secs(30));
        s.seed = seed;
        s.load = Some(Load { tps: 5.0, accounts: 8, start: None, stop: None });
        s.events = vec![
            EventSpec::Partition { at: Span(Duration::from_secs(5)), groups: None, sides: Some(2) },
            EventSpec::Heal { at: Span(Duration::from_secs(10)) },
            EventSpec::Crash {
                at: Span(Duration::from_secs(12)),
                node: NodePick::Random("random-full".into()),
                restart_after: Some(Span(Duration::from_secs(5))),
            },
        ];
        s
    }

    #[test]
    fn one_seed_one_schedule() {
        let a = Schedule::build(&scenario(7)).unwrap();
        assert_eq!(a, Schedule::build(&scenario(7)).unwrap());
        assert_ne!(a, Schedule::build(&scenario(8)).unwrap());
        assert_eq!(a.events.len(), 4, "partition, heal, crash and its restart");
        let Action::Crash { node } = a.events[2].action else { panic!("{:?}", a.events) };
        assert!(node >= 2, "a full node");
        assert_eq!(a.events[3], Event { at_ms: 17_000, action: Action::Restart { node } });
        assert!(a.bootnodes.iter().enumerate().all(|(i, b)| b.iter().all(|j| *j < i)));
        assert!(a.bootnodes[1..].iter().all(|b| !b.is_empty()));
        assert!(!a.txs.is_empty());
    }

    #[test]
    fn actions_read_as_sentences() {
        assert_eq!(node_set(&[3, 0, 1, 2, 7, 9, 10]), "{0-3, 7, 9, 10}");
        assert_eq!(node_set(&[]), "{}");
        let partition = Action::Partition { groups: vec![vec![0, 1], vec![2, 3]] };
        assert_eq!(partition.to_string(), "partition: {0, 1} | {2, 3}");
        assert_eq!(Action::Crash { node: 4 }.to_string(), "node 4 crashed");
        let slow = Action::SetLinks {
            from: vec![1],
            to: vec![0, 2, 3, 4],
            profile: Some(LinkProfile {
                latency: crate::scenario::Span(Duration::from_millis(250)),
                loss: 0.01,
                ..LinkProfile::default()
            }),
        };
        assert_eq!(
            slow.to_string(),
            "links between {1} and {0, 2-4} now 250 ms one way, 1% of packets lost, unlimited bandwidth"
        );
        let storm = Action::StormKill { nodes: vec![0, 1, 2, 3], until_height: Some(50) };
        assert_eq!(
            storm.to_string(),
            "crash storm: nodes {0-3} killed at once (unless some node has reached height 50)"
        );
    }
}
