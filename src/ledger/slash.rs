//! Slashing for double signing: the equivocation evidence a block carries costs the validator
//! `slash_double_sign_bps` of its stake (its delegators the same share of what they bonded to
//! it) and jails it out of the next validator set. The
//! slashed AIT is burned except `reporter_bps` of it, which goes to the block's proposer (who
//! put the evidence on chain). One slash per validator per offence height: a validator that
//! double-signed both prevote and precommit at one height loses the rate once (the largest
//! slash per offence window applies, not the sum).

use super::payload::stake::Delegators;
use super::validators::Validators;
use super::{EventCause, Overlay, StateError, StateKey, StateReader, Supply};
use crate::chainspec::ChainSpec;
use crate::primitives::{Address, PublicKey};

const BPS: u128 = 10_000;

/// Slashes and jails `validator` for equivocating at `at`; `reporter` gets its share.
pub(super) fn double_sign<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    supply: &mut Supply,
    validator: PublicKey,
    at: u64,
    reporter: Address,
) -> Result<(), StateError> {
    let overflow = || StateError("slashing overflows".into());
    let who = Address::from_public_key(&validator);
    let window = StateKey::Slash(who, at);
    if state.get::<u128>(&window)?.is_some() {
        return Ok(());
    }
    let e = &spec.economy;
    let mut acc = state.account(&who)?;
    let rate = u128::from(e.slash_double_sign_bps);
    let slashed = acc.staked.checked_mul(rate).and_then(|x| x.checked_div(BPS)).ok_or_else(overflow)?;
    acc.staked = acc.staked.checked_sub(slashed).ok_or_else(overflow)?;
    state.set_account(who, acc);
    // Delegators lose the same share of what they bonded to it.
    let mut slashed = slashed;
    if let Some(mut all) = state.get::<Delegators>(&StateKey::Delegators(who))? {
        for d in all.who.clone() {
            let key = StateKey::Delegation(d, who);
            let bonded: u128 = state.get(&key)?.unwrap_or(0);
            let cut = bonded.checked_mul(rate).and_then(|x| x.checked_div(BPS)).ok_or_else(overflow)?;
            let mut da = state.account(&d)?;
            da.delegated = da.delegated.checked_sub(cut).ok_or_else(overflow)?;
            state.set_account(d, da);
            state.put(key, &bonded.checked_sub(cut).ok_or_else(overflow)?);
            all.total = all.total.checked_sub(cut).ok_or_else(overflow)?;
            slashed = slashed.checked_add(cut).ok_or_else(overflow)?;
        }
        state.put(StateKey::Delegators(who), &all);
    }
    let to_reporter =
        slashed.checked_mul(u128::from(e.reporter_bps)).and_then(|x| x.checked_div(BPS)).ok_or_else(overflow)?;
    let burned = slashed.checked_sub(to_reporter).ok_or_else(overflow)?;
    if to_reporter > 0 {
        let mut r = state.account(&reporter)?;
        r.balance = r.balance.checked_add(to_reporter).ok_or_else(overflow)?;
        state.set_account(reporter, r);
    }
    supply.total = supply.total.checked_sub(burned).ok_or_else(overflow)?;
    supply.burned = supply.burned.checked_add(burned).ok_or_else(overflow)?;
    state.put(window, &slashed);
    let mut v: Validators = state.get(&StateKey::Validators)?.unwrap_or_default();
    if !v.jailed.contains(&validator) {
        v.jailed.push(validator);
        state.put(StateKey::Validators, &v);
    }
    state.commit_tx(EventCause::Slash)?;
    Ok(())
}
