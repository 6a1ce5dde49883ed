//! The Tendermint core: Algorithm 1 of Buchman, Kwon and Milosevic, "The latest gossip on BFT
//! consensus" (2018), as a pure, deterministic state machine for one height at a time.
//!
//! Inputs are signed proposals and votes, the caller's answer to a value request, and fired
//! timeouts; outputs are messages to broadcast, timeouts to schedule, value requests,
//! decisions with their commit certificate, equivocation evidence and the double-sign guard
//! state to persist. No IO, no clock, no randomness: the same inputs give the same outputs.
//!
//! Values are block hashes. The core never sees a block: whoever hands it a proposal has
//! checked the block and says whether it is valid (`valid(v)` in the paper).
//!
//! After every input the core re-evaluates the paper's `upon` rules (lines 22-55) until none
//! fires, so the order in which messages arrive does not matter. Own messages are delivered to
//! the core itself as they are signed, as the paper's `broadcast` includes the sender.
//!
//! Double signing. Before signing, the core checks that the (height, round, step) position is
//! strictly above the last one it signed ([`SignState`]), which the caller persists (output
//! [`Output::SignStateChanged`] comes before the [`Output::Broadcast`] it guards; persist it
//! before sending) and restores with [`Tendermint::with_sign_state`] after a restart. The
//! lock is part of that state so a restarted validator cannot forget it (amnesia).
//!
//! Invariants: at most one proposal, one prevote and one precommit signed per (height, round);
//! at most one [`Output::Decide`] per height; every certificate passes
//! [`crate::consensus::verify_commit`].

use super::validators::{ProposerPriority, ValidatorSet};
use super::votes::{Added, VoteBook};
use crate::chainspec::{ConsensusParams, ProposerSelection};
pub use crate::primitives::SignedVote;
use crate::primitives::{CommitCertificate, Hash, Keypair, PublicKey, Signature, Vote, VoteKind};
use parity_scale_codec::{Decode, Encode};
use std::collections::BTreeMap;

/// Domain tag of proposal signatures.
pub const PROPOSAL_TAG: &[u8] = b"ergon/proposal/v1";

/// Messages for rounds further ahead of ours than this are ignored: it bounds what a faulty
/// validator can make us store in one height.
pub const MAX_ROUNDS_AHEAD: u32 = 1024;

/// Distinct proposals kept per round. Only a faulty proposer signs more than one; the others
/// are kept because a quorum may form around any of them (line 49 needs the proposal the
/// quorum precommitted, whichever arrived first).
pub const MAX_PROPOSALS_PER_ROUND: usize = 4;

/// What a proposer signs: the value for (height, round), and the round in which it saw a
/// quorum of prevotes for it (`valid_round`, `-1` = `None` in the paper).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Proposal {
    pub chain_id: String,
    pub height: u64,
    pub round: u32,
    pub value: Hash,
    pub valid_round: Option<u32>,
}

impl Proposal {
    pub fn signing_hash(&self) -> Hash {
        Hash::of(PROPOSAL_TAG, self)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignedProposal {
    pub proposal: Proposal,
    pub proposer: PublicKey,
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Message {
    #[codec(index = 0)]
    Proposal(SignedProposal),
    #[codec(index = 1)]
    Vote(SignedVote),
}

impl Message {
    /// The (height, round) the message is for.
    pub fn position(&self) -> (u64, u32) {
        match self {
            Message::Proposal(p) => (p.proposal.height, p.proposal.round),
            Message::Vote(v) => (v.vote.height, v.vote.round),
        }
    }
}

/// The step within a round. Ordered as the paper's steps are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum Step {
    #[codec(index = 0)]
    Propose,
    #[codec(index = 1)]
    Prevote,
    #[codec(index = 2)]
    Precommit,
}

/// A value this validator is locked on, and since which round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct Lock {
    pub value: Hash,
    pub round: u32,
}

/// The double-sign guard: the last (height, round, step) this validator signed at, and its
/// lock at that height with the prevotes that justified it. The core signs only at positions
/// strictly above it. The proof lets a restarted validator accept a re-proposal of its
/// locked value: without it, a validator that lost its memory could neither release nor use
/// its lock, and a chain that needs its vote would stall.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct SignState {
    pub height: u64,
    pub round: u32,
    pub step: Step,
    pub lock: Option<Lock>,
    /// Prevotes from more than 2/3 of the power for `lock`'s value in `lock`'s round.
    pub lock_proof: Vec<SignedVote>,
}

