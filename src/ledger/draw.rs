//! Which miner may claim a job, and which verifiers check a receipt: draws by the chain that
//! every node recomputes, fixed in state when they are made.
//!
//! Miners are the accounts that staked at least `miner_min_stake` with a STAKE tx (genesis
//! validators are not miners unless they stake again), kept in arrival order under
//! [`StateKey::Miners`]. A job's life after the block that posts it, at height `p`, is cut
//! into windows of `miner_draw_blocks` (w) blocks; window `k` covers heights `s + 1 ..= s + w`
//! with `s = p + 1 + k·w`, and its miner is drawn in the end hook of block `s`, seeded by the
//! randomness beacon after block `s` ([`super::beacon`]), which nobody knew when the job was
//! sent or included and which no proposer can choose. The draw picks one miner with
//! probability proportional to its stake times its reputation, among those that hold
//! `miner_min_stake` (as of the parent block), and is kept in the job's record
//! ([`Job::draw`]): the miner of a window does not change while it lasts, whatever other claims do to stakes and
//! reputations, and checking a claim is one read. Only that miner's RECEIPT_CLAIM is
//! accepted in that window; a miner that misses it leaves the job to the next window's draw
//! (and its reputation counts the miss). With `miner_draw_blocks = 0` there is no draw: any
//! staked miner may claim (the first valid claim wins).
//!
//! A receipt claimed in block `c` gets its job's `k` verifiers drawn in the end hook of block
//! `c + 1`, seeded by the beacon after that block, and kept under
//! [`StateKey::ReceiptVerifiers`] until the receipt matures.

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

/// A job's miner for one window, as drawn when the window opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Drawn {
    pub miner: Address,
    pub window: u64,
    /// The window's last height.
    pub until: u64,
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

/// The verifiers drawn for the receipt `receipt_id`: empty until they are drawn (the block
/// after the claim), and for a job that asked for none.
pub fn verifiers<R: StateReader + ?Sized>(state: &R, receipt_id: &Hash) -> Result<Vec<Address>, StateError> {
    Ok(super::read(state, &StateKey::ReceiptVerifiers(*receipt_id))?.unwrap_or_default())
}

/// The end hook at `height`: draws the verifiers of the receipts claimed in the block before:
/// k distinct registered workers other than the receipt's miner, the job's coordinator and
/// its client (who would gain from a refund), weighted like miners, seeded by the beacon
/// after this block. Fewer if fewer qualify.
pub(super) fn draw_verifiers<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    height: u64,
) -> Result<(), StateError> {
    let ids = super::queue::take::<Hash, _>(state, super::queue::Queue::VerifierDraws, height)?;
    if ids.is_empty() {
        return Ok(());
    }
    let Some(seed) = super::beacon::at(&*state, height)? else { return Ok(()) };
    let weights = state.draw_weights(spec)?;
    for receipt_id in ids {
        let Some(rec) = state.get::<super::payload::receipt::ReceiptRecord>(&StateKey::Receipt(receipt_id))? else {
            continue;
        };
        let Some(job) = state.get::<Job>(&StateKey::Job(rec.job_id))? else { continue };
        let mut pool: Vec<(Address, u128)> = weights
            .iter()
            .filter(|(a, _)| *a != rec.miner && *a != job.post.coordinator && *a != job.client)
            .copied()
            .collect();
        let mut out = Vec::with_capacity(usize::from(job.post.verifiers));
        for i in 0..u32::from(job.post.verifiers) {
            let Some(j) = pick(&pool, Hash::of(tag::VERIFIER_DRAW, &(receipt_id, i, seed))) else { break };
            out.push(pool.remove(j).0);
        }
        state.put(StateKey::ReceiptVerifiers(receipt_id), &out);
    }
    Ok(())
}

/// Schedules the verifier draw of a receipt claimed at `height` for a job that wants `k`.
pub(super) fn schedule_verifiers<R: StateReader>(
    state: &mut Overlay<'_, R>,
    receipt_id: Hash,
    height: u64,
    k: u8,
) -> Result<(), StateError> {
    if k == 0 {
        return Ok(());
    }
    super::queue::push(state, super::queue::Queue::VerifierDraws, height.saturating_add(1), &receipt_id)
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

/// The end hook at `height`: for every open job whose draw window turns over here, the
/// miner drawn for the window that ends (if any) missed it (its reputation counts it), and
/// the next window's miner is drawn. Runs before jobs expire, so a job's last window counts.
pub(super) fn turn_windows<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    height: u64,
) -> Result<(), StateError> {
    let ids = super::queue::take::<Hash, _>(state, super::queue::Queue::Draws, height)?;
    if ids.is_empty() {
        return Ok(());
    }
    let w = spec.economy.miner_draw_blocks;
    let seed = super::beacon::at(&*state, height)?;
    let weights = state.draw_weights(spec)?;
    for id in ids {
        let Some(mut job) = state.get::<Job>(&StateKey::Job(id))? else { continue };
        // A job that left `Open` dropped its draw then.
        if job.status != super::payload::job::JobStatus::Open {
            continue;
        }
        if let Some(missed) = job.draw {
            super::reputation::drawn(state, missed.miner, false)?;
        }
        let window = height.saturating_sub(job.posted_at.saturating_add(1)).checked_div(w).unwrap_or(0);
        let until = height.saturating_add(w);
        let drawn = seed
            .and_then(|seed| pick(&weights, Hash::of(tag::MINER_DRAW, &(id, window, seed))))
            .and_then(|j| weights.get(j))
            .map(|(miner, _)| Drawn { miner: *miner, window, until });
        if drawn.is_some() || job.draw.is_some() {
            job.draw = drawn;
            state.put(StateKey::Job(id), &job);
        }
        if w > 0 && until <= job.post.deadline {
            super::queue::push(state, super::queue::Queue::Draws, until, &id)?;
        }
    }
    Ok(())
}

/// Schedules the first draw of a job posted at `height`: in the end hook of the next block.
pub(super) fn schedule<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    job_id: Hash,
    height: u64,
    deadline: u64,
) -> Result<(), StateError> {
    let first = height.saturating_add(1);
    if spec.economy.miner_draw_blocks > 0 && first <= deadline {
        super::queue::push(state, super::queue::Queue::Draws, first, &job_id)?;
    }
    Ok(())
}

/// The draw for the job `job_id` in the block at `height` on top of `state` (the parent
/// block's state, or the block's own overlay).
pub fn assigned<R: StateReader + ?Sized>(
    state: &R,
    spec: &ChainSpec,
    job_id: &Hash,
    height: u64,
) -> Result<Draw, StateError> {
    let w = spec.economy.miner_draw_blocks;
    if w == 0 {
        return Ok(Draw::Anyone);
    }
    let draw = super::read::<Job, _>(state, &StateKey::Job(*job_id))?.and_then(|j| j.draw);
    Ok(match draw {
        Some(d) if height <= d.until && height > d.until.saturating_sub(w) => {
            Draw::Miner { miner: d.miner, window: d.window, until: d.until }
        }
        _ => Draw::Nobody,
    })
}
