//! Vote tallies for one height: every accepted prevote and precommit by (round, kind), the
//! voting power behind each value, and who sent anything at all in a round (for round skips).
//!
//! The book stores votes whose signature and signer the caller has already checked; it only
//! counts. A validator's second, different vote of one kind in one round is equivocation: it
//! is reported, and counted toward its own value only. The tally for one value thus still
//! holds each validator at most once, and the power of "any vote" counts each validator once.
//! Counting an equivocator for every value it signed is safe (two quorums for different
//! values overlap in more than 1/3 of the power, so in some honest validator, who never signs
//! both) and needed for liveness: an honest node that saw an equivocator's other vote first
//! must still see the proof-of-lock quorum other nodes saw (CometBFT keeps conflicting votes
//! for the same reason). At most [`MAX_VOTES_PER_VALIDATOR`] distinct votes per validator,
//! round and kind are kept, which bounds what an equivocator can make us store.

use super::tendermint::SignedVote;
use crate::primitives::{Hash, PublicKey, Signature, VoteKind};
use std::collections::BTreeMap;

/// Distinct votes kept per validator for one (round, kind); more are ignored.
pub const MAX_VOTES_PER_VALIDATOR: usize = 8;

/// What [`VoteBook::add`] did with a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    /// First vote of its kind from this validator in this round; counted.
    New,
    /// The same vote again; ignored.
    Duplicate,
    /// A different vote of the same kind and round from the same validator: equivocation.
    /// Counted toward its own value (unless over the cap). Carries the validator's first vote.
    Conflict(Box<SignedVote>),
}

#[derive(Debug, Default, Clone)]
struct Tally {
    /// Each validator's distinct votes, first one first.
    by_validator: BTreeMap<PublicKey, Vec<SignedVote>>,
    /// Power per value (`None` = nil).
    power: BTreeMap<Option<Hash>, u64>,
    /// Power of everyone who voted, whatever the value.
    any: u64,
}

#[derive(Debug, Default, Clone)]
struct RoundVotes {
    prevotes: Tally,
    precommits: Tally,
    /// Everyone who sent a vote or a proposal in this round, with their power.
    senders: BTreeMap<PublicKey, u64>,
    senders_power: u64,
}

impl RoundVotes {
    fn tally(&self, kind: VoteKind) -> &Tally {
        match kind {
            VoteKind::Prevote => &self.prevotes,
            VoteKind::Precommit => &self.precommits,
        }
    }

    fn tally_mut(&mut self, kind: VoteKind) -> &mut Tally {
        match kind {
            VoteKind::Prevote => &mut self.prevotes,
            VoteKind::Precommit => &mut self.precommits,
        }
    }

    fn note_sender(&mut self, who: PublicKey, power: u64) {
        if self.senders.insert(who, power).is_none() {
            self.senders_power = self.senders_power.saturating_add(power);
        }
    }
}

/// One kind of vote in one round, added up for people (the `consensus_state` RPC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTally {
    /// Validators that sent one (an equivocator once).
    pub voters: usize,
    /// Their power.
    pub power: u64,
    /// Power per value (`None` = nil), most power first.
    pub by_value: Vec<(Option<Hash>, u64)>,
}

/// A round's prevotes and precommits, added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundTally {
    pub round: u32,
    pub prevotes: StepTally,
    pub precommits: StepTally,
}

impl Tally {
    fn summary(&self) -> StepTally {
        let mut by_value: Vec<(Option<Hash>, u64)> = self.power.iter().map(|(v, p)| (*v, *p)).collect();
        by_value.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        StepTally { voters: self.by_validator.len(), power: self.any, by_value }
    }
}

#[derive(Debug, Default, Clone)]
pub struct VoteBook {
    rounds: BTreeMap<u32, RoundVotes>,
}

