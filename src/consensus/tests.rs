//! Tests of [`Engine`]: the block-time pause, buffering, and effects as the driver sees them.
//! The Tendermint rules themselves are tested in `tendermint_tests.rs`.

use super::*;
use crate::chainspec::ChainSpec;
use crate::primitives::PublicKey;

fn set(names: &[&str]) -> ValidatorSet {
    let stakes: Vec<(PublicKey, u128)> = names.iter().map(|n| (Keypair::dev(n).public(), 10u128.pow(13))).collect();
    ValidatorSet::from_stakes(&stakes).unwrap()
}

fn engine(names: &[&str], me: &str) -> Engine {
    let spec = ChainSpec::load("dev").unwrap();
    Engine::new(spec.chain_id.clone(), Some(Keypair::dev(me)), set(names), spec.consensus.clone(), None)
}

fn value(height: u64) -> Hash {
    Hash::digest(b"test/block", &height.to_le_bytes())
}

/// Starts `height` and returns the effects of the block-time timeout.
fn start(e: &mut Engine, height: u64) -> Vec<Effect> {
    let fx = e.handle(Input::Start { height, parent: value(height - 1), since_parent_ms: 0 });
    let [Effect::ScheduleTimeout { timeout, after_ms }] = fx.as_slice() else { panic!("{fx:?}") };
    assert_eq!((timeout.kind, *after_ms), (TimeoutKind::NewHeight, 1000));
    e.handle(Input::TimeoutElapsed(*timeout))
}

#[test]
fn single_validator_commits_each_height_after_block_time() {
    let mut e = engine(&["alice"], "alice");
    let validators = e.validators().clone();
    for h in 1..=3u64 {
        let fx = start(&mut e, h);
        assert!(fx.iter().any(|f| matches!(f, Effect::BuildProposal { height, round: 0 } if *height == h)));
        let fx = e.handle(Input::ProposalBuilt { height: h, round: 0, value: value(h) });
        // Every message is covered by a sign state persisted before it.
        let mut covered = None;
        for f in &fx {
            match f {
                Effect::PersistSignState(s) => covered = Some((s.height, s.round, s.step)),
                Effect::Broadcast(_) => assert_eq!(covered.map(|c| c.0), Some(h)),
                _ => {}
            }
        }
        let commits: Vec<_> = fx.iter().filter(|f| matches!(f, Effect::Commit { .. })).collect();
        let [Effect::Commit { height, value: got, certificate }] = commits.as_slice() else { panic!("{fx:?}") };
        assert_eq!((*height, *got), (h, value(h)));
        verify_commit("ergon-dev", &validators, certificate, h, value(h)).unwrap();
        // A second value for the same height is ignored: never two commits at one height.
        assert!(e.handle(Input::ProposalBuilt { height: h, round: 0, value: value(h + 100) }).is_empty());
    }
}

