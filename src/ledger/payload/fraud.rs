//! FRAUD_PROOF and the referee (DESIGN §11): anyone may challenge a receipt while it is
//! pending, with a bond; every validator then re-executes the job inside block validation, in
//! the same VM with the same metering, so the chain decides by itself whether the receipt's
//! output and units are what the job gives.
//!
//! - The receipt was wrong (InvalidResult): the pending payment and mint are cancelled (the
//!   mint is unminted, the burn undone), the client gets the whole price back, the miner loses
//!   at least what the receipt would have earned it (`slash_invalid_result_bps` of its stake,
//!   or the gain if that is more, up to all of it) and the attesting coordinator its
//!   `slash_invalid_result_bps` too; the challenger gets its bond back plus `reporter_bps` of
//!   what was slashed, the rest is burned. The job is `refunded`, the receipt `invalidated`.
//! - The receipt was right (FalseChallenge): `slash_false_challenge_bps` of the bond is burned
//!   and the rest returned; the receipt stays pending.
//!
//! Re-execution reads the job's program and input blobs through [`StateReader::blob`]: they
//! are addressed by hash, so every node that holds them computes the same verdict. A block
//! builder without them leaves the proof out ([`FraudInvalid::BlobUnavailable`]). Jobs whose
//! `max_units` exceed `max_dispute_units` cannot be refereed in a block and are refused at
//! JOB_POST unless they draw 3 or more verifiers.

use super::job::{Job, JobStatus};
use super::receipt::{ReceiptRecord, ReceiptStatus};
use super::Ctx;
use crate::chainspec::FeeSchedule;
use crate::ledger::{unbonding, Overlay, StateError, StateKey, StateReader, TxFailure, TxInvalid};
use crate::primitives::{Address, FraudProof, Hash};
use crate::vm::{self, Outcome, RunError};
use parity_scale_codec::{Decode, Encode};

const BPS: u128 = 10_000;

/// Why a fraud proof cannot be in a block (as opposed to losing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FraudInvalid {
    /// This node lacks the job's program or input, so it cannot referee: a later block, or a
    /// node that has them, may include the proof.
    #[error("blob {0} needed to re-execute the job is not on this node")]
    BlobUnavailable(Hash),
}

/// What the referee found, kept on the receipt's record.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Verdict {
    pub challenger: Address,
    pub height: u64,
    /// The receipt was wrong.
    pub upheld: bool,
    /// What re-execution gave: the output's hash (`None`: the job failed) and its units.
    pub output_hash: Option<Hash>,
    pub units: u64,
    pub miner_slashed: u128,
    pub coordinator_slashed: u128,
    /// Burned from the challenger's bond (a false challenge).
    pub bond_burned: u128,
}

pub(super) fn cost(s: &FeeSchedule) -> u128 {
    s.receipt_base
}

fn bps(amount: u128, bps: u32) -> Option<u128> {
    amount.checked_mul(u128::from(bps))?.checked_div(BPS)
}

/// The job's blobs, if this node can referee it.
pub(super) fn blobs<R: StateReader>(state: &Overlay<'_, R>, job: &Job) -> Result<(Vec<u8>, Vec<u8>), TxInvalid> {
    let get = |h: &Hash| -> Result<Vec<u8>, TxInvalid> {
        state.blob(h)?.ok_or(TxInvalid::Fraud(FraudInvalid::BlobUnavailable(*h)))
    };
    Ok((get(&job.post.program)?, get(&job.post.input)?))
}

/// Whether the proof may be in a block built here: the blobs are at hand. Runs before its
/// nonce and fee.
pub(in crate::ledger) fn admit<R: StateReader>(state: &Overlay<'_, R>, p: &FraudProof) -> Result<(), TxInvalid> {
    let Some(rec) = state.get::<ReceiptRecord>(&StateKey::Receipt(p.receipt_id))? else { return Ok(()) };
    let Some(job) = state.get::<Job>(&StateKey::Job(rec.job_id))? else { return Ok(()) };
    blobs(state, &job).map(|_| ())
}

