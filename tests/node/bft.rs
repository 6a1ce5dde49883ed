//! Four validators (the `local` chain, with a shorter block time) as real processes on
//! 127.0.0.1: they commit one chain; one can stop; two stopping halts it without a fork until
//! one returns; a validator killed mid-height and restarted does not sign twice; and an
//! equivocating validator is caught, its evidence goes on chain, and the others go on.

use super::network::{genesis_of, rogue};
use super::*;
use ergon::consensus::SignedVote;
use ergon::network::Topic;
use ergon::primitives::{Hash, Vote, VoteKind};

const VALIDATORS: [&str; 4] = ["alice", "bob", "charlie", "dave"];

/// The local spec with quick blocks and rounds, written to `dir`.
fn local_spec(dir: &Path) -> String {
    fast_local_spec(dir, "local-fast.json", |_| {}).0
}

/// The local spec with quick blocks and rounds and `change` applied, written to `dir/name`:
/// its path and the spec.
fn fast_local_spec(dir: &Path, name: &str, change: impl FnOnce(&mut ChainSpec)) -> (String, ChainSpec) {
    let mut spec = ChainSpec::load("local").unwrap();
    spec.consensus.block_time_ms = 300;
    spec.consensus.propose_timeout_ms = 1500;
    spec.consensus.vote_timeout_ms = 500;
    spec.consensus.timeout_delta_ms = 250;
    change(&mut spec);
    (write_spec(dir, name, &spec), spec)
}

/// Starts validator `name` with every address in `boot` as a bootnode.
fn validator(dir: &Path, spec: &str, name: &str, boot: &[String]) -> Node {
    let mut args = vec!["--chain", spec, "--validator-key", name];
    let joined = boot.join(",");
    if !boot.is_empty() {
        args.extend(["--bootnodes", joined.as_str()]);
    }
    Node::spawn(&dir.join(name), &args, &[])
}

/// The named validators, each dialing all started before it (a full mesh).
fn start_validators(dir: &Path, spec: &str, names: &[&str]) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for name in names {
        let boot: Vec<String> = nodes.iter().map(Node::p2p_addr).collect();
        nodes.push(validator(dir, spec, name, &boot));
    }
    nodes
}

fn block_at(node: &Node, height: u64) -> Value {
    node.call("chain_getBlock", json!([height]))
}

/// Every node has the same block and state root at every height in `heights`.
fn assert_same_chain(nodes: &[&Node], heights: std::ops::RangeInclusive<u64>) {
    for h in heights {
        let first = block_at(nodes[0], h);
        for n in &nodes[1..] {
            let b = block_at(n, h);
            assert_eq!(b["hash"], first["hash"], "block {h} differs");
            assert_eq!(b["header"]["stateRoot"], first["header"]["stateRoot"], "state root {h} differs");
        }
    }
}

fn evidence(node: &Node) -> Vec<Value> {
    node.call("chain_getEvidence", json!([])).as_array().cloned().unwrap_or_default()
}

/// The head, once it has not moved for `quiet`.
fn settled_head(node: &Node, quiet: Duration) -> u64 {
    let mut last = (node.head().0, Instant::now());
    wait_for("the head to stop moving", PROGRESS, || {
        let h = node.head().0;
        if h != last.0 {
            last = (h, Instant::now());
        }
        (last.1.elapsed() >= quiet).then_some(h)
    })
}

#[test]
fn four_validators_commit_one_chain_and_one_may_stop() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = local_spec(dir.path());
    let mut nodes = start_validators(dir.path(), &spec_path, &VALIDATORS);
    let spec = ChainSpec::load(&spec_path).unwrap();

    // A transfer sent to one validator is committed, and every validator applies it.
    let bob = Keypair::dev("bob");
    let mut tx = unsigned_transfer(&bob, EVE, 777, 1, 0);
    tx.chain_id = spec.chain_id.clone();
    tx.fee = min_fee(&tx);
    let hash = nodes[3].send(&tx.sign(&bob));
    let included = nodes[3].wait_included(&hash)["blockHeight"].as_u64().unwrap();
    let h = included.max(4);
    for n in &nodes {
        n.wait_height(h);
    }
    let all: Vec<&Node> = nodes.iter().collect();
    assert_same_chain(&all, 1..=h);

    // Each block carries precommits from at least 3 of the 4 (equal stakes), and proposers
    // take turns.
    let mut proposers = std::collections::BTreeSet::new();
    for height in 1..=h {
        let b = block_at(&nodes[0], height);
        let signers = b["commit"]["signatures"].as_array().map_or(0, Vec::len);
        assert!(signers >= 3, "block {height} has {signers} precommits: {b}");
        proposers.insert(b["header"]["proposer"].as_str().unwrap().to_string());
    }
    assert!(proposers.len() >= 2, "one proposer made every block: {proposers:?}");
    // A decided block's certificate may hold only the first 3 precommits, but validators keep
    // gathering them until the next height starts: some block records all four as signers.
    let all_four = wait_for("a block whose lastCommit has all four precommits", PROGRESS, || {
        (2..=nodes[0].head().0).find(|height| {
            let b = block_at(&nodes[0], *height);
            b["lastCommit"]["signatures"].as_array().is_some_and(|s| s.len() == 4)
        })
    });
    assert!(all_four >= 2);
    let head = nodes[0].call("chain_getHead", json!([]));
    assert_eq!(head["finalizedHeight"], head["height"], "BFT blocks are final when committed: {head}");

    // One of four stopped: the other three, holding 3/4 of the power, go on.
    nodes.pop().unwrap().kill9();
    let h2 = nodes[0].head().0 + 3;
    for n in &nodes {
        n.wait_height(h2);
    }
    let rest: Vec<&Node> = nodes.iter().collect();
    assert_same_chain(&rest, h..=h2);
    assert!(nodes.iter().all(|n| evidence(n).is_empty()), "nobody equivocated");
}

