//! STAKE, UNSTAKE, DELEGATE and UNDELEGATE, and the block hook that releases matured
//! unbonding entries. Staking at least `min_stake` makes the account a validator candidate
//! from then on; others may delegate to a candidate, and the validator set picks candidates by
//! effective stake (own + delegated) at each epoch boundary.

use super::Ctx;
use crate::chainspec::FeeSchedule;
use crate::ledger::unbonding;
use crate::ledger::validators::Validators;
use crate::ledger::{Overlay, StateError, StateKey, StateReader, TxFailure, TxInvalid};
use crate::primitives::{Address, Delegation, StakeAmount};
use parity_scale_codec::{Decode, Encode};

/// Who delegated to one validator, under [`StateKey::Delegators`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct Delegators {
    /// Sum of every delegation to the validator: its effective stake is this plus its own.
    pub total: u128,
    /// In order of their first delegation.
    pub who: Vec<Address>,
}

/// A validator's effective stake: its own plus what is delegated to it.
pub(crate) fn effective_stake<R: StateReader>(state: &Overlay<'_, R>, validator: &Address) -> Result<u128, StateError> {
    let own = state.account(validator)?.staked;
    let delegated = state.get::<Delegators>(&StateKey::Delegators(*validator))?.map_or(0, |d| d.total);
    own.checked_add(delegated).ok_or_else(|| StateError("effective stake overflows".into()))
}

pub(super) fn check(s: &StakeAmount) -> Result<(), TxInvalid> {
    if s.amount == 0 {
        return Err(TxInvalid::Payload { field: "amount", rule: "must be positive".into() });
    }
    Ok(())
}

pub(super) fn check_delegation(d: &Delegation) -> Result<(), TxInvalid> {
    check(&StakeAmount { amount: d.amount })
}

pub(super) fn cost(s: &FeeSchedule) -> u128 {
    s.staking_base
}

pub(super) fn stake<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    s: &StakeAmount,
) -> Result<Result<(), TxFailure>, StateError> {
    let mut acc = ctx.state.account(&ctx.sender)?;
    let Some(left) = acc.balance.checked_sub(s.amount) else {
        return Ok(Err(TxFailure::InsufficientBalance { balance: acc.balance, needed: s.amount }));
    };
    let Some(staked) = acc.staked.checked_add(s.amount) else { return Ok(Err(TxFailure::Overflow)) };
    (acc.balance, acc.staked) = (left, staked);
    ctx.state.set_account(ctx.sender, acc);
    crate::ledger::draw::register(ctx.state, ctx.spec, ctx.sender, staked)?;
    if staked >= ctx.spec.economy.min_stake {
        let mut v: Validators = ctx.state.get(&StateKey::Validators)?.unwrap_or_default();
        if !v.candidates.contains(&ctx.sender_key) {
            v.candidates.push(ctx.sender_key);
            ctx.state.put(StateKey::Validators, &v);
        }
    }
    Ok(Ok(()))
}

pub(super) fn unstake<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    s: &StakeAmount,
) -> Result<Result<(), TxFailure>, StateError> {
    let mut acc = ctx.state.account(&ctx.sender)?;
    let Some(staked) = acc.staked.checked_sub(s.amount) else {
        return Ok(Err(TxFailure::InsufficientStake { staked: acc.staked, amount: s.amount }));
    };
    acc.staked = staked;
    let who = ctx.sender;
    start_unbonding(ctx, acc, who, s.amount)
}

/// Moves `amount` (already taken from the bucket of `acc` bonded to `from`) into an
/// unbonding entry.
fn start_unbonding<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    acc: crate::ledger::Account,
    from: Address,
    amount: u128,
) -> Result<Result<(), TxFailure>, StateError> {
    let end = ctx.env.height.saturating_add(ctx.spec.economy.unbonding_period.max(1));
    unbonding::start(ctx.state, ctx.sender, acc, from, amount, ctx.env.height, end)
}

