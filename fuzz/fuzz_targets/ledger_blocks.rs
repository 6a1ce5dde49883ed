//! Structure-aware: the fuzz input is a short chain of blocks of txs of every payload kind
//! (and, now and then, a validator's equivocation and validators that stop signing), from a
//! handful of keys, with amounts, nonces, ids and fees drawn from small ranges so that most
//! txs are valid and some are not. Each block is built the way the node's builder builds it
//! (`BlockExecutor`, leaving out txs that cannot be in the block) and imported the way the
//! importer imports it (`apply_block`) over an in-memory state, as the ledger's property
//! tests do (src/ledger/tests.rs). After every block:
//! - supply is conserved exactly: the sum of every account's buckets is `Supply::total`,
//!   `total = genesis + minted - burned`, `minted = reward + compute + trial`, and the reward
//!   minted is the block rewards of the heights so far;
//! - the transition is deterministic: builder and importer (and the importer again, every
//!   fourth block) give the same diff, outcomes, receipts root and account history; the
//!   receipts root commits to the outcomes; the account history chains from the parent state
//!   to the diff;
//! - a tx refused from a block changes nothing; a failed one only pays its fee and bumps its
//!   nonce; admission's dry run (`check_payload`) predicts what the tx does;
//! - escrow is exactly the prices of the open jobs; a receipt id pays once; compute is minted
//!   only by receipts that stand; a receipt that tells the truth is never invalidated;
//! - every validator of the parent's set has the parent's precommit counted (signed or
//!   missed), and the validator set in force is one consensus can verify commits against;
//! - nothing panics (overflow checks are on).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use ergon::chainspec::{ChainSpec, UPDATABLE_PARAMS};
use ergon::consensus::ValidatorSet;
use ergon::ledger::beacon::{self, RevealChain, RevealSecret};
use ergon::ledger::draw::{self, Draw};
use ergon::ledger::liveness::{self, Liveness};
use ergon::ledger::payload::job::{Job, JobStatus};
use ergon::ledger::payload::receipt::{ReceiptRecord, ReceiptStatus};
use ergon::ledger::payload::{params, trial};
use ergon::ledger::{
    apply_block, block_reward, read, receipts_root, validators, Account, BlockEnv, BlockError, BlockExecutor,
    BlockOutcome, BlockVotes, EventCause, StateDiff, StateError, StateKey, StateReader, Supply,
};
use ergon::primitives::{
    Address, CommitCertificate, ComputeReceipt, Delegation, Evidence, FraudProof, Hash, JobCancel, JobPost, Keypair,
    ParamUpdate, Payload, PowSearch, Priority, PublicKey, ReceiptClaim, SealedTx, Signature, SignedTx, SignedVote,
    StakeAmount, Transfer, TrialClaim, Tx, VerifierVerdict, Vote, VoteKind,
};
use libfuzzer_sys::fuzz_target;
use parity_scale_codec::Encode;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

/// At most this many blocks with txs per input, txs per block, and empty blocks after each.
const MAX_BLOCKS: usize = 16;
const MAX_OPS: usize = 24;
const MAX_IDLE: u8 = 3;
/// Keys 0..6 are the dev accounts (alice is the genesis validator and the authority; all six
/// are funded); 6..9 are fresh keys that start with nothing and may take trial credits.
const DEV: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];
const KEYS: usize = 9;
/// Receipt ids are drawn from this many values, so replays and challenges find their target.
const RECEIPT_IDS: u8 = 8;

// ---------------------------------------------------------------------------------------------
// The fuzz input
// ---------------------------------------------------------------------------------------------

/// Read by hand rather than derived: a derived `Vec` reads a continue-bit before every
/// element, so random bytes would make one or two blocks of one or two txs. Here a block's
/// tx count is one byte (0..=MAX_OPS) and blocks follow until the bytes run out.
#[derive(Debug)]
struct Input {
    /// Bits 0-1: the miner-draw window, 0 (any staked miner may claim) or 1..=3 blocks.
    /// Bits 4-5: unless both are set, the chain starts with a block in which eve, ferdie and
    /// charlie stake the miner minimum (as the economy property test does), so that claims,
    /// challenges, verdicts and validator changes happen within a few blocks.
    config: u8,
    blocks: Vec<Block>,
}

#[derive(Debug)]
struct Block {
    /// Index into [`proposer`]: a dev key, the treasury or an address with no account.
    proposer: u8,
    ops: Vec<Op>,
    /// Equivocation by a key (a validator or not) at a recent height.
    evidence: Option<(u8, u8, bool)>,
    /// Empty blocks after this one (mod MAX_IDLE + 1): deadlines, maturity, unbonding and
    /// epoch boundaries come round.
    idle: u8,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let config = u.arbitrary()?;
        let mut blocks = Vec::new();
        while !u.is_empty() && blocks.len() < MAX_BLOCKS {
            blocks.push(u.arbitrary()?);
        }
        Ok(Input { config, blocks })
    }
}