/// The result of re-executing `job`: its output's hash (`None` if it failed or is not a valid
/// program) and its units.
pub(super) fn referee(job: &Job, program: &[u8], input: &[u8]) -> Result<(Option<Hash>, u64), StateError> {
    match vm::run(program, input, job.post.max_units, &vm::Limits::default()) {
        Ok(e) => Ok(match &e.outcome {
            Outcome::Completed { output } => (Some(vm::output_hash(output)), e.units),
            Outcome::Failed(_) => (None, e.units),
        }),
        // No receipt for a program that cannot run is right.
        Err(RunError::Program(_) | RunError::InputTooLarge { .. }) => Ok((None, 0)),
        Err(e @ (RunError::HostOutOfMemory | RunError::Internal(_))) => {
            Err(StateError(format!("cannot referee job: {e}")))
        }
    }
}

pub(super) fn challenge<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    p: &FraudProof,
) -> Result<Result<(), TxFailure>, StateError> {
    let e = &ctx.spec.economy;
    let height = ctx.env.height;
    let Some(rec) = ctx.state.get::<ReceiptRecord>(&StateKey::Receipt(p.receipt_id))? else {
        return Ok(Err(TxFailure::UnknownReceipt(p.receipt_id)));
    };
    if rec.status != ReceiptStatus::Pending || height > rec.matures_at {
        return Ok(Err(TxFailure::ReceiptNotPending { status: rec.status }));
    }
    if p.bond < e.challenge_bond {
        return Ok(Err(TxFailure::BondTooLow { bond: p.bond, min: e.challenge_bond }));
    }
    let Some(job) = ctx.state.get::<Job>(&StateKey::Job(rec.job_id))? else {
        return Ok(Err(TxFailure::UnknownJob(rec.job_id)));
    };
    if job.post.max_units > e.max_dispute_units {
        return Ok(Err(TxFailure::NotRefereeable { max_units: job.post.max_units, limit: e.max_dispute_units }));
    }
    let mut challenger = ctx.state.account(&ctx.sender)?;
    let Some(left) = challenger.balance.checked_sub(p.bond) else {
        return Ok(Err(TxFailure::InsufficientBalance { balance: challenger.balance, needed: p.bond }));
    };
    challenger.balance = left;
    ctx.state.set_account(ctx.sender, challenger);

    let (program, input) = blobs(ctx.state, &job).map_err(|e| StateError(e.to_string()))?;
    let (output_hash, units) = referee(&job, &program, &input)?;
    let upheld = output_hash != Some(rec.output_hash) || units != rec.compute_units;
    let overflow = Ok(Err(TxFailure::Overflow));
    let mut verdict = Verdict {
        challenger: ctx.sender,
        height,
        upheld,
        output_hash,
        units,
        miner_slashed: 0,
        coordinator_slashed: 0,
        bond_burned: 0,
    };
    if !upheld {
        let Some(burned) = bps(p.bond, e.slash_false_challenge_bps) else { return overflow };
        let mut c = ctx.state.account(&ctx.sender)?;
        let Some(back) = p.bond.checked_sub(burned).and_then(|b| c.balance.checked_add(b)) else { return overflow };
        c.balance = back;
        ctx.state.set_account(ctx.sender, c);
        let s = &mut *ctx.supply;
        let (Some(total), Some(burn)) = (s.total.checked_sub(burned), s.burned.checked_add(burned)) else {
            return overflow;
        };
        (s.total, s.burned) = (total, burn);
        verdict.bond_burned = burned;
        ctx.state.put(StateKey::Verdict(p.receipt_id, ctx.sender), &verdict);
        return Ok(Ok(()));
    }

    overturn(ctx, p.receipt_id, rec, job, verdict, p.bond)
}

