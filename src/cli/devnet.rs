//! `ergon devnet`: the seed's devnet flow (client -> job -> miner -> receipt -> mint) from one
//! command. It runs a `--dev` node with alice validating, eve and ferdie as workers (each a
//! miner and a verifier: the chain draws both roles from one pool of staked workers) and dave
//! coordinating, then acts as bob, a client: stakes the workers, posts sample jobs that ask
//! for one verifier each, and prints what the chain does with them (the drawn miner, the
//! receipt, the drawn verifier's verdict, maturity), read back over the node's JSON-RPC like
//! any client would.

use super::economy::put_blob;
use super::wallet::{call, client};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser};
use ergon::chainspec::ChainSpec;
use ergon::primitives::{Address, Hash, JobPost, Keypair, Payload, StakeAmount};
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct DevnetArgs {
    /// Where the node keeps its database [default: a temporary directory].
    #[arg(long)]
    base_path: Option<PathBuf>,
    /// The validator's JSON-RPC address; post your own jobs there with `ergon job post`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    rpc_addr: SocketAddr,
    /// Sample jobs to post as the client (word count, sieve, hash chain, matrix multiply, ...).
    #[arg(long, default_value_t = 4)]
    jobs: u32,
    /// Return 0 once the sample jobs have settled, instead of serving until interrupted.
    #[arg(long)]
    exit: bool,
    /// A third worker (charlie) returns wrong outputs as a miner, attested by a colluding
    /// coordinator; the drawn verifier disputes them and the chain slashes it.
    #[arg(long)]
    cheat: bool,
}

/// The node's own arguments, parsed as `ergon node` would.
#[derive(Parser)]
struct NodeCli {
    #[command(flatten)]
    node: super::node::NodeArgs,
}

/// Blocks to wait for anything the devnet expects, before it gives up.
const PATIENCE: Duration = Duration::from_secs(180);

pub fn run(args: DevnetArgs) -> Result<()> {
    let base = match &args.base_path {
        Some(p) => p.clone(),
        None => tempfile::Builder::new().prefix("ergon-devnet-").tempdir()?.keep(),
    };
    let rpc = args.rpc_addr.to_string();
    let base_s = base.to_str().ok_or_else(|| anyhow!("--base-path must be UTF-8"))?;
    let mut argv = vec![
        "node",
        "--dev",
        "--base-path",
        base_s,
        "--rpc-addr",
        &rpc,
        "--listen-addr",
        "/ip4/127.0.0.1/tcp/0",
        "--no-mdns",
        "--miner",
        "eve",
        "--miner",
        "ferdie",
        "--coordinator",
        "dave",
        "--verifier",
        "eve",
        "--verifier",
        "ferdie",
    ];
    if args.cheat {
        argv.extend(["--verifier", "charlie", "--miner", "charlie", "--cheat"]);
    }
    let node_args = NodeCli::try_parse_from(argv)?.node;
    let node = std::thread::spawn(move || super::node::run(node_args));
    let url = format!("http://{rpc}");
    let story = super::wallet::block_on(story(url, args.jobs, args.exit, args.cheat));
    if args.exit || story.is_err() {
        return story; // the node's database is crash-safe; the process exit stops it
    }
    node.join().map_err(|_| anyhow!("the node thread panicked"))?
}