/// The pause before a height is what is left of the block time since the parent was made:
/// a slow decision does not add to the interval, and a late one starts the next height at once.
#[test]
fn pause_is_block_time_since_the_parent() {
    let mut e = engine(&["alice"], "alice");
    for (height, since_parent_ms, want) in [(1, 0, 1000), (2, 300, 700), (3, 1000, 0), (4, 5000, 0)] {
        let fx = e.handle(Input::Start { height, parent: value(height - 1), since_parent_ms });
        let [Effect::ScheduleTimeout { timeout, after_ms }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!((timeout.kind, timeout.height, *after_ms), (TimeoutKind::NewHeight, height, want));
    }
}

/// Four engines exchanging every message directly commit the same value at every height.
#[test]
fn four_validators_commit_one_chain() {
    let names = ["alice", "bob", "charlie", "dave"];
    let mut engines: Vec<Engine> = names.iter().map(|n| engine(&names, n)).collect();
    for h in 1..=5u64 {
        let mut queue: Vec<(usize, Effect)> = Vec::new();
        for (i, e) in engines.iter_mut().enumerate() {
            queue.extend(start(e, h).into_iter().map(|f| (i, f)));
        }
        let mut decided: Vec<Option<Hash>> = vec![None; names.len()];
        while let Some((from, effect)) = queue.pop() {
            match effect {
                Effect::BuildProposal { height, round } => {
                    let fx = engines[from].handle(Input::ProposalBuilt { height, round, value: value(height) });
                    queue.extend(fx.into_iter().map(|f| (from, f)));
                }
                Effect::Broadcast(m) => {
                    for to in (0..names.len()).filter(|t| *t != from) {
                        let input = match &m {
                            Message::Proposal(p) => Input::Proposal { proposal: p.clone(), value_is_valid: true },
                            Message::Vote(v) => Input::Votes(vec![v.clone()]),
                        };
                        let fx = engines[to].handle(input);
                        queue.extend(fx.into_iter().map(|f| (to, f)));
                    }
                }
                Effect::Commit { height, value: v, certificate } => {
                    assert_eq!(height, h);
                    verify_commit("ergon-dev", &set(&names), &certificate, h, v).unwrap();
                    assert!(decided[from].replace(v).is_none(), "two commits at one height");
                }
                Effect::Evidence { .. } => panic!("nobody equivocates here"),
                Effect::ScheduleTimeout { .. } | Effect::PersistSignState(_) => {}
            }
        }
        assert!(decided.iter().all(|d| *d == Some(value(h))), "height {h}: {decided:?}");
    }
}

/// Messages for the next height that arrive during the block-time pause are replayed when the
/// height starts, and a proposal is checked against the next height's proposer meanwhile.
#[test]
fn messages_during_the_pause_are_kept() {
    let names = ["alice", "bob", "charlie", "dave"];
    let mut engines: Vec<Engine> = names.iter().map(|n| engine(&names, n)).collect();
    // Everyone but the proposer of height 1 waits out the pause; the proposer starts first.
    for e in engines.iter_mut() {
        e.handle(Input::Start { height: 1, parent: value(0), since_parent_ms: 0 });
    }
    let proposer = names.iter().position(|n| {
        let mut probe = engine(&names, n);
        start(&mut probe, 1).iter().any(|f| matches!(f, Effect::BuildProposal { .. }))
    });
    let p = proposer.unwrap();
    let timeout = Timeout { height: 1, round: 0, kind: TimeoutKind::NewHeight };
    engines[p].handle(Input::TimeoutElapsed(timeout));
    let fx = engines[p].handle(Input::ProposalBuilt { height: 1, round: 0, value: value(1) });
    let proposal = fx
        .iter()
        .find_map(|f| match f {
            Effect::Broadcast(Message::Proposal(sp)) => Some(sp.clone()),
            _ => None,
        })
        .unwrap();
    let other = (p + 1) % names.len();
    assert!(engines[other].is_from_proposer(&proposal));
    let mut forged = proposal.clone();
    forged.proposal.round = 1;
    assert!(!engines[other].is_from_proposer(&forged), "signature no longer matches");
    assert!(engines[other].handle(Input::Proposal { proposal, value_is_valid: true }).is_empty());
    // When the pause ends, the kept proposal is prevoted at once.
    let fx = engines[other].handle(Input::TimeoutElapsed(timeout));
    let prevoted = fx.iter().any(|f| {
        matches!(f, Effect::Broadcast(Message::Vote(v))
            if v.vote.kind == crate::primitives::VoteKind::Prevote && v.vote.block_hash == Some(value(1)))
    });
    assert!(prevoted, "{fx:?}");
}

/// A lone validator restarted with its persisted sign state never signs again where it
/// signed, and commits a new block in the next round: the block it had locked on died with the
/// process, and nobody else saw its votes.
#[test]
fn restored_sign_state_prevents_signing_twice() {
    let mut e = engine(&["alice"], "alice");
    start(&mut e, 1);
    let fx = e.handle(Input::ProposalBuilt { height: 1, round: 0, value: value(1) });
    let last = fx
        .iter()
        .rev()
        .find_map(|f| match f {
            Effect::PersistSignState(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(last.lock.map(|l| l.value), Some(value(1)));
    // The process dies before the commit reaches disk, and restarts at height 1.
    let spec = ChainSpec::load("dev").unwrap();
    let mut again =
        Engine::new(spec.chain_id.clone(), Some(Keypair::dev("alice")), set(&["alice"]), spec.consensus, Some(last));
    let mut fx = start(&mut again, 1);
    assert!(fx.iter().any(|f| matches!(f, Effect::BuildProposal { height: 1, round: 1 })), "{fx:?}");
    fx.extend(again.handle(Input::ProposalBuilt { height: 1, round: 0, value: value(100) }));
    fx.extend(again.handle(Input::ProposalBuilt { height: 1, round: 1, value: value(101) }));
    for f in &fx {
        if let Effect::Broadcast(m) = f {
            let (_, round) = m.position();
            assert!(round >= 1, "signed again in round 0: {m:?}");
        }
    }
    let commit = fx.iter().find_map(|f| match f {
        Effect::Commit { value, .. } => Some(*value),
        _ => None,
    });
    assert_eq!(commit, Some(value(101)), "{fx:?}");
}

/// The lottery is a pure function of (seed, round), picks by stake, and moves with the seed.
#[test]
fn lottery_picks_by_stake_and_seed() {
    let keys: Vec<PublicKey> = ["alice", "bob"].iter().map(|n| Keypair::dev(n).public()).collect();
    let weighted = ValidatorSet::from_stakes(&[(keys[0], 3 * 10u128.pow(13)), (keys[1], 10u128.pow(13))]).unwrap();
    let draws: Vec<PublicKey> = (0..400u32).map(|r| weighted.lottery_proposer(value(r.into()), 0).unwrap()).collect();
    let alice = draws.iter().filter(|k| **k == keys[0]).count();
    assert!((250..=350).contains(&alice), "alice holds 3/4 of the stake and won {alice} of 400");
    assert_eq!(weighted.lottery_proposer(value(1), 2), weighted.lottery_proposer(value(1), 2));
    let by_round: std::collections::BTreeSet<_> =
        (0..32).map(|r| weighted.lottery_proposer(value(9), r).unwrap()).collect();
    assert_eq!(by_round.len(), 2, "rounds draw anew");
}

/// A node that reached a height by sync (its core still at an older height, or never
/// started) checks proposals against the same proposer as everyone else.
#[test]
fn proposer_check_after_jumping_heights() {
    let names = ["alice", "bob", "charlie", "dave"];
    let validators = set(&names);
    let signed = |height: u64, round: u32| {
        let who = validators.weighted_proposer(height, round).unwrap();
        let key = names.iter().map(|n| Keypair::dev(n)).find(|k| k.public() == who).unwrap();
        let proposal = tendermint::Proposal {
            chain_id: "ergon-dev".into(),
            height,
            round,
            value: value(height),
            valid_round: None,
        };
        let signature = key.sign(&proposal.signing_hash());
        SignedProposal { proposal, proposer: who, signature }
    };
    // Never started: the first height it sees is 5.
    let mut fresh = engine(&names, "alice");
    fresh.handle(Input::Start { height: 5, parent: value(4), since_parent_ms: 0 });
    // Started at 2, then synced to 9 without its core seeing the heights between.
    let mut jumped = engine(&names, "alice");
    start(&mut jumped, 2);
    jumped.handle(Input::Start { height: 9, parent: value(8), since_parent_ms: 0 });
    for round in 0..3 {
        assert!(fresh.is_from_proposer(&signed(5, round)), "height 5 round {round}");
        assert!(jumped.is_from_proposer(&signed(9, round)), "height 9 round {round}");
    }
}

/// Stakes whose powers would add up past u64 (found by the `ledger_blocks` fuzz target: the
/// ledger put such a set in force and no commit could be checked against it, so the chain
/// halted) give a usable set with the same proportions.
#[test]
fn huge_stakes_give_a_usable_set_in_proportion() {
    let keys: Vec<PublicKey> = ["alice", "bob", "charlie"].iter().map(|n| Keypair::dev(n).public()).collect();
    let huge = u128::from(u64::MAX) * 1_000_000_000;
    let set = ValidatorSet::from_stakes(&[(keys[0], huge), (keys[1], huge), (keys[2], huge / 2)]).unwrap();
    assert!(set.total_power() <= super::validators::MAX_TOTAL_POWER + 3, "{}", set.total_power());
    let (a, c) = (set.power_of(&keys[0]).unwrap(), set.power_of(&keys[2]).unwrap());
    assert!(a.abs_diff(2 * c) <= 2, "alice holds twice charlie's stake: {a} vs {c}");
    assert!(set.has_quorum(keys[..2].iter()), "4/5 of the power");
    assert!(!set.has_quorum(keys[1..].iter()), "3/5 of the power");
    // Ordinary stakes keep their whole-token power.
    let small = ValidatorSet::from_stakes(&[(keys[0], 5_000_000_000), (keys[1], 1)]).unwrap();
    assert_eq!((small.power_of(&keys[0]), small.power_of(&keys[1])), (Some(5), Some(1)));
}

/// `Engine::state` tells where the engine stands: the pause, the round's proposer, the votes
/// seen with their power, and the lock once the proposal got a quorum of prevotes.
#[test]
fn state_shows_the_round_its_proposer_and_the_votes() {
    let names = ["alice", "bob", "charlie", "dave"];
    let mut e = engine(&names, "alice");
    e.handle(Input::Start { height: 1, parent: value(0), since_parent_ms: 0 });
    let s = e.state();
    assert!(s.waiting && s.height == 1 && s.rounds.is_empty() && s.proposer.is_none(), "{s:?}");
    assert_eq!((s.validators, s.total_power), (4, e.validators().total_power()));
    assert!(s.quorum_power.saturating_mul(3) > s.total_power.saturating_mul(2), "{s:?}");
    assert!((s.quorum_power - 1).saturating_mul(3) <= s.total_power.saturating_mul(2), "{s:?}");
    e.handle(Input::TimeoutElapsed(Timeout { height: 1, round: 0, kind: TimeoutKind::NewHeight }));
    let s = e.state();
    assert!(!s.waiting && s.round == 0, "{s:?}");
    let proposer = s.proposer.expect("a proposer for round 0");
    assert!(names.iter().any(|n| Keypair::dev(n).public() == proposer));
    // Prevotes for value(1) from everyone but alice arrive: alice's view shows them with
    // their power.
    let power = e.validators().power_of(&Keypair::dev("bob").public()).unwrap();
    let mut votes = Vec::new();
    for n in ["bob", "charlie", "dave"] {
        let vote = crate::primitives::Vote {
            chain_id: "ergon-dev".into(),
            height: 1,
            round: 0,
            kind: crate::primitives::VoteKind::Prevote,
            block_hash: Some(value(1)),
        };
        let k = Keypair::dev(n);
        votes.push(SignedVote { signature: k.sign(&vote.signing_hash()), validator: k.public(), vote });
    }
    e.handle(Input::Votes(votes));
    let s = e.state();
    let r0 = s.rounds.iter().find(|r| r.round == 0).expect("round 0 tallied");
    assert!(r0.prevotes.voters >= 3 && r0.prevotes.power >= 3 * power, "{r0:?}");
    assert_eq!(r0.prevotes.by_value.first(), Some(&(Some(value(1)), 3 * power)), "{r0:?}");
}
