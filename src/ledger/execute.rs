//! Applying transactions and blocks to the state.

use super::{fees, Account, StateError, StateReader, Supply};
use crate::chainspec::ChainSpec;
use crate::primitives::{Address, Payload, SignedTx};
use std::collections::HashMap;

/// Why a tx cannot be part of a block at all. A block holding one is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxInvalid {
    #[error("wrong chain id {got:?}, this chain is {want:?}")]
    ChainId { got: String, want: String },
    #[error("nonce {got} is not the account nonce + 1 ({want})")]
    Nonce { got: u64, want: u64 },
    #[error("fee {got} is below the required {required}")]
    FeeTooLow { got: u128, required: u128 },
    #[error("balance {balance} cannot pay the fee {fee}")]
    CannotPayFee { balance: u128, fee: u128 },
    #[error("tx is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: u32 },
    #[error("batch has {got} transfers; it must have 1 to {limit}")]
    BatchSize { got: usize, limit: u32 },
    #[error("nonce space exhausted")]
    NonceOverflow,
    #[error("the block's fees overflow u128")]
    FeeOverflow,
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why an included tx did nothing but pay its fee.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxFailure {
    #[error("insufficient balance: has {balance}, needs {needed}")]
    InsufficientBalance { balance: u128, needed: u128 },
    #[error("recipient balance would overflow")]
    Overflow,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxOutcome {
    pub fee: u128,
    pub result: Result<(), TxFailure>,
}

/// What the block is being built or checked against.
#[derive(Debug, Clone, Copy)]
pub struct BlockEnv {
    pub height: u64,
    /// Receives the block reward and the proposer's share of fees.
    pub proposer: Address,
}

/// Every account a block touched, in address order, and the new supply counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateDiff {
    pub accounts: Vec<(Address, Account)>,
    pub supply: Supply,
}

/// The block reward at `height`: the initial reward halved every `halving_interval` blocks.
pub fn block_reward(spec: &ChainSpec, height: u64) -> u128 {
    if height == 0 {
        return 0;
    }
    let halvings = height.saturating_sub(1).checked_div(spec.economy.halving_interval).unwrap_or(u64::MAX);
    u32::try_from(halvings).ok().and_then(|h| spec.economy.block_reward.checked_shr(h)).unwrap_or(0)
}

/// Checks the parts of a tx that need no state: chain id, size, batch shape, fee.
/// Signatures are checked by the caller, batched, before this.
pub fn check_stateless(spec: &ChainSpec, tx: &SignedTx) -> Result<(), TxInvalid> {
    if tx.tx.chain_id != spec.chain_id {
        return Err(TxInvalid::ChainId { got: tx.tx.chain_id.clone(), want: spec.chain_id.clone() });
    }
    let size = tx.size();
    if size > spec.limits.max_tx_bytes as usize {
        return Err(TxInvalid::TooLarge { size, limit: spec.limits.max_tx_bytes });
    }
    if let Payload::Batch(ts) = &tx.tx.payload {
        if ts.is_empty() || ts.len() > spec.limits.max_batch_transfers as usize {
            return Err(TxInvalid::BatchSize { got: ts.len(), limit: spec.limits.max_batch_transfers });
        }
    }
    let required = fees::required_fee(&spec.economy.fees, &tx.tx.payload, size, tx.tx.priority)
        .map(|f| f.total)
        .unwrap_or(u128::MAX);
    if tx.tx.fee < required {
        return Err(TxInvalid::FeeTooLow { got: tx.tx.fee, required });
    }
    Ok(())
}

/// Accounts a tx wrote, to be merged into the block's changes.
type Touched = HashMap<Address, Account>;

/// Applies txs one by one on top of a [`StateReader`], keeping changes in memory.
pub struct Executor<'a, R> {
    reader: &'a R,
    spec: &'a ChainSpec,
    treasury: Address,
    env: BlockEnv,
    changes: HashMap<Address, Account>,
    fees: u128,
    txs_applied: u32,
}

impl<'a, R: StateReader> Executor<'a, R> {
    pub fn new(reader: &'a R, spec: &'a ChainSpec, treasury: Address, env: BlockEnv) -> Self {
        Executor { reader, spec, treasury, env, changes: HashMap::new(), fees: 0, txs_applied: 0 }
    }

    pub fn account(&mut self, a: &Address) -> Result<Account, StateError> {
        if let Some(acc) = self.changes.get(a) {
            return Ok(*acc);
        }
        Ok(self.reader.account(a)?.unwrap_or_default())
    }

    pub fn txs_applied(&self) -> u32 {
        self.txs_applied
    }

