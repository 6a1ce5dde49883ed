//! VERDICT: drawn verifiers confirm or dispute a receipt; confirmers share the treasury's
//! cut at maturity, the silent miss their draw, and a disagreeing verdict is refereed.

use super::economy::{assert_supply, claim, next_nonce, signed, stake};
use super::*;
use crate::ledger::draw;
use crate::ledger::payload::job::{Job, JobStatus};
use crate::ledger::payload::receipt::{ReceiptRecord, ReceiptStatus};
use crate::primitives::{ComputeReceipt, JobPost, VerifierVerdict};

/// Eve mines; ferdie and charlie are staked workers; bob posts a real word-count job with
/// two verifiers that dave coordinates. Returns the chain, its genesis total, the job id and
/// the true output hash and units.
fn verified_job() -> (Chain, u128, Hash, Hash, u64) {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.economy.miner_draw_blocks = 0; // eve claims; the verifier draw is what is tested
    let mut c = Chain::new(spec);
    let total = c.state.supply.total;
    let min = c.spec.economy.miner_min_stake;
    let stakes: Vec<SealedTx> = ["eve", "ferdie", "charlie"].iter().map(|n| stake(&c, &key(n), min)).collect();
    c.block(addr("alice"), &stakes);
    let (job, output, units) = super::economy::post_wordcount(&mut c, 2);
    (c, total, job, output, units)
}

/// Eve claims the job with `output_hash` and `units`; returns the receipt id.
fn eve_claims(c: &mut Chain, job_id: Hash, output_hash: Hash, units: u64) -> Hash {
    let job: Job = read(&c.state, &StateKey::Job(job_id)).unwrap().unwrap();
    let r = ComputeReceipt {
        receipt_id: Hash([0x51; 32]),
        job_id,
        client: job.client,
        miner: addr("eve"),
        compute_units: units,
        price: job.post.price,
        output_hash,
        metering_version: c.spec.economy.metering_version,
    };
    let id = r.receipt_id;
    let eve = key("eve");
    let (out, _) = c.block(addr("alice"), &[claim(c, r, &eve, &key("dave"), next_nonce(c, &eve))]);
    assert_eq!(out[0].result, Ok(()));
    c.block(addr("alice"), &[]); // the verifiers' draw is seeded by this block's beacon
    id
}

fn drawn(c: &Chain, receipt_id: Hash) -> Vec<Address> {
    draw::verifiers(&c.state, &receipt_id).unwrap()
}

fn verdict(c: &Chain, who: &Keypair, receipt_id: Hash, output_hash: Hash, units: u64) -> SealedTx {
    signed(&c.spec, who, next_nonce(c, who), Payload::Verdict(VerifierVerdict { receipt_id, output_hash, units }))
}

fn name_of(a: &Address) -> &'static str {
    DEV_ACCOUNTS.into_iter().find(|n| addr(n) == *a).expect("a dev account")
}

#[test]
fn confirming_verifiers_share_the_treasury_cut_and_outsiders_cannot_vote() {
    let (mut c, total, job, output, units) = verified_job();
    let receipt = eve_claims(&mut c, job, output, units);
    let v = drawn(&c, receipt);
    assert_eq!(v.len(), 2, "k = 2 of ferdie and charlie (never the miner or the coordinator)");
    assert!(v.contains(&addr("ferdie")) && v.contains(&addr("charlie")));
    // Someone not drawn is refused; a drawn verifier votes once.
    let bob = key("bob");
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &bob, receipt, output, units)]);
    assert_eq!(out[0].result, Err(TxFailure::NotAVerifier(addr("bob").to_bech32("ait"))));
    let (ferdie, charlie) = (key("ferdie"), key("charlie"));
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &ferdie, receipt, output, units)]);
    assert_eq!(out[0].result, Ok(()));
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &ferdie, receipt, output, units)]);
    assert_eq!(out[0].result, Err(TxFailure::AlreadyVoted));
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &charlie, receipt, output, units)]);
    assert_eq!(out[0].result, Ok(()));
    // At maturity each confirmer gets half of verifier_share_bps of the treasury's cut.
    let rec: ReceiptRecord = read(&c.state, &StateKey::Receipt(receipt)).unwrap().unwrap();
    let before = (c.state.acc(&addr("ferdie")).balance, c.state.acc(&addr("charlie")).balance);
    while c.height < rec.matures_at {
        c.block(addr("alice"), &[]);
    }
    let rec: ReceiptRecord = read(&c.state, &StateKey::Receipt(receipt)).unwrap().unwrap();
    assert_eq!(rec.status, ReceiptStatus::Matured);
    let each = rec.mint_treasury * u128::from(c.spec.economy.verifier_share_bps) / 10_000 / 2;
    assert!(each > 0);
    assert_eq!(c.state.acc(&addr("ferdie")).balance, before.0 + each);
    assert_eq!(c.state.acc(&addr("charlie")).balance, before.1 + each);
    for n in ["ferdie", "charlie"] {
        let r = crate::ledger::reputation::read(&c.state, &addr(n)).unwrap();
        assert_eq!((r.delivered, r.missed), (1, 0), "{n} delivered its verdict");
    }
    assert_supply(&c, total);
}

