//! Typed state. Every record the chain keeps lives under a [`StateKey`] in the one state tree;
//! the ledger reads it through [`StateReader`] and writes it through an [`Overlay`], whose
//! changes leave as a [`StateDiff`] that can also delete.
//!
//! Accounts are the hot path (two per transfer) and stay typed end to end; every other record
//! is SCALE bytes under its key, decoded where it is used.

use super::history::{AccountEvent, EventCause};
use super::{Account, Supply};
use crate::primitives::{Address, FastMap, Hash};
use parity_scale_codec::{Decode, Encode};
use std::cell::RefCell;

/// A storage read failed or returned bytes that do not decode; the ledger cannot decide
/// anything without its state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(pub String);

/// Where a record lives. Variant indexes are part of the state root: never reuse one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub enum StateKey {
    #[codec(index = 0)]
    Account(Address),
    #[codec(index = 1)]
    Supply,
    /// The validator set in force and the candidates for the next one ([`super::validators`]).
    #[codec(index = 2)]
    Validators,
    /// Equivocation recorded on chain, by the hash of its position: the height that carries it.
    #[codec(index = 3)]
    Evidence(Hash),
    /// A compute job by id (the hash of the JOB_POST tx).
    #[codec(index = 4)]
    Job(Hash),
    /// A receipt id that was claimed, forever.
    #[codec(index = 5)]
    Receipt(Hash),
    /// How many receipts mature at this height (entries under [`StateKey::QueueEntry`]).
    #[codec(index = 6)]
    Maturing(u64),
    /// How many jobs have their deadline at this height.
    #[codec(index = 7)]
    Expiring(u64),
    /// Stake delegated by the first address to the validator at the second.
    #[codec(index = 8)]
    Delegation(Address, Address),
    /// How many unbonding entries are released at this height.
    #[codec(index = 9)]
    Unbonding(u64),
    /// A miner's compute mint in one epoch, for the stake cap.
    #[codec(index = 10)]
    EpochMint(Address, u64),
    /// The height at which an address received its trial credits, forever.
    #[codec(index = 11)]
    TrialGrant(Address),
    /// The hash of a recent block, kept for `pow_max_age` blocks as a trial claim's anchor.
    #[codec(index = 12)]
    RecentBlock(u64),
    /// Trial grants made in an epoch, for the per-epoch cap.
    #[codec(index = 13)]
    TrialCount(u64),
    /// What a validator was slashed for an offence at this height (one slash per window).
    #[codec(index = 14)]
    Slash(Address, u64),
    /// Everyone who has delegated to a validator, and the total they delegated.
    #[codec(index = 15)]
    Delegators(Address),
    /// One page of a height queue's entries ([`super::queue::PAGE`] at most): (the queue's
    /// variant index, height, page).
    #[codec(index = 16)]
    QueueEntry(u8, u64, u32),
    /// The referee's verdict on a receipt challenged by an address.
    #[codec(index = 17)]
    Verdict(Hash, Address),
    /// Economy parameters set by PARAM_UPDATE, in force from the block after.
    #[codec(index = 18)]
    Params,
    /// An account's reputation counters.
    #[codec(index = 19)]
    Reputation(Address),
    /// An account's verified compute per recent epoch ([`super::work`]).
    #[codec(index = 20)]
    Work(Address),
    /// A validator's precommits over the signed-blocks window ([`super::liveness`]).
    #[codec(index = 21)]
    Liveness(Address),
    /// The accounts registered as miners ([`super::draw`]).
    #[codec(index = 22)]
    Miners,
    /// How many jobs' miner-draw windows turn over at this height (one ends, the next is drawn).
    #[codec(index = 23)]
    Draws(u64),
    /// The verdicts of a receipt's drawn verifiers: (verifier, whether it agreed), in order.
    #[codec(index = 24)]
    Verdicts(Hash),
    /// An account's unbonding entries ([`super::unbonding`]).
    #[codec(index = 25)]
    Unbonds(Address),
    /// The accounts holding unbonding entries from a validator.
    #[codec(index = 26)]
    UnbondingFrom(Address),
    /// A proposer's committed reveal chain ([`super::beacon`]).
    #[codec(index = 27)]
    RevealChain(Address),
    /// The randomness beacon after the block at this height, kept for draws.
    #[codec(index = 28)]
    Beacon(u64),
    // 29 was a job's window draw, kept in the job's record since schema 8.
    /// How many receipts get their verifiers drawn at this height.
    #[codec(index = 30)]
    VerifierDraws(u64),
    /// A receipt's drawn verifiers, fixed once drawn.
    #[codec(index = 31)]
    ReceiptVerifiers(Hash),
}

