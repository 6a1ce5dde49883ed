//! Slashing validators for consensus offences, by reason:
//! - **double signing**: the equivocation evidence a block carries costs the validator
//!   `slash_double_sign_bps` and jails it for good; `reporter_bps` of the slash goes to the
//!   block's proposer, who put the evidence on chain;
//! - **downtime**: too few precommits over the signed-blocks window ([`super::liveness`])
//!   costs `slash_downtime_bps` and jails it for `downtime_jail_blocks` (then UNJAIL); no
//!   reporter, since every node sees it.
//!
//! The rate applies to the validator's own stake, to what its delegators bonded to it, and to
//! every unbonding entry from it that started at or after the offence ([`super::unbonding`]):
//! unstaking or undelegating after an offence does not escape it, while stake that was
//! already leaving before it is not touched. The
//! slashed AIT is burned except the reporter's share. One slash per validator per offence
//! window (the offence height): a second offence in the same window pays only what exceeds
//! the first (the largest slash applies, not the sum).

use super::payload::stake::Delegators;
use super::{unbonding, validators, EventCause, Overlay, StateError, StateKey, StateReader, Supply};
use crate::chainspec::ChainSpec;
use crate::primitives::{Address, PublicKey};

const BPS: u128 = 10_000;

/// What a validator did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Offence {
    /// Equivocated at this height; the proposer that reported it gets its share.
    DoubleSign { at: u64, reporter: Address },
    /// Found down at this height.
    Downtime { at: u64 },
}

fn cut(amount: u128, rate: u128) -> Result<u128, StateError> {
    amount.checked_mul(rate).and_then(|x| x.checked_div(BPS)).ok_or_else(|| StateError("slashing overflows".into()))
}

/// Slashes and jails `validator` for `offence` in a block at `height`. Returns what was slashed.
pub(super) fn slash<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    supply: &mut Supply,
    validator: PublicKey,
    offence: Offence,
    height: u64,
) -> Result<u128, StateError> {
    let overflow = || StateError("slashing overflows".into());
    let e = &spec.economy;
    let (at, rate, reporter, until, cause) = match offence {
        Offence::DoubleSign { at, reporter } => (at, e.slash_double_sign_bps, Some(reporter), None, EventCause::Slash),
        Offence::Downtime { at } => (
            at,
            e.slash_downtime_bps,
            None,
            Some(height.saturating_add(spec.consensus.downtime_jail_blocks)),
            EventCause::Downtime,
        ),
    };
    let rate = u128::from(rate);
    let who = Address::from_public_key(&validator);
    let window = StateKey::Slash(who, at);
    let before: u128 = state.get(&window)?.unwrap_or(0);

    // What this offence would take, in full, from stake, delegations and unbonding entries.
    let mut acc = state.account(&who)?;
    let own = cut(acc.staked, rate)?;
    let delegators = state.get::<Delegators>(&StateKey::Delegators(who))?;
    let mut delegated_cuts = Vec::new();
    let mut full = own;
    if let Some(all) = &delegators {
        for d in &all.who {
            let bonded: u128 = state.get(&StateKey::Delegation(*d, who))?.unwrap_or(0);
            let c = cut(bonded, rate)?;
            delegated_cuts.push((*d, bonded, c));
            full = full.checked_add(c).ok_or_else(overflow)?;
        }
    }
    let mut entry_cuts = Vec::new();
    for e in unbonding::slashable(state, &who, at)? {
        let c = cut(e.amount, rate)?;
        entry_cuts.push((e, c));
        full = full.checked_add(c).ok_or_else(overflow)?;
    }
    let mut slashed = 0u128;
    if full > before {
        // Only what exceeds an earlier slash in this window, scaled down evenly.
        let scale = |c: u128| -> Result<u128, StateError> {
            if before == 0 {
                return Ok(c);
            }
            c.checked_mul(full.saturating_sub(before)).and_then(|x| x.checked_div(full)).ok_or_else(overflow)
        };
        let own_cut = scale(own)?.min(acc.staked);
        acc.staked = acc.staked.saturating_sub(own_cut);
        state.set_account(who, acc);
        slashed = own_cut;
        if let Some(mut all) = delegators {
            for (d, bonded, c) in delegated_cuts {
                let c = scale(c)?;
                let mut da = state.account(&d)?;
                da.delegated = da.delegated.checked_sub(c).ok_or_else(overflow)?;
                state.set_account(d, da);
                state.put(StateKey::Delegation(d, who), &bonded.checked_sub(c).ok_or_else(overflow)?);
                all.total = all.total.checked_sub(c).ok_or_else(overflow)?;
                slashed = slashed.checked_add(c).ok_or_else(overflow)?;
            }
            state.put(StateKey::Delegators(who), &all);
        }
        for (e, c) in entry_cuts {
            let took = unbonding::take(state, e.who, e.index, scale(c)?)?;
            slashed = slashed.checked_add(took).ok_or_else(overflow)?;
        }
        let to_reporter = match reporter {
            Some(r) => {
                let share = cut(slashed, u128::from(e.reporter_bps))?;
                if share > 0 {
                    let mut ra = state.account(&r)?;
                    ra.balance = ra.balance.checked_add(share).ok_or_else(overflow)?;
                    state.set_account(r, ra);
                }
                share
            }
            None => 0,
        };
        let burned = slashed.checked_sub(to_reporter).ok_or_else(overflow)?;
        supply.total = supply.total.checked_sub(burned).ok_or_else(overflow)?;
        supply.burned = supply.burned.checked_add(burned).ok_or_else(overflow)?;
        state.put(window, &before.checked_add(slashed).ok_or_else(overflow)?);
    }
    validators::jail(state, validator, until, height)?;
    state.commit_tx(cause)?;
    Ok(slashed)
}
