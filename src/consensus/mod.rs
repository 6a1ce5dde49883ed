//! Consensus: a pure state machine. Inputs in ([`Input`]), effects out ([`Effect`]); time
//! arrives only as [`Input::TimeoutElapsed`], and the driver (`node`) executes every effect.
//!
//! Protocol. Heights are decided one at a time. At each height the proposer of the round asks
//! the driver for a block ([`Effect::BuildProposal`]), validators vote on it, and a block is
//! final once it carries a [`CommitCertificate`]: precommits from validators holding more than
//! 2/3 of the voting power. Finalized blocks never revert. After a commit the engine waits the
//! chain spec's `block_time` ([`TimeoutKind::NewHeight`]) before the next height, so the chain
//! produces a block every `block_time`, empty or not.
//!
//! This is the single-validator case (the seed's PoA mode): the lone validator's precommit is
//! itself a quorum, so a proposal is committed as soon as it is built. The multi-validator
//! Tendermint rounds (prevote, precommit, locking, round timeouts) replace the inside of
//! [`Engine`] without changing [`Input`], [`Effect`] or the driver.
//!
//! Invariants: the engine signs at most one precommit per (height, round); it never emits
//! two commits for one height; every certificate it emits passes [`verify_commit`].
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

pub use validators::{verify_commit, CommitError, ValidatorSet};

use crate::chainspec::ConsensusParams;
use crate::primitives::{Block, CommitCertificate, Keypair};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The pause between a commit and the next height's proposal.
    NewHeight,
    /// The proposer did not deliver in time.
    Propose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    pub height: u64,
    pub round: u32,
    pub kind: TimeoutKind,
}

#[derive(Debug, Clone)]
pub enum Input {
    /// Begin deciding `height` (the committed chain is at `height - 1`).
    Start {
        height: u64,
    },
    TimeoutElapsed(Timeout),
    /// The block the engine asked for with [`Effect::BuildProposal`].
    ProposalBuilt {
        height: u64,
        round: u32,
        block: Block,
    },
}

// Effects live for one step of the driver loop; boxing the block would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Effect {
    ScheduleTimeout {
        timeout: Timeout,
        after_ms: u64,
    },
    /// Build a block for (height, round) from the mempool and feed it back as
    /// [`Input::ProposalBuilt`].
    BuildProposal {
        height: u64,
        round: u32,
    },
    /// `block` is final: persist it with its certificate, then send [`Input::Start`] for the
    /// next height.
    Commit {
        block: Block,
        certificate: CommitCertificate,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Waiting out the pause after the previous commit.
    NewHeight,
    /// Waiting for a proposal for the current round.
    Propose,
    /// The height is decided; waiting for the driver to start the next one.
    Committed,
}

pub struct Engine {
    chain_id: String,
    key: Option<Keypair>,
    validators: ValidatorSet,
    params: ConsensusParams,
    height: u64,
    round: u32,
    step: Step,
}

impl Engine {
    /// `key` is this node's validator key, if it is one.
    pub fn new(chain_id: String, key: Option<Keypair>, validators: ValidatorSet, params: ConsensusParams) -> Self {
        Engine { chain_id, key, validators, params, height: 0, round: 0, step: Step::Committed }
    }

    pub fn height(&self) -> u64 {
        self.height
    }

    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    fn is_proposer(&self, height: u64, round: u32) -> bool {
        match (&self.key, self.validators.proposer(height, round)) {
            (Some(k), Some(p)) => k.public() == p,
            _ => false,
        }
    }

    pub fn handle(&mut self, input: Input) -> Vec<Effect> {
        match input {
            Input::Start { height } => {
                self.height = height;
                self.round = 0;
                self.step = Step::NewHeight;
                let timeout = Timeout { height, round: 0, kind: TimeoutKind::NewHeight };
                vec![Effect::ScheduleTimeout { timeout, after_ms: self.params.block_time_ms }]
            }
            Input::TimeoutElapsed(t) if t.height != self.height || t.round != self.round => vec![],
            Input::TimeoutElapsed(Timeout { kind: TimeoutKind::NewHeight, .. }) if self.step == Step::NewHeight => {
                self.enter_propose()
            }
            Input::TimeoutElapsed(Timeout { kind: TimeoutKind::Propose, .. }) if self.step == Step::Propose => {
                // Nobody proposed in time: try the next round (with a longer timeout).
                self.round = self.round.saturating_add(1);
                self.enter_propose()
            }
            Input::TimeoutElapsed(_) => vec![],
            Input::ProposalBuilt { height, round, block } => {
                if height != self.height || round != self.round || self.step != Step::Propose {
                    return vec![];
                }
                self.decide(block)
            }
        }
    }

    fn enter_propose(&mut self) -> Vec<Effect> {
        self.step = Step::Propose;
        let timeout = Timeout { height: self.height, round: self.round, kind: TimeoutKind::Propose };
        let after_ms = self
            .params
            .propose_timeout_ms
            .saturating_add(self.params.timeout_delta_ms.saturating_mul(u64::from(self.round)));
        let mut effects = vec![Effect::ScheduleTimeout { timeout, after_ms }];
        if self.is_proposer(self.height, self.round) {
            effects.push(Effect::BuildProposal { height: self.height, round: self.round });
        }
        effects
    }

    /// Precommits `block` and commits it if our own power is a quorum.
    fn decide(&mut self, block: Block) -> Vec<Effect> {
        let Some(key) = &self.key else { return vec![] };
        let mut certificate =
            CommitCertificate { height: self.height, round: self.round, block_hash: block.hash(), signatures: vec![] };
        let sig = key.sign(&certificate.vote(&self.chain_id).signing_hash());
        certificate.signatures.push((key.public(), sig));
        if !self.validators.has_quorum(certificate.signatures.iter().map(|(k, _)| k)) {
            // More validators than this engine can gather votes from yet: wait for the round
            // timeout rather than commit without a quorum.
            return vec![];
        }
        self.step = Step::Committed;
        vec![Effect::Commit { block, certificate }]
    }
}

#[cfg(test)]
mod tendermint_tests;
#[cfg(test)]
mod tests;