impl<'a> Arbitrary<'a> for Block {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let proposer = u.arbitrary()?;
        let idle = u.arbitrary()?;
        let evidence = if u.ratio(1u8, 8)? { Some(u.arbitrary()?) } else { None };
        let n = u.int_in_range(0..=MAX_OPS as u8)?;
        let mut ops = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            if u.is_empty() {
                break;
            }
            ops.push(u.arbitrary()?);
        }
        Ok(Block { proposer, ops, evidence, idle })
    }
}

/// How a tx deviates from the one that pays exactly what it must at the right nonce. Most
/// values of `flags` mean no deviation, so that most txs are valid.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Envelope {
    flags: u8,
    extra_fee: u16,
    priority: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Amount {
    Tiny(u8),
    Small(u16),
    /// n whole AIT (1e9 base units).
    Ait(u8),
    /// n quarters of the miner minimum stake.
    MinerStake(u8),
    /// n % 16 eighths of a dev account's genesis balance.
    Balance(u8),
    Huge(u128),
    Max,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ParamValue {
    Small(u8),
    Bps(u16),
    Raw(u64),
    Huge(u128),
}

#[derive(Arbitrary, Debug)]
enum Op {
    Transfer {
        env: Envelope,
        from: u8,
        to: u8,
        amount: Amount,
    },
    /// `n % 5` transfers of `to` (none is invalid); 255: one more than the limit.
    Batch {
        env: Envelope,
        from: u8,
        n: u8,
        to: [(u8, Amount); 4],
    },
    JobPost {
        env: Envelope,
        client: u8,
        price: Amount,
        max_units: u32,
        ttl: u8,
        verifiers: u8,
        real: bool,
        coordinator: u8,
    },
    JobCancel {
        env: Envelope,
        by: u8,
        job: u8,
    },
    ReceiptClaim {
        env: Envelope,
        job: u8,
        miner: u8,
        units: u32,
        id: u8,
        coordinator: u8,
        truth: bool,
        skew: u8,
    },
    Stake {
        env: Envelope,
        who: u8,
        amount: Amount,
    },
    Unstake {
        env: Envelope,
        who: u8,
        amount: Amount,
    },
    Delegate {
        env: Envelope,
        who: u8,
        to: u8,
        amount: Amount,
    },
    Undelegate {
        env: Envelope,
        who: u8,
        to: u8,
        amount: Amount,
    },
    TrialClaim {
        env: Envelope,
        who: u8,
        back: u8,
        /// Below 32: work short of the difficulty; an anchor hash that is no block's.
        work: u8,
        anchor: u8,
    },
    FraudProof {
        env: Envelope,
        by: u8,
        id: u8,
        bond: Option<Amount>,
    },
    ParamUpdate {
        env: Envelope,
        by: u8,
        name: u8,
        value: ParamValue,
    },
    Unjail {
        env: Envelope,
        who: u8,
    },
    Verdict {
        env: Envelope,
        who: u8,
        id: u8,
        agree: bool,
    },
    /// A validator stops (or resumes) signing precommits, from the next block.
    Down {
        who: u8,
        down: bool,
    },
}

// ---------------------------------------------------------------------------------------------
// Fixture: what every input starts from
// ---------------------------------------------------------------------------------------------

struct Fixture {
    keys: Vec<Keypair>,
    /// The spec for each miner-draw window 0..=3.
    specs: Vec<ChainSpec>,
    genesis: MemState,
    treasury: Address,
    faucet: Address,
    program: Vec<u8>,
    input: Vec<u8>,
    program_hash: Hash,
    input_hash: Hash,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut keys: Vec<Keypair> = DEV.iter().map(|n| Keypair::dev(n)).collect();
        keys.extend((1..=3u8).map(|i| Keypair::from_secret([i; 32])));
        // As the economy property test: short windows so that maturity, unbonding, epochs,
        // jailing and slashing all happen within a few blocks; cheap trial work.
        let mut spec = ChainSpec::load("dev").expect("the dev spec");
        spec.economy.challenge_blocks = 3;
        spec.economy.unbonding_period = 4;
        spec.consensus.epoch_length = 4;
        spec.economy.min_stake = spec.economy.miner_min_stake;
        spec.consensus.signed_blocks_window = 4;
        spec.consensus.downtime_jail_blocks = 2;
        spec.economy.pow_difficulty_min = 4;
        spec.economy.pow_difficulty_max = 8;
        let specs = (0..=3u64)
            .map(|w| {
                let mut s = spec.clone();
                s.economy.miner_draw_blocks = w;
                s
            })
            .collect();
        let g = spec.genesis().expect("dev genesis");
        let diff = StateDiff::genesis(&spec, &g).expect("genesis diff");
        let mut genesis = MemState::default();
        genesis.apply(&diff);
        let program = ergon::vm::compile_wat(ergon::vm::samples::WORDCOUNT).expect("word count compiles");
        let input = b"to be or not to be".to_vec();
        let (program_hash, input_hash) = (ergon::vm::blob_hash(&program), ergon::vm::blob_hash(&input));
        genesis.blobs.insert(program_hash, program.clone());
        genesis.blobs.insert(input_hash, input.clone());
        let faucet = g.faucet.expect("the dev spec has a faucet");
        Fixture { keys, specs, genesis, treasury: g.treasury, faucet, program, input, program_hash, input_hash }
    })
}

