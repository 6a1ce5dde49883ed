//! Health that tells the truth (issue 14, item 6): a validator whose partner is down says
//! `halted` once the chain has stopped, and `ok` again when blocks come back; a lone `--dev`
//! validator needs nobody and is `ok`.

use super::*;

/// The local spec cut down to alice and bob (equal stakes: neither commits alone), with quick
/// blocks and rounds, written to `dir`.
fn two_validator_spec(dir: &Path) -> String {
    let mut spec = ChainSpec::load("local").unwrap();
    spec.validators.truncate(2);
    assert_eq!(spec.validators.iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
    spec.consensus.block_time_ms = 300;
    spec.consensus.propose_timeout_ms = 1500;
    spec.consensus.vote_timeout_ms = 500;
    spec.consensus.timeout_delta_ms = 250;
    write_spec(dir, "two-validators.json", &spec)
}

fn validator(base: &Path, spec: &str, name: &str, boot: Option<&str>) -> Node {
    let mut args = vec!["--chain", spec, "--validator-key", name];
    if let Some(b) = boot {
        args.extend(["--bootnodes", b]);
    }
    Node::spawn(base, &args, &[])
}

/// `GET /health` as (HTTP status, body).
fn health(node: &Node) -> (u16, Value) {
    let r = http_get(node.port, "/health");
    (r.status, r.json())
}

fn reasons(v: &Value) -> Vec<String> {
    let list = v["reasons"].as_array().unwrap_or_else(|| panic!("no reasons in {v}"));
    list.iter().map(|r| r.as_str().unwrap_or_else(|| panic!("a reason is a string: {v}")).to_string()).collect()
}

#[test]
fn a_lone_dev_validator_is_ok() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = Node::start(dir.path(), &[]);
    node.wait_height(3);
    let (status, body) = health(&node);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["reasons"], json!([]), "{body}");
    assert_eq!(body["shouldHavePeers"], false, "a lone dev validator needs no peers: {body}");
    let rpc = node.call("system_health", json!([]));
    for field in ["status", "reasons", "height", "syncTarget", "isSyncing", "peers", "shouldHavePeers"] {
        assert!(rpc.get(field).is_some(), "system_health has {field}: {rpc}");
    }
    assert_eq!(rpc["status"], "ok", "{rpc}");
}

#[test]
fn a_validator_without_its_quorum_reports_halted_until_blocks_return() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = two_validator_spec(dir.path());
    let alice = validator(&dir.path().join("alice"), &spec, "alice", None);
    let boot = alice.p2p_addr();
    let bob = validator(&dir.path().join("bob"), &spec, "bob", Some(&boot));
    let h = alice.wait_height(3);
    bob.wait_height(h);
    wait_for("both to report ok", PROGRESS, || (health(&alice).0 == 200 && health(&bob).0 == 200).then_some(()));
    let (_, body) = health(&alice);
    assert_eq!(body["shouldHavePeers"], true, "a validator in a set of two needs its peer: {body}");

    // Bob down: alice holds half the power, so the chain stops, and alice says so.
    let log_from = alice.stderr().len();
    bob.kill9();
    let (stuck, body) = wait_for("alice to report halted", PROGRESS, || {
        let (status, body) = health(&alice);
        reasons(&body).contains(&"halted".to_string()).then_some((status, body))
    });
    assert_eq!(stuck, 503, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert!(reasons(&body).contains(&"no-peers".to_string()), "bob is gone: {body}");
    let rpc = alice.call("system_health", json!([]));
    assert_eq!(rpc["status"], "degraded", "{rpc}");
    assert_eq!(rpc["reasons"], body["reasons"], "{rpc}");
    let halted_at = body["height"].as_u64().unwrap();
    assert_eq!(alice.head().0, halted_at, "halted means no block since: {body}");

    // The transition is logged once: twenty more requests in the same state add no line.
    let degraded_lines = || {
        let log = alice.stderr();
        log[log_from..].lines().filter(|l| l.contains("health: degraded") && l.contains("halted")).count()
    };
    let logged = wait_for("the halt to be logged", PROGRESS, || Some(degraded_lines()).filter(|n| *n > 0));
    for _ in 0..20 {
        let (status, again) = health(&alice);
        assert_eq!((status, &again["reasons"]), (503, &body["reasons"]), "{again}");
    }
    assert_eq!(degraded_lines(), logged, "logged per transition, not per request:\n{}", alice.stderr());

    // Why: alice says she waits for a quorum, and consensus_state shows the votes she has,
    // her own half of the power, short of the quorum.
    wait_for("the quorum wait to be logged", PROGRESS, || {
        alice.stderr()[log_from..].contains("waiting for a quorum").then_some(())
    });
    let cs = alice.call("consensus_state", json!([]));
    assert_eq!(cs["height"], halted_at + 1, "{cs}");
    assert_eq!(cs["validators"], 2, "{cs}");
    let (total, quorum) = (cs["totalPower"].as_u64().unwrap(), cs["quorumPower"].as_u64().unwrap());
    assert!(quorum > total / 2 && quorum <= total, "{cs}");
    assert!(["propose", "prevote", "precommit"].contains(&cs["step"].as_str().unwrap()), "{cs}");
    assert!(cs["proposer"]["address"].as_str().is_some_and(|a| a.starts_with("ait1")), "{cs}");
    let votes = cs["votes"].as_array().unwrap_or_else(|| panic!("votes per round: {cs}"));
    let seen: Vec<u64> = votes.iter().map(|r| r["prevotes"]["power"].as_u64().unwrap()).collect();
    assert!(seen.iter().all(|p| *p < quorum), "never a quorum of prevotes without bob: {cs}");
    assert!(seen.iter().any(|p| *p > 0), "alice's own prevotes are counted: {cs}");

    // Bob back: blocks resume, and alice is ok again, and says so in the log.
    let bob = validator(&dir.path().join("bob"), &spec, "bob", Some(&boot));
    alice.wait_height(halted_at + 1);
    let body = wait_for("alice to report ok again", PROGRESS, || {
        let (status, body) = health(&alice);
        (status == 200).then_some(body)
    });
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["reasons"], json!([]), "{body}");
    wait_for("the recovery to be logged", PROGRESS, || {
        alice.stderr()[log_from..].contains("health: ok again").then_some(())
    });
    bob.wait_height(halted_at + 1);
}
