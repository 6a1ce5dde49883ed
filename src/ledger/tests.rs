//! Tests of the state transition: transfers, fees, rewards, failures, and the invariants
//! listed in the module docs (supply conservation, no negative balances, determinism),
//! property-tested over random blocks against a reference model.

use super::fees::priority_bps;
use super::tree::{apply_diff, prove_account, verify_account_proof};
use super::*;
use crate::chainspec::{ChainSpec, FeeSchedule, Genesis};
use crate::primitives::{Address, Hash, Keypair, Payload, Priority, SealedTx, SignedTx, Transfer, Tx};
use jmt::mock::MockTreeStore;
use jmt::storage::TreeWriter;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

mod beacon;
mod draw;
mod economy;
mod liveness;
mod trial;
mod verdict;

// ---------------------------------------------------------------------------------------------
// Test harness: an in-memory state plus a jmt mock store.
// ---------------------------------------------------------------------------------------------

const DEV_ACCOUNTS: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];
const DEV_BALANCE: u128 = 1_000_000_000_000_000;
const REWARD: u128 = 2_000_000_000;

/// The latest state, in memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct MemState {
    accounts: BTreeMap<Address, Account>,
    supply: Supply,
    records: BTreeMap<StateKey, Vec<u8>>,
    /// Job programs and inputs, for the referee.
    blobs: BTreeMap<Hash, Vec<u8>>,
}

impl StateReader for MemState {
    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.blobs.get(hash).cloned())
    }

    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        use parity_scale_codec::Encode;
        Ok(match key {
            StateKey::Account(a) => self.accounts.get(a).map(Encode::encode),
            StateKey::Supply => Some(self.supply.encode()),
            other => self.records.get(other).cloned(),
        })
    }
}

impl MemState {
    fn apply(&mut self, diff: &StateDiff) {
        for (a, acc) in &diff.accounts {
            self.accounts.insert(*a, *acc);
        }
        self.supply = diff.supply;
        for (k, v) in &diff.records {
            match v {
                Some(v) => self.records.insert(*k, v.clone()),
                None => self.records.remove(k),
            };
        }
    }

    fn acc(&self, a: &Address) -> Account {
        self.accounts.get(a).copied().unwrap_or_default()
    }

    fn total_holdings(&self) -> u128 {
        self.accounts.values().try_fold(0u128, |acc, a| acc.checked_add(a.holdings()?)).expect("holdings overflow")
    }
}

/// A chain in memory: state, state tree and height.
struct Chain {
    spec: ChainSpec,
    genesis: Genesis,
    state: MemState,
    tree: MockTreeStore,
    height: u64,
    roots: Vec<Hash>,
    /// Validators whose precommits the next blocks leave out (they are down).
    absent: Vec<crate::primitives::PublicKey>,
}

impl Chain {
    fn new(spec: ChainSpec) -> Chain {
        let genesis = spec.genesis().unwrap();
        let diff = StateDiff::genesis(&spec, &genesis).unwrap();
        let mut state = MemState::default();
        state.apply(&diff);
        let tree = MockTreeStore::default();
        let (root, batch) = apply_diff(&tree, &diff, 0).unwrap();
        tree.write_node_batch(&batch.node_batch).unwrap();
        Chain { spec, genesis, state, tree, height: 0, roots: vec![root], absent: Vec::new() }
    }

    /// The precommits a block at `height` carries for its parent: from every validator of
    /// the parent's set (dev keys) except the absent ones.
    fn last_commit(&self, height: u64) -> Option<crate::primitives::CommitCertificate> {
        let at = height.checked_sub(1).filter(|h| *h > 0)?;
        let set = validators::current(&self.state).unwrap();
        let mut cert = crate::primitives::CommitCertificate {
            height: at,
            round: 0,
            block_hash: block_hash(at),
            signatures: Vec::new(),
        };
        let msg = cert.vote(&self.spec.chain_id).signing_hash();
        let present = set.at(at).iter().filter(|(k, _)| !self.absent.contains(k));
        // The absent come back (in set order) if the others alone make no quorum: a chain
        // without a quorum makes no block at all.
        let absent = set.at(at).iter().filter(|(k, _)| self.absent.contains(k));
        let power = crate::consensus::ValidatorSet::from_stakes(set.at(at)).unwrap();
        for (k, _) in present {
            cert.signatures.push((*k, dev_key_of(k).sign(&msg)));
        }
        for (k, _) in absent {
            if power.has_quorum(cert.signatures.iter().map(|(s, _)| s)) {
                break;
            }
            cert.signatures.push((*k, dev_key_of(k).sign(&msg)));
        }
        Some(cert)
    }

    fn dev() -> Chain {
        Chain::new(ChainSpec::load("dev").unwrap())
    }

    fn executor(&self, proposer: Address) -> BlockExecutor<'_, MemState> {
        let h = self.height + 1;
        let commit = self.last_commit(h);
        let votes = BlockVotes { last_commit: commit.as_ref(), evidence: &[] };
        BlockExecutor::begin(&self.state, &self.spec, self.env(h, proposer), votes).unwrap()
    }

    /// The block at `height` on top of this state, proposed by `proposer` (a dev key) with its
    /// beacon reveal.
    fn env(&self, height: u64, proposer: Address) -> BlockEnv {
        // A dev key's own chain, or for any other address a key made up from it.
        let k = ["alice", "bob", "charlie", "dave", "eve", "ferdie"]
            .into_iter()
            .map(Keypair::dev)
            .find(|k| Address::from_public_key(&k.public()) == proposer)
            .unwrap_or_else(|| Keypair::from_secret(Hash::digest(b"test-proposer", &proposer.0).0));
        let secret = super::beacon::RevealSecret::new(&k, &self.spec.chain_id);
        let reveal = super::beacon::next_reveal(&self.state, &proposer, &secret).unwrap();
        BlockEnv { height, timestamp_ms: 0, proposer, parent: block_hash(height.saturating_sub(1)), reveal }
    }

    /// Writes `diff` as the next block; returns the new state root.
    fn commit(&mut self, diff: &StateDiff) -> Hash {
        let h = self.height + 1;
        assert_eq!(diff.supply.height, h);
        let (root, batch) = apply_diff(&self.tree, diff, h).unwrap();
        self.tree.write_node_batch(&batch.node_batch).unwrap();
        self.state.apply(diff);
        self.height = h;
        self.roots.push(root);
        root
    }

    /// Runs `txs` as the next block, expecting every one to be includable.
    /// Every block checks that its account history is complete.
    fn block(&mut self, proposer: Address, txs: &[SealedTx]) -> (Vec<TxOutcome>, StateDiff) {
        let mut exec = self.executor(proposer);
        let outcomes: Vec<TxOutcome> = txs.iter().map(|tx| exec.apply(tx).unwrap()).collect();
        let out = exec.finish().unwrap();
        economy::assert_history_complete(&self.state, &out);
        self.commit(&out.diff);
        (outcomes, out.diff)
    }
}

/// The stand-in hash of the test chain's block at `height`.
fn block_hash(height: u64) -> Hash {
    Hash::digest(b"test-block", &height.to_le_bytes())
}

fn key(name: &str) -> Keypair {
    Keypair::dev(name)
}

/// The dev key behind a validator key.
fn dev_key_of(k: &crate::primitives::PublicKey) -> Keypair {
    ["alice", "bob", "charlie", "dave", "eve", "ferdie"]
        .into_iter()
        .map(Keypair::dev)
        .find(|d| d.public() == *k)
        .expect("a dev validator")
}

fn addr(name: &str) -> Address {
    Address::from_public_key(&key(name).public())
}

fn fees(spec: &ChainSpec) -> &FeeSchedule {
    &spec.economy.fees
}

/// The minimum fee of `tx` as it would be signed (the fee field is fixed-width).
fn min_fee(spec: &ChainSpec, tx: &Tx) -> u128 {
    let size = tx.clone().sign(&Keypair::from_secret([0; 32])).size();
    super::fees::fee_for_size(fees(spec), &tx.payload, size, tx.priority).unwrap().total
}

fn unsigned(spec: &ChainSpec, from: &Keypair, nonce: u64, payload: Payload) -> Tx {
    Tx { chain_id: spec.chain_id.clone(), sender: from.public(), nonce, fee: 0, priority: Priority::Normal, payload }
}

