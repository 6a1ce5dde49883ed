//! The block transition: [`apply_block`], the one function that decides what a block does.
//! The block builder, the importer, sync and any referee all run it (the builder through the
//! same [`BlockExecutor`], choosing which txs to keep).
//!
//! Order within a block: the begin hook records the parent's hash (a trial claim's anchor),
//! checks the parent's precommits the block carries and records who signed (slashing and
//! jailing validators found down, [`super::liveness`]), records the block's evidence and
//! slashes and jails the validators it proves equivocated; then each tx (stateless
//! checks, nonce, fee, payload); then the end hook pays the block reward and splits the fees,
//! expires jobs whose deadline is this height, matures receipts whose challenge window closes,
//! releases unbonding entries that end, and at an epoch boundary recomputes the validator set.
//!
//! Every signature a tx carries (its own and its payload's, [`SignedTx::signature_items`]) is
//! verified by the caller, batched, before the tx reaches the ledger.

pub use super::env::BlockEnv;
use super::outcome::receipts_root;
use super::payload::{self, Ctx};
use super::{
    evidence, fees, liveness, unbonding, validators, AccountEvent, EventCause, Overlay, StateDiff, StateError,
    StateReader, Supply, TxFailure, TxInvalid, TxOutcome,
};
use crate::chainspec::ChainSpec;
use crate::primitives::{Address, CommitCertificate, Evidence, Hash, SealedTx, SignedTx};

/// Why a block is invalid (as opposed to a tx in it failing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("evidence {index}: {reason}")]
    Evidence { index: usize, reason: evidence::EvidenceInvalid },
    #[error(transparent)]
    LastCommit(#[from] liveness::LastCommitInvalid),
    #[error(transparent)]
    Reveal(#[from] super::beacon::RevealInvalid),
    #[error("tx {index} cannot be in a block: {reason}")]
    Tx { index: usize, reason: TxInvalid },
    #[error(transparent)]
    State(#[from] StateError),
}

/// What a block did: the state changes, every tx's typed outcome, the receipts root that
/// commits to the outcomes, and every account change with its cause (the account history).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockOutcome {
    pub diff: StateDiff,
    pub outcomes: Vec<TxOutcome>,
    pub receipts_root: Hash,
    pub events: Vec<AccountEvent>,
}

/// The block reward at `height`: the initial reward halved every `halving_interval` blocks.
pub fn block_reward(spec: &ChainSpec, height: u64) -> u128 {
    if height == 0 {
        return 0;
    }
    let halvings = height.saturating_sub(1).checked_div(spec.economy.halving_interval).unwrap_or(u64::MAX);
    u32::try_from(halvings).ok().and_then(|h| spec.economy.block_reward.checked_shr(h)).unwrap_or(0)
}

/// Checks the parts of a tx that need no state: chain id, size, payload shape, fee.
/// Signatures are checked by the caller, batched, before this.
pub fn check_stateless(spec: &ChainSpec, tx: &SealedTx) -> Result<(), TxInvalid> {
    if tx.tx.chain_id != spec.chain_id {
        return Err(TxInvalid::ChainId { got: tx.tx.chain_id.clone(), want: spec.chain_id.clone() });
    }
    let size = tx.size();
    if size > spec.limits.max_tx_bytes as usize {
        return Err(TxInvalid::TooLarge { size, limit: spec.limits.max_tx_bytes });
    }
    payload::check(spec, &tx.tx)?;
    let required = fees::fee_for_size(&spec.economy.fees, &tx.tx.payload, size, tx.tx.priority)
        .map(|f| f.total)
        .unwrap_or(u128::MAX);
    if tx.tx.fee < required {
        return Err(TxInvalid::FeeTooLow { got: tx.tx.fee, required });
    }
    Ok(())
}

/// What a block carries besides its txs, for the begin hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockVotes<'b> {
    /// The parent's precommits (`None` only at height 1).
    pub last_commit: Option<&'b CommitCertificate>,
    /// Equivocation to record and slash.
    pub evidence: &'b [Evidence],
}

/// Applies a whole block on top of `state`: the parent's precommits and the evidence, then
/// `txs` in order (signatures already verified), then the end-of-block hook. Any tx that
/// cannot be in a block makes it invalid.
pub fn apply_block<R: StateReader>(
    state: &R,
    spec: &ChainSpec,
    env: BlockEnv,
    votes: BlockVotes<'_>,
    txs: &[SealedTx],
) -> Result<BlockOutcome, BlockError> {
    let mut exec = BlockExecutor::begin(state, spec, env, votes)?;
    exec.reserve(txs.len());
    for (index, tx) in txs.iter().enumerate() {
        exec.apply(tx).map_err(|reason| BlockError::Tx { index, reason })?;
    }
    Ok(exec.finish()?)
}

