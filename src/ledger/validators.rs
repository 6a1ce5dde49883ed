//! The validator set, kept in state and recomputed by the block hook at epoch boundaries.
//!
//! The set in force for heights `b + 1 ..= b + epoch_length` is the one the state holds after
//! block `b`, the last boundary (`b % epoch_length == 0`; genesis is boundary 0): the
//! candidates not in jail whose effective stake is at least `min_stake`, at most
//! `max_validators` of them by stake (ties by key), in candidate order (which proposer
//! priority ties fall back on), each weighted by stake and work ([`super::work`]).
//! Candidates are the chain spec's validators and every account that has staked since, in
//! order of arrival. A validator jailed for an offence leaves the set from the next block, not
//! the next boundary. The record keeps the set before the last change too, so that block
//! `since` can check the precommits of its parent. Every node derives the set from the same
//! committed state, also while syncing.

use super::{Overlay, StateError, StateKey, StateReader};
use crate::chainspec::ChainSpec;
use crate::primitives::{Address, PublicKey};
use parity_scale_codec::{Decode, Encode};

#[derive(Debug, Clone, PartialEq, Eq, Default, Encode, Decode)]
pub struct Validators {
    /// (consensus key, voting weight) in force, in candidate order. The weight is effective
    /// stake times one plus the work bonus ([`super::work`]).
    pub active: Vec<(PublicKey, u128)>,
    /// The first height `active` is in force for.
    pub since: u64,
    /// The set in force before `since`: block `since` carries its precommits.
    pub previous: Vec<(PublicKey, u128)>,
    /// Everyone who may be selected, in order of arrival.
    pub candidates: Vec<PublicKey>,
    /// Validators out of the set for an offence; never selected while here.
    pub jailed: Vec<Jail>,
}

/// A jailed validator and when it may leave jail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Jail {
    pub key: PublicKey,
    /// The first height an UNJAIL may take it out; `None` for good (double signing).
    pub until: Option<u64>,
}

impl Validators {
    /// The set in force at `height`, for `height >= since - 1`.
    pub fn at(&self, height: u64) -> &[(PublicKey, u128)] {
        if height >= self.since || self.previous.is_empty() {
            &self.active
        } else {
            &self.previous
        }
    }

    pub fn jail_of(&self, key: &PublicKey) -> Option<&Jail> {
        self.jailed.iter().find(|j| j.key == *key)
    }

    pub fn is_jailed(&self, key: &PublicKey) -> bool {
        self.jail_of(key).is_some()
    }

    /// Puts `next` in force from the block after `height`. Twice in one block (a jailing,
    /// then an epoch boundary) keeps the set that was in force at `height` as `previous`.
    fn replace(&mut self, next: Vec<(PublicKey, u128)>, height: u64) {
        let since = height.saturating_add(1);
        if self.since != since {
            self.previous = std::mem::replace(&mut self.active, next);
            self.since = since;
        } else {
            self.active = next;
        }
    }
}

/// The validator record in state (read it with [`super::read`] at [`StateKey::Validators`]).
pub fn current<R: StateReader + ?Sized>(r: &R) -> Result<Validators, StateError> {
    Ok(super::read(r, &StateKey::Validators)?.unwrap_or_default())
}

/// The epoch `height` is in (epoch caps, work per epoch).
pub fn epoch_of(spec: &ChainSpec, height: u64) -> u64 {
    height.checked_div(spec.consensus.epoch_length.max(1)).unwrap_or(0)
}

/// Whether `height` ends an epoch, so that the block hook recomputes the set after it.
pub fn is_boundary(spec: &ChainSpec, height: u64) -> bool {
    height.checked_rem(spec.consensus.epoch_length.max(1)) == Some(0)
}

/// The candidates selected by the module's rule, with `stake_of` giving each one's
/// effective stake and voting weight; the set holds weights. Empty if nobody qualifies (the
/// caller decides what that means).
pub(super) fn select(
    spec: &ChainSpec,
    candidates: &[PublicKey],
    mut stake_of: impl FnMut(&PublicKey) -> Result<(u128, u128), StateError>,
) -> Result<Vec<(PublicKey, u128)>, StateError> {
    let mut stakes: Vec<(usize, PublicKey, u128, u128)> = Vec::with_capacity(candidates.len());
    for (i, k) in candidates.iter().enumerate() {
        let (staked, weight) = stake_of(k)?;
        if staked >= spec.economy.min_stake && staked > 0 {
            stakes.push((i, *k, staked, weight));
        }
    }
    stakes.sort_by(|a, b| b.2.cmp(&a.2).then(a.1.cmp(&b.1)));
    stakes.truncate(usize::try_from(spec.consensus.max_validators).unwrap_or(usize::MAX));
    stakes.sort_by_key(|(i, _, _, _)| *i);
    Ok(stakes.into_iter().map(|(_, k, _, w)| (k, w)).collect())
}

/// At a boundary: the next set from the overlay's stakes. With nobody qualifying the last set
/// stays, rather than the chain stopping.
pub(super) fn on_boundary<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    height: u64,
) -> Result<(), StateError> {
    let mut v: Validators = state.get(&StateKey::Validators)?.unwrap_or_default();
    let eligible: Vec<PublicKey> = v.candidates.iter().filter(|k| !v.is_jailed(k)).copied().collect();
    let epoch = epoch_of(spec, height);
    let next = select(spec, &eligible, |k| {
        let who = Address::from_public_key(k);
        let stake = super::payload::stake::effective_stake(state, &who)?;
        Ok((stake, super::work::weight(state, spec, &who, stake, epoch)?))
    })?;
    if !next.is_empty() && next != v.active {
        v.replace(next, height);
        state.put(StateKey::Validators, &v);
    }
    Ok(())
}

/// Jails `key` (until `until`, or for good) and takes it out of the set from the next block,
/// unless it is the last validator (a chain with no validator could never make a block, so
/// the last one stays in until another qualifies).
pub(super) fn jail<R: StateReader>(
    state: &mut Overlay<'_, R>,
    key: PublicKey,
    until: Option<u64>,
    height: u64,
) -> Result<(), StateError> {
    let mut v: Validators = state.get(&StateKey::Validators)?.unwrap_or_default();
    match v.jailed.iter_mut().find(|j| j.key == key) {
        // Jailed twice: the longer term holds.
        Some(j) => j.until = j.until.zip(until).map(|(a, b)| a.max(b)),
        None => v.jailed.push(Jail { key, until }),
    }
    let rest: Vec<_> = v.active.iter().filter(|(k, _)| *k != key).copied().collect();
    if !rest.is_empty() && rest.len() != v.active.len() {
        v.replace(rest, height);
    }
    state.put(StateKey::Validators, &v);
    Ok(())
}

/// Whether the set changes after block `height` (an epoch boundary, or a jailing): the
/// engine then takes the new set from state.
pub fn changes_after<R: StateReader + ?Sized>(r: &R, height: u64) -> Result<bool, StateError> {
    Ok(current(r)?.since == height.saturating_add(1))
}