#[test]
fn two_of_four_stopped_halts_without_forking_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = local_spec(dir.path());
    let mut nodes = start_validators(dir.path(), &spec, &VALIDATORS);
    nodes[0].wait_height(3);

    // Kill -9 charlie and dave, mid-height: half the power is left, short of a quorum.
    let boot: Vec<String> = nodes[..2].iter().map(Node::p2p_addr).collect();
    nodes.pop().unwrap().kill9();
    nodes.pop().unwrap().kill9();
    let halted = settled_head(&nodes[0], Duration::from_secs(4));
    // Both report `halted` only after three rounds' timeouts ran their course with no block:
    // the rounds that could have committed were tried, and nothing was committed.
    for n in &nodes {
        wait_for("the survivors to report halted", PROGRESS, || {
            let h = n.call("system_health", json!([]));
            h["reasons"].as_array().is_some_and(|r| r.iter().any(|r| r == "halted")).then_some(())
        });
    }
    for n in &nodes {
        assert!(n.head().0 <= halted, "committed without a quorum");
    }
    let both: Vec<&Node> = nodes.iter().collect();
    let low = nodes.iter().map(|n| n.head().0).min().unwrap();
    assert_same_chain(&both, 1..=low);

    // Charlie comes back on its old store: the chain resumes where it stopped, and charlie,
    // killed while voting, signs nothing that conflicts with what it signed before.
    nodes.push(validator(dir.path(), &spec, "charlie", &boot));
    let target = halted + 3;
    for n in &nodes {
        n.wait_height(target);
    }
    let three: Vec<&Node> = nodes.iter().collect();
    assert_same_chain(&three, 1..=target);
    for n in &nodes {
        assert!(evidence(n).is_empty(), "a restarted validator signed twice: {:?}", evidence(n));
    }
}

/// Two different prevotes for one (height, round), both signed with dave's key.
fn conflicting_prevotes(chain_id: &str, height: u64, salt: u64) -> [SignedVote; 2] {
    let dave = Keypair::dev("dave");
    [b"first".as_slice(), b"second".as_slice()].map(|which| {
        let value = Hash::digest(which, &salt.to_le_bytes());
        let vote =
            Vote { chain_id: chain_id.into(), height, round: 0, kind: VoteKind::Prevote, block_hash: Some(value) };
        let signature = dave.sign(&vote.signing_hash());
        SignedVote { vote, validator: dave.public(), signature }
    })
}