#[test]
fn a_silent_verifier_misses_its_draw() {
    let (mut c, total, job, output, units) = verified_job();
    let receipt = eve_claims(&mut c, job, output, units);
    let v = drawn(&c, receipt);
    let speaker = key(name_of(&v[0]));
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &speaker, receipt, output, units)]);
    assert_eq!(out[0].result, Ok(()));
    let rec: ReceiptRecord = read(&c.state, &StateKey::Receipt(receipt)).unwrap().unwrap();
    while c.height < rec.matures_at {
        c.block(addr("alice"), &[]);
    }
    let silent = crate::ledger::reputation::read(&c.state, &v[1]).unwrap();
    assert_eq!((silent.delivered, silent.missed), (0, 1));
    let spoke = crate::ledger::reputation::read(&c.state, &v[0]).unwrap();
    assert_eq!((spoke.delivered, spoke.missed), (1, 0));
    assert_supply(&c, total);
}

#[test]
fn a_disagreeing_verdict_is_refereed_and_overturns_a_wrong_receipt() {
    let (mut c, total, job, output, units) = verified_job();
    let receipt = eve_claims(&mut c, job, Hash([0xEE; 32]), units);
    let v = drawn(&c, receipt);
    let verifier = key(name_of(&v[0]));
    let before = c.state.acc(&v[0]).balance;
    let eve_staked = c.state.acc(&addr("eve")).staked;
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &verifier, receipt, output, units)]);
    assert_eq!(out[0].result, Ok(()));
    let rec: ReceiptRecord = read(&c.state, &StateKey::Receipt(receipt)).unwrap().unwrap();
    assert_eq!(rec.status, ReceiptStatus::Invalidated);
    let j: Job = read(&c.state, &StateKey::Job(job)).unwrap().unwrap();
    assert_eq!(j.status, JobStatus::Refunded);
    assert!(c.state.acc(&addr("eve")).staked < eve_staked, "the miner is slashed");
    assert!(c.state.acc(&v[0]).balance > before, "the verifier is paid the reporter's share");
    assert_supply(&c, total);

    // A verdict that disagrees with a right receipt loses nothing but accuracy.
    let (mut c, _, job, output, units) = verified_job();
    let receipt = eve_claims(&mut c, job, output, units);
    let v = drawn(&c, receipt);
    let wrong = key(name_of(&v[1]));
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &wrong, receipt, Hash([1; 32]), units)]);
    assert_eq!(out[0].result, Ok(()));
    let rec: ReceiptRecord = read(&c.state, &StateKey::Receipt(receipt)).unwrap().unwrap();
    assert_eq!(rec.status, ReceiptStatus::Pending);
    assert_eq!(crate::ledger::reputation::read(&c.state, &v[1]).unwrap().failed, 1);
}

#[test]
fn a_job_too_large_to_referee_is_decided_by_a_majority_of_its_verifiers() {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.economy.miner_draw_blocks = 0;
    let mut c = Chain::new(spec);
    let total = c.state.supply.total;
    let min = c.spec.economy.miner_min_stake;
    let workers = ["eve", "ferdie", "charlie", "alice"];
    let stakes: Vec<SealedTx> = workers.iter().map(|n| stake(&c, &key(n), min)).collect();
    c.block(addr("alice"), &stakes);
    let p = JobPost {
        program: Hash([1; 32]),
        input: Hash([2; 32]),
        max_units: c.spec.economy.max_dispute_units + 1,
        price: 1_000_000,
        coordinator: addr("dave"),
        deadline: 100,
        verifiers: 3,
    };
    let tx = signed(&c.spec, &key("bob"), next_nonce(&c, &key("bob")), Payload::JobPost(p));
    let job = tx.hash();
    c.block(addr("alice"), &[tx]);
    c.block(addr("alice"), &[]);
    let receipt = eve_claims(&mut c, job, Hash([0xEE; 32]), 10);
    let v = drawn(&c, receipt);
    assert_eq!(v.len(), 3);
    assert!(!v.contains(&addr("bob")) && !v.contains(&addr("eve")), "never the client or the miner");
    let truth = (Hash([0x77; 32]), 10);
    // One dissent of three stands alone; the second makes a majority and overturns it.
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &key(name_of(&v[0])), receipt, truth.0, truth.1)]);
    assert_eq!(out[0].result, Ok(()));
    let rec: ReceiptRecord = read(&c.state, &StateKey::Receipt(receipt)).unwrap().unwrap();
    assert_eq!(rec.status, ReceiptStatus::Pending);
    let (out, _) = c.block(addr("alice"), &[verdict(&c, &key(name_of(&v[1])), receipt, truth.0, truth.1)]);
    assert_eq!(out[0].result, Ok(()));
    let rec: ReceiptRecord = read(&c.state, &StateKey::Receipt(receipt)).unwrap().unwrap();
    assert_eq!(rec.status, ReceiptStatus::Invalidated);
    assert_supply(&c, total);
}
