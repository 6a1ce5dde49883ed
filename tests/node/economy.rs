//! The compute economy through the CLI and JSON-RPC of a real `--dev` node: a client posts a
//! job, a staked miner signs a receipt, the coordinator attests it, and the claim pays and
//! mints exactly the documented amounts, pending until the challenge window closes; bad
//! claims get their own error codes; a job past its deadline returns its escrow.

use super::*;
use ergon::primitives::{ComputeReceipt, Hash, JobPost, ReceiptClaim, StakeAmount};

const DAVE: &str = "ait15qqpaw35vkg9n5726eulx9fk207arupna5l55e";
const FERDIE: &str = "ait12dlp5dx5yy7vh2038sdu50m6pvmgc9cse3jchx";
const TREASURY: &str = "ait1y4xa3fegzv3kf03tlkhqf7ygs5mch33daah08t";
const MINER_STAKE: u128 = 100_000_000_000;

/// Runs the CLI against `node` and returns the JSON object of its last line.
fn cli(node: &Node, home: &Path, args: &[&str]) -> Value {
    let url = node.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--rpc", &url]);
    let home = home.to_str().expect("utf-8 path");
    let out = run_ergon(&all, &[("HOME", home)], Duration::from_secs(120));
    assert!(
        out.status.success(),
        "ergon {all:?} failed ({})\nstdout:\n{}\nstderr:\n{}",
        out.status,
        out.stdout,
        out.stderr
    );
    let line = out.stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("ergon {all:?} printed no JSON ({e}): {}", out.stdout))
}

/// Runs the CLI expecting failure; returns its stderr.
fn cli_fails(node: &Node, home: &Path, args: &[&str]) -> String {
    let url = node.url();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--rpc", &url]);
    let out = run_ergon(&all, &[("HOME", home.to_str().expect("utf-8 path"))], Duration::from_secs(120));
    assert!(!out.status.success(), "ergon {all:?} should fail\nstdout:\n{}", out.stdout);
    out.stderr
}

fn account(node: &Node, who: &str) -> Value {
    node.call("account_get", json!([who]))
}

fn field(v: &Value, name: &str) -> u128 {
    amount(&v[name])
}

fn height(node: &Node) -> u64 {
    node.call("chain_getHead", json!([]))["height"].as_u64().expect("head height")
}

/// A signed RECEIPT_CLAIM built here, for the cases the CLI will not produce.
fn claim_tx(node: &Node, miner: &Keypair, coordinator: &Keypair, r: ComputeReceipt) -> SignedTx {
    let nonce = account(node, &addr(miner))["nonce"].as_u64().expect("nonce") + 1;
    let claim = ReceiptClaim {
        miner_sig: miner.sign(&r.signing_hash()),
        attestation: coordinator.sign(&r.attestation_hash()),
        miner_key: miner.public(),
        coordinator_key: coordinator.public(),
        receipt: r,
    };
    let tx = Tx {
        chain_id: CHAIN_ID.into(),
        sender: miner.public(),
        nonce,
        fee: 0,
        priority: Priority::Normal,
        payload: Payload::ReceiptClaim(Box::new(claim)),
    };
    ergon::ledger::fees::with_required_fee(&dev_spec(), tx).expect("fee").sign(miner)
}

/// The sample word-count job's source, and an input for it written into `home`.
fn sample_job(home: &Path) -> (String, String) {
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/wordcount.wat").to_string();
    let input = home.join("input.txt");
    std::fs::write(&input, "the quick brown fox jumps over the lazy dog\n".repeat(20)).expect("write input");
    (program, input.to_str().expect("utf-8").to_string())
}

/// Posts the sample word-count job (its program and input uploaded by the CLI) as bob.
fn post_job(node: &Node, home: &Path, max_units: &str, price: &str, deadline: &str) -> String {
    post_job_verified(node, home, max_units, price, deadline, "0")
}

/// [`post_job`] with `verifiers` drawn for its receipt.
fn post_job_verified(
    node: &Node,
    home: &Path,
    max_units: &str,
    price: &str,
    deadline: &str,
    verifiers: &str,
) -> String {
    let (program, input) = sample_job(home);
    let v = cli(
        node,
        home,
        &[
            "job",
            "post",
            "--from",
            "bob",
            "--program",
            &program,
            "--input",
            &input,
            "--max-units",
            max_units,
            "--price",
            price,
            "--coordinator",
            "dave",
            "--deadline",
            deadline,
            "--verifiers",
            verifiers,
            "--wait",
            "--json",
        ],
    );
    assert_eq!(v["status"], "included", "{v}");
    let id = v["jobId"].as_str().unwrap_or_else(|| panic!("job post prints jobId: {v}")).to_string();
    assert_eq!(v["txHash"], id, "a job's id is its tx hash");
    id
}

