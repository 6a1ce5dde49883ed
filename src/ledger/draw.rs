//! Which miner may claim a job: a draw by the chain that every node recomputes.
//!
//! Miners are the accounts that staked at least `miner_min_stake` with a STAKE tx (genesis
//! validators are not miners unless they stake again), kept in arrival order under
//! [`StateKey::Miners`]. A job's life after the block that posts it, at height `p`, is cut
//! into windows of `miner_draw_blocks` (w) blocks; the draw for window `k` (heights
//! `s + 1 ..= s + w`, with `s = p + 1 + k·w`) is seeded by the randomness beacon after block
//! `s` ([`super::beacon`]), which nobody knew when the job was sent or included, and which no
//! proposer can choose (for `k = 0` it is the block after the one that includes the job). It picks
//! one miner with probability proportional to its stake times its reputation, among those
//! that still hold `miner_min_stake` (stakes and reputations as of the parent block). Only that miner's RECEIPT_CLAIM is accepted in that
//! window; a miner that misses it leaves the job to the next window's draw. With
//! `miner_draw_blocks = 0` there is no draw: any staked miner may claim (the first valid
//! claim wins).

use super::economy_math::WAD;
use super::payload::job::Job;
use super::{Overlay, StateError, StateKey, StateReader};
use crate::chainspec::ChainSpec;
use crate::primitives::{tag, Address, Hash};
use parity_scale_codec::{Decode, Encode};

/// The least reputation a draw weighs a miner by: 0.05.
pub const MIN_DRAW_REPUTATION_WAD: u128 = WAD / 20;

/// The registered miners, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct Miners {
    pub who: Vec<Address>,
}

/// What the draw says for a job at a height.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// No draw on this chain: any staked miner.
    Anyone,
    /// This miner, in the window that ends at `until`.
    Miner { miner: Address, window: u64, until: u64 },
    /// Nobody can claim at this height: no miner holds the minimum stake, or the job was
    /// posted in this block or the one before (its draw's seed is not known yet).
    Nobody,
}

/// Registers `who` as a miner once its stake reaches `miner_min_stake`.
pub(super) fn register<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    who: Address,
    staked: u128,
) -> Result<(), StateError> {
    if staked < spec.economy.miner_min_stake || staked == 0 {
        return Ok(());
    }
    let mut m: Miners = state.get(&StateKey::Miners)?.unwrap_or_default();
    if !m.who.contains(&who) {
        m.who.push(who);
        state.put(StateKey::Miners, &m);
    }
    Ok(())
}

/// The verifiers drawn for `receipt` (claimed at its `height`) of `job` (its `verifiers` k):
/// k distinct registered workers other than the receipt's miner, the job's coordinator and its
/// client (who would gain from a refund), weighted like miners, seeded by the beacon after the
/// block that followed the claim. Fewer if fewer qualify; none until that beacon is in
/// `state`.
pub fn verifiers<R: StateReader + ?Sized>(
    state: &R,
    spec: &ChainSpec,
    receipt_id: &Hash,
    receipt: &super::payload::receipt::ReceiptRecord,
    job: &Job,
) -> Result<Vec<Address>, StateError> {
    let (miner, claimed_at) = (&receipt.miner, receipt.height);
    let k = usize::from(job.post.verifiers);
    if k == 0 {
        return Ok(Vec::new());
    }
    let Some(seed) = super::beacon::at(state, claimed_at.saturating_add(1))? else { return Ok(Vec::new()) };
    let mut pool: Vec<(Address, u128)> = state
        .draw_weights(spec)?
        .into_iter()
        .filter(|(a, _)| a != miner && *a != job.post.coordinator && *a != job.client)
        .collect();
    let mut out = Vec::with_capacity(k);
    for i in 0..k {
        let Some(j) = pick(&pool, Hash::of(tag::VERIFIER_DRAW, &(receipt_id, i as u32, seed))) else { break };
        out.push(pool.remove(j).0);
    }
    Ok(out)
}

/// The index in `pool` that `draw` picks, each entry with probability proportional to its
/// weight; `None` for an empty or weightless pool.
fn pick(pool: &[(Address, u128)], draw: Hash) -> Option<usize> {
    let total = pool.iter().fold(0u128, |t, (_, w)| t.saturating_add(*w));
    let low: [u8; 16] = draw.0.get(..16).and_then(|b| b.try_into().ok()).unwrap_or([0; 16]);
    let mut r = u128::from_le_bytes(low).checked_rem(total)?;
    for (j, (_, w)) in pool.iter().enumerate() {
        if r < *w {
            return Some(j);
        }
        r = r.saturating_sub(*w);
    }
    None
}

