//! The compute economy in the ledger: jobs and escrow, receipts that mint, maturity, staking,
//! with every amount checked exactly and the supply invariants property-tested over random
//! sequences of every economy payload.

use super::*;
use crate::ledger::payload::job::{Job, JobStatus};
use crate::ledger::payload::receipt::{ReceiptRecord, ReceiptStatus};
use crate::primitives::{ComputeReceipt, JobCancel, JobPost, ReceiptClaim, StakeAmount};

/// Signs `payload` from `from` at `nonce`, paying the minimum fee.
pub(super) fn signed(spec: &ChainSpec, from: &Keypair, nonce: u64, payload: Payload) -> SealedTx {
    let tx = unsigned(spec, from, nonce, payload);
    super::fees::with_required_fee(spec, tx).unwrap().sign(from).into()
}

/// Each sender's next nonce, as the chain has it.
pub(super) fn next_nonce(c: &Chain, k: &Keypair) -> u64 {
    c.state.acc(&Address::from_public_key(&k.public())).nonce + 1
}

fn record<T: parity_scale_codec::Decode>(c: &Chain, key: StateKey) -> Option<T> {
    read(&c.state, &key).unwrap()
}

pub(super) fn post(
    c: &Chain,
    client: &Keypair,
    price: u128,
    max_units: u64,
    coordinator: Address,
    deadline: u64,
) -> SealedTx {
    let p =
        JobPost { program: Hash([1; 32]), input: Hash([2; 32]), max_units, price, coordinator, deadline, verifiers: 0 };
    signed(&c.spec, client, next_nonce(c, client), Payload::JobPost(p))
}

pub(super) fn receipt_for(c: &Chain, job_id: Hash, miner: &Keypair, units: u64, id: u8) -> ComputeReceipt {
    let job: Job = record(c, StateKey::Job(job_id)).unwrap();
    ComputeReceipt {
        receipt_id: Hash([id; 32]),
        job_id,
        client: job.client,
        miner: Address::from_public_key(&miner.public()),
        compute_units: units,
        price: job.post.price,
        output_hash: Hash([9; 32]),
        metering_version: c.spec.economy.metering_version,
    }
}

pub(super) fn claim(c: &Chain, r: ComputeReceipt, miner: &Keypair, coordinator: &Keypair, nonce: u64) -> SealedTx {
    let claim = ReceiptClaim {
        miner_sig: miner.sign(&r.signing_hash()),
        attestation: coordinator.sign(&r.attestation_hash()),
        miner_key: miner.public(),
        coordinator_key: coordinator.public(),
        receipt: r,
    };
    let tx = signed(&c.spec, miner, nonce, Payload::ReceiptClaim(Box::new(claim)));
    tx.verify_signature().unwrap();
    tx
}

pub(super) fn stake(c: &Chain, who: &Keypair, amount: u128) -> SealedTx {
    signed(&c.spec, who, next_nonce(c, who), Payload::Stake(StakeAmount { amount }))
}

/// Holdings of everyone equal the supply, and the supply is genesis + mints - burns.
pub(super) fn assert_supply(c: &Chain, genesis_total: u128) {
    let s = c.state.supply;
    assert_eq!(c.state.total_holdings(), s.total, "holdings = supply");
    assert_eq!(s.minted, s.minted_reward + s.minted_compute + s.minted_trial);
    assert_eq!(s.total, genesis_total + s.minted - s.burned);
}

/// The block's account events chain from each account's state before the block to its state
/// in the diff, and every account the block changed has one: no balance moves unrecorded.
pub(super) fn assert_history_complete(before: &MemState, out: &BlockOutcome) {
    let mut last: BTreeMap<Address, Account> = BTreeMap::new();
    for e in &out.events {
        let prev = last.get(&e.address).copied().unwrap_or_else(|| before.acc(&e.address));
        assert_eq!(e.before, prev, "event for {:?} starts where the account was", e.address);
        assert_ne!(e.before, e.after, "no empty events");
        if let crate::ledger::EventCause::Tx(i) = e.cause {
            assert!((i as usize) < out.outcomes.len(), "event of tx {i} in a block of {}", out.outcomes.len());
        }
        last.insert(e.address, e.after);
    }
    for (a, acc) in &out.diff.accounts {
        let got = last.get(a).copied().unwrap_or_else(|| before.acc(a));
        assert_eq!(&got, acc, "events of {a:?} end at its new state");
    }
}

/// A dev chain where eve is a staked miner and dave a coordinator; returns the genesis total.
fn economy_chain() -> (Chain, u128) {
    let mut c = Chain::dev();
    let total = c.state.supply.total;
    let tx = stake(&c, &key("eve"), c.spec.economy.miner_min_stake);
    let (out, _) = c.block(addr("alice"), &[tx]);
    assert_eq!(out[0].result, Ok(()));
    (c, total)
}

#[test]
fn a_job_reserves_its_price_and_a_cancel_releases_it() {
    let (mut c, total) = economy_chain();
    let bob = key("bob");
    let before = c.state.acc(&addr("bob"));
    let tx = post(&c, &bob, 1_000_000, 10, addr("dave"), 50);
    let job_id = tx.hash();
    let (out, _) = c.block(addr("alice"), std::slice::from_ref(&tx));
    assert_eq!(out[0].result, Ok(()));
    let after = c.state.acc(&addr("bob"));
    assert_eq!(after.balance, before.balance - tx.tx.fee - 1_000_000);
    assert_eq!(after.reserved, 1_000_000);
    let job: Job = record(&c, StateKey::Job(job_id)).unwrap();
    assert_eq!((job.status, job.client, job.posted_at), (JobStatus::Open, addr("bob"), c.height));
    assert_supply(&c, total);

    // Only the client may cancel.
    let stranger = signed(&c.spec, &key("charlie"), 1, Payload::JobCancel(JobCancel { job_id }));
    let (out, _) = c.block(addr("alice"), &[stranger]);
    assert_eq!(out[0].result, Err(TxFailure::NotJobClient));
    let cancel = signed(&c.spec, &bob, 2, Payload::JobCancel(JobCancel { job_id }));
    let (out, _) = c.block(addr("alice"), std::slice::from_ref(&cancel));
    assert_eq!(out[0].result, Ok(()));
    let done = c.state.acc(&addr("bob"));
    assert_eq!(done.reserved, 0);
    assert_eq!(done.balance, before.balance - tx.tx.fee - cancel.tx.fee);
    assert_eq!(record::<Job>(&c, StateKey::Job(job_id)).unwrap().status, JobStatus::Cancelled);
    let again = signed(&c.spec, &bob, 3, Payload::JobCancel(JobCancel { job_id }));
    let (out, _) = c.block(addr("alice"), &[again]);
    assert_eq!(out[0].result, Err(TxFailure::JobNotOpen { status: JobStatus::Cancelled }));
    assert_supply(&c, total);
}

