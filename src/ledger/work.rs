//! Work behind voting power (seed 004 §6.2, compute-backed proposer): the compute units of an
//! account's receipts that matured (passed their challenge window unchallenged) per epoch, for
//! the last `work_epochs` epochs. At an epoch boundary a validator's voting weight is its
//! effective stake times `1 + bonus`, the bonus `work_bonus_cap_bps` times the share of
//! `work_units_for_cap` it delivered over those epochs (never more than the cap), so the
//! validators that do the chain's work weigh more, and stake still bounds what work can buy.

use super::{Overlay, StateError, StateKey, StateReader};
use crate::chainspec::ChainSpec;
use crate::primitives::Address;
use parity_scale_codec::{Decode, Encode};

const BPS: u128 = 10_000;

/// Verified units per epoch, oldest first, under [`StateKey::Work`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct Work {
    pub epochs: Vec<(u64, u128)>,
}

impl Work {
    /// Units in the `n` epochs that end with `epoch`.
    pub fn recent(&self, epoch: u64, n: u32) -> u128 {
        let from = epoch.saturating_sub(u64::from(n).saturating_sub(1));
        self.epochs.iter().filter(|(e, _)| (from..=epoch).contains(e)).fold(0u128, |a, (_, u)| a.saturating_add(*u))
    }
}

pub fn read<R: StateReader + ?Sized>(state: &R, who: &Address) -> Result<Work, StateError> {
    Ok(super::read(state, &StateKey::Work(*who))?.unwrap_or_default())
}

/// Records `units` of `who`'s receipt maturing at `height`, dropping epochs too old to count.
pub(super) fn credit<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    who: Address,
    units: u128,
    height: u64,
) -> Result<(), StateError> {
    let epoch = super::validators::epoch_of(spec, height);
    let mut w: Work = state.get(&StateKey::Work(who))?.unwrap_or_default();
    let keep_from = epoch.saturating_sub(u64::from(spec.economy.work_epochs.max(1)).saturating_sub(1));
    w.epochs.retain(|(e, _)| *e >= keep_from);
    match w.epochs.last_mut() {
        Some((e, u)) if *e == epoch => *u = u.saturating_add(units),
        _ => w.epochs.push((epoch, units)),
    }
    state.put(StateKey::Work(who), &w);
    Ok(())
}

/// The bonus in basis points for `units` of recent work.
pub fn bonus_bps(spec: &ChainSpec, units: u128) -> u128 {
    let e = &spec.economy;
    let cap = u128::from(e.work_bonus_cap_bps);
    let full = e.work_units_for_cap.max(1);
    if units >= full {
        return cap;
    }
    // cap * units / full; when the product overflows, units / (full / cap) is within one
    // basis point of it.
    let share = match units.checked_mul(cap) {
        Some(p) => p.checked_div(full),
        None => units.checked_div(full.checked_div(cap).unwrap_or(1).max(1)),
    };
    share.unwrap_or(0).min(cap)
}

/// `who`'s voting weight at the boundary ending `epoch`, from its effective `stake`.
pub(super) fn weight<R: StateReader>(
    state: &Overlay<'_, R>,
    spec: &ChainSpec,
    who: &Address,
    stake: u128,
    epoch: u64,
) -> Result<u128, StateError> {
    let units = read(state, who)?.recent(epoch, spec.economy.work_epochs.max(1));
    let bonus = bonus_bps(spec, units);
    // stake * (1 + bonus): split so that large stakes do not overflow.
    let extra = stake
        .checked_div(BPS)
        .unwrap_or(0)
        .saturating_mul(bonus)
        .saturating_add(stake.checked_rem(BPS).unwrap_or(0).saturating_mul(bonus).checked_div(BPS).unwrap_or(0));
    Ok(stake.saturating_add(extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bonus_grows_with_work_up_to_the_cap() {
        let mut spec = ChainSpec::load("local").unwrap();
        spec.economy.work_bonus_cap_bps = 5_000;
        spec.economy.work_units_for_cap = 1_000;
        assert_eq!(bonus_bps(&spec, 0), 0);
        assert_eq!(bonus_bps(&spec, 500), 2_500);
        assert_eq!(bonus_bps(&spec, 1_000), 5_000);
        assert_eq!(bonus_bps(&spec, u128::MAX), 5_000);
        spec.economy.work_units_for_cap = u128::MAX;
        let near_full = bonus_bps(&spec, u128::MAX - 1);
        assert!((4_999..=5_000).contains(&near_full), "{near_full}");
        assert_eq!(bonus_bps(&spec, u128::MAX / 2), 2_500);
    }

    #[test]
    fn only_the_last_epochs_count() {
        let w = Work { epochs: vec![(3, 10), (5, 20), (6, 40)] };
        assert_eq!(w.recent(6, 4), 70);
        assert_eq!(w.recent(6, 2), 60);
        assert_eq!(w.recent(9, 4), 40);
        assert_eq!(w.recent(10, 4), 0);
    }
}
