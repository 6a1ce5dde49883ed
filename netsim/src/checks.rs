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
//! - **evidence** (when a scenario expects it): every honest validator recorded a byzantine
//!   validator's equivocation, and a block carries it if asked;
//! - **halt** (when a scenario expects it): no height is committed during a window (a
//!   partition without a quorum), and heights resume soon after it;
//! - **min-height**, **no-evidence** (when a scenario expects them): every honest validator
//!   reached a height; no node recorded equivocation (validators killed mid-height by a
//!   crash storm sign nothing twice);
//! - **conservation**: in every node's final state, total supply = genesis allocation +
//!   minted, minted = the block rewards of every height so far, and the holdings (balance,
//!   reserved, staked) of every account ever touched add up to the total supply.
//!
//! A scenario with `[compute]` adds the compute checks of [`crate::compute::checks`].

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

/// What one node recorded about one byzantine validator's equivocation.
#[derive(Debug, Clone, Serialize)]
pub struct EvidenceSeen {
    pub node: usize,
    /// Whether the node is an honest validator (only those are required to record it).
    pub validator: bool,
    /// The byzantine validator's index.
    pub against: usize,
    /// Evidence records in the node's store.
    pub records: usize,
    /// Heights of the blocks that carry them, for the records on chain.
    pub included_in: Vec<u64>,
}

/// `expect = evidence`: every honest validator recorded equivocation by `against`, and
/// (with `included`) a block carries some of it.
pub fn evidence(seen: &[EvidenceSeen], against: usize, included: bool) -> Check {
    let mine: Vec<&EvidenceSeen> = seen.iter().filter(|e| e.against == against).collect();
    let judged: Vec<&&EvidenceSeen> = mine.iter().filter(|e| e.validator).collect();
    if judged.is_empty() {
        return Check::fail(
            "evidence",
            format!("no honest validator was up at the end to ask about validator {against}"),
        );
    }
    if let Some(e) = judged.iter().find(|e| e.records == 0) {
        return Check::fail(
            "evidence",
            format!("validator {against} equivocated but node {} recorded no evidence against it", e.node),
        );
    }
    let records: usize = judged.iter().map(|e| e.records).sum();
    let on_chain = mine.iter().flat_map(|e| e.included_in.iter().copied()).min();
    let others = mine.iter().filter(|e| !e.validator && e.records > 0).count();
    let detail = format!(
        "all {} honest validators recorded evidence against validator {against} ({records} records in all; \
         {others} full node(s) too); {}",
        judged.len(),
        on_chain.map_or("no block carries it".to_string(), |h| format!("first carried by block {h}"))
    );
    if included && on_chain.is_none() {
        return Check::fail("evidence", detail);
    }
    Check::pass("evidence", detail)
}

/// `expect = min-height`: every honest validator up at the end (`(node, height)`) has
/// committed at least `height`.
pub fn min_height(honest: &[(usize, Option<u64>)], height: u64) -> Check {
    if honest.is_empty() {
        return Check::fail("min-height", "no honest validator was up at the end");
    }
    match honest.iter().find(|(_, h)| h.is_none_or(|h| h < height)) {
        Some((node, h)) => Check::fail("min-height", format!("node {node} ended at height {h:?}, below {height}")),
        None => {
            let low = honest.iter().filter_map(|(_, h)| *h).min().unwrap_or(0);
            Check::pass("min-height", format!("all {} honest validators at {low} or more (>= {height})", honest.len()))
        }
    }
}

/// `expect = no-evidence`: no node's store (`(node, evidence records)`) holds evidence.
pub fn no_evidence(records: &[(usize, usize)]) -> Check {
    match records.iter().find(|(_, n)| *n > 0) {
        Some((node, n)) => Check::fail("no-evidence", format!("node {node} recorded {n} equivocation(s)")),
        None => Check::pass(
            "no-evidence",
            format!("none of the {} nodes up at the end recorded equivocation", records.len()),
        ),
    }
}

/// `expect = halt`: no height is first committed in `(from, until]` (ms on the recorder's
/// clock), and with `resume_within`, one is by `until + resume_within`.
pub fn halt(commits: &[(u64, u64)], from: u64, until: u64, resume_within: Option<u64>) -> Check {
    let secs = |t: u64| t as f64 / 1000.0;
    if let Some((h, t)) = commits.iter().find(|(_, t)| *t > from && *t <= until) {
        return Check::fail(
            "halt",
            format!(
                "height {h} was committed at {:.1}s, inside the halt window {:.1}s..{:.1}s",
                secs(*t),
                secs(from),
                secs(until)
            ),
        );
    }
    let next = commits.iter().find(|(_, t)| *t > until);
    match (resume_within, next) {
        (Some(w), Some((h, t))) if *t <= until.saturating_add(w) => Check::pass(
            "halt",
            format!(
                "no commit from {:.1}s to {:.1}s; height {h} committed {:.1}s after",
                secs(from),
                secs(until),
                secs(t - until)
            ),
        ),
        (Some(w), _) => Check::fail(
            "halt",
            format!(
                "no commit from {:.1}s to {:.1}s, but none within {:.1}s after either",
                secs(from),
                secs(until),
                secs(w)
            ),
        ),
        (None, _) => Check::pass("halt", format!("no commit from {:.1}s to {:.1}s", secs(from), secs(until))),
    }
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
    // Burns: slashed stake and the burned share of job prices.
    if Some(supply.total) != genesis_total.checked_add(supply.minted).and_then(|t| t.checked_sub(supply.burned)) {
        return Err(err(&format!(
            "total supply {} != genesis {genesis_total} + minted {} - burned {}",
            supply.total, supply.minted, supply.burned
        )));
    }
    if supply.minted_reward.checked_add(supply.minted_compute).and_then(|m| m.checked_add(supply.minted_trial))
        != Some(supply.minted)
    {
        return Err(err(&format!(
            "minted {} is not rewards {} + compute {} + trial credits {}",
            supply.minted, supply.minted_reward, supply.minted_compute, supply.minted_trial
        )));
    }
    let rewards = (1..=head).try_fold(0u128, |acc, h| acc.checked_add(block_reward(spec, h)));
    if rewards != Some(supply.minted_reward) {
        return Err(err(&format!(
            "minted {} in rewards but the block rewards of heights 1..={head} are {rewards:?}",
            supply.minted_reward
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
        Sample { t_ms, heights: vec![], quorum, mempool: vec![], peers: vec![] }
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
    fn halt_judges_its_window_and_the_resume() {
        let commits = vec![(1, 1000), (2, 2000), (3, 12_500)];
        assert!(halt(&commits, 2500, 12_000, Some(5000)).passed);
        assert!(!halt(&commits, 1500, 12_000, None).passed, "height 2 is inside");
        assert!(!halt(&commits, 2500, 12_000, Some(300)).passed, "resumed too late");
    }

    #[test]
    fn evidence_needs_every_honest_validator() {
        let seen =
            |node, validator, records, included_in| EvidenceSeen { node, validator, against: 3, records, included_in };
        let all = vec![seen(0, true, 2, vec![]), seen(1, true, 1, vec![7]), seen(4, false, 0, vec![])];
        assert!(evidence(&all, 3, true).passed);
        let none_on_chain = vec![seen(0, true, 2, vec![])];
        assert!(evidence(&none_on_chain, 3, false).passed);
        assert!(!evidence(&none_on_chain, 3, true).passed);
        let missing = vec![seen(0, true, 2, vec![]), seen(1, true, 0, vec![])];
        assert!(!evidence(&missing, 3, false).passed);
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