impl SignState {
    fn position(&self) -> (u64, u32, Step) {
        (self.height, self.round, self.step)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timeout {
    pub height: u64,
    pub round: u32,
    pub step: Step,
}

#[derive(Debug, Clone)]
pub enum Input {
    /// Begin deciding `height` with `validators` (the committed chain is at `height - 1`).
    /// `seed` (the hash of block `height - 1`) seeds the proposer lottery when the chain
    /// spec selects proposers by lottery; round-robin ignores it.
    Start {
        height: u64,
        validators: ValidatorSet,
        seed: Hash,
    },
    /// A proposal from the network; `value_is_valid` is the caller's verdict on the block.
    Proposal {
        proposal: SignedProposal,
        value_is_valid: bool,
    },
    Vote(SignedVote),
    /// A vote whose signature the caller has already verified (batched, off this thread).
    CheckedVote(SignedVote),
    /// The answer to [`Output::GetValue`]: a fresh value (block hash) to propose.
    ProposeValue {
        height: u64,
        round: u32,
        value: Hash,
    },
    Timeout(Timeout),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Broadcast(Message),
    ScheduleTimeout {
        height: u64,
        round: u32,
        step: Step,
        duration_ms: u64,
    },
    /// This validator proposes in (height, round): build a block and answer with
    /// [`Input::ProposeValue`].
    GetValue {
        height: u64,
        round: u32,
    },
    /// `value` is final at `height`; `certificate` holds the precommits that prove it.
    Decide {
        height: u64,
        round: u32,
        value: Hash,
        certificate: CommitCertificate,
    },
    /// One validator signed two different votes of one kind in one round.
    Evidence {
        first: SignedVote,
        second: SignedVote,
    },
    /// Persist before acting on any later output (see the module docs).
    SignStateChanged(SignState),
}

#[derive(Debug, Clone)]
struct ProposalEntry {
    signed: SignedProposal,
    value_is_valid: bool,
}

/// Per-round "for the first time" flags of the paper, reset by StartRound.
#[derive(Debug, Default, Clone, Copy)]
struct RoundFlags {
    prevote_timeout_scheduled: bool,
    precommit_timeout_scheduled: bool,
    /// Line 36 fired in this round.
    valid_value_updated: bool,
}

pub struct Tendermint {
    chain_id: String,
    key: Option<Keypair>,
    validators: ValidatorSet,
    params: ConsensusParams,
    /// Round-0 proposer priorities of `height` for `validators`.
    priority: ProposerPriority,
    /// The lottery seed of this height (see [`Input::Start`]).
    seed: Hash,
    height: u64,
    round: u32,
    /// The round this run entered the height at: past it after a restart within the height
    /// (see `start_height`). Timeouts grow with the rounds since, not with the round number.
    first_round: u32,
    step: Step,
    /// Set once the height is decided; the core then waits for [`Input::Start`].
    decision: Option<Hash>,
    locked: Option<Lock>,
    valid: Option<Lock>,
    /// Proposals from the round's proposer, per round, in arrival order.
    proposals: BTreeMap<u32, Vec<ProposalEntry>>,
    votes: VoteBook,
    flags: RoundFlags,
    /// Validators and rounds already reported for equivocation, per vote kind.
    reported: BTreeMap<(PublicKey, u32), (bool, bool)>,
    sign_state: Option<SignState>,
    /// False until the first [`Input::Start`].
    started: bool,
}

impl Tendermint {
    /// `key` is this node's validator key, if it is one. Nothing happens before
    /// [`Input::Start`].
    pub fn new(chain_id: String, key: Option<Keypair>, validators: ValidatorSet, params: ConsensusParams) -> Self {
        let priority = ProposerPriority::at_height(&validators, 1);
        Tendermint {
            chain_id,
            key,
            validators,
            params,
            priority,
            seed: Hash::ZERO,
            height: 0,
            round: 0,
            first_round: 0,
            step: Step::Propose,
            decision: None,
            locked: None,
            valid: None,
            proposals: BTreeMap::new(),
            votes: VoteBook::default(),
            flags: RoundFlags::default(),
            reported: BTreeMap::new(),
            sign_state: None,
            started: false,
        }
    }

    /// Restores the persisted double-sign guard (and, at its height, the lock).
    pub fn with_sign_state(mut self, state: SignState) -> Self {
        self.sign_state = Some(state);
        self
    }

    pub fn height(&self) -> u64 {
        self.height
    }

    pub fn round(&self) -> u32 {
        self.round
    }

    pub fn step(&self) -> Step {
        self.step
    }

    pub fn decision(&self) -> Option<Hash> {
        self.decision
    }

    pub fn locked(&self) -> Option<Lock> {
        self.locked
    }

    /// The value with a proof-of-lock seen most recently, and its round (the paper's
    /// validValue / validRound).
    pub fn valid(&self) -> Option<Lock> {
        self.valid
    }

    /// This height's votes, added up per round.
    pub fn tallies(&self) -> Vec<super::votes::RoundTally> {
        self.votes.tallies()
    }

    pub fn sign_state(&self) -> Option<&SignState> {
        self.sign_state.as_ref()
    }

    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The proposer of (current height, `round`).
    pub fn proposer(&self, round: u32) -> Option<PublicKey> {
        match self.params.proposer_selection {
            ProposerSelection::RoundRobin => self.priority.proposer(&self.validators, round),
            ProposerSelection::Lottery => self.validators.lottery_proposer(self.seed, round),
        }
    }

    /// The proposer of (`height`, `round`) under `validators`, for a height this core may not
    /// have started yet, so a proposal that arrives early can be checked before anything is
    /// done with its block. `seed` is that height's lottery seed. Cheap for the current and
    /// the next height with an unchanged set; otherwise a replay from zero (see
    /// [`ProposerPriority::at_height`]), which callers should not repeat per message.
    pub fn proposer_at(&self, validators: &ValidatorSet, height: u64, round: u32, seed: Hash) -> Option<PublicKey> {
        let same_set = *validators == self.validators;
        match self.params.proposer_selection {
            _ if self.started && same_set && height == self.height => self.proposer(round),
            ProposerSelection::Lottery => validators.lottery_proposer(seed, round),
            ProposerSelection::RoundRobin if self.started && same_set && self.height.checked_add(1) == Some(height) => {
                let mut priority = self.priority.clone();
                priority.advance(validators, 1);
                priority.proposer(validators, round)
            }
            ProposerSelection::RoundRobin => {
                ProposerPriority::at_height(validators, height).proposer(validators, round)
            }
        }
    }

    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start { height, validators, seed } => self.start_height(height, validators, seed, &mut out),
            Input::Proposal { proposal, value_is_valid } => self.on_proposal(proposal, value_is_valid),
            Input::Vote(vote) => self.on_vote(vote, false, &mut out),
            Input::CheckedVote(vote) => self.on_vote(vote, true, &mut out),
            Input::ProposeValue { height, round, value } => self.on_value(height, round, value, &mut out),
            Input::Timeout(t) => self.on_timeout(t, &mut out),
        }
        self.progress(&mut out);
        out
    }