/// A block being applied, tx by tx. [`apply_block`] runs it over a given list; the block
/// builder runs it over mempool candidates and leaves out those that cannot be included.
pub struct BlockExecutor<'a, R> {
    state: Overlay<'a, R>,
    /// The spec with the parameter updates in force at this height.
    spec: std::borrow::Cow<'a, ChainSpec>,
    env: BlockEnv,
    treasury: Address,
    supply: Supply,
    fees: u128,
    /// Trial grants in this block so far, for the per-block cap.
    trials: u32,
    outcomes: Vec<TxOutcome>,
}

impl<'a, R: StateReader> BlockExecutor<'a, R> {
    /// The begin-block hook: checks and records the parent's precommits and the block's
    /// evidence.
    pub fn begin(reader: &'a R, spec: &'a ChainSpec, env: BlockEnv, votes: BlockVotes<'_>) -> Result<Self, BlockError> {
        let mut exec = Self::speculative(reader, spec, env)?;
        super::beacon::apply(&mut exec.state, &exec.spec, &env)??;
        let signers = liveness::check(reader, &exec.spec, env.height, env.parent, votes.last_commit)?;
        liveness::record(&mut exec.state, &exec.spec, &mut exec.supply, env.height, &signers)?;
        evidence::apply(&mut exec.state, &exec.spec, votes.evidence, env.height)
            .map_err(|(index, reason)| BlockError::Evidence { index, reason })?;
        for e in votes.evidence {
            let (at, _, _, validator) = e.position();
            let offence = super::slash::Offence::DoubleSign { at, reporter: env.proposer };
            super::slash::slash(&mut exec.state, &exec.spec, &mut exec.supply, validator, offence, env.height)?;
        }
        // The beacon and the liveness records are written on the overlay's tx level: keep
        // them, or a first tx that fails (its writes reverted) would take them along. Only
        // records are pending here (slashes commit their own account changes).
        exec.state.commit_tx(EventCause::Slash)?;
        Ok(exec)
    }

    /// A block at `env` without its votes: what admission checks a tx against (a tx's
    /// validity does not depend on who signed the parent). Never finished into a block.
    pub fn speculative(reader: &'a R, spec: &'a ChainSpec, env: BlockEnv) -> Result<Self, BlockError> {
        let spec = match payload::params::effective(spec, &payload::params::updates(reader)?)? {
            Some(updated) => std::borrow::Cow::Owned(updated),
            None => std::borrow::Cow::Borrowed(spec),
        };
        let treasury = spec
            .parse_address(&spec.economy.treasury)
            .map_err(|e| StateError(format!("chain spec treasury address: {e}")))?;
        let supply = reader.supply()?;
        let mut state = Overlay::new(reader);
        payload::trial::record_anchor(&mut state, &spec, &env)?;
        Ok(BlockExecutor { state, spec, env, treasury, supply, fees: 0, trials: 0, outcomes: Vec::new() })
    }

    /// Makes room for about `txs` more txs (see [`Overlay::reserve`]).
    pub fn reserve(&mut self, txs: usize) {
        self.state.reserve(txs);
        self.outcomes.reserve(txs);
    }

    /// The account as this block has left it so far.
    pub fn account(&self, a: &Address) -> Result<super::Account, StateError> {
        self.state.account(a)
    }

    pub fn txs_applied(&self) -> usize {
        self.outcomes.len()
    }

    /// Applies one tx whose signature has been verified. `Err` means the tx cannot be in this
    /// block and nothing changed; `Ok` means it is in, successful or failed.
    pub fn apply(&mut self, tx: &SealedTx) -> Result<TxOutcome, TxInvalid> {
        check_stateless(&self.spec, tx)?;
        let tx_hash = tx.hash();
        let sender = tx.tx.sender_address();
        let trial = self.admit_stateful(tx, &sender)?;
        let mut from = self.state.account(&sender)?;
        let want = from.nonce.checked_add(1).ok_or(TxInvalid::NonceOverflow)?;
        if tx.tx.nonce != want {
            return Err(TxInvalid::Nonce { got: tx.tx.nonce, want });
        }
        let fee = tx.tx.fee;
        from.balance = from.balance.checked_sub(fee).ok_or(TxInvalid::CannotPayFee { balance: from.balance, fee })?;
        from.nonce = want;
        let fees = self.fees.checked_add(fee).ok_or(TxInvalid::FeeOverflow)?;
        // The payload runs on the tx level of the overlay: on failure its writes are dropped
        // and only the fee and nonce stay; on a state error nothing stays.
        self.state.set_account(sender, from);
        let mut supply = self.supply;
        let result = match self.run_payload(tx, tx_hash, &mut supply) {
            Ok(r) => r,
            Err(e) => {
                self.state.revert_tx();
                return Err(e.into());
            }
        };
        if result.is_ok() {
            self.supply = supply;
            self.trials = self.trials.saturating_add(u32::from(trial));
        } else {
            self.state.revert_tx();
            self.state.set_account(sender, from);
        }
        let index = u32::try_from(self.outcomes.len()).map_err(|_| StateError("too many txs".into()))?;
        self.state.commit_tx(EventCause::Tx(index))?;
        self.fees = fees;
        let outcome = TxOutcome { fee, result };
        self.outcomes.push(outcome.clone());
        Ok(outcome)
    }

