//! Consensus: a pure state machine. Inputs in ([`Input`]), effects out ([`Effect`]); time
//! arrives only as [`Input::TimeoutElapsed`], and the driver (`node`) executes every effect.
//!
//! Protocol. Tendermint (Buchman, Kwon, Milosevic 2018, Algorithm 1; the core is in
//! [`tendermint`]). Heights are decided one at a time, in rounds of propose, prevote and
//! precommit. The round's proposer (stake-weighted round-robin or a lottery seeded by the
//! previous block hash, per chain spec) asks the driver for a block ([`Effect::BuildProposal`])
//! and broadcasts it; validators that find it valid prevote it, precommit it once more than
//! 2/3 of the power prevoted it (locking on it), and it is final once precommits from more
//! than 2/3 of the power are gathered: the [`CommitCertificate`] that every importer checks.
//! Finalized blocks never revert. Rounds that fail time out, with timeouts growing per round.
//!
//! [`Engine`] wraps the core with what the chain adds: after each commit it waits until
//! `block_time` has passed since the parent block was made ([`TimeoutKind::NewHeight`]) before
//! starting the next height, so the chain makes a block every `block_time`, empty or not, and
//! the time a height takes to decide is part of that interval rather than added to it; under
//! load, when deciding takes longer than `block_time`, the next height starts at once.
//! Messages for that height that arrive during the pause are kept and replayed. Values are block hashes: the driver keeps the
//! blocks, executes proposals to say whether they are valid, and commits the decided one.
//!
//! With one validator (the seed's PoA mode) its own votes are a quorum, so a block is
//! committed as soon as it is built.
//!
//! Invariants: the engine signs at most one proposal, prevote and precommit per (height,
//! round), never below the persisted [`SignState`] (the driver persists
//! [`Effect::PersistSignState`] before it sends any later [`Effect::Broadcast`]); it emits at
//! most one commit per height; every certificate it emits passes [`verify_commit`].
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod tendermint;
mod validators;
mod votes;

pub use tendermint::{Lock, Message, SignState, SignedProposal, SignedVote, Step};
pub use validators::{verify_commit, CommitError, ValidatorSet};
pub use votes::{RoundTally, StepTally};

use crate::chainspec::ConsensusParams;
use crate::primitives::{CommitCertificate, Hash, Keypair, PublicKey};
use tendermint::{Output, Tendermint};

/// Messages for the next height kept while the engine waits out the block time.
const MAX_BUFFERED: usize = 4096;
/// Rounds whose proposer is remembered per height.
const MAX_PROPOSERS_KEPT: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The pause between a commit and the next height's first round: what is left of the
    /// block time since the parent block was made.
    NewHeight,
    /// The proposer did not deliver in time.
    Propose,
    /// Prevotes from a quorum, but none for one value, in time.
    Prevote,
    /// Precommits from a quorum, but none for one value, in time.
    Precommit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    pub height: u64,
    pub round: u32,
    pub kind: TimeoutKind,
}

#[derive(Debug, Clone)]
pub enum Input {
    /// Begin `height` (the committed chain is at `height - 1`, whose hash is `parent`, made
    /// `since_parent_ms` ago by the driver's clock: now minus its header timestamp).
    Start {
        height: u64,
        parent: Hash,
        since_parent_ms: u64,
    },
    TimeoutElapsed(Timeout),
    /// The block the engine asked for with [`Effect::BuildProposal`], by hash.
    ProposalBuilt {
        height: u64,
        round: u32,
        value: Hash,
    },
    /// A proposal from the network; `value_is_valid` is the driver's verdict on its block.
    Proposal {
        proposal: SignedProposal,
        value_is_valid: bool,
    },
    /// Votes from the network whose signatures the driver has verified.
    Votes(Vec<SignedVote>),
}

#[derive(Debug, Clone)]
pub enum Effect {
    ScheduleTimeout {
        timeout: Timeout,
        after_ms: u64,
    },
    /// Build a block for (height, round) from the mempool and feed its hash back as
    /// [`Input::ProposalBuilt`].
    BuildProposal {
        height: u64,
        round: u32,
    },
    /// Persist durably before executing any later [`Effect::Broadcast`].
    PersistSignState(SignState),
    /// Send to the other validators (a proposal goes with its block).
    Broadcast(Message),
    /// One validator signed two different votes of one kind in one round.
    Evidence {
        first: SignedVote,
        second: SignedVote,
    },
    /// Block `value` is final at `height`: persist it with its certificate, then send
    /// [`Input::Start`] for the next height.
    Commit {
        height: u64,
        value: Hash,
        certificate: CommitCertificate,
    },
}