/// The receipt was wrong: undoes everything it paid (pending as it still is), refunds the
/// client, slashes the miner and the coordinator, and pays the sender (the challenger or the
/// verifier) back its `bond` plus the reporter's share of the slash. Records `verdict`.
pub(super) fn overturn<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    receipt_id: Hash,
    mut rec: ReceiptRecord,
    mut job: Job,
    mut verdict: Verdict,
    bond: u128,
) -> Result<Result<(), TxFailure>, StateError> {
    let e = &ctx.spec.economy;
    let overflow = Ok(Err(TxFailure::Overflow));
    // The receipt was wrong: undo everything it paid, pending as it still is.
    let Some(miner_gets) = rec.miner_payment.checked_add(rec.mint_miner) else { return overflow };
    for (who, amount) in
        [(rec.miner, miner_gets), (rec.coordinator, rec.mint_coordinator), (ctx.treasury, rec.mint_treasury)]
    {
        if amount > 0 {
            let mut acc = ctx.state.account(&who)?;
            let Some(pending) = acc.pending.checked_sub(amount) else { return overflow };
            acc.pending = pending;
            ctx.state.set_account(who, acc);
        }
    }
    let price = rec.miner_payment.saturating_add(rec.burned);
    let mut client = ctx.state.account(&job.client)?;
    let Some(balance) = client.balance.checked_add(price) else { return overflow };
    client.balance = balance;
    ctx.state.set_account(job.client, client);

    // Slash: the miner at least what it would have gained; the coordinator its share. Own
    // stake that started unbonding at or after the claim is slashable too (after the stake
    // itself), so unstaking right after a claim does not escape a challenge.
    let mut slashed = 0u128;
    for (who, at_least) in [(rec.miner, miner_gets), (rec.coordinator, 0)] {
        let mut acc = ctx.state.account(&who)?;
        let leaving = unbonding::slashable_of(ctx.state, who, &who, rec.height)?;
        let Some(slashable) = leaving.iter().try_fold(acc.staked, |t, u| t.checked_add(u.amount)) else {
            return overflow;
        };
        let Some(rate) = bps(slashable, e.slash_invalid_result_bps) else { return overflow };
        let cut = rate.max(at_least).min(slashable);
        let from_stake = cut.min(acc.staked);
        acc.staked = acc.staked.saturating_sub(from_stake);
        ctx.state.set_account(who, acc);
        let mut rest = cut.saturating_sub(from_stake);
        for u in leaving {
            rest = rest.saturating_sub(unbonding::take(ctx.state, who, u.index, rest)?);
        }
        if who == rec.miner {
            verdict.miner_slashed = cut;
        } else {
            verdict.coordinator_slashed = cut;
        }
        let Some(sum) = slashed.checked_add(cut) else { return overflow };
        slashed = sum;
    }
    let Some(share) = bps(slashed, e.reporter_bps) else { return overflow };
    let mut c = ctx.state.account(&ctx.sender)?;
    let Some(back) = c.balance.checked_add(bond).and_then(|b| b.checked_add(share)) else { return overflow };
    c.balance = back;
    ctx.state.set_account(ctx.sender, c);

    let minted = rec.minted();
    let slash_burned = slashed.saturating_sub(share);
    let s = &mut *ctx.supply;
    let (Some(total), Some(m), Some(compute), Some(burned), Some(verified)) = (
        s.total.checked_sub(minted).and_then(|t| t.checked_add(rec.burned)).and_then(|t| t.checked_sub(slash_burned)),
        s.minted.checked_sub(minted),
        s.minted_compute.checked_sub(minted),
        s.burned.checked_sub(rec.burned).and_then(|b| b.checked_add(slash_burned)),
        s.verified_units.checked_sub(u128::from(rec.compute_units)),
    ) else {
        return overflow;
    };
    (s.total, s.minted, s.minted_compute, s.burned, s.verified_units) = (total, m, compute, burned, verified);
    rec.status = ReceiptStatus::Invalidated;
    ctx.state.put(StateKey::Receipt(receipt_id), &rec);
    crate::ledger::reputation::overturned(ctx.state, rec.miner)?;
    job.status = JobStatus::Refunded;
    ctx.state.put(StateKey::Job(rec.job_id), &job);
    ctx.state.put(StateKey::Verdict(receipt_id, ctx.sender), &verdict);
    Ok(Ok(()))
}

pub(super) fn check(p: &FraudProof) -> Result<(), TxInvalid> {
    if p.bond == 0 {
        return Err(TxInvalid::Payload { field: "bond", rule: "must be positive".into() });
    }
    Ok(())
}
