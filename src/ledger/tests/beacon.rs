//! The randomness beacon: each block's reveal must be the next value of its proposer's
//! committed hash chain, so a proposer cannot choose the seed of the draws.

use super::*;
use crate::ledger::beacon::{self, RevealChain, RevealInvalid, CHAIN_LENGTH};

fn chain_of(c: &Chain, who: &str) -> Option<RevealChain> {
    read(&c.state, &StateKey::RevealChain(addr(who))).unwrap()
}

fn beacon_at(c: &Chain, height: u64) -> Hash {
    beacon::at(&c.state, height).unwrap().expect("a beacon value")
}

fn apply_with_reveal(c: &Chain, proposer: &str, reveal: Hash) -> Result<BlockOutcome, BlockError> {
    let h = c.height + 1;
    let env = BlockEnv { reveal, ..c.env(h, addr(proposer)) };
    let commit = c.last_commit(h);
    apply_block(&c.state, &c.spec, env, BlockVotes { last_commit: commit.as_ref(), evidence: &[] }, &[])
}

#[test]
fn a_proposer_has_exactly_one_valid_reveal_per_block() {
    let mut c = Chain::dev();
    assert_eq!(chain_of(&c, "alice"), None);
    // The first block commits alice's chain and mixes nothing of hers into the beacon.
    c.block(addr("alice"), &[]);
    let committed = chain_of(&c, "alice").unwrap();
    assert_eq!((committed.left, committed.generation), (CHAIN_LENGTH, 0));
    let genesis_beacon = Hash::of(crate::primitives::tag::BEACON, &c.spec.chain_id);
    assert_eq!(beacon_at(&c, 1), Hash::of(crate::primitives::tag::BEACON, &(genesis_beacon, 1u64)));

    // From then on only the next value down the chain is accepted.
    let right = c.env(c.height + 1, addr("alice")).reveal;
    assert_eq!(Hash::of(crate::primitives::tag::REVEAL, &right), committed.tip);
    for wrong in [Hash::ZERO, Hash([7; 32]), committed.tip] {
        let got = apply_with_reveal(&c, "alice", wrong).unwrap_err();
        assert_eq!(got, BlockError::Reveal(RevealInvalid { got: wrong, tip: committed.tip }));
    }
    let out = apply_with_reveal(&c, "alice", right).unwrap();
    c.commit(&out.diff);
    assert_eq!(chain_of(&c, "alice").unwrap(), RevealChain { tip: right, left: CHAIN_LENGTH - 1, generation: 0 });
    assert_eq!(beacon_at(&c, 2), Hash::of(crate::primitives::tag::BEACON, &(beacon_at(&c, 1), right)));
    // Replaying the same reveal is not the next value either.
    assert!(matches!(apply_with_reveal(&c, "alice", right), Err(BlockError::Reveal(_))));
}

#[test]
fn each_proposer_reveals_down_its_own_chain() {
    let mut c = Chain::new(ChainSpec::load("local").unwrap());
    for round in 0..3 {
        for who in ["alice", "bob", "charlie", "dave"] {
            let before = beacon::at(&c.state, c.height).unwrap();
            c.block(addr(who), &[]);
            let chain = chain_of(&c, who).unwrap();
            assert_eq!(chain.left, CHAIN_LENGTH - round, "{who} in round {round}");
            assert_ne!(Some(beacon_at(&c, c.height)), before, "every block moves the beacon");
        }
    }
    // Other keys' chains differ: the same position never reveals the same value.
    let tips: std::collections::BTreeSet<Hash> =
        ["alice", "bob", "charlie", "dave"].iter().map(|w| chain_of(&c, w).unwrap().tip).collect();
    assert_eq!(tips.len(), 4);
}

#[test]
fn a_spent_chain_is_replaced_by_a_new_commitment() {
    let mut c = Chain::dev();
    c.block(addr("alice"), &[]);
    // Walk alice's chain to its last value by hand, as if she had proposed 4095 blocks.
    let secret = beacon::RevealSecret::new(&key("alice"), &c.spec.chain_id);
    let mut last = chain_of(&c, "alice").unwrap();
    last.left = 1;
    let c0 = {
        let state = &mut c.state;
        state.records.insert(StateKey::RevealChain(addr("alice")), parity_scale_codec::Encode::encode(&last));
        beacon::next_reveal(&*state, &addr("alice"), &secret).unwrap()
    };
    // The tip on record must hash from c_0: put the real c_1 there.
    last.tip = Hash::of(crate::primitives::tag::REVEAL, &c0);
    c.state.records.insert(StateKey::RevealChain(addr("alice")), parity_scale_codec::Encode::encode(&last));
    c.block(addr("alice"), &[]);
    assert_eq!(chain_of(&c, "alice").unwrap(), RevealChain { tip: c0, left: 0, generation: 0 });
    let mixed = Hash::of(crate::primitives::tag::BEACON, &(beacon_at(&c, c.height - 1), c0));
    assert_eq!(beacon_at(&c, c.height), mixed);
    // Spent: the next block commits generation 1, which mixes nothing in.
    c.block(addr("alice"), &[]);
    let next = chain_of(&c, "alice").unwrap();
    assert_eq!((next.left, next.generation), (CHAIN_LENGTH, 1));
    let unmixed = Hash::of(crate::primitives::tag::BEACON, &(beacon_at(&c, c.height - 1), c.height));
    assert_eq!(beacon_at(&c, c.height), unmixed);
    c.block(addr("alice"), &[]);
    assert_eq!(chain_of(&c, "alice").unwrap().left, CHAIN_LENGTH - 1, "and reveals down it");
}

#[test]
fn old_beacon_values_are_forgotten() {
    let mut c = Chain::dev();
    let keep = beacon::retention(&c.spec);
    for _ in 0..keep + 2 {
        c.block(addr("alice"), &[]);
    }
    assert_eq!(beacon::at(&c.state, 1).unwrap(), None);
    assert!(beacon::at(&c.state, c.height + 1 - keep).unwrap().is_some());
    assert_eq!(beacon::at(&c.state, c.height - keep).unwrap(), None);
}