/// A transfer paying exactly the minimum fee.
fn transfer(spec: &ChainSpec, from: &Keypair, to: Address, amount: u128, nonce: u64) -> SealedTx {
    let mut tx = unsigned(spec, from, nonce, Payload::Transfer(Transfer { to, amount }));
    tx.fee = min_fee(spec, &tx);
    tx.sign(from).into()
}

fn transfer_with_fee(spec: &ChainSpec, from: &Keypair, to: Address, amount: u128, nonce: u64, fee: u128) -> SealedTx {
    let mut tx = unsigned(spec, from, nonce, Payload::Transfer(Transfer { to, amount }));
    tx.fee = fee;
    tx.sign(from).into()
}

fn batch(spec: &ChainSpec, from: &Keypair, to: &[(Address, u128)], nonce: u64) -> SealedTx {
    let ts = to.iter().map(|(to, amount)| Transfer { to: *to, amount: *amount }).collect();
    let mut tx = unsigned(spec, from, nonce, Payload::Batch(ts));
    tx.fee = min_fee(spec, &tx);
    tx.sign(from).into()
}

// ---------------------------------------------------------------------------------------------
// Genesis
// ---------------------------------------------------------------------------------------------

#[test]
fn dev_genesis_holds_the_dev_accounts_faucet_and_stake() {
    let c = Chain::dev();
    let spec_addrs: Vec<Address> = c.spec.accounts.iter().map(|a| c.spec.parse_address(&a.address).unwrap()).collect();
    let dev_addrs: Vec<Address> = DEV_ACCOUNTS.iter().map(|n| addr(n)).collect();
    assert_eq!(spec_addrs, dev_addrs, "dev.json accounts are alice..ferdie in order");
    for a in &dev_addrs {
        assert_eq!(c.state.acc(a).balance, DEV_BALANCE);
        assert_eq!(c.state.acc(a).nonce, 0);
    }
    let alice = c.state.acc(&addr("alice"));
    assert_eq!(alice.staked, 10_000_000_000_000);
    assert_eq!(c.state.acc(&addr("faucet")).balance, 1_000_000_000_000_000_000);
    assert_eq!(c.state.acc(&c.genesis.treasury), Account::default(), "treasury starts empty");
    let want_total = 6 * DEV_BALANCE + 1_000_000_000_000_000_000 + 10_000_000_000_000;
    assert_eq!(c.state.supply, Supply { total: want_total, ..Supply::default() });
    assert_eq!(c.state.total_holdings(), want_total);
    // The genesis root is what jmt reports for version 0.
    assert_eq!(tree::root(&c.tree, 0).unwrap(), c.roots[0]);
    assert_ne!(c.roots[0], Hash::ZERO);
}

#[test]
fn genesis_diff_is_sorted_and_merges_balance_and_stake() {
    let spec = ChainSpec::load("dev").unwrap();
    let diff = StateDiff::genesis(&spec, &spec.genesis().unwrap()).unwrap();
    let addrs: Vec<Address> = diff.accounts.iter().map(|(a, _)| *a).collect();
    let mut sorted = addrs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(addrs, sorted);
    assert_eq!(addrs.len(), 7, "6 dev accounts + faucet; alice's stake merges into her account");
}

#[test]
fn genesis_supply_overflow_is_an_error() {
    let spec = ChainSpec::load("dev").unwrap();
    let mut g = spec.genesis().unwrap();
    g.balances.push((Address([7; 20]), u128::MAX));
    assert!(StateDiff::genesis(&spec, &g).is_err());
}

// ---------------------------------------------------------------------------------------------
// Transfers and fee split
// ---------------------------------------------------------------------------------------------

#[test]
fn transfer_moves_exactly_amount_and_splits_fee() {
    let mut c = Chain::dev();
    let treasury = c.genesis.treasury;
    let (bob, charlie, alice) = (addr("bob"), addr("charlie"), addr("alice"));
    // An odd fee so that the treasury's share rounds down: 12_345 * 2000 / 10000 = 2469.
    let fee = 12_345u128;
    let tx = transfer_with_fee(&c.spec, &key("bob"), charlie, 5_000_000, 1, fee);
    let before = c.state.clone();
    let (outcomes, diff) = c.block(alice, std::slice::from_ref(&tx));
    assert_eq!(outcomes, vec![TxOutcome { fee, result: Ok(()) }]);

    let treasury_cut = fee * u128::from(c.spec.economy.fees.treasury_share_bps) / 10_000;
    assert_eq!(treasury_cut, 2469);
    let b = c.state.acc(&bob);
    assert_eq!(b.balance, DEV_BALANCE - 5_000_000 - fee);
    assert_eq!(b.nonce, 1);
    assert_eq!(c.state.acc(&charlie).balance, DEV_BALANCE + 5_000_000);
    assert_eq!(c.state.acc(&charlie).nonce, 0);
    assert_eq!(c.state.acc(&treasury).balance, treasury_cut);
    let a = c.state.acc(&alice);
    assert_eq!(a.balance, DEV_BALANCE + (fee - treasury_cut) + REWARD);
    assert_eq!(a.staked, before.acc(&alice).staked);
    assert_eq!(
        c.state.supply,
        Supply {
            total: before.supply.total + REWARD,
            minted: REWARD,
            minted_reward: REWARD,
            height: 1,
            ..Supply::default()
        }
    );
    assert_eq!(c.state.total_holdings(), c.state.supply.total);

    // The diff lists exactly the touched accounts, in address order.
    let touched: Vec<Address> = diff.accounts.iter().map(|(a, _)| *a).collect();
    let mut want = vec![alice, bob, charlie, treasury];
    want.sort();
    assert_eq!(touched, want);
    // Nobody else changed.
    for name in ["dave", "eve", "ferdie", "faucet"] {
        assert_eq!(c.state.acc(&addr(name)), before.acc(&addr(name)), "{name}");
    }
}

#[test]
fn fees_accumulate_over_a_block_and_split_once() {
    let mut c = Chain::dev();
    let treasury = c.genesis.treasury;
    let eve = addr("eve");
    let txs = vec![
        transfer_with_fee(&c.spec, &key("bob"), eve, 1, 1, 4_000),
        transfer_with_fee(&c.spec, &key("bob"), eve, 1, 2, 4_001),
        transfer_with_fee(&c.spec, &key("dave"), eve, 1, 1, 5_003),
    ];
    let total_fees = 4_000 + 4_001 + 5_003;
    c.block(addr("ferdie"), &txs);
    // Split of the sum, not the sum of splits: 13004 * 0.2 = 2600.8 -> 2600.
    assert_eq!(c.state.acc(&treasury).balance, 2600);
    assert_eq!(c.state.acc(&addr("ferdie")).balance, DEV_BALANCE + total_fees - 2600 + REWARD);
    assert_eq!(c.state.acc(&eve).balance, DEV_BALANCE + 3);
    assert_eq!(c.state.acc(&addr("bob")).nonce, 2);
    assert_eq!(c.state.total_holdings(), c.state.supply.total);
}

#[test]
fn empty_block_pays_only_the_reward_and_bumps_height() {
    let mut c = Chain::dev();
    let before = c.state.clone();
    let (_, diff) = c.block(addr("bob"), &[]);
    assert_eq!(diff.accounts, vec![(addr("bob"), Account { balance: DEV_BALANCE + REWARD, ..Default::default() })]);
    assert_eq!(diff.supply.height, 1);
    assert_eq!(diff.supply.total, before.supply.total + REWARD);
    let r1 = c.roots[1];
    assert_ne!(r1, c.roots[0], "every height has its own root");
}

#[test]
fn proposer_may_be_the_treasury() {
    let mut c = Chain::dev();
    let treasury = c.genesis.treasury;
    let tx = transfer_with_fee(&c.spec, &key("bob"), addr("eve"), 10, 1, 10_000);
    c.block(treasury, &[tx]);
    assert_eq!(c.state.acc(&treasury).balance, 10_000 + REWARD);
    assert_eq!(c.state.total_holdings(), c.state.supply.total);
}