/// A snapshot of the engine (see [`Engine::state`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusState {
    /// The height being decided, or about to be when `waiting`.
    pub height: u64,
    /// In the block-time pause before `height` starts: round, step and votes are the last
    /// height's until it does.
    pub waiting: bool,
    pub round: u32,
    pub step: Step,
    /// The value decided at the core's height, once it is.
    pub decided: Option<Hash>,
    /// The proposer of (`height`, `round`).
    pub proposer: Option<PublicKey>,
    pub locked: Option<Lock>,
    pub valid: Option<Lock>,
    pub validators: usize,
    pub total_power: u64,
    /// The least power that is more than 2/3 of `total_power`.
    pub quorum_power: u64,
    /// This height's votes per round.
    pub rounds: Vec<RoundTally>,
}

pub struct Engine {
    core: Tendermint,
    validators: ValidatorSet,
    params: ConsensusParams,
    /// The height being decided, or waited for during the block-time pause.
    height: u64,
    /// The hash of block `height - 1`.
    parent: Hash,
    /// The core has not started `height` yet (block-time pause).
    waiting: bool,
    /// Messages for `height` received during the pause.
    buffered: Vec<tendermint::Input>,
    /// Proposers of `height` by round, as checked so far.
    proposers: std::collections::BTreeMap<u32, Option<PublicKey>>,
}

impl Engine {
    /// `key` is this node's validator key, if it is one; `sign_state` is the double-sign
    /// guard persisted by an earlier run.
    pub fn new(
        chain_id: String,
        key: Option<Keypair>,
        validators: ValidatorSet,
        params: ConsensusParams,
        sign_state: Option<SignState>,
    ) -> Self {
        let lone = validators.len() == 1;
        let mut core = Tendermint::new(chain_id, key, validators.clone(), params.clone());
        if let Some(mut state) = sign_state {
            // A lone validator's votes never leave the node (only committed blocks do), so
            // nobody can have seen what it was locked on, and the locked block died with the
            // process: keep the position guard, drop the lock, or it could never commit again.
            if lone {
                state.lock = None;
                state.lock_proof.clear();
            }
            core = core.with_sign_state(state);
        }
        Engine {
            core,
            validators,
            params,
            height: 0,
            parent: Hash::ZERO,
            waiting: false,
            buffered: Vec::new(),
            proposers: std::collections::BTreeMap::new(),
        }
    }

    /// The height being decided (or about to be, after the block-time pause).
    pub fn height(&self) -> u64 {
        self.height
    }

    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// What the engine is doing, for people (`consensus_state`): a copy, taken now.
    pub fn state(&self) -> ConsensusState {
        let total = self.core.validators().total_power();
        let round = self.core.round();
        ConsensusState {
            height: self.height,
            waiting: self.waiting,
            round,
            step: self.core.step(),
            decided: self.core.decision(),
            proposer: if self.waiting { None } else { self.core.proposer(round) },
            locked: self.core.locked(),
            valid: self.core.valid(),
            validators: self.core.validators().len(),
            total_power: total,
            // More than 2/3: the least power p with 3p > 2 x total.
            quorum_power: total.saturating_mul(2).checked_div(3).unwrap_or(0).saturating_add(1),
            rounds: if self.waiting { Vec::new() } else { self.core.tallies() },
        }
    }

    /// Where the core stands: (height, round, step) of the height it is deciding.
    pub fn position(&self) -> (u64, u32, Step) {
        (self.core.height(), self.core.round(), self.core.step())
    }

    /// The set that votes from the next [`Input::Start`] on (an epoch boundary was committed).
    pub fn set_validators(&mut self, validators: ValidatorSet) {
        self.validators = validators;
    }

