//! Reputation counters (seed 002): per account, receipts accepted and receipts a fraud proof
//! overturned (accuracy), and precommits signed against those expected (uptime). The score,
//! `accuracy² × uptime × stake weight` in fixed point, is computed from them when read
//! ([`crate::ledger::economy_math::reputation_or_new`]); a new account scores 0.5.
//!
//! Counted: a miner's accepted receipts (RECEIPT_CLAIM) and failed ones (an upheld
//! FRAUD_PROOF moves one from accepted to failed), and the jobs the chain drew it for that it
//! delivered or missed ([`super::draw`]), under [`StateKey::Reputation`]; a validator's
//! precommits included in blocks against those expected of it, kept with its downtime window
//! ([`super::liveness`]). Uptime counts both: (precommits signed + jobs delivered) over
//! (precommits expected + jobs drawn).

use super::{Overlay, StateError, StateKey, StateReader};
use crate::primitives::Address;
use parity_scale_codec::{Decode, Encode};

/// An account's receipt counters, under [`StateKey::Reputation`]. Public (its fields are not)
/// only so the `state_values` fuzz target can decode the record as the store holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Encode, Decode)]
pub struct Receipts {
    accepted: u64,
    failed: u64,
    delivered: u64,
    missed: u64,
}

/// Everything an account's reputation is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub accepted: u64,
    pub failed: u64,
    pub signed: u64,
    pub expected: u64,
    /// Jobs the draw gave it that it claimed in their window, and that it let pass.
    pub delivered: u64,
    pub missed: u64,
}

impl Counters {
    /// `accuracy² × uptime × stake weight` in WAD (0.5 for an account with no counters).
    pub fn score(&self, stake_whole_tokens: u128) -> u128 {
        let up = self.signed.saturating_add(self.delivered);
        let of = self.expected.saturating_add(self.delivered).saturating_add(self.missed);
        super::economy_math::reputation_or_new(self.accepted, self.failed, up, of, stake_whole_tokens)
    }
}

pub fn read<R: StateReader + ?Sized>(state: &R, who: &Address) -> Result<Counters, StateError> {
    let r: Receipts = super::read(state, &StateKey::Reputation(*who))?.unwrap_or_default();
    let l = super::liveness::read(state, who)?;
    Ok(Counters {
        accepted: r.accepted,
        failed: r.failed,
        signed: l.signed_total,
        expected: l.expected_total,
        delivered: r.delivered,
        missed: r.missed,
    })
}

/// Records a receipt of `miner` accepted.
pub(crate) fn accepted<R: StateReader>(state: &mut Overlay<'_, R>, miner: Address) -> Result<(), StateError> {
    let mut c = state.get::<Receipts>(&StateKey::Reputation(miner))?.unwrap_or_default();
    c.accepted = c.accepted.saturating_add(1);
    state.put(StateKey::Reputation(miner), &c);
    Ok(())
}

/// Records that a receipt of `miner` accepted earlier was shown wrong.
pub(crate) fn overturned<R: StateReader>(state: &mut Overlay<'_, R>, miner: Address) -> Result<(), StateError> {
    let mut c = state.get::<Receipts>(&StateKey::Reputation(miner))?.unwrap_or_default();
    c.accepted = c.accepted.saturating_sub(1);
    c.failed = c.failed.saturating_add(1);
    state.put(StateKey::Reputation(miner), &c);
    Ok(())
}

/// Records that `miner`, drawn for a job, claimed it in its window (`true`) or let the window
/// pass (`false`).
pub(crate) fn drawn<R: StateReader>(
    state: &mut Overlay<'_, R>,
    miner: Address,
    delivered: bool,
) -> Result<(), StateError> {
    let mut c = state.get::<Receipts>(&StateKey::Reputation(miner))?.unwrap_or_default();
    if delivered {
        c.delivered = c.delivered.saturating_add(1);
    } else {
        c.missed = c.missed.saturating_add(1);
    }
    state.put(StateKey::Reputation(miner), &c);
    Ok(())
}

/// Records that verifier `who` gave a verdict the referee found wrong (an accuracy failure).
pub(crate) fn wrong_verdict<R: StateReader>(state: &mut Overlay<'_, R>, who: Address) -> Result<(), StateError> {
    let mut c = state.get::<Receipts>(&StateKey::Reputation(who))?.unwrap_or_default();
    c.failed = c.failed.saturating_add(1);
    state.put(StateKey::Reputation(who), &c);
    Ok(())
}