#[test]
fn transfer_to_self_only_costs_the_fee() {
    let mut c = Chain::dev();
    let bob = addr("bob");
    let tx = transfer(&c.spec, &key("bob"), bob, 123_456, 1);
    let (out, _) = c.block(addr("alice"), std::slice::from_ref(&tx));
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(c.state.acc(&bob), Account { balance: DEV_BALANCE - tx.tx.fee, nonce: 1, ..Default::default() });
}

#[test]
fn transfer_to_a_new_account_creates_it() {
    let mut c = Chain::dev();
    let fresh = Address([0xAB; 20]);
    c.block(addr("alice"), &[transfer(&c.spec, &key("bob"), fresh, 77, 1)]);
    assert_eq!(c.state.acc(&fresh), Account { balance: 77, ..Default::default() });
}

#[test]
fn transfer_can_spend_the_whole_balance() {
    let mut c = Chain::dev();
    let bob = addr("bob");
    let mut tx = unsigned(&c.spec, &key("bob"), 1, Payload::Transfer(Transfer { to: addr("eve"), amount: 0 }));
    tx.fee = 10_000;
    tx.payload = Payload::Transfer(Transfer { to: addr("eve"), amount: DEV_BALANCE - 10_000 });
    let (out, _) = c.block(addr("alice"), &[tx.sign(&key("bob")).into()]);
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(c.state.acc(&bob).balance, 0);
    assert_eq!(c.state.acc(&addr("eve")).balance, 2 * DEV_BALANCE - 10_000);
}

#[test]
fn staked_amounts_are_not_spendable() {
    let mut c = Chain::dev();
    let alice = addr("alice");
    let fee = 10_000;
    // Alice holds 1e15 spendable + 1e13 staked; spending 1e15 (after the fee) must fail.
    let tx = transfer_with_fee(&c.spec, &key("alice"), addr("bob"), DEV_BALANCE, 1, fee);
    let (out, _) = c.block(addr("ferdie"), &[tx]);
    assert_eq!(out[0].result, Err(TxFailure::InsufficientBalance { balance: DEV_BALANCE - fee, needed: DEV_BALANCE }));
    assert_eq!(c.state.acc(&alice).staked, 10_000_000_000_000);
    assert_eq!(c.state.acc(&alice).balance, DEV_BALANCE - fee);
}

// ---------------------------------------------------------------------------------------------
// Invalid txs change nothing
// ---------------------------------------------------------------------------------------------

/// Applies `tx` to a fresh executor; asserts it is rejected with `want` and that neither the
/// executor's view of any account nor the block's result changed.
fn assert_invalid(c: &Chain, tx: &SealedTx, want: TxInvalid) {
    let proposer = addr("alice");
    let mut exec = c.executor(proposer);
    let watched: Vec<Address> = DEV_ACCOUNTS
        .iter()
        .map(|n| addr(n))
        .chain([addr("faucet"), c.genesis.treasury, tx.tx.sender_address()])
        .collect();
    let before: Vec<Account> = watched.iter().map(|a| exec.account(a).unwrap()).collect();
    assert_eq!(exec.apply(tx), Err(want));
    assert_eq!(exec.txs_applied(), 0);
    let after: Vec<Account> = watched.iter().map(|a| exec.account(a).unwrap()).collect();
    assert_eq!(before, after);
    // The block is as if the tx had never been offered: only the reward moves.
    let diff = exec.finish().unwrap().diff;
    let empty = c.executor(proposer).finish().unwrap().diff;
    assert_eq!(diff, empty);
}

#[test]
fn wrong_nonce_is_invalid() {
    let c = Chain::dev();
    let to = addr("charlie");
    for nonce in [0, 2, 5, u64::MAX] {
        let tx = transfer(&c.spec, &key("bob"), to, 10, nonce);
        assert_invalid(&c, &tx, TxInvalid::Nonce { got: nonce, want: 1 });
    }
}

#[test]
fn replayed_nonce_in_the_same_block_is_invalid() {
    let c = Chain::dev();
    let tx = transfer(&c.spec, &key("bob"), addr("charlie"), 10, 1);
    let mut exec = c.executor(addr("alice"));
    exec.apply(&tx).unwrap();
    assert_eq!(exec.apply(&tx), Err(TxInvalid::Nonce { got: 1, want: 2 }));
    assert_eq!(exec.txs_applied(), 1);
    assert_eq!(exec.account(&addr("charlie")).unwrap().balance, DEV_BALANCE + 10);
}

#[test]
fn wrong_chain_id_is_invalid() {
    let c = Chain::dev();
    let from = key("bob");
    let mut tx = unsigned(&c.spec, &from, 1, Payload::Transfer(Transfer { to: addr("eve"), amount: 1 }));
    tx.chain_id = "ergon-local".into();
    tx.fee = 1_000_000;
    let tx = tx.sign(&from);
    assert_invalid(&c, &tx.into(), TxInvalid::ChainId { got: "ergon-local".into(), want: "ergon-dev".into() });
}

#[test]
fn fee_below_the_schedule_is_invalid() {
    let c = Chain::dev();
    let from = key("bob");
    let good = transfer(&c.spec, &from, addr("eve"), 1, 1);
    let required = good.tx.fee;
    let low = transfer_with_fee(&c.spec, &from, addr("eve"), 1, 1, required - 1);
    assert_invalid(&c, &low, TxInvalid::FeeTooLow { got: required - 1, required });
    let zero = transfer_with_fee(&c.spec, &from, addr("eve"), 1, 1, 0);
    assert_invalid(&c, &zero, TxInvalid::FeeTooLow { got: 0, required });
    // Exactly the required fee is enough.
    let mut exec = c.executor(addr("alice"));
    assert_eq!(exec.apply(&good).unwrap(), TxOutcome { fee: required, result: Ok(()) });
}

#[test]
fn priority_raises_the_required_fee() {
    let c = Chain::dev();
    let from = key("bob");
    let normal = transfer(&c.spec, &from, addr("eve"), 1, 1);
    let mut tx = normal.tx.clone();
    tx.priority = Priority::Urgent;
    let urgent_required = min_fee(&c.spec, &tx);
    assert_eq!(urgent_required, 2 * normal.tx.fee);
    let signed = tx.sign(&from);
    assert_invalid(&c, &signed.clone().into(), TxInvalid::FeeTooLow { got: normal.tx.fee, required: urgent_required });
}

#[test]
fn a_fee_the_sender_cannot_pay_is_invalid() {
    let c = Chain::dev();
    // An account that does not exist has balance 0.
    let nobody = Keypair::from_secret([9; 32]);
    let tx = transfer(&c.spec, &nobody, addr("eve"), 0, 1);
    assert_invalid(&c, &tx, TxInvalid::CannotPayFee { balance: 0, fee: tx.tx.fee });
    // A funded account offering more than it has.
    let tx = transfer_with_fee(&c.spec, &key("bob"), addr("eve"), 0, 1, DEV_BALANCE + 1);
    assert_invalid(&c, &tx, TxInvalid::CannotPayFee { balance: DEV_BALANCE, fee: DEV_BALANCE + 1 });
}

#[test]
fn batch_shape_is_checked() {
    let c = Chain::dev();
    let from = key("bob");
    let mut empty = unsigned(&c.spec, &from, 1, Payload::Batch(vec![]));
    empty.fee = 1_000_000;
    assert_invalid(&c, &empty.sign(&from).into(), TxInvalid::BatchSize { got: 0, limit: 256 });
    let many: Vec<Transfer> = (0..257).map(|_| Transfer { to: addr("eve"), amount: 1 }).collect();
    let mut big = unsigned(&c.spec, &from, 1, Payload::Batch(many));
    big.fee = 1_000_000_000;
    assert_invalid(&c, &big.sign(&from).into(), TxInvalid::BatchSize { got: 257, limit: 256 });
    // 256 is allowed.
    let max: Vec<(Address, u128)> = (0..256).map(|_| (addr("eve"), 1)).collect();
    let ok = batch(&c.spec, &from, &max, 1);
    assert_eq!(c.executor(addr("alice")).apply(&ok).unwrap().result, Ok(()));
}

