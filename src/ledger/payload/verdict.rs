//! VERDICT: the verifiers the chain draws for a receipt (the job's `verifiers` k, see
//! [`crate::ledger::draw::verifiers`]) each re-run the job and report its output and units
//! while the receipt is pending. A verdict that agrees is recorded; one that disagrees opens
//! the dispute at once:
//! - a job validators can referee (`max_units <= max_dispute_units`) is re-executed inside the
//!   block, exactly as for a FRAUD_PROOF: a wrong receipt is overturned (the verifier is paid
//!   the reporter's share, no bond needed); a verifier that was wrong counts a failed result in
//!   its reputation;
//! - a larger job is decided by the drawn verifiers: once more than half of them disagree,
//!   the receipt is overturned.
//!
//! At maturity the verifiers that confirmed the receipt share `verifier_share_bps` of its
//! treasury cut, and every drawn verifier that stayed silent counts a missed draw in its
//! reputation (see `receipt::mature`).

use super::fraud::{self, Verdict};
use super::job::Job;
use super::receipt::{ReceiptRecord, ReceiptStatus};
use super::Ctx;
use crate::chainspec::FeeSchedule;
use crate::ledger::{draw, Overlay, StateError, StateKey, StateReader, TxFailure, TxInvalid};
use crate::primitives::VerifierVerdict;

pub(super) fn cost(s: &FeeSchedule) -> u128 {
    s.receipt_base
}

/// A disagreeing verdict on a job the block must referee needs the job's blobs here.
pub(in crate::ledger) fn admit<R: StateReader>(
    state: &Overlay<'_, R>,
    spec: &crate::chainspec::ChainSpec,
    v: &VerifierVerdict,
) -> Result<(), TxInvalid> {
    let Some(rec) = state.get::<ReceiptRecord>(&StateKey::Receipt(v.receipt_id))? else { return Ok(()) };
    let Some(job) = state.get::<Job>(&StateKey::Job(rec.job_id))? else { return Ok(()) };
    let disagrees = (v.output_hash, v.units) != (rec.output_hash, rec.compute_units);
    if disagrees && job.post.max_units <= spec.economy.max_dispute_units {
        fraud::blobs(state, &job)?;
    }
    Ok(())
}

pub(super) fn verdict<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    v: &VerifierVerdict,
) -> Result<Result<(), TxFailure>, StateError> {
    let height = ctx.env.height;
    let Some(rec) = ctx.state.get::<ReceiptRecord>(&StateKey::Receipt(v.receipt_id))? else {
        return Ok(Err(TxFailure::UnknownReceipt(v.receipt_id)));
    };
    if rec.status != ReceiptStatus::Pending || height > rec.matures_at {
        return Ok(Err(TxFailure::ReceiptNotPending { status: rec.status }));
    }
    let Some(job) = ctx.state.get::<Job>(&StateKey::Job(rec.job_id))? else {
        return Ok(Err(TxFailure::UnknownJob(rec.job_id)));
    };
    let drawn = draw::verifiers(&*ctx.state, &v.receipt_id)?;
    if !drawn.contains(&ctx.sender) {
        return Ok(Err(TxFailure::NotAVerifier(ctx.sender.to_bech32(ctx.spec.hrp()))));
    }
    let key = StateKey::Verdicts(v.receipt_id);
    let mut votes: Vec<(crate::primitives::Address, bool)> = ctx.state.get(&key)?.unwrap_or_default();
    if votes.iter().any(|(who, _)| *who == ctx.sender) {
        return Ok(Err(TxFailure::AlreadyVoted));
    }
    let agrees = (v.output_hash, v.units) == (rec.output_hash, rec.compute_units);
    votes.push((ctx.sender, agrees));
    ctx.state.put(key, &votes);
    if agrees {
        return Ok(Ok(()));
    }
    let e = &ctx.spec.economy;
    if job.post.max_units <= e.max_dispute_units {
        // The chain referees it now, as it would a fraud proof.
        let (program, input) = fraud::blobs(ctx.state, &job).map_err(|e| StateError(e.to_string()))?;
        let (output_hash, units) = fraud::referee(&job, &program, &input)?;
        let upheld = output_hash != Some(rec.output_hash) || units != rec.compute_units;
        if !upheld {
            crate::ledger::reputation::wrong_verdict(ctx.state, ctx.sender)?;
            return Ok(Ok(()));
        }
        let verdict = new_verdict(ctx.sender, height, output_hash, units);
        return fraud::overturn(ctx, v.receipt_id, rec, job, verdict, 0);
    }
    // Too large to referee: the drawn verifiers decide by majority.
    let disagree = votes.iter().filter(|(_, agrees)| !agrees).count();
    if disagree.saturating_mul(2) > drawn.len() {
        let verdict = new_verdict(ctx.sender, height, Some(v.output_hash), v.units);
        return fraud::overturn(ctx, v.receipt_id, rec, job, verdict, 0);
    }
    Ok(Ok(()))
}

fn new_verdict(
    by: crate::primitives::Address,
    height: u64,
    output_hash: Option<crate::primitives::Hash>,
    units: u64,
) -> Verdict {
    Verdict {
        challenger: by,
        height,
        upheld: true,
        output_hash,
        units,
        miner_slashed: 0,
        coordinator_slashed: 0,
        bond_burned: 0,
    }
}
