//! Tests of the Tendermint core: the paper's rules one at a time, then a simulated network of
//! cores with byzantine members, random delays and drops, checked for safety and liveness.

use super::tendermint::*;
use super::validators::ProposerPriority;
use super::{verify_commit, ValidatorSet};
use crate::chainspec::{ConsensusParams, ProposerSelection};
use crate::primitives::{Hash, Keypair, PublicKey, Vote, VoteKind};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const CHAIN: &str = "ergon-test";

fn params() -> ConsensusParams {
    ConsensusParams {
        block_time_ms: 1000,
        propose_timeout_ms: 300,
        vote_timeout_ms: 200,
        timeout_delta_ms: 100,
        epoch_length: 100,
        max_validators: 100,
        proposer_selection: ProposerSelection::RoundRobin,
        signed_blocks_window: 100,
        min_signed_bps: 5_000,
        downtime_jail_blocks: 600,
    }
}

fn keys(n: usize) -> Vec<Keypair> {
    (0..n).map(|i| Keypair::from_secret([u8::try_from(i).unwrap() + 1; 32])).collect()
}

fn set_of(keys: &[Keypair], powers: &[u64]) -> ValidatorSet {
    // from_stakes divides by 10^9.
    let stakes: Vec<(PublicKey, u128)> =
        keys.iter().zip(powers).map(|(k, p)| (k.public(), u128::from(*p) * 1_000_000_000)).collect();
    ValidatorSet::from_stakes(&stakes).unwrap()
}

fn core(key: &Keypair, set: &ValidatorSet) -> Tendermint {
    Tendermint::new(CHAIN.into(), Some(key.clone()), set.clone(), params())
}

fn signed_vote(key: &Keypair, height: u64, round: u32, kind: VoteKind, value: Option<Hash>) -> SignedVote {
    let vote = Vote { chain_id: CHAIN.into(), height, round, kind, block_hash: value };
    let signature = key.sign(&vote.signing_hash());
    SignedVote { vote, validator: key.public(), signature }
}

fn signed_proposal(key: &Keypair, height: u64, round: u32, value: Hash, valid_round: Option<u32>) -> SignedProposal {
    let proposal = Proposal { chain_id: CHAIN.into(), height, round, value, valid_round };
    let signature = key.sign(&proposal.signing_hash());
    SignedProposal { proposal, proposer: key.public(), signature }
}

fn value(tag: u8) -> Hash {
    Hash([tag; 32])
}