#[test]
fn oversized_tx_is_invalid() {
    let mut c = Chain::dev();
    c.spec.limits.max_tx_bytes = 256;
    let from = key("bob");
    let to: Vec<(Address, u128)> = (0..20).map(|_| (addr("eve"), 1)).collect();
    let tx = batch(&c.spec, &from, &to, 1);
    let size = tx.size();
    assert!(size > 256);
    assert_invalid(&c, &tx, TxInvalid::TooLarge { size, limit: 256 });
}

#[test]
fn check_stateless_agrees_with_apply() {
    let c = Chain::dev();
    let tx = transfer(&c.spec, &key("bob"), addr("eve"), 1, 1);
    assert_eq!(check_stateless(&c.spec, &tx), Ok(()));
    let low = transfer_with_fee(&c.spec, &key("bob"), addr("eve"), 1, 1, 1);
    assert!(matches!(check_stateless(&c.spec, &low), Err(TxInvalid::FeeTooLow { .. })));
    // Stateless checks ignore the nonce.
    let far = transfer(&c.spec, &key("bob"), addr("eve"), 1, 99);
    assert_eq!(check_stateless(&c.spec, &far), Ok(()));
}

// ---------------------------------------------------------------------------------------------
// Failed txs: included, pay the fee, bump the nonce, nothing else
// ---------------------------------------------------------------------------------------------

#[test]
fn overspending_tx_is_included_as_failed() {
    let mut c = Chain::dev();
    let (dave, eve) = (addr("dave"), addr("eve"));
    let fee = 20_000;
    let amount = DEV_BALANCE; // balance after the fee is DEV_BALANCE - fee
    let tx = transfer_with_fee(&c.spec, &key("dave"), eve, amount, 1, fee);
    let before = c.state.clone();
    let (out, diff) = c.block(addr("alice"), std::slice::from_ref(&tx));
    assert_eq!(
        out,
        vec![TxOutcome {
            fee,
            result: Err(TxFailure::InsufficientBalance { balance: DEV_BALANCE - fee, needed: amount })
        }]
    );
    assert_eq!(c.state.acc(&dave), Account { balance: DEV_BALANCE - fee, nonce: 1, ..Default::default() });
    assert_eq!(c.state.acc(&eve), before.acc(&eve));
    assert!(!diff.accounts.iter().any(|(a, _)| *a == eve), "recipient untouched");
    // The fee is split as for any included tx.
    assert_eq!(c.state.acc(&c.genesis.treasury).balance, fee / 5);
    assert_eq!(c.state.acc(&addr("alice")).balance, DEV_BALANCE + fee - fee / 5 + REWARD);
    assert_eq!(c.state.total_holdings(), c.state.supply.total);
    // The next nonce works.
    let next = transfer(&c.spec, &key("dave"), eve, 5, 2);
    let (out, _) = c.block(addr("alice"), &[next]);
    assert_eq!(out[0].result, Ok(()));
}

#[test]
fn failed_tx_with_u128_max_amount_does_not_overflow() {
    let mut c = Chain::dev();
    let tx = transfer(&c.spec, &key("dave"), addr("eve"), u128::MAX, 1);
    let (out, _) = c.block(addr("alice"), std::slice::from_ref(&tx));
    assert!(matches!(out[0].result, Err(TxFailure::InsufficientBalance { needed: u128::MAX, .. })));
    assert_eq!(c.state.acc(&addr("dave")).nonce, 1);
}

#[test]
fn batch_is_all_or_nothing() {
    let mut c = Chain::dev();
    let (dave, eve, ferdie, bob) = (addr("dave"), addr("eve"), addr("ferdie"), addr("bob"));
    // Each transfer fits alone, the second one no longer fits after the first.
    let half = 600_000_000_000_000u128;
    let tx = batch(&c.spec, &key("dave"), &[(eve, half), (ferdie, half)], 1);
    let fee = tx.tx.fee;
    let before = c.state.clone();
    let (out, diff) = c.block(addr("alice"), std::slice::from_ref(&tx));
    assert_eq!(
        out[0].result,
        Err(TxFailure::InsufficientBalance { balance: DEV_BALANCE - fee, needed: 2 * half }),
        "needed reports the batch total"
    );
    assert_eq!(c.state.acc(&dave), Account { balance: DEV_BALANCE - fee, nonce: 1, ..Default::default() });
    assert_eq!(c.state.acc(&eve), before.acc(&eve), "first transfer rolled back");
    assert_eq!(c.state.acc(&ferdie), before.acc(&ferdie));
    assert!(diff.accounts.iter().all(|(a, _)| *a != eve && *a != ferdie));

    // A batch that fits moves every amount.
    let tx = batch(&c.spec, &key("dave"), &[(eve, 100), (ferdie, 200), (bob, 300), (eve, 4)], 2);
    let fee2 = tx.tx.fee;
    let (out, _) = c.block(addr("alice"), std::slice::from_ref(&tx));
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(c.state.acc(&dave).balance, DEV_BALANCE - fee - fee2 - 604);
    assert_eq!(c.state.acc(&eve).balance, DEV_BALANCE + 104);
    assert_eq!(c.state.acc(&ferdie).balance, DEV_BALANCE + 200);
    assert_eq!(c.state.acc(&bob).balance, DEV_BALANCE + 300);
    assert_eq!(c.state.total_holdings(), c.state.supply.total);
}

#[test]
fn batch_whose_total_overflows_fails_cleanly() {
    let mut c = Chain::dev();
    let eve = addr("eve");
    let tx = batch(&c.spec, &key("dave"), &[(eve, u128::MAX), (eve, u128::MAX)], 1);
    let before = c.state.acc(&eve);
    let (out, _) = c.block(addr("alice"), std::slice::from_ref(&tx));
    assert!(matches!(out[0].result, Err(TxFailure::InsufficientBalance { needed: u128::MAX, .. })));
    assert_eq!(c.state.acc(&eve), before);
}

#[test]
fn batch_through_the_sender_itself_is_sequential() {
    let mut c = Chain::dev();
    let (dave, eve) = (addr("dave"), addr("eve"));
    let tx0 = transfer(&c.spec, &key("dave"), eve, 0, 1);
    c.block(addr("alice"), &[tx0]);
    let bal = c.state.acc(&dave).balance;
    // Sending the whole balance to oneself, then part of it away, works in order.
    let fee = 100_000;
    let all = bal - fee;
    let ts = vec![Transfer { to: dave, amount: all }, Transfer { to: eve, amount: 1_000 }];
    let mut tx = unsigned(&c.spec, &key("dave"), 2, Payload::Batch(ts));
    tx.fee = fee;
    let (out, _) = c.block(addr("alice"), &[tx.sign(&key("dave")).into()]);
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(c.state.acc(&dave).balance, all - 1_000);
}

#[test]
fn a_failed_tx_then_a_good_one_in_the_same_block() {
    let mut c = Chain::dev();
    let (dave, eve) = (addr("dave"), addr("eve"));
    let bad = transfer(&c.spec, &key("dave"), eve, 2 * DEV_BALANCE, 1);
    let good = transfer(&c.spec, &key("dave"), eve, 1_000, 2);
    let (out, _) = c.block(addr("alice"), &[bad.clone(), good.clone()]);
    assert!(out[0].result.is_err());
    assert_eq!(out[1].result, Ok(()));
    assert_eq!(c.state.acc(&dave).balance, DEV_BALANCE - bad.tx.fee - good.tx.fee - 1_000);
    assert_eq!(c.state.acc(&dave).nonce, 2);
    assert_eq!(c.state.acc(&eve).balance, DEV_BALANCE + 1_000);
}

#[test]
fn recipient_overflow_is_a_failed_tx() {
    let mut c = Chain::dev();
    let whale = Address([0x99; 20]);
    c.state.accounts.insert(whale, Account { balance: u128::MAX - 5, ..Default::default() });
    let tx = transfer(&c.spec, &key("bob"), whale, 10, 1);
    let mut exec = c.executor(addr("alice"));
    let out = exec.apply(&tx).unwrap();
    assert_eq!(out, TxOutcome { fee: tx.tx.fee, result: Err(TxFailure::Overflow) });
    assert_eq!(exec.account(&whale).unwrap().balance, u128::MAX - 5);
    let bob = exec.account(&addr("bob")).unwrap();
    assert_eq!((bob.balance, bob.nonce), (DEV_BALANCE - tx.tx.fee, 1));
}