// ---------------------------------------------------------------------------------------------
// In-memory state (as MemState in src/ledger/tests.rs)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct MemState {
    accounts: BTreeMap<Address, Account>,
    supply: Supply,
    records: BTreeMap<StateKey, Vec<u8>>,
    blobs: BTreeMap<Hash, Vec<u8>>,
}

impl StateReader for MemState {
    fn blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.blobs.get(hash).cloned())
    }

    fn get(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StateError> {
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

    fn record<T: parity_scale_codec::Decode>(&self, key: StateKey) -> Option<T> {
        read(self, &key).expect("a record decodes")
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn addr_of(k: &Keypair) -> Address {
    Address::from_public_key(&k.public())
}

fn key(i: u8) -> &'static Keypair {
    let f = fixture();
    &f.keys[usize::from(i) % KEYS]
}

/// A funded dev key.
fn dev(i: u8) -> &'static Keypair {
    &fixture().keys[usize::from(i) % DEV.len()]
}

fn key_of(pk: &PublicKey) -> Option<&'static Keypair> {
    fixture().keys.iter().find(|k| k.public() == *pk)
}

fn key_at(a: &Address) -> Option<&'static Keypair> {
    fixture().keys.iter().find(|k| addr_of(k) == *a)
}

/// Recipients: every key, the treasury, the faucet and an address nobody holds.
fn recipient(i: u8) -> Address {
    let f = fixture();
    match usize::from(i) % (KEYS + 3) {
        k if k < KEYS => addr_of(&f.keys[k]),
        9 => f.treasury,
        10 => f.faucet,
        _ => Address([0xEE; 20]),
    }
}

fn proposer(i: u8) -> Address {
    let f = fixture();
    match usize::from(i) % (DEV.len() + 2) {
        k if k < DEV.len() => addr_of(&f.keys[k]),
        6 => f.treasury,
        _ => Address([0xAB; 20]),
    }
}

/// The stand-in hash of the block at `height` (as the ledger tests use).
fn block_hash(height: u64) -> Hash {
    Hash::digest(b"test-block", &height.to_le_bytes())
}

fn amount(a: Amount, spec: &ChainSpec) -> u128 {
    match a {
        Amount::Tiny(n) => u128::from(n),
        Amount::Small(n) => u128::from(n) * 1_000,
        Amount::Ait(n) => u128::from(n) * 1_000_000_000,
        Amount::MinerStake(n) => (spec.economy.miner_min_stake / 4).saturating_mul(u128::from(n)),
        Amount::Balance(n) => 1_000_000_000_000_000 / 8 * u128::from(n % 16),
        Amount::Huge(n) => n,
        Amount::Max => u128::MAX,
    }
}

/// `k`'s signature of `msg`. Ed25519 signatures are deterministic, and signing is most of
/// what building a block costs here, so they are kept (inputs share most of their messages).
fn sig(k: &Keypair, msg: &Hash) -> Signature {
    static CACHE: OnceLock<Mutex<HashMap<(PublicKey, Hash), Signature>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().expect("cache lock");
    if cache.len() >= 1 << 18 {
        cache.clear();
    }
    *cache.entry((k.public(), *msg)).or_insert_with(|| k.sign(msg))
}

/// The proposer's reveal for the next block. Walking a reveal chain costs up to 4,096 hashes,
/// so results are kept by (proposer, chain on record): every input starts from one genesis.
fn reveal(state: &MemState, spec: &ChainSpec, who: Address) -> Hash {
    static CACHE: OnceLock<Mutex<HashMap<(Address, Option<(u32, u32)>), Hash>>> = OnceLock::new();
    let chain: Option<RevealChain> = state.record(StateKey::RevealChain(who));
    let k = (who, chain.map(|c| (c.generation, c.left)));
    let mut cache = CACHE.get_or_init(Default::default).lock().expect("cache lock");
    *cache.entry(k).or_insert_with(|| {
        let key =
            key_at(&who).cloned().unwrap_or_else(|| Keypair::from_secret(Hash::digest(b"test-proposer", &who.0).0));
        beacon::next_reveal(state, &who, &RevealSecret::new(&key, &spec.chain_id)).expect("reveal")
    })
}

/// What re-executing the word count with `max_units` gives, as the referee sees it.
fn truth(cache: &mut HashMap<u64, Option<(Hash, u64)>>, max_units: u64) -> Option<(Hash, u64)> {
    let f = fixture();
    *cache.entry(max_units).or_insert_with(|| {
        match ergon::vm::run(&f.program, &f.input, max_units, &ergon::vm::Limits::default()) {
            Ok(ergon::vm::Execution { outcome: ergon::vm::Outcome::Completed { output }, units }) => {
                Some((ergon::vm::output_hash(&output), units))
            }
            _ => None,
        }
    })
}

/// A job this input posted, as its poster saw it.
#[derive(Clone)]
struct PostedJob {
    id: Hash,
    client: Address,
    post: JobPost,
}

