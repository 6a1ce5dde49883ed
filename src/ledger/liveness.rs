//! The parent's precommits every block carries, and what they record: validator uptime and
//! downtime.
//!
//! Block `h >= 2` carries a certificate of precommits for block `h - 1` from more than 2/3 of
//! the set in force at `h - 1` ([`crate::primitives::Block::last_commit`]); block 1 carries
//! none. The proposer includes every such precommit it gathered, so a validator whose
//! precommit is missing did not get it to the proposer in time. For every validator of that
//! set (not in jail), the begin hook records signed or missed in a window of the last
//! `signed_blocks_window` blocks; once a full window is counted, a validator that signed
//! fewer than `min_signed_bps` of it is slashed for downtime and jailed
//! ([`super::slash`]), and its window starts again. The totals (signed, expected) are the
//! uptime in its reputation.

use super::slash::{self, Offence};
use super::validators::Validators;
use super::BlockError;
use super::{Overlay, StateError, StateKey, StateReader, Supply};
use crate::chainspec::ChainSpec;
use crate::consensus::{verify_commit, CommitError, ValidatorSet};
use crate::primitives::{Address, CommitCertificate, Hash, PublicKey};
use parity_scale_codec::{Decode, Encode};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LastCommitInvalid {
    #[error("block {0} must carry the precommits for its parent")]
    Missing(u64),
    #[error("block 1 cannot carry precommits: genesis is not voted on")]
    Unexpected,
    #[error("the parent's precommits do not verify: {0}")]
    Commit(#[from] CommitError),
}

/// A validator's precommits over the window, under [`StateKey::Liveness`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct Liveness {
    /// One bit per block of the window, by height modulo the window: set where the
    /// precommit was missing.
    pub missed_bits: Vec<u8>,
    /// Bits set in `missed_bits`.
    pub missed: u32,
    /// Blocks of the current window counted so far (at most the window).
    pub counted: u64,
    /// Precommits included since the validator first joined, and expected of it.
    pub signed_total: u64,
    pub expected_total: u64,
}

pub fn read<R: StateReader + ?Sized>(state: &R, who: &Address) -> Result<Liveness, StateError> {
    Ok(super::read(state, &StateKey::Liveness(*who))?.unwrap_or_default())
}

/// Checks the last commit of a block at `height` on `parent` against the set that was in
/// force at `height - 1`; returns who signed it. A state read that fails is a state error,
/// not an invalid block.
pub fn check<R: StateReader + ?Sized>(
    state: &R,
    spec: &ChainSpec,
    height: u64,
    parent: Hash,
    last_commit: Option<&CommitCertificate>,
) -> Result<Vec<PublicKey>, BlockError> {
    let invalid = |e: LastCommitInvalid| BlockError::LastCommit(e);
    let Some(cert) = last_commit else {
        return if height <= 1 { Ok(Vec::new()) } else { Err(invalid(LastCommitInvalid::Missing(height))) };
    };
    if height <= 1 {
        return Err(invalid(LastCommitInvalid::Unexpected));
    }
    let v = super::validators::current(state)?;
    let at = height.saturating_sub(1);
    let set = ValidatorSet::from_stakes(v.at(at)).map_err(|e| invalid(e.into()))?;
    verify_commit(&spec.chain_id, &set, cert, at, parent).map_err(|e| invalid(e.into()))?;
    Ok(cert.signatures.iter().map(|(k, _)| *k).collect())
}

/// Records who signed the parent of the block at `height` and slashes validators found down.
pub(super) fn record<R: StateReader>(
    state: &mut Overlay<'_, R>,
    spec: &ChainSpec,
    supply: &mut Supply,
    height: u64,
    signers: &[PublicKey],
) -> Result<(), StateError> {
    if height <= 1 {
        return Ok(());
    }
    let at = height.saturating_sub(1);
    let v: Validators = state.get(&StateKey::Validators)?.unwrap_or_default();
    let set: Vec<PublicKey> = v.at(at).iter().map(|(k, _)| *k).filter(|k| !v.is_jailed(k)).collect();
    let window = spec.consensus.signed_blocks_window.max(1);
    let bytes = usize::try_from(window.div_ceil(8)).map_err(|_| StateError("window too large".into()))?;
    let slot = at.checked_rem(window).unwrap_or(0);
    let (byte, bit) = (usize::try_from(slot / 8).unwrap_or(0), 1u8 << (slot % 8));
    // Downtime: signed fewer than min_signed of a full window.
    let min_signed = u128::from(window)
        .checked_mul(u128::from(spec.consensus.min_signed_bps))
        .and_then(|x| x.checked_div(10_000))
        .unwrap_or(0);
    for key in set {
        let who = Address::from_public_key(&key);
        let mut l: Liveness = state.get(&StateKey::Liveness(who))?.unwrap_or_default();
        if l.missed_bits.len() != bytes {
            // New, or the window changed size: start counting again.
            l.missed_bits = vec![0; bytes];
            (l.missed, l.counted) = (0, 0);
        }
        let signed = signers.contains(&key);
        let Some(b) = l.missed_bits.get_mut(byte) else { continue };
        let was_missed = *b & bit != 0;
        if was_missed {
            l.missed = l.missed.saturating_sub(1);
        }
        if signed {
            *b &= !bit;
        } else {
            *b |= bit;
            l.missed = l.missed.saturating_add(1);
        }
        l.counted = l.counted.saturating_add(1).min(window);
        l.expected_total = l.expected_total.saturating_add(1);
        l.signed_total = l.signed_total.saturating_add(u64::from(signed));
        let signed_in_window = u128::from(window.saturating_sub(u64::from(l.missed)));
        let down = l.counted >= window && signed_in_window < min_signed;
        if down {
            l.missed_bits = vec![0; bytes];
            (l.missed, l.counted) = (0, 0);
        }
        state.put(StateKey::Liveness(who), &l);
        if down {
            slash::slash(state, spec, supply, key, Offence::Downtime { at: height }, height)?;
        }
    }
    Ok(())
}
