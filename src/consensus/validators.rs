//! Validator sets, quorums and commit certificate checks.

use crate::primitives::{verify_batch, CommitCertificate, Hash, PublicKey};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSet {
    /// (consensus key, voting power), in chain-spec order.
    validators: Vec<(PublicKey, u64)>,
    total: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error("certificate is for height {got}, expected {want}")]
    Height { got: u64, want: u64 },
    #[error("certificate is for block {got}, expected {want}")]
    Block { got: Hash, want: Hash },
    #[error("signer {0} is not a validator")]
    UnknownSigner(PublicKey),
    #[error("signer {0} appears twice")]
    DuplicateSigner(PublicKey),
    #[error("signers hold {got} of {total} voting power; more than 2/3 is required")]
    NoQuorum { got: u64, total: u64 },
    #[error("a precommit signature does not verify")]
    BadSignature,
    #[error("validator set is empty")]
    EmptySet,
}

impl ValidatorSet {
    /// Voting power from stake. Stake is in base units; power is stake scaled down to fit u64.
    pub fn from_stakes(stakes: &[(PublicKey, u128)]) -> Result<ValidatorSet, CommitError> {
        let validators: Vec<(PublicKey, u64)> =
            stakes.iter().map(|(k, s)| (*k, u64::try_from(s / 1_000_000_000).unwrap_or(u64::MAX).max(1))).collect();
        let total = validators.iter().try_fold(0u64, |acc, (_, p)| acc.checked_add(*p)).ok_or(CommitError::EmptySet)?;
        if validators.is_empty() {
            return Err(CommitError::EmptySet);
        }
        Ok(ValidatorSet { validators, total })
    }

    pub fn len(&self) -> usize {
        self.validators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }

    pub fn total_power(&self) -> u64 {
        self.total
    }

    pub fn power_of(&self, k: &PublicKey) -> Option<u64> {
        self.validators.iter().find(|(v, _)| v == k).map(|(_, p)| *p)
    }

    pub fn keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.validators.iter().map(|(k, _)| k)
    }

    /// More than 2/3 of the total power: `3 * power > 2 * total`.
    fn is_quorum(&self, power: u64) -> bool {
        u128::from(power).saturating_mul(3) > u128::from(self.total).saturating_mul(2)
    }

    pub fn has_quorum<'a>(&self, signers: impl Iterator<Item = &'a PublicKey>) -> bool {
        let unique: BTreeSet<&PublicKey> = signers.collect();
        let power = unique.iter().filter_map(|k| self.power_of(k)).fold(0u64, |a, p| a.saturating_add(p));
        self.is_quorum(power)
    }

    /// Equal turns in spec order, rotating by height and round. The BFT engine replaces this
    /// with stake-weighted proposer priority.
    pub fn proposer(&self, height: u64, round: u32) -> Option<PublicKey> {
        let n = u64::try_from(self.validators.len()).ok().filter(|n| *n > 0)?;
        let i = height.wrapping_add(u64::from(round)).checked_rem(n)?;
        self.validators.get(usize::try_from(i).ok()?).map(|(k, _)| *k)
    }
}

/// Checks that `cert` commits block `block_hash` at `height` with more than 2/3 of the power,
/// every signature valid (verified as one batch).
pub fn verify_commit(
    chain_id: &str,
    set: &ValidatorSet,
    cert: &CommitCertificate,
    height: u64,
    block_hash: Hash,
) -> Result<(), CommitError> {
    if cert.height != height {
        return Err(CommitError::Height { got: cert.height, want: height });
    }
    if cert.block_hash != block_hash {
        return Err(CommitError::Block { got: cert.block_hash, want: block_hash });
    }
    let mut seen = BTreeSet::new();
    let mut power = 0u64;
    for (k, _) in &cert.signatures {
        if !seen.insert(*k) {
            return Err(CommitError::DuplicateSigner(*k));
        }
        power = power.saturating_add(set.power_of(k).ok_or(CommitError::UnknownSigner(*k))?);
    }
    if !set.is_quorum(power) {
        return Err(CommitError::NoQuorum { got: power, total: set.total });
    }
    let msg = cert.vote(chain_id).signing_hash();
    let items: Vec<_> = cert.signatures.iter().map(|(k, s)| (*k, msg, *s)).collect();
    verify_batch(&items).map_err(|_| CommitError::BadSignature)
}