/// The votes this core broadcast in `out`.
fn votes_in(out: &[Output]) -> Vec<Vote> {
    out.iter()
        .filter_map(|o| match o {
            Output::Broadcast(Message::Vote(v)) => Some(v.vote.clone()),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------- proposer priority

#[test]
fn equal_powers_rotate_and_weights_are_honoured() {
    let ks = keys(4);
    let set = set_of(&ks, &[1, 1, 1, 1]);
    let picks: Vec<_> = (0..4).map(|r| set.weighted_proposer(1, r).unwrap()).collect();
    assert_eq!(picks.iter().collect::<BTreeSet<_>>().len(), 4, "four turns, four proposers");
    // Height h round r is turn h - 1 + r.
    assert_eq!(set.weighted_proposer(2, 0), set.weighted_proposer(1, 1));
    // Ties go to the smallest key.
    assert_eq!(picks[0], *set.keys().min().unwrap());

    let set = set_of(&ks, &[1, 2, 3, 4]);
    let mut count: BTreeMap<PublicKey, u64> = BTreeMap::new();
    for h in 1..=10 {
        *count.entry(set.weighted_proposer(h, 0).unwrap()).or_default() += 1;
    }
    for (k, p) in ks.iter().zip([1, 2, 3, 4]) {
        assert_eq!(count[&k.public()], p, "each proposes its power's share of a cycle");
    }
}

proptest! {
    #[test]
    fn priorities_return_to_zero_after_total_turns(powers in prop::collection::vec(1u64..6, 1..7)) {
        let ks = keys(powers.len());
        let set = set_of(&ks, &powers);
        let zero = ProposerPriority::at_height(&set, 1);
        let mut p = zero.clone();
        let mut count: BTreeMap<PublicKey, u64> = BTreeMap::new();
        for _ in 0..set.total_power() {
            *count.entry(p.advance(&set, 1).unwrap()).or_default() += 1;
        }
        prop_assert_eq!(&p, &zero);
        for (k, pw) in ks.iter().zip(&powers) {
            prop_assert_eq!(count.get(&k.public()).copied().unwrap_or(0), *pw);
        }
    }
}

// ---------------------------------------------------------------- single rules

#[test]
fn locked_value_is_only_abandoned_for_a_later_proof_of_lock() {
    let ks = keys(4);
    let set = set_of(&ks, &[1, 1, 1, 1]);
    let by_key: BTreeMap<PublicKey, &Keypair> = ks.iter().map(|k| (k.public(), k)).collect();
    let proposers: Vec<PublicKey> = (0..3).map(|r| set.weighted_proposer(1, r).unwrap()).collect();
    let me = ks.iter().find(|k| !proposers.contains(&k.public())).unwrap();
    let others: Vec<&Keypair> = ks.iter().filter(|k| k.public() != me.public()).collect();
    let (a, b) = (value(0xA), value(0xB));
    let mut n = core(me, &set);
    n.handle(Input::Start { height: 1, validators: set.clone(), seed: Hash::ZERO });

    // Round 0: proposal A, a quorum of prevotes for A: lock A and precommit it.
    let out = n.handle(Input::Proposal {
        proposal: signed_proposal(by_key[&proposers[0]], 1, 0, a, None),
        value_is_valid: true,
    });
    assert_eq!(votes_in(&out)[0].block_hash, Some(a));
    let mut out = vec![];
    for k in &others[..2] {
        out.extend(n.handle(Input::Vote(signed_vote(k, 1, 0, VoteKind::Prevote, Some(a)))));
    }
    assert_eq!(votes_in(&out).last().map(|v| (v.kind, v.block_hash)), Some((VoteKind::Precommit, Some(a))));
    assert_eq!(n.locked(), Some(Lock { value: a, round: 0 }));
    // Nobody else precommits A; the round times out.
    n.handle(Input::Timeout(Timeout { height: 1, round: 0, step: Step::Precommit }));
    assert_eq!(n.round(), 1);

    // Round 1: a fresh proposal for B: locked on A, so prevote nil.
    let out = n.handle(Input::Proposal {
        proposal: signed_proposal(by_key[&proposers[1]], 1, 1, b, None),
        value_is_valid: true,
    });
    assert_eq!(votes_in(&out)[0].block_hash, None, "locked on A: no prevote for B");
    n.handle(Input::Timeout(Timeout { height: 1, round: 1, step: Step::Prevote }));
    n.handle(Input::Timeout(Timeout { height: 1, round: 1, step: Step::Precommit }));
    assert_eq!(n.round(), 2);

    // Round 2: B re-proposed with valid_round 1. Without the prevotes of round 1 it waits.
    let out = n.handle(Input::Proposal {
        proposal: signed_proposal(by_key[&proposers[2]], 1, 2, b, Some(1)),
        value_is_valid: true,
    });
    assert!(votes_in(&out).is_empty(), "no proof of lock yet: {out:?}");
    // A quorum of round-1 prevotes for B (round 1 >= locked round 0) unlocks.
    let mut out = vec![];
    for k in &others {
        out.extend(n.handle(Input::Vote(signed_vote(k, 1, 1, VoteKind::Prevote, Some(b)))));
    }
    let v = votes_in(&out);
    assert_eq!((v[0].round, v[0].kind, v[0].block_hash), (2, VoteKind::Prevote, Some(b)));
}

#[test]
fn invalid_proposals_get_nil_prevotes() {
    let ks = keys(4);
    let set = set_of(&ks, &[1, 1, 1, 1]);
    let p0 = set.weighted_proposer(1, 0).unwrap();
    let me = ks.iter().find(|k| k.public() != p0).unwrap();
    let mut n = core(me, &set);
    n.handle(Input::Start { height: 1, validators: set.clone(), seed: Hash::ZERO });
    let prop = signed_proposal(ks.iter().find(|k| k.public() == p0).unwrap(), 1, 0, value(1), None);
    let out = n.handle(Input::Proposal { proposal: prop, value_is_valid: false });
    assert_eq!(votes_in(&out)[0].block_hash, None);
}

#[test]
fn restored_sign_state_prevents_signing_at_or_below_it() {
    let ks = keys(4);
    let set = set_of(&ks, &[1, 1, 1, 1]);
    let p0 = set.weighted_proposer(1, 0).unwrap();
    let me = ks.iter().find(|k| k.public() == p0).unwrap();
    let locked = value(7);
    // The polka that made this validator lock on `locked` in round 0.
    let proof: Vec<SignedVote> =
        ks.iter().take(3).map(|k| signed_vote(k, 1, 0, VoteKind::Prevote, Some(locked))).collect();
    let guard = SignState {
        height: 1,
        round: 0,
        step: Step::Precommit,
        lock: Some(Lock { value: locked, round: 0 }),
        lock_proof: proof,
    };
    // The guard is SCALE-encodable and round-trips.
    let bytes = parity_scale_codec::Encode::encode(&guard);
    assert_eq!(<SignState as parity_scale_codec::Decode>::decode(&mut &bytes[..]).unwrap(), guard);

    let mut n = core(me, &set).with_sign_state(guard.clone());
    let mut out = n.handle(Input::Start { height: 1, validators: set.clone(), seed: Hash::ZERO });
    out.extend(n.handle(Input::ProposeValue { height: 1, round: 0, value: value(9) }));
    out.extend(n.handle(Input::Timeout(Timeout { height: 1, round: 0, step: Step::Propose })));
    out.extend(n.handle(Input::Timeout(Timeout { height: 1, round: 0, step: Step::Prevote })));
    for o in &out {
        if let Output::Broadcast(m) = o {
            let (_, round) = m.position();
            assert!(round >= 1, "signed again in round 0: {m:?}");
        }
    }
    assert_eq!((n.round(), n.locked()), (1, guard.lock), "resumes in round 1 with its lock");

    // The round-1 proposer re-proposes the locked value with the round-0 proof of lock: the
    // restarted validator, which kept the proof, prevotes it.
    let p1 = n.proposer(1).unwrap();
    let proposer = ks.iter().find(|k| k.public() == p1).unwrap();
    let out = if p1 == me.public() {
        out
    } else {
        let prop = signed_proposal(proposer, 1, 1, locked, Some(0));
        n.handle(Input::Proposal { proposal: prop, value_is_valid: true })
    };
    let prevotes: Vec<_> = votes_in(&out).into_iter().filter(|v| v.round == 1 && v.kind == VoteKind::Prevote).collect();
    assert_eq!(prevotes.len(), 1, "{out:?}");
    assert_eq!(prevotes[0].block_hash, Some(locked));
    let i = out.iter().position(|o| matches!(o, Output::SignStateChanged(s) if s.round == 1)).unwrap();
    let j = out.iter().position(|o| matches!(o, Output::Broadcast(Message::Vote(_)))).unwrap();
    assert!(i < j, "persist before broadcast");
}

/// A validator restarted within a height resumes a round later, but its timeouts start from
/// the base again: they grow with the rounds this run waited through, not with the round
/// number (a set restarted again and again would otherwise wait longer every time).
#[test]
fn timeouts_grow_with_the_rounds_waited_not_the_rounds_resumed_past() {
    let ks = keys(4);
    let set = set_of(&ks, &[1, 1, 1, 1]);
    let me = &ks[0];
    let propose_timeout = |out: &[Output], round: u32| {
        out.iter().find_map(|o| match o {
            Output::ScheduleTimeout { round: r, step: Step::Propose, duration_ms, .. } if *r == round => {
                Some(*duration_ms)
            }
            _ => None,
        })
    };
    let mut fresh = core(me, &set);
    let out = fresh.handle(Input::Start { height: 1, validators: set.clone(), seed: Hash::ZERO });
    let base = propose_timeout(&out, 0).expect("round 0 schedules its propose timeout");
    let guard = SignState { height: 1, round: 6, step: Step::Precommit, lock: None, lock_proof: vec![] };
    let mut resumed = core(me, &set).with_sign_state(guard);
    let mut out = resumed.handle(Input::Start { height: 1, validators: set.clone(), seed: Hash::ZERO });
    assert_eq!(resumed.round(), 7);
    assert_eq!(propose_timeout(&out, 7), Some(base), "the first round after a restart waits the base");
    // Waiting through round 7 lengthens round 8's timeouts, as for a validator never restarted.
    out.extend(resumed.handle(Input::Timeout(Timeout { height: 1, round: 7, step: Step::Propose })));
    out.extend(resumed.handle(Input::Timeout(Timeout { height: 1, round: 7, step: Step::Prevote })));
    out.extend(resumed.handle(Input::Timeout(Timeout { height: 1, round: 7, step: Step::Precommit })));
    let mut fresh_out = Vec::new();
    for step in [Step::Propose, Step::Prevote, Step::Precommit] {
        fresh_out.extend(fresh.handle(Input::Timeout(Timeout { height: 1, round: 0, step })));
    }
    if resumed.round() == 8 && fresh.round() == 1 {
        let (after_restart, never_restarted) = (propose_timeout(&out, 8), propose_timeout(&fresh_out, 1));
        assert!(after_restart.is_some_and(|t| t > base), "{after_restart:?}");
        assert_eq!(after_restart, never_restarted);
    } else {
        panic!("the precommit timeouts did not end rounds 7 and 0: {:?} {:?}", resumed.round(), fresh.round());
    }
}

#[test]
fn equivocation_is_reported_once_per_round_and_kind() {
    let ks = keys(4);
    let set = set_of(&ks, &[1, 1, 1, 1]);
    let mut n = core(&ks[0], &set);
    n.handle(Input::Start { height: 1, validators: set.clone(), seed: Hash::ZERO });
    let first = signed_vote(&ks[1], 1, 0, VoteKind::Prevote, Some(value(1)));
    let second = signed_vote(&ks[1], 1, 0, VoteKind::Prevote, None);
    assert!(n.handle(Input::Vote(first.clone())).is_empty());
    assert!(n.handle(Input::Vote(first.clone())).is_empty(), "duplicate");
    let out = n.handle(Input::Vote(second.clone()));
    assert_eq!(out, vec![Output::Evidence { first: first.clone(), second }]);
    let third = signed_vote(&ks[1], 1, 0, VoteKind::Prevote, Some(value(2)));
    assert!(n.handle(Input::Vote(third)).is_empty(), "one report per validator, round and kind");
    // A precommit in the same round is a different kind: its conflict is reported on its own.
    n.handle(Input::Vote(signed_vote(&ks[1], 1, 0, VoteKind::Precommit, None)));
    let out = n.handle(Input::Vote(signed_vote(&ks[1], 1, 0, VoteKind::Precommit, Some(value(1)))));
    assert_eq!(out.len(), 1);
}

#[test]
fn bad_signatures_strangers_and_other_heights_are_ignored() {
    let ks = keys(5);
    let set = set_of(&ks[..4], &[1, 1, 1, 1]);
    let mut n = core(&ks[0], &set);
    n.handle(Input::Start { height: 1, validators: set.clone(), seed: Hash::ZERO });
    let mut forged = signed_vote(&ks[1], 1, 0, VoteKind::Prevote, None);
    forged.signature = ks[2].sign(&forged.vote.signing_hash());
    let stranger = signed_vote(&ks[4], 1, 0, VoteKind::Prevote, None);
    let later = signed_vote(&ks[1], 2, 0, VoteKind::Prevote, None);
    for v in [forged.clone(), stranger, later] {
        assert!(n.handle(Input::Vote(v)).is_empty());
    }
    // The forged vote was not counted: a genuine one from the same validator is no conflict.
    let genuine = signed_vote(&ks[1], 1, 0, VoteKind::Prevote, Some(value(3)));
    assert!(n.handle(Input::Vote(genuine)).is_empty());
}

// ---------------------------------------------------------------- simulated network

use sim::{Behaviour, Config, Sim};

#[test]
fn four_honest_nodes_decide_in_round_0() {
    let mut sim = Sim::new(Config::reliable(vec![1; 4], vec![Behaviour::Honest; 4]));
    sim.run();
    let decided = sim.decisions_at(1);
    assert_eq!(decided.len(), 4);
    let proposer = sim.set.weighted_proposer(1, 0).unwrap();
    let idx = sim.keys.iter().position(|k| k.public() == proposer).unwrap();
    for (round, v) in decided {
        assert_eq!((round, v), (0, Sim::honest_value(idx, 1, 0)));
    }
}

#[test]
fn offline_proposer_costs_one_round() {
    let probe = Sim::new(Config::reliable(vec![1; 4], vec![Behaviour::Honest; 4]));
    let proposer = probe.set.weighted_proposer(1, 0).unwrap();
    let off = probe.keys.iter().position(|k| k.public() == proposer).unwrap();
    let mut behaviour = vec![Behaviour::Honest; 4];
    behaviour[off] = Behaviour::Silent;
    let mut sim = Sim::new(Config::reliable(vec![1; 4], behaviour));
    sim.run();
    let decided = sim.decisions_at(1);
    assert_eq!(decided.len(), 3);
    assert!(decided.iter().all(|(round, v)| *round == 1 && *v == decided[0].1), "{decided:?}");
}

#[test]
fn equivocating_validator_is_caught_and_harmless() {
    let mut behaviour = vec![Behaviour::Honest; 4];
    behaviour[3] = Behaviour::Equivocate;
    let mut cfg = Config::reliable(vec![1; 4], behaviour);
    cfg.relay = true; // so that honest nodes see what the equivocator sent the others
    let mut sim = Sim::new(cfg);
    sim.run();
    sim.settle(1_000);
    sim.check_safety().unwrap();
    assert_eq!(sim.decisions_at(1).len(), 3);
    assert!(sim.evidence.iter().all(|(_, a, b)| a.validator == sim.keys[3].public() && a.validator == b.validator));
    assert!(!sim.evidence.is_empty());
}

fn behaviours(n: usize, powers: &[u64], seed: u64) -> Vec<Behaviour> {
    // Byzantine validators, chosen by seed, with less than 1/3 of the power in total.
    let total: u64 = powers.iter().sum();
    let mut b = vec![Behaviour::Honest; n];
    let mut byz = 0u64;
    let mut s = seed | 1;
    for i in 0..n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if s % 2 == 0 && 3 * (byz + powers[i]) < total {
            byz += powers[i];
            b[i] = if s % 3 == 0 { Behaviour::Silent } else { Behaviour::Equivocate };
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No two honest nodes decide different values at one height, whatever the delays, drops,
    /// delivery order and byzantine behaviour (less than 1/3 of the power).
    #[test]
    fn safety(seed in any::<u64>(), powers in prop::collection::vec(1u64..4, 4..=7), drop in 0u32..400,
              relay in any::<bool>()) {
        let n = powers.len();
        let b = behaviours(n, &powers, seed);
        let mut sim = Sim::new(Config::adversarial(powers, b, seed, drop, relay, false));
        sim.run();
        prop_assert_eq!(sim.check_safety(), Ok(()));
    }

    /// After GST (every message between honest nodes delivered within a bound, dropped ones
    /// included), every honest node decides every height within a bounded number of rounds.
    #[test]
    fn liveness_after_gst(seed in any::<u64>(), powers in prop::collection::vec(1u64..4, 4..=7), drop in 0u32..500) {
        let n = powers.len();
        let b = behaviours(n, &powers, seed);
        let mut sim = Sim::new(Config::adversarial(powers, b, seed, drop, true, true));
        sim.run();
        prop_assert_eq!(sim.check_safety(), Ok(()));
        prop_assert_eq!(sim.check_liveness(10), Ok(()));
    }
}

/// The simulated network: one core per validator, a queue of events ordered by virtual time,
/// and a seeded xorshift deciding delays, drops and byzantine choices.
mod sim {
    use super::*;
    use std::collections::VecDeque;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Behaviour {
        Honest,
        /// Never sends anything.
        Silent,
        /// Runs a core for its timing but sends each peer a different, freshly signed message
        /// (other values, nil, invalid values, votes for the next round) and no double-sign guard.
        Equivocate,
    }

    pub struct Config {
        pub powers: Vec<u64>,
        pub behaviour: Vec<Behaviour>,
        pub seed: u64,
        pub drop_per_mille: u64,
        /// Honest nodes re-gossip every message they receive for the first time.
        pub relay: bool,
        /// Partial synchrony: messages between honest nodes dropped or delayed before GST
        /// arrive by GST + `max_delay_after`; none are dropped after. Otherwise drops are lost.
        pub eventual: bool,
        pub gst: u64,
        pub max_delay_before: u64,
        pub max_delay_after: u64,
        pub heights: u64,
        pub max_time: u64,
    }

    impl Config {
        pub fn reliable(powers: Vec<u64>, behaviour: Vec<Behaviour>) -> Config {
            Config {
                powers,
                behaviour,
                seed: 1,
                drop_per_mille: 0,
                relay: false,
                eventual: true,
                gst: 0,
                max_delay_before: 10,
                max_delay_after: 10,
                heights: 1,
                max_time: 100_000,
            }
        }

        pub fn adversarial(
            powers: Vec<u64>,
            behaviour: Vec<Behaviour>,
            seed: u64,
            drop_per_mille: u32,
            relay: bool,
            eventual: bool,
        ) -> Config {
            Config {
                powers,
                behaviour,
                seed,
                drop_per_mille: u64::from(drop_per_mille),
                relay,
                eventual,
                gst: 5_000,
                max_delay_before: 2_000,
                max_delay_after: 50,
                heights: 2,
                max_time: 120_000,
            }
        }
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> u64 {
            if n == 0 {
                0
            } else {
                self.next() % n
            }
        }
    }

    enum Event {
        Msg(Message),
        Timeout(Timeout),
    }

    pub struct Sim {
        pub keys: Vec<Keypair>,
        pub set: ValidatorSet,
        cfg: Config,
        nodes: Vec<Tendermint>,
        queue: BTreeMap<(u64, u64), (usize, Event)>,
        seq: u64,
        now: u64,
        rng: Rng,
        seen: Vec<BTreeSet<Hash>>,
        /// Messages for heights a node has not reached yet, as a driver would buffer them.
        pending: Vec<Vec<Message>>,
        /// (node, height) -> (round, value), honest nodes only.
        pub decisions: BTreeMap<(usize, u64), (u32, Hash)>,
        pub evidence: Vec<(usize, SignedVote, SignedVote)>,
        sign_states: Vec<Option<SignState>>,
        /// Highest round of an undecided honest node per height, when GST began.
        gst_rounds: BTreeMap<u64, u32>,
        gst_seen: bool,
        /// Values honest nodes proposed, for byzantine nodes to vote for.
        values: Vec<Hash>,
        failures: Vec<String>,
    }

    fn msg_height(m: &Message) -> u64 {
        m.position().0
    }

    fn valid(v: &Hash) -> bool {
        v.0[0] != 0
    }

    impl Sim {
        pub fn new(cfg: Config) -> Sim {
            let n = cfg.powers.len();
            let keys = keys(n);
            let set = set_of(&keys, &cfg.powers);
            let nodes = keys.iter().map(|k| core(k, &set)).collect();
            let mut sim = Sim {
                rng: Rng(cfg.seed ^ 0x9E37_79B9_7F4A_7C15 | 1),
                keys,
                set,
                nodes,
                queue: BTreeMap::new(),
                seq: 0,
                now: 0,
                seen: vec![BTreeSet::new(); n],
                pending: vec![vec![]; n],
                decisions: BTreeMap::new(),
                evidence: vec![],
                sign_states: vec![None; n],
                gst_rounds: BTreeMap::new(),
                gst_seen: false,
                values: vec![],
                failures: vec![],
                cfg,
            };
            for i in 0..n {
                if sim.cfg.behaviour[i] != Behaviour::Silent {
                    sim.start(i, 1);
                }
            }
            sim
        }

        pub fn honest_value(node: usize, height: u64, round: u32) -> Hash {
            let mut b = node.to_le_bytes().to_vec();
            b.extend(height.to_le_bytes());
            b.extend(round.to_le_bytes());
            let mut h = Hash::digest(b"sim", &b);
            h.0[0] = 1;
            h
        }

        fn honest(&self, i: usize) -> bool {
            self.cfg.behaviour[i] == Behaviour::Honest
        }

        fn done(&self) -> bool {
            (0..self.nodes.len())
                .filter(|i| self.honest(*i))
                .all(|i| (1..=self.cfg.heights).all(|h| self.decisions.contains_key(&(i, h))))
        }

        /// Runs until every honest node decided every height, or the time limit.
        pub fn run(&mut self) {
            self.run_until(self.cfg.max_time, true);
        }

        /// Delivers everything due up to `deadline`, decided or not.
        pub fn settle(&mut self, extra_ms: u64) {
            self.run_until(self.now + extra_ms, false);
        }

        fn run_until(&mut self, deadline: u64, stop_when_done: bool) {
            let mut events = 0u32;
            while !(stop_when_done && self.done()) && events < 400_000 {
                let Some((&(t, _), _)) = self.queue.first_key_value() else { break };
                if t > deadline {
                    break;
                }
                let Some(((t, _), (to, ev))) = self.queue.pop_first() else { break };
                self.now = t;
                events += 1;
                if !self.gst_seen && t >= self.cfg.gst {
                    self.gst_seen = true;
                    for i in 0..self.nodes.len() {
                        let n = &self.nodes[i];
                        if self.cfg.behaviour[i] == Behaviour::Honest && n.decision().is_none() {
                            let r = self.gst_rounds.entry(n.height()).or_default();
                            *r = (*r).max(n.round());
                        }
                    }
                }
                match ev {
                    Event::Msg(m) => self.deliver(to, m),
                    Event::Timeout(t) => {
                        let out = self.nodes[to].handle(Input::Timeout(t));
                        self.process(to, out);
                    }
                }
            }
        }

        fn push(&mut self, at: u64, to: usize, ev: Event) {
            self.seq += 1;
            self.queue.insert((at, self.seq), (to, ev));
        }

        fn start(&mut self, i: usize, height: u64) {
            let out = self.nodes[i].handle(Input::Start { height, validators: self.set.clone(), seed: Hash::ZERO });
            self.process(i, out);
            let (now, later): (Vec<_>, Vec<_>) =
                std::mem::take(&mut self.pending[i]).into_iter().partition(|m| msg_height(m) == height);
            self.pending[i] = later.into_iter().filter(|m| msg_height(m) > height).collect();
            for m in now {
                self.deliver(i, m);
            }
        }

        fn send(&mut self, from: usize, to: usize, m: Message) {
            let dropped = self.rng.below(1000) < self.cfg.drop_per_mille;
            let cfg = &self.cfg;
            let before_gst = self.now < cfg.gst;
            let at = if cfg.eventual && self.cfg.behaviour[from] == Behaviour::Honest {
                let by = cfg.gst.saturating_add(cfg.max_delay_after);
                if before_gst {
                    let d = if dropped { by } else { self.now + self.rng.below(cfg.max_delay_before + 1) };
                    d.min(by).max(self.now)
                } else {
                    self.now + self.rng.below(cfg.max_delay_after + 1)
                }
            } else if dropped {
                return;
            } else {
                let max = if before_gst { cfg.max_delay_before } else { cfg.max_delay_after };
                self.now + self.rng.below(max + 1)
            };
            self.push(at, to, Event::Msg(m));
        }

        fn deliver(&mut self, to: usize, m: Message) {
            if self.cfg.behaviour[to] == Behaviour::Silent {
                return;
            }
            let h = msg_height(&m);
            if h > self.nodes[to].height() {
                self.pending[to].push(m);
                return;
            }
            if self.cfg.relay && self.honest(to) && self.seen[to].insert(Hash::of(b"sim-msg", &m)) {
                for j in (0..self.nodes.len()).filter(|j| *j != to) {
                    self.send(to, j, m.clone());
                }
            }
            let input = match m {
                Message::Proposal(p) => Input::Proposal { value_is_valid: valid(&p.proposal.value), proposal: p },
                Message::Vote(v) => Input::Vote(v),
            };
            let out = self.nodes[to].handle(input);
            self.process(to, out);
        }

        fn process(&mut self, i: usize, out: Vec<Output>) {
            let mut work: VecDeque<Output> = out.into();
            let mut next_height = None;
            while let Some(o) = work.pop_front() {
                match o {
                    Output::Broadcast(m) => self.broadcast(i, m),
                    Output::ScheduleTimeout { height, round, step, duration_ms } => {
                        self.push(self.now + duration_ms, i, Event::Timeout(Timeout { height, round, step }));
                    }
                    Output::GetValue { height, round } => {
                        let value =
                            if self.honest(i) { Sim::honest_value(i, height, round) } else { self.byzantine_value() };
                        work.extend(self.nodes[i].handle(Input::ProposeValue { height, round, value }));
                    }
                    Output::Decide { height, round, value, certificate } => {
                        if self.honest(i) {
                            if let Err(e) = verify_commit(CHAIN, &self.set, &certificate, height, value) {
                                self.failures.push(format!("node {i}: bad certificate at {height}: {e}"));
                            }
                            // Every decision is recorded: a second one at a height is a
                            // safety failure even when it repeats the first.
                            if let Some(first) = self.decisions.insert((i, height), (round, value)) {
                                self.failures.push(format!(
                                    "node {i} decided height {height} twice: {first:?}, then {:?}",
                                    (round, value)
                                ));
                            }
                        }
                        if height < self.cfg.heights {
                            next_height = Some(height + 1);
                        }
                    }
                    Output::Evidence { first, second } => {
                        let ok = first.validator == second.validator
                            && first.vote != second.vote
                            && (first.vote.height, first.vote.round, first.vote.kind)
                                == (second.vote.height, second.vote.round, second.vote.kind)
                            && [&first, &second]
                                .iter()
                                .all(|v| v.validator.verify(&v.vote.signing_hash(), &v.signature).is_ok());
                        if !ok || self.cfg.behaviour[self.key_index(&first.validator)] == Behaviour::Honest {
                            self.failures.push(format!("node {i}: bogus evidence {first:?} {second:?}"));
                        }
                        self.evidence.push((i, first, second));
                    }
                    Output::SignStateChanged(s) => {
                        let pos = (s.height, s.round, s.step);
                        if self.sign_states[i].as_ref().is_some_and(|p| pos <= (p.height, p.round, p.step)) {
                            self.failures.push(format!("node {i}: sign state went back to {s:?}"));
                        }
                        self.sign_states[i] = Some(s);
                    }
                }
            }
            if let Some(h) = next_height {
                self.start(i, h);
            }
        }

        fn key_index(&self, k: &PublicKey) -> usize {
            self.keys.iter().position(|x| x.public() == *k).unwrap_or(0)
        }

        fn byzantine_value(&mut self) -> Hash {
            let mut b = [0u8; 32];
            for chunk in b.chunks_mut(8) {
                chunk.copy_from_slice(&self.rng.next().to_le_bytes());
            }
            // A quarter of them are invalid blocks.
            b[0] = if self.rng.below(4) == 0 { 0 } else { 2 };
            Hash(b)
        }

        fn some_value(&mut self) -> Hash {
            if self.values.is_empty() || self.rng.below(3) == 0 {
                self.byzantine_value()
            } else {
                let i = self.rng.below(self.values.len() as u64) as usize;
                self.values[i]
            }
        }

        fn broadcast(&mut self, i: usize, m: Message) {
            let others: Vec<usize> = (0..self.nodes.len()).filter(|j| *j != i).collect();
            match self.cfg.behaviour[i] {
                Behaviour::Silent => {}
                Behaviour::Honest => {
                    if let Message::Proposal(p) = &m {
                        self.values.push(p.proposal.value);
                    }
                    for j in others {
                        self.send(i, j, m.clone());
                    }
                }
                Behaviour::Equivocate => {
                    // The first peer gets the honest message, the others something else.
                    for (n, j) in others.into_iter().enumerate() {
                        let key = self.keys[i].clone();
                        let forged = match &m {
                            Message::Vote(v) => {
                                let value = match (n, self.rng.below(3)) {
                                    (0, _) => v.vote.block_hash,
                                    (_, 0) if v.vote.block_hash.is_some() => None,
                                    _ => Some(self.some_value()),
                                };
                                let round = v.vote.round + u32::from(self.rng.below(8) == 0);
                                Message::Vote(signed_vote(&key, v.vote.height, round, v.vote.kind, value))
                            }
                            Message::Proposal(p) => {
                                let value = if n == 0 { p.proposal.value } else { self.some_value() };
                                let (h, r, vr) = (p.proposal.height, p.proposal.round, p.proposal.valid_round);
                                Message::Proposal(signed_proposal(&key, h, r, value, vr))
                            }
                        };
                        self.send(i, j, forged);
                    }
                }
            }
        }

        pub fn decisions_at(&self, height: u64) -> Vec<(u32, Hash)> {
            self.decisions.iter().filter(|((_, h), _)| *h == height).map(|(_, d)| *d).collect()
        }

        pub fn check_safety(&self) -> Result<(), String> {
            if let Some(f) = self.failures.first() {
                return Err(f.clone());
            }
            for h in 1..=self.cfg.heights {
                let values: BTreeSet<Hash> = self.decisions_at(h).into_iter().map(|(_, v)| v).collect();
                if values.len() > 1 {
                    return Err(format!("height {h}: honest nodes decided {values:?}"));
                }
            }
            Ok(())
        }

        pub fn check_liveness(&self, max_rounds: u32) -> Result<(), String> {
            for i in (0..self.nodes.len()).filter(|i| self.honest(*i)) {
                for h in 1..=self.cfg.heights {
                    let base = self.gst_rounds.get(&h).copied().unwrap_or(0);
                    match self.decisions.get(&(i, h)) {
                        None => {
                            let n = &self.nodes[i];
                            return Err(format!(
                                "node {i} never decided height {h} (at h{} r{} {:?}, t={})",
                                n.height(),
                                n.round(),
                                n.step(),
                                self.now
                            ));
                        }
                        Some((r, _)) if *r > base + max_rounds => {
                            return Err(format!("node {i} decided height {h} in round {r}, GST round {base}"));
                        }
                        Some(_) => {}
                    }
                }
            }
            Ok(())
        }
    }
}