/// Every registered worker holding `miner_min_stake`, with its draw weight. Draws read it
/// through [`StateReader::draw_weights`]: in a block, as of the parent block's state (read
/// once per block, so a claim costs the same with one worker or ten thousand).
pub(super) fn weights<R: StateReader + ?Sized>(
    state: &R,
    spec: &ChainSpec,
) -> Result<Vec<(Address, u128)>, StateError> {
    let unit = 10u128.checked_pow(u32::from(spec.token.decimals)).unwrap_or(1).max(1);
    let miners: Miners = super::read(state, &StateKey::Miners)?.unwrap_or_default();
    let mut out = Vec::with_capacity(miners.who.len());
    for who in miners.who {
        let staked = state.account(&who)?.unwrap_or_default().staked;
        if staked < spec.economy.miner_min_stake || staked == 0 {
            continue;
        }
        let tokens = staked.checked_div(unit).unwrap_or(0);
        // Floored, so that a miner that missed jobs is still drawn now and then and can earn
        // its reputation back.
        let rep = super::reputation::read(state, &who)?.score(tokens).max(MIN_DRAW_REPUTATION_WAD);
        // stake × reputation, reputation in 1e-6 steps so the product stays in range.
        out.push((who, staked.saturating_mul(rep.checked_div(1_000_000_000_000).unwrap_or(0)).max(1)));
    }
    Ok(out)
}

/// The end hook at `height`: for every open job whose draw window ends here unclaimed, the
/// drawn miner missed it (its reputation counts it); the job goes on to its next window.
/// Runs before jobs expire, so a job's last window counts too.
pub(super) fn close_windows<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    height: u64,
) -> Result<(), StateError> {
    let ids = super::queue::take::<Hash, _>(state, super::queue::Queue::DrawEnds, height)?;
    let w = spec.economy.miner_draw_blocks;
    for id in ids {
        let Some(job) = state.get::<Job>(&StateKey::Job(id))? else { continue };
        if job.status != super::payload::job::JobStatus::Open {
            continue;
        }
        if let Draw::Miner { miner, .. } = assigned(&*state, spec, &id, &job, height)? {
            super::reputation::drawn(state, miner, false)?;
        }
        let next = height.saturating_add(w);
        if w > 0 && next <= job.post.deadline {
            super::queue::push(state, super::queue::Queue::DrawEnds, next, &id)?;
        }
    }
    Ok(())
}

/// Schedules the end of the first draw window of a job posted at `height` (window 0 ends at
/// `height + 1 + w`).
pub(super) fn schedule<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    job_id: Hash,
    height: u64,
    deadline: u64,
) -> Result<(), StateError> {
    let w = spec.economy.miner_draw_blocks;
    let end = height.saturating_add(1).saturating_add(w);
    if w > 0 && end <= deadline {
        super::queue::push(state, super::queue::Queue::DrawEnds, end, &job_id)?;
    }
    Ok(())
}

/// The draw for `job` (`job_id`) in the block at `height` on top of `state` (the parent
/// block's state, or the block's own overlay).
pub fn assigned<R: StateReader + ?Sized>(
    state: &R,
    spec: &ChainSpec,
    job_id: &Hash,
    job: &Job,
    height: u64,
) -> Result<Draw, StateError> {
    let w = spec.economy.miner_draw_blocks;
    if w == 0 {
        return Ok(Draw::Anyone);
    }
    let Some(since) = height.checked_sub(job.posted_at).and_then(|d| d.checked_sub(2)) else {
        return Ok(Draw::Nobody);
    };
    let window = since.checked_div(w).unwrap_or(0);
    let start = job.posted_at.saturating_add(1).saturating_add(window.saturating_mul(w));
    let Some(seed) = super::beacon::at(state, start)? else { return Ok(Draw::Nobody) };
    let weights = state.draw_weights(spec)?;
    let Some(j) = pick(&weights, Hash::of(tag::MINER_DRAW, &(job_id, window, seed))) else { return Ok(Draw::Nobody) };
    let miner = weights.get(j).map(|(a, _)| *a).ok_or_else(|| StateError("draw out of range".into()))?;
    Ok(Draw::Miner { miner, window, until: start.saturating_add(w) })
}
