//! `ergon trial claim`: mines the proof of work of a TRIAL_CLAIM on every core, with a progress
//! line on stderr, then submits the fee-less claim like any other tx.

use super::wallet::{call, chain_spec, client, resolve_key, send, TxOpts};
use anyhow::{anyhow, bail, Result};
use clap::Subcommand;
use ergon::primitives::{Address, Hash, Payload, PowSearch, TrialClaim};
use jsonrpsee::rpc_params;
use serde_json::json;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum TrialCommand {
    /// Claim the one-time trial credits for an account that never held AIT (fee-less; paid
    /// with proof of work over the node's head block).
    Claim {
        /// A dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        /// Mining threads [default: every core].
        #[arg(long)]
        threads: Option<usize>,
        #[command(flatten)]
        opts: TxOpts,
    },
}

pub async fn run(cmd: TrialCommand) -> Result<()> {
    let TrialCommand::Claim { from, threads, opts } = cmd;
    let url = opts.rpc.rpc.clone();
    let c = client(&url)?;
    let spec = chain_spec(&c, &url).await?;
    let base = opts.base_path.clone().unwrap_or_else(super::default_base_path);
    let key = resolve_key(&spec, &from, &base)?;
    let head = call(&c, &url, "chain_getHead", rpc_params![]).await?;
    let anchor_height = head["height"].as_u64().ok_or_else(|| anyhow!("node returned no head height"))?;
    let anchor_hash: Hash =
        head["hash"].as_str().and_then(|h| h.parse().ok()).ok_or_else(|| anyhow!("node returned no head hash"))?;
    let bits = ergon::ledger::payload::trial::difficulty(&spec);
    let claimant = Address::from_public_key(&key.public());
    // Spare the work when the node already knows the account (the node checks again).
    let acc = call(&c, &url, "account_get", rpc_params![claimant.to_bech32(spec.hrp())]).await?;
    if acc["nonce"].as_u64() != Some(0) || acc["balance"].as_str() != Some("0") {
        bail!(
            "{} has held AIT or sent txs (nonce {}, balance {}): trial credits are for new accounts only",
            claimant.to_bech32(spec.hrp()),
            acc["nonce"],
            acc["balance"]
        );
    }
    let search = PowSearch::new(&spec.chain_id, &claimant, &anchor_hash);
    let threads = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let started = Instant::now();
    let (pow_nonce, hashes) = tokio::task::spawn_blocking(move || mine(&search, bits, threads)).await?;
    let seconds = started.elapsed().as_secs_f64();
    let rate = hashes as f64 / seconds.max(1e-9);
    eprintln!("mined {bits} bits: {hashes} hashes in {seconds:.2} s ({rate:.0} hashes/s on {threads} threads)");
    let payload = Payload::TrialClaim(TrialClaim { anchor_height, anchor_hash, pow_nonce });
    let extra = json!({"powBits": bits, "hashes": hashes, "hashesPerSecond": rate.round(), "powNonce": pow_nonce});
    send(&opts, &c, &spec, &key, payload, extra).await
}

/// Searches nonces on `threads` threads (thread `i` takes `i, i + threads, ...`) until one
/// has `bits` leading zero bits; returns it and the hashes tried. Prints progress to stderr.
fn mine(search: &PowSearch, bits: u32, threads: usize) -> (u64, u64) {
    const CHUNK: u64 = 4096;
    let found = AtomicBool::new(false);
    let tried = AtomicU64::new(0);
    let expected = 2f64.powi(i32::try_from(bits).unwrap_or(i32::MAX));
    let stride = u64::try_from(threads).unwrap_or(1);
    let nonce = std::thread::scope(|s| {
        let workers: Vec<_> = (0..stride)
            .map(|first| {
                let (search, found, tried) = (search.clone(), &found, &tried);
                s.spawn(move || {
                    let mut next = first;
                    while !found.load(Ordering::Relaxed) {
                        let nonces = (0..CHUNK).map(|k| next.wrapping_add(k.wrapping_mul(stride)));
                        let hit = search.find(bits, nonces);
                        tried.fetch_add(CHUNK, Ordering::Relaxed);
                        if let Some(n) = hit {
                            found.store(true, Ordering::Relaxed);
                            return Some(n);
                        }
                        next = next.wrapping_add(CHUNK.wrapping_mul(stride));
                    }
                    None
                })
            })
            .collect();
        // A progress line redrawn in place, on a terminal only (logs get the summary).
        let tty = std::io::stderr().is_terminal();
        let started = Instant::now();
        let mut drawn = false;
        while !workers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(Duration::from_millis(20));
            if tty && started.elapsed() > Duration::from_millis(500) {
                let n = tried.load(Ordering::Relaxed) as f64;
                let rate = n / started.elapsed().as_secs_f64().max(1e-9);
                let pct = (100.0 * n / expected).min(999.0);
                eprint!("\rmining {bits} bits: {n:.0} hashes ({pct:.0}% of the expected {expected:.0}), {rate:.0} hashes/s ");
                drawn = true;
            }
        }
        if drawn {
            eprintln!();
        }
        workers.into_iter().filter_map(|w| w.join().ok().flatten()).min()
    });
    // Every worker stops only once one found a nonce, so `nonce` is always set.
    (nonce.unwrap_or_default(), tried.load(Ordering::Relaxed))
}