    /// Applies one tx whose signature has been verified. `Err` means the tx cannot be in this
    /// block and nothing changed; `Ok` means it is in, successful or failed.
    pub fn apply(&mut self, tx: &SignedTx) -> Result<TxOutcome, TxInvalid> {
        check_stateless(self.spec, tx)?;
        let sender = tx.tx.sender_address();
        let mut from = self.account(&sender)?;
        let want = from.nonce.checked_add(1).ok_or(TxInvalid::NonceOverflow)?;
        if tx.tx.nonce != want {
            return Err(TxInvalid::Nonce { got: tx.tx.nonce, want });
        }
        let fee = tx.tx.fee;
        from.balance = from.balance.checked_sub(fee).ok_or(TxInvalid::CannotPayFee { balance: from.balance, fee })?;
        from.nonce = want;
        let fees = self.fees.checked_add(fee).ok_or(TxInvalid::FeeOverflow)?;
        // Everything is computed on copies; the executor changes only once nothing can fail.
        let (result, touched) = self.execute_payload(sender, from, &tx.tx.payload)?;
        self.fees = fees;
        self.txs_applied = self.txs_applied.saturating_add(1);
        self.changes.extend(touched);
        Ok(TxOutcome { fee, result })
    }

    /// Runs the payload from `from` (the sender after paying the fee). Returns the outcome and
    /// the accounts to write: all touched ones on success, only the fee-paying sender on failure.
    fn execute_payload(
        &mut self,
        sender: Address,
        from: Account,
        payload: &Payload,
    ) -> Result<(Result<(), TxFailure>, Touched), StateError> {
        let transfers: &[crate::primitives::Transfer] = match payload {
            Payload::Transfer(t) => std::slice::from_ref(t),
            Payload::Batch(ts) => ts,
        };
        let fee_only = || HashMap::from([(sender, from)]);
        let mut scratch: HashMap<Address, Account> = fee_only();
        for t in transfers {
            let mut src = scratch.get(&sender).copied().unwrap_or(from);
            let Some(left) = src.balance.checked_sub(t.amount) else {
                let needed = payload.total_amount().unwrap_or(u128::MAX);
                return Ok((Err(TxFailure::InsufficientBalance { balance: from.balance, needed }), fee_only()));
            };
            src.balance = left;
            scratch.insert(sender, src);
            let mut to = match scratch.get(&t.to) {
                Some(a) => *a,
                None => self.account(&t.to)?,
            };
            let Some(credited) = to.balance.checked_add(t.amount) else {
                return Ok((Err(TxFailure::Overflow), fee_only()));
            };
            to.balance = credited;
            scratch.insert(t.to, to);
        }
        Ok((Ok(()), scratch))
    }

    /// Pays the block reward and fees and returns every change, in address order.
    pub fn finish(mut self) -> Result<StateDiff, StateError> {
        let overflow = || StateError("supply overflow".into());
        let mut supply = self.reader.supply()?;
        let reward = block_reward(self.spec, self.env.height);
        let treasury_cut =
            self.fees.checked_mul(u128::from(self.spec.economy.fees.treasury_share_bps)).ok_or_else(overflow)? / 10_000;
        let proposer_cut = self.fees.checked_sub(treasury_cut).ok_or_else(overflow)?;
        let proposer_gets = proposer_cut.checked_add(reward).ok_or_else(overflow)?;
        for (who, amount) in [(self.env.proposer, proposer_gets), (self.treasury, treasury_cut)] {
            if amount > 0 {
                let mut acc = self.account(&who)?;
                acc.balance = acc.balance.checked_add(amount).ok_or_else(overflow)?;
                self.changes.insert(who, acc);
            }
        }
        supply.total = supply.total.checked_add(reward).ok_or_else(overflow)?;
        supply.minted = supply.minted.checked_add(reward).ok_or_else(overflow)?;
        supply.height = self.env.height;
        let mut accounts: Vec<(Address, Account)> = self.changes.into_iter().collect();
        accounts.sort_unstable_by_key(|(a, _)| *a);
        Ok(StateDiff { accounts, supply })
    }
}

impl StateDiff {
    /// The state at height 0: genesis balances and stakes, and the total supply they make.
    pub fn genesis(g: &crate::chainspec::Genesis) -> Result<StateDiff, StateError> {
        let overflow = || StateError("genesis supply overflows u128".into());
        let mut accounts: std::collections::BTreeMap<Address, Account> = Default::default();
        let mut total: u128 = 0;
        for (a, v) in &g.balances {
            let acc = accounts.entry(*a).or_default();
            acc.balance = acc.balance.checked_add(*v).ok_or_else(overflow)?;
            total = total.checked_add(*v).ok_or_else(overflow)?;
        }
        for (a, v) in &g.stakes {
            let acc = accounts.entry(*a).or_default();
            acc.staked = acc.staked.checked_add(*v).ok_or_else(overflow)?;
            total = total.checked_add(*v).ok_or_else(overflow)?;
        }
        Ok(StateDiff { accounts: accounts.into_iter().collect(), supply: Supply { total, minted: 0, height: 0 } })
    }
}
