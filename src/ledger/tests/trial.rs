//! TRIAL_CLAIM: fee-less credits for new accounts, paid with work bound to a recent block, once
//! per address, capped per block and per epoch; every rule broken keeps the claim out of the
//! block entirely.

use super::*;
use crate::ledger::payload::trial::{difficulty, TrialInvalid};
use crate::primitives::{PowSearch, TrialClaim};

/// A dev chain with cheap work (6 bits) so tests mine in microseconds.
fn chain() -> Chain {
    let mut spec = ChainSpec::load("dev").unwrap();
    spec.economy.pow_difficulty_min = 4;
    spec.economy.pow_difficulty_max = 8;
    Chain::new(spec)
}

fn fresh(i: u8) -> Keypair {
    Keypair::from_secret([i; 32])
}

/// A claim from `who` anchored at block `anchor`, whose work has exactly `bits` or more.
fn claim_with(c: &Chain, who: &Keypair, anchor: u64, enough: bool, nonce: u64, fee: u128) -> SealedTx {
    let anchor_hash = block_hash(anchor);
    let claimant = Address::from_public_key(&who.public());
    let search = PowSearch::new(&c.spec.chain_id, &claimant, &anchor_hash);
    let need = difficulty(&c.spec);
    let pow_nonce =
        if enough { search.find(need, 0..).unwrap() } else { (0..).find(|&n| search.bits(n) < need).unwrap() };
    let payload = Payload::TrialClaim(TrialClaim { anchor_height: anchor, anchor_hash, pow_nonce });
    let mut tx = unsigned(&c.spec, who, nonce, payload);
    tx.fee = fee;
    tx.sign(who).into()
}

fn claim(c: &Chain, who: &Keypair) -> SealedTx {
    claim_with(c, who, c.height, true, 1, 0)
}

#[test]
fn a_new_account_gets_the_credits_once_without_a_fee() {
    let mut c = chain();
    let genesis_total = c.state.supply.total;
    let who = fresh(1);
    let a = Address::from_public_key(&who.public());
    let tx = claim(&c, &who);
    assert_eq!(super::fees::required_fee(&c.spec, &tx.tx).unwrap().total, 0, "fee-less");
    let (outcomes, _) = c.block(addr("alice"), &[tx]);
    assert_eq!(outcomes[0], TxOutcome { fee: 0, result: Ok(()) });
    let credits = c.spec.economy.trial_credits;
    assert_eq!(c.state.acc(&a), Account { balance: credits, nonce: 1, ..Account::default() });
    let s = c.state.supply;
    assert_eq!(s.minted_trial, credits);
    assert_eq!(s.minted, s.minted_reward + s.minted_trial);
    assert_eq!(s.total, genesis_total + s.minted - s.burned);
    assert_eq!(c.state.total_holdings(), s.total);
    assert_eq!(read::<u64, _>(&c.state, &StateKey::TrialGrant(a)).unwrap(), Some(1));

    // A second claim, at either nonce, says why it is refused.
    let again = claim_with(&c, &who, c.height, true, 2, 0);
    assert_invalid(&c, &again, TrialInvalid::AlreadyClaimed(1).into());
    let replay = claim_with(&c, &who, c.height, true, 1, 0);
    assert_invalid(&c, &replay, TrialInvalid::AlreadyClaimed(1).into());
}

#[test]
fn weak_work_is_refused_before_anything_else() {
    let c = chain();
    let tx = claim_with(&c, &fresh(1), c.height, false, 1, 0);
    let need = difficulty(&c.spec);
    let got = match check_stateless(&c.spec, &tx) {
        Err(TxInvalid::Trial(TrialInvalid::WeakPow { bits, need: n })) => {
            assert_eq!(n, need);
            bits
        }
        other => panic!("expected WeakPow, got {other:?}"),
    };
    assert!(got < need);
    // Weak work on an account that could never claim anyway still reports the work.
    let alice = claim_with(&c, &key("alice"), c.height, false, 1, 0);
    assert!(matches!(check_stateless(&c.spec, &alice), Err(TxInvalid::Trial(TrialInvalid::WeakPow { .. }))));
}

#[test]
fn work_is_bound_to_the_claimant_and_the_chain() {
    let c = chain();
    let tx = claim(&c, &fresh(1));
    let Payload::TrialClaim(work) = tx.tx.payload.clone() else { unreachable!() };
    // The same nonce for another address is (almost surely) not enough work: find a claimant
    // for whom it is not, and check that it is refused.
    let need = difficulty(&c.spec);
    let thief = (2..=255)
        .map(fresh)
        .find(|k| work.pow_bits(&c.spec.chain_id, &Address::from_public_key(&k.public())) < need)
        .unwrap();
    let stolen: SealedTx = unsigned(&c.spec, &thief, 1, Payload::TrialClaim(work.clone())).sign(&thief).into();
    assert!(matches!(check_stateless(&c.spec, &stolen), Err(TxInvalid::Trial(TrialInvalid::WeakPow { .. }))));
    let other_chain = (0..).map(|i| format!("other-{i}")).find(|id| work.pow_bits(id, &tx.tx.sender_address()) < need);
    assert!(other_chain.is_some());
}