    fn start_height(&mut self, height: u64, validators: ValidatorSet, seed: Hash, out: &mut Vec<Output>) {
        if self.started && height <= self.height {
            return;
        }
        // One turn per height when the set is unchanged, a replay from zero otherwise.
        if self.started && validators == self.validators && Some(height) == self.height.checked_add(1) {
            self.priority.advance(&validators, 1);
        } else {
            self.priority = ProposerPriority::at_height(&validators, height);
        }
        self.validators = validators;
        self.seed = seed;
        self.started = true;
        self.height = height;
        self.decision = None;
        // After a restart within a height, resume after the last round signed in, keeping
        // the lock: every earlier position is spent, and waiting in it could stall a
        // validator that holds a quorum alone. Skipping rounds is always safe.
        let resumed = self.sign_state.as_ref().filter(|s| s.height == height).cloned();
        self.locked = resumed.as_ref().and_then(|s| s.lock);
        self.valid = self.locked;
        self.proposals.clear();
        self.votes = VoteBook::default();
        self.reported.clear();
        for vote in resumed.iter().flat_map(|s| s.lock_proof.iter()) {
            if let Some(power) = self.validators.power_of(&vote.validator) {
                self.votes.add(vote.clone(), power);
            }
        }
        self.first_round = resumed.map_or(0, |s| s.round.saturating_add(1));
        self.start_round(self.first_round, out);
    }