    /// Whether `proposal` is for the height at hand and signed by its round's proposer: the
    /// check to make before spending anything on the block it carries.
    pub fn is_from_proposer(&mut self, proposal: &SignedProposal) -> bool {
        let p = &proposal.proposal;
        p.height == self.height
            && self.proposer(p.round) == Some(proposal.proposer)
            && proposal.proposer.verify(&p.signing_hash(), &proposal.signature).is_ok()
    }

    /// The proposer of `round` at the height at hand, whether or not the core has started it
    /// (a node that got here by sync has not). Remembered per round: working it out can mean
    /// replaying the proposer rotation from zero.
    fn proposer(&mut self, round: u32) -> Option<PublicKey> {
        if let Some(known) = self.proposers.get(&round) {
            return *known;
        }
        let who = self.core.proposer_at(&self.validators, self.height, round, self.parent);
        if self.proposers.len() < MAX_PROPOSERS_KEPT {
            self.proposers.insert(round, who);
        }
        who
    }

    /// Whether `key` may vote at the height at hand.
    pub fn is_validator(&self, key: &PublicKey) -> bool {
        self.validators.power_of(key).is_some()
    }

    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        let core_input = match input {
            Input::Start { height, parent, since_parent_ms } => {
                if height <= self.height {
                    return vec![];
                }
                self.height = height;
                self.parent = parent;
                self.waiting = true;
                self.buffered.clear();
                self.proposers.clear();
                let timeout = Timeout { height, round: 0, kind: TimeoutKind::NewHeight };
                let after_ms = self.params.block_time_ms.saturating_sub(since_parent_ms);
                return vec![Effect::ScheduleTimeout { timeout, after_ms }];
            }
            Input::TimeoutElapsed(Timeout { height, kind: TimeoutKind::NewHeight, .. }) => {
                if height != self.height || !self.waiting {
                    return vec![];
                }
                self.waiting = false;
                let start = tendermint::Input::Start { height, validators: self.validators.clone(), seed: self.parent };
                let mut effects = self.feed(start);
                for buffered in std::mem::take(&mut self.buffered) {
                    effects.extend(self.feed(buffered));
                }
                return effects;
            }
            Input::TimeoutElapsed(Timeout { height, round, kind }) => {
                let step = match kind {
                    TimeoutKind::Propose => Step::Propose,
                    TimeoutKind::Prevote => Step::Prevote,
                    TimeoutKind::Precommit => Step::Precommit,
                    TimeoutKind::NewHeight => return vec![], // handled above
                };
                vec![tendermint::Input::Timeout(tendermint::Timeout { height, round, step })]
            }
            Input::ProposalBuilt { height, round, value } => {
                vec![tendermint::Input::ProposeValue { height, round, value }]
            }
            Input::Proposal { proposal, value_is_valid } => {
                if proposal.proposal.height != self.height {
                    return vec![];
                }
                vec![tendermint::Input::Proposal { proposal, value_is_valid }]
            }
            Input::Votes(votes) => {
                votes.into_iter().filter(|v| v.vote.height == self.height).map(tendermint::Input::CheckedVote).collect()
            }
        };
        if self.waiting {
            let room = MAX_BUFFERED.saturating_sub(self.buffered.len());
            self.buffered.extend(core_input.into_iter().take(room));
            return vec![];
        }
        core_input.into_iter().flat_map(|i| self.feed(i)).collect()
    }

    fn feed(&mut self, input: tendermint::Input) -> Vec<Effect> {
        self.core.handle(input).into_iter().map(effect).collect()
    }
}

fn effect(output: Output) -> Effect {
    match output {
        Output::Broadcast(m) => Effect::Broadcast(m),
        Output::ScheduleTimeout { height, round, step, duration_ms } => {
            let kind = match step {
                Step::Propose => TimeoutKind::Propose,
                Step::Prevote => TimeoutKind::Prevote,
                Step::Precommit => TimeoutKind::Precommit,
            };
            Effect::ScheduleTimeout { timeout: Timeout { height, round, kind }, after_ms: duration_ms }
        }
        Output::GetValue { height, round } => Effect::BuildProposal { height, round },
        Output::Decide { height, value, certificate, .. } => Effect::Commit { height, value, certificate },
        Output::Evidence { first, second } => Effect::Evidence { first, second },
        Output::SignStateChanged(s) => Effect::PersistSignState(s),
    }
}

#[cfg(test)]
mod tendermint_tests;
#[cfg(test)]
mod tests;
