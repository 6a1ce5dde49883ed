//! STAKE and UNSTAKE, and the block hook that releases matured unbonding entries. Staking at
//! least `min_stake` makes the account a validator candidate from then on; the validator set
//! picks candidates by stake at each epoch boundary.

use super::Ctx;
use crate::chainspec::FeeSchedule;
use crate::ledger::validators::Validators;
use crate::ledger::{Overlay, StateError, StateKey, StateReader, TxFailure, TxInvalid};
use crate::primitives::{Address, StakeAmount};

/// Unbonding entries one account may have at once (Cosmos's default).
pub const MAX_UNBONDING_ENTRIES: u32 = 7;

pub(super) fn check(s: &StakeAmount) -> Result<(), TxInvalid> {
    if s.amount == 0 {
        return Err(TxInvalid::Payload { field: "amount", rule: "must be positive".into() });
    }
    Ok(())
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
    if acc.unbonding_entries >= MAX_UNBONDING_ENTRIES {
        return Ok(Err(TxFailure::TooManyUnbonding { limit: MAX_UNBONDING_ENTRIES }));
    }
    let Some(unbonding) = acc.unbonding.checked_add(s.amount) else { return Ok(Err(TxFailure::Overflow)) };
    (acc.staked, acc.unbonding) = (staked, unbonding);
    acc.unbonding_entries = acc.unbonding_entries.saturating_add(1);
    ctx.state.set_account(ctx.sender, acc);
    let at = ctx.env.height.saturating_add(ctx.spec.economy.unbonding_period.max(1));
    let mut entries: Vec<(Address, u128)> = ctx.state.get(&StateKey::Unbonding(at))?.unwrap_or_default();
    entries.push((ctx.sender, s.amount));
    ctx.state.put(StateKey::Unbonding(at), &entries);
    Ok(Ok(()))
}

/// The block hook: unbonding entries that end at `height` return to their accounts' balances.
pub(crate) fn release<R: StateReader>(state: &mut Overlay<'_, R>, height: u64) -> Result<(), StateError> {
    let Some(entries) = state.get::<Vec<(Address, u128)>>(&StateKey::Unbonding(height))? else { return Ok(()) };
    let overflow = || StateError("releasing an unbonding entry overflows".into());
    for (who, amount) in entries {
        let mut acc = state.account(&who)?;
        acc.unbonding = acc.unbonding.checked_sub(amount).ok_or_else(overflow)?;
        acc.balance = acc.balance.checked_add(amount).ok_or_else(overflow)?;
        acc.unbonding_entries = acc.unbonding_entries.saturating_sub(1);
        state.set_account(who, acc);
    }
    state.delete(StateKey::Unbonding(height));
    Ok(())
}