/// A reader that fails for one address, as a broken disk would.
struct FlakyState {
    inner: MemState,
    broken: Address,
}

impl StateReader for FlakyState {
    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
        if *key == StateKey::Account(self.broken) {
            return Err(StateError("read failed".into()));
        }
        self.inner.get(key)
    }
}

#[test]
fn a_state_error_on_the_sender_changes_nothing() {
    let c = Chain::dev();
    let bob = addr("bob");
    let flaky = FlakyState { inner: c.state.clone(), broken: bob };
    let mut exec = BlockExecutor::begin(&flaky, &c.spec, c.env(1, addr("alice")), BlockVotes::default()).unwrap();
    let tx = transfer(&c.spec, &key("bob"), addr("eve"), 1, 1);
    assert!(matches!(exec.apply(&tx), Err(TxInvalid::State(_))));
    assert_eq!(exec.txs_applied(), 0);
}

/// `apply` documents that `Err` means nothing changed, but a state read failing inside the
/// payload (here: reading the recipient) is returned as `Err(TxInvalid::State)` after the fee
/// was taken, the nonce bumped and `txs_applied` / the fee pot increased.
#[test]
fn a_state_error_on_the_recipient_changes_nothing() {
    let c = Chain::dev();
    let (bob, eve) = (addr("bob"), addr("eve"));
    let flaky = FlakyState { inner: c.state.clone(), broken: eve };
    let proposer = addr("alice");
    let mut exec = BlockExecutor::begin(&flaky, &c.spec, c.env(1, proposer), BlockVotes::default()).unwrap();
    let tx = transfer(&c.spec, &key("bob"), eve, 1, 1);
    assert!(matches!(exec.apply(&tx), Err(TxInvalid::State(_))));
    assert_eq!(exec.txs_applied(), 0);
    assert_eq!(exec.account(&bob).unwrap(), c.state.acc(&bob), "fee and nonce were kept for a rejected tx");
    let diff = exec.finish().unwrap();
    assert_eq!(diff, c.executor(proposer).finish().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Block reward
// ---------------------------------------------------------------------------------------------

#[test]
fn block_reward_halves_every_interval() {
    let spec = ChainSpec::load("dev").unwrap();
    let i = spec.economy.halving_interval;
    assert_eq!(i, 1_051_200);
    assert_eq!(block_reward(&spec, 0), 0, "genesis mints nothing");
    assert_eq!(block_reward(&spec, 1), REWARD);
    assert_eq!(block_reward(&spec, i), REWARD);
    assert_eq!(block_reward(&spec, i + 1), REWARD / 2);
    assert_eq!(block_reward(&spec, 2 * i), REWARD / 2);
    assert_eq!(block_reward(&spec, 2 * i + 1), REWARD / 4);
    assert_eq!(block_reward(&spec, 3 * i + 1), REWARD / 8);
    // 2e9 >> 30 = 1, >> 31 = 0.
    assert_eq!(block_reward(&spec, 30 * i + 1), 1);
    assert_eq!(block_reward(&spec, 31 * i + 1), 0);
    assert_eq!(block_reward(&spec, 128 * i + 1), 0, "shift of 128 or more is 0, not a panic");
    assert_eq!(block_reward(&spec, u64::MAX), 0);
}

#[test]
fn block_reward_with_a_tiny_interval() {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.economy.halving_interval = 1;
    assert_eq!(block_reward(&spec, 1), REWARD);
    assert_eq!(block_reward(&spec, 2), REWARD / 2);
    assert_eq!(block_reward(&spec, 3), REWARD / 4);
    spec.economy.block_reward = u128::MAX;
    assert_eq!(block_reward(&spec, 128), 1);
    assert_eq!(block_reward(&spec, 129), 0);
}

#[test]
fn minted_tracks_rewards_across_a_halving() {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.economy.halving_interval = 2;
    let mut c = Chain::new(spec);
    let genesis_total = c.state.supply.total;
    for _ in 0..5 {
        c.block(addr("alice"), &[]);
    }
    // Heights 1..=5: 2e9, 2e9, 1e9, 1e9, 5e8.
    let minted = 2 * REWARD + REWARD + REWARD / 4;
    assert_eq!(
        c.state.supply,
        Supply { total: genesis_total + minted, minted, minted_reward: minted, height: 5, ..Supply::default() }
    );
    assert_eq!(c.state.total_holdings(), c.state.supply.total);
}

// ---------------------------------------------------------------------------------------------
// Fee schedule (numbers from chainspec/dev.json)
// ---------------------------------------------------------------------------------------------

fn sized_transfer(spec: &ChainSpec, amount: u128, priority: Priority) -> SealedTx {
    let from = key("bob");
    let mut tx = unsigned(spec, &from, 1, Payload::Transfer(Transfer { to: addr("eve"), amount }));
    tx.priority = priority;
    tx.sign(&from).into()
}

#[test]
fn transfer_fee_by_hand() {
    let spec = ChainSpec::load("dev").unwrap();
    let f = fees(&spec);
    // chain id 1+9, sender 32, nonce 8, fee 16, priority 1, payload 1 + to 20 + compact(5) 1,
    // signature 64.
    let tx = sized_transfer(&spec, 5, Priority::Normal);
    assert_eq!(tx.size(), 153);
    let b = super::fees::fee_for_size(f, &tx.tx.payload, 153, Priority::Normal).unwrap();
    assert_eq!(
        b,
        FeeBreakdown {
            computation: 1000,
            storage: 1530,
            network: 765,
            size_bytes: 153,
            priority_multiplier_bps: 10_000,
            total: 3295
        }
    );
    // Per-priority multipliers: 0.8, 1.0, 1.5 (rounded up), 2.0.
    let total = |p| super::fees::fee_for_size(f, &tx.tx.payload, 153, p).unwrap().total;
    assert_eq!(total(Priority::Low), 2636);
    assert_eq!(total(Priority::Normal), 3295);
    assert_eq!(total(Priority::High), 4943, "4942.5 rounds up");
    assert_eq!(total(Priority::Urgent), 6590);
    assert_eq!(priority_bps(f, Priority::Low), 8000);
    assert_eq!(priority_bps(f, Priority::High), 15_000);
    // A larger amount encodes in more bytes: compact(1_000_000) is 4 bytes.
    let big = sized_transfer(&spec, 1_000_000, Priority::Normal);
    assert_eq!(big.size(), 156);
    assert_eq!(super::fees::fee_for_size(f, &big.tx.payload, 156, Priority::Normal).unwrap().total, 1000 + 156 * 15);
    // The fee field is fixed-width, so the size never depends on the fee.
    let mut t = tx.tx.clone();
    t.fee = u128::MAX;
    assert_eq!(t.sign(&key("bob")).size(), 153);
}

#[test]
fn batch_fee_by_hand() {
    let spec = ChainSpec::load("dev").unwrap();
    let f = fees(&spec);
    let eve = addr("eve");
    let payload = Payload::Batch(vec![
        Transfer { to: eve, amount: 1 },
        Transfer { to: eve, amount: 2 },
        Transfer { to: eve, amount: 3 },
    ]);
    let from = key("bob");
    let tx = unsigned(&spec, &from, 1, payload.clone()).sign(&from);
    // 10 + 32 + 8 + 16 + 1 + (1 variant + 1 length + 3 x 21) + 64.
    assert_eq!(tx.size(), 196);
    let b = super::fees::fee_for_size(f, &payload, 196, Priority::Normal).unwrap();
    // 3 x 1000 with a 20% discount = 2400; 1960 storage; 980 network.
    assert_eq!((b.computation, b.storage, b.network, b.total), (2400, 1960, 980, 5340));
    assert_eq!(super::fees::fee_for_size(f, &payload, 196, Priority::Low).unwrap().total, 4272);
    assert_eq!(super::fees::fee_for_size(f, &payload, 196, Priority::High).unwrap().total, 8010);
    assert_eq!(super::fees::fee_for_size(f, &payload, 196, Priority::Urgent).unwrap().total, 10_680);
    // Per transfer, a batch is cheaper than separate transfers (3 x 3295 = 9885).
    assert!(b.total < 3 * 3295);
}

#[test]
fn fee_rounding_is_up() {
    let spec = ChainSpec::load("dev").unwrap();
    let mut f = fees(&spec).clone();
    f.batch_per_transfer = 333;
    f.storage_per_byte = 0;
    f.network_per_byte = 0;
    let one = Payload::Batch(vec![Transfer { to: Address([1; 20]), amount: 1 }]);
    // 333 x 0.8 = 266.4 -> 267.
    assert_eq!(super::fees::fee_for_size(&f, &one, 100, Priority::Normal).unwrap().computation, 267);
    // 267 x 0.8 = 213.6 -> 214.
    assert_eq!(super::fees::fee_for_size(&f, &one, 100, Priority::Low).unwrap().total, 214);
    // A full discount makes computation free; no discount charges the gross.
    f.batch_discount_bps = 10_000;
    assert_eq!(super::fees::fee_for_size(&f, &one, 100, Priority::Normal).unwrap().total, 0);
    f.batch_discount_bps = 0;
    assert_eq!(super::fees::fee_for_size(&f, &one, 100, Priority::Normal).unwrap().total, 333);
    // A discount over 100% is rejected by the spec check; here it is `None`, not a panic.
    f.batch_discount_bps = 10_001;
    assert_eq!(super::fees::fee_for_size(&f, &one, 100, Priority::Normal), None);
}

#[test]
fn fee_overflow_is_none_and_check_stateless_rejects() {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.economy.fees.storage_per_byte = u128::MAX / 10;
    let tx = sized_transfer(&spec, 1, Priority::Normal);
    assert_eq!(super::fees::fee_for_size(fees(&spec), &tx.tx.payload, tx.size(), Priority::Normal), None);
    let mut t = tx.tx.clone();
    t.fee = u128::MAX - 1;
    let signed = t.sign(&key("bob")).into();
    assert_eq!(check_stateless(&spec, &signed), Err(TxInvalid::FeeTooLow { got: u128::MAX - 1, required: u128::MAX }));
}

// ---------------------------------------------------------------------------------------------
// State tree
// ---------------------------------------------------------------------------------------------

#[test]
fn tree_values_and_proofs_follow_the_state() {
    let mut c = Chain::dev();
    let (bob, eve) = (addr("bob"), addr("eve"));
    c.block(addr("alice"), &[transfer(&c.spec, &key("bob"), eve, 42, 1)]);
    c.block(addr("alice"), &[]);
    for version in 0..=2u64 {
        let root = c.roots[version as usize];
        assert_eq!(tree::root(&c.tree, version).unwrap(), root);
        for a in [bob, eve, addr("alice"), c.genesis.treasury, Address([0x55; 20])] {
            let (acc, proof) = prove_account(&c.tree, &a, version).unwrap();
            verify_account_proof(root, &a, acc.as_ref(), &proof).unwrap();
            if let Some(acc) = acc {
                let mut bad = acc;
                bad.balance ^= 1;
                assert!(verify_account_proof(root, &a, Some(&bad), &proof).is_err());
                assert!(verify_account_proof(root, &a, None, &proof).is_err());
            } else {
                assert!(verify_account_proof(root, &a, Some(&Account::default()), &proof).is_err());
            }
        }
    }
    // Versions are historical: bob at version 0 is the genesis account, at 1 it paid.
    assert_eq!(prove_account(&c.tree, &bob, 0).unwrap().0.unwrap().balance, DEV_BALANCE);
    assert_eq!(prove_account(&c.tree, &bob, 2).unwrap().0.unwrap(), c.state.acc(&bob));
    assert_eq!(prove_account(&c.tree, &c.genesis.treasury, 0).unwrap().0, None);
    // The supply is in the tree too.
    let jmt_tree = jmt::JellyfishMerkleTree::<_, tree::Blake3>::new(&c.tree);
    let supply = jmt_tree.get(tree::supply_key(), tree::version_of(2)).unwrap().unwrap();
    assert_eq!(tree::decode_supply(&supply).unwrap(), c.state.supply);
}

#[test]
fn state_keys_are_distinct() {
    let a = tree::account_key(&Address([1; 20]));
    let b = tree::account_key(&Address([2; 20]));
    assert_ne!(a, b);
    assert_ne!(a, tree::supply_key());
    assert!(tree::decode_supply(&[1, 2, 3]).is_err());
}

// ---------------------------------------------------------------------------------------------
// Property tests
// ---------------------------------------------------------------------------------------------

/// Senders: the 6 dev accounts, the faucet, and an unfunded key.
fn sender_key(i: usize) -> Keypair {
    match i {
        0..=5 => key(DEV_ACCOUNTS[i]),
        6 => key("faucet"),
        _ => Keypair::from_secret([0x42; 32]),
    }
}

/// Recipients and proposers: the senders, the treasury, and a fresh address.
fn target(i: usize, treasury: Address) -> Address {
    match i {
        0..=7 => Address::from_public_key(&sender_key(i).public()),
        8 => treasury,
        _ => Address([0xEE; 20]),
    }
}

#[derive(Debug, Clone)]
enum FeeChoice {
    Exact,
    Extra(u128),
    TooLow,
    /// More than the sender holds.
    Unpayable,
}

#[derive(Debug, Clone)]
struct Op {
    sender: usize,
    transfers: Vec<(usize, u128)>,
    is_batch: bool,
    nonce_offset: i8,
    fee: FeeChoice,
    priority: Priority,
    wrong_chain: bool,
}

fn arb_amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        4 => 0u128..1_000,
        4 => 0u128..2 * DEV_BALANCE,
        1 => Just(DEV_BALANCE),
        1 => Just(u128::MAX),
        1 => any::<u128>(),
    ]
}

