//! One module per payload: its stateless check, its computation cost for the fee schedule,
//! what it takes from the sender's available balance, and its effect. Adding a payload is a
//! module here, a variant in [`crate::primitives::Payload`], its wire twin, its JSON form and
//! its CLI verb.

pub mod fraud;
pub mod job;
pub mod params;
pub mod receipt;
pub mod stake;
mod transfer;
pub mod trial;
pub mod verdict;

use super::env::BlockEnv;
use super::{Overlay, StateError, StateReader, Supply, TxFailure, TxInvalid};
use crate::chainspec::{ChainSpec, FeeSchedule};
use crate::primitives::{Address, Hash, Payload, PublicKey, Tx};

/// Everything a payload's effect may read or change.
pub(super) struct Ctx<'s, 'a, R> {
    pub state: &'s mut Overlay<'a, R>,
    pub spec: &'s ChainSpec,
    pub env: &'s BlockEnv,
    pub supply: &'s mut Supply,
    /// The tx's hash (a JOB_POST's job id).
    pub tx_hash: Hash,
    pub sender: Address,
    pub sender_key: PublicKey,
    pub treasury: Address,
}

/// Rules on the payload alone (and, for a trial claim, its sender and fee).
pub(super) fn check(spec: &ChainSpec, tx: &Tx) -> Result<(), TxInvalid> {
    let payload = &tx.payload;
    match payload {
        Payload::Transfer(_) | Payload::Batch(_) => transfer::check(spec, payload),
        Payload::JobPost(p) => job::check_post(p),
        Payload::Stake(s) | Payload::Unstake(s) => stake::check(s),
        Payload::Delegate(d) | Payload::Undelegate(d) => stake::check_delegation(d),
        Payload::TrialClaim(c) => trial::check(spec, tx, c),
        Payload::FraudProof(f) => fraud::check(f),
        Payload::ParamUpdate(u) => params::check(spec, u),
        Payload::JobCancel(_) | Payload::ReceiptClaim(_) | Payload::Unjail | Payload::Verdict(_) => Ok(()),
    }
}

/// The payload's computation cost in the fee schedule; `None` on overflow.
pub(super) fn computation_cost(s: &FeeSchedule, payload: &Payload) -> Option<u128> {
    match payload {
        Payload::Transfer(_) | Payload::Batch(_) => transfer::computation_cost(s, payload),
        Payload::JobPost(_) | Payload::JobCancel(_) => Some(job::cost(s)),
        Payload::ReceiptClaim(_) => Some(receipt::cost(s)),
        Payload::Stake(_) | Payload::Unstake(_) | Payload::Delegate(_) | Payload::Undelegate(_) | Payload::Unjail => {
            Some(stake::cost(s))
        }
        Payload::TrialClaim(_) => Some(0),
        Payload::FraudProof(_) => Some(fraud::cost(s)),
        Payload::ParamUpdate(_) => Some(params::cost(s)),
        Payload::Verdict(_) => Some(verdict::cost(s)),
    }
}

/// What the payload takes from the sender's available balance besides the fee (the mempool
/// checks that pending txs together can pay it); `None` on overflow.
pub fn spend(payload: &Payload) -> Option<u128> {
    match payload {
        Payload::Transfer(_) | Payload::Batch(_) => payload.total_amount(),
        Payload::JobPost(p) => Some(p.price),
        Payload::FraudProof(f) => Some(f.bond),
        Payload::Stake(s) => Some(s.amount),
        Payload::Delegate(d) => Some(d.amount),
        Payload::JobCancel(_)
        | Payload::ReceiptClaim(_)
        | Payload::Unstake(_)
        | Payload::Undelegate(_)
        | Payload::TrialClaim(_)
        | Payload::ParamUpdate(_)
        | Payload::Unjail
        | Payload::Verdict(_) => Some(0),
    }
}

/// Runs the payload. `Ok(Err(_))`: it failed and the caller drops its writes.
pub(super) fn apply<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    payload: &Payload,
) -> Result<Result<(), TxFailure>, StateError> {
    match payload {
        Payload::Transfer(t) => transfer::apply(ctx, std::slice::from_ref(t)),
        Payload::Batch(ts) => transfer::apply(ctx, ts),
        Payload::JobPost(p) => job::post(ctx, p),
        Payload::JobCancel(c) => job::cancel(ctx, c),
        Payload::ReceiptClaim(c) => receipt::claim(ctx, c),
        Payload::Stake(s) => stake::stake(ctx, s),
        Payload::Unstake(s) => stake::unstake(ctx, s),
        Payload::Delegate(d) => stake::delegate(ctx, d),
        Payload::Undelegate(d) => stake::undelegate(ctx, d),
        Payload::TrialClaim(_) => trial::claim(ctx),
        Payload::FraudProof(f) => fraud::challenge(ctx, f),
        Payload::ParamUpdate(u) => params::update(ctx, u),
        Payload::Unjail => stake::unjail(ctx),
        Payload::Verdict(v) => verdict::verdict(ctx, v),
    }
}
