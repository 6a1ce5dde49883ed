//! The validator set, kept in state and recomputed by the block hook at epoch boundaries.
//!
//! The set in force for heights `b + 1 ..= b + epoch_length` is the one the state holds after
//! block `b`, the last boundary (`b % epoch_length == 0`; genesis is boundary 0): the
//! candidates whose stake is at least `min_stake`, at most `max_validators` of them by stake
//! (ties by key), in candidate order (which proposer priority ties fall back on). Candidates
//! are the chain spec's validators and every account that has staked since, in order of
//! arrival. Every node derives the set from the same committed state, also while syncing.

use super::{Overlay, StateError, StateKey, StateReader};
use crate::chainspec::ChainSpec;
use crate::primitives::{Address, PublicKey};
use parity_scale_codec::{Decode, Encode};

#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct Validators {
    /// (consensus key, stake) in force, in candidate order.
    pub active: Vec<(PublicKey, u128)>,
    /// Everyone who may be selected, in order of arrival.
    pub candidates: Vec<PublicKey>,
    /// Slashed for double signing: never selected again (there is no unjail yet).
    pub jailed: Vec<PublicKey>,
}

/// The validator record in state (read it with [`super::read`] at [`StateKey::Validators`]).
pub fn current<R: StateReader + ?Sized>(r: &R) -> Result<Validators, StateError> {
    Ok(super::read(r, &StateKey::Validators)?.unwrap_or_default())
}

/// Whether `height` ends an epoch, so that the block hook recomputes the set after it.
pub fn is_boundary(spec: &ChainSpec, height: u64) -> bool {
    height.checked_rem(spec.consensus.epoch_length.max(1)) == Some(0)
}

/// The candidates selected by the module's rule, with `stake_of` giving each one's stake.
/// Empty if nobody qualifies (the caller decides what that means).
pub(super) fn select(
    spec: &ChainSpec,
    candidates: &[PublicKey],
    mut stake_of: impl FnMut(&PublicKey) -> Result<u128, StateError>,
) -> Result<Vec<(PublicKey, u128)>, StateError> {
    let mut stakes: Vec<(usize, PublicKey, u128)> = Vec::with_capacity(candidates.len());
    for (i, k) in candidates.iter().enumerate() {
        let staked = stake_of(k)?;
        if staked >= spec.economy.min_stake && staked > 0 {
            stakes.push((i, *k, staked));
        }
    }
    stakes.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
    stakes.truncate(usize::try_from(spec.consensus.max_validators).unwrap_or(usize::MAX));
    stakes.sort_by_key(|(i, _, _)| *i);
    Ok(stakes.into_iter().map(|(_, k, s)| (k, s)).collect())
}

/// At a boundary: the next set from the overlay's stakes. With nobody qualifying the last set
/// stays, rather than the chain stopping.
pub(super) fn on_boundary<R: StateReader>(state: &mut Overlay<'_, R>, spec: &ChainSpec) -> Result<(), StateError> {
    let mut v: Validators = state.get(&StateKey::Validators)?.unwrap_or_default();
    let eligible: Vec<PublicKey> = v.candidates.iter().filter(|k| !v.jailed.contains(k)).copied().collect();
    let next =
        select(spec, &eligible, |k| super::payload::stake::effective_stake(state, &Address::from_public_key(k)))?;
    if !next.is_empty() && next != v.active {
        v.active = next;
        state.put(StateKey::Validators, &v);
    }
    Ok(())
}
