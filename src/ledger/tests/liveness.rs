//! The parent's precommits in every block: what a block must carry, validator uptime,
//! downtime slashing and jail, UNJAIL, and the work bonus on voting weight.

use super::*;
use crate::ledger::liveness::{self, LastCommitInvalid};
use crate::primitives::CommitCertificate;

/// Signs `payload` from `from` at its next nonce, paying the minimum fee.
fn signed(c: &Chain, from: &Keypair, payload: Payload) -> SealedTx {
    let nonce = c.state.acc(&Address::from_public_key(&from.public())).nonce + 1;
    let tx = unsigned(&c.spec, from, nonce, payload);
    super::fees::with_required_fee(&c.spec, tx).unwrap().sign(from).into()
}

/// The local chain (alice, bob, charlie, dave at equal stake) with a short downtime window.
fn local(window: u64, jail: u64, epoch: u64) -> Chain {
    let mut spec = ChainSpec::load("local").unwrap();
    spec.consensus.signed_blocks_window = window;
    spec.consensus.min_signed_bps = 5_000;
    spec.consensus.downtime_jail_blocks = jail;
    spec.consensus.epoch_length = epoch;
    Chain::new(spec)
}

fn apply_with(c: &Chain, last_commit: Option<&CommitCertificate>) -> Result<BlockOutcome, BlockError> {
    let h = c.height + 1;
    apply_block(&c.state, &c.spec, c.env(h, addr("alice")), BlockVotes { last_commit, evidence: &[] }, &[])
}

#[test]
fn every_block_after_the_first_carries_a_quorum_of_its_parents_precommits() {
    let mut c = local(100, 10, 600);
    // Block 1: genesis is not voted on.
    let some = c.last_commit(2).map(|mut x| {
        x.height = 0;
        x
    });
    assert_eq!(apply_with(&c, some.as_ref()).unwrap_err(), BlockError::LastCommit(LastCommitInvalid::Unexpected));
    c.block(addr("alice"), &[]);
    c.block(addr("alice"), &[]);
    let h = c.height + 1;
    let good = c.last_commit(h).unwrap();
    assert_eq!(good.signatures.len(), 4);
    assert!(apply_with(&c, Some(&good)).is_ok());
    assert_eq!(apply_with(&c, None).unwrap_err(), BlockError::LastCommit(LastCommitInvalid::Missing(h)));

    let commit_err = |cert: &CommitCertificate| match apply_with(&c, Some(cert)) {
        Err(BlockError::LastCommit(LastCommitInvalid::Commit(e))) => e,
        other => panic!("{other:?}"),
    };
    let mut wrong_block = good.clone();
    wrong_block.block_hash = Hash([9; 32]);
    assert!(matches!(commit_err(&wrong_block), crate::consensus::CommitError::Block { .. }));
    let mut two = good.clone();
    two.signatures.truncate(2);
    assert!(matches!(commit_err(&two), crate::consensus::CommitError::NoQuorum { .. }));
    let mut forged = good.clone();
    forged.signatures[0].1 = key("alice").sign(&Hash([1; 32]));
    assert_eq!(commit_err(&forged), crate::consensus::CommitError::BadSignature);
    let mut stranger = good.clone();
    stranger.signatures.push((key("eve").public(), key("eve").sign(&Hash([1; 32]))));
    assert!(matches!(commit_err(&stranger), crate::consensus::CommitError::UnknownSigner(_)));
    let mut twice = good.clone();
    twice.signatures.push(good.signatures[1]);
    assert!(matches!(commit_err(&twice), crate::consensus::CommitError::DuplicateSigner(_)));
}

#[test]
fn uptime_counts_the_precommits_blocks_carry() {
    let mut c = local(10, 5, 600);
    c.absent = vec![key("dave").public()];
    for _ in 0..5 {
        c.block(addr("alice"), &[]);
    }
    // Blocks 2..=5 each recorded their parent: 4 expected of everyone.
    let alice = liveness::read(&c.state, &addr("alice")).unwrap();
    assert_eq!((alice.signed_total, alice.expected_total, alice.missed), (4, 4, 0));
    let dave = liveness::read(&c.state, &addr("dave")).unwrap();
    assert_eq!((dave.signed_total, dave.expected_total, dave.missed, dave.counted), (0, 4, 4, 4));
    let rep = crate::ledger::reputation::read(&c.state, &addr("dave")).unwrap();
    assert_eq!((rep.signed, rep.expected), (0, 4), "uptime is reputation's");
    // Missing fewer than half of a full window is no offence.
    c.absent.clear();
    for _ in 0..13 {
        c.block(addr("alice"), &[]);
    }
    let dave = liveness::read(&c.state, &addr("dave")).unwrap();
    assert_eq!((dave.counted, dave.missed, dave.signed_total, dave.expected_total), (10, 0, 13, 17));
    assert!(!validators::current(&c.state).unwrap().is_jailed(&key("dave").public()));
}

