//! RECEIPT_CLAIM: a miner's compute receipt, attested by the job's coordinator, settles an
//! escrowed job and mints AIT for the units delivered. Everything it pays is pending for
//! `challenge_blocks` and matures in the block hook.
//!
//! Amounts, all exact integers:
//! - escrow: the job's price leaves the client's reservation; `burn_bps` of it is burned and
//!   the rest goes to the miner;
//! - mint: units x `mint_per_unit` x the contribution multiplier, capped so that a miner's
//!   compute mint in one epoch is at most `mint_cap_bps` of its stake; the coordinator gets
//!   `coordinator_ratio_bps` of it, the treasury `treasury_ratio_bps`, the miner the rest.

use super::job::{Job, JobStatus};
use super::Ctx;
use crate::chainspec::{ChainSpec, FeeSchedule};
use crate::ledger::economy_math::{apply_wad, contribution_multiplier_wad};
use crate::ledger::queue::{self, Queue};
use crate::ledger::{Overlay, StateError, StateKey, StateReader, TxFailure};
use crate::primitives::{Address, Hash, ReceiptClaim};
use parity_scale_codec::{Decode, Encode};
use serde::Serialize;

const BPS: u128 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReceiptStatus {
    #[codec(index = 0)]
    Pending,
    #[codec(index = 1)]
    Matured,
    /// A fraud proof showed it wrong; what it paid was cancelled.
    #[codec(index = 2)]
    Invalidated,
}

/// A claimed receipt and what it paid, under [`StateKey::Receipt`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct ReceiptRecord {
    pub job_id: Hash,
    pub miner: Address,
    pub coordinator: Address,
    pub compute_units: u64,
    pub output_hash: Hash,
    pub height: u64,
    pub matures_at: u64,
    pub status: ReceiptStatus,
    /// The job's price minus the burn.
    pub miner_payment: u128,
    pub burned: u128,
    pub mint_miner: u128,
    pub mint_coordinator: u128,
    pub mint_treasury: u128,
}

impl ReceiptRecord {
    pub fn minted(&self) -> u128 {
        self.mint_miner.saturating_add(self.mint_coordinator).saturating_add(self.mint_treasury)
    }
}

pub(super) fn cost(s: &FeeSchedule) -> u128 {
    s.receipt_base
}

fn bps(amount: u128, bps: u32) -> Option<u128> {
    amount.checked_mul(u128::from(bps))?.checked_div(BPS)
}

pub(super) fn claim<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    c: &ReceiptClaim,
) -> Result<Result<(), TxFailure>, StateError> {
    match settle(ctx, c)? {
        Ok(()) => Ok(Ok(())),
        Err(Some(f)) => Ok(Err(f)),
        Err(None) => Ok(Err(TxFailure::Overflow)),
    }
}

