//! The state at height 0, from the chain spec.

use super::validators::{self, Validators};
use super::{Account, StateDiff, StateError, StateKey, Supply};
use crate::chainspec::{ChainSpec, Genesis};
use crate::primitives::Address;
use parity_scale_codec::Encode;
use std::collections::BTreeMap;

impl StateDiff {
    /// Genesis balances and stakes, the total supply they make, and the first validator set.
    pub fn genesis(spec: &ChainSpec, g: &Genesis) -> Result<StateDiff, StateError> {
        let overflow = || StateError("genesis supply overflows u128".into());
        let mut accounts: BTreeMap<Address, Account> = BTreeMap::new();
        let mut total: u128 = 0;
        for (a, v) in &g.balances {
            let acc = accounts.entry(*a).or_default();
            acc.balance = acc.balance.checked_add(*v).ok_or_else(overflow)?;
            total = total.checked_add(*v).ok_or_else(overflow)?;
        }
        for (a, v) in &g.stakes {
            let acc = accounts.entry(*a).or_default();
            acc.staked = acc.staked.checked_add(*v).ok_or_else(overflow)?;
            total = total.checked_add(*v).ok_or_else(overflow)?;
        }
        let candidates: Vec<_> = g.validators.iter().map(|(k, _)| *k).collect();
        let active = validators::select(spec, &candidates, |k| {
            let staked = accounts.get(&Address::from_public_key(k)).map_or(0, |a| a.staked);
            Ok((staked, staked))
        })?;
        if active.is_empty() {
            return Err(StateError("no genesis validator has the minimum stake".into()));
        }
        let set = Validators { active, since: 1, previous: Vec::new(), candidates, jailed: Vec::new() };
        Ok(StateDiff {
            accounts: accounts.into_iter().collect(),
            supply: Supply { total, ..Supply::default() },
            records: vec![(StateKey::Validators, Some(set.encode()))],
        })
    }
}