#[test]
fn a_fee_is_refused() {
    let c = chain();
    let tx = claim_with(&c, &fresh(1), c.height, true, 1, 5);
    assert_invalid(&c, &tx, TrialInvalid::Fee(5).into());
}

#[test]
fn the_anchor_must_be_a_recent_block_of_this_chain() {
    let mut c = chain();
    let max = c.spec.economy.pow_max_age;
    for _ in 0..max + 2 {
        c.block(addr("alice"), &[]);
    }
    let who = fresh(1);
    // The oldest anchor still accepted, and one block older.
    let oldest = c.height + 1 - max;
    let ok = claim_with(&c, &who, oldest, true, 1, 0);
    let mut exec = c.executor(addr("alice"));
    assert_eq!(exec.apply(&ok).unwrap().result, Ok(()));
    let stale = claim_with(&c, &fresh(2), oldest - 1, true, 1, 0);
    assert_invalid(&c, &stale, TrialInvalid::StaleAnchor { anchor: oldest - 1, age: max + 1, max }.into());
    // A hash that is not the block's, and a block that does not exist yet.
    let mut forged = claim_with(&c, &fresh(3), c.height, true, 1, 0).into_inner();
    if let Payload::TrialClaim(t) = &mut forged.tx.payload {
        t.anchor_hash = Hash([7; 32]);
    }
    let forged = SealedTx::seal(forged);
    assert!(matches!(
        c.executor(addr("alice")).apply(&forged),
        Err(TxInvalid::Trial(TrialInvalid::WeakPow { .. }) | TxInvalid::Trial(TrialInvalid::UnknownAnchor { .. }))
    ));
    let future = claim_with(&c, &fresh(4), c.height + 1, true, 1, 0);
    assert_invalid(
        &c,
        &future,
        TrialInvalid::UnknownAnchor { height: c.height + 1, hash: block_hash(c.height + 1) }.into(),
    );
}

#[test]
fn an_account_that_held_ait_cannot_claim() {
    let mut c = chain();
    let who = fresh(1);
    let a = Address::from_public_key(&who.public());
    let t = transfer(&c.spec, &key("alice"), a, 1, 1);
    c.block(addr("alice"), &[t]);
    let tx = claim(&c, &who);
    assert_invalid(&c, &tx, TrialInvalid::NotNew.into());
    assert_invalid(&c, &claim(&c, &key("bob")), TrialInvalid::NotNew.into());
}

#[test]
fn grants_are_capped_per_block_and_per_epoch() {
    let mut c = chain();
    c.spec.economy.trial_max_per_block = 2;
    c.spec.economy.trial_max_per_epoch = 3;
    let claims: Vec<SealedTx> = (1..=4).map(|i| claim(&c, &fresh(i))).collect();
    let mut exec = c.executor(addr("alice"));
    assert!(exec.apply(&claims[0]).is_ok());
    assert!(exec.apply(&claims[1]).is_ok());
    let third = exec.apply(&claims[2]).unwrap_err();
    assert_eq!(third, TxInvalid::Trial(TrialInvalid::BlockCap(2)));
    assert!(matches!(&third, TxInvalid::Trial(t) if t.is_transient()));
    let diff = exec.finish().unwrap().diff;
    c.commit(&diff);
    // Next block: one more fits the epoch, the fourth waits for the next epoch.
    let (late3, late4) = (claim(&c, &fresh(3)), claim(&c, &fresh(4)));
    let mut exec = c.executor(addr("alice"));
    assert!(exec.apply(&late3).is_ok());
    assert_eq!(exec.apply(&late4), Err(TxInvalid::Trial(TrialInvalid::EpochCap(3))));
    let diff = exec.finish().unwrap().diff;
    c.commit(&diff);
    while c.height % c.spec.consensus.epoch_length != 0 {
        c.block(addr("alice"), &[]);
    }
    let next_epoch = claim(&c, &fresh(4));
    let (outcomes, _) = c.block(addr("alice"), &[next_epoch]);
    assert_eq!(outcomes[0].result, Ok(()));
    assert_eq!(c.state.supply.minted_trial, 4 * c.spec.economy.trial_credits);
}

#[test]
fn admission_dry_run_reports_the_rule() {
    let mut c = chain();
    let who = fresh(1);
    let tx = claim(&c, &who);
    assert_eq!(c.executor(addr("alice")).check_payload(&tx), Ok(Ok(())));
    c.block(addr("alice"), &[tx]);
    let again = claim_with(&c, &who, c.height, true, 2, 0);
    assert_eq!(c.executor(addr("alice")).check_payload(&again), Err(TxInvalid::Trial(TrialInvalid::AlreadyClaimed(1))));
}

#[test]
fn anchors_older_than_the_window_are_pruned_from_state() {
    let mut c = chain();
    let max = c.spec.economy.pow_max_age;
    for _ in 0..max + 3 {
        c.block(addr("alice"), &[]);
    }
    let kept: Vec<u64> = c
        .state
        .records
        .keys()
        .filter_map(|k| match k {
            StateKey::RecentBlock(h) => Some(*h),
            _ => None,
        })
        .collect();
    // After block H the anchors H - max ..= H - 1 are kept; block H+1 forgets the oldest and
    // adds H, leaving what it may use.
    let head = c.height;
    assert_eq!(kept, (head - max..=head - 1).collect::<Vec<_>>());
}