#[test]
fn a_validator_kept_down_is_slashed_jailed_and_may_unjail_after_its_term() {
    let mut c = local(10, 5, 40);
    let total = c.state.supply.total;
    let dave = key("dave");
    let staked = c.state.acc(&addr("dave")).staked;
    c.absent = vec![dave.public()];
    c.block(addr("alice"), &[]);
    // Blocks 2..=10 count 9 missed of 9: the window is not full yet.
    for _ in 0..9 {
        c.block(addr("alice"), &[]);
    }
    assert_eq!(c.state.acc(&addr("dave")).staked, staked);
    // Block 11 fills the window: 10 missed, slashed 1% and jailed until 16, out of the set
    // from block 12.
    let (_, diff) = c.block(addr("alice"), &[]);
    let slashed = staked / 100;
    assert_eq!(c.state.acc(&addr("dave")).staked, staked - slashed);
    assert_eq!(c.state.supply.burned, slashed, "no reporter: all of it is burned");
    assert_eq!(diff.supply.total, c.state.total_holdings());
    assert_eq!(total + c.state.supply.minted_reward - slashed, diff.supply.total);
    let v = validators::current(&c.state).unwrap();
    assert_eq!(v.jail_of(&dave.public()).unwrap().until, Some(16));
    assert_eq!(v.since, 12);
    assert_eq!(v.active.len(), 3);
    assert!(
        v.previous.iter().any(|(k, _)| *k == dave.public()),
        "block 12 checks block 11's precommits with dave's set"
    );
    assert_eq!(liveness::read(&c.state, &addr("dave")).unwrap().counted, 0, "the window starts again");
    // The chain goes on without it; it is not counted while jailed.
    for _ in 0..3 {
        c.block(addr("alice"), &[]);
    }
    assert_eq!(liveness::read(&c.state, &addr("dave")).unwrap().counted, 0);
    // UNJAIL before the term ends fails (the fee is paid); at 16 it succeeds.
    assert_eq!(c.height, 14);
    let (out, _) = c.block(addr("alice"), &[signed(&c, &dave, Payload::Unjail)]);
    assert_eq!(out[0].result, Err(TxFailure::StillJailed { until: 16, height: 15 }));
    let (out, _) = c.block(addr("alice"), &[signed(&c, &dave, Payload::Unjail)]);
    assert_eq!(out[0].result, Ok(()));
    let (out, _) = c.block(addr("alice"), &[signed(&c, &dave, Payload::Unjail)]);
    assert_eq!(out[0].result, Err(TxFailure::NotJailed(addr("dave").to_bech32("ait"))));
    // Back in the set at the next epoch boundary (40).
    c.absent.clear();
    while c.height < 40 {
        assert_eq!(validators::current(&c.state).unwrap().active.len(), 3);
        c.block(addr("alice"), &[]);
    }
    let v = validators::current(&c.state).unwrap();
    assert!(v.active.iter().any(|(k, _)| *k == dave.public()));
    assert_eq!(v.since, 41);
    let holdings = c.state.total_holdings();
    assert_eq!(holdings, c.state.supply.total);
}

/// An empty block proposed by bob that carries `e`.
fn block_with_evidence(c: &mut Chain, e: crate::primitives::Evidence) {
    let h = c.height + 1;
    let commit = c.last_commit(h);
    let votes = BlockVotes { last_commit: commit.as_ref(), evidence: &[e] };
    let out = apply_block(&c.state, &c.spec, c.env(h, addr("bob")), votes, &[]).unwrap();
    c.commit(&out.diff);
}

#[test]
fn double_signing_jails_for_good() {
    let mut c = local(100, 5, 600);
    c.block(addr("alice"), &[]);
    let dave = key("dave");
    let e = super::economy::equivocation(&c.spec, &dave, 1, crate::primitives::VoteKind::Precommit);
    block_with_evidence(&mut c, e);
    let v = validators::current(&c.state).unwrap();
    assert_eq!(v.jail_of(&dave.public()).unwrap().until, None);
    assert_eq!(v.active.len(), 3, "out of the set from the next block");
    let (out, _) = c.block(addr("alice"), &[signed(&c, &dave, Payload::Unjail)]);
    assert_eq!(out[0].result, Err(TxFailure::JailedForGood));
}