#[test]
fn an_equivocating_validator_is_recorded_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let spec_path = local_spec(dir.path());
    // Dave's key is held by an in-process peer that signs two prevotes at every height.
    let nodes = start_validators(dir.path(), &spec_path, &VALIDATORS[..3]);
    nodes[0].wait_height(2);
    let chain_id = ChainSpec::load(&spec_path).unwrap().chain_id;
    let genesis = genesis_of(&nodes[0]);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let found = rt.block_on(async {
        let (net, _events) = rogue(&nodes[0], genesis);
        let deadline = Instant::now() + PROGRESS;
        let mut salt = 0u64;
        loop {
            let found = evidence(&nodes[0]);
            if !found.is_empty() {
                break found;
            }
            assert!(Instant::now() < deadline, "no evidence recorded for dave's double prevotes");
            salt += 1;
            let next = nodes[0].head().0 + 1;
            for vote in conflicting_prevotes(&chain_id, next, salt) {
                net.publish(Topic::Consensus, ergon::wire::encode_vote(&vote, 0));
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    });
    let e = &found[0];
    assert_eq!(e["validator"], Keypair::dev("dave").public().to_hex());
    assert_eq!(e["kind"], "prevote");
    assert_ne!(e["first"]["blockHash"], e["second"]["blockHash"]);
    // Each vote is validly signed, so both travel on: the others record it too.
    let at = e["height"].as_u64().unwrap();
    for n in &nodes[1..] {
        wait_for("evidence on every validator", PROGRESS, || {
            evidence(n).iter().any(|r| r["height"].as_u64() == Some(at)).then_some(())
        });
    }
    // A proposer puts it in a block, which every validator checks and records.
    let included = wait_for("the evidence in a block", PROGRESS, || {
        evidence(&nodes[0]).iter().find_map(|r| r["includedIn"].as_u64().filter(|_| r["height"].as_u64() == Some(at)))
    });
    let block = block_at(&nodes[0], included);
    let carried = block["evidence"].as_array().unwrap();
    assert!(carried.iter().any(|r| r["height"].as_u64() == Some(at)), "{block}");
    for n in &nodes[1..] {
        n.wait_height(included);
        assert_eq!(block_at(n, included)["header"]["evidenceRoot"], block["header"]["evidenceRoot"]);
    }
    // Dave is slashed (5% of its stake per offence height) and jailed out of the next set.
    let genesis_stake = ChainSpec::load(&spec_path).unwrap().validators[3].stake;
    for n in &nodes {
        let s = n.call("staking_get", json!([addr(&Keypair::dev("dave"))]));
        assert_eq!(s["jailed"], true, "{s}");
        assert!(amount(&s["staked"]) <= genesis_stake - genesis_stake / 20, "{s}");
    }
    // The honest three keep committing one chain.
    let h = nodes[0].head().0 + 3;
    for n in &nodes {
        n.wait_height(h);
    }
    let all: Vec<&Node> = nodes.iter().collect();
    assert_same_chain(&all, 1..=h);
}

/// Eve, a full node holding her key, stakes on a 4-validator chain with 8-block epochs: at the
/// next boundary every node moves her into the set, her precommits start to count in commit
/// certificates, and the five of them go on committing one chain.
#[test]
fn a_staker_joins_the_set_at_an_epoch_boundary_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (spec_path, spec) = fast_local_spec(dir.path(), "local-epochs.json", |s| s.consensus.epoch_length = 8);
    let mut nodes = start_validators(dir.path(), &spec_path, &VALIDATORS);
    let boot: Vec<String> = nodes.iter().map(Node::p2p_addr).collect();
    nodes.push(validator(dir.path(), &spec_path, "eve", &boot));
    nodes[0].wait_height(2);

    let key = Keypair::dev("eve");
    let stake = Tx {
        chain_id: spec.chain_id.clone(),
        sender: key.public(),
        nonce: 1,
        fee: 0,
        priority: Priority::Normal,
        payload: Payload::Stake(ergon::primitives::StakeAmount { amount: spec.economy.min_stake }),
    };
    let stake = ergon::ledger::fees::with_required_fee(&spec, stake).unwrap().sign(&key);
    let hash = nodes[0].send(&stake);
    let at = nodes[0].wait_included(&hash)["blockHeight"].as_u64().unwrap();
    let boundary = at.div_ceil(8).max(1) * 8;
    for n in &nodes {
        n.wait_height(boundary + 1);
        let v = n.call("staking_validators", json!([]));
        let set: Vec<&str> = v["validators"].as_array().unwrap().iter().filter_map(|x| x["address"].as_str()).collect();
        assert_eq!(set.len(), 5, "eve is in the set after block {boundary}: {v}");
        assert!(set.contains(&EVE), "{v}");
    }
    // Her precommits count: a certificate after the boundary carries her signature.
    let eve_key = key.public().to_hex();
    let signed_by_eve = wait_for("a commit certificate signed by eve", PROGRESS, || {
        let head = nodes[0].head().0;
        (boundary + 1..=head).find(|h| {
            let b = block_at(&nodes[0], *h);
            b["commit"]["signatures"].as_array().is_some_and(|s| s.iter().any(|x| x["validator"] == eve_key))
        })
    });
    let h = signed_by_eve + 3;
    for n in &nodes {
        n.wait_height(h);
    }
    let all: Vec<&Node> = nodes.iter().collect();
    assert_same_chain(&all, 1..=h);
    // Votes and blocks around the set change are judged by the set of their height: no honest
    // relay was blamed.
    for n in &nodes {
        assert!(!n.stderr().contains("banning peer"), "an honest peer was banned across the set change");
    }
}

