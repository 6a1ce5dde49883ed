//! The checks that decide whether a run passed. Each returns a [`Check`]; any failure makes
//! `netsim run` exit non-zero.
//!
//! - **safety**: no two nodes ever commit different blocks at one height (watched on every
//!   commit by the recorder);
//! - **liveness**: whenever validators holding more than 2/3 of the stake are up and on one
//!   side for a whole `liveness_window`, some new height is committed inside it;
//! - **convergence**: after the run (and within `converge_within` of the last partition,
//!   heal, crash or restart) every running node reaches the same height with the same block
//!   hash and the same state root, recomputed from its own state tree;
//! - **conservation**: in every node's final state, total supply = genesis allocation +
//!   minted, minted = the block rewards of every height so far, and the holdings (balance,
//!   reserved, staked) of every account ever touched add up to the total supply.

use crate::recorder::Sample;
use ergon::chainspec::ChainSpec;
use ergon::ledger::{block_reward, StateReader};
use ergon::storage::Store;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, passed: true, detail: detail.into() }
    }

    pub fn fail(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, passed: false, detail: detail.into() }
    }
}

pub fn safety(violations: &[String]) -> Check {
    match violations.first() {
        None => Check::pass("safety", "no height was committed with two different blocks"),
        Some(v) => Check::fail("safety", format!("{} conflicting commits; first: {v}", violations.len())),
    }
}

/// `commits`: (height, first commit time ms), in height order. Windows that end after
/// `end_ms` are not judged.
pub fn liveness(samples: &[Sample], commits: &[(u64, u64)], window_ms: u64, end_ms: u64) -> Check {
    let mut judged = 0usize;
    for (i, s) in samples.iter().enumerate() {
        let until = s.t_ms.saturating_add(window_ms);
        if !s.quorum || until > end_ms {
            continue;
        }
        let connected = samples.iter().skip(i).take_while(|x| x.t_ms <= until).all(|x| x.quorum);
        if !connected {
            continue;
        }
        judged += 1;
        if !commits.iter().any(|(_, t)| *t > s.t_ms && *t <= until) {
            return Check::fail(
                "liveness",
                format!(
                    "a quorum was connected from {:.1}s to {:.1}s but no height was committed",
                    s.t_ms as f64 / 1000.0,
                    until as f64 / 1000.0
                ),
            );
        }
    }
    Check::pass("liveness", format!("heights advanced in all {judged} windows of {window_ms}ms with a quorum"))
}

/// Supply bookkeeping in one node's final state.
pub fn conservation(node: usize, store: &Store, spec: &ChainSpec) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("node {node}: {e}");
    let genesis = spec.genesis().map_err(|e| err(&e))?;
    let genesis_total = genesis
        .balances
        .iter()
        .chain(genesis.stakes.iter())
        .try_fold(0u128, |acc, (_, v)| acc.checked_add(*v))
        .ok_or_else(|| err(&"genesis supply overflows"))?;
    let head = store.head().map_err(|e| err(&e))?.height;
    let supply = store.supply().map_err(|e| err(&e))?;
    if Some(supply.total) != genesis_total.checked_add(supply.minted) {
        return Err(err(&format!(
            "total supply {} != genesis {genesis_total} + minted {}",
            supply.total, supply.minted
        )));
    }
    let rewards = (1..=head).try_fold(0u128, |acc, h| acc.checked_add(block_reward(spec, h)));
    if rewards != Some(supply.minted) {
        return Err(err(&format!(
            "minted {} but the block rewards of heights 1..={head} are {rewards:?}",
            supply.minted
        )));
    }
    let mut touched = BTreeSet::new();
    for h in 0..=head {
        for (a, _) in store.state_changes(h).map_err(|e| err(&e))?.unwrap_or_default() {
            touched.insert(a);
        }
    }
    let mut held = 0u128;
    for a in &touched {
        let acc = store.account(a).map_err(|e| err(&e))?.unwrap_or_default();
        held = acc.holdings().and_then(|x| held.checked_add(x)).ok_or_else(|| err(&"holdings overflow"))?;
    }
    if held != supply.total {
        return Err(err(&format!("accounts hold {held} in all but the total supply is {}", supply.total)));
    }
    Ok(())
}

/// Percentile `p` (0..=100) of `values` by nearest rank; `None` when empty.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: u64, quorum: bool) -> Sample {
        Sample { t_ms, heights: vec![], quorum }
    }

    #[test]
    fn liveness_judges_only_connected_windows() {
        let samples: Vec<Sample> = (0..=20).map(|i| sample(i * 1000, !(5..=12).contains(&i))).collect();
        // Commits stop while the quorum is cut, and resume after.
        let commits = vec![(1, 1000), (2, 2000), (3, 4000), (4, 13_500), (5, 15_000), (6, 18_000)];
        assert!(liveness(&samples, &commits, 3000, 20_000).passed);
        let stalled = vec![(1, 1000), (2, 2000), (3, 4000), (4, 19_500)];
        let c = liveness(&samples, &stalled, 3000, 20_000);
        assert!(!c.passed && c.detail.contains("13.0s"), "{}", c.detail);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&[3.0], 95.0), Some(3.0));
        assert_eq!(percentile(&[], 50.0), None);
    }
}
