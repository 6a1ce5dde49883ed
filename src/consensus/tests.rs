use super::*;
use crate::chainspec::ChainSpec;
use crate::primitives::{Hash, Header, PublicKey};

fn block(height: u64) -> Block {
    Block {
        header: Header {
            parent: Hash::ZERO,
            height,
            timestamp_ms: 0,
            proposer: Keypair::dev("alice").public(),
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            tx_count: 0,
        },
        txs: vec![],
    }
}

fn engine(names: &[&str], me: &str) -> Engine {
    let spec = ChainSpec::load("dev").unwrap();
    let stakes: Vec<(PublicKey, u128)> = names.iter().map(|n| (Keypair::dev(n).public(), 10u128.pow(13))).collect();
    Engine::new(
        spec.chain_id.clone(),
        Some(Keypair::dev(me)),
        ValidatorSet::from_stakes(&stakes).unwrap(),
        spec.consensus.clone(),
    )
}

#[test]
fn single_validator_commits_each_height_after_block_time() {
    let mut e = engine(&["alice"], "alice");
    let set = e.validators().clone();
    for h in 1..=3u64 {
        let fx = e.handle(Input::Start { height: h });
        let Some(Effect::ScheduleTimeout { timeout, after_ms }) = fx.first().cloned() else { panic!("{fx:?}") };
        assert_eq!((timeout.kind, after_ms), (TimeoutKind::NewHeight, 1000));
        let fx = e.handle(Input::TimeoutElapsed(timeout));
        assert!(fx.iter().any(|f| matches!(f, Effect::BuildProposal { height, round: 0 } if *height == h)));
        let b = block(h);
        let fx = e.handle(Input::ProposalBuilt { height: h, round: 0, block: b.clone() });
        let [Effect::Commit { block: got, certificate }] = fx.as_slice() else { panic!("{fx:?}") };
        assert_eq!(got, &b);
        verify_commit("ergon-dev", &set, certificate, h, b.hash()).unwrap();
        // A second proposal for the same height is ignored: never two commits at one height.
        assert!(e.handle(Input::ProposalBuilt { height: h, round: 0, block: block(h) }).is_empty());
    }
}

#[test]
fn stale_timeouts_and_proposals_are_ignored() {
    let mut e = engine(&["alice"], "alice");
    e.handle(Input::Start { height: 5 });
    let old = Timeout { height: 4, round: 0, kind: TimeoutKind::NewHeight };
    assert!(e.handle(Input::TimeoutElapsed(old)).is_empty());
    assert!(e.handle(Input::ProposalBuilt { height: 5, round: 0, block: block(5) }).is_empty(), "not yet proposing");
}

#[test]
fn without_quorum_nothing_commits_and_rounds_advance() {
    let mut e = engine(&["alice", "bob", "charlie", "dave"], "alice");
    let fx = e.handle(Input::Start { height: 4 }); // (4 + 0) % 4 = alice proposes
    let Some(Effect::ScheduleTimeout { timeout, .. }) = fx.first().cloned() else { panic!() };
    let fx = e.handle(Input::TimeoutElapsed(timeout));
    assert!(fx.iter().any(|f| matches!(f, Effect::BuildProposal { .. })));
    assert!(e.handle(Input::ProposalBuilt { height: 4, round: 0, block: block(4) }).is_empty());
    let propose = Timeout { height: 4, round: 0, kind: TimeoutKind::Propose };
    let fx = e.handle(Input::TimeoutElapsed(propose));
    let Some(Effect::ScheduleTimeout { timeout, after_ms }) = fx.first().cloned() else { panic!() };
    assert_eq!((timeout.round, after_ms), (1, 3500), "round 1 waits propose + delta");
    assert!(!fx.iter().any(|f| matches!(f, Effect::BuildProposal { .. })), "bob proposes round 1");
}

#[test]
fn certificates_are_checked() {
    let set = ValidatorSet::from_stakes(
        &["alice", "bob", "charlie", "dave"].map(|n| (Keypair::dev(n).public(), 10u128.pow(13))),
    )
    .unwrap();
    let b = block(7);
    let mut cert = CommitCertificate { height: 7, round: 0, block_hash: b.hash(), signatures: vec![] };
    let msg = cert.vote("c").signing_hash();
    for n in ["alice", "bob"] {
        cert.signatures.push((Keypair::dev(n).public(), Keypair::dev(n).sign(&msg)));
    }
    assert!(matches!(verify_commit("c", &set, &cert, 7, b.hash()), Err(CommitError::NoQuorum { got: 20000, .. })));
    cert.signatures.push((Keypair::dev("charlie").public(), Keypair::dev("charlie").sign(&msg)));
    verify_commit("c", &set, &cert, 7, b.hash()).unwrap();
    assert!(matches!(verify_commit("other-chain", &set, &cert, 7, b.hash()), Err(CommitError::BadSignature)));
    assert!(matches!(verify_commit("c", &set, &cert, 8, b.hash()), Err(CommitError::Height { .. })));
    let mut dup = cert.clone();
    dup.signatures.push(dup.signatures[0]);
    assert!(matches!(verify_commit("c", &set, &dup, 7, b.hash()), Err(CommitError::DuplicateSigner(_))));
    let mut stranger = cert.clone();
    stranger.signatures[0] = (Keypair::dev("eve").public(), Keypair::dev("eve").sign(&msg));
    assert!(matches!(verify_commit("c", &set, &stranger, 7, b.hash()), Err(CommitError::UnknownSigner(_))));
}