/// The chain being fuzzed.
struct Chain {
    spec: ChainSpec,
    state: MemState,
    height: u64,
    genesis_total: u128,
    minted_reward: u128,
    /// Validators that leave their precommits out of the next blocks.
    absent: Vec<PublicKey>,
    jobs: Vec<PostedJob>,
    paid_ids: BTreeSet<Hash>,
    truths: HashMap<u64, Option<(Hash, u64)>>,
}

impl Chain {
    /// The spec with the parameter updates in force, as the next block's executor sees it.
    fn effective(&self) -> ChainSpec {
        let updates = params::updates(&self.state).expect("params");
        params::effective(&self.spec, &updates).expect("stored params apply").unwrap_or_else(|| self.spec.clone())
    }

    /// The precommits the block at `height` carries for its parent: every validator of the
    /// parent's set except the absent ones, who come back (in set order) while the others
    /// alone make no quorum.
    fn last_commit(&self, height: u64) -> Option<CommitCertificate> {
        let at = height.checked_sub(1).filter(|h| *h > 0)?;
        let set = validators::current(&self.state).expect("validators");
        let mut cert = CommitCertificate { height: at, round: 0, block_hash: block_hash(at), signatures: Vec::new() };
        let msg = cert.vote(&self.spec.chain_id).signing_hash();
        // The set the ledger put in force must be one consensus can verify commits against.
        let power = match ValidatorSet::from_stakes(set.at(at)) {
            Ok(power) => power,
            Err(e) => panic!("consensus cannot use the validator set in force at {at}: {e}: {:?}", set.at(at)),
        };
        let sign = |k: &PublicKey| sig(key_of(k).expect("every validator is one of the fuzzer's keys"), &msg);
        for (k, _) in set.at(at).iter().filter(|(k, _)| !self.absent.contains(k)) {
            cert.signatures.push((*k, sign(k)));
        }
        for (k, _) in set.at(at).iter().filter(|(k, _)| self.absent.contains(k)) {
            if power.has_quorum(cert.signatures.iter().map(|(s, _)| s)) {
                break;
            }
            cert.signatures.push((*k, sign(k)));
        }
        Some(cert)
    }

    fn env(&self, height: u64, proposer: Address) -> BlockEnv {
        BlockEnv {
            height,
            timestamp_ms: height * 1_000,
            proposer,
            parent: block_hash(height - 1),
            reveal: reveal(&self.state, &self.spec, proposer),
        }
    }

    /// A job this input posted: mostly one still open (or posted in this block), else any, or
    /// (one time in `jobs + 1`) none.
    fn pick_job(&self, i: u8) -> Option<PostedJob> {
        let open =
            |j: &&PostedJob| self.state.record::<Job>(StateKey::Job(j.id)).is_none_or(|r| r.status == JobStatus::Open);
        let open: Vec<&PostedJob> = self.jobs.iter().filter(open).collect();
        match open.get(usize::from(i) % open.len().max(1)) {
            Some(j) if i < 192 => Some((*j).clone()),
            _ => self.jobs.get(usize::from(i) % (self.jobs.len() + 1)).cloned(),
        }
    }

    /// Two votes by key `who` for different blocks at a recent height.
    fn equivocation(&self, who: u8, back: u8, prevote: bool) -> Evidence {
        let k = key(who);
        let height = self.height.saturating_sub(u64::from(back % 4)).max(1);
        let kind = if prevote { VoteKind::Prevote } else { VoteKind::Precommit };
        let vote = |b: u8| {
            let vote =
                Vote { chain_id: self.spec.chain_id.clone(), height, round: 0, kind, block_hash: Some(Hash([b; 32])) };
            SignedVote { signature: sig(k, &vote.signing_hash()), vote, validator: k.public() }
        };
        Evidence { first: vote(1), second: vote(2) }
    }
}

/// Signs `payload` from `from` at the sender's next nonce with the minimum fee, then applies
/// the envelope's deviation.
fn sign(spec: &ChainSpec, from: &Keypair, acc: Account, payload: Payload, e: Envelope) -> SealedTx {
    let next = acc.nonce.wrapping_add(1);
    let nonce = match e.flags {
        216..=223 => acc.nonce,
        224..=231 => next.wrapping_add(1),
        _ => next,
    };
    let priority = match e.priority % 4 {
        0 => Priority::Low,
        1 => Priority::Normal,
        2 => Priority::High,
        _ => Priority::Urgent,
    };
    let chain_id = if e.flags >= 254 { "other-chain".to_string() } else { spec.chain_id.clone() };
    let tx = Tx { chain_id, sender: from.public(), nonce, fee: 0, priority, payload };
    let required = ergon::ledger::required_fee(spec, &tx).map(|f| f.total).unwrap_or(u128::MAX);
    let fee = match e.flags {
        232..=239 => required.saturating_sub(1),
        240..=243 => 0,
        244..=247 => acc.balance.saturating_add(1).max(required),
        248..=249 => u128::MAX,
        // Trial claims are fee-less: an extra fee is one of their deviations.
        _ if matches!(tx.payload, Payload::TrialClaim(_)) && e.flags >= 200 => required.saturating_add(1),
        _ if matches!(tx.payload, Payload::TrialClaim(_)) => required,
        _ => required.saturating_add(u128::from(e.extra_fee % 1024)),
    };
    let tx = Tx { fee, ..tx };
    SignedTx { signature: sig(from, &tx.signing_hash()), tx }.into()
}

