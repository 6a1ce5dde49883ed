//! The economy's CLI verbs (DESIGN.md §9): jobs, receipts, staking. Each builds its payload,
//! then signs and submits it like `ergon tx` (same `--rpc`, `--json`, `--wait`, `--dry-run`).

use super::wallet::{address, call, chain_spec, client, print, resolve_key, send, show_amount, RpcArgs, TxOpts};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use ergon::chainspec::ChainSpec;
use ergon::primitives::{
    serde_amount, tag, Address, ComputeReceipt, Hash, JobCancel, JobPost, Keypair, Payload, ReceiptClaim, StakeAmount,
};
use ergon::rpc::types::JsonReceiptClaim;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum JobCommand {
    /// Post a compute job: reserves PRICE from the client's balance until a receipt lands.
    Post(JobPostArgs),
    /// Cancel an open job and take its reservation back.
    Cancel {
        /// The job's id (0x-hex, the hash of the tx that posted it).
        job_id: String,
        /// The job's client.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Show a job.
    Show {
        /// The job's id (0x-hex, the hash of the tx that posted it).
        job_id: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Run a job here, as a miner or coordinator would: fetches its program and input from the
    /// node, runs them in the job VM within the job's max units, and prints the units and the
    /// output hash (to sign a receipt with). `--publish` uploads the output blob.
    Run {
        /// The job's id (0x-hex, the hash of the tx that posted it).
        job_id: String,
        /// Write the output to this file.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Upload the output to the node as a blob (what a miner does before its receipt).
        #[arg(long)]
        publish: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// List jobs.
    List {
        /// open, claimed, settled, cancelled or expired.
        #[arg(long)]
        status: Option<String>,
        /// Only this client's jobs: an address, or a dev key name on dev chains.
        #[arg(long)]
        client: Option<String>,
        /// Most jobs to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(Args)]
pub struct JobPostArgs {
    /// The client: a dev key name, a keystore address or a key file.
    #[arg(long)]
    from: String,
    /// The program: a file (WASM, or WAT text which is compiled), uploaded to the node, or the
    /// 0x-hex BLAKE3 hash of a blob the node holds.
    #[arg(long)]
    program: String,
    /// The input: a file, uploaded, or the hash of a blob the node holds.
    #[arg(long)]
    input: String,
    /// Most compute units a receipt may claim.
    #[arg(long)]
    max_units: u64,
    /// Price, reserved now and paid to the miner: base units (1500) or tokens (1.5AIT).
    #[arg(long)]
    price: String,
    /// The coordinator who attests receipts: an address or a dev key name.
    #[arg(long)]
    coordinator: String,
    /// Blocks from the current head until the job expires.
    #[arg(long, default_value_t = 100)]
    deadline: u64,
    /// Verifiers to draw once a receipt lands.
    #[arg(long, default_value_t = 0)]
    verifiers: u8,
    #[command(flatten)]
    opts: TxOpts,
}

#[derive(Subcommand)]
pub enum ReceiptCommand {
    /// Sign a compute receipt for a job as its miner; writes the receipt file.
    Sign {
        /// The job's id (0x-hex).
        #[arg(long)]
        job: String,
        /// The miner's key (a staked account).
        #[arg(long)]
        miner: String,
        /// Compute units delivered.
        #[arg(long)]
        units: u64,
        /// BLAKE3 of the output: 0x-hex, or a file.
        #[arg(long)]
        output_hash: String,
        /// A 0x-hex 32-byte id [default: derived from the job, miner and output].
        #[arg(long)]
        receipt_id: Option<String>,
        /// The receipt file to write (JSON; `receipt attest` then `receipt submit` take it).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
        /// Where the keystore is [default: ~/.ergon].
        #[arg(long)]
        base_path: Option<PathBuf>,
    },
    /// Attest a signed receipt file as the job's coordinator (adds the attestation in place).
    Attest {
        /// The receipt file `receipt sign` wrote; the attestation is added to it.
        file: PathBuf,
        /// The job's coordinator: a dev key name, a keystore address or a key file.
        #[arg(long)]
        coordinator: String,
        #[command(flatten)]
        rpc: RpcArgs,
        /// Where the keystore is [default: ~/.ergon].
        #[arg(long)]
        base_path: Option<PathBuf>,
    },
    /// Submit an attested receipt file as a RECEIPT_CLAIM.
    Submit {
        /// The attested receipt file.
        file: PathBuf,
        /// Who signs and pays for the tx: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Show a claimed receipt: status, mint split, maturity, verdicts.
    Show {
        /// The receipt's id (0x-hex).
        receipt_id: String,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Challenge a pending receipt with a bonded FRAUD_PROOF: runs its job here first and
    /// refuses to challenge a receipt that checks out (unless --force).
    Challenge {
        /// The receipt's id (0x-hex).
        receipt_id: String,
        /// The challenger, who posts the bond: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        /// Bond: base units (1500) or tokens (1.5AIT) [default: the chain's challenge_bond].
        #[arg(long)]
        bond: Option<String>,
        /// Challenge even if the local run agrees with the receipt (the bond will be lost).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// As a verifier the chain drew for a pending receipt: run its job here and post the
    /// VERDICT (what the run gave; one that disagrees with the receipt opens the dispute).
    Verdict {
        /// The receipt's id (0x-hex).
        receipt_id: String,
        /// The drawn verifier: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: TxOpts,
    },
}

fn base(p: &Option<PathBuf>) -> PathBuf {
    p.clone().unwrap_or_else(super::default_base_path)
}

/// A program's bytes from a file: WASM as is, WAT text (`.wat`, or anything not starting with
/// the WASM magic) compiled.
pub(super) fn program_bytes(path: &str) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {path:?}"))?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes).map_err(|_| anyhow!("{path:?} is neither WASM nor WAT text"))?;
    ergon::vm::compile_wat(&text).map_err(|e| anyhow!("{path}: {e}"))
}

/// A 0x-hex hash as is (the node must hold the blob); anything else is a file, uploaded with
/// `blob_put` (a program compiled first if it is WAT), whose hash is used.
async fn blob_arg(c: &HttpClient, url: &str, arg: &str, what: &str, program: bool) -> Result<Hash> {
    if arg.starts_with("0x") {
        return arg.parse().map_err(|e| anyhow!("--{what}: {e}"));
    }
    let bytes = if program {
        program_bytes(arg).with_context(|| format!("--{what}"))?
    } else {
        std::fs::read(arg).with_context(|| format!("--{what}: {arg:?} is neither a 0x-hex hash nor a readable file"))?
    };
    put_blob(c, url, &bytes).await
}

/// Uploads `bytes` with `blob_put`; returns their hash.
/// Bytes per `blob_put` piece: hex doubles them, and a request may carry 2 MiB.
const BLOB_PIECE: usize = 512 * 1024;

/// Uploads `bytes` as a blob, in pieces when it does not fit one request.
pub(super) async fn put_blob(c: &HttpClient, url: &str, bytes: &[u8]) -> Result<Hash> {
    let hex_of = |b: &[u8]| format!("0x{}", hex::encode(b));
    let v = if bytes.len() <= BLOB_PIECE {
        call(c, url, "blob_put", rpc_params![hex_of(bytes)]).await?
    } else {
        let hash = ergon::vm::blob_hash(bytes);
        let mut last = serde_json::Value::Null;
        for (i, piece) in bytes.chunks(BLOB_PIECE).enumerate() {
            let offset = i * BLOB_PIECE;
            last = call(c, url, "blob_put", rpc_params![hex_of(piece), offset, bytes.len(), hash]).await?;
        }
        last
    };
    v["hash"].as_str().and_then(|h| h.parse().ok()).ok_or_else(|| anyhow!("blob_put returned no hash: {v}"))
}

/// A blob from the node, checked against its hash.
async fn fetch_blob(c: &HttpClient, url: &str, hash: &str) -> Result<Vec<u8>> {
    let v = call(c, url, "blob_get", rpc_params![hash]).await?;
    let data = v["data"].as_str().ok_or_else(|| anyhow!("the node does not hold blob {hash}"))?;
    let bytes = hex::decode(data.trim_start_matches("0x")).context("blob_get returned bad hex")?;
    if ergon::vm::blob_hash(&bytes).to_hex() != hash {
        bail!("blob {hash} from the node does not match its hash");
    }
    Ok(bytes)
}

/// `ergon job run`.
async fn run_job(job_id: &str, out: Option<PathBuf>, publish: bool, rpc: &RpcArgs) -> Result<()> {
    let c = client(&rpc.rpc)?;
    let j = call(&c, &rpc.rpc, "job_get", rpc_params![job_id]).await?;
    if j.is_null() {
        bail!("job {job_id} does not exist");
    }
    let program = fetch_blob(&c, &rpc.rpc, j["program"].as_str().unwrap_or_default()).await?;
    let input = fetch_blob(&c, &rpc.rpc, j["input"].as_str().unwrap_or_default()).await?;
    let max_units = j["maxUnits"].as_u64().ok_or_else(|| anyhow!("job has no maxUnits"))?;
    let started = std::time::Instant::now();
    let exec = ergon::vm::run(&program, &input, max_units, &ergon::vm::Limits::default())?;
    let seconds = started.elapsed().as_secs_f64();
    let mut v = json!({"jobId": job_id, "units": exec.units, "seconds": seconds, "meteringVersion": ergon::vm::METERING_VERSION});
    match &exec.outcome {
        ergon::vm::Outcome::Completed { output } => {
            v["status"] = json!("completed");
            v["outputHash"] = json!(ergon::vm::output_hash(output));
            v["outputBytes"] = json!(output.len());
            if let Some(path) = &out {
                std::fs::write(path, output).with_context(|| format!("cannot write {}", path.display()))?;
            }
            if publish {
                put_blob(&c, &rpc.rpc, output).await?;
            }
        }
        ergon::vm::Outcome::Failed(f) => {
            v["status"] = json!("failed");
            v["failure"] = json!(f.to_string());
        }
    }
    print(rpc.json, &v, |v| match v["status"].as_str() {
        Some("completed") => format!(
            "completed: {} units, output {} ({} bytes) in {:.3} s",
            v["units"],
            v["outputHash"].as_str().unwrap_or("?"),
            v["outputBytes"],
            seconds
        ),
        _ => format!("failed after {} units: {}", v["units"], v["failure"].as_str().unwrap_or("?")),
    });
    Ok(())
}

/// An amount in base units (`1500`) or tokens (`1.5AIT`); a bare decimal is refused.
fn amount(spec: &ChainSpec, s: &str, what: &str) -> Result<u128> {
    serde_amount::parse_tokens(s, &spec.token.symbol, spec.token.decimals).map_err(|e| anyhow!("{what}: {e}"))
}

pub async fn job(cmd: JobCommand) -> Result<()> {
    match cmd {
        JobCommand::Post(a) => {
            let (c, url) = (client(&a.opts.rpc.rpc)?, a.opts.rpc.rpc.clone());
            let spec = chain_spec(&c, &url).await?;
            let key = resolve_key(&spec, &a.from, &base(&a.opts.base_path))?;
            let head = call(&c, &url, "chain_getHead", rpc_params![]).await?;
            let height = head["height"].as_u64().ok_or_else(|| anyhow!("the node returned no head height"))?;
            let post = JobPost {
                program: blob_arg(&c, &url, &a.program, "program", true).await?,
                input: blob_arg(&c, &url, &a.input, "input", false).await?,
                max_units: a.max_units,
                price: amount(&spec, &a.price, "--price")?,
                coordinator: address(&spec, &a.coordinator)?,
                deadline: height.saturating_add(a.deadline.max(1)),
                verifiers: a.verifiers,
            };
            // `send` reports the job id: the hash of the tx.
            send(&a.opts, &c, &spec, &key, Payload::JobPost(post), json!({})).await
        }
        JobCommand::Cancel { job_id, from, opts } => {
            let c = client(&opts.rpc.rpc)?;
            let spec = opts.spec(&c).await?;
            let key = resolve_key(&spec, &from, &base(&opts.base_path))?;
            let job_id: Hash = job_id.parse().map_err(|e| anyhow!("job id: {e}"))?;
            send(&opts, &c, &spec, &key, Payload::JobCancel(JobCancel { job_id }), json!({"jobId": job_id})).await
        }
        JobCommand::Show { job_id, rpc } => {
            let c = client(&rpc.rpc)?;
            let v = call(&c, &rpc.rpc, "job_get", rpc_params![job_id.clone()]).await?;
            if v.is_null() {
                bail!("job {job_id} does not exist");
            }
            print(rpc.json, &v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
            Ok(())
        }
        JobCommand::Run { job_id, out, publish, rpc } => run_job(&job_id, out, publish, &rpc).await,
        JobCommand::List { status, client: who, limit, rpc } => {
            let c = client(&rpc.rpc)?;
            let spec = chain_spec(&c, &rpc.rpc).await?;
            // A dev key name stands for its address, as everywhere else an address is asked.
            let who = who.map(|w| address(&spec, &w).map(|a| a.to_bech32(spec.hrp()))).transpose()?;
            let filter = json!({"status": status, "client": who, "limit": limit});
            let v = call(&c, &rpc.rpc, "job_list", rpc_params![filter]).await?;
            print(rpc.json, &v, |v| {
                let rows: Vec<String> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|j| {
                        format!(
                            "{}  {:9}  price {}  deadline {}",
                            j["jobId"].as_str().unwrap_or("?"),
                            j["status"].as_str().unwrap_or("?"),
                            show_amount(&spec, &j["price"]),
                            j["deadline"]
                        )
                    })
                    .collect();
                if rows.is_empty() {
                    "no jobs".into()
                } else {
                    rows.join("\n")
                }
            });
            Ok(())
        }
    }
}

/// A receipt file: the claim's payload in the seed's JSON form, without the attestation
/// until `receipt attest` adds it.
fn read_file(path: &PathBuf) -> Result<serde_json::Map<String, Value>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    match serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))? {
        Value::Object(m) => Ok(m),
        _ => bail!("{} is not a receipt file (a JSON object)", path.display()),
    }
}

fn write_file(path: &PathBuf, v: &serde_json::Map<String, Value>) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(v)? + "\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The receipt a file holds, whether attested yet or not.
fn receipt_in(spec: &ChainSpec, m: &serde_json::Map<String, Value>) -> Result<(ComputeReceipt, JsonReceiptClaim)> {
    let parsed: JsonReceiptClaim = serde_json::from_value(Value::Object(m.clone())).context("not a receipt file")?;
    let receipt = parsed.receipt(spec).map_err(|e| anyhow!("{}", e.message()))?;
    Ok((receipt, parsed))
}

pub async fn receipt(cmd: ReceiptCommand) -> Result<()> {
    match cmd {
        ReceiptCommand::Sign { job, miner, units, output_hash, receipt_id, out, rpc, base_path } => {
            let c = client(&rpc.rpc)?;
            let spec = chain_spec(&c, &rpc.rpc).await?;
            let key = resolve_key(&spec, &miner, &base(&base_path))?;
            let job_id: Hash = job.parse().map_err(|e| anyhow!("--job: {e}"))?;
            let j = call(&c, &rpc.rpc, "job_get", rpc_params![job_id]).await?;
            if j.is_null() {
                bail!("job {job_id} does not exist");
            }
            let client_addr = spec.parse_address(j["client"].as_str().unwrap_or_default())?;
            let price = amount(&spec, j["price"].as_str().unwrap_or_default(), "the job's price")?;
            let output_hash = blob_arg(&c, &rpc.rpc, &output_hash, "output-hash", false).await?;
            let miner_addr = Address::from_public_key(&key.public());
            let receipt_id = match receipt_id {
                Some(r) => r.parse().map_err(|e| anyhow!("--receipt-id: {e}"))?,
                None => Hash::of(tag::RECEIPT, &(job_id, miner_addr, output_hash, units)),
            };
            let receipt = ComputeReceipt {
                receipt_id,
                job_id,
                client: client_addr,
                miner: miner_addr,
                compute_units: units,
                price,
                output_hash,
                metering_version: spec.economy.metering_version,
            };
            let sig = key.sign(&receipt.signing_hash());
            let mut v = ergon::rpc::types::receipt_claim_to_json(
                &ReceiptClaim {
                    receipt,
                    miner_key: key.public(),
                    miner_sig: sig,
                    coordinator_key: key.public(),
                    attestation: sig,
                },
                spec.hrp(),
            );
            let m = v.as_object_mut().ok_or_else(|| anyhow!("receipt JSON"))?;
            m.remove("coordinator_key");
            m.remove("attestation");
            write_file(&out, m)?;
            print(rpc.json, &json!({"receiptId": receipt_id, "file": out}), |_| {
                format!("Signed receipt {receipt_id} -> {}", out.display())
            });
            Ok(())
        }
        ReceiptCommand::Attest { file, coordinator, rpc, base_path } => {
            let c = client(&rpc.rpc)?;
            let spec = chain_spec(&c, &rpc.rpc).await?;
            let key = resolve_key(&spec, &coordinator, &base(&base_path))?;
            let mut m = read_file(&file)?;
            let (receipt, parsed) = receipt_in(&spec, &m)?;
            let (miner_key, miner_sig) = parsed.miner();
            miner_key
                .verify(&receipt.signing_hash(), &miner_sig)
                .map_err(|_| anyhow!("the miner's signature does not verify"))?;
            let attestation = key.sign(&receipt.attestation_hash());
            m.insert("coordinator_key".into(), Value::String(key.public().to_hex()));
            m.insert("attestation".into(), Value::String(attestation.to_hex()));
            write_file(&file, &m)?;
            print(rpc.json, &json!({"receiptId": receipt.receipt_id, "file": file}), |_| {
                format!("Attested receipt {} in {}", receipt.receipt_id, file.display())
            });
            Ok(())
        }
        ReceiptCommand::Submit { file, from, opts } => {
            let (c, url) = (client(&opts.rpc.rpc)?, opts.rpc.rpc.clone());
            let spec = chain_spec(&c, &url).await?;
            let key = resolve_key(&spec, &from, &base(&opts.base_path))?;
            let m = read_file(&file)?;
            if !m.contains_key("attestation") {
                bail!(
                    "{} is not attested yet: run `ergon receipt attest {} --coordinator KEY` first",
                    file.display(),
                    file.display()
                );
            }
            let parsed: JsonReceiptClaim = serde_json::from_value(Value::Object(m)).context("not a receipt file")?;
            let claim = parsed.to_claim(&spec).map_err(|e| anyhow!("{}", e.message()))?;
            let receipt_id = claim.receipt.receipt_id;
            if opts.wait {
                wait_for_draw(&c, &url, &claim.receipt.job_id).await?;
            }
            send(&opts, &c, &spec, &key, Payload::ReceiptClaim(Box::new(claim)), json!({"receiptId": receipt_id})).await
        }
        ReceiptCommand::Challenge { receipt_id, from, bond, force, opts } => {
            let (c, url) = (client(&opts.rpc.rpc)?, opts.rpc.rpc.clone());
            let spec = chain_spec(&c, &url).await?;
            let key = resolve_key(&spec, &from, &base(&opts.base_path))?;
            let (output_hash, units, agrees) = rerun(&c, &url, &receipt_id).await?;
            if agrees && !force {
                bail!(
                    "the job gives output {output_hash} in {} units, as the receipt says: a challenge would lose its bond (--force to send it anyway)",
                    units
                );
            }
            let bond = match bond {
                Some(b) => amount(&spec, &b, "--bond")?,
                None => spec.economy.challenge_bond,
            };
            let receipt_id: Hash = receipt_id.parse().map_err(|e| anyhow!("RECEIPT_ID: {e}"))?;
            let proof = ergon::primitives::FraudProof { receipt_id, output_hash, units, bond };
            send(&opts, &c, &spec, &key, Payload::FraudProof(proof), json!({"receiptId": receipt_id})).await
        }
        ReceiptCommand::Verdict { receipt_id, from, opts } => {
            let (c, url) = (client(&opts.rpc.rpc)?, opts.rpc.rpc.clone());
            let spec = chain_spec(&c, &url).await?;
            let key = resolve_key(&spec, &from, &base(&opts.base_path))?;
            let (output_hash, units, agrees) = rerun(&c, &url, &receipt_id).await?;
            let receipt_id: Hash = receipt_id.parse().map_err(|e| anyhow!("RECEIPT_ID: {e}"))?;
            let v = ergon::primitives::VerifierVerdict { receipt_id, output_hash, units };
            let extra = json!({"receiptId": receipt_id, "agrees": agrees, "outputHash": output_hash, "units": units});
            send(&opts, &c, &spec, &key, Payload::Verdict(v), extra).await
        }
        ReceiptCommand::Show { receipt_id, rpc } => {
            let c = client(&rpc.rpc)?;
            let v = call(&c, &rpc.rpc, "receipt_get", rpc_params![receipt_id]).await?;
            print(rpc.json, &v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
            Ok(())
        }
    }
}

/// `ergon stake` / `ergon unstake`.
pub async fn stake(amount_arg: String, from: String, opts: TxOpts, unstake: bool) -> Result<()> {
    let c = client(&opts.rpc.rpc)?;
    let spec = opts.spec(&c).await?;
    let key: Keypair = resolve_key(&spec, &from, &base(&opts.base_path))?;
    let s = StakeAmount { amount: amount(&spec, &amount_arg, "AMOUNT")? };
    let payload = if unstake { Payload::Unstake(s) } else { Payload::Stake(s) };
    send(&opts, &c, &spec, &key, payload, json!({})).await
}

/// Runs a receipt's job here: (output hash, units, whether they are the receipt's).
async fn rerun(c: &HttpClient, url: &str, receipt_id: &str) -> Result<(Hash, u64, bool)> {
    let r = call(c, url, "receipt_get", rpc_params![receipt_id]).await?;
    let j = call(c, url, "job_get", rpc_params![r["jobId"].clone()]).await?;
    let program = fetch_blob(c, url, j["program"].as_str().unwrap_or_default()).await?;
    let input = fetch_blob(c, url, j["input"].as_str().unwrap_or_default()).await?;
    let max_units = j["maxUnits"].as_u64().ok_or_else(|| anyhow!("job has no maxUnits"))?;
    let exec = ergon::vm::run(&program, &input, max_units, &ergon::vm::Limits::default())?;
    let output_hash = match &exec.outcome {
        ergon::vm::Outcome::Completed { output } => ergon::vm::output_hash(output),
        ergon::vm::Outcome::Failed(_) => Hash::ZERO,
    };
    let agrees = r["outputHash"].as_str() == Some(output_hash.to_hex().as_str())
        && r["computeUnits"].as_u64() == Some(exec.units);
    Ok((output_hash, exec.units, agrees))
}

/// `ergon unjail`.
pub async fn unjail(from: String, opts: TxOpts) -> Result<()> {
    let c = client(&opts.rpc.rpc)?;
    let spec = opts.spec(&c).await?;
    let key: Keypair = resolve_key(&spec, &from, &base(&opts.base_path))?;
    send(&opts, &c, &spec, &key, Payload::Unjail, json!({})).await
}

/// `ergon delegate` / `ergon undelegate`.
pub async fn delegate(validator: String, amount_arg: String, from: String, opts: TxOpts, undo: bool) -> Result<()> {
    let c = client(&opts.rpc.rpc)?;
    let spec = opts.spec(&c).await?;
    let key: Keypair = resolve_key(&spec, &from, &base(&opts.base_path))?;
    let d = ergon::primitives::Delegation {
        validator: address(&spec, &validator)?,
        amount: amount(&spec, &amount_arg, "AMOUNT")?,
    };
    let payload = if undo { Payload::Undelegate(d) } else { Payload::Delegate(d) };
    send(&opts, &c, &spec, &key, payload, json!({})).await
}

/// `ergon history`: an account's events, oldest first.
pub async fn history(who: String, from: Option<u64>, to: Option<u64>, limit: usize, rpc: RpcArgs) -> Result<()> {
    let c = client(&rpc.rpc)?;
    let spec = chain_spec(&c, &rpc.rpc).await?;
    let a = address(&spec, &who)?.to_bech32(spec.hrp());
    let filter = json!({"fromHeight": from, "toHeight": to, "limit": limit});
    let v = call(&c, &rpc.rpc, "account_history", rpc_params![a, filter]).await?;
    print(rpc.json, &v, |v| {
        let mut rows = vec![format!("{:>8}  {:<12} {:<68} changes", "height", "cause", "tx")];
        for e in v["events"].as_array().into_iter().flatten() {
            let changes: Vec<String> = e["changes"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, d)| format!("{k} {}", show_amount(&spec, d)))
                .collect();
            rows.push(format!(
                "{:>8}  {:<12} {:<68} {}",
                e["height"].as_u64().unwrap_or_default(),
                e["cause"].as_str().unwrap_or("?"),
                e["txHash"].as_str().unwrap_or("-"),
                changes.join(", ")
            ));
        }
        if v["more"] == true {
            rows.push("... more: raise --limit or start at a later --from-height".into());
        }
        rows.join("\n")
    });
    Ok(())
}

/// `ergon validators`: the set in force and the candidates.
pub async fn validators(rpc: RpcArgs) -> Result<()> {
    let c = client(&rpc.rpc)?;
    let spec = chain_spec(&c, &rpc.rpc).await?;
    let v = call(&c, &rpc.rpc, "staking_validators", rpc_params![]).await?;
    print(rpc.json, &v, |v| {
        let mut rows = vec![format!("{:<45} {:>44} {:>10}", "validator", "stake", "power")];
        for x in v["validators"].as_array().into_iter().flatten() {
            rows.push(format!(
                "{:<45} {:>44} {:>10}",
                x["address"].as_str().unwrap_or("?"),
                show_amount(&spec, &x["stake"]),
                x["power"]
            ));
        }
        rows.join("\n")
    });
    Ok(())
}

/// With `--wait`: a job posted in the last block has no drawn miner yet (its draw is seeded by
/// the next block's beacon); waits until the head is past the block after the post, so that
/// a receipt submitted right after its job is not refused for being early.
async fn wait_for_draw(c: &HttpClient, url: &str, job_id: &Hash) -> Result<()> {
    let j = call(c, url, "job_get", rpc_params![job_id]).await?;
    let Some(posted) = j["postedAt"].as_u64() else { return Ok(()) };
    for _ in 0..120 {
        let head = call(c, url, "chain_getHead", rpc_params![]).await?;
        if head["height"].as_u64().is_none_or(|h| h > posted) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    Ok(())
}