fn arb_op() -> impl Strategy<Value = Op> {
    let fee = prop_oneof![
        6 => Just(FeeChoice::Exact),
        6 => (0u128..100_000).prop_map(FeeChoice::Extra),
        1 => Just(FeeChoice::TooLow),
        1 => Just(FeeChoice::Unpayable),
    ];
    let nonce_offset = prop_oneof![12 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8), 1 => Just(5i8)];
    let priority =
        prop_oneof![Just(Priority::Low), Just(Priority::Normal), Just(Priority::High), Just(Priority::Urgent)];
    (
        prop_oneof![8 => 0usize..7, 1 => Just(7usize)],
        prop_oneof![1 => Just(vec![]), 12 => prop::collection::vec((0usize..10, arb_amount()), 1..5)],
        any::<bool>(),
        nonce_offset,
        fee,
        priority,
        prop::bool::weighted(0.05),
    )
        .prop_map(|(sender, transfers, is_batch, nonce_offset, fee, priority, wrong_chain)| Op {
            sender,
            transfers,
            is_batch,
            nonce_offset,
            fee,
            priority,
            wrong_chain,
        })
}

/// Builds the signed tx for `op` given the sender's current nonce and balance.
fn build_tx(spec: &ChainSpec, op: &Op, treasury: Address, acc: Account) -> SealedTx {
    let from = sender_key(op.sender);
    let ts: Vec<Transfer> =
        op.transfers.iter().map(|(t, a)| Transfer { to: target(*t, treasury), amount: *a }).collect();
    let payload = if op.is_batch || ts.is_empty() { Payload::Batch(ts) } else { Payload::Transfer(ts[0].clone()) };
    let next = acc.nonce + 1;
    let nonce = match op.nonce_offset {
        -1 => next - 1,
        o => next + o as u64,
    };
    let mut tx = unsigned(spec, &from, nonce, payload);
    tx.priority = op.priority;
    if op.wrong_chain {
        tx.chain_id = "other-chain".into();
    }
    let size = tx.clone().sign(&from).size();
    let required = super::fees::fee_for_size(fees(spec), &tx.payload, size, tx.priority).unwrap().total;
    tx.fee = match op.fee {
        FeeChoice::Exact => required,
        FeeChoice::Extra(x) => required + x,
        FeeChoice::TooLow => required.saturating_sub(1),
        FeeChoice::Unpayable => acc.balance.saturating_add(1).max(required),
    };
    tx.sign(&from).into()
}