#[test]
fn a_job_past_its_deadline_expires_and_its_escrow_returns() {
    let (mut c, total) = economy_chain();
    let deadline = c.height + 3;
    let tx = post(&c, &key("bob"), 777, 10, addr("dave"), deadline);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    assert_eq!(c.state.acc(&addr("bob")).reserved, 777);
    while c.height < deadline - 1 {
        c.block(addr("alice"), &[]);
    }
    assert_eq!(record::<Job>(&c, StateKey::Job(job_id)).unwrap().status, JobStatus::Open, "open through its deadline");
    c.block(addr("alice"), &[]);
    assert_eq!(c.height, deadline);
    assert_eq!(record::<Job>(&c, StateKey::Job(job_id)).unwrap().status, JobStatus::Expired);
    assert_eq!(c.state.acc(&addr("bob")).reserved, 0);
    assert_eq!(record::<u32>(&c, StateKey::Expiring(deadline)), None, "the queue is deleted");
    let entry = StateKey::QueueEntry(parity_scale_codec::Encode::encode(&StateKey::Expiring(0))[0], deadline, 0);
    assert_eq!(record::<Hash>(&c, entry), None, "and its entries");
    // A deadline that has passed is refused.
    let late = post(&c, &key("bob"), 5, 10, addr("dave"), c.height);
    let (out, _) = c.block(addr("alice"), &[late]);
    assert_eq!(out[0].result, Err(TxFailure::DeadlineInPast { deadline: c.height - 1, height: c.height }));
    assert_supply(&c, total);
}

#[test]
fn a_receipt_pays_the_miner_mints_pending_amounts_and_they_mature() {
    let (mut c, total) = economy_chain();
    let (bob, eve, dave) = (key("bob"), key("eve"), key("dave"));
    let treasury = c.genesis.treasury;
    let tx = post(&c, &bob, 1_000_000, 600_000, addr("dave"), c.height + 100);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    c.block(addr("alice"), &[]); // the draw is seeded by the next block's beacon
    let before = |a: &Address| c.state.acc(a);
    let (bob0, eve0, dave0, t0) =
        (before(&addr("bob")), before(&addr("eve")), before(&addr("dave")), before(&treasury));
    let s0 = c.state.supply;

    let r = receipt_for(&c, job_id, &eve, 500_000, 1);
    let tx = claim(&c, r.clone(), &eve, &dave, next_nonce(&c, &eve));
    let fee = tx.tx.fee;
    let (out, _) = c.block(addr("alice"), &[tx]);
    assert_eq!(out[0].result, Ok(()));
    let claimed_at = c.height;

    // Escrow: 1% of the price burned, the rest to the miner. Mint: 500,000 units x 1,000 x 10
    // (the multiplier before any verified work), 5% to the coordinator, 10% to the treasury.
    let (burn, payment) = (10_000u128, 990_000u128);
    let mint = 500_000u128 * 1_000 * 10;
    let (to_coordinator, to_treasury) = (mint * 500 / 10_000, mint * 1_000 / 10_000);
    let to_miner = mint - to_coordinator - to_treasury;
    assert_eq!((mint, to_coordinator, to_treasury, to_miner), (5_000_000_000, 250_000_000, 500_000_000, 4_250_000_000));
    let bob1 = c.state.acc(&addr("bob"));
    assert_eq!((bob1.balance, bob1.reserved), (bob0.balance, 0), "the reservation paid for the job");
    let eve1 = c.state.acc(&addr("eve"));
    assert_eq!(eve1.balance, eve0.balance - fee);
    assert_eq!(eve1.pending, payment + to_miner);
    assert_eq!(c.state.acc(&addr("dave")).pending, dave0.pending + to_coordinator);
    assert_eq!(c.state.acc(&treasury).pending, t0.pending + to_treasury);
    let s1 = c.state.supply;
    assert_eq!(s1.minted_compute, s0.minted_compute + mint);
    assert_eq!(s1.burned, s0.burned + burn);
    assert_eq!(s1.verified_units, 500_000);
    assert_supply(&c, total);
    let rec: ReceiptRecord = record(&c, StateKey::Receipt(r.receipt_id)).unwrap();
    assert_eq!((rec.status, rec.matures_at, rec.minted()), (ReceiptStatus::Pending, claimed_at + 20, mint));
    assert_eq!(record::<Job>(&c, StateKey::Job(job_id)).unwrap().status, JobStatus::Claimed);

    // The same receipt id never pays twice, even for another job.
    let job2 = post(&c, &bob, 5, 10, addr("dave"), c.height + 100);
    let job2_id = job2.hash();
    c.block(addr("alice"), &[job2]);
    let mut replay = receipt_for(&c, job2_id, &eve, 1, 1);
    replay.receipt_id = r.receipt_id;
    let replay = claim(&c, replay, &eve, &dave, next_nonce(&c, &eve));
    let replay_fee = replay.tx.fee;
    let (out, _) = c.block(addr("alice"), &[replay]);
    assert_eq!(out[0].result, Err(TxFailure::ReceiptReplay(r.receipt_id)));

    // Pending until the challenge window closes, then available.
    while c.height < claimed_at + 19 {
        c.block(addr("alice"), &[]);
    }
    assert_eq!(c.state.acc(&addr("eve")).pending, payment + to_miner, "still pending one block before");
    c.block(addr("alice"), &[]);
    let eve2 = c.state.acc(&addr("eve"));
    assert_eq!(eve2.pending, 0);
    assert_eq!(eve2.balance, eve1.balance - replay_fee + payment + to_miner);
    assert_eq!(c.state.acc(&addr("dave")).balance, dave0.balance + to_coordinator);
    assert_eq!(c.state.acc(&addr("dave")).pending, 0);
    assert_eq!(record::<ReceiptRecord>(&c, StateKey::Receipt(r.receipt_id)).unwrap().status, ReceiptStatus::Matured);
    assert_eq!(record::<Job>(&c, StateKey::Job(job_id)).unwrap().status, JobStatus::Settled);
    assert_supply(&c, total);
}

