//! The validator set the engine runs with: the one the state holds (the ledger recomputes it
//! at epoch boundaries, see [`crate::ledger::validators`]).

use super::NodeError;
use crate::consensus::ValidatorSet;
use crate::storage::Store;

/// The set in force after the store's head.
pub(super) fn validator_set(store: &Store) -> Result<ValidatorSet, NodeError> {
    let v = crate::ledger::validators::current(store).map_err(crate::storage::StoreError::from)?;
    Ok(ValidatorSet::from_stakes(&v.active)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chainspec::ChainSpec;

    fn set_for(spec: &ChainSpec) -> Result<ValidatorSet, String> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), spec).map_err(|e| e.to_string())?;
        validator_set(&store).map_err(|e| e.to_string())
    }

    #[test]
    fn genesis_set_is_the_specs_validators_by_stake() {
        let spec = ChainSpec::load("local").unwrap();
        let genesis = spec.genesis().unwrap();
        assert_eq!(set_for(&spec).unwrap(), ValidatorSet::from_stakes(&genesis.validators).unwrap());
        let is = |h| crate::ledger::validators::is_boundary(&spec, h);
        assert!(is(0) && !is(599) && is(600) && !is(1234) && is(1200));
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
        let err = set_for(&spec).unwrap_err();
        assert!(err.contains("minimum stake"), "nobody above the minimum stake is an error, not an empty set: {err}");
    }
}