/// Read access to the state as of the parent block.
pub trait StateReader {
    /// The record under `key`, as SCALE bytes.
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError>;

    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        read(self, &StateKey::Account(*address))
    }

    fn supply(&self) -> Result<Supply, StateError> {
        Ok(read(self, &StateKey::Supply)?.unwrap_or_default())
    }

    /// A content-addressed blob (a job's program or input), if this node holds it. Not
    /// state: it is named by its hash, so every holder reads the same bytes; the referee
    /// re-executes jobs from these.
    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StateError> {
        let _ = hash;
        Ok(None)
    }

    /// The registered workers' draw weights in this state ([`super::draw`]).
    fn draw_weights(&self, spec: &crate::chainspec::ChainSpec) -> Result<DrawWeights, StateError> {
        super::draw::weights(self, spec).map(DrawWeights::from)
    }
}

/// Every registered worker with its draw weight, shared rather than copied: a block's draws
/// read the same list.
pub type DrawWeights = std::sync::Arc<[(Address, u128)]>;

/// Decodes the record under `key`.
pub fn read<T: Decode, R: StateReader + ?Sized>(r: &R, key: &StateKey) -> Result<Option<T>, StateError> {
    r.get(key)?.map(|b| decode(key, &b)).transpose()
}

fn decode<T: Decode>(key: &StateKey, bytes: &[u8]) -> Result<T, StateError> {
    T::decode(&mut &bytes[..]).map_err(|e| StateError(format!("record {key:?} does not decode: {e}")))
}

/// Every change a block makes: accounts in address order, the supply counters, and the other
/// records in key order (`None` deletes one).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateDiff {
    pub accounts: Vec<(Address, Account)>,
    pub supply: Supply,
    pub records: Vec<(StateKey, Option<Vec<u8>>)>,
}

/// Writes on top of a [`StateReader`], in two levels: the block's, and the tx's at hand,
/// which [`Overlay::commit_tx`] folds into the block's and [`Overlay::revert_tx`] drops. A tx
/// that fails thus changes nothing but what was written before its payload ran (its fee).
///
/// Each commit records an [`AccountEvent`] for every account it changed, so the block's
/// history is complete by construction.
pub struct Overlay<'a, R> {
    base: &'a R,
    /// Accounts read from `base`, so a second read and the history's "before" cost nothing.
    loaded: RefCell<FastMap<Address, Account>>,
    accounts: FastMap<Address, Account>,
    records: FastMap<StateKey, Option<Vec<u8>>>,
    tx_accounts: FastMap<Address, Account>,
    tx_records: FastMap<StateKey, Option<Vec<u8>>>,
    events: Vec<AccountEvent>,
    /// The miner and verifier draws' weights, read from `base` once per block.
    draw_weights: std::cell::OnceCell<DrawWeights>,
}

impl<'a, R: StateReader> Overlay<'a, R> {
    pub fn new(base: &'a R) -> Self {
        Overlay {
            base,
            loaded: RefCell::default(),
            accounts: FastMap::default(),
            records: FastMap::default(),
            tx_accounts: FastMap::default(),
            tx_records: FastMap::default(),
            events: Vec::new(),
            draw_weights: std::cell::OnceCell::new(),
        }
    }

    /// Makes room for about `txs` txs' account events at once. A block's events grow to
    /// hundreds of thousands; grown by doubling, the vector was copied again and again (about
    /// a tenth of executing a block of 20,000 receipt claims). Sized for the txs that change
    /// most accounts (a receipt claim: five); room never written costs address space, not
    /// memory. The maps are left to grow: an entry lands anywhere in a hash table, so room
    /// reserved in one is memory touched.
    pub fn reserve(&mut self, txs: usize) {
        self.events.reserve(txs.saturating_mul(5));
    }

