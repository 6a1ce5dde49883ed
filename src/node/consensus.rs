//! Running the consensus engine: executing its effects, and feeding it proposals and votes
//! from the `consensus` gossip topic.
//!
//! Every node checks consensus messages before gossip forwards them (a vote's signature and
//! signer, a proposal's signature and proposer), so validators need not be directly connected.
//! Only validators feed them to the engine, and only validators execute proposed blocks; the
//! others follow through committed blocks (`sync.rs`).
//!
//! Votes arriving together are verified as one batch. A node whose own messages got no
//! further (a partition, a peer that was away) sends them again while its height does not
//! move ([`RESEND_AFTER`]): Tendermint assumes every message eventually arrives, and gossip
//! only delivers to peers connected at the time.

use super::builder::{heavy, now_ms};
use super::import::ImportError;
use super::Driver;
use crate::consensus::{Effect, Input, Message, SignState, SignedProposal, SignedVote};
use crate::ledger;
use crate::network::{GossipId, Topic, Verdict};
use crate::primitives::{verify_each, Block, CompactBlock};
use crate::storage::Evidence;
use crate::wire::ConsensusMessage;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How far ahead of our clock a proposed block's timestamp may be.
const MAX_CLOCK_DRIFT_MS: u64 = 5_000;
/// Resend our latest messages when the height has not moved for this long.
pub(super) const RESEND_AFTER: Duration = Duration::from_secs(3);
/// Own messages kept for resending.
const MAX_SENT: usize = 8;

/// First wait before a refused commit is tried again; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(8);

/// A decided block the store refused. The engine has moved past the decision and nothing
/// else will commit it, so the driver tries again (on its 2 s tick, backing off) until the
/// disk takes it or the block arrives from a peer.
pub(super) struct Stalled {
    height: u64,
    value: crate::primitives::Hash,
    certificate: crate::primitives::CommitCertificate,
    /// The store's last refusal, for `tx_send` to pass on.
    pub error: String,
    next_try: Instant,
    backoff: Duration,
    /// What this validator signed towards the decision (a lone validator's own precommit is
    /// in the certificate), to be on disk before the block is.
    sign_state: Option<SignState>,
}

impl Stalled {
    fn new(
        height: u64,
        value: crate::primitives::Hash,
        certificate: crate::primitives::CommitCertificate,
        error: String,
    ) -> Self {
        let next_try = Instant::now() + FIRST_RETRY;
        Stalled { height, value, certificate, error, next_try, backoff: FIRST_RETRY, sign_state: None }
    }
}

/// What this node sent at the height at hand, for resending.
#[derive(Default)]
pub(super) struct Outbox {
    height: u64,
    sent: VecDeque<Message>,
    resends: u32,
    last_progress: Option<Instant>,
}

impl Driver {
    /// After a restart with a lock at the next height: the locked block from the store,
    /// executed again, so this validator can propose it and commit it.
    pub(super) fn restore_locked_block(&mut self, value: crate::primitives::Hash) {
        let block = match self.store.locked_block() {
            Ok(Some(b)) if b.hash() == value => b,
            Ok(_) => return tracing::warn!(%value, "locked on a block this node did not keep"),
            Err(e) => return tracing::error!(%value, error = %e, "cannot read the locked block"),
        };
        match heavy(|| self.execute(&block)) {
            Ok(prepared) => {
                tracing::info!(height = block.header.height, %value, "restored the block this validator is locked on");
                self.locked_saved = Some(value);
                self.keep_recent(&block);
                self.candidates.insert(value, super::builder::Candidate { block, prepared });
            }
            Err(e) => tracing::error!(%value, error = %e, "the locked block does not execute on the head"),
        }
    }