/// The reference semantics of one tx on a plain map, written independently of the executor.
/// Returns `None` if the tx is invalid (the model is then unchanged).
fn model_apply(spec: &ChainSpec, model: &mut BTreeMap<Address, Account>, tx: &SignedTx) -> Option<(u128, bool)> {
    let t = &tx.tx;
    if t.chain_id != spec.chain_id {
        return None;
    }
    if let Payload::Batch(ts) = &t.payload {
        if ts.is_empty() || ts.len() > spec.limits.max_batch_transfers as usize {
            return None;
        }
    }
    let required = super::fees::fee_for_size(fees(spec), &t.payload, tx.size(), t.priority)?.total;
    if t.fee < required {
        return None;
    }
    let sender = t.sender_address();
    let mut from = model.get(&sender).copied().unwrap_or_default();
    if t.nonce != from.nonce + 1 || from.balance < t.fee {
        return None;
    }
    from.balance -= t.fee;
    from.nonce += 1;
    model.insert(sender, from);
    let transfers = match &t.payload {
        Payload::Transfer(x) => vec![x.clone()],
        Payload::Batch(ts) => ts.clone(),
        other => panic!("the transfer model only builds transfers, got {}", other.kind()),
    };
    let mut scratch = model.clone();
    for x in &transfers {
        let f = scratch.entry(sender).or_default();
        if f.balance < x.amount {
            return Some((t.fee, false));
        }
        f.balance -= x.amount;
        let to = scratch.entry(x.to).or_default();
        match to.balance.checked_add(x.amount) {
            Some(b) => to.balance = b,
            None => return Some((t.fee, false)),
        }
    }
    *model = scratch;
    Some((t.fee, true))
}

/// Everything one run produced: per block, the txs included, the diff and the root.
type Run = Vec<(Vec<SealedTx>, Address, StateDiff, Hash)>;

fn run_blocks(spec: &ChainSpec, blocks: &[(usize, Vec<Op>)]) -> Result<Run, TestCaseError> {
    let mut c = Chain::new(spec.clone());
    let treasury = c.genesis.treasury;
    let genesis_total = c.state.supply.total;
    let mut model = c.state.accounts.clone();
    let mut minted = 0u128;
    let mut run = Vec::new();
    for (proposer_ix, ops) in blocks {
        let proposer = target(*proposer_ix, treasury);
        let mut exec = c.executor(proposer);
        let mut included = Vec::new();
        let mut block_fees = 0u128;
        for op in ops {
            let sender = Address::from_public_key(&sender_key(op.sender).public());
            let acc = exec.account(&sender).unwrap();
            let tx = build_tx(spec, op, treasury, acc);
            let expect = model_apply(spec, &mut model, &tx);
            let got = exec.apply(&tx);
            match (expect, got) {
                (None, Err(_)) => {
                    prop_assert_eq!(exec.account(&sender).unwrap(), acc, "rejected tx changed its sender");
                }
                (Some((fee, ok)), Ok(outcome)) => {
                    prop_assert_eq!(outcome.fee, fee);
                    prop_assert_eq!(outcome.result.is_ok(), ok, "{:?}", outcome);
                    let after = exec.account(&sender).unwrap();
                    prop_assert_eq!(after.nonce, acc.nonce + 1);
                    if !ok {
                        prop_assert_eq!(after.balance, acc.balance - fee, "failed tx only pays its fee");
                    }
                    block_fees += fee;
                    included.push(tx);
                }
                (e, g) => prop_assert!(false, "model {:?} vs executor {:?} for {:?}", e, g, tx),
            }
            // Every account the executor sees agrees with the model, mid-block too.
            for i in 0..10 {
                let a = target(i, treasury);
                prop_assert_eq!(exec.account(&a).unwrap(), model.get(&a).copied().unwrap_or_default());
            }
        }
        prop_assert_eq!(exec.txs_applied(), included.len());
        let built = exec.finish().unwrap();
        prop_assert_eq!(built.outcomes.len(), included.len());
        prop_assert_eq!(built.receipts_root, receipts_root(&built.outcomes));

        // The importer's path (apply_block over the built block) gives exactly what the
        // builder got, and so does running it again: the transition is deterministic.
        for _ in 0..2 {
            let imported = apply_block(
                &c.state,
                spec,
                c.env(c.height + 1, proposer),
                BlockVotes { last_commit: c.last_commit(c.height + 1).as_ref(), evidence: &[] },
                &included,
            )
            .unwrap();
            prop_assert_eq!(&imported, &built);
        }
        let diff = built.diff;
        let height = c.height + 1;
        let (r1, _) = apply_diff(&c.tree, &diff, height).unwrap();
        let (r2, _) = apply_diff(&c.tree, &diff, height).unwrap();
        prop_assert_eq!(r1, r2);

        // Model: reward and fee split.
        let reward = block_reward(spec, height);
        minted += reward;
        let cut = block_fees * u128::from(fees(spec).treasury_share_bps) / 10_000;
        model.entry(proposer).or_default().balance += block_fees - cut + reward;
        model.entry(treasury).or_default().balance += cut;

        // The diff is sorted and without duplicates.
        let addrs: Vec<Address> = diff.accounts.iter().map(|(a, _)| *a).collect();
        let set: BTreeSet<Address> = addrs.iter().copied().collect();
        prop_assert_eq!(set.iter().copied().collect::<Vec<_>>(), addrs);

        let root = c.commit(&diff);
        prop_assert_eq!(root, r1);
        // Empty accounts are the same as absent ones.
        let nonempty = |m: &BTreeMap<Address, Account>| -> BTreeMap<Address, Account> {
            m.iter().filter(|(_, v)| **v != Account::default()).map(|(a, v)| (*a, *v)).collect()
        };
        prop_assert_eq!(nonempty(&c.state.accounts), nonempty(&model));

        // (a) supply is conserved; (b) holdings never overflow (total_holdings checks).
        let s = c.state.supply;
        prop_assert_eq!(c.state.total_holdings(), s.total);
        prop_assert_eq!(s.minted, minted);
        prop_assert_eq!(s.total, genesis_total + minted);
        prop_assert_eq!(s.height, height);
        run.push((included, proposer, diff, root));
    }
    // The tree holds exactly the state.
    for i in 0..10 {
        let a = target(i, treasury);
        let (acc, proof) = prove_account(&c.tree, &a, c.height).unwrap();
        prop_assert_eq!(acc, c.state.accounts.get(&a).copied());
        prop_assert!(verify_account_proof(*c.roots.last().unwrap(), &a, acc.as_ref(), &proof).is_ok());
    }
    Ok(run)
}

/// Replays recorded blocks on a fresh chain; every tx must apply and every diff and root match.
fn replay(spec: &ChainSpec, run: &Run) -> Result<(), TestCaseError> {
    let mut c = Chain::new(spec.clone());
    for (txs, proposer, diff, root) in run {
        let mut exec = c.executor(*proposer);
        for tx in txs {
            prop_assert!(exec.apply(tx).is_ok());
        }
        let d = exec.finish().unwrap().diff;
        prop_assert_eq!(&d, diff);
        prop_assert_eq!(c.commit(&d), *root);
    }
    Ok(())
}