/// The claim's checks and effects; `Err(None)` is an overflow.
fn settle<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    c: &ReceiptClaim,
) -> Result<Result<(), Option<TxFailure>>, StateError> {
    let r = &c.receipt;
    let e = &ctx.spec.economy;
    let height = ctx.env.height;
    let fail = |f| Ok(Err(Some(f)));
    // A receipt id pays once, ever, whatever became of its job.
    if ctx.state.get::<ReceiptRecord>(&StateKey::Receipt(r.receipt_id))?.is_some() {
        return fail(TxFailure::ReceiptReplay(r.receipt_id));
    }
    let Some(mut job) = ctx.state.get::<Job>(&StateKey::Job(r.job_id))? else {
        return fail(TxFailure::UnknownJob(r.job_id));
    };
    if job.status != JobStatus::Open {
        return fail(TxFailure::JobNotOpen { status: job.status });
    }
    if height > job.post.deadline {
        return fail(TxFailure::JobExpired { deadline: job.post.deadline });
    }
    if r.client != job.client {
        return fail(TxFailure::ClientMismatch);
    }
    if r.price != job.post.price {
        return fail(TxFailure::PriceMismatch { receipt: r.price, job: job.post.price });
    }
    if r.metering_version != e.metering_version {
        return fail(TxFailure::MeteringMismatch { got: r.metering_version, want: e.metering_version });
    }
    if Address::from_public_key(&c.miner_key) != r.miner {
        return fail(TxFailure::MinerKeyMismatch);
    }
    if r.compute_units > job.post.max_units {
        return fail(TxFailure::UnitsOverMax { units: r.compute_units, max_units: job.post.max_units });
    }
    if Address::from_public_key(&c.coordinator_key) != job.post.coordinator {
        return fail(TxFailure::WrongCoordinator);
    }
    let miner_stake = ctx.state.account(&r.miner)?.staked;
    if miner_stake < e.miner_min_stake {
        return fail(TxFailure::MinerStake { staked: miner_stake, min: e.miner_min_stake });
    }
    match crate::ledger::draw::assigned(&*ctx.state, ctx.spec, &r.job_id, height)? {
        crate::ledger::draw::Draw::Anyone => {}
        crate::ledger::draw::Draw::Miner { miner, .. } if miner == r.miner => {
            crate::ledger::reputation::drawn(ctx.state, miner, true)?;
        }
        crate::ledger::draw::Draw::Miner { miner, until, .. } => {
            return fail(TxFailure::NotDrawn { drawn: Some(miner.to_bech32(ctx.spec.hrp())), until });
        }
        crate::ledger::draw::Draw::Nobody => return fail(TxFailure::NotDrawn { drawn: None, until: height }),
    }

    // Escrow: the price leaves the client's reservation; the burn leaves the supply.
    let mut client = ctx.state.account(&job.client)?;
    let Some(reserved) = client.reserved.checked_sub(r.price) else { return Ok(Err(None)) };
    client.reserved = reserved;
    ctx.state.set_account(job.client, client);
    let Some(burned) = bps(r.price, e.burn_bps) else { return Ok(Err(None)) };
    let Some(miner_payment) = r.price.checked_sub(burned) else { return Ok(Err(None)) };

    // Mint, capped by the miner's stake per epoch.
    let multiplier =
        contribution_multiplier_wad(ctx.supply.verified_units, e.units_per_hour, e.contribution_decay_hours);
    let Some(gross) = u128::from(r.compute_units).checked_mul(e.mint_per_unit) else { return Ok(Err(None)) };
    let Some(uncapped) = apply_wad(gross, multiplier) else { return Ok(Err(None)) };
    let epoch_key = StateKey::EpochMint(r.miner, crate::ledger::validators::epoch_of(ctx.spec, height));
    let minted_this_epoch: u128 = ctx.state.get(&epoch_key)?.unwrap_or(0);
    let Some(cap) = bps(miner_stake, e.mint_cap_bps) else { return Ok(Err(None)) };
    let mint = uncapped.min(cap.saturating_sub(minted_this_epoch));
    let (Some(mint_coordinator), Some(mint_treasury)) =
        (bps(mint, e.coordinator_ratio_bps), bps(mint, e.treasury_ratio_bps))
    else {
        return Ok(Err(None));
    };
    let Some(mint_miner) = mint.checked_sub(mint_coordinator).and_then(|m| m.checked_sub(mint_treasury)) else {
        return Ok(Err(None));
    };
    if mint > 0 {
        let Some(total) = minted_this_epoch.checked_add(mint) else { return Ok(Err(None)) };
        ctx.state.put(epoch_key, &total);
    }

    // Everyone's share is pending until the challenge window closes.
    let Some(miner_gets) = miner_payment.checked_add(mint_miner) else { return Ok(Err(None)) };
    for (who, amount) in
        [(r.miner, miner_gets), (job.post.coordinator, mint_coordinator), (ctx.treasury, mint_treasury)]
    {
        if amount > 0 {
            let mut acc = ctx.state.account(&who)?;
            let Some(pending) = acc.pending.checked_add(amount) else { return Ok(Err(None)) };
            acc.pending = pending;
            ctx.state.set_account(who, acc);
        }
    }
    let s = &mut *ctx.supply;
    let (Some(total), Some(minted), Some(compute), Some(burn_total), Some(units)) = (
        s.total.checked_add(mint).and_then(|t| t.checked_sub(burned)),
        s.minted.checked_add(mint),
        s.minted_compute.checked_add(mint),
        s.burned.checked_add(burned),
        s.verified_units.checked_add(u128::from(r.compute_units)),
    ) else {
        return Ok(Err(None));
    };
    (s.total, s.minted, s.minted_compute, s.burned, s.verified_units) = (total, minted, compute, burn_total, units);

    let matures_at = height.saturating_add(e.challenge_blocks.max(1));
    let record = ReceiptRecord {
        job_id: r.job_id,
        miner: r.miner,
        coordinator: job.post.coordinator,
        compute_units: r.compute_units,
        output_hash: r.output_hash,
        height,
        matures_at,
        status: ReceiptStatus::Pending,
        miner_payment,
        burned,
        mint_miner,
        mint_coordinator,
        mint_treasury,
    };
    ctx.state.put(StateKey::Receipt(r.receipt_id), &record);
    queue::push(ctx.state, Queue::Maturing, matures_at, &r.receipt_id)?;
    crate::ledger::reputation::accepted(ctx.state, r.miner)?;
    crate::ledger::draw::schedule_verifiers(ctx.state, r.receipt_id, height, job.post.verifiers)?;
    job.status = JobStatus::Claimed;
    job.receipt = Some(r.receipt_id);
    job.draw = None;
    ctx.state.put(StateKey::Job(r.job_id), &job);
    Ok(Ok(()))
}