/// Dave's validator never runs on a 4-validator chain with a 10-block downtime window: every
/// block's parent precommits lack him, so once a window is full he is slashed 1% and jailed,
/// the other three go on as the set, and after his term dave (now running) sends UNJAIL with
/// the CLI and is back in the set, signing, from the next epoch boundary.
#[test]
fn a_validator_kept_down_is_slashed_for_downtime_and_unjails() {
    let dir = tempfile::tempdir().unwrap();
    let (spec_path, spec) = fast_local_spec(dir.path(), "local-downtime.json", |s| {
        s.consensus.signed_blocks_window = 10;
        s.consensus.downtime_jail_blocks = 6;
        s.consensus.epoch_length = 30;
    });
    let mut nodes = start_validators(dir.path(), &spec_path, &VALIDATORS[..3]);
    let dave = addr(&Keypair::dev("dave"));
    let genesis_stake = spec.validators[3].stake;

    let jailed = wait_for("dave jailed for downtime", PROGRESS, || {
        let s = nodes[0].call("staking_get", json!([dave]));
        (s["jailed"] == true).then_some(s)
    });
    assert_eq!(amount(&jailed["staked"]), genesis_stake - genesis_stake / 100, "1% slashed: {jailed}");
    // In /metrics: the slash, and the rounds dave should have proposed, which timed out.
    let metrics = wait_for("the slash in /metrics", PROGRESS, || {
        let m = http_get(nodes[0].port, "/metrics").text();
        (metric(&m, "ergon_slashes_total{reason=\"downtime\"}") == 1).then_some(m)
    });
    assert!(metric(&metrics, "ergon_consensus_timeouts_total{step=\"propose\"}") >= 1, "{metrics}");
    assert!(metric(&metrics, "ergon_consensus_rounds_total") >= 1, "{metrics}");
    assert_eq!(metric(&metrics, "ergon_slashes_total{reason=\"double-sign\"}"), 0, "{metrics}");
    let until = jailed["jailedUntil"].as_u64().expect("a downtime jail has a term");
    let v = nodes[0].call("staking_validators", json!([]));
    let set: Vec<&str> = v["validators"].as_array().unwrap().iter().filter_map(|x| x["address"].as_str()).collect();
    assert_eq!(set.len(), 3, "dave left the set: {v}");
    assert!(!set.contains(&dave.as_str()), "{v}");
    let alice =
        v["validators"].as_array().unwrap().iter().find(|x| x["address"] == addr(&Keypair::dev("alice"))).unwrap();
    assert!(alice["precommitsExpected"].as_u64().unwrap() >= 10, "uptime is counted: {alice}");
    // Every block names its parent's signers; none is dave.
    let dave_key = Keypair::dev("dave").public().to_hex();
    let head = nodes[0].head().0;
    for h in 2..=head {
        let b = block_at(&nodes[0], h);
        let signers =
            b["lastCommit"]["signatures"].as_array().unwrap_or_else(|| panic!("block {h} lacks lastCommit: {b}"));
        assert!(signers.len() >= 3 && !signers.iter().any(|s| s["validator"] == dave_key), "block {h}: {b}");
    }

    // Dave comes up, waits out his term, and unjails with the CLI.
    let boot: Vec<String> = nodes.iter().map(Node::p2p_addr).collect();
    nodes.push(validator(dir.path(), &spec_path, "dave", &boot));
    nodes[0].wait_height(until);
    let url = nodes[0].url();
    let out =
        run_ergon(&["unjail", "--from", "dave", "--rpc", &url, "--wait", "--json"], &[], Duration::from_secs(120));
    assert!(out.status.success(), "unjail failed\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
    let at = wait_for("dave out of jail", PROGRESS, || {
        let s = nodes[0].call("staking_get", json!([dave]));
        (s["jailed"] == false).then(|| nodes[0].head().0)
    });
    let boundary = at.div_ceil(30) * 30;
    nodes[0].wait_height(boundary + 1);
    let v = nodes[0].call("staking_validators", json!([]));
    assert_eq!(v["validators"].as_array().unwrap().len(), 4, "dave is back after block {boundary}: {v}");
    let back = wait_for("a block recording dave's precommit", PROGRESS, || {
        let head = nodes[0].head().0;
        (boundary + 2..=head).find(|h| {
            let b = block_at(&nodes[0], *h);
            b["lastCommit"]["signatures"].as_array().is_some_and(|s| s.iter().any(|x| x["validator"] == dave_key))
        })
    });
    let all: Vec<&Node> = nodes.iter().collect();
    for n in &all {
        n.wait_height(back);
    }
    assert_same_chain(&all, 1..=back);
    for n in &all {
        assert!(!n.stderr().contains("banning peer"), "an honest peer was banned across the jailing");
    }
}
