//! TRIAL_CLAIM (seed 000): one-time trial credits for an account that never held AIT. It is
//! fee-less, so nothing a failed claim could be charged stops spam: it pays with a hashcash
//! proof of work instead, bound to a recent block so work cannot be stockpiled, and a claim
//! that breaks any rule cannot be in a block at all ([`TrialInvalid`]) rather than failing
//! inside one. Grants are capped per block (the share of block space fee-less txs may take)
//! and per epoch.
//!
//! The begin-block hook keeps the hashes of the last `pow_max_age` blocks under
//! [`StateKey::RecentBlock`], so a claim's anchor is checked against the chain itself.

use super::Ctx;
use crate::chainspec::ChainSpec;
use crate::ledger::economy_math::{pow_difficulty_bits, NEW_ACCOUNT_REPUTATION_WAD};
use crate::ledger::{Account, BlockEnv, Overlay, StateError, StateKey, StateReader, TxFailure, TxInvalid};
use crate::primitives::{Address, Hash, TrialClaim, Tx};

/// Why a trial claim cannot be in a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrialInvalid {
    #[error("proof of work has {bits} leading zero bits; this chain needs {need}")]
    WeakPow { bits: u32, need: u32 },
    #[error("trial claims are fee-less: fee must be 0, got {0}")]
    Fee(u128),
    #[error("anchor block {anchor} is {age} blocks below this one; at most {max} are accepted")]
    StaleAnchor { anchor: u64, age: u64, max: u64 },
    #[error("anchor {hash} is not the hash of block {height} of this chain")]
    UnknownAnchor { height: u64, hash: Hash },
    #[error("this address already claimed its trial credits at height {0}")]
    AlreadyClaimed(u64),
    #[error("this account has held AIT; trial credits are for new accounts only")]
    NotNew,
    #[error("this block already carries its {0} trial grants")]
    BlockCap(u32),
    #[error("this epoch already granted its {0} trial credits")]
    EpochCap(u32),
}

impl TrialInvalid {
    /// Whether the claim may still be included in a later block.
    pub fn is_transient(&self) -> bool {
        matches!(self, TrialInvalid::BlockCap(_) | TrialInvalid::EpochCap(_))
    }
}

/// Leading zero bits a trial claim's work needs: the difficulty for a new account, which is
/// what every claimant is (it never held AIT, so it has no record to earn a lower one).
pub fn difficulty(spec: &ChainSpec) -> u32 {
    let e = &spec.economy;
    u32::from(pow_difficulty_bits(NEW_ACCOUNT_REPUTATION_WAD, e.pow_difficulty_min, e.pow_difficulty_max))
}

/// The checks that need no state, the work first: it is the cheapest reason to refuse a
/// flood of claims, cheaper than their signatures.
pub(super) fn check(spec: &ChainSpec, tx: &Tx, c: &TrialClaim) -> Result<(), TxInvalid> {
    let need = difficulty(spec);
    let bits = c.pow_bits(&spec.chain_id, &tx.sender_address());
    if bits < need {
        return Err(TrialInvalid::WeakPow { bits, need }.into());
    }
    if tx.fee != 0 {
        return Err(TrialInvalid::Fee(tx.fee).into());
    }
    Ok(())
}

/// Whether `claimant`'s claim may be in the block `env`, which has granted `in_block` so far.
/// Runs before the claim's nonce is checked, so a second claim says so.
pub(in crate::ledger) fn admit<R: StateReader>(
    state: &Overlay<'_, R>,
    spec: &ChainSpec,
    env: &BlockEnv,
    in_block: u32,
    claimant: &Address,
    c: &TrialClaim,
) -> Result<(), TxInvalid> {
    let max = spec.economy.pow_max_age;
    let age = env.height.saturating_sub(c.anchor_height);
    if c.anchor_height >= env.height {
        return Err(TrialInvalid::UnknownAnchor { height: c.anchor_height, hash: c.anchor_hash }.into());
    }
    if age > max {
        return Err(TrialInvalid::StaleAnchor { anchor: c.anchor_height, age, max }.into());
    }
    if state.get::<Hash>(&StateKey::RecentBlock(c.anchor_height))? != Some(c.anchor_hash) {
        return Err(TrialInvalid::UnknownAnchor { height: c.anchor_height, hash: c.anchor_hash }.into());
    }
    if let Some(at) = state.get::<u64>(&StateKey::TrialGrant(*claimant))? {
        return Err(TrialInvalid::AlreadyClaimed(at).into());
    }
    if state.account(claimant)? != Account::default() {
        return Err(TrialInvalid::NotNew.into());
    }
    let e = &spec.economy;
    if in_block >= e.trial_max_per_block {
        return Err(TrialInvalid::BlockCap(e.trial_max_per_block).into());
    }
    let granted =
        state.get::<u32>(&StateKey::TrialCount(crate::ledger::validators::epoch_of(spec, env.height)))?.unwrap_or(0);
    if granted >= e.trial_max_per_epoch {
        return Err(TrialInvalid::EpochCap(e.trial_max_per_epoch).into());
    }
    Ok(())
}

/// Credits the trial grant, counted as minted.
pub(super) fn claim<R: StateReader>(ctx: &mut Ctx<'_, '_, R>) -> Result<Result<(), TxFailure>, StateError> {
    let credits = ctx.spec.economy.trial_credits;
    let mut acc = ctx.state.account(&ctx.sender)?;
    let supply = *ctx.supply;
    let (Some(balance), Some(total), Some(minted), Some(minted_trial)) = (
        acc.balance.checked_add(credits),
        supply.total.checked_add(credits),
        supply.minted.checked_add(credits),
        supply.minted_trial.checked_add(credits),
    ) else {
        return Ok(Err(TxFailure::Overflow));
    };
    let key = StateKey::TrialCount(crate::ledger::validators::epoch_of(ctx.spec, ctx.env.height));
    let Some(granted) = ctx.state.get::<u32>(&key)?.unwrap_or(0).checked_add(1) else {
        return Ok(Err(TxFailure::Overflow));
    };
    acc.balance = balance;
    ctx.state.set_account(ctx.sender, acc);
    ctx.state.put(StateKey::TrialGrant(ctx.sender), &ctx.env.height);
    ctx.state.put(key, &granted);
    *ctx.supply = crate::ledger::Supply { total, minted, minted_trial, ..supply };
    Ok(Ok(()))
}

/// Begin-block hook: records the parent's hash as a possible anchor and forgets the one that
/// just became too old.
pub(in crate::ledger) fn record_anchor<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    env: &BlockEnv,
) -> Result<(), StateError> {
    let Some(parent) = env.height.checked_sub(1) else { return Ok(()) };
    state.put(StateKey::RecentBlock(parent), &env.parent);
    let keep = spec.economy.pow_max_age;
    if let Some(old) = env.height.checked_sub(keep.saturating_add(1)) {
        state.delete(StateKey::RecentBlock(old));
    }
    // No account changes here; the cause is never recorded.
    state.commit_tx(crate::ledger::EventCause::BlockReward)
}