// ---------------------------------------------------------------------------------------------
// One op: the tx it becomes
// ---------------------------------------------------------------------------------------------

/// The tx for `op` on top of what the block has done so far; `None` for ops that are not txs.
fn build(c: &mut Chain, spec: &ChainSpec, exec: &BlockExecutor<'_, MemState>, op: &Op) -> Option<SealedTx> {
    let f = fixture();
    let h = c.height + 1;
    let acc = |k: &Keypair| exec.account(&addr_of(k)).expect("account");
    let tx = match op {
        Op::Transfer { env, from, to, amount: a } => {
            let k = key(*from);
            let t = Transfer { to: recipient(*to), amount: amount(*a, spec) };
            sign(spec, k, acc(k), Payload::Transfer(t), *env)
        }
        Op::Batch { env, from, n, to } => {
            let k = key(*from);
            let ts: Vec<Transfer> = if *n == 255 {
                let n = spec.limits.max_batch_transfers as usize + 1;
                (0..n).map(|i| Transfer { to: recipient(i as u8), amount: 1 }).collect()
            } else {
                let n = usize::from(n % 5);
                to.iter().take(n).map(|(t, a)| Transfer { to: recipient(*t), amount: amount(*a, spec) }).collect()
            };
            sign(spec, k, acc(k), Payload::Batch(ts), *env)
        }
        Op::JobPost { env, client, price, max_units, ttl, verifiers, real, coordinator } => {
            let k = dev(*client);
            let (program, input) = if *real { (f.program_hash, f.input_hash) } else { (Hash([1; 32]), Hash([2; 32])) };
            let post = JobPost {
                program,
                input,
                // Mostly within what a dispute may re-execute (no verifiers needed).
                max_units: if *max_units >= 0xF000_0000 {
                    u64::from(*max_units)
                } else {
                    u64::from(max_units & 0xFF_FFFF)
                },
                price: amount(*price, spec),
                coordinator: recipient(*coordinator),
                deadline: h.saturating_add(u64::from(*ttl % 12)).saturating_sub(1),
                verifiers: *verifiers % 4,
            };
            sign(spec, k, acc(k), Payload::JobPost(post), *env)
        }
        Op::JobCancel { env, by, job } => {
            let k = dev(*by);
            let job_id = c.pick_job(*job).map_or(Hash([0x77; 32]), |j| j.id);
            sign(spec, k, acc(k), Payload::JobCancel(JobCancel { job_id }), *env)
        }
        Op::ReceiptClaim { env, job, miner, units, id, coordinator, truth: tell_truth, skew } => {
            let j = c.pick_job(*job).unwrap_or(PostedJob {
                id: Hash([0x77; 32]),
                client: recipient(1),
                post: JobPost {
                    program: f.program_hash,
                    input: f.input_hash,
                    max_units: 1_000_000,
                    price: 1,
                    coordinator: recipient(0),
                    deadline: h,
                    verifiers: 0,
                },
            });
            // Mostly the miner the chain drew (or any staked dev key when there is no draw).
            let drawn = match draw::assigned(&c.state, spec, &j.id, h).expect("draw") {
                Draw::Miner { miner, .. } => key_at(&miner),
                _ => None,
            };
            let miners: Vec<Address> =
                c.state.record::<draw::Miners>(StateKey::Miners).map(|m| m.who).unwrap_or_default();
            let registered = miners.get(usize::from(*miner) % miners.len().max(1)).and_then(key_at);
            let m = match (drawn, registered) {
                (Some(k), _) if *miner < 192 => k,
                (None, Some(k)) if *miner < 192 => k,
                _ => key(*miner),
            };
            let (output_hash, compute_units) = match truth(&mut c.truths, j.post.max_units) {
                Some(t) if *tell_truth => t,
                _ => (Hash([3; 32]), u64::from(*units)),
            };
            let mut r = ComputeReceipt {
                receipt_id: Hash([*id % RECEIPT_IDS; 32]),
                job_id: j.id,
                client: j.client,
                miner: addr_of(m),
                compute_units,
                price: j.post.price,
                output_hash,
                metering_version: spec.economy.metering_version,
            };
            // Now and then one field that does not match the job or the signer.
            match skew {
                240 => r.client = recipient(r.client.0[0]),
                241 => r.price = r.price.wrapping_add(1),
                242 => r.metering_version = r.metering_version.wrapping_add(1),
                243 => r.miner = recipient(r.miner.0[0].wrapping_add(1)),
                244 => r.compute_units = j.post.max_units.saturating_add(1),
                _ => {}
            }
            // The job's coordinator attests, or (sometimes) someone else.
            let coord = match key_at(&j.post.coordinator) {
                Some(k) if *coordinator < 224 => k,
                _ => key(*coordinator),
            };
            let claim = ReceiptClaim {
                miner_sig: sig(m, &r.signing_hash()),
                attestation: sig(coord, &r.attestation_hash()),
                miner_key: m.public(),
                coordinator_key: coord.public(),
                receipt: r,
            };
            sign(spec, m, acc(m), Payload::ReceiptClaim(Box::new(claim)), *env)
        }
        Op::Stake { env, who, amount: a } | Op::Unstake { env, who, amount: a } => {
            let k = key(*who);
            let s = StakeAmount { amount: amount(*a, spec) };
            let p = if matches!(op, Op::Stake { .. }) { Payload::Stake(s) } else { Payload::Unstake(s) };
            sign(spec, k, acc(k), p, *env)
        }
        Op::Delegate { env, who, to, amount: a } | Op::Undelegate { env, who, to, amount: a } => {
            // Mostly a funded key to a validator candidate.
            let k = if *who < 224 { dev(*who) } else { key(*who) };
            let candidates = validators::current(&c.state).expect("validators").candidates;
            let validator = match candidates.get(usize::from(*to) % candidates.len().max(1)) {
                Some(pk) if *to < 224 => Address::from_public_key(pk),
                _ => recipient(*to),
            };
            let d = Delegation { validator, amount: amount(*a, spec) };
            let p = if matches!(op, Op::Delegate { .. }) { Payload::Delegate(d) } else { Payload::Undelegate(d) };
            sign(spec, k, acc(k), p, *env)
        }
        Op::TrialClaim { env, who, back, work, anchor } => {
            // Mostly the fresh keys (which may claim once), sometimes a funded one.
            let k = if *who < 224 { key(6 + who % 3) } else { dev(*who) };
            let claimant = addr_of(k);
            let anchor_height = h.saturating_sub(1).saturating_sub(u64::from(*back % 6));
            let anchor_hash = if *anchor >= 32 { block_hash(anchor_height) } else { Hash([7; 32]) };
            let search = PowSearch::new(&spec.chain_id, &claimant, &anchor_hash);
            let need = trial::difficulty(spec);
            // Parameter updates may raise the difficulty: search a bounded range.
            let good = search.find(need, 0..4096);
            let weak = (0..64).find(|&n| search.bits(n) < need).unwrap_or(0);
            let pow_nonce = if *work >= 32 { good.unwrap_or(weak) } else { weak };
            let p = Payload::TrialClaim(TrialClaim { anchor_height, anchor_hash, pow_nonce });
            sign(spec, k, acc(k), p, *env)
        }
        Op::FraudProof { env, by, id, bond } => {
            let k = key(*by);
            let bond = bond.map_or(spec.economy.challenge_bond, |a| amount(a, spec));
            let p = FraudProof { receipt_id: Hash([*id % RECEIPT_IDS; 32]), output_hash: Hash::ZERO, units: 0, bond };
            sign(spec, k, acc(k), Payload::FraudProof(p), *env)
        }
        Op::ParamUpdate { env, by, name, value } => {
            // Mostly the authority (alice).
            let k = if *by < 200 { dev(0) } else { key(*by) };
            let name = UPDATABLE_PARAMS.get(usize::from(*name) % (UPDATABLE_PARAMS.len() + 1));
            let name = name.map_or("block_reward", |n| *n).to_string();
            let value = match value {
                ParamValue::Small(v) => u128::from(*v),
                ParamValue::Bps(v) => u128::from(*v),
                ParamValue::Raw(v) => u128::from(*v),
                ParamValue::Huge(v) => *v,
            };
            sign(spec, k, acc(k), Payload::ParamUpdate(ParamUpdate { name, value }), *env)
        }
        Op::Unjail { env, who } => {
            let k = key(*who);
            sign(spec, k, acc(k), Payload::Unjail, *env)
        }
        Op::Verdict { env, who, id, agree } => {
            let receipt_id = Hash([*id % RECEIPT_IDS; 32]);
            // Mostly a verifier the chain drew for the receipt.
            let drawn = draw::verifiers(&c.state, &receipt_id).expect("verifiers");
            let k = match drawn.get(usize::from(*who) % drawn.len().max(1)).and_then(key_at) {
                Some(k) if *who < 224 => k,
                _ => key(*who),
            };
            let rec: Option<ReceiptRecord> = c.state.record(StateKey::Receipt(receipt_id));
            let (output_hash, units) = match rec {
                Some(r) if *agree => (r.output_hash, r.compute_units),
                _ => (Hash([4; 32]), 1),
            };
            let p = VerifierVerdict { receipt_id, output_hash, units };
            sign(spec, k, acc(k), Payload::Verdict(p), *env)
        }
        Op::Down { who, down } => {
            let k = key(*who).public();
            c.absent.retain(|a| *a != k);
            if *down {
                c.absent.push(k);
            }
            return None;
        }
    };
    Some(tx)
}