    /// The rules that keep a tx out of this block by state, before its nonce and fee: a trial
    /// claim's anchor, freshness and caps, a fraud proof's blobs. `Ok(true)` for a trial claim
    /// (it counts against the block's cap).
    fn admit_stateful(&self, tx: &SignedTx, sender: &Address) -> Result<bool, TxInvalid> {
        match &tx.tx.payload {
            crate::primitives::Payload::TrialClaim(c) => {
                payload::trial::admit(&self.state, &self.spec, &self.env, self.trials, sender, c)?;
                Ok(true)
            }
            crate::primitives::Payload::FraudProof(f) => payload::fraud::admit(&self.state, f).map(|_| false),
            crate::primitives::Payload::Verdict(v) => {
                payload::verdict::admit(&self.state, &self.spec, v).map(|_| false)
            }
            _ => Ok(false),
        }
    }

    /// Runs `tx`'s payload as if it came next in this block and keeps nothing: admission uses
    /// it to refuse, with its reason, a tx that would only pay its fee, or (`Err`) one that
    /// could not be in the block at all. Nonce and fee are not checked here (the mempool
    /// does).
    pub fn check_payload(&mut self, tx: &SealedTx) -> Result<Result<(), TxFailure>, TxInvalid> {
        let tx_hash = tx.hash();
        let sender = tx.tx.sender_address();
        self.admit_stateful(tx, &sender)?;
        let mut from = self.state.account(&sender)?;
        from.balance = from.balance.saturating_sub(tx.tx.fee);
        self.state.set_account(sender, from);
        let mut supply = self.supply;
        let result = self.run_payload(tx, tx_hash, &mut supply);
        self.state.revert_tx();
        Ok(result?)
    }

    /// Runs `tx`'s payload on the overlay's tx level, with `supply` as the counters it may
    /// change; the caller keeps or drops what it wrote.
    fn run_payload(
        &mut self,
        tx: &SignedTx,
        tx_hash: Hash,
        supply: &mut Supply,
    ) -> Result<Result<(), TxFailure>, StateError> {
        let mut ctx = Ctx {
            state: &mut self.state,
            spec: &self.spec,
            env: &self.env,
            supply,
            tx_hash,
            sender: tx.tx.sender_address(),
            sender_key: tx.tx.sender,
            treasury: self.treasury,
        };
        payload::apply(&mut ctx, &tx.tx.payload)
    }

    /// The end-of-block hook, then every change and outcome.
    pub fn finish(mut self) -> Result<BlockOutcome, StateError> {
        let overflow = || StateError("supply overflow".into());
        let reward = block_reward(&self.spec, self.env.height);
        let treasury_cut = self
            .fees
            .checked_mul(u128::from(self.spec.economy.fees.treasury_share_bps))
            .ok_or_else(overflow)?
            .checked_div(10_000)
            .ok_or_else(overflow)?;
        let proposer_cut = self.fees.checked_sub(treasury_cut).ok_or_else(overflow)?;
        let proposer_gets = proposer_cut.checked_add(reward).ok_or_else(overflow)?;
        let proposer = self.env.proposer;
        for (who, amount) in [(proposer, proposer_gets), (self.treasury, treasury_cut)] {
            if amount > 0 {
                let mut acc = self.state.account(&who)?;
                acc.balance = acc.balance.checked_add(amount).ok_or_else(overflow)?;
                self.state.set_account(who, acc);
            }
        }
        self.supply.total = self.supply.total.checked_add(reward).ok_or_else(overflow)?;
        self.supply.minted = self.supply.minted.checked_add(reward).ok_or_else(overflow)?;
        self.supply.minted_reward = self.supply.minted_reward.checked_add(reward).ok_or_else(overflow)?;
        self.supply.height = self.env.height;
        self.state.commit_tx(EventCause::BlockReward)?;
        let height = self.env.height;
        super::draw::turn_windows(&mut self.state, &self.spec, height)?;
        super::draw::draw_verifiers(&mut self.state, &self.spec, height)?;
        payload::job::expire(&mut self.state, height)?;
        self.state.commit_tx(EventCause::JobExpiry)?;
        payload::receipt::mature(&mut self.state, &self.spec, self.treasury, height)?;
        self.state.commit_tx(EventCause::Maturity)?;
        unbonding::release(&mut self.state, height)?;
        self.state.commit_tx(EventCause::Unbonded)?;
        if validators::is_boundary(&self.spec, self.env.height) {
            validators::on_boundary(&mut self.state, &self.spec, height)?;
            self.state.commit_tx(EventCause::Epoch)?;
        }
        let receipts_root = receipts_root(&self.outcomes);
        let (diff, events) = self.state.into_diff(self.supply);
        Ok(BlockOutcome { diff, outcomes: self.outcomes, receipts_root, events })
    }
}
