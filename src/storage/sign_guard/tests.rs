//! The guard file: what it holds, when a node may start without it, and import never lowering
//! it or crossing chains.

use super::*;
use crate::chainspec::ChainSpec;
use crate::primitives::{Keypair, Vote, VoteKind};
use crate::storage::Store;

fn key(name: &str) -> PublicKey {
    Keypair::dev(name).public()
}

fn at(height: u64, round: u32, step: Step) -> SignState {
    SignState { height, round, step, lock: None, lock_proof: vec![] }
}

/// A state locked on a value with a one-vote proof, so the proof's bytes round-trip too.
fn locked(height: u64, round: u32) -> SignState {
    let k = Keypair::dev("bob");
    let value = Hash::digest(b"test", b"block");
    let vote = Vote { chain_id: "ergon-dev".into(), height, round, kind: VoteKind::Prevote, block_hash: Some(value) };
    let signature = k.sign(&vote.signing_hash());
    SignState {
        height,
        round,
        step: Step::Precommit,
        lock: Some(Lock { value, round }),
        lock_proof: vec![SignedVote { vote, validator: k.public(), signature }],
    }
}

fn dev_store(dir: &Path) -> Store {
    Store::open(&dir.join("db"), &ChainSpec::load("dev").unwrap()).unwrap()
}

#[test]
fn saved_states_come_back_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let store = dev_store(dir.path());
    let genesis = store.genesis_hash().unwrap();
    {
        let (mut guard, opened) = SignGuard::open_for_node(&path, &store, Some(&key("alice")), false).unwrap();
        assert_eq!(opened, Opened::Created, "a new database gets a new guard");
        assert!(path.exists(), "created at once, so a later start can tell it went missing");
        assert_eq!(guard.state_of(&key("alice")), None);
        guard.save(key("alice"), &at(7, 2, Step::Prevote)).unwrap();
        guard.save(key("alice"), &locked(7, 3)).unwrap();
        guard.save(key("bob"), &at(1, 0, Step::Propose)).unwrap();
    }
    let (guard, opened) = SignGuard::open_for_node(&path, &store, Some(&key("alice")), false).unwrap();
    assert_eq!(opened, Opened::Existing);
    assert_eq!(guard.state_of(&key("alice")), Some(&locked(7, 3)), "the last save, lock and proof included");
    assert_eq!(guard.state_of(&key("bob")), Some(&at(1, 0, Step::Propose)), "other keys are kept");
    let file = read(&path).unwrap().unwrap();
    assert_eq!(file.metadata.genesis_hash, genesis);
    assert!(!path.with_extension("json.tmp").exists(), "the temporary file was renamed into place");
}

/// The file's JSON is the interchange format: pinned.
#[test]
fn the_interchange_json_is_pinned() {
    let r = Record::from_state(key("alice"), &at(39, 1, Step::Precommit));
    let file = Interchange {
        metadata: Metadata { interchange_format_version: "5".into(), genesis_hash: Hash([1; 32]) },
        data: vec![r],
    };
    let json = serde_json::to_value(&file).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "metadata": {"interchange_format_version": "5", "genesis_hash": format!("0x{}", "01".repeat(32))},
            "data": [{"pubkey": key("alice").to_hex(), "last_signed": {"height": 39, "round": 1, "step": "precommit"}, "lock": null}]
        })
    );
    let l = Record::from_state(key("alice"), &locked(3, 0));
    let lock = l.lock.clone().unwrap();
    assert_eq!(lock.value, Hash::digest(b"test", b"block"));
    assert!(lock.proof.starts_with("0x04"), "SCALE compact length 1 first: {}", lock.proof);
    assert_eq!(l.to_state().unwrap(), locked(3, 0));
}

#[test]
fn a_validator_with_a_database_but_no_guard_is_refused_unless_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let store = dev_store(dir.path());
    {
        let (mut guard, _) = SignGuard::open_for_node(&path, &store, Some(&key("alice")), false).unwrap();
        guard.save(key("alice"), &at(9, 0, Step::Precommit)).unwrap();
    }
    drop(store);
    std::fs::remove_file(&path).unwrap();
    let store = dev_store(dir.path());
    let e = SignGuard::open_for_node(&path, &store, Some(&key("alice")), false).err().expect("refused");
    assert!(matches!(e, GuardError::Missing { .. }), "{e}");
    assert!(e.to_string().contains("--unsafe-reset-sign-state"), "{e}");
    // Not validating: nothing to guard, and no file is made (a validator start still sees it missing).
    let (_, opened) = SignGuard::open_for_node(&path, &store, None, false).unwrap();
    assert_eq!(opened, Opened::NotNeeded);
    assert!(!path.exists());
    // The operator's word.
    let (guard, opened) = SignGuard::open_for_node(&path, &store, Some(&key("alice")), true).unwrap();
    assert_eq!(opened, Opened::Reset);
    assert_eq!(guard.state_of(&key("alice")), None);
    drop(guard);
    assert_eq!(read(&path).unwrap().unwrap().data, vec![], "the reset guard is on disk");
}