#[test]
fn bad_receipts_fail_each_for_its_own_reason() {
    let (mut c, total) = economy_chain();
    let (bob, eve, dave, ferdie) = (key("bob"), key("eve"), key("dave"), key("ferdie"));
    let tx = post(&c, &bob, 1_000, 100, addr("dave"), c.height + 3);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    let good = receipt_for(&c, job_id, &eve, 100, 7);
    let mut cases: Vec<(SealedTx, TxFailure)> = Vec::new();
    let mut nonce = next_nonce(&c, &eve);
    let mut case = |r: ComputeReceipt, miner: &Keypair, coord: &Keypair, want: TxFailure| {
        let n = if miner.public() == eve.public() {
            nonce += 1;
            nonce - 1
        } else {
            next_nonce(&c, miner)
        };
        cases.push((claim(&c, r, miner, coord, n), want));
    };
    let mut r = good.clone();
    r.compute_units = 101;
    case(r, &eve, &dave, TxFailure::UnitsOverMax { units: 101, max_units: 100 });
    let mut r = good.clone();
    r.price = 999;
    case(r, &eve, &dave, TxFailure::PriceMismatch { receipt: 999, job: 1_000 });
    let mut r = good.clone();
    r.client = addr("charlie");
    case(r, &eve, &dave, TxFailure::ClientMismatch);
    let mut r = good.clone();
    r.metering_version += 1;
    case(
        r,
        &eve,
        &dave,
        TxFailure::MeteringMismatch { got: c.spec.economy.metering_version + 1, want: c.spec.economy.metering_version },
    );
    case(good.clone(), &eve, &ferdie, TxFailure::WrongCoordinator);
    let mut r = good.clone();
    r.job_id = Hash([0x77; 32]);
    case(r, &eve, &dave, TxFailure::UnknownJob(Hash([0x77; 32])));
    // Ferdie signs as miner but has no stake.
    let mut r = good.clone();
    r.miner = addr("ferdie");
    case(r, &ferdie, &dave, TxFailure::MinerStake { staked: 0, min: c.spec.economy.miner_min_stake });
    // A receipt naming eve but signed by ferdie's key.
    let r = good.clone();
    let forged = ReceiptClaim {
        miner_sig: ferdie.sign(&r.signing_hash()),
        attestation: dave.sign(&r.attestation_hash()),
        miner_key: ferdie.public(),
        coordinator_key: dave.public(),
        receipt: r,
    };
    let forged = signed(&c.spec, &ferdie, 2, Payload::ReceiptClaim(Box::new(forged)));
    let txs: Vec<SealedTx> = cases.iter().map(|(t, _)| t.clone()).chain(std::iter::once(forged)).collect();
    let wants: Vec<TxFailure> =
        cases.into_iter().map(|(_, w)| w).chain(std::iter::once(TxFailure::MinerKeyMismatch)).collect();
    let (out, _) = c.block(addr("alice"), &txs);
    for (o, want) in out.iter().zip(wants) {
        assert_eq!(o.result, Err(want));
    }
    assert_eq!(c.state.supply.minted_compute, 0, "nothing minted by bad receipts");
    assert_eq!(c.state.acc(&addr("bob")).reserved, 1_000, "escrow untouched");

    // After the deadline the job is expired; a receipt for it fails.
    c.block(addr("alice"), &[]);
    c.block(addr("alice"), &[]);
    let late = claim(&c, good, &eve, &dave, next_nonce(&c, &eve));
    let (out, _) = c.block(addr("alice"), &[late]);
    assert_eq!(out[0].result, Err(TxFailure::JobNotOpen { status: JobStatus::Expired }));
    assert_supply(&c, total);
}

#[test]
fn a_forged_attestation_or_miner_signature_does_not_verify() {
    let c = Chain::dev();
    let (eve, dave) = (key("eve"), key("dave"));
    let r = ComputeReceipt {
        receipt_id: Hash([1; 32]),
        job_id: Hash([2; 32]),
        client: addr("bob"),
        miner: addr("eve"),
        compute_units: 1,
        price: 1,
        output_hash: Hash([3; 32]),
        metering_version: 1,
    };
    // The miner's signature over the receipt cannot stand in for the coordinator's attestation.
    let swapped = ReceiptClaim {
        miner_sig: eve.sign(&r.signing_hash()),
        attestation: dave.sign(&r.signing_hash()),
        miner_key: eve.public(),
        coordinator_key: dave.public(),
        receipt: r,
    };
    let tx = signed(&c.spec, &eve, 1, Payload::ReceiptClaim(Box::new(swapped)));
    assert!(tx.verify_signature().is_err());
    let items: Vec<_> = tx.signature_items(tx.hash()).collect();
    assert_eq!(items.len(), 3, "the tx's signature and the claim's two");
}

#[test]
fn the_mint_is_capped_by_the_miners_stake_per_epoch() {
    let (mut c, total) = economy_chain();
    let (bob, eve, dave) = (key("bob"), key("eve"), key("dave"));
    let stake = c.state.acc(&addr("eve")).staked;
    // A job whose mint would be 10x the miner's stake.
    let units = u64::try_from(stake / (c.spec.economy.mint_per_unit * 10) * 10).unwrap();
    let tx = post(&c, &bob, 1_000, units, addr("dave"), c.height + 100);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    c.block(addr("alice"), &[]);
    let r = receipt_for(&c, job_id, &eve, units, 3);
    let (out, _) = c.block(addr("alice"), &[claim(&c, r.clone(), &eve, &dave, next_nonce(&c, &eve))]);
    assert_eq!(out[0].result, Ok(()));
    let rec: ReceiptRecord = record(&c, StateKey::Receipt(r.receipt_id)).unwrap();
    assert_eq!(rec.minted(), stake * u128::from(c.spec.economy.mint_cap_bps) / 10_000, "capped at the stake");
    assert_eq!(rec.miner_payment, 990, "the payment is not capped");
    // The cap is used up for this epoch: the next receipt settles but mints nothing.
    let tx = post(&c, &bob, 1_000, 10, addr("dave"), c.height + 100);
    let job2 = tx.hash();
    c.block(addr("alice"), &[tx]);
    c.block(addr("alice"), &[]);
    let r2 = receipt_for(&c, job2, &eve, 10, 4);
    c.block(addr("alice"), &[claim(&c, r2.clone(), &eve, &dave, next_nonce(&c, &eve))]);
    let rec2: ReceiptRecord = record(&c, StateKey::Receipt(r2.receipt_id)).unwrap();
    assert_eq!((rec2.minted(), rec2.miner_payment), (0, 990));
    assert_supply(&c, total);
}

#[test]
fn the_multiplier_decays_with_verified_work() {
    let (mut c, _) = economy_chain();
    let (bob, eve, dave) = (key("bob"), key("eve"), key("dave"));
    // Pretend the network has delivered 100,000 hours: the multiplier is 1 + 9/e.
    c.state.supply.verified_units = c.spec.economy.units_per_hour * 100_000;
    let tx = post(&c, &bob, 1_000, 1_000, addr("dave"), c.height + 100);
    let job_id = tx.hash();
    c.block(addr("alice"), &[tx]);
    c.block(addr("alice"), &[]);
    let r = receipt_for(&c, job_id, &eve, 1_000, 5);
    c.block(addr("alice"), &[claim(&c, r.clone(), &eve, &dave, next_nonce(&c, &eve))]);
    let rec: ReceiptRecord = record(&c, StateKey::Receipt(r.receipt_id)).unwrap();
    let want = (1_000.0 * 1_000.0 * (1.0 + 9.0 * (-1.0f64).exp())) as u128;
    assert!(rec.minted().abs_diff(want) <= 1, "minted {} want {want}", rec.minted());
}