#[test]
fn client_job_receipt_mint_flow_pays_exact_amounts() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::start(dir.path(), &[]);
    let h = home.path();

    // eve stakes to become a miner; `getbalance` takes her dev name for her address.
    let v = cli(&node, h, &["stake", &MINER_STAKE.to_string(), "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    assert_eq!(field(&account(&node, EVE), "staked"), MINER_STAKE);
    let b = cli(&node, h, &["getbalance", "eve", "--json"]);
    assert_eq!((b["address"].as_str(), field(&b, "staked")), (Some(EVE), MINER_STAKE), "{b}");

    let bob0 = account(&node, BOB);
    let job = post_job(&node, h, "1000000", "1000000", "100");
    let bob1 = account(&node, BOB);
    assert_eq!(field(&bob1, "reserved"), 1_000_000);
    assert!(field(&bob1, "balance") < field(&bob0, "balance") - 1_000_000, "price reserved and fee paid");
    let j = node.call("job_get", json!([job]));
    assert_eq!(j["status"], "open", "{j}");
    assert_eq!(j["coordinator"], DAVE);

    // eve runs the job as a miner would and publishes the output; the receipt claims what
    // the run counted.
    let run = cli(&node, h, &["job", "run", &job, "--publish", "--json"]);
    assert_eq!(run["status"], "completed", "{run}");
    let units = run["units"].as_u64().expect("units");
    let out_hash = run["outputHash"].as_str().expect("outputHash").to_string();
    let output = node.call("blob_get", json!([out_hash]));
    assert_eq!(output["data"], format!("0x{}", hex::encode(180u64.to_le_bytes())), "9 words x 20 lines: {output}");
    let file = h.join("receipt.json");
    let file_s = file.to_str().expect("utf-8");
    let units_s = units.to_string();
    cli(
        &node,
        h,
        &[
            "receipt",
            "sign",
            "--job",
            &job,
            "--miner",
            "eve",
            "--units",
            &units_s,
            "--output-hash",
            &out_hash,
            "--out",
            file_s,
            "--json",
        ],
    );
    // Submitting before the coordinator attests is refused by the CLI.
    let err = cli_fails(&node, h, &["receipt", "submit", file_s, "--from", "eve"]);
    assert!(err.contains("not attested"), "{err}");
    cli(&node, h, &["receipt", "attest", file_s, "--coordinator", "dave", "--json"]);

    let (dave0, t0) = (account(&node, DAVE), account(&node, TREASURY));
    let s0 = node.call("economy_supply", json!([]));
    let v = cli(&node, h, &["receipt", "submit", file_s, "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let receipt_id = v["receiptId"].as_str().expect("receiptId").to_string();
    assert!(v["txHash"].is_string(), "{v}");

    // 1% of the price burned, 99% to the miner; mint = units x 1,000 x 10 (the genesis
    // multiplier): 5% coordinator, 10% treasury, 85% miner; all pending.
    let mint = u128::from(units) * 10_000;
    let miner_pending = 990_000 + mint * 85 / 100;
    let eve1 = account(&node, EVE);
    assert_eq!(field(&eve1, "pending"), miner_pending);
    assert_eq!(field(&account(&node, DAVE), "pending"), field(&dave0, "pending") + mint * 5 / 100);
    assert_eq!(field(&account(&node, TREASURY), "pending"), field(&t0, "pending") + mint / 10);
    assert_eq!(field(&account(&node, BOB), "reserved"), 0);
    let s1 = node.call("economy_supply", json!([]));
    assert_eq!(amount(&s1["minted"]["compute"]), amount(&s0["minted"]["compute"]) + mint);
    assert_eq!(amount(&s1["burned"]), amount(&s0["burned"]) + 10_000);
    let r = node.call("receipt_get", json!([receipt_id]));
    assert_eq!(r["status"], "pending", "{r}");
    assert_eq!(amount(&r["mint"]["total"]), mint);
    let matures = r["maturityHeight"].as_u64().expect("maturityHeight");
    assert_eq!(matures, r["height"].as_u64().unwrap() + 20, "dev chain: 20-block challenge window");
    assert_eq!(node.call("job_get", json!([job]))["status"], "claimed");
    let m = node.call("economy_multiplier", json!([]));
    assert_eq!(m["tier"], "Genesis", "{m}");

    // The same receipt again: its own error code, at admission.
    let err = cli_fails(&node, h, &["receipt", "submit", file_s, "--from", "eve"]);
    assert!(err.contains("code 1054"), "replay: {err}");

    // Matures after the window: pending becomes available.
    wait_for("the receipt to mature", PROGRESS, || (height(&node) >= matures).then_some(()));
    let eve2 = account(&node, EVE);
    assert_eq!(field(&eve2, "pending"), 0);
    assert_eq!(field(&eve2, "balance"), field(&eve1, "balance") + miner_pending);
    assert_eq!(field(&account(&node, DAVE), "balance"), field(&dave0, "balance") + mint * 5 / 100);
    assert_eq!(node.call("receipt_get", json!([receipt_id]))["status"], "matured");
    assert_eq!(node.call("job_get", json!([job]))["status"], "settled");

    // eve's history tells the story: genesis, the stake, the receipt's pending amount, then
    // the same amount moving from pending to the balance when the window closed.
    let hist = node.call("account_history", json!([EVE, {"limit": 1000}]));
    let events = hist["events"].as_array().expect("events");
    let causes: Vec<&str> = events.iter().map(|e| e["cause"].as_str().expect("cause")).collect();
    assert_eq!(causes, ["genesis", "tx", "tx", "maturity"], "{hist}");
    let pending = miner_pending.to_string();
    assert_eq!(events[2]["changes"]["pending"], format!("+{pending}"), "{hist}");
    assert_eq!(events[3]["changes"]["pending"], format!("-{pending}"), "{hist}");
    assert_eq!(events[3]["changes"]["balance"], format!("+{pending}"), "{hist}");
    assert_eq!(events[3]["height"].as_u64(), Some(matures), "{hist}");
    assert!(events[1]["txHash"].is_string(), "{hist}");
    let by_cli = cli(&node, h, &["history", "eve", "--json"]);
    assert_eq!(by_cli["events"], hist["events"], "ergon history prints account_history");
    let later = node.call("account_history", json!({"address": EVE, "filter": {"fromHeight": matures}}));
    assert_eq!(later["events"].as_array().map(Vec::len), Some(1), "{later}");
    let (code, _) = node.call_err("account_history", json!([EVE, {"fromHeight": 5, "toHeight": 2}]));
    assert_eq!(code, -32602);
}

#[test]
fn bad_claims_get_their_own_codes_and_expired_jobs_return_escrow() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::start(dir.path(), &[]);
    let h = home.path();
    let (eve, dave, ferdie) = (Keypair::dev("eve"), Keypair::dev("dave"), Keypair::dev("ferdie"));
    let v = cli(&node, h, &["stake", &MINER_STAKE.to_string(), "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let job: Hash = post_job(&node, h, "1000", "5000", "100").parse().unwrap();
    let good = ComputeReceipt {
        receipt_id: Hash([0x42; 32]),
        job_id: job,
        client: parse_addr(BOB),
        miner: parse_addr(EVE),
        compute_units: 1000,
        price: 5000,
        output_hash: Hash([9; 32]),
        metering_version: 1,
    };
    let with = |f: &dyn Fn(&mut ComputeReceipt)| {
        let mut r = good.clone();
        f(&mut r);
        r
    };
    let cases: Vec<(&str, SignedTx, i64)> = vec![
        ("units over the maximum", claim_tx(&node, &eve, &dave, with(&|r| r.compute_units = 1001)), 1056),
        ("price mismatch", claim_tx(&node, &eve, &dave, with(&|r| r.price = 4999)), 1055),
        ("wrong coordinator", claim_tx(&node, &eve, &ferdie, good.clone()), 1057),
        ("unknown job", claim_tx(&node, &eve, &dave, with(&|r| r.job_id = Hash([7; 32]))), 1050),
        ("miner without stake", claim_tx(&node, &ferdie, &dave, with(&|r| r.miner = parse_addr(FERDIE))), 1058),
    ];
    for (what, tx, code) in cases {
        let (got, msg) = node.send_err(&tx);
        assert_eq!(got, code, "{what}: {msg}");
    }
    // A forged attestation (the miner's signature in its place) is a bad signature.
    let mut forged = claim_tx(&node, &eve, &dave, good.clone());
    if let Payload::ReceiptClaim(c) = &mut forged.tx.payload {
        c.attestation = c.miner_sig;
    }
    let forged = forged.tx.sign(&eve);
    assert_eq!(node.send_err(&forged).0, 1001);
    // A claim without the coordinator's attestation does not decode.
    let mut unattested = ergon::rpc::types::tx_to_json(&claim_tx(&node, &eve, &dave, good.clone()), HRP);
    unattested["payload"].as_object_mut().unwrap().remove("attestation");
    let (code, msg) = node.call_err("tx_send", json!([unattested]));
    assert_eq!(code, 1000, "{msg}");
    assert!(msg.contains("attestation"), "{msg}");
    // Stateless rules: a zero price is refused with the payload's code.
    let zero = Tx {
        chain_id: CHAIN_ID.into(),
        sender: Keypair::dev("bob").public(),
        nonce: account(&node, BOB)["nonce"].as_u64().unwrap() + 1,
        fee: 0,
        priority: Priority::Normal,
        payload: Payload::JobPost(JobPost {
            program: Hash([1; 32]),
            input: Hash([2; 32]),
            max_units: 1,
            price: 0,
            coordinator: parse_addr(DAVE),
            deadline: height(&node) + 10,
            verifiers: 0,
        }),
    };
    let zero = ergon::ledger::fees::with_required_fee(&dev_spec(), zero).unwrap().sign(&Keypair::dev("bob"));
    assert_eq!(node.send_err(&zero).0, 1013);
    let unstake_all = Tx {
        chain_id: CHAIN_ID.into(),
        sender: ferdie.public(),
        nonce: 1,
        fee: 0,
        priority: Priority::Normal,
        payload: Payload::Unstake(StakeAmount { amount: 5 }),
    };
    let unstake_all = ergon::ledger::fees::with_required_fee(&dev_spec(), unstake_all).unwrap().sign(&ferdie);
    assert_eq!(node.send_err(&unstake_all).0, 1063, "unstaking more than is staked");

    // A job with a 2-block deadline expires; its escrow returns and a late receipt is refused.
    let reserved = field(&account(&node, BOB), "reserved");
    let short: Hash = post_job(&node, h, "10", "777", "2").parse().unwrap();
    assert_eq!(field(&account(&node, BOB), "reserved"), reserved + 777);
    let deadline = node.call("job_get", json!([short.to_hex()]))["deadline"].as_u64().unwrap();
    wait_for("the job to expire", PROGRESS, || (height(&node) >= deadline).then_some(()));
    assert_eq!(node.call("job_get", json!([short.to_hex()]))["status"], "expired");
    assert_eq!(field(&account(&node, BOB), "reserved"), reserved);
    let late =
        claim_tx(&node, &eve, &dave, ComputeReceipt { job_id: short, price: 777, compute_units: 1, ..good.clone() });
    assert_eq!(node.send_err(&late).0, 1052, "an expired job");
    let listed = node.call("job_list", json!([{"status": "expired"}]));
    assert!(listed.as_array().unwrap().iter().any(|j| j["jobId"] == short.to_hex()), "{listed}");
}

#[test]
fn a_state_retention_shorter_than_the_unbonding_period_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = node_args(dir.path(), &["--dev", "--state-retention", "5"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run_ergon(&args, &[], STARTUP);
    assert!(!out.status.success(), "a 5-block retention on the dev chain must be refused");
    assert!(out.stderr.contains("--state-retention 5") && out.stderr.contains("100 blocks"), "{}", out.stderr);
}

#[test]
fn trial_claim_mines_credits_once_and_refuses_bad_work() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::start(dir.path(), &[]);
    let h = home.path();
    let spec = dev_spec();
    let key_file = h.join("new.key");
    let fresh = Keypair::from_secret([0x5a; 32]);
    std::fs::write(&key_file, hex::encode([0x5a; 32])).expect("write key");
    let who = addr(&fresh);
    let key_path = key_file.to_str().expect("utf-8");

    let params = node.call("economy_params", json!([]));
    let bits = params["trialDifficultyBits"].as_u64().expect("difficulty");
    assert_eq!(bits, u64::from(ergon::ledger::payload::trial::difficulty(&spec)));

    let supply0 = node.call("economy_supply", json!([]));
    let v = cli(&node, h, &["trial", "claim", "--from", key_path, "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    assert_eq!(v["powBits"].as_u64(), Some(bits), "{v}");
    assert!(v["hashes"].as_u64().expect("hashes") > 0, "{v}");
    let a = account(&node, &who);
    assert_eq!((field(&a, "balance"), a["nonce"].as_u64()), (spec.economy.trial_credits, Some(1)), "{a}");
    let supply1 = node.call("economy_supply", json!([]));
    assert_eq!(
        amount(&supply1["minted"]["trial"]) - amount(&supply0["minted"]["trial"]),
        spec.economy.trial_credits,
        "{supply1}"
    );

    // A second claim: the CLI spares the work, the node refuses one made by hand.
    let err = cli_fails(&node, h, &["trial", "claim", "--from", key_path]);
    assert!(err.contains("new accounts only"), "{err}");
    let head = node.call("chain_getHead", json!([]));
    let (anchor_height, anchor_hash): (u64, Hash) =
        (head["height"].as_u64().expect("height"), head["hash"].as_str().expect("hash").parse().expect("hash"));
    let need = u32::try_from(bits).expect("bits");
    let claim = |anchor_height, anchor_hash, pow_nonce| {
        Payload::TrialClaim(ergon::primitives::TrialClaim { anchor_height, anchor_hash, pow_nonce })
    };
    let work = |k: &Keypair, anchor: &Hash, enough: bool| {
        let search = ergon::primitives::PowSearch::new(CHAIN_ID, &parse_addr(&addr(k)), anchor);
        (0..).find(|&n| (search.bits(n) >= need) == enough).expect("a nonce")
    };
    let tx = |k: &Keypair, nonce, payload| {
        Tx { chain_id: CHAIN_ID.into(), sender: k.public(), nonce, fee: 0, priority: Priority::Normal, payload }.sign(k)
    };
    let again = tx(&fresh, 2, claim(anchor_height, anchor_hash, work(&fresh, &anchor_hash, true)));
    let (code, msg) = node.send_err(&again);
    assert!(code == 1073 && msg.contains("already claimed"), "{code} {msg}");
    // A dev account holds AIT.
    let ferdie = Keypair::dev("ferdie");
    let (code, msg) =
        node.send_err(&tx(&ferdie, 1, claim(anchor_height, anchor_hash, work(&ferdie, &anchor_hash, true))));
    assert_eq!(code, 1074, "{msg}");

    // Weak work, and work over a hash that is not the anchor block's.
    let other = Keypair::from_secret([0x5b; 32]);
    let weak = tx(&other, 1, claim(anchor_height, anchor_hash, work(&other, &anchor_hash, false)));
    let (code, msg) = node.send_err(&weak);
    assert_eq!(code, 1070, "{msg}");
    let forged = Hash([3; 32]);
    let (code, msg) = node.send_err(&tx(&other, 1, claim(anchor_height, forged, work(&other, &forged, true))));
    assert_eq!(code, 1072, "{msg}");
    // With real work the same account still claims.
    let ok = tx(&other, 1, claim(anchor_height, anchor_hash, work(&other, &anchor_hash, true)));
    node.wait_included(&node.send(&ok));
    assert_eq!(field(&account(&node, &addr(&other)), "balance"), spec.economy.trial_credits);
}

/// A blob larger than one JSON-RPC request goes up in pieces: `blob_put` with offset, size
/// and hash, stored once the last piece is in and the whole matches; `ergon job post` does it
/// for a 3 MiB input on its own. Pieces out of order or bytes that do not match are refused.
#[test]
fn a_blob_larger_than_one_request_uploads_in_pieces() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::start(dir.path(), &[]);
    let big: Vec<u8> = (0..3u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let hash = ergon::vm::blob_hash(&big).to_hex();
    let piece = |b: &[u8]| format!("0x{}", hex::encode(b));
    let (code, msg) = node.call_err("blob_put", json!([piece(&big[..1 << 19]), 1 << 19, big.len(), hash]));
    assert!(code == -32602 && msg.contains("offset 0"), "a piece before the first: {code} {msg}");
    for (i, chunk) in big.chunks(1 << 19).enumerate() {
        let v =
            node.call("blob_put", json!({"data": piece(chunk), "offset": i << 19, "size": big.len(), "hash": hash}));
        assert_eq!(v["complete"], (i + 1) << 19 >= big.len(), "{v}");
        if i == 2 {
            let (code, msg) = node.call_err("blob_put", json!([piece(chunk), 0x10_0000, big.len(), hash]));
            assert!(code == -32602 && msg.contains("offset 1572864"), "out of order: {code} {msg}");
        }
    }
    let got = node.call("blob_get", json!([hash]));
    assert_eq!(got["size"], big.len(), "{}", got["size"]);
    assert_eq!(hex::decode(got["data"].as_str().expect("data").trim_start_matches("0x")).expect("hex"), big);
    // Pieces whose whole is not the named blob are not stored.
    let other = ergon::vm::blob_hash(b"something else").to_hex();
    node.call("blob_put", json!([piece(&big[..4]), 0, 8, other]));
    let (code, msg) = node.call_err("blob_put", json!([piece(&big[4..8]), 4, 8, other]));
    assert!(code == -32602 && msg.contains("hash"), "{code} {msg}");
    assert_eq!(node.call("blob_get", json!([other])), Value::Null);
    // The CLI uploads a 3 MiB input in pieces and posts the job.
    let input = home.path().join("big.txt");
    std::fs::write(&input, "lorem ipsum dolor sit amet ".repeat(120_000)).expect("write input");
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/wordcount.wat");
    let args = ["job", "post", "--from", "bob", "--program", program, "--input", input.to_str().expect("utf-8")];
    let rest = ["--max-units", "100000000", "--price", "1000000", "--coordinator", "dave", "--wait", "--json"];
    let v = cli(&node, home.path(), &[&args[..], &rest[..]].concat());
    assert_eq!(v["status"], "included", "{v}");
    let job = node.call("job_get", json!([v["jobId"]]));
    let size = node.call("blob_get", json!([job["input"]]))["size"].as_u64();
    assert_eq!(size, Some(27 * 120_000), "{job}");
}

#[test]
fn job_post_needs_held_blobs_and_a_valid_program() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::start(dir.path(), &[]);
    let h = home.path();
    let bob = Keypair::dev("bob");
    let put = |bytes: &[u8]| -> Hash {
        let v = node.call("blob_put", json!([format!("0x{}", hex::encode(bytes))]));
        assert_eq!(v["size"].as_u64(), Some(bytes.len() as u64), "{v}");
        v["hash"].as_str().expect("hash").parse().expect("hash")
    };
    let input = put(b"some words here");
    assert_eq!(input, ergon::vm::blob_hash(b"some words here"), "blobs are addressed by BLAKE3");
    let wordcount = ergon::vm::compile_wat(ergon::vm::samples::WORDCOUNT).expect("sample compiles");
    let program = put(&wordcount);
    // A program that imports outside the ABI, and one with a float.
    let imports = ergon::vm::compile_wat(
        r#"(module (import "env" "now" (func (result i64))) (memory (export "memory") 1) (func (export "run")))"#,
    )
    .expect("wat");
    let floats = ergon::vm::compile_wat(
        r#"(module (memory (export "memory") 1) (func (export "run") (drop (f64.add (f64.const 1) (f64.const 2)))))"#,
    )
    .expect("wat");
    let (bad_import, bad_float) = (put(&imports), put(&floats));
    let job = |program: Hash, input: Hash| {
        let tx = Tx {
            chain_id: CHAIN_ID.into(),
            sender: bob.public(),
            nonce: account(&node, BOB)["nonce"].as_u64().expect("nonce") + 1,
            fee: 0,
            priority: Priority::Normal,
            payload: Payload::JobPost(JobPost {
                program,
                input,
                max_units: 100_000,
                price: 1_000,
                coordinator: parse_addr(DAVE),
                deadline: height(&node) + 50,
                verifiers: 0,
            }),
        };
        ergon::ledger::fees::with_required_fee(&dev_spec(), tx).expect("fee").sign(&bob)
    };
    let (code, msg) = node.send_err(&job(Hash([7; 32]), input));
    assert!(code == 1080 && msg.contains("blob_put"), "{code} {msg}");
    let (code, msg) = node.send_err(&job(program, Hash([8; 32])));
    assert!(code == 1080 && msg.contains("input"), "{code} {msg}");
    let (code, msg) = node.send_err(&job(bad_import, input));
    assert!(code == 1081 && msg.contains("env"), "{code} {msg}");
    let (code, msg) = node.send_err(&job(bad_float, input));
    assert_eq!(code, 1081, "{msg}");
    let (code, msg) = node.call_err("blob_put", json!(["0xnothex"]));
    assert_eq!(code, -32602, "{msg}");
    assert!(node.call("blob_get", json!([Hash([9; 32])])).is_null());
    // The valid job is accepted and runs from the CLI.
    node.wait_included(&node.send(&job(program, input)));
    let job_id = job_list_first(&node);
    let run = cli(&node, h, &["job", "run", &job_id, "--json"]);
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["outputHash"], ergon::vm::output_hash(&3u64.to_le_bytes()).to_hex(), "{run}");
}

fn job_list_first(node: &Node) -> String {
    let jobs = node.call("job_list", json!([{"client": BOB}]));
    jobs[0]["jobId"].as_str().unwrap_or_else(|| panic!("no job in {jobs}")).to_string()
}

/// A node with the miner and coordinator roles runs a posted job by itself: the receipt
/// claims exactly the units and output `ergon job run` computes, and pays as documented.
#[test]
fn miner_role_runs_posted_jobs_and_claims_them() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::spawn(dir.path(), &["--dev", "--miner", "eve", "--coordinator", "dave"], &[]);
    let h = home.path();
    // Before eve is staked she is no miner: a job waits.
    let v = cli(&node, h, &["stake", &MINER_STAKE.to_string(), "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let job = post_job(&node, h, "1000000", "1000000", "100");
    let run = cli(&node, h, &["job", "run", &job, "--json"]);
    let units = run["units"].as_u64().expect("units");
    let claimed = wait_for("the miner to claim the job", PROGRESS, || {
        let j = node.call("job_get", json!([job]));
        (j["status"] == "claimed" || j["status"] == "settled").then_some(j)
    });
    let receipt_id = claimed["receipt"].as_str().expect("receipt id").to_string();
    let r = node.call("receipt_get", json!([receipt_id]));
    assert_eq!(r["computeUnits"].as_u64(), Some(units), "{r}");
    assert_eq!(r["outputHash"], run["outputHash"], "{r}");
    assert_eq!(r["miner"], EVE, "{r}");
    assert_eq!(r["coordinator"], DAVE, "{r}");
    assert_eq!(amount(&r["mint"]["total"]), u128::from(units) * 10_000, "{r}");
    // The miner published the output blob.
    let out = node.call("blob_get", json!([run["outputHash"]]));
    assert_eq!(out["data"], format!("0x{}", hex::encode(180u64.to_le_bytes())), "{out}");
    assert!(node.stderr().contains("job executed"), "the node logs the run");
}

/// Blobs live while a job needs them and `--blob-retention` blocks after: a settled job's
/// input and output and an upload no job names are deleted, while the program it shares with
/// an open job and that job's input stay.
#[test]
fn blobs_no_job_needs_are_deleted_after_the_retention() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let args = ["--dev", "--miner", "eve", "--coordinator", "dave", "--blob-retention", "4"];
    let node = Node::spawn(dir.path(), &args, &[]);
    let h = home.path();
    let v = cli(&node, h, &["stake", &MINER_STAKE.to_string(), "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let stray = node.call("blob_put", json!(["0x0102030405"]))["hash"].clone();
    let settled = post_job(&node, h, "1000000", "1000000", "100");
    // Nobody here coordinates for ferdie: this job stays open, sharing the program.
    let (program, _) = sample_job(h);
    let input = h.join("open-input.txt");
    std::fs::write(&input, "an open job keeps its blobs\n").expect("write input");
    let v = cli(
        &node,
        h,
        &[
            "job",
            "post",
            "--from",
            "bob",
            "--program",
            &program,
            "--input",
            input.to_str().expect("utf-8"),
            "--max-units",
            "1000000",
            "--price",
            "1000",
            "--coordinator",
            "ferdie",
            "--deadline",
            "1000",
            "--wait",
            "--json",
        ],
    );
    let open = node.call("job_get", json!([v["jobId"]]));
    let job = wait_for("the first job to settle", PROGRESS, || {
        let j = node.call("job_get", json!([settled]));
        (j["status"] == "settled").then_some(j)
    });
    let receipt = node.call("receipt_get", json!([job["receipt"]]));
    let gone = [&job["input"], &receipt["outputHash"], &stray];
    wait_for("the settled job's blobs and the stray upload to be deleted", PROGRESS, || {
        gone.iter().all(|h| node.call("blob_get", json!([h])).is_null()).then_some(())
    });
    for kept in [&open["program"], &open["input"]] {
        assert!(!node.call("blob_get", json!([kept])).is_null(), "{kept} of the open job {open} was deleted");
    }
    assert_eq!(node.call("job_get", json!([v["jobId"]]))["status"], "open");
    assert!(node.stderr().contains("deleted blobs no job needs any more"), "the node logs the sweep");
}

/// A fraud proof against an honest receipt: every validator re-executes, the receipt stands
/// and matures, and the challenger loses its bond (FalseChallenge), burned.
#[test]
fn a_fraud_proof_against_an_honest_receipt_slashes_the_challenger() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::spawn(dir.path(), &["--dev", "--miner", "eve", "--coordinator", "dave"], &[]);
    let h = home.path();
    let v = cli(&node, h, &["stake", &MINER_STAKE.to_string(), "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let job = post_job(&node, h, "1000000", "1000000", "100");
    let claimed = wait_for("the miner's claim", PROGRESS, || {
        let j = node.call("job_get", json!([job]));
        j["receipt"].as_str().map(str::to_string)
    });
    let err = cli_fails(&node, h, &["receipt", "challenge", &claimed, "--from", "ferdie"]);
    assert!(err.contains("would lose its bond"), "the CLI warns first: {err}");
    let ferdie = addr(&Keypair::dev("ferdie"));
    let before = field(&account(&node, &ferdie), "balance");
    let burned0 = amount(&node.call("economy_supply", json!([]))["burned"]);
    let v = cli(&node, h, &["receipt", "challenge", &claimed, "--from", "ferdie", "--force", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let r = node.call("receipt_get", json!([claimed]));
    assert_eq!(r["status"], "pending", "the receipt stands: {r}");
    let verdict = &r["verdicts"][0];
    assert_eq!(verdict["upheld"], false, "{r}");
    let bond: u128 = 1_000_000_000;
    assert_eq!(amount(&verdict["bondBurned"]), bond, "{r}");
    let fee = before - field(&account(&node, &ferdie), "balance") - bond;
    assert!(fee < 100_000, "ferdie lost the bond and a fee ({fee})");
    assert!(amount(&node.call("economy_supply", json!([]))["burned"]) >= burned0 + bond);
    wait_for("the receipt to mature anyway", PROGRESS * 2, || {
        (node.call("receipt_get", json!([claimed]))["status"] == "matured").then_some(())
    });
}

/// The roles on three processes: bob posts a job on the validator, which alone holds its
/// blobs; eve mines on a second node and dave coordinates on a third. Eve's node finds the
/// program and input through Kademlia provider records and fetches them over `blobs`, runs
/// the job and asks dave over the `receipts` topic; dave's node fetches the blobs too,
/// re-executes, and attests; eve's claim lands on chain and pays both of them.
#[test]
fn miner_and_coordinator_on_other_nodes_fetch_blobs_and_attest_over_gossip() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let validator = Node::spawn(&dir.path().join("v"), &["--dev"], &[]);
    let boot = validator.p2p_addr();
    let miner = Node::spawn(&dir.path().join("m"), &["--chain", "dev", "--bootnodes", &boot, "--miner", "eve"], &[]);
    let coordinator =
        Node::spawn(&dir.path().join("c"), &["--chain", "dev", "--bootnodes", &boot, "--coordinator", "dave"], &[]);
    let h = home.path();
    let v = cli(&validator, h, &["stake", &MINER_STAKE.to_string(), "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let dave_before = field(&account(&validator, DAVE), "pending");
    let job = post_job(&validator, h, "1000000", "1000000", "200");
    let program = validator.call("job_get", json!([job]))["program"].clone();
    let run = cli(&validator, h, &["job", "run", &job, "--json"]);
    let claimed = wait_for("eve's claim, attested by dave's node", PROGRESS, || {
        let j = validator.call("job_get", json!([job]));
        (j["status"] == "claimed" || j["status"] == "settled").then_some(j)
    });
    let r = validator.call("receipt_get", json!([claimed["receipt"]]));
    assert_eq!(r["miner"], EVE, "{r}");
    assert_eq!(r["coordinator"], DAVE, "{r}");
    assert_eq!(r["outputHash"], run["outputHash"], "{r}");
    assert_eq!(r["computeUnits"], run["units"], "{r}");
    assert!(field(&account(&validator, DAVE), "pending") > dave_before, "the coordinator's cut is pending");
    // Both fetched the program (checked against its hash); the output lives on eve's node.
    for n in [&miner, &coordinator] {
        let got = n.call("blob_get", json!([program]));
        assert!(got["data"].as_str().is_some_and(|d| d.len() > 2), "{got}");
    }
    assert!(miner.call("blob_get", json!([run["outputHash"]]))["data"].is_string());
    assert!(coordinator.stderr().contains("attested a receipt"), "dave's node attests over gossip");
    assert!(miner.stderr().contains("asking the job's coordinator to attest"));
}

/// A drawn verifier on the node: ferdie (staked, `--verifier ferdie`) is the one worker the
/// chain can draw for bob's job with one verifier (never the miner, the coordinator or the
/// client); its node re-runs the job and posts a VERDICT that agrees, and at maturity ferdie
/// is paid its share of the treasury's cut and counted as having delivered.
#[test]
fn a_drawn_verifier_confirms_a_receipt_and_is_paid_at_maturity() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    // Without miner draws, so that ferdie (one pool of workers) is drawn only as a verifier.
    let mut spec = dev_spec();
    spec.economy.miner_draw_blocks = 0;
    let spec_path = write_spec(home.path(), "dev-no-miner-draw.json", &spec);
    let args = [
        "--chain",
        &spec_path,
        "--validator-key",
        "alice",
        "--miner",
        "eve",
        "--coordinator",
        "dave",
        "--verifier",
        "ferdie",
    ];
    let node = Node::spawn(&dir.path().join("n"), &args, &[]);
    let h = home.path();
    for who in ["eve", "ferdie"] {
        let v = cli(&node, h, &["stake", &MINER_STAKE.to_string(), "--from", who, "--wait", "--json"]);
        assert_eq!(v["status"], "included", "{v}");
    }
    let job = post_job_verified(&node, h, "1000000", "1000000", "200", "1");
    let claimed = wait_for("the miner's claim", PROGRESS, || {
        let j = node.call("job_get", json!([job]));
        j["receipt"].as_str().map(str::to_string)
    });
    let ferdie = addr(&Keypair::dev("ferdie"));
    let before = field(&account(&node, &ferdie), "balance");
    wait_for("the receipt to mature", PROGRESS * 2, || {
        (node.call("receipt_get", json!([claimed]))["status"] == "matured").then_some(())
    });
    let rep = node.call("reputation_get", json!([ferdie]));
    assert_eq!(rep["jobsDelivered"], 1, "ferdie's verdict counted: {rep}");
    assert_eq!(rep["jobsMissed"], 0, "{rep}");
    assert!(field(&account(&node, &ferdie), "balance") > before, "ferdie was paid for its verdict");
    assert!(node.stderr().contains("verdict submitted"), "the verifier role posted a VERDICT");
}

/// `ergon devnet --exit`: the whole flow from one command, ending with the documented lines.
#[test]
fn devnet_settles_its_sample_jobs_and_exits() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let rpc = format!("127.0.0.1:{port}");
    let base = dir.path().to_str().expect("utf-8");
    let out =
        run_ergon(&["devnet", "--base-path", base, "--rpc-addr", &rpc, "--jobs", "2", "--exit"], &[], PROGRESS * 4);
    assert!(out.status.success(), "devnet failed ({})\nstdout:\n{}\nstderr:\n{}", out.status, out.stdout, out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let settled: Vec<&str> = lines.iter().rev().take(2).copied().collect();
    for line in &settled {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((words[0], words[1], words[3], words[5]), ("settled:", "job", "units", "output"), "{line}");
        assert!(words[4].parse::<u64>().expect("units") > 0, "{line}");
    }
    assert!(out.stdout.contains("executed and claimed"), "{}", out.stdout);
    // Each job asked for one verifier: the chain drew one worker other than the miner, and
    // its verdict agreed.
    assert!(out.stdout.contains("verifier drawn: receipt"), "{}", out.stdout);
    let agreed = out.stdout.lines().filter(|l| l.starts_with("verdict: receipt") && l.ends_with(": agrees")).count();
    assert!(agreed >= 1, "{}", out.stdout);
    assert!(out.stdout.contains("balance: eve (worker)"), "{}", out.stdout);
}

/// A cheating miner (its colluding coordinator attests a wrong output) is caught by a fraud
/// proof from the CLI: every validator re-executes, the client is refunded, the miner slashed.
#[test]
fn a_wrong_receipt_is_challenged_from_the_cli_and_slashed() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::spawn(dir.path(), &["--dev", "--miner", "eve", "--coordinator", "dave", "--cheat"], &[]);
    let h = home.path();
    let v = cli(&node, h, &["stake", &MINER_STAKE.to_string(), "--from", "eve", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let bob0 = account(&node, BOB);
    let job = post_job(&node, h, "1000000", "1000000", "100");
    let claimed = wait_for("the cheater to claim the job", PROGRESS, || {
        let j = node.call("job_get", json!([job]));
        (j["status"] == "claimed").then_some(j)
    });
    let receipt_id = claimed["receipt"].as_str().expect("receipt").to_string();
    let run = cli(&node, h, &["job", "run", &job, "--json"]);
    let r = node.call("receipt_get", json!([receipt_id]));
    assert_ne!(r["outputHash"], run["outputHash"], "the cheater reported a wrong output: {r}");
    // Nobody can fetch the output it claims: no run of the job produces it.
    assert_eq!(node.call("blob_get", json!([r["outputHash"]])), Value::Null, "{r}");
    assert!(node.call("blob_get", json!([run["outputHash"]]))["data"].is_string(), "the real output is published");
    let eve0 = account(&node, EVE);

    let v = cli(&node, h, &["receipt", "challenge", &receipt_id, "--from", "ferdie", "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let r = node.call("receipt_get", json!([receipt_id]));
    assert_eq!(r["status"], "invalidated", "{r}");
    let verdict = &r["verdicts"][0];
    assert_eq!(verdict["upheld"], true, "{r}");
    assert_eq!(verdict["outputHash"], run["outputHash"], "the referee's run is the CLI's: {r}");
    assert_eq!(verdict["units"], run["units"], "{r}");
    assert_eq!(node.call("job_get", json!([job]))["status"], "refunded");
    let eve1 = account(&node, EVE);
    assert_eq!(field(&eve1, "pending"), 0, "the pending payment and mint are gone");
    assert_eq!(field(&eve1, "staked"), field(&eve0, "staked") - amount(&verdict["minerSlashed"]));
    assert!(amount(&verdict["minerSlashed"]) >= field(&eve0, "pending"), "the miner loses at least its gain");
    // Bob paid only the job's fee in the end.
    let fee_only = field(&bob0, "balance") - field(&account(&node, BOB), "balance");
    assert!(fee_only < 10_000, "bob got the price back: {fee_only}");
    // The miner's reputation: one receipt, overturned, so accuracy 0 and the lowest tier.
    let rep = node.call("reputation_get", json!([EVE]));
    assert_eq!((rep["receiptsAccepted"].as_u64(), rep["receiptsFailed"].as_u64()), (Some(0), Some(1)), "{rep}");
    assert_eq!((rep["score"].as_str(), rep["tier"].as_str()), (Some("0"), Some("Restricted")), "{rep}");
    let fresh = node.call("reputation_get", json!([BOB]));
    assert_eq!((fresh["score"].as_str(), fresh["tier"].as_str()), (Some("0.5"), Some("Probation")), "{fresh}");
    // A second challenge is refused: the receipt is no longer pending.
    let err = cli_fails(&node, h, &["receipt", "challenge", &receipt_id, "--from", "charlie", "--force"]);
    assert!(err.contains("code 1091"), "{err}");
}

/// `ergon devnet --cheat --exit`: the cheating miner is caught and the story ends with its
/// slash.
#[test]
fn devnet_cheat_ends_with_the_cheater_slashed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    let rpc = format!("127.0.0.1:{port}");
    let base = dir.path().to_str().expect("utf-8");
    let args = ["devnet", "--base-path", base, "--rpc-addr", &rpc, "--jobs", "2", "--cheat", "--exit"];
    let out = run_ergon(&args, &[], PROGRESS * 4);
    assert!(out.status.success(), "devnet failed ({})\nstdout:\n{}\nstderr:\n{}", out.status, out.stdout, out.stderr);
    let last = out.stdout.lines().last().unwrap_or_default();
    let charlie = addr(&Keypair::dev("charlie"));
    assert!(last.starts_with(&format!("slashed: miner {charlie} reason InvalidResult amount ")), "{}", out.stdout);
    assert!(out.stdout.contains("challenged: receipt"), "{}", out.stdout);
    assert!(out.stdout.contains("refunded: job"), "{}", out.stdout);
}

/// admin_setParam on a dev node: the authority's PARAM_UPDATE, in force from the next block,
/// shown by economy_params and applied by the ledger (a trial claim gets the new credits).
#[test]
fn admin_set_param_changes_the_economy_from_the_next_block() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::start(dir.path(), &[]);
    let h = home.path();
    let r = node.call("admin_setParam", json!(["trial_credits", "5000000000"]));
    let hash = r["txHash"].as_str().expect("txHash").to_string();
    node.wait_included(&hash);
    let p = node.call("economy_params", json!([]));
    assert_eq!(p["trial_credits"], "5000000000", "{p}");
    assert_eq!(p["updates"][0]["name"], "trial_credits", "{p}");
    assert_eq!(p["authority"], ALICE, "{p}");
    let key_file = h.join("new.key");
    std::fs::write(&key_file, hex::encode([0x6c; 32])).expect("write key");
    let v = cli(&node, h, &["trial", "claim", "--from", key_file.to_str().expect("utf-8"), "--wait", "--json"]);
    assert_eq!(v["status"], "included", "{v}");
    let who = addr(&Keypair::from_secret([0x6c; 32]));
    assert_eq!(field(&account(&node, &who), "balance"), 5_000_000_000);
    // Refused: an unknown parameter, an unsound value, and a PARAM_UPDATE from bob.
    let (code, msg) = node.call_err("admin_setParam", json!(["halving_interval", 1]));
    assert!(code == 1013 && msg.contains("not a parameter"), "{code} {msg}");
    let (code, msg) = node.call_err("admin_setParam", json!({"name": "burn_bps", "value": 20000}));
    assert!(code == 1096 && msg.contains("burn_bps"), "{code} {msg}");
    let bob = Keypair::dev("bob");
    let tx = Tx {
        chain_id: CHAIN_ID.into(),
        sender: bob.public(),
        nonce: account(&node, BOB)["nonce"].as_u64().expect("nonce") + 1,
        fee: 0,
        priority: Priority::Normal,
        payload: Payload::ParamUpdate(ergon::primitives::ParamUpdate { name: "burn_bps".into(), value: 0 }),
    };
    let tx = ergon::ledger::fees::with_required_fee(&dev_spec(), tx).expect("fee").sign(&bob);
    let (code, msg) = node.send_err(&tx);
    assert_eq!(code, 1095, "{msg}");
}

/// Sends back to back from one account each take the next free nonce (the node counts the
/// sender's pending txs), so neither replaces the other.
#[test]
fn back_to_back_sends_take_consecutive_nonces() {
    let (dir, home) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    let node = Node::start(dir.path(), &[]);
    let h = home.path();
    let n0 = node.call("account_nextNonce", json!([BOB]))["nonce"].as_u64().expect("nonce");
    assert_eq!(n0, account(&node, BOB)["nonce"].as_u64().expect("nonce") + 1);
    let a = cli(&node, h, &["send", "bob", CHARLIE, "5", "--json"]);
    let b = cli(&node, h, &["send", "bob", CHARLIE, "7", "--json"]);
    let (ha, hb) = (a["txHash"].as_str().expect("hash"), b["txHash"].as_str().expect("hash"));
    assert_ne!(ha, hb);
    let sa = node.wait_included(ha);
    node.wait_included(hb);
    assert_eq!(account(&node, BOB)["nonce"].as_u64(), Some(n0 + 1), "both landed");
    // tx_get returns the tx in tx_send's JSON form.
    assert_eq!(
        (sa["tx"]["type"].as_str(), sa["tx"]["payload"]["amount"].as_str()),
        (Some("TRANSFER"), Some("5")),
        "{sa}"
    );
    assert_eq!(sa["tx"]["nonce"].as_u64(), Some(n0), "{sa}");
    let methods = node.call("rpc_methods", json!([]));
    let names: Vec<&str> = methods["methods"].as_array().expect("methods").iter().filter_map(Value::as_str).collect();
    for m in [
        "account_nextNonce",
        "account_history",
        "blob_put",
        "admin_setParam",
        "reputation_get",
        "rpc_methods",
        "getTx",
        "consensus_state",
    ] {
        assert!(names.contains(&m), "{m} missing from {names:?}");
    }
    let (code, _) = node.call_err("account_nextNonce", json!(["not-an-address"]));
    assert_eq!(code, -32602);
}