    /// Tries a refused commit again when its backoff has passed; once it is stored (or the
    /// chain moved past it by import), consensus goes on from it.
    pub(super) fn retry_stalled(&mut self) {
        let Some(s) = &self.stalled else { return };
        let (height, value) = (s.height, s.value);
        if self.store.head().is_ok_and(|h| h.height >= height) {
            self.stalled = None;
            return;
        }
        if Instant::now() < s.next_try {
            return;
        }
        let (certificate, sign_state) = (s.certificate.clone(), s.sign_state.clone());
        // The guard first, if the commit waits for it.
        let guarded = match sign_state {
            Some(state) => self.persist_sign_state(&state),
            None => Ok(()),
        };
        if guarded.is_ok() {
            if let Some(s) = self.stalled.as_mut() {
                s.sign_state = None;
            }
        }
        match guarded.and_then(|()| self.commit(value, &certificate).map_err(|e| e.to_string())) {
            Ok(()) => {
                tracing::info!(height, "storage is back: committed the stalled block; block production resumes");
                self.stalled = None;
                let start = self.start_after(height, value);
                self.input(start);
            }
            Err(e) => {
                let Some(s) = self.stalled.as_mut() else { return };
                s.backoff = (s.backoff * 2).min(MAX_RETRY);
                s.next_try = Instant::now() + s.backoff;
                s.error = e.to_string();
                tracing::warn!(height, error = %e, retry_in_s = s.backoff.as_secs(), "commit failed again");
            }
        }
    }