    /// StartRound (lines 11-21).
    fn start_round(&mut self, round: u32, out: &mut Vec<Output>) {
        self.round = round;
        self.step = Step::Propose;
        self.flags = RoundFlags::default();
        // The paper schedules this only for non-proposers; the proposer schedules it too, so
        // a caller that never answers GetValue cannot stall the round.
        let duration_ms = self.timeout_ms(self.params.propose_timeout_ms, round);
        out.push(Output::ScheduleTimeout { height: self.height, round, step: Step::Propose, duration_ms });
        if self.is_me(self.proposer(round)) {
            match self.valid {
                Some(Lock { value, round: vr }) => self.propose(value, Some(vr), out),
                None => out.push(Output::GetValue { height: self.height, round }),
            }
        }
    }

    /// A step's timeout in `round`: longer by `timeout_delta_ms` for every round this run has
    /// waited through at the height, so under eventual synchrony it outgrows the network's
    /// delay. Rounds spent before a restart do not count: nobody waited in them, and a set
    /// restarted again and again (each run resuming one round later) would otherwise wait
    /// longer each time until its windows of being up are all timeout.
    fn timeout_ms(&self, base: u64, round: u32) -> u64 {
        let waited = round.saturating_sub(self.first_round);
        base.saturating_add(self.params.timeout_delta_ms.saturating_mul(u64::from(waited)))
    }

    fn is_me(&self, who: Option<PublicKey>) -> bool {
        matches!((&self.key, who), (Some(k), Some(w)) if k.public() == w)
    }

    fn active(&self) -> bool {
        self.started && self.decision.is_none()
    }

    fn on_value(&mut self, height: u64, round: u32, value: Hash, out: &mut Vec<Output>) {
        if !self.active() || height != self.height || round != self.round || self.step != Step::Propose {
            return;
        }
        if !self.is_me(self.proposer(round)) || self.proposals.contains_key(&round) {
            return;
        }
        self.propose(value, None, out);
    }

    fn propose(&mut self, value: Hash, valid_round: Option<u32>, out: &mut Vec<Output>) {
        let proposal =
            Proposal { chain_id: self.chain_id.clone(), height: self.height, round: self.round, value, valid_round };
        let Some((proposer, signature)) = self.sign(self.round, Step::Propose, proposal.signing_hash(), out) else {
            return;
        };
        let signed = SignedProposal { proposal, proposer, signature };
        out.push(Output::Broadcast(Message::Proposal(signed.clone())));
        // Our own value: a valid value from an earlier round, or one the caller just built.
        self.accept_proposal(signed, true);
    }

    fn vote(&mut self, kind: VoteKind, value: Option<Hash>, out: &mut Vec<Output>) {
        let step = match kind {
            VoteKind::Prevote => Step::Prevote,
            VoteKind::Precommit => Step::Precommit,
        };
        let vote =
            Vote { chain_id: self.chain_id.clone(), height: self.height, round: self.round, kind, block_hash: value };
        let Some((validator, signature)) = self.sign(self.round, step, vote.signing_hash(), out) else { return };
        let signed = SignedVote { vote, validator, signature };
        out.push(Output::Broadcast(Message::Vote(signed.clone())));
        if let Some(power) = self.validators.power_of(&validator) {
            self.votes.add(signed, power);
        }
    }