// ---------------------------------------------------------------------------------------------
// One block: build, import twice, check, commit
// ---------------------------------------------------------------------------------------------

fn block(c: &mut Chain, b: &Block) {
    let h = c.height + 1;
    let proposer = proposer(b.proposer);
    let env = c.env(h, proposer);
    let commit = c.last_commit(h);
    let mut evidence: Vec<Evidence> = b.evidence.iter().map(|(w, back, pv)| c.equivocation(*w, *back, *pv)).collect();
    let spec = c.spec.clone();
    let state = c.state.clone();
    // The builder only includes evidence that the begin hook takes.
    let begun =
        BlockExecutor::begin(&state, &spec, env, BlockVotes { last_commit: commit.as_ref(), evidence: &evidence });
    let mut exec = match begun {
        Ok(exec) => exec,
        Err(BlockError::Evidence { .. }) => {
            evidence.clear();
            let votes = BlockVotes { last_commit: commit.as_ref(), evidence: &[] };
            BlockExecutor::begin(&state, &spec, env, votes).expect("begin without evidence")
        }
        Err(e) => panic!("the begin hook refused a well-formed block at {h}: {e}"),
    };
    let eff = c.effective();
    let mut included: Vec<SealedTx> = Vec::new();
    for op in b.ops.iter().take(MAX_OPS) {
        let Some(tx) = build(c, &eff, &exec, op) else { continue };
        let sender = tx.tx.sender_address();
        let before = exec.account(&sender).expect("account");
        // Admission's dry run, on the block so far. Not before the block's first tx: the begin
        // hook's liveness records are not committed yet, and the dry run's revert would drop
        // them (admission runs it on a speculative executor, which has none).
        let dry = (exec.txs_applied() > 0).then(|| exec.check_payload(&tx));
        assert_eq!(exec.account(&sender).expect("account"), before, "the dry run changed its sender");
        match exec.apply(&tx) {
            Err(_) => {
                assert_eq!(exec.account(&sender).expect("account"), before, "a refused tx changed its sender");
            }
            Ok(outcome) => {
                assert_eq!(outcome.fee, tx.tx.fee);
                let after = exec.account(&sender).expect("account");
                assert_eq!(after.nonce, before.nonce + 1, "an included tx bumps its nonce");
                match &dry {
                    Some(Ok(r)) => {
                        assert_eq!(r, &outcome.result, "admission's dry run disagrees with the block for {tx:?}")
                    }
                    Some(Err(e)) => panic!("the dry run refused a tx the block took: {e:?}: {tx:?}"),
                    None => {}
                }
                if outcome.result.is_err() {
                    let want = Account { balance: before.balance - outcome.fee, nonce: before.nonce + 1, ..before };
                    assert_eq!(after, want, "a failed tx only pays its fee: {outcome:?}");
                }
                if let (Payload::JobPost(post), Ok(())) = (&tx.tx.payload, &outcome.result) {
                    c.jobs.push(PostedJob { id: tx.hash(), client: sender, post: post.clone() });
                }
                included.push(tx);
            }
        }
    }
    assert_eq!(exec.txs_applied(), included.len());
    let built = exec.finish().expect("the end hook");
    assert_eq!(built.outcomes.len(), included.len());
    assert_eq!(built.receipts_root, receipts_root(&built.outcomes));
    // The importer's path gives what the builder got (and again, every fourth block: the
    // parent's precommits are verified on each run, which is most of a block's cost).
    for _ in 0..if h % 4 == 0 { 2 } else { 1 } {
        let votes = BlockVotes { last_commit: commit.as_ref(), evidence: &evidence };
        let imported = apply_block(&c.state, &spec, env, votes, &included).expect("the importer takes a built block");
        assert_eq!(imported, built, "builder and importer disagree at height {h}");
    }
    check_diff(&c.state, &built);
    // Every validator of the parent's set (not in jail) has the parent's precommit counted,
    // signed or missed.
    let counted: Vec<(PublicKey, Liveness)> = match h.checked_sub(1).filter(|at| *at > 0) {
        Some(at) => {
            let v = validators::current(&c.state).expect("validators");
            let set = v.at(at).iter().filter(|(k, _)| !v.is_jailed(k));
            set.map(|(k, _)| (*k, liveness::read(&c.state, &Address::from_public_key(k)).expect("liveness"))).collect()
        }
        None => Vec::new(),
    };
    for (tx, o) in included.iter().zip(&built.outcomes) {
        if let (Payload::ReceiptClaim(cl), Ok(())) = (&tx.tx.payload, &o.result) {
            assert!(c.paid_ids.insert(cl.receipt.receipt_id), "receipt id {:?} paid twice", cl.receipt.receipt_id);
        }
    }
    c.state.apply(&built.diff);
    c.height = h;
    c.minted_reward += block_reward(&spec, h);
    let signers: Vec<PublicKey> = commit.iter().flat_map(|cert| cert.signatures.iter().map(|(k, _)| *k)).collect();
    for (k, before) in counted {
        let after = liveness::read(&c.state, &Address::from_public_key(&k)).expect("liveness");
        let signed = u64::from(signers.contains(&k));
        assert_eq!(
            (after.expected_total, after.signed_total),
            (before.expected_total + 1, before.signed_total + signed),
            "the parent's precommit of {k:?} was not counted at height {h} (txs {:?})",
            built.outcomes
        );
    }
    check_state(c);
}