    /// The account as written so far (a missing account is empty).
    pub fn account(&self, a: &Address) -> Result<Account, StateError> {
        if let Some(acc) = self.tx_accounts.get(a).or_else(|| self.accounts.get(a)) {
            return Ok(*acc);
        }
        self.committed(a)
    }

    /// The account before the tx at hand.
    fn committed(&self, a: &Address) -> Result<Account, StateError> {
        if let Some(acc) = self.accounts.get(a) {
            return Ok(*acc);
        }
        if let Some(acc) = self.loaded.borrow().get(a) {
            return Ok(*acc);
        }
        let acc = self.base.account(a)?.unwrap_or_default();
        self.loaded.borrow_mut().insert(*a, acc);
        Ok(acc)
    }

    pub fn set_account(&mut self, a: Address, acc: Account) {
        self.tx_accounts.insert(a, acc);
    }

    /// Reads and decodes a record as written so far.
    pub fn get<T: Decode>(&self, key: &StateKey) -> Result<Option<T>, StateError> {
        match self.tx_records.get(key).or_else(|| self.records.get(key)) {
            Some(Some(bytes)) => decode(key, bytes).map(Some),
            Some(None) => Ok(None),
            None => read(self.base, key),
        }
    }

    pub fn put<T: Encode>(&mut self, key: StateKey, value: &T) {
        self.tx_records.insert(key, Some(value.encode()));
    }

    /// Writes a record already encoded.
    pub fn put_encoded(&mut self, key: StateKey, bytes: Vec<u8>) {
        self.tx_records.insert(key, Some(bytes));
    }

    pub fn delete(&mut self, key: StateKey) {
        self.tx_records.insert(key, None);
    }

    /// Keeps what the tx at hand (or the hook step) wrote, recording its account changes as
    /// caused by `cause`.
    pub fn commit_tx(&mut self, cause: EventCause) -> Result<(), StateError> {
        let start = self.events.len();
        let written: Vec<(Address, Account)> = self.tx_accounts.drain().collect();
        for (address, after) in written {
            let before = self.committed(&address)?;
            if before != after {
                self.events.push(AccountEvent { address, cause, before, after });
            }
            self.accounts.insert(address, after);
        }
        if let Some(new) = self.events.get_mut(start..) {
            new.sort_unstable_by_key(|e| e.address);
        }
        self.records.extend(self.tx_records.drain());
        Ok(())
    }

    /// Drops what the tx at hand wrote.
    pub fn revert_tx(&mut self) {
        self.tx_accounts.clear();
        self.tx_records.clear();
    }

    /// Everything committed, sorted, with `supply` as the new counters, and the account
    /// events in commit order. Writes not committed are dropped.
    pub fn into_diff(self, supply: Supply) -> (StateDiff, Vec<AccountEvent>) {
        debug_assert!(self.tx_accounts.is_empty() && self.tx_records.is_empty(), "uncommitted writes");
        let mut accounts: Vec<(Address, Account)> = self.accounts.into_iter().collect();
        accounts.sort_unstable_by_key(|(a, _)| *a);
        let mut records: Vec<(StateKey, Option<Vec<u8>>)> = self.records.into_iter().collect();
        records.sort_unstable_by_key(|(k, _)| *k);
        (StateDiff { accounts, supply, records }, self.events)
    }
}

impl<R: StateReader> StateReader for Overlay<'_, R> {
    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StateError> {
        self.base.blob(hash)
    }

    /// Computed from the parent block's state once per block, whatever the block changes.
    fn draw_weights(&self, spec: &crate::chainspec::ChainSpec) -> Result<DrawWeights, StateError> {
        if let Some(w) = self.draw_weights.get() {
            return Ok(w.clone());
        }
        let w = self.base.draw_weights(spec)?;
        let _ = self.draw_weights.set(w.clone());
        Ok(w)
    }

    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        if let StateKey::Account(a) = key {
            return Ok(Some(Overlay::account(self, a)?.encode()));
        }
        match self.tx_records.get(key).or_else(|| self.records.get(key)) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }
}
