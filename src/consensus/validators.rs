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

/// The most voting power a set holds in all: room for the quorum arithmetic and for a
/// saturating sum of a few thousand validators' minimum power.
pub const MAX_TOTAL_POWER: u64 = 1 << 60;

impl ValidatorSet {
    /// Voting power from stake: whole tokens (10^9 base units), at least 1 each. Stakes whose
    /// powers would add up to more than [`MAX_TOTAL_POWER`] are all divided by one common
    /// factor so that they fit: the proportions stay (to within 1 each) and a set the ledger
    /// puts in force is always one consensus can count (a total past `u64::MAX` used to make
    /// the set unusable, and the chain halted).
    pub fn from_stakes(stakes: &[(PublicKey, u128)]) -> Result<ValidatorSet, CommitError> {
        if stakes.is_empty() {
            return Err(CommitError::EmptySet);
        }
        let tokens: Vec<u128> = stakes.iter().map(|(_, s)| (s / 1_000_000_000).max(1)).collect();
        let sum = tokens.iter().fold(0u128, |a, t| a.saturating_add(*t));
        let divisor = sum.div_ceil(u128::from(MAX_TOTAL_POWER)).max(1);
        let validators: Vec<(PublicKey, u64)> = stakes
            .iter()
            .zip(&tokens)
            .map(|((k, _), t)| {
                (*k, u64::try_from(t.checked_div(divisor).unwrap_or(0).max(1)).unwrap_or(MAX_TOTAL_POWER))
            })
            .collect();
        let total = validators.iter().fold(0u64, |acc, (_, p)| acc.saturating_add(*p));
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

impl ValidatorSet {
    /// More than 2/3 of the total power (public form of the commit rule, for vote tallies).
    pub fn is_quorum_power(&self, power: u64) -> bool {
        self.is_quorum(power)
    }

    /// More than 1/3 of the total power: at least one honest validator is among the holders
    /// (Tendermint's "f + 1", used to skip to a later round).
    pub fn exceeds_one_third(&self, power: u64) -> bool {
        u128::from(power).saturating_mul(3) > u128::from(self.total)
    }

    /// Stake-weighted proposer for (height, round): CometBFT's proposer priority, replayed from
    /// all-zero priorities for `height - 1 + round` turns plus the one that picks.
    pub fn weighted_proposer(&self, height: u64, round: u32) -> Option<PublicKey> {
        ProposerPriority::at_height(self, height).proposer(self, round)
    }

    /// Stake-weighted lottery for `round`, seeded by the previous block hash: a draw uniform in
    /// [0, total power) lands on a validator with probability power / total. Nobody can steer
    /// it but the previous proposer, and only by withholding its block.
    pub fn lottery_proposer(&self, seed: Hash, round: u32) -> Option<PublicKey> {
        let draw = Hash::of(crate::primitives::tag::PROPOSER_LOTTERY, &(seed, round));
        let mut word = [0u8; 16];
        word.copy_from_slice(draw.as_bytes().get(..16)?);
        // 128 random bits reduced mod a u64 total: bias below 2^-64.
        let mut ticket = u128::from_le_bytes(word).checked_rem(u128::from(self.total))?;
        for (key, power) in &self.validators {
            match ticket.checked_sub(u128::from(*power)) {
                Some(rest) => ticket = rest,
                None => return Some(*key),
            }
        }
        None
    }
}

/// CometBFT's weighted round-robin. Every turn each validator's priority grows by its power;
/// the highest (ties: the smallest key) proposes and pays the total power back. Over `total`
/// turns each validator proposes exactly `power` times and the priorities return to zero,
/// so a turn index can be taken modulo the total power. For a fixed set the priorities stay
/// within (-total, total) and their sum is zero, so CometBFT's centring and rescaling never
/// apply and are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposerPriority {
    /// One entry per validator, in the set's order.
    priorities: Vec<i128>,
}

impl ProposerPriority {
    /// The priorities in effect at round 0 of `height` (`height - 1` turns from zero).
    /// Costs `min(height, total power)` turns of `O(validators)` each; keep the value and
    /// [`ProposerPriority::advance`] it by one per height instead of recomputing.
    pub fn at_height(set: &ValidatorSet, height: u64) -> Self {
        let mut p = ProposerPriority { priorities: vec![0; set.validators.len()] };
        let turns = height.saturating_sub(1).checked_rem(set.total).unwrap_or(0);
        p.advance(set, turns);
        p
    }

    /// Plays `turns` turns; returns the proposer of the last one.
    pub fn advance(&mut self, set: &ValidatorSet, turns: u64) -> Option<PublicKey> {
        let mut last = None;
        for _ in 0..turns {
            last = self.turn(set);
        }
        last
    }

    /// The proposer of `round`, counted from these (round-0) priorities. Does not modify self.
    pub fn proposer(&self, set: &ValidatorSet, round: u32) -> Option<PublicKey> {
        let mut p = self.clone();
        let turns = u64::from(round).checked_rem(set.total).unwrap_or(0).saturating_add(1);
        p.advance(set, turns)
    }

    fn turn(&mut self, set: &ValidatorSet) -> Option<PublicKey> {
        let total = i128::from(set.total);
        let mut best: Option<(usize, i128, PublicKey)> = None;
        for (i, (prio, (key, power))) in self.priorities.iter_mut().zip(&set.validators).enumerate() {
            *prio = prio.saturating_add(i128::from(*power));
            let better = match &best {
                None => true,
                Some((_, bp, bk)) => *prio > *bp || (*prio == *bp && key < bk),
            };
            if better {
                best = Some((i, *prio, *key));
            }
        }
        let (i, _, key) = best?;
        if let Some(p) = self.priorities.get_mut(i) {
            *p = p.saturating_sub(total);
        }
        Some(key)
    }
}