pub(super) fn delegate<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    d: &Delegation,
) -> Result<Result<(), TxFailure>, StateError> {
    let v: Validators = ctx.state.get(&StateKey::Validators)?.unwrap_or_default();
    if !v.candidates.iter().any(|k| Address::from_public_key(k) == d.validator) {
        return Ok(Err(TxFailure::NotACandidate(d.validator.to_bech32(ctx.spec.hrp()))));
    }
    let mut acc = ctx.state.account(&ctx.sender)?;
    let Some(left) = acc.balance.checked_sub(d.amount) else {
        return Ok(Err(TxFailure::InsufficientBalance { balance: acc.balance, needed: d.amount }));
    };
    let Some(delegated) = acc.delegated.checked_add(d.amount) else { return Ok(Err(TxFailure::Overflow)) };
    (acc.balance, acc.delegated) = (left, delegated);
    ctx.state.set_account(ctx.sender, acc);
    let key = StateKey::Delegation(ctx.sender, d.validator);
    let bonded: u128 = ctx.state.get(&key)?.unwrap_or(0);
    let Some(bonded) = bonded.checked_add(d.amount) else { return Ok(Err(TxFailure::Overflow)) };
    ctx.state.put(key, &bonded);
    let mut all: Delegators = ctx.state.get(&StateKey::Delegators(d.validator))?.unwrap_or_default();
    let Some(total) = all.total.checked_add(d.amount) else { return Ok(Err(TxFailure::Overflow)) };
    all.total = total;
    if !all.who.contains(&ctx.sender) {
        all.who.push(ctx.sender);
    }
    ctx.state.put(StateKey::Delegators(d.validator), &all);
    Ok(Ok(()))
}

pub(super) fn undelegate<R: StateReader>(
    ctx: &mut Ctx<'_, '_, R>,
    d: &Delegation,
) -> Result<Result<(), TxFailure>, StateError> {
    let key = StateKey::Delegation(ctx.sender, d.validator);
    let bonded: u128 = ctx.state.get(&key)?.unwrap_or(0);
    let Some(left) = bonded.checked_sub(d.amount) else {
        return Ok(Err(TxFailure::InsufficientDelegation { delegated: bonded, amount: d.amount }));
    };
    let mut all: Delegators = ctx.state.get(&StateKey::Delegators(d.validator))?.unwrap_or_default();
    let mut acc = ctx.state.account(&ctx.sender)?;
    let (Some(total), Some(delegated)) = (all.total.checked_sub(d.amount), acc.delegated.checked_sub(d.amount)) else {
        return Ok(Err(TxFailure::Overflow));
    };
    all.total = total;
    acc.delegated = delegated;
    if left == 0 {
        ctx.state.delete(key);
        all.who.retain(|a| *a != ctx.sender);
    } else {
        ctx.state.put(key, &left);
    }
    ctx.state.put(StateKey::Delegators(d.validator), &all);
    start_unbonding(ctx, acc, d.validator, d.amount)
}

/// UNJAIL: the sender's validator key leaves jail once its term is over and is a candidate
/// again at the next epoch boundary (if it still has the minimum stake then). Double signing
/// jails for good.
pub(super) fn unjail<R: StateReader>(ctx: &mut Ctx<'_, '_, R>) -> Result<Result<(), TxFailure>, StateError> {
    let mut v: Validators = ctx.state.get(&StateKey::Validators)?.unwrap_or_default();
    let Some(jail) = v.jail_of(&ctx.sender_key).copied() else {
        return Ok(Err(TxFailure::NotJailed(ctx.sender.to_bech32(ctx.spec.hrp()))));
    };
    let Some(until) = jail.until else { return Ok(Err(TxFailure::JailedForGood)) };
    if ctx.env.height < until {
        return Ok(Err(TxFailure::StillJailed { until, height: ctx.env.height }));
    }
    v.jailed.retain(|j| j.key != ctx.sender_key);
    ctx.state.put(StateKey::Validators, &v);
    Ok(Ok(()))
}
