//! The validator set, recomputed at epoch boundaries from state.
//!
//! The set in force for heights `b + 1 ..= b + epoch_length` comes from the state after block
//! `b`, the last boundary (`b % epoch_length == 0`; genesis is boundary 0): the chain spec's
//! validators, each with the stake its account holds then, those below `min_stake` left out,
//! at most `max_validators` by stake (ties by key). Every node derives it from the same
//! committed state, so all agree on who votes at each height, also while syncing. Staking
//! txs will move those stakes, and verified work will add its bonus to the power here.

use super::NodeError;
use crate::chainspec::ChainSpec;
use crate::consensus::ValidatorSet;
use crate::primitives::PublicKey;
use crate::storage::Store;

/// The last epoch boundary at or below `height`.
pub(super) fn boundary(spec: &ChainSpec, height: u64) -> u64 {
    let epoch = spec.consensus.epoch_length.max(1);
    height - height % epoch
}

/// The set in force after block `height` (see the module docs).
pub(super) fn validator_set_after(store: &Store, spec: &ChainSpec, height: u64) -> Result<ValidatorSet, NodeError> {
    let at = boundary(spec, height);
    let mut stakes: Vec<(PublicKey, u128)> = Vec::with_capacity(spec.validators.len());
    for v in &spec.validators {
        let address = spec
            .parse_address(&v.address)
            .map_err(|e| NodeError::Build(format!("validator {} has a bad address: {e}", v.name)))?;
        let (account, _) = store.prove_account(&address, at)?;
        let staked = account.map_or(0, |a| a.staked);
        if staked >= spec.economy.min_stake {
            stakes.push((v.consensus_key, staked));
        }
    }
    stakes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    stakes.truncate(usize::try_from(spec.consensus.max_validators).unwrap_or(usize::MAX));
    // Keep the chain spec's order, which proposer priority ties fall back on.
    stakes.sort_by_key(|(k, _)| spec.validators.iter().position(|v| v.consensus_key == *k));
    Ok(ValidatorSet::from_stakes(&stakes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_for(spec: &ChainSpec) -> Result<ValidatorSet, NodeError> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), spec).unwrap();
        validator_set_after(&store, spec, 0)
    }

    #[test]
    fn genesis_set_is_the_specs_validators_by_stake() {
        let spec = ChainSpec::load("local").unwrap();
        let genesis = spec.genesis().unwrap();
        assert_eq!(set_for(&spec).unwrap(), ValidatorSet::from_stakes(&genesis.validators).unwrap());
        assert_eq!(boundary(&spec, 0), 0);
        assert_eq!(boundary(&spec, 599), 0);
        assert_eq!(boundary(&spec, 600), 600);
        assert_eq!(boundary(&spec, 1234), 1200);
    }

    #[test]
    fn min_stake_and_max_validators_bound_the_set() {
        let mut spec = ChainSpec::load("local").unwrap();
        spec.validators[1].stake *= 3;
        spec.consensus.max_validators = 2;
        let set = set_for(&spec).unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.power_of(&spec.validators[1].consensus_key).is_some(), "the largest stake is kept");
        // Among equal stakes the smaller key stays; the set keeps the chain spec's order.
        let smallest_other = [0, 2, 3].map(|i| spec.validators[i].consensus_key).into_iter().min().unwrap();
        assert!(set.power_of(&smallest_other).is_some());
        let positions: Vec<_> =
            set.keys().map(|k| spec.validators.iter().position(|v| v.consensus_key == *k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

        spec.economy.min_stake = spec.validators[1].stake + 1;
        assert!(set_for(&spec).is_err(), "nobody above the minimum stake is an error, not an empty set");
    }
}