/// What the client does and sees.
async fn story(url: String, jobs: u32, exit: bool, cheat: bool) -> Result<()> {
    let c = client(&url)?;
    let started = Instant::now();
    let spec: ChainSpec = loop {
        match call(&c, &url, "system_chainSpec", rpc_params![]).await {
            Ok(v) => break serde_json::from_value(v["chainSpec"].clone())?,
            Err(_) if started.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => return Err(e.context("the devnet node did not start")),
        }
    };
    let hrp = spec.hrp().to_string();
    let name = |k: &str| Address::from_public_key(&Keypair::dev(k).public()).to_bech32(&hrp);
    let people = [
        ("bob (client)", name("bob")),
        ("eve (worker)", name("eve")),
        ("ferdie (worker)", name("ferdie")),
        ("charlie (worker)", name("charlie")),
        ("dave (coordinator)", name("dave")),
    ];
    let treasury = spec.economy.treasury.clone();
    let miners: &[&str] = if cheat { &["eve", "ferdie", "charlie"] } else { &["eve", "ferdie"] };
    let who = |a: &Value| {
        let a = a.as_str().unwrap_or("?");
        ["eve", "ferdie", "charlie", "dave", "bob"].into_iter().find(|n| name(n) == a).unwrap_or("?").to_string()
    };
    println!(
        "devnet: validator alice, workers (miner and verifier) {}, coordinator dave, client bob; JSON-RPC on {url}",
        miners.join(", ")
    );
    if cheat {
        println!("cheat: charlie reports wrong outputs and dave attests them without looking");
    }
    let before = balances(&c, &url, &people, &treasury).await?;

    // Ten times the minimum: a miner's compute mint per epoch is capped at mint_cap_bps of
    // its stake, and the sample jobs together would reach the cap of the minimum.
    let stake = spec.economy.miner_min_stake.saturating_mul(10);
    for m in miners {
        let h = send(&c, &url, &spec, m, Payload::Stake(StakeAmount { amount: stake })).await?;
        wait_included(&c, &url, &h).await?;
        println!("staked: {m} {stake} base units (10 x miner_min_stake)");
    }

    let mut posted: Vec<(Hash, &str)> = Vec::new();
    // With --cheat, post until the chain's draw gives the cheater a job too.
    let charlie = name("charlie");
    let mut cheater_drawn = false;
    let mut i = 0;
    while i < jobs || (cheat && !cheater_drawn && i < jobs + 16) {
        let (sample, source) = ergon::vm::samples::ALL[i as usize % ergon::vm::samples::ALL.len()];
        let program = ergon::vm::compile_wat(source)?;
        let input = sample_input(sample, i);
        let program_hash = put_blob(&c, &url, &program).await?;
        let input_hash = put_blob(&c, &url, &input).await?;
        let head = call(&c, &url, "chain_getHead", rpc_params![]).await?["height"].as_u64().unwrap_or(0);
        let post = JobPost {
            program: program_hash,
            input: input_hash,
            max_units: 50_000_000,
            price: 1_000_000,
            coordinator: spec.parse_address(&name("dave"))?,
            deadline: head + 100,
            verifiers: 1,
        };
        let id = send(&c, &url, &spec, "bob", Payload::JobPost(post)).await?;
        wait_included(&c, &url, &id).await?;
        // The chain draws the job's miner in the block after the one that includes it.
        let asked = Instant::now();
        let job = loop {
            let job = call(&c, &url, "job_get", rpc_params![id]).await?;
            if !job["drawnMiner"].is_null() || job["status"] != "open" || asked.elapsed() > Duration::from_secs(10) {
                break job;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let drawn = job["drawnMiner"].as_str().unwrap_or("nobody yet").to_string();
        cheater_drawn |= drawn == charlie;
        let miner = people.iter().find(|(_, a)| *a == drawn).map_or(drawn.as_str(), |(n, _)| n);
        println!(
            "job posted: {id} ({sample}, {} input bytes, price 1000000, max units 50000000), drawn: {miner}",
            input.len()
        );
        posted.push((id, sample));
        i += 1;
    }

    // Follow each job: claimed (receipt, pending mint), then settled (matured) or, if its
    // receipt was wrong, challenged and refunded.
    let mut claimed = vec![false; posted.len()];
    let mut verifiers_shown = vec![false; posted.len()];
    let mut verdicts_shown = vec![0usize; posted.len()];
    let mut settled: Vec<Option<String>> = vec![None; posted.len()];
    let mut slashed: Vec<String> = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while settled.iter().any(Option::is_none) {
        if Instant::now() > deadline {
            bail!("the sample jobs did not settle within {PATIENCE:?}");
        }
        for (i, (id, sample)) in posted.iter().enumerate() {
            if settled[i].is_some() {
                continue;
            }
            let j = call(&c, &url, "job_get", rpc_params![id.to_hex()]).await?;
            let Some(receipt) = j["receipt"].as_str() else { continue };
            let r = call(&c, &url, "receipt_get", rpc_params![receipt]).await?;
            if !claimed[i] {
                claimed[i] = true;
                let by = who(&r["miner"]);
                println!(
                    "executed and claimed: job {id} ({sample}) units {} output {} by {by}, attested by dave; \
                     miner payment {} and mint {} pending until height {}",
                    r["computeUnits"],
                    r["outputHash"].as_str().unwrap_or("?"),
                    r["minerPayment"].as_str().unwrap_or("?"),
                    r["mint"]["total"].as_str().unwrap_or("?"),
                    r["maturityHeight"]
                );
            }
            let drawn = r["verifiers"].as_array().cloned().unwrap_or_default();
            if !verifiers_shown[i] && !drawn.is_empty() {
                verifiers_shown[i] = true;
                let names: Vec<String> = drawn.iter().map(&who).collect();
                println!("verifier drawn: receipt {receipt}: {}", names.join(", "));
            }
            let verdicts = r["verifierVerdicts"].as_array().cloned().unwrap_or_default();
            for v in verdicts.iter().skip(verdicts_shown[i]) {
                let says = if v["agrees"] == true { "agrees" } else { "disagrees: dispute opened" };
                println!("verdict: receipt {receipt} by {}: {says}", who(&v["verifier"]));
            }
            verdicts_shown[i] = verdicts_shown[i].max(verdicts.len());
            if j["status"] == "refunded" {
                let v = r["verdicts"].as_array().and_then(|v| v.iter().find(|d| d["upheld"] == true)).cloned();
                let v = v.unwrap_or_default();
                println!(
                    "challenged: receipt {receipt} by {}; re-executed by every validator: output {} units {} \
                     (claimed {}); bob refunded",
                    who(&v["challenger"]),
                    v["outputHash"].as_str().unwrap_or("none"),
                    v["units"],
                    r["outputHash"].as_str().unwrap_or("?")
                );
                settled[i] = Some(format!("refunded: job {id} (its receipt was wrong)"));
                slashed.push(format!(
                    "slashed: miner {} reason InvalidResult amount {}",
                    r["miner"].as_str().unwrap_or("?"),
                    v["minerSlashed"].as_str().unwrap_or("?")
                ));
                continue;
            }
            if j["status"] == "settled" {
                settled[i] = Some(format!(
                    "settled: job {id} units {} output {}",
                    r["computeUnits"],
                    r["outputHash"].as_str().unwrap_or("?")
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let after = balances(&c, &url, &people, &treasury).await?;
    for ((who, b, bs), (_, a, s)) in before.iter().zip(&after) {
        let delta = i128::try_from(*a).unwrap_or(i128::MAX) - i128::try_from(*b).unwrap_or(i128::MAX);
        let staked = if bs == s { String::new() } else { format!(", staked {bs} -> {s}") };
        println!("balance: {who:<20} {b} -> {a} ({delta:+}){staked}");
    }
    let supply = call(&c, &url, "economy_supply", rpc_params![]).await?;
    println!(
        "supply: minted for compute {}, burned {}",
        supply["minted"]["compute"].as_str().unwrap_or("?"),
        supply["burned"].as_str().unwrap_or("?")
    );
    let (refunded, settled): (Vec<String>, Vec<String>) =
        settled.into_iter().flatten().partition(|l| l.starts_with("refunded"));
    for line in refunded.iter().chain(&settled).chain(&slashed) {
        println!("{line}");
    }
    if !exit {
        println!("devnet running: post jobs with `ergon job post --rpc {url} ...`; Ctrl-C stops it");
    }
    Ok(())
}

/// Inputs that keep each sample to a fraction of a second.
fn sample_input(sample: &str, i: u32) -> Vec<u8> {
    match sample {
        "hashchain" => [1000u32.to_le_bytes().as_slice(), format!("devnet job {i}").as_bytes()].concat(),
        "matmul" => {
            let n = 16u32;
            let cells = (0..2 * n * n).flat_map(|k| (k.wrapping_mul(7).wrapping_add(i)).to_le_bytes());
            n.to_le_bytes().into_iter().chain(cells).collect()
        }
        "sieve" => 100_000u32.saturating_add(i).to_le_bytes().to_vec(),
        _ => format!("job {i}: the quick brown fox jumps over the lazy dog\n").repeat(50).into_bytes(),
    }
}

/// Available balance and stake of each, for the before and after lines.
async fn balances(
    c: &HttpClient,
    url: &str,
    people: &[(&str, String)],
    treasury: &str,
) -> Result<Vec<(String, u128, u128)>> {
    let mut out = Vec::new();
    let all = people.iter().map(|(w, a)| (w.to_string(), a.clone())).chain([("treasury".into(), treasury.into())]);
    for (who, addr) in all {
        let a = call(c, url, "account_get", rpc_params![addr]).await?;
        let get = |f: &str| a[f].as_str().unwrap_or("0").parse::<u128>().unwrap_or(0);
        out.push((who, get("balance"), get("staked")));
    }
    Ok(out)
}

/// Signs `payload` from the dev key `from` at its next nonce with the minimum fee and sends it.
async fn send(c: &HttpClient, url: &str, spec: &ChainSpec, from: &str, payload: Payload) -> Result<Hash> {
    let key = Keypair::dev(from);
    let addr = Address::from_public_key(&key.public()).to_bech32(spec.hrp());
    let v = call(c, url, "account_nextNonce", rpc_params![addr]).await?;
    let nonce = v["nonce"].as_u64().ok_or_else(|| anyhow!("account_nextNonce returned no nonce: {v}"))?;
    let tx = ergon::ledger::fees::signed(spec, &key, nonce, payload).ok_or_else(|| anyhow!("fee overflow"))?;
    let v = call(c, url, "tx_send", rpc_params![ergon::rpc::types::tx_to_json(&tx, spec.hrp())]).await?;
    v["txHash"].as_str().and_then(|h| h.parse().ok()).context("tx_send returned no hash")
}

async fn wait_included(c: &HttpClient, url: &str, hash: &Hash) -> Result<Value> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let st = call(c, url, "tx_get", rpc_params![hash.to_hex()]).await?;
        match st["status"].as_str() {
            Some("included") => return Ok(st),
            Some("failed") => bail!("tx {hash} failed: {}", st["error"]),
            _ if Instant::now() > deadline => bail!("tx {hash} was not included within {PATIENCE:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