#[test]
fn a_guard_kept_in_the_database_by_earlier_builds_moves_to_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    drop(dev_store(dir.path()));
    let store = dev_store(dir.path());
    store.save_legacy_sign_state(&locked(12, 1)).unwrap();
    let (guard, opened) = SignGuard::open_for_node(&path, &store, Some(&key("alice")), false).unwrap();
    assert_eq!(opened, Opened::MovedFromDatabase);
    assert_eq!(guard.state_of(&key("alice")), Some(&locked(12, 1)));
    assert_eq!(store.legacy_sign_state().unwrap(), None, "no stale copy stays behind to stand in for a lost file");
    drop(guard);
    assert_eq!(read(&path).unwrap().unwrap().data, vec![Record::from_state(key("alice"), &locked(12, 1))]);
}

#[test]
fn a_guard_for_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let other = Interchange {
        metadata: Metadata { interchange_format_version: "5".into(), genesis_hash: Hash([9; 32]) },
        data: vec![],
    };
    std::fs::write(&path, serde_json::to_vec(&other).unwrap()).unwrap();
    let store = dev_store(dir.path());
    let e = SignGuard::open_for_node(&path, &store, Some(&key("alice")), false).err().expect("refused");
    assert!(matches!(e, GuardError::OtherChain { .. }), "{e}");
}

#[test]
fn import_takes_the_higher_position_and_refuses_other_chains_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let genesis = Hash([3; 32]);
    let file = |records: Vec<Record>| Interchange {
        metadata: Metadata { interchange_format_version: "5".into(), genesis_hash: genesis },
        data: records,
    };
    // Into a missing guard: created.
    let first = file(vec![
        Record::from_state(key("alice"), &at(10, 0, Step::Precommit)),
        Record::from_state(key("bob"), &at(4, 2, Step::Prevote)),
    ]);
    assert_eq!(
        SignGuard::import(&path, genesis, first).unwrap(),
        vec![(key("alice"), Merged::Added), (key("bob"), Merged::Added)]
    );
    // Lower for alice, higher for bob (same height and round, later step), new for charlie.
    let second = file(vec![
        Record::from_state(key("alice"), &at(9, 5, Step::Precommit)),
        Record::from_state(key("bob"), &at(4, 2, Step::Precommit)),
        Record::from_state(key("charlie"), &at(1, 0, Step::Propose)),
    ]);
    assert_eq!(
        SignGuard::import(&path, genesis, second).unwrap(),
        vec![(key("alice"), Merged::Kept), (key("bob"), Merged::Raised), (key("charlie"), Merged::Added)]
    );
    let held = read(&path).unwrap().unwrap();
    let position = |k: &str| held.data.iter().find(|r| r.pubkey == key(k)).map(|r| r.last_signed).unwrap();
    assert_eq!(position("alice"), Position { height: 10, round: 0, step: StepName::Precommit }, "never lowered");
    assert_eq!(position("bob"), Position { height: 4, round: 2, step: StepName::Precommit });
    assert_eq!(position("charlie"), Position { height: 1, round: 0, step: StepName::Propose });
    // Another chain's file.
    let mut foreign = file(vec![Record::from_state(key("alice"), &at(99, 0, Step::Precommit))]);
    foreign.metadata.genesis_hash = Hash([4; 32]);
    assert!(matches!(SignGuard::import(&path, genesis, foreign), Err(GuardError::OtherChain { .. })));
    assert_eq!(read(&path).unwrap().unwrap(), held, "a refused import changes nothing");
    // Another version, and records that do not decode, are refused when parsed.
    let text = |f: &Interchange| serde_json::to_string(f).unwrap();
    let mut v4 = file(vec![]);
    v4.metadata.interchange_format_version = "4".into();
    assert!(matches!(parse(&path, &text(&v4)), Err(GuardError::Version { .. })));
    let mut bad = file(vec![Record::from_state(key("alice"), &locked(5, 0))]);
    if let Some(l) = bad.data[0].lock.as_mut() {
        l.proof = "0x05".into();
    }
    assert!(matches!(parse(&path, &text(&bad)), Err(GuardError::Record { .. })));
    assert!(matches!(parse(&path, "{\"metadata\": {}}"), Err(GuardError::Parse { .. })));
}

#[cfg(unix)]
#[test]
fn import_is_refused_while_a_node_holds_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let store = dev_store(dir.path());
    let genesis = store.genesis_hash().unwrap();
    let (guard, _) = SignGuard::open_for_node(&path, &store, Some(&key("alice")), false).unwrap();
    let empty = guard.interchange();
    assert!(matches!(SignGuard::import(&path, genesis, empty.clone()), Err(GuardError::InUse { .. })));
    assert!(matches!(ensure_unused(&path), Err(GuardError::InUse { .. })));
    drop(guard);
    SignGuard::import(&path, genesis, empty).unwrap();
    ensure_unused(&path).unwrap();
}