#[test]
fn stake_unstake_and_the_unbonding_period() {
    let mut c = Chain::dev();
    let total = c.state.supply.total;
    let ferdie = key("ferdie");
    let min = c.spec.economy.min_stake;
    let (out, _) = c.block(addr("alice"), &[stake(&c, &ferdie, min)]);
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(c.state.acc(&addr("ferdie")).staked, min);
    let v = validators::current(&c.state).unwrap();
    assert!(v.candidates.contains(&ferdie.public()), "a candidate from its first stake at the minimum");
    assert!(!v.active.iter().any(|(k, _)| *k == ferdie.public()), "but not active before an epoch boundary");
    let unstake =
        |c: &Chain, amount| signed(&c.spec, &ferdie, next_nonce(c, &ferdie), Payload::Unstake(StakeAmount { amount }));
    let (out, _) = c.block(addr("alice"), &[unstake(&c, min + 1)]);
    assert_eq!(out[0].result, Err(TxFailure::InsufficientStake { staked: min, amount: min + 1 }));
    let (out, _) = c.block(addr("alice"), &[unstake(&c, 1_000)]);
    assert_eq!(out[0].result, Ok(()));
    let at = c.height + c.spec.economy.unbonding_period;
    let acc = c.state.acc(&addr("ferdie"));
    assert_eq!((acc.staked, acc.unbonding, acc.unbonding_entries), (min - 1_000, 1_000, 1));
    for _ in 1..super::unbonding::MAX_UNBONDING_ENTRIES {
        c.block(addr("alice"), &[unstake(&c, 1)]);
    }
    let (out, _) = c.block(addr("alice"), &[unstake(&c, 1)]);
    assert_eq!(out[0].result, Err(TxFailure::TooManyUnbonding { limit: 7 }));
    assert_supply(&c, total);
    let balance = c.state.acc(&addr("ferdie")).balance;
    while c.height < at {
        c.block(addr("alice"), &[]);
    }
    let acc = c.state.acc(&addr("ferdie"));
    assert_eq!(acc.balance, balance + 1_000, "the first entry is released at its height");
    assert_eq!((acc.unbonding, acc.unbonding_entries), (6, 6));
    assert_supply(&c, total);
}

#[test]
fn a_new_staker_joins_the_validator_set_at_the_epoch_boundary() {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.consensus.epoch_length = 5;
    let mut c = Chain::new(spec);
    let ferdie = key("ferdie");
    let min = c.spec.economy.min_stake;
    c.block(addr("alice"), &[stake(&c, &ferdie, min * 2)]);
    while c.height % 5 != 4 {
        c.block(addr("alice"), &[]);
        assert_eq!(validators::current(&c.state).unwrap().active.len(), 1);
    }
    c.block(addr("alice"), &[]);
    let active = validators::current(&c.state).unwrap().active;
    assert_eq!(active.len(), 2, "{active:?}");
    assert!(active.contains(&(ferdie.public(), min * 2)));
}

#[derive(Debug, Clone)]
enum EconOp {
    Post {
        client: usize,
        price: u128,
        max_units: u64,
        ttl: u64,
    },
    Cancel {
        by: usize,
        job: usize,
    },
    Claim {
        job: usize,
        units: u64,
        id: u8,
        honest_coordinator: bool,
        true_result: bool,
    },
    Fraud {
        by: usize,
        id: u8,
        bond_ok: bool,
    },
    Stake {
        who: usize,
        amount: u128,
    },
    Unstake {
        who: usize,
        amount: u128,
    },
    Delegate {
        who: usize,
        to: usize,
        amount: u128,
    },
    Undelegate {
        who: usize,
        to: usize,
        amount: u128,
    },
    /// A miner's validator stops (or resumes) signing precommits.
    Down {
        who: usize,
        down: bool,
    },
    Unjail {
        who: usize,
    },
}

fn arb_econ_op() -> impl Strategy<Value = EconOp> {
    prop_oneof![
        3 => (0usize..3, 1u128..5_000_000, 1u64..2_000_000, 1u64..8)
            .prop_map(|(client, price, max_units, ttl)| EconOp::Post { client, price, max_units, ttl }),
        1 => (0usize..3, 0usize..8).prop_map(|(by, job)| EconOp::Cancel { by, job }),
        4 => (0usize..8, 0u64..2_500_000, 0u8..6, prop::bool::weighted(0.8), prop::bool::ANY).prop_map(
            |(job, units, id, honest_coordinator, true_result)| EconOp::Claim {
                job,
                units,
                id,
                honest_coordinator,
                true_result
            }
        ),
        3 => (0usize..3, 0u8..6, prop::bool::weighted(0.8)).prop_map(|(by, id, bond_ok)| EconOp::Fraud { by, id, bond_ok }),
        1 => (0usize..3, 1u128..200_000_000_000).prop_map(|(who, amount)| EconOp::Stake { who, amount }),
        1 => (0usize..3, 1u128..200_000_000_000).prop_map(|(who, amount)| EconOp::Unstake { who, amount }),
        1 => (0usize..3, 0usize..3, 1u128..200_000_000_000).prop_map(|(who, to, amount)| EconOp::Delegate {
            who,
            to,
            amount
        }),
        1 => (0usize..3, 0usize..3, 1u128..200_000_000_000).prop_map(|(who, to, amount)| EconOp::Undelegate {
            who,
            to,
            amount
        }),
        1 => (0usize..3, prop::bool::ANY).prop_map(|(who, down)| EconOp::Down { who, down }),
        1 => (0usize..3).prop_map(|who| EconOp::Unjail { who }),
    ]
}

