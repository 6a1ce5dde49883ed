//! JOB_POST and JOB_CANCEL, and the block hook that expires jobs past their deadline. A job
//! reserves its price from the client's balance (seed 000's reserve / charge / release): a
//! receipt charges it, a cancel or the deadline releases it.

use super::Ctx;
use crate::chainspec::FeeSchedule;
use crate::ledger::draw::Drawn;
use crate::ledger::queue::{self, Queue};
use crate::ledger::{Overlay, StateError, StateKey, StateReader, TxFailure, TxInvalid};
use crate::primitives::{Address, Hash, JobCancel, JobPost};
use parity_scale_codec::{Decode, Encode};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    #[codec(index = 0)]
    Open,
    /// A receipt landed; its payment and mint are pending until the challenge window closes.
    #[codec(index = 1)]
    Claimed,
    #[codec(index = 2)]
    Settled,
    #[codec(index = 3)]
    Cancelled,
    #[codec(index = 4)]
    Expired,
    /// A fraud proof showed its receipt wrong; the client got the price back.
    #[codec(index = 5)]
    Refunded,
}

impl JobStatus {
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::Open => "open",
            JobStatus::Claimed => "claimed",
            JobStatus::Settled => "settled",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Expired => "expired",
            JobStatus::Refunded => "refunded",
        }
    }
}

/// A job as the state keeps it, under [`StateKey::Job`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Job {
    pub client: Address,
    pub post: JobPost,
    pub status: JobStatus,
    pub posted_at: u64,
    /// The receipt that claimed it.
    pub receipt: Option<Hash>,
    /// While open: the miner drawn for the current window (see [`crate::ledger::draw`]).
    /// Kept in the job's own record, which a claim rewrites anyway, so that a claim deletes
    /// no record of its own (a delete costs the state tree a walk from its root).
    pub draw: Option<Drawn>,
}

pub(super) fn check_post(p: &JobPost) -> Result<(), TxInvalid> {
    let rule = |field, rule: &str| Err(TxInvalid::Payload { field, rule: rule.into() });
    if p.price == 0 {
        return rule("price", "must be positive");
    }
    if p.max_units == 0 {
        return rule("maxUnits", "must be positive");
    }
    Ok(())
}

pub(super) fn cost(s: &FeeSchedule) -> u128 {
    s.job_base
}

pub(super) fn post<R: StateReader>(ctx: &mut Ctx<'_, '_, R>, p: &JobPost) -> Result<Result<(), TxFailure>, StateError> {
    let height = ctx.env.height;
    if p.deadline <= height {
        return Ok(Err(TxFailure::DeadlineInPast { deadline: p.deadline, height }));
    }
    // A job validators cannot re-execute inside a block must be checked by verifiers.
    let limit = ctx.spec.economy.max_dispute_units;
    if p.max_units > limit && p.verifiers < 3 {
        return Ok(Err(TxFailure::NeedsVerifiers { max_units: p.max_units, limit, verifiers: p.verifiers }));
    }
    let mut client = ctx.state.account(&ctx.sender)?;
    let Some(left) = client.balance.checked_sub(p.price) else {
        return Ok(Err(TxFailure::InsufficientBalance { balance: client.balance, needed: p.price }));
    };
    let Some(reserved) = client.reserved.checked_add(p.price) else { return Ok(Err(TxFailure::Overflow)) };
    client.balance = left;
    client.reserved = reserved;
    ctx.state.set_account(ctx.sender, client);
    let job = Job {
        client: ctx.sender,
        post: p.clone(),
        status: JobStatus::Open,
        posted_at: height,
        receipt: None,
        draw: None,
    };
    ctx.state.put(StateKey::Job(ctx.tx_hash), &job);
    queue::push(ctx.state, Queue::Expiring, p.deadline, &ctx.tx_hash)?;
    crate::ledger::draw::schedule(ctx.state, ctx.spec, ctx.tx_hash, height, p.deadline)?;
    Ok(Ok(()))
}

pub(super) fn cancel<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    c: &JobCancel,
) -> Result<Result<(), TxFailure>, StateError> {
    let Some(mut job) = ctx.state.get::<Job>(&StateKey::Job(c.job_id))? else {
        return Ok(Err(TxFailure::UnknownJob(c.job_id)));
    };
    if job.client != ctx.sender {
        return Ok(Err(TxFailure::NotJobClient));
    }
    if job.status != JobStatus::Open {
        return Ok(Err(TxFailure::JobNotOpen { status: job.status }));
    }
    if release(ctx.state, &job)?.is_err() {
        return Ok(Err(TxFailure::Overflow));
    }
    job.status = JobStatus::Cancelled;
    job.draw = None;
    ctx.state.put(StateKey::Job(c.job_id), &job);
    Ok(Ok(()))
}

/// Gives an open job's reservation back to its client. `Ok(Err(()))` on overflow.
fn release<R: StateReader>(state: &mut Overlay<'_, R>, job: &Job) -> Result<Result<(), ()>, StateError> {
    let mut client = state.account(&job.client)?;
    let (Some(reserved), Some(balance)) =
        (client.reserved.checked_sub(job.post.price), client.balance.checked_add(job.post.price))
    else {
        return Ok(Err(()));
    };
    client.reserved = reserved;
    client.balance = balance;
    state.set_account(job.client, client);
    Ok(Ok(()))
}

/// The block hook: jobs whose deadline is `height` and that are still open expire, and their
/// reservations go back to their clients.
pub(crate) fn expire<R: StateReader>(state: &mut Overlay<'_, R>, height: u64) -> Result<(), StateError> {
    for id in queue::take::<Hash, _>(state, Queue::Expiring, height)? {
        let Some(mut job) = state.get::<Job>(&StateKey::Job(id))? else { continue };
        if job.status != JobStatus::Open {
            continue;
        }
        if release(state, &job)?.is_err() {
            return Err(StateError(format!("releasing job {id} overflows its client's balance")));
        }
        job.status = JobStatus::Expired;
        job.draw = None;
        state.put(StateKey::Job(id), &job);
    }
    Ok(())
}
