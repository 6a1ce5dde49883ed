//! Equivocation evidence in blocks: which records a block may carry, and recording them.

use super::{validators, EventCause, Overlay, StateError, StateKey, StateReader};
use crate::chainspec::ChainSpec;
use crate::primitives::{tag, EvidenceError, Hash, PublicKey};

pub use crate::primitives::Evidence;

/// Evidence records one block may carry.
pub const MAX_EVIDENCE_PER_BLOCK: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceInvalid {
    #[error("more than {MAX_EVIDENCE_PER_BLOCK} records in one block")]
    TooMany,
    #[error("recorded twice in this block")]
    Duplicate,
    #[error(transparent)]
    Proof(#[from] EvidenceError),
    #[error("evidence from height {at} cannot be in block {height}")]
    NotEarlier { at: u64, height: u64 },
    #[error("{0} is not a validator")]
    NotValidator(PublicKey),
    #[error("already recorded in block {0}")]
    AlreadyRecorded(u64),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The state key of the fault's position (height, round, kind, validator): one record each.
pub fn key(e: &Evidence) -> StateKey {
    StateKey::Evidence(Hash::of(tag::EVIDENCE, &e.position()))
}

/// Whether `e` may go in a block at `height` on top of `state`: it proves equivocation by a
/// validator of the set in force at an earlier height, and no block carries it yet.
pub fn check<R: StateReader + ?Sized>(
    state: &R,
    spec: &ChainSpec,
    e: &Evidence,
    height: u64,
) -> Result<(), EvidenceInvalid> {
    e.verify(&spec.chain_id)?;
    let (at, _, _, validator) = e.position();
    if at >= height {
        return Err(EvidenceInvalid::NotEarlier { at, height });
    }
    if !validators::current(state)?.active.iter().any(|(k, _)| *k == validator) {
        return Err(EvidenceInvalid::NotValidator(validator));
    }
    if let Some(h) = super::read::<u64, _>(state, &key(e))? {
        return Err(EvidenceInvalid::AlreadyRecorded(h));
    }
    Ok(())
}

/// Checks a block's evidence and records it in the overlay. `Err((index, why))` on the first
/// bad record.
pub(super) fn apply<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    evidence: &[Evidence],
    height: u64,
) -> Result<(), (usize, EvidenceInvalid)> {
    if evidence.len() > MAX_EVIDENCE_PER_BLOCK {
        return Err((MAX_EVIDENCE_PER_BLOCK, EvidenceInvalid::TooMany));
    }
    for (index, e) in evidence.iter().enumerate() {
        if evidence.iter().take(index).any(|earlier| earlier.position() == e.position()) {
            return Err((index, EvidenceInvalid::Duplicate));
        }
        check(state, spec, e, height).map_err(|err| (index, err))?;
        state.put(key(e), &height);
        state.commit_tx(EventCause::Slash).map_err(|e| (index, EvidenceInvalid::State(e)))?;
    }
    Ok(())
}