    /// Signs `msg` at (height, round, step) if this node is a validator and the position is
    /// strictly above the last one signed.
    fn sign(&mut self, round: u32, step: Step, msg: Hash, out: &mut Vec<Output>) -> Option<(PublicKey, Signature)> {
        let key = self.key.as_ref()?;
        let public = key.public();
        self.validators.power_of(&public)?;
        let position = (self.height, round, step);
        if self.sign_state.as_ref().is_some_and(|s| position <= s.position()) {
            return None;
        }
        let signature = key.sign(&msg);
        let lock_proof =
            self.locked.map(|l| self.votes.votes_for(l.round, VoteKind::Prevote, Some(l.value))).unwrap_or_default();
        let state = SignState { height: self.height, round, step, lock: self.locked, lock_proof };
        self.sign_state = Some(state.clone());
        out.push(Output::SignStateChanged(state));
        Some((public, signature))
    }

    fn in_window(&self, height: u64, round: u32) -> bool {
        self.active() && height == self.height && round <= self.round.saturating_add(MAX_ROUNDS_AHEAD)
    }

    fn on_proposal(&mut self, signed: SignedProposal, value_is_valid: bool) {
        let p = &signed.proposal;
        if !self.in_window(p.height, p.round) || p.chain_id != self.chain_id {
            return;
        }
        if self.proposer(p.round) != Some(signed.proposer) {
            return;
        }
        let held = self.proposals.get(&p.round).map_or(&[][..], Vec::as_slice);
        if held.len() >= MAX_PROPOSALS_PER_ROUND || held.iter().any(|e| e.signed.proposal == *p) {
            return;
        }
        if signed.proposer.verify(&p.signing_hash(), &signed.signature).is_err() {
            return;
        }
        self.accept_proposal(signed, value_is_valid);
    }

    fn accept_proposal(&mut self, signed: SignedProposal, value_is_valid: bool) {
        let round = signed.proposal.round;
        let proposer = signed.proposer;
        if let Some(power) = self.validators.power_of(&proposer) {
            self.votes.note_proposer(round, proposer, power);
        }
        self.proposals.entry(round).or_default().push(ProposalEntry { signed, value_is_valid });
    }

    fn on_vote(&mut self, signed: SignedVote, checked: bool, out: &mut Vec<Output>) {
        let v = &signed.vote;
        // Votes still count after the decision, until the next height: late equivocation at
        // a decided height is still reported.
        let decided_here = self.started && self.decision.is_some() && v.height == self.height;
        if !(self.in_window(v.height, v.round) || decided_here) || v.chain_id != self.chain_id {
            return;
        }
        let Some(power) = self.validators.power_of(&signed.validator) else { return };
        if self.votes.contains(&signed) {
            return; // duplicate: no need to check the signature again
        }
        if !checked && signed.validator.verify(&v.signing_hash(), &signed.signature).is_err() {
            return;
        }
        let (round, kind, who) = (v.round, v.kind, signed.validator);
        if let Added::Conflict(first) = self.votes.add(signed.clone(), power) {
            let flags = self.reported.entry((who, round)).or_insert((false, false));
            let seen = match kind {
                VoteKind::Prevote => &mut flags.0,
                VoteKind::Precommit => &mut flags.1,
            };
            if !*seen {
                *seen = true;
                out.push(Output::Evidence { first: *first, second: signed });
            }
        }
    }

    fn on_timeout(&mut self, t: Timeout, out: &mut Vec<Output>) {
        if !self.active() || t.height != self.height || t.round != self.round {
            return;
        }
        match t.step {
            // Lines 57-60.
            Step::Propose if self.step == Step::Propose => {
                self.vote(VoteKind::Prevote, None, out);
                self.step = Step::Prevote;
            }
            // Lines 61-64.
            Step::Prevote if self.step == Step::Prevote => {
                self.vote(VoteKind::Precommit, None, out);
                self.step = Step::Precommit;
            }
            // Lines 65-67.
            Step::Precommit => self.start_round(self.round.saturating_add(1), out),
            _ => {}
        }
    }

    fn quorum(&self, power: u64) -> bool {
        self.validators.is_quorum_power(power)
    }