    /// Feeds the engine and executes its effects until none are left. Messages wait until
    /// the sign state that covers them is on disk.
    pub(super) fn input(&mut self, input: Input) {
        let before = self.engine.position();
        let timeout = match &input {
            Input::TimeoutElapsed(t) => Some(t.kind),
            _ => None,
        };
        let mut queue = VecDeque::from(self.engine.handle(input));
        self.metrics.on_consensus_step(before, self.engine.position(), timeout);
        let mut outgoing = Vec::new();
        let mut sign_state = None;
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::ScheduleTimeout { timeout, after_ms } => {
                    let d = Duration::from_millis(after_ms);
                    self.timers.push(Box::pin(async move {
                        tokio::time::sleep(d).await;
                        timeout
                    }));
                }
                Effect::BuildProposal { height, round } => match self.build(height) {
                    Ok(value) => queue.extend(self.engine.handle(Input::ProposalBuilt { height, round, value })),
                    Err(e) => tracing::error!(height, round, error = %e, "could not build a block"),
                },
                Effect::PersistSignState(s) => sign_state = Some(s),
                Effect::Broadcast(m) => outgoing.push(m),
                Effect::Evidence { first, second } => self.record_evidence(Evidence { first, second }),
                Effect::Commit { height, value, certificate } => {
                    // A lone validator's certificate holds its own precommit: the guard
                    // records it before the block that carries it is stored and served.
                    if let Some(state) = sign_state.take() {
                        if let Err(e) = self.persist_sign_state(&state) {
                            tracing::error!(height, error = %e, "commit waits for the double-sign guard; retrying");
                            let stalled = Stalled::new(height, value, certificate, e);
                            self.stalled = Some(Stalled { sign_state: Some(state), ..stalled });
                            // What it covers is not sent either.
                            return;
                        }
                    }
                    match self.commit(value, &certificate) {
                        Ok(()) => queue.extend(self.engine.handle(self.start_after(height, value))),
                        // Storage failing is not something the node can route around: stop
                        // producing rather than diverge from what is on disk, and try the same
                        // block again until the disk takes it.
                        Err(e) => {
                            tracing::error!(height, error = %e, "commit failed; block production halted, retrying");
                            self.stalled = Some(Stalled::new(height, value, certificate, e.to_string()));
                        }
                    }
                }
            }
        }
        if let Some(state) = sign_state {
            if let Err(e) = self.persist_sign_state(&state) {
                // Sending what the disk does not cover could let a restart sign twice.
                return tracing::error!(error = %e, "not sending");
            }
        }
        for m in outgoing {
            self.send(&m, 0);
            self.remember(m);
        }
    }

    /// Puts what the engine is about to sign on disk, the block it is locked on first. A
    /// lock restored without its block (a guard from an older build) cannot be helped here:
    /// the others may still hold the block, so the votes go out.
    fn persist_sign_state(&mut self, state: &SignState) -> Result<(), String> {
        let me = self.proposer.ok_or("the engine signed without a validator key")?;
        let unsaved = state.lock.map(|l| l.value).filter(|v| self.locked_saved != Some(*v));
        if let Some((value, c)) = unsaved.and_then(|v| self.candidates.get(&v).map(|c| (v, c))) {
            let saved = heavy(|| self.store.save_locked_block(&c.block));
            self.health.storage_result(super::health::StorageOp::SaveSignState, saved.as_ref().map(|_| ()));
            saved.map_err(|e| format!("cannot keep the locked block: {e}"))?;
            self.locked_saved = Some(value);
        }
        let saved = heavy(|| self.guard.save(me, state));
        self.health.storage_result(super::health::StorageOp::SaveSignState, saved.as_ref().map(|_| ()));
        saved.map_err(|e| format!("cannot persist the double-sign guard: {e}"))
    }

    /// Publishes a consensus message; a proposal goes with its block, compact. A lone
    /// validator has nobody to send to: its blocks travel on the `blocks` topic.
    fn send(&self, m: &Message, resend: u32) {
        let Some(net) = &self.net else { return };
        if self.engine.validators().len() < 2 {
            return;
        }
        let bytes = match m {
            Message::Vote(v) => crate::wire::encode_vote(v, resend),
            Message::Proposal(p) => match self.candidates.get(&p.proposal.value) {
                Some(c) => crate::wire::encode_proposal(p, &CompactBlock::of(&c.block), resend),
                None => return tracing::error!(value = %p.proposal.value, "proposed block is not kept"),
            },
        };
        net.publish(Topic::Consensus, bytes);
    }

    fn remember(&mut self, m: Message) {
        let (height, _) = m.position();
        let out = &mut self.outbox;
        if height != out.height {
            *out = Outbox { height, last_progress: Some(Instant::now()), ..Outbox::default() };
        }
        if out.sent.len() >= MAX_SENT {
            out.sent.pop_front();
        }
        out.sent.push_back(m);
    }

    /// Sends our latest messages again if the height is stuck (called on the driver's tick).
    pub(super) fn resend_if_stuck(&mut self) {
        let height = self.engine.height();
        let out = &mut self.outbox;
        if out.height != height || out.sent.is_empty() {
            return;
        }
        let now = Instant::now();
        if out.last_progress.is_some_and(|t| now.duration_since(t) < RESEND_AFTER) {
            return;
        }
        out.last_progress = Some(now);
        out.resends = out.resends.saturating_add(1);
        let (resend, sent) = (out.resends, out.sent.clone());
        tracing::debug!(height, resend, messages = sent.len(), "height not moving; resending our consensus messages");
        // Said once when the wait starts and then every ~30 s: an operator sees why the head
        // stands still long before health turns `halted`.
        if resend == 1 || resend % 10 == 0 {
            let (_, round, step) = self.engine.position();
            let waited_s = RESEND_AFTER.as_secs().saturating_mul(u64::from(resend));
            tracing::info!(
                height,
                round,
                step = ?step,
                validators = self.engine.validators().len(),
                waited_s,
                "waiting for a quorum: no 2/3 of the voting power agreed at this height yet; our votes re-sent"
            );
        }
        for m in &sent {
            self.send(m, resend);
        }
    }

    fn record_evidence(&mut self, evidence: Evidence) {
        let v = &evidence.first.vote;
        match self.store.save_evidence(&evidence) {
            Ok(true) => {
                self.pending_evidence.push(evidence.clone());
                tracing::warn!(
                    validator = %evidence.first.validator,
                    height = v.height,
                    round = v.round,
                    kind = ?v.kind,
                    "equivocation: a validator signed two different votes"
                );
                self.metrics.on_evidence();
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "cannot store evidence"),
        }
    }

    /// Evidence for a block at `height`: what is pending, still valid on top of the head
    /// (the ledger's rule) and not on chain yet, once per position, up to the block's limit.
    pub(super) fn evidence_to_include(&self, height: u64) -> Vec<Evidence> {
        let mut out: Vec<Evidence> = Vec::new();
        for e in &self.pending_evidence {
            if out.len() >= ledger::evidence::MAX_EVIDENCE_PER_BLOCK {
                break;
            }
            let fresh = !out.iter().any(|o| o.position() == e.position());
            if fresh && ledger::evidence::check(self.store.as_ref(), &self.spec, e, height).is_ok() {
                out.push(e.clone());
            }
        }
        out
    }

    pub(super) fn on_consensus(&mut self, msg: ConsensusMessage, id: GossipId) {
        match msg {
            ConsensusMessage::Proposal { proposal, block } => self.on_proposal(proposal, *block, id),
            ConsensusMessage::Vote(vote) => self.votes_in.push((vote, id)),
        }
    }

    fn is_validator(&self) -> bool {
        self.proposer.is_some_and(|k| self.engine.is_validator(&k))
    }

    /// A message from a later height than ours: the sender is ahead, so we may be behind.
    fn note_ahead(&mut self, id: &GossipId, height: u64) {
        let peer = id.source();
        let head = height.saturating_sub(1);
        let known = self.sync.peer_heads.entry(peer).or_insert(0);
        *known = (*known).max(head);
        self.maybe_sync();
    }

    fn on_proposal(&mut self, proposal: SignedProposal, block: CompactBlock, id: GossipId) {
        let p = &proposal.proposal;
        let height = self.engine.height();
        if p.chain_id != self.spec.chain_id {
            return self.report(id, Verdict::Reject);
        }
        if p.height != height {
            if p.height > height {
                self.note_ahead(&id, p.height);
            }
            return self.report(id, Verdict::Ignore);
        }
        if !self.engine.is_from_proposer(&proposal) {
            // A bad signature is the sender's doing; a proposer we do not expect may be our
            // view lagging (say, a validator set we have not synced to), so it is not
            // forwarded, but nobody is blamed for it.
            let forged = proposal.proposer.verify(&p.signing_hash(), &proposal.signature).is_err();
            tracing::debug!(peer = %id.source(), height, round = p.round, forged, "proposal not signed by its round's proposer");
            return self.report(id, if forged { Verdict::Reject } else { Verdict::Ignore });
        }
        // Forwarded only once filled, so whoever we forward it to can fetch its txs here.
        self.fill(block, super::fill::Purpose::Proposal(proposal), id);
    }

    /// A proposal from its round's proposer whose block is here in full.
    pub(super) fn proposal_filled(&mut self, proposal: SignedProposal, block: Block, id: GossipId) {
        let p = &proposal.proposal;
        let height = self.engine.height();
        if p.height != height {
            // Decided (or synced past) while its txs were fetched.
            return self.report(id, Verdict::Ignore);
        }
        if !self.is_validator() {
            return self.report(id, Verdict::Accept);
        }
        let value_is_valid = match self.check_proposed_block(&block, p.height) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(height, round = p.round, proposer = %proposal.proposer, error = %e, "invalid proposed block");
                false
            }
        };
        // A valid signature from the right proposer makes it worth forwarding only if the
        // block is good too; a bad block is the proposer's fault, not gossip's to spread.
        self.report(id, if value_is_valid { Verdict::Accept } else { Verdict::Reject });
        self.input(Input::Proposal { proposal, value_is_valid });
    }

    /// A proposal whose txs do not make the block it names: the engine prevotes nil.
    pub(super) fn proposal_invalid(&mut self, proposal: SignedProposal) {
        if proposal.proposal.height == self.engine.height() && self.is_validator() {
            self.input(Input::Proposal { proposal, value_is_valid: false });
        }
    }

    /// A proposed block must extend our head, carry a sane timestamp and execute to the state
    /// root it claims. Executed blocks are kept for the commit.
    fn check_proposed_block(&mut self, block: &Block, height: u64) -> Result<(), ImportError> {
        let hash = block.hash();
        if self.candidates.contains_key(&hash) {
            return Ok(());
        }
        if block.header.height != height {
            return Err(ImportError::NotNext { got: block.header.height, head: height.saturating_sub(1) });
        }
        self.check_extends_head(block)?;
        let ts = block.header.timestamp_ms;
        if ts > now_ms().saturating_add(MAX_CLOCK_DRIFT_MS) {
            return Err(ImportError::FutureTimestamp { got: ts, max_drift_ms: MAX_CLOCK_DRIFT_MS });
        }
        let prepared = heavy(|| self.execute(block))?;
        self.keep_recent(block);
        self.candidates.insert(hash, super::builder::Candidate { block: block.clone(), prepared });
        Ok(())
    }

    /// Verifies the votes gathered since the last call as one batch, reports each, and feeds
    /// the good ones to the engine.
    pub(super) fn flush_votes(&mut self) {
        if self.votes_in.is_empty() {
            return;
        }
        let height = self.engine.height();
        let mut current: Vec<(SignedVote, GossipId)> = Vec::new();
        let mut late: Vec<(SignedVote, GossipId)> = Vec::new();
        for (vote, id) in std::mem::take(&mut self.votes_in) {
            let v = &vote.vote;
            // Height before signer: a vote for another height may come from a set this node
            // has not reached (a validator that joined at an epoch boundary), so it is not
            // the relay's fault.
            if v.chain_id != self.spec.chain_id {
                self.report(id, Verdict::Reject);
            } else if self.is_late_precommit(&vote) {
                late.push((vote, id));
            } else if v.height != height {
                if v.height > height {
                    self.note_ahead(&id, v.height);
                }
                self.report(id, Verdict::Ignore);
            } else if !self.engine.is_validator(&vote.validator) {
                // A validator that just left the set (jailed, or out at an epoch boundary) may
                // still be voting, and a relay that has not seen the change yet forwards it in
                // good faith: not forwarded, nobody blamed. A key no recent set held is junk.
                let recent = self.recent_validators.contains(&vote.validator);
                self.report(id, if recent { Verdict::Ignore } else { Verdict::Reject });
            } else {
                current.push((vote, id));
            }
        }
        self.add_late_precommits(late);
        if current.is_empty() {
            return;
        }
        let items: Vec<_> = current.iter().map(|(v, _)| (v.validator, v.vote.signing_hash(), v.signature)).collect();
        let ok: Vec<bool> = verify_each(&items).iter().map(Result::is_ok).collect();
        let mut good = Vec::with_capacity(current.len());
        for ((vote, id), ok) in current.into_iter().zip(ok) {
            self.report(id, if ok { Verdict::Accept } else { Verdict::Reject });
            if ok {
                good.push(vote);
            }
        }
        if self.is_validator() && !good.is_empty() {
            self.input(Input::Votes(good));
        }
    }

    /// A precommit for the head, in the round that decided it, from a validator the head's
    /// certificate lacks: the next block should record that it signed.
    fn is_late_precommit(&self, vote: &SignedVote) -> bool {
        let Some(cert) = &self.last_commit else { return false };
        let v = &vote.vote;
        v.kind == crate::primitives::VoteKind::Precommit
            && v.height == cert.height
            && v.round == cert.round
            && v.block_hash == Some(cert.block_hash)
            && !cert.signatures.iter().any(|(k, _)| *k == vote.validator)
    }

    /// Verifies late precommits as one batch and adds those of the head's validators to the
    /// head's certificate. They are forwarded (the next proposer may not have them), and a
    /// bad signature is the sender's fault.
    fn add_late_precommits(&mut self, late: Vec<(SignedVote, GossipId)>) {
        if late.is_empty() {
            return;
        }
        let Some(height) = self.last_commit.as_ref().map(|c| c.height) else { return };
        let set = match ledger::validators::current(self.store.as_ref()) {
            Ok(v) => v.at(height).iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            Err(e) => return tracing::error!(error = %e, "cannot read the validator set"),
        };
        let items: Vec<_> = late.iter().map(|(v, _)| (v.validator, v.vote.signing_hash(), v.signature)).collect();
        let ok = verify_each(&items);
        for ((vote, id), ok) in late.into_iter().zip(ok) {
            if ok.is_err() {
                self.report(id, Verdict::Reject);
                continue;
            }
            if !set.contains(&vote.validator) {
                self.report(id, Verdict::Ignore);
                continue;
            }
            self.report(id, Verdict::Accept);
            if let Some(cert) = &mut self.last_commit {
                if !cert.signatures.iter().any(|(k, _)| *k == vote.validator) {
                    cert.signatures.push((vote.validator, vote.signature));
                }
            }
        }
    }
}