/// The block hook: receipts whose challenge window closes at `height` mature; their pending
/// amounts become available and their jobs settle.
pub(crate) fn mature<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    treasury: Address,
    height: u64,
) -> Result<(), StateError> {
    let ids = queue::take::<Hash, _>(state, Queue::Maturing, height)?;
    let overflow = || StateError("maturing a receipt overflows a balance".into());
    for id in ids {
        let Some(mut rec) = state.get::<ReceiptRecord>(&StateKey::Receipt(id))? else { continue };
        if rec.status != ReceiptStatus::Pending {
            continue;
        }
        let miner_gets = rec.miner_payment.checked_add(rec.mint_miner).ok_or_else(overflow)?;
        // The drawn verifiers: those that confirmed the receipt share part of the treasury's
        // cut; those that never spoke missed their draw. (Who voted was checked against the
        // draw when the verdict landed.)
        let votes: Vec<(Address, bool)> = state.get(&StateKey::Verdicts(id))?.unwrap_or_default();
        state.delete(StateKey::Verdicts(id));
        let confirmed: Vec<Address> = votes.iter().filter(|(_, agrees)| *agrees).map(|(who, _)| *who).collect();
        for (who, _) in &votes {
            crate::ledger::reputation::drawn(state, *who, true)?;
        }
        for v in crate::ledger::draw::verifiers(&*state, &id)? {
            if !votes.iter().any(|(who, _)| *who == v) {
                crate::ledger::reputation::drawn(state, v, false)?;
            }
        }
        state.delete(StateKey::ReceiptVerifiers(id));
        let verifiers_get = if confirmed.is_empty() {
            0
        } else {
            bps(rec.mint_treasury, spec.economy.verifier_share_bps).ok_or_else(overflow)?
        };
        let each = u128::try_from(confirmed.len()).ok().and_then(|n| verifiers_get.checked_div(n)).unwrap_or(0);
        let paid_out = each.checked_mul(u128::try_from(confirmed.len()).unwrap_or(0)).ok_or_else(overflow)?;
        for (who, amount) in
            [(rec.miner, miner_gets), (rec.coordinator, rec.mint_coordinator), (treasury, rec.mint_treasury)]
        {
            if amount > 0 {
                let mut acc = state.account(&who)?;
                acc.pending = acc.pending.checked_sub(amount).ok_or_else(overflow)?;
                acc.balance = acc.balance.checked_add(amount).ok_or_else(overflow)?;
                state.set_account(who, acc);
            }
        }
        // The verifiers' share comes out of what the treasury just received.
        if paid_out > 0 {
            let mut t = state.account(&treasury)?;
            t.balance = t.balance.checked_sub(paid_out).ok_or_else(overflow)?;
            state.set_account(treasury, t);
            for v in confirmed {
                let mut acc = state.account(&v)?;
                acc.balance = acc.balance.checked_add(each).ok_or_else(overflow)?;
                state.set_account(v, acc);
            }
        }
        rec.status = ReceiptStatus::Matured;
        state.put(StateKey::Receipt(id), &rec);
        crate::ledger::work::credit(state, spec, rec.miner, u128::from(rec.compute_units), height)?;
        if let Some(mut job) = state.get::<Job>(&StateKey::Job(rec.job_id))? {
            job.status = JobStatus::Settled;
            state.put(StateKey::Job(rec.job_id), &job);
        }
    }
    Ok(())
}