/// The diff is sorted without duplicates, and the account history chains from the parent
/// state to the diff with an event for every change.
fn check_diff(parent: &MemState, out: &BlockOutcome) {
    let addrs: Vec<Address> = out.diff.accounts.iter().map(|(a, _)| *a).collect();
    assert!(addrs.windows(2).all(|w| w[0] < w[1]), "diff accounts sorted and unique");
    let keys: Vec<&StateKey> = out.diff.records.iter().map(|(k, _)| k).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "diff records sorted and unique");
    let mut last: BTreeMap<Address, Account> = BTreeMap::new();
    for e in &out.events {
        let prev = last.get(&e.address).copied().unwrap_or_else(|| parent.acc(&e.address));
        assert_eq!(e.before, prev, "an event for {:?} starts where the account was", e.address);
        assert_ne!(e.before, e.after, "no empty events");
        if let EventCause::Tx(i) = e.cause {
            assert!((i as usize) < out.outcomes.len(), "event of tx {i} in a block of {}", out.outcomes.len());
        }
        last.insert(e.address, e.after);
    }
    for (a, acc) in &out.diff.accounts {
        let got = last.get(a).copied().unwrap_or_else(|| parent.acc(a));
        assert_eq!(&got, acc, "the events of {a:?} end at its new state");
    }
}