/// Clients bob, charlie, dave; miners (and stakers) eve, ferdie, charlie; coordinator alice.
const CLIENTS: [&str; 3] = ["bob", "charlie", "dave"];
const MINERS: [&str; 3] = ["eve", "ferdie", "charlie"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Over random blocks of every economy payload (fraud proofs included, against receipts
    /// that tell the truth or lie): holdings = supply = genesis + rewards + receipt mints -
    /// burns; compute is minted only by accepted receipts for escrowed jobs that no fraud
    /// proof overturned, and only wrong receipts are overturned;
    /// a receipt id pays once; escrow equals the prices of the open jobs; the builder's and
    /// the importer's transitions agree.
    #[test]
    fn random_economy_blocks_conserve_supply(blocks in prop::collection::vec(prop::collection::vec(arb_econ_op(), 0..8), 1..12)) {
        let mut spec = ChainSpec::load("dev").unwrap();
        spec.economy.challenge_blocks = 3;
        spec.economy.unbonding_period = 4;
        spec.consensus.epoch_length = 4;
        // Miners become validators at the boundaries, and may be slashed for downtime.
        spec.economy.min_stake = spec.economy.miner_min_stake;
        spec.consensus.signed_blocks_window = 4;
        spec.consensus.downtime_jail_blocks = 2;
        let mut c = Chain::new(spec);
        let total = c.state.supply.total;
        // Every job runs the word count on one input, so a claim can tell the truth or lie and
        // a fraud proof be refereed.
        let program = crate::vm::compile_wat(crate::vm::samples::WORDCOUNT).unwrap();
        let input = b"to be or not to be".to_vec();
        let (ph, ih) = (crate::vm::blob_hash(&program), crate::vm::blob_hash(&input));
        c.state.blobs.insert(ph, program.clone());
        c.state.blobs.insert(ih, input.clone());
        let truth = |max_units: u64| match crate::vm::run(&program, &input, max_units, &crate::vm::Limits::default()) {
            Ok(crate::vm::Execution { outcome: crate::vm::Outcome::Completed { output }, units }) => {
                Some((crate::vm::output_hash(&output), units))
            }
            _ => None,
        };
        // The miners start staked, so that claims (and challenges to them) happen often.
        let stakes: Vec<SealedTx> = MINERS.iter().map(|m| stake(&c, &key(m), c.spec.economy.miner_min_stake)).collect();
        c.block(addr("alice"), &stakes);
        let mut jobs: Vec<Hash> = Vec::new();
        let mut paid_ids: BTreeSet<Hash> = BTreeSet::new();
        for ops in &blocks {
            let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
            let mut next = |c: &Chain, k: &Keypair| {
                let a = Address::from_public_key(&k.public());
                let n = nonces.entry(a).or_insert_with(|| next_nonce(c, k));
                *n += 1;
                *n - 1
            };
            let mut txs = Vec::new();
            for op in ops {
                let tx = match op {
                    EconOp::Post { client, price, max_units, ttl } => {
                        let k = key(CLIENTS[*client]);
                        let p = JobPost { program: ph, input: ih, max_units: *max_units, price: *price,
                            coordinator: addr("alice"), deadline: c.height + 1 + ttl, verifiers: 0 };
                        let tx = signed(&c.spec, &k, next(&c, &k), Payload::JobPost(p));
                        jobs.push(tx.hash());
                        tx
                    }
                    EconOp::Cancel { by, job } => {
                        let Some(job_id) = jobs.get(*job).copied() else { continue };
                        let k = key(CLIENTS[*by]);
                        signed(&c.spec, &k, next(&c, &k), Payload::JobCancel(JobCancel { job_id }))
                    }
                    EconOp::Claim { job, units, id, honest_coordinator, true_result } => {
                        let Some(job_id) = jobs.get(*job).copied() else { continue };
                        let Some(j) = record::<Job>(&c, StateKey::Job(job_id)) else { continue };
                        let miner = key(MINERS[usize::from(*id) % 3]);
                        let (output_hash, compute_units) = match truth(j.post.max_units) {
                            Some(t) if *true_result => t,
                            _ => (Hash([3; 32]), *units),
                        };
                        let r = ComputeReceipt { receipt_id: Hash([*id; 32]), job_id, client: j.client,
                            miner: Address::from_public_key(&miner.public()), compute_units, price: j.post.price,
                            output_hash, metering_version: 1 };
                        let coord = if *honest_coordinator { key("alice") } else { key("bob") };
                        let n = next(&c, &miner);
                        claim(&c, r, &miner, &coord, n)
                    }
                    EconOp::Fraud { by, id, bond_ok } => {
                        let k = key(CLIENTS[*by]);
                        let bond = if *bond_ok { c.spec.economy.challenge_bond } else { 1 };
                        let p = crate::primitives::FraudProof { receipt_id: Hash([*id; 32]), output_hash: Hash::ZERO, units: 0, bond };
                        signed(&c.spec, &k, next(&c, &k), Payload::FraudProof(p))
                    }
                    EconOp::Stake { who, amount } => {
                        let k = key(MINERS[*who]);
                        signed(&c.spec, &k, next(&c, &k), Payload::Stake(StakeAmount { amount: *amount }))
                    }
                    EconOp::Unstake { who, amount } => {
                        let k = key(MINERS[*who]);
                        signed(&c.spec, &k, next(&c, &k), Payload::Unstake(StakeAmount { amount: *amount }))
                    }
                    EconOp::Delegate { who, to, amount } | EconOp::Undelegate { who, to, amount } => {
                        let k = key(CLIENTS[*who]);
                        let d = crate::primitives::Delegation { validator: addr(MINERS[*to]), amount: *amount };
                        let p = if matches!(op, EconOp::Delegate { .. }) { Payload::Delegate(d) } else { Payload::Undelegate(d) };
                        signed(&c.spec, &k, next(&c, &k), p)
                    }
                    EconOp::Down { who, down } => {
                        let k = key(MINERS[*who]).public();
                        c.absent.retain(|a| *a != k);
                        if *down {
                            c.absent.push(k);
                        }
                        continue;
                    }
                    EconOp::Unjail { who } => {
                        let k = key(MINERS[*who]);
                        signed(&c.spec, &k, next(&c, &k), Payload::Unjail)
                    }
                };
                txs.push(tx);
            }
            let proposer = addr("alice");
            let imported = apply_block(&c.state, &c.spec, c.env(c.height + 1, proposer), BlockVotes { last_commit: c.last_commit(c.height + 1).as_ref(), evidence: &[] }, &txs).unwrap();
            let before = c.state.clone();
            let (outcomes, diff) = c.block(proposer, &txs);
            assert_history_complete(&before, &imported);
            prop_assert_eq!(&imported.outcomes, &outcomes);
            prop_assert_eq!(&imported.diff, &diff);
            for (tx, o) in txs.iter().zip(&outcomes) {
                if let (Payload::ReceiptClaim(cl), Ok(())) = (&tx.tx.payload, &o.result) {
                    prop_assert!(paid_ids.insert(cl.receipt.receipt_id), "receipt id paid twice");
                }
            }
            assert_supply(&c, total);
            // Compute is minted only by accepted receipts that no fraud proof overturned, and a
            // wrong receipt never matures.
            let mut minted_by_receipts = 0u128;
            for id in &paid_ids {
                let rec: ReceiptRecord = record(&c, StateKey::Receipt(*id)).unwrap();
                let job: Job = record(&c, StateKey::Job(rec.job_id)).unwrap();
                let right = truth(job.post.max_units) == Some((rec.output_hash, rec.compute_units));
                match rec.status {
                    ReceiptStatus::Invalidated => prop_assert!(!right, "a right receipt was invalidated"),
                    ReceiptStatus::Matured | ReceiptStatus::Pending => minted_by_receipts += rec.minted(),
                }
                if let Some(v) = record::<crate::ledger::payload::fraud::Verdict>(&c, StateKey::Verdict(*id, addr("bob"))) {
                    prop_assert_eq!(v.upheld, !right, "the referee's verdict is re-execution's");
                }
            }
            let s = c.state.supply;
            prop_assert_eq!(s.minted_compute, minted_by_receipts, "compute mint only from standing receipts");
            // Escrow holds exactly the prices of the open jobs.
            let mut escrow = 0u128;
            for id in &jobs {
                if let Some(j) = record::<Job>(&c, StateKey::Job(*id)) {
                    if j.status == JobStatus::Open {
                        escrow += j.post.price;
                    }
                }
            }
            let reserved: u128 = c.state.accounts.values().map(|a| a.reserved).sum();
            prop_assert_eq!(reserved, escrow);
        }
    }
}

/// Two precommits by `who` for different blocks at `height`.
pub(super) fn equivocation(
    spec: &ChainSpec,
    who: &Keypair,
    height: u64,
    kind: crate::primitives::VoteKind,
) -> crate::primitives::Evidence {
    let vote = |b: u8| {
        let v = crate::primitives::Vote {
            chain_id: spec.chain_id.clone(),
            height,
            round: 0,
            kind,
            block_hash: Some(Hash([b; 32])),
        };
        crate::primitives::SignedVote { signature: who.sign(&v.signing_hash()), vote: v, validator: who.public() }
    };
    crate::primitives::Evidence { first: vote(1), second: vote(2) }
}

#[test]
fn double_signing_is_slashed_once_per_height_and_jails() {
    let mut spec = ChainSpec::load("local").unwrap();
    spec.consensus.epoch_length = 4;
    let mut c = Chain::new(spec);
    let total = c.state.supply.total;
    c.block(addr("alice"), &[]);
    c.block(addr("alice"), &[]);
    let dave = key("dave");
    let staked = c.state.acc(&addr("dave")).staked;
    let bob_before = c.state.acc(&addr("bob")).balance;
    // Prevote and precommit equivocation at one height: one offence window, one slash.
    let evidence = [
        equivocation(&c.spec, &dave, 1, crate::primitives::VoteKind::Prevote),
        equivocation(&c.spec, &dave, 1, crate::primitives::VoteKind::Precommit),
    ];
    let height = c.height + 1;
    let out = apply_block(
        &c.state,
        &c.spec,
        c.env(height, addr("bob")),
        BlockVotes { last_commit: c.last_commit(height).as_ref(), evidence: &evidence },
        &[],
    )
    .unwrap();
    let (root, batch) = apply_diff(&c.tree, &out.diff, height).unwrap();
    c.tree.write_node_batch(&batch.node_batch).unwrap();
    c.state.apply(&out.diff);
    c.height = height;
    c.roots.push(root);
    let slashed = staked * 500 / 10_000;
    let reporter = slashed * 500 / 10_000;
    assert_eq!(c.state.acc(&addr("dave")).staked, staked - slashed);
    assert_eq!(c.state.acc(&addr("bob")).balance, bob_before + reporter + REWARD, "the proposer reports");
    assert_eq!(c.state.supply.burned, slashed - reporter);
    assert_supply(&c, total);
    let v = validators::current(&c.state).unwrap();
    assert!(v.is_jailed(&dave.public()));
    // The same evidence cannot be recorded twice.
    let again = apply_block(
        &c.state,
        &c.spec,
        c.env(height + 1, addr("bob")),
        BlockVotes { last_commit: c.last_commit(height + 1).as_ref(), evidence: &evidence[..1] },
        &[],
    );
    assert!(matches!(again, Err(BlockError::Evidence { index: 0, .. })), "{again:?}");
    // At the epoch boundary the jailed validator leaves the set.
    while c.height % 4 != 0 {
        c.block(addr("alice"), &[]);
    }
    let active = validators::current(&c.state).unwrap().active;
    assert_eq!(active.len(), 3);
    assert!(!active.iter().any(|(k, _)| *k == dave.public()));
}

#[test]
fn delegation_adds_to_effective_stake_unbonds_and_is_slashed_pro_rata() {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.consensus.epoch_length = 4;
    let mut c = Chain::new(spec);
    let total = c.state.supply.total;
    let (ferdie, bob) = (key("ferdie"), key("bob"));
    let min = c.spec.economy.min_stake;
    let delegate = |c: &Chain, who: &Keypair, validator: Address, amount| {
        signed(&c.spec, who, next_nonce(c, who), Payload::Delegate(crate::primitives::Delegation { validator, amount }))
    };
    // Only candidates take delegations.
    let (out, _) = c.block(addr("alice"), &[delegate(&c, &bob, addr("ferdie"), 5)]);
    assert_eq!(out[0].result, Err(TxFailure::NotACandidate(addr("ferdie").to_bech32("ait"))));
    // Ferdie stakes the minimum; bob delegates 3x that, so ferdie outweighs alice's own stake.
    c.block(addr("alice"), &[stake(&c, &ferdie, min)]);
    let (out, _) = c.block(addr("alice"), &[delegate(&c, &bob, addr("ferdie"), 3 * min)]);
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(c.state.acc(&addr("bob")).delegated, 3 * min);
    assert_supply(&c, total);
    while c.height % 4 != 0 {
        c.block(addr("alice"), &[]);
    }
    let active = validators::current(&c.state).unwrap().active;
    assert!(active.contains(&(ferdie.public(), 4 * min)), "effective stake = own + delegated: {active:?}");

    // Ferdie double-signs: it and bob each lose 5% of what they bonded.
    let e = equivocation(&c.spec, &ferdie, c.height, crate::primitives::VoteKind::Precommit);
    let height = c.height + 1;
    let out = apply_block(
        &c.state,
        &c.spec,
        c.env(height, addr("alice")),
        BlockVotes { last_commit: c.last_commit(height).as_ref(), evidence: &[e] },
        &[],
    )
    .unwrap();
    let (root, batch) = apply_diff(&c.tree, &out.diff, height).unwrap();
    c.tree.write_node_batch(&batch.node_batch).unwrap();
    c.state.apply(&out.diff);
    (c.height, c.roots) = (height, [c.roots.clone(), vec![root]].concat());
    assert_eq!(c.state.acc(&addr("ferdie")).staked, min - min / 20);
    assert_eq!(c.state.acc(&addr("bob")).delegated, 3 * min - 3 * min / 20);
    assert_supply(&c, total);

    // Undelegating more than is bonded fails; the rest unbonds like a stake.
    let undelegate = |c: &Chain, amount| {
        signed(
            &c.spec,
            &bob,
            next_nonce(c, &bob),
            Payload::Undelegate(crate::primitives::Delegation { validator: addr("ferdie"), amount }),
        )
    };
    let bonded = 3 * min - 3 * min / 20;
    let (out, _) = c.block(addr("alice"), &[undelegate(&c, bonded + 1)]);
    assert_eq!(out[0].result, Err(TxFailure::InsufficientDelegation { delegated: bonded, amount: bonded + 1 }));
    let (out, _) = c.block(addr("alice"), &[undelegate(&c, bonded)]);
    assert_eq!(out[0].result, Ok(()));
    let acc = c.state.acc(&addr("bob"));
    assert_eq!((acc.delegated, acc.unbonding, acc.unbonding_entries), (0, bonded, 1));
    assert_eq!(
        record::<u128>(&c, StateKey::Delegation(addr("bob"), addr("ferdie"))),
        None,
        "an emptied delegation is deleted"
    );
    assert_supply(&c, total);
}

// ---------------------------------------------------------------------------------------------
// Fraud proofs and the referee.
// ---------------------------------------------------------------------------------------------

/// The economy chain with the word-count job posted by bob (coordinator dave) and its blobs
/// held; returns the chain, the genesis total, the job id and what the job really gives.
fn refereed_job() -> (Chain, u128, Hash, Hash, u64) {
    let (mut c, total) = economy_chain();
    let (job, output, units) = post_wordcount(&mut c, 0);
    (c, total, job, output, units)
}

/// Bob posts the word-count job on a real input (its blobs held, so it can be refereed) with
/// `verifiers`, coordinated by dave; returns the job id, the true output hash and units.
pub(super) fn post_wordcount(c: &mut Chain, verifiers: u8) -> (Hash, Hash, u64) {
    let program = crate::vm::compile_wat(crate::vm::samples::WORDCOUNT).unwrap();
    let input = b"one two three four".to_vec();
    let (ph, ih) = (crate::vm::blob_hash(&program), crate::vm::blob_hash(&input));
    let real = crate::vm::run(&program, &input, 1_000_000, &crate::vm::Limits::default()).unwrap();
    let crate::vm::Outcome::Completed { output } = real.outcome else { panic!("sample fails") };
    c.state.blobs.insert(ph, program);
    c.state.blobs.insert(ih, input);
    let p = JobPost {
        program: ph,
        input: ih,
        max_units: 1_000_000,
        price: 1_000_000,
        coordinator: addr("dave"),
        deadline: 100,
        verifiers,
    };
    let tx = signed(&c.spec, &key("bob"), next_nonce(c, &key("bob")), Payload::JobPost(p));
    let job = tx.hash();
    let (out, _) = c.block(addr("alice"), &[tx]);
    assert_eq!(out[0].result, Ok(()));
    c.block(addr("alice"), &[]); // the miner draw's seed
    (job, crate::vm::output_hash(&output), real.units)
}

fn fraud(c: &Chain, who: &Keypair, receipt_id: Hash, bond: u128) -> SealedTx {
    let p = crate::primitives::FraudProof { receipt_id, output_hash: Hash::ZERO, units: 0, bond };
    signed(&c.spec, who, next_nonce(c, who), Payload::FraudProof(p))
}

/// A receipt with a wrong output and one with inflated units are both caught: everything
/// they paid is undone, the client is refunded in full, the miner loses more than it would
/// have gained, and the challenger is paid; nothing of it ever matures.
#[test]
fn a_wrong_receipt_is_refereed_slashed_and_refunded() {
    for (wrong_output, extra_units) in [(true, 0), (false, 7)] {
        let (mut c, total, job, real_output, real_units) = refereed_job();
        let mut r = receipt_for(&c, job, &key("eve"), real_units + extra_units, 0x51);
        r.output_hash = if wrong_output { Hash([0xee; 32]) } else { real_output };
        let id = r.receipt_id;
        let claim_tx = claim(&c, r, &key("eve"), &key("dave"), next_nonce(&c, &key("eve")));
        c.block(addr("alice"), &[claim_tx]);
        let rec: ReceiptRecord = record(&c, StateKey::Receipt(id)).unwrap();
        let (bob0, eve0, dave0, ferdie0) = (
            c.state.acc(&addr("bob")),
            c.state.acc(&addr("eve")),
            c.state.acc(&addr("dave")),
            c.state.acc(&addr("ferdie")),
        );
        assert!(eve0.pending > 0 && c.state.supply.minted_compute > 0);
        let rep = crate::ledger::reputation::read(&c.state, &addr("eve")).unwrap();
        assert_eq!((rep.accepted, rep.failed), (1, 0));

        let bond = c.spec.economy.challenge_bond;
        let proof = fraud(&c, &key("ferdie"), id, bond);
        let (out, _) = c.block(addr("alice"), std::slice::from_ref(&proof));
        assert_eq!(out[0].result, Ok(()));
        let gain = rec.miner_payment + rec.mint_miner;
        let (bob1, eve1, dave1, ferdie1) = (
            c.state.acc(&addr("bob")),
            c.state.acc(&addr("eve")),
            c.state.acc(&addr("dave")),
            c.state.acc(&addr("ferdie")),
        );
        assert_eq!(bob1.balance, bob0.balance + 1_000_000, "the whole price back");
        assert_eq!(eve1.pending, eve0.pending - gain);
        let miner_cut = (eve0.staked / 10).max(gain).min(eve0.staked);
        assert_eq!(eve1.staked, eve0.staked - miner_cut, "at least the gain, 10% of stake here");
        assert_eq!(dave1.pending, dave0.pending - rec.mint_coordinator);
        let share = miner_cut * u128::from(c.spec.economy.reporter_bps) / 10_000;
        assert_eq!(ferdie1.balance, ferdie0.balance - proof.tx.fee + share, "bond back plus the reporter share");
        let v: crate::ledger::payload::fraud::Verdict = record(&c, StateKey::Verdict(id, addr("ferdie"))).unwrap();
        assert!(v.upheld);
        assert_eq!((v.output_hash, v.units, v.miner_slashed), (Some(real_output), real_units, miner_cut));
        assert_eq!(record::<ReceiptRecord>(&c, StateKey::Receipt(id)).unwrap().status, ReceiptStatus::Invalidated);
        assert_eq!(record::<Job>(&c, StateKey::Job(job)).unwrap().status, JobStatus::Refunded);
        let rep = crate::ledger::reputation::read(&c.state, &addr("eve")).unwrap();
        assert_eq!((rep.accepted, rep.failed), (0, 1), "the overturned receipt counts as failed");
        assert_eq!(c.state.supply.minted_compute, 0, "the mint is undone");
        assert_eq!(c.state.supply.verified_units, 0);
        assert_supply(&c, total);
        // The window closing pays nothing.
        for _ in 0..c.spec.economy.challenge_blocks + 1 {
            c.block(addr("alice"), &[]);
        }
        assert_eq!(c.state.acc(&addr("eve")).pending, eve1.pending);
        assert_eq!(c.state.acc(&addr("eve")).balance, eve1.balance);
        assert_supply(&c, total);
        // The receipt can be challenged no more.
        let again = fraud(&c, &key("ferdie"), id, bond);
        let (out, _) = c.block(addr("alice"), &[again]);
        assert_eq!(out[0].result, Err(TxFailure::ReceiptNotPending { status: ReceiptStatus::Invalidated }));
    }
}

/// A challenge to a correct receipt loses its bond; the receipt matures as if unchallenged.
#[test]
fn a_false_challenge_loses_its_bond() {
    let (mut c, total, job, real_output, real_units) = refereed_job();
    let mut r = receipt_for(&c, job, &key("eve"), real_units, 0x52);
    r.output_hash = real_output;
    let id = r.receipt_id;
    let claim_tx = claim(&c, r, &key("eve"), &key("dave"), next_nonce(&c, &key("eve")));
    c.block(addr("alice"), &[claim_tx]);
    let rec: ReceiptRecord = record(&c, StateKey::Receipt(id)).unwrap();
    let (eve0, ferdie0, burned0) = (c.state.acc(&addr("eve")), c.state.acc(&addr("ferdie")), c.state.supply.burned);
    let bond = c.spec.economy.challenge_bond;
    let proof = fraud(&c, &key("ferdie"), id, bond);
    let (out, _) = c.block(addr("alice"), std::slice::from_ref(&proof));
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(
        c.state.acc(&addr("ferdie")).balance,
        ferdie0.balance - proof.tx.fee - bond,
        "slash_false_challenge_bps 100%"
    );
    assert_eq!(c.state.supply.burned, burned0 + bond);
    assert_eq!(c.state.acc(&addr("eve")), eve0, "the miner is untouched");
    let v: crate::ledger::payload::fraud::Verdict = record(&c, StateKey::Verdict(id, addr("ferdie"))).unwrap();
    assert!(!v.upheld);
    assert_supply(&c, total);
    while c.height < rec.matures_at {
        c.block(addr("alice"), &[]);
    }
    assert_eq!(record::<ReceiptRecord>(&c, StateKey::Receipt(id)).unwrap().status, ReceiptStatus::Matured);
    assert_eq!(c.state.acc(&addr("eve")).balance, eve0.balance + rec.miner_payment + rec.mint_miner);
    // After maturity no challenge is possible; nor for an unknown receipt or with a small bond.
    let late = fraud(&c, &key("ferdie"), id, bond);
    let unknown = fraud(&c, &key("charlie"), Hash([0x99; 32]), bond);
    let (out, _) = c.block(addr("alice"), &[late, unknown]);
    assert_eq!(out[0].result, Err(TxFailure::ReceiptNotPending { status: ReceiptStatus::Matured }));
    assert_eq!(out[1].result, Err(TxFailure::UnknownReceipt(Hash([0x99; 32]))));
    assert_supply(&c, total);
}

#[test]
fn a_referee_without_the_blobs_leaves_the_proof_out_and_low_bonds_fail() {
    let (mut c, _, job, real_output, real_units) = refereed_job();
    let mut r = receipt_for(&c, job, &key("eve"), real_units, 0x53);
    r.output_hash = real_output;
    let id = r.receipt_id;
    let claim_tx = claim(&c, r, &key("eve"), &key("dave"), next_nonce(&c, &key("eve")));
    c.block(addr("alice"), &[claim_tx]);
    let low = fraud(&c, &key("ferdie"), id, c.spec.economy.challenge_bond - 1);
    let (out, _) = c.block(addr("alice"), &[low]);
    assert_eq!(
        out[0].result,
        Err(TxFailure::BondTooLow { bond: c.spec.economy.challenge_bond - 1, min: c.spec.economy.challenge_bond })
    );
    let program = record::<Job>(&c, StateKey::Job(job)).unwrap().post.program;
    c.state.blobs.remove(&program);
    let proof = fraud(&c, &key("ferdie"), id, c.spec.economy.challenge_bond);
    let mut exec = c.executor(addr("alice"));
    assert_eq!(
        exec.apply(&proof),
        Err(TxInvalid::Fraud(crate::ledger::payload::fraud::FraudInvalid::BlobUnavailable(program)))
    );
}

#[test]
fn jobs_too_large_to_referee_need_three_verifiers() {
    let (mut c, _) = economy_chain();
    let limit = c.spec.economy.max_dispute_units;
    let p = |verifiers| JobPost {
        program: Hash([1; 32]),
        input: Hash([2; 32]),
        max_units: limit + 1,
        price: 10,
        coordinator: addr("dave"),
        deadline: 100,
        verifiers,
    };
    let bob = key("bob");
    let few = signed(&c.spec, &bob, next_nonce(&c, &bob), Payload::JobPost(p(2)));
    let enough = signed(&c.spec, &bob, next_nonce(&c, &bob) + 1, Payload::JobPost(p(3)));
    let (out, _) = c.block(addr("alice"), &[few, enough]);
    assert_eq!(out[0].result, Err(TxFailure::NeedsVerifiers { max_units: limit + 1, limit, verifiers: 2 }));
    assert_eq!(out[1].result, Ok(()));
}

// ---------------------------------------------------------------------------------------------
// Parameter updates.
// ---------------------------------------------------------------------------------------------

fn param(c: &Chain, who: &Keypair, name: &str, value: u128) -> SealedTx {
    let p = crate::primitives::ParamUpdate { name: name.into(), value };
    signed(&c.spec, who, next_nonce(c, who), Payload::ParamUpdate(p))
}

/// The authority's update is in force from the next block, for every rule that reads it;
/// anyone else's fails; unknown names and unsound values are refused.
#[test]
fn param_updates_by_the_authority_take_effect_next_block() {
    let (mut c, total) = economy_chain();
    assert_eq!(c.spec.authority.as_deref(), Some(addr("alice").to_bech32("ait").as_str()));
    let tx = param(&c, &key("alice"), "challenge_blocks", 5);
    let bob_tx = param(&c, &key("bob"), "challenge_blocks", 1);
    let (out, _) = c.block(addr("alice"), &[tx, bob_tx]);
    assert_eq!(out[0].result, Ok(()));
    assert_eq!(out[1].result, Err(TxFailure::NotAuthority));
    let updates = crate::ledger::payload::params::updates(&c.state).unwrap();
    assert_eq!(updates, vec![("challenge_blocks".to_string(), 5)]);
    // A receipt claimed now matures 5 blocks later, not 20.
    let bob = key("bob");
    let job = post(&c, &bob, 1_000, 100, addr("dave"), c.height + 50);
    let job_id = job.hash();
    c.block(addr("alice"), &[job]);
    c.block(addr("alice"), &[]);
    let r = receipt_for(&c, job_id, &key("eve"), 10, 0x61);
    let id = r.receipt_id;
    let claim_tx = claim(&c, r, &key("eve"), &key("dave"), next_nonce(&c, &key("eve")));
    c.block(addr("alice"), &[claim_tx]);
    let rec: ReceiptRecord = record(&c, StateKey::Receipt(id)).unwrap();
    assert_eq!(rec.matures_at, c.height + 5);
    assert_supply(&c, total);
    // Unknown names are stateless errors; unsound combinations fail in the block.
    let unknown = param(&c, &key("alice"), "halving_interval", 1);
    assert!(matches!(check_stateless(&c.spec, &unknown), Err(TxInvalid::Payload { field: "name", .. })));
    let too_big = param(&c, &key("alice"), "burn_bps", 20_000);
    let (out, _) = c.block(addr("alice"), &[too_big]);
    assert!(matches!(&out[0].result, Err(TxFailure::ParamInvalid(m)) if m.contains("burn_bps")), "{out:?}");
    let min_over_max = param(&c, &key("alice"), "pow_difficulty_min", 60);
    let (out, _) = c.block(addr("alice"), &[min_over_max]);
    assert!(matches!(&out[0].result, Err(TxFailure::ParamInvalid(_))), "{out:?}");
}

/// A miner that unstakes everything right after a wrong claim is still slashed, from its
/// unbonding stake, and the unbonding entry releases only what is left.
#[test]
fn unstaking_after_a_wrong_claim_does_not_escape_the_slash() {
    let (mut c, total, job, _, real_units) = refereed_job();
    let eve = key("eve");
    let r = receipt_for(&c, job, &eve, real_units, 0x54); // output Hash([9; 32]): wrong
    let id = r.receipt_id;
    let claim_tx = claim(&c, r, &eve, &key("dave"), next_nonce(&c, &eve));
    c.block(addr("alice"), &[claim_tx]);
    let staked = c.state.acc(&addr("eve")).staked;
    let unstake = signed(&c.spec, &eve, next_nonce(&c, &eve), Payload::Unstake(StakeAmount { amount: staked }));
    c.block(addr("alice"), &[unstake]);
    let before = c.state.acc(&addr("eve"));
    assert_eq!((before.staked, before.unbonding), (0, staked));
    let proof = fraud(&c, &key("ferdie"), id, c.spec.economy.challenge_bond);
    let (out, _) = c.block(addr("alice"), &[proof]);
    assert_eq!(out[0].result, Ok(()));
    let v: crate::ledger::payload::fraud::Verdict = record(&c, StateKey::Verdict(id, addr("ferdie"))).unwrap();
    assert!(v.upheld && v.miner_slashed > 0);
    let after = c.state.acc(&addr("eve"));
    assert_eq!(after.unbonding, staked - v.miner_slashed, "slashed from the unbonding stake");
    assert_supply(&c, total);
    for _ in 0..c.spec.economy.unbonding_period + 1 {
        c.block(addr("alice"), &[]);
    }
    let released = c.state.acc(&addr("eve"));
    assert_eq!((released.unbonding, released.unbonding_entries), (0, 0));
    assert_eq!(released.balance, after.balance + staked - v.miner_slashed, "only what was left comes back");
    assert_supply(&c, total);
}