impl VoteBook {
    /// Whether this exact vote is already held: lets the caller skip verifying a signature
    /// for a vote it would ignore anyway.
    pub fn contains(&self, vote: &SignedVote) -> bool {
        self.rounds
            .get(&vote.vote.round)
            .and_then(|r| r.tally(vote.vote.kind).by_validator.get(&vote.validator))
            .is_some_and(|held| held.iter().any(|h| h.vote == vote.vote))
    }

    /// Records a vote (signature already verified) from a validator with `power`.
    pub fn add(&mut self, vote: SignedVote, power: u64) -> Added {
        let rv = self.rounds.entry(vote.vote.round).or_default();
        let tally = rv.tally_mut(vote.vote.kind);
        let who = vote.validator;
        let value = vote.vote.block_hash;
        let held = tally.by_validator.entry(who).or_default();
        if held.iter().any(|h| h.vote == vote.vote) {
            return Added::Duplicate;
        }
        let first = held.first().cloned();
        if held.len() < MAX_VOTES_PER_VALIDATOR {
            held.push(vote);
            let entry = tally.power.entry(value).or_insert(0);
            *entry = entry.saturating_add(power);
        }
        match first {
            Some(first) => Added::Conflict(Box::new(first)),
            None => {
                tally.any = tally.any.saturating_add(power);
                rv.note_sender(who, power);
                Added::New
            }
        }
    }

    /// Records that `who` sent a proposal in `round` (counts toward the round-skip rule).
    pub fn note_proposer(&mut self, round: u32, who: PublicKey, power: u64) {
        self.rounds.entry(round).or_default().note_sender(who, power);
    }

    /// Power behind `value` (`None` = nil) for (round, kind).
    pub fn power_for(&self, round: u32, kind: VoteKind, value: Option<Hash>) -> u64 {
        self.rounds.get(&round).and_then(|r| r.tally(kind).power.get(&value).copied()).unwrap_or(0)
    }

    /// Power of every vote of (round, kind), whatever the value.
    pub fn power_any(&self, round: u32, kind: VoteKind) -> u64 {
        self.rounds.get(&round).map(|r| r.tally(kind).any).unwrap_or(0)
    }

    /// Every round with a vote, in order, added up.
    pub fn tallies(&self) -> Vec<RoundTally> {
        self.rounds
            .iter()
            .map(|(r, rv)| RoundTally {
                round: *r,
                prevotes: rv.prevotes.summary(),
                precommits: rv.precommits.summary(),
            })
            .collect()
    }

    /// Power of everyone who sent any message in `round`.
    pub fn senders_power(&self, round: u32) -> u64 {
        self.rounds.get(&round).map(|r| r.senders_power).unwrap_or(0)
    }

    /// Rounds above `round` that have any message, highest first.
    pub fn rounds_above(&self, round: u32) -> impl Iterator<Item = u32> + '_ {
        self.rounds.range(round.saturating_add(1)..).rev().map(|(r, _)| *r)
    }

    /// Every round with at least one precommit for some value, with those values.
    pub fn precommitted_values(&self) -> Vec<(u32, Hash)> {
        self.rounds
            .iter()
            .flat_map(|(r, rv)| rv.precommits.power.keys().filter_map(move |v| v.map(|h| (*r, h))))
            .collect()
    }

    /// The votes of `kind` for `value` in `round`, one per validator, in key order.
    pub fn votes_for(&self, round: u32, kind: VoteKind, value: Option<Hash>) -> Vec<SignedVote> {
        self.rounds
            .get(&round)
            .map(|r| {
                r.tally(kind)
                    .by_validator
                    .values()
                    .filter_map(|held| held.iter().find(|v| v.vote.block_hash == value).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Signatures of the precommits for `value` in `round`, in key order.
    pub fn precommit_signatures(&self, round: u32, value: Hash) -> Vec<(PublicKey, Signature)> {
        self.rounds
            .get(&round)
            .map(|r| {
                r.precommits
                    .by_validator
                    .iter()
                    .filter_map(|(k, held)| {
                        held.iter().find(|v| v.vote.block_hash == Some(value)).map(|v| (*k, v.signature))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