/// The invariants of the committed state.
fn check_state(c: &mut Chain) {
    let s = c.state.supply;
    assert_eq!(s.height, c.height);
    let holdings = c
        .state
        .accounts
        .values()
        .try_fold(0u128, |sum, a| sum.checked_add(a.holdings()?))
        .expect("holdings overflow u128");
    assert_eq!(holdings, s.total, "the sum of every account's buckets is the supply");
    let minted = s.minted_reward.checked_add(s.minted_compute).and_then(|m| m.checked_add(s.minted_trial));
    assert_eq!(Some(s.minted), minted, "minted = reward + compute + trial: {s:?}");
    let total = c.genesis_total.checked_add(s.minted).and_then(|t| t.checked_sub(s.burned));
    assert_eq!(Some(s.total), total, "total = genesis + minted - burned: {s:?}");
    assert_eq!(s.minted_reward, c.minted_reward, "the reward minted is the block rewards");

    // Escrow holds exactly the prices of the open jobs.
    let mut escrow = 0u128;
    for j in &c.jobs {
        if let Some(job) = c.state.record::<Job>(StateKey::Job(j.id)) {
            if job.status == JobStatus::Open {
                escrow = escrow.checked_add(job.post.price).expect("escrow overflow");
            }
        }
    }
    let reserved = c.state.accounts.values().try_fold(0u128, |sum, a| sum.checked_add(a.reserved));
    assert_eq!(reserved, Some(escrow), "reserved = the prices of the open jobs");

    // Compute is minted only by receipts that stand; a truthful receipt is never overturned.
    let mut minted_by_receipts = 0u128;
    for id in c.paid_ids.clone() {
        let rec: ReceiptRecord = c.state.record(StateKey::Receipt(id)).expect("a paid receipt is recorded");
        match rec.status {
            ReceiptStatus::Invalidated => {
                let job: Job = c.state.record(StateKey::Job(rec.job_id)).expect("its job");
                let f = fixture();
                let real = job.post.program == f.program_hash && job.post.input == f.input_hash;
                let right =
                    real && truth(&mut c.truths, job.post.max_units) == Some((rec.output_hash, rec.compute_units));
                assert!(!right, "a truthful receipt was invalidated: {rec:?}");
            }
            ReceiptStatus::Matured | ReceiptStatus::Pending => minted_by_receipts += rec.minted(),
        }
    }
    assert_eq!(s.minted_compute, minted_by_receipts, "compute is minted only by standing receipts");
}

fn run(input: &Input) {
    let f = fixture();
    let spec = f.specs[usize::from(input.config % 4)].clone();
    let state = f.genesis.clone();
    let genesis_total = state.supply.total;
    let mut c = Chain {
        spec,
        state,
        height: 0,
        genesis_total,
        minted_reward: 0,
        absent: Vec::new(),
        jobs: Vec::new(),
        paid_ids: BTreeSet::new(),
        truths: HashMap::new(),
    };
    if input.config & 0x30 != 0x30 {
        let stake = |who: u8| Op::Stake {
            env: Envelope { flags: 0, extra_fee: 0, priority: 1 },
            who,
            amount: Amount::MinerStake(4),
        };
        block(&mut c, &Block { proposer: 0, ops: vec![stake(4), stake(5), stake(2)], evidence: None, idle: 0 });
    }
    for b in input.blocks.iter().take(MAX_BLOCKS) {
        block(&mut c, b);
        for i in 0..b.idle % (MAX_IDLE + 1) {
            let empty = Block { proposer: b.proposer.wrapping_add(i), ops: Vec::new(), evidence: None, idle: 0 };
            block(&mut c, &empty);
        }
    }
}

fuzz_target!(|input: Input| run(&input));