#[test]
fn stake_that_started_unbonding_is_slashed_for_double_signing() {
    let mut c = local(100, 5, 600);
    let dave = key("dave");
    let staked = c.state.acc(&addr("dave")).staked;
    let half = staked / 2;
    c.block(addr("alice"), &[signed(&c, &dave, Payload::Unstake(crate::primitives::StakeAmount { amount: half }))]);
    let e = super::economy::equivocation(&c.spec, &dave, 1, crate::primitives::VoteKind::Prevote);
    block_with_evidence(&mut c, e);
    let acc = c.state.acc(&addr("dave"));
    let cut = staked * 500 / 10_000;
    assert_eq!(acc.staked + acc.unbonding, staked - cut, "5% of stake and unbonding together");
    let rate = |x: u128| x * 500 / 10_000;
    assert_eq!((acc.staked, acc.unbonding), (staked - half - rate(staked - half), half - rate(half)));
}

/// Stake that was already unbonding before the offence is not touched; a delegator that
/// undelegates after it is slashed from its entry, like the validator's own stake.
#[test]
fn only_entries_started_at_or_after_the_offence_are_slashed() {
    let mut c = local(100, 5, 600);
    let (dave, ferdie) = (key("dave"), key("ferdie"));
    let staked = c.state.acc(&addr("dave")).staked;
    let early = staked / 4;
    let unstake = |amount| Payload::Unstake(crate::primitives::StakeAmount { amount });
    c.block(addr("alice"), &[signed(&c, &dave, unstake(early))]); // height 1, before the offence
    let bond = 1_000_000u128;
    let delegate = Payload::Delegate(crate::primitives::Delegation { validator: addr("dave"), amount: bond });
    c.block(addr("alice"), &[signed(&c, &ferdie, delegate)]);
    c.block(addr("alice"), &[]); // height 3: dave equivocates here
    let late = staked / 4;
    let undelegate = Payload::Undelegate(crate::primitives::Delegation { validator: addr("dave"), amount: bond });
    c.block(addr("alice"), &[signed(&c, &dave, unstake(late)), signed(&c, &ferdie, undelegate)]);
    let total = c.state.supply.total;

    let e = super::economy::equivocation(&c.spec, &dave, 3, crate::primitives::VoteKind::Precommit);
    block_with_evidence(&mut c, e);
    let rate = |x: u128| x * 500 / 10_000;
    let d = c.state.acc(&addr("dave"));
    assert_eq!(d.staked, staked - early - late - rate(staked - early - late));
    assert_eq!(d.unbonding, early + late - rate(late), "the entry from before the offence is whole");
    let f = c.state.acc(&addr("ferdie"));
    assert_eq!((f.delegated, f.unbonding), (0, bond - rate(bond)), "undelegating after it does not escape");
    let slashed = rate(staked - early - late) + rate(late) + rate(bond);
    let reporter = slashed * u128::from(c.spec.economy.reporter_bps) / 10_000;
    let reward = crate::ledger::block_reward(&c.spec, c.height);
    assert_eq!(c.state.supply.total, total + reward - (slashed - reporter), "burned all but the reporter's share");

    // The entries release exactly what is left of them.
    let (d_balance, f_balance) = (d.balance, f.balance);
    for _ in 0..c.spec.economy.unbonding_period + 1 {
        c.block(addr("alice"), &[]);
    }
    let (d, f) = (c.state.acc(&addr("dave")), c.state.acc(&addr("ferdie")));
    assert_eq!((d.unbonding, d.unbonding_entries, f.unbonding, f.unbonding_entries), (0, 0, 0, 0));
    assert_eq!(d.balance, d_balance + early + late - rate(late));
    assert_eq!(f.balance, f_balance + bond - rate(bond));
    assert_eq!(c.state.records.get(&StateKey::UnbondingFrom(addr("dave"))), None, "the index empties");
}

#[test]
fn verified_work_raises_voting_weight_up_to_the_cap() {
    let mut c = local(100, 5, 4);
    c.spec.economy.work_units_for_cap = 1_000;
    c.spec.economy.work_bonus_cap_bps = 5_000;
    // Bob's receipts matured 500 units in epoch 0.
    let work = crate::ledger::work::Work { epochs: vec![(0, 500)] };
    c.state.records.insert(StateKey::Work(addr("bob")), parity_scale_codec::Encode::encode(&work));
    while c.height < 4 {
        c.block(addr("alice"), &[]);
    }
    let stake = c.state.acc(&addr("bob")).staked;
    let active = validators::current(&c.state).unwrap().active;
    let weight = |name: &str| active.iter().find(|(k, _)| *k == key(name).public()).unwrap().1;
    assert_eq!(weight("bob"), stake + stake / 4, "half the units for the cap: half of +50%");
    assert_eq!(weight("alice"), stake);
    // Work older than `work_epochs` stops counting.
    while c.height < 4 * 5 {
        c.block(addr("alice"), &[]);
    }
    let active = validators::current(&c.state).unwrap().active;
    assert_eq!(active.iter().find(|(k, _)| *k == key("bob").public()).unwrap().1, stake);
}