    /// The current round's proposals: (value, valid_round, valid), in arrival order.
    fn current_proposals(&self) -> Vec<(Hash, Option<u32>, bool)> {
        self.proposals
            .get(&self.round)
            .map(|held| {
                held.iter()
                    .map(|e| (e.signed.proposal.value, e.signed.proposal.valid_round, e.value_is_valid))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a valid proposal for `value` arrived for `round`.
    fn has_valid_proposal(&self, round: u32, value: Hash) -> bool {
        self.proposals
            .get(&round)
            .is_some_and(|held| held.iter().any(|e| e.value_is_valid && e.signed.proposal.value == value))
    }

    /// Applies the `upon` rules until none fires.
    fn progress(&mut self, out: &mut Vec<Output>) {
        while self.active() && self.apply_one_rule(out) {}
    }

    /// Fires at most one state-changing rule; returns whether one fired.
    fn apply_one_rule(&mut self, out: &mut Vec<Output>) -> bool {
        // Lines 49-54: decide, at any round.
        if let Some((round, value)) = self.decidable() {
            let signatures = self.votes.precommit_signatures(round, value);
            let certificate = CommitCertificate { height: self.height, round, block_hash: value, signatures };
            self.decision = Some(value);
            out.push(Output::Decide { height: self.height, round, value, certificate });
            return true;
        }
        // Lines 55-56: more than 1/3 of the power is already in a later round.
        let skip_to = self
            .votes
            .rounds_above(self.round)
            .find(|r| self.validators.exceeds_one_third(self.votes.senders_power(*r)));
        if let Some(round) = skip_to {
            self.start_round(round, out);
            return true;
        }
        let round = self.round;
        if self.step == Step::Propose {
            for (value, valid_round, is_valid) in self.current_proposals() {
                let ok = match valid_round {
                    // Lines 22-27.
                    None => is_valid && self.locked.is_none_or(|l| l.value == value),
                    // Lines 28-33: a proof of lock from an earlier round.
                    Some(vr) if vr < round && self.quorum(self.votes.power_for(vr, VoteKind::Prevote, Some(value))) => {
                        is_valid && self.locked.is_none_or(|l| l.round <= vr || l.value == value)
                    }
                    // No proof of lock (yet): wait for it or for the timeout.
                    Some(_) => continue,
                };
                self.vote(VoteKind::Prevote, ok.then_some(value), out);
                self.step = Step::Prevote;
                return true;
            }
        }
        // Lines 34-35.
        if self.step == Step::Prevote
            && !self.flags.prevote_timeout_scheduled
            && self.quorum(self.votes.power_any(round, VoteKind::Prevote))
        {
            self.flags.prevote_timeout_scheduled = true;
            let duration_ms = self.timeout_ms(self.params.vote_timeout_ms, round);
            out.push(Output::ScheduleTimeout { height: self.height, round, step: Step::Prevote, duration_ms });
        }
        // Lines 36-43.
        if self.step >= Step::Prevote && !self.flags.valid_value_updated {
            let quorum_value = self
                .current_proposals()
                .into_iter()
                .find(|(v, _, valid)| *valid && self.quorum(self.votes.power_for(round, VoteKind::Prevote, Some(*v))));
            if let Some((value, _, _)) = quorum_value {
                {
                    self.flags.valid_value_updated = true;
                    if self.step == Step::Prevote {
                        self.locked = Some(Lock { value, round });
                        self.vote(VoteKind::Precommit, Some(value), out);
                        self.step = Step::Precommit;
                    }
                    self.valid = Some(Lock { value, round });
                    return true;
                }
            }
        }
        // Lines 44-46.
        if self.step == Step::Prevote && self.quorum(self.votes.power_for(round, VoteKind::Prevote, None)) {
            self.vote(VoteKind::Precommit, None, out);
            self.step = Step::Precommit;
            return true;
        }
        // Lines 47-48.
        if !self.flags.precommit_timeout_scheduled && self.quorum(self.votes.power_any(round, VoteKind::Precommit)) {
            self.flags.precommit_timeout_scheduled = true;
            let duration_ms = self.timeout_ms(self.params.vote_timeout_ms, round);
            out.push(Output::ScheduleTimeout { height: self.height, round, step: Step::Precommit, duration_ms });
        }
        false
    }

    /// A round and value with a valid proposal and a quorum of precommits for it.
    fn decidable(&self) -> Option<(u32, Hash)> {
        self.votes.precommitted_values().into_iter().find(|(round, value)| {
            self.has_valid_proposal(*round, *value)
                && self.quorum(self.votes.power_for(*round, VoteKind::Precommit, Some(*value)))
        })
    }
}