fn arb_blocks() -> impl Strategy<Value = (u64, Vec<(usize, Vec<Op>)>)> {
    (
        prop_oneof![Just(1u64), Just(2u64), Just(1_051_200u64)],
        prop::collection::vec((0usize..10, prop::collection::vec(arb_op(), 0..8)), 1..5),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_blocks_conserve_supply_and_are_deterministic((halving, blocks) in arb_blocks()) {
        let mut spec = ChainSpec::load("dev").unwrap();
        spec.economy.halving_interval = halving;
        let run = run_blocks(&spec, &blocks)?;
        replay(&spec, &run)?;
    }

    #[test]
    fn fee_is_monotonic_in_size_and_priority(
        n in 1usize..300,
        size in 0usize..100_000,
        extra in 1usize..1000,
    ) {
        let spec = ChainSpec::load("dev").unwrap();
        let f = fees(&spec);
        let p = Payload::Batch(vec![Transfer { to: Address([1; 20]), amount: 1 }; n]);
        let base = super::fees::fee_for_size(f, &p, size, Priority::Normal).unwrap();
        prop_assert!(super::fees::fee_for_size(f, &p, size + extra, Priority::Normal).unwrap().total >= base.total);
        let lo = super::fees::fee_for_size(f, &p, size, Priority::Low).unwrap().total;
        let hi = super::fees::fee_for_size(f, &p, size, Priority::High).unwrap().total;
        let ur = super::fees::fee_for_size(f, &p, size, Priority::Urgent).unwrap().total;
        prop_assert!(lo <= base.total && base.total <= hi && hi <= ur);
        // total = ceil((computation + storage + network) * mult / 10000)
        let sum = base.computation + base.storage + base.network;
        prop_assert_eq!(base.total, sum);
        prop_assert_eq!(base.computation, (1000 * n as u128 * 8000).div_ceil(10_000));
    }
}

/// The state tree's two-step write (batch insert, then deletes) gives the same roots, block
/// after block, as inserting and deleting key by key (jmt's `put_value_set`), with keys new,
/// updated, deleted and untouched; and the store of the first keeps no node the second step
/// replaced.
#[test]
fn batch_tree_insert_matches_key_by_key() {
    let (batched, one_by_one) = (MockTreeStore::default(), MockTreeStore::default());
    let addr =
        |i: u64| Address::from_public_key(&Keypair::from_secret(Hash::digest(b"t", &i.to_le_bytes()).0).public());
    let record = |i: u64| StateKey::Receipt(Hash::digest(b"r", &i.to_le_bytes()));
    for height in 0..6u64 {
        // 300 accounts at first, then every third of a growing range changes.
        let ids: Vec<u64> = if height == 0 { (0..300).collect() } else { (0..300 + 50 * height).step_by(3).collect() };
        let accounts =
            ids.iter().map(|i| (addr(*i), Account { balance: u128::from(i + height), ..Account::default() }));
        // Records: 100 new ones per block; from the second block on, half of the last block's
        // are deleted (and one key that never existed).
        let mut records: Vec<(StateKey, Option<Vec<u8>>)> =
            (0..100).map(|i| (record(height * 100 + i), Some(vec![height as u8; 1 + i as usize % 7]))).collect();
        if height > 0 {
            records.extend((0..100).step_by(2).map(|i| (record((height - 1) * 100 + i), None)));
            records.push((record(1_000_000), None));
        }
        records.sort_by_key(|(k, _)| *k);
        let diff = StateDiff {
            accounts: accounts.collect(),
            supply: Supply { total: 7, minted: height.into(), height, ..Supply::default() },
            records,
        };
        let (root, batch) = apply_diff(&batched, &diff, height).unwrap();
        batched.write_node_batch(&batch.node_batch).unwrap();
        assert_eq!(super::tree::root(&batched, height).unwrap(), root);
        let tree = jmt::JellyfishMerkleTree::<_, super::tree::Blake3>::new(&one_by_one);
        let values = diff
            .accounts
            .iter()
            .map(|(a, acc)| (super::tree::account_key(a), Some(parity_scale_codec::Encode::encode(acc))))
            .chain(std::iter::once((super::tree::supply_key(), Some(parity_scale_codec::Encode::encode(&diff.supply)))))
            .chain(diff.records.iter().map(|(k, v)| (super::tree::tree_key(k), v.clone())));
        let (want, batch) = tree.put_value_set(values, height).unwrap();
        one_by_one.write_node_batch(&batch.node_batch).unwrap();
        assert_eq!(root, Hash(want.0), "height {height}");
        // A deleted record is absent at this height and present at the one before.
        if height > 0 {
            let jmt_tree = jmt::JellyfishMerkleTree::<_, super::tree::Blake3>::new(&batched);
            let gone = super::tree::tree_key(&record((height - 1) * 100));
            assert_eq!(jmt_tree.get(gone, super::tree::version_of(height)).unwrap(), None);
            assert!(jmt_tree.get(gone, super::tree::version_of(height - 1)).unwrap().is_some());
        }
    }
}

/// A block whose first tx fails keeps what its begin hook wrote: the parent's precommits
/// counted and the beacon. The hook's writes sat on the overlay's tx level, and the failed
/// tx's revert took them along (found by the `ledger_blocks` fuzz target): a proposer that
/// tried an invalid tx first and an importer that never saw it then disagreed.
#[test]
fn a_failing_first_tx_keeps_the_begin_hooks_records() {
    let mut c = Chain::dev();
    c.block(addr("alice"), &[]);
    let alice = addr("alice");
    let before = super::liveness::read(&c.state, &alice).unwrap();
    let cancel = crate::primitives::JobCancel { job_id: Hash([9; 32]) };
    let fails = economy::signed(&c.spec, &key("bob"), 1, Payload::JobCancel(cancel));
    let (outcomes, _) = c.block(alice, &[fails]);
    assert!(outcomes[0].result.is_err(), "{outcomes:?}");
    let after = super::liveness::read(&c.state, &alice).unwrap();
    assert_eq!(after.expected_total, before.expected_total + 1, "alice's precommit of block 1 was counted");
    assert_eq!(after.signed_total, before.signed_total + 1);
    assert!(super::beacon::at(&c.state, 2).unwrap().is_some(), "block 2's beacon is kept");
}

/// A transfer's history: the sender's debit (amount and fee) and the recipient's credit are
/// the tx's events; the proposer's and treasury's cuts are the end hook's.
#[test]
fn history_names_the_tx_and_the_hook() {
    use crate::ledger::EventCause;
    let c = Chain::dev();
    let (alice, bob) = (key("alice"), addr("bob"));
    let tx = transfer(&c.spec, &alice, bob, 500, 1);
    let fee = tx.tx.fee;
    let proposer = addr("charlie");
    let mut exec = c.executor(proposer);
    exec.apply(&tx).unwrap();
    let out = exec.finish().unwrap();
    let ev: Vec<(Address, EventCause, i128)> =
        out.events.iter().map(|e| (e.address, e.cause, e.after.balance as i128 - e.before.balance as i128)).collect();
    let treasury_cut = fee * u128::from(fees(&c.spec).treasury_share_bps) / 10_000;
    let mut want = vec![
        (addr("alice"), EventCause::Tx(0), -(500 + fee as i128)),
        (bob, EventCause::Tx(0), 500),
        (proposer, EventCause::BlockReward, (REWARD + fee - treasury_cut) as i128),
        (c.genesis.treasury, EventCause::BlockReward, treasury_cut as i128),
    ];
    let mut got = ev.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn a_height_queue_keeps_its_entries_in_pages_and_taking_it_deletes_every_page() {
    use super::queue::{self, Queue, PAGE};
    use crate::ledger::EventCause;
    let ids: Vec<Hash> = (0..PAGE * 2 + 5).map(|i| Hash::digest(b"queued", &i.to_le_bytes())).collect();
    let mut state = MemState::default();
    // Pushed over two blocks, so that a page is continued from the stored state.
    for part in [&ids[..50], &ids[50..]] {
        let mut o = Overlay::new(&state);
        for id in part {
            queue::push(&mut o, Queue::Maturing, 9, id).unwrap();
        }
        o.commit_tx(EventCause::Tx(0)).unwrap();
        let (diff, _) = o.into_diff(state.supply);
        state.apply(&diff);
    }
    assert_eq!(state.records.len(), 4, "the count and three pages, not one record per entry");
    // Pages are appended to as encoded: the bytes must be those of the pages encoded whole.
    use parity_scale_codec::Encode;
    let mut pages: Vec<Vec<u8>> = state.records.values().filter(|v| v.len() > 4).cloned().collect();
    let mut want: Vec<Vec<u8>> = ids.chunks(PAGE as usize).map(|c| c.to_vec().encode()).collect();
    pages.sort();
    want.sort();
    assert_eq!(pages, want, "each page encodes as its entries would");
    let mut o = Overlay::new(&state);
    assert!(queue::take::<Hash, _>(&mut o, Queue::Maturing, 8).unwrap().is_empty(), "another height");
    assert_eq!(queue::take::<Hash, _>(&mut o, Queue::Maturing, 9).unwrap(), ids, "every entry, in order");
    o.commit_tx(EventCause::Tx(0)).unwrap();
    let (diff, _) = o.into_diff(state.supply);
    state.apply(&diff);
    assert!(state.records.is_empty(), "the count and every page are deleted");
}
