//! `ergon bench`: pre-signed transfers from many accounts pushed through a real node pipeline
//! (batched signature checks, mempool admission, block building, state apply, state tree,
//! synced RocksDB commit), next to this machine's signature-checking ceiling measured in the
//! same run ([`super::ceiling`]).

use anyhow::{bail, Result};
use clap::Args;
use ergon::chainspec::{ChainSpec, GenesisAccount};
use ergon::mempool::MempoolConfig;
use ergon::node::service::{Service, ServiceConfig};
use ergon::node::{ChainEvent, NodeConfig};
use ergon::primitives::{tag, Address, Hash, Keypair, Payload, Priority, SignedTx, Transfer, Tx};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchArgs {
    /// Sending accounts (funded at genesis).
    #[arg(long, default_value_t = 10_000)]
    accounts: u32,
    /// Transfers per account (at most the mempool's nonce window, 64).
    #[arg(long, default_value_t = 20)]
    per_account: u32,
    /// Block time of the benchmark chain.
    #[arg(long, default_value_t = 500)]
    block_time_ms: u64,
    /// Where to put the benchmark database [default: a temporary directory].
    #[arg(long)]
    base_path: Option<std::path::PathBuf>,
    /// Measure committed RECEIPT_CLAIMs instead: this many, from 1,000 staked miners (one per 20
    /// claims beyond 20,000), one escrowed job each (stakes and jobs are set up first and not
    /// timed).
    #[arg(long)]
    receipts: Option<u32>,
    /// With --receipts: turn the miner draw off (any staked miner may claim; the claims go
    /// round-robin), to see what the draw costs.
    #[arg(long)]
    no_draw: bool,
    /// Measure the job VM instead: compute units per second of each sample job on one core,
    /// inputs scaled by this factor (1: a few seconds in a release build).
    #[arg(long)]
    vm: Option<u32>,
}

/// A benchmark workload: `accounts` new accounts funded at genesis in `spec`, and `count`
/// signed transfers between them in round-major order (every account's nonce 1, then every
/// nonce 2, ...), as many independent clients would send them.
pub fn workload(spec: &mut ChainSpec, name: &str, accounts: u64, count: u64) -> Vec<SignedTx> {
    let accounts = accounts.max(2);
    let keys: Vec<Keypair> = (0..accounts)
        .map(|i| Keypair::from_secret(Hash::digest(tag::DEV_KEY, format!("{name}-{i}").as_bytes()).0))
        .collect();
    let addrs: Vec<Address> = keys.iter().map(|k| Address::from_public_key(&k.public())).collect();
    for a in &addrs {
        spec.accounts.push(GenesisAccount { address: a.to_bech32(spec.hrp()), balance: 1_000_000_000_000 });
    }
    let transfer = |i: usize, nonce: u64, fee: u128| Tx {
        chain_id: spec.chain_id.clone(),
        sender: keys[i].public(),
        nonce,
        fee,
        priority: Priority::Normal,
        payload: Payload::Transfer(Transfer { to: addrs[(i + 1) % addrs.len()], amount: 1 + u128::from(nonce) }),
    };
    let probe = transfer(0, 1, 0);
    let fee = ergon::ledger::required_fee(spec, &probe).map(|f| f.total).unwrap_or(0);
    (1..)
        .flat_map(|nonce| (0..keys.len()).map(move |i| (i, nonce)))
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .map(|(i, nonce)| transfer(i, nonce, fee).sign(&keys[i]))
        .collect()
}

/// Submits `txs` in chunks of 4,096 through the node's batch admission, a few chunks at once
/// as independent clients would (one chunk's signatures are checked while another waits for
/// the driver to take it); returns the rejections.
pub async fn submit_all(handle: &ergon::node::NodeHandle, txs: Vec<SignedTx>) -> Vec<String> {
    use futures::StreamExt;
    let mut chunks = Vec::new();
    let mut it = txs.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(4096).collect::<Vec<_>>());
    }
    let results: Vec<_> = futures::stream::iter(chunks).map(|c| handle.submit_many(c)).buffered(12).collect().await;
    results.into_iter().flatten().filter_map(|r| r.err().map(|e| e.to_string())).collect()
}

pub fn run(args: BenchArgs) -> Result<()> {
    if let Some(scale) = args.vm {
        return vm(scale);
    }
    if let Some(n) = args.receipts {
        return super::bench_receipts::run(n, args.block_time_ms, args.base_path, !args.no_draw);
    }
    if args.per_account == 0 || args.per_account > 64 {
        bail!("--per-account must be 1 to 64 (the mempool's nonce window)");
    }
    let n = args.accounts.max(2);
    let mut spec = ChainSpec::load("dev")?;
    spec.chain_id = "ergon-bench".into();
    spec.consensus.block_time_ms = args.block_time_ms;
    eprintln!("signing {} transfers from {n} accounts...", u64::from(n) * u64::from(args.per_account));
    let txs = workload(&mut spec, "bench", u64::from(n), u64::from(n) * u64::from(args.per_account));
    let total = txs.len() as u64;

    let ceiling = super::ceiling::Ceiling::measure();
    let temp = tempfile::Builder::new().prefix("ergon-bench-").tempdir()?;
    let base = args.base_path.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (elapsed, admit_elapsed, blocks) = rt.block_on(async move {
        let mempool = MempoolConfig { max_txs: txs.len() + 1000, ..MempoolConfig::default() };
        let config = ServiceConfig {
            node: NodeConfig { spec, validator_key: Some(Keypair::dev("alice")), mempool, network: None },
            db_path: base.join("db"),
            rpc: None,
            state_retention: None,
            blob_retention: None,
            sign_state_path: base.join(ergon::storage::sign_guard::FILE_NAME),
            reset_sign_state: false,
            min_free_disk: None,
        };
        let service = Service::start(config).await?;
        let mut events = service.handle.subscribe();
        let start = Instant::now();
        let handle = service.handle.clone();
        let submitter = tokio::spawn(async move {
            let rejected = submit_all(&handle, txs).await.len();
            (start.elapsed(), rejected)
        });
        let mut committed = 0u64;
        let mut blocks = 0u32;
        let deadline = Duration::from_secs(600);
        while committed < total {
            match tokio::time::timeout(deadline, events.recv()).await {
                Ok(Ok(ChainEvent::Finalized(h))) => {
                    committed += u64::from(h.tx_count);
                    if h.tx_count > 0 {
                        blocks += 1;
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => bail!("event stream: {e}"),
                Err(_) => bail!("only {committed} of {total} transfers committed after {deadline:?}"),
            }
        }
        let elapsed = start.elapsed();
        let (admit, rejected) = submitter.await?;
        if rejected > 0 {
            bail!("{rejected} transfers were rejected at admission");
        }
        service.stop().await;
        anyhow::Ok((elapsed, admit, blocks))
    })?;
    let tps = total as f64 / elapsed.as_secs_f64();
    println!("transfers committed:        {total} in {blocks} blocks");
    println!("admission (sig + mempool):  {:.0} tx/s", total as f64 / admit_elapsed.as_secs_f64());
    println!("committed end to end:       {tps:.0} tx/s ({:.2} s)", elapsed.as_secs_f64());
    ceiling.print(tps);
    Ok(())
}

/// `ergon bench --vm`: units per second of each sample job on one core, beside this core's
/// single ed25519 verification rate as the machine's yardstick.
fn vm(scale: u32) -> Result<()> {
    let results = ergon::vm::bench::run_bench(scale)?;
    let wasmtime = wasmtime_columns(scale, &results)?;
    println!("{:<10} {:>14} {:>10} {:>16}{}", "job", "units", "seconds", "units/s", wasmtime.header);
    for (r, extra) in results.iter().zip(&wasmtime.rows) {
        let (units_per_second, seconds) = (r.units_per_second(), r.elapsed.as_secs_f64());
        println!("{:<10} {:>14} {seconds:>10.3} {units_per_second:>16.0}{extra}", r.name, r.units);
    }
    println!("{}", wasmtime.note);
    let max = ChainSpec::load("dev")?.economy.max_dispute_units;
    let (units, took) = ergon::vm::bench::referee_cost(max)?;
    println!(
        "referee: a disputed job using all of max_dispute_units ({max}, dev) re-executed in {:.2} s ({units} units)",
        took.as_secs_f64()
    );
    let ceiling = super::ceiling::Ceiling::measure();
    println!("yardstick of this machine, same run: {:.0} ed25519 verifications/s on one core", ceiling.single);
    Ok(())
}

/// wasmtime's columns beside the job VM's in `bench --vm`: a header, one cell per job, a note.
struct WasmtimeColumns {
    header: String,
    rows: Vec<String>,
    note: String,
}

#[cfg(feature = "wasmtime-bench")]
fn wasmtime_columns(scale: u32, vm: &[ergon::vm::bench::BenchResult]) -> Result<WasmtimeColumns> {
    let wasmtime = ergon::vm::bench_wasmtime::run_bench(scale, vm)?;
    let header = format!(" {:>11} {:>12} {:>13}", "wasmtime s", "vm/wasmtime", "w/ fuel s");
    let rows = vm
        .iter()
        .zip(&wasmtime)
        .map(|(vm, w)| {
            let (seconds, with_fuel) = (w.elapsed.as_secs_f64(), w.elapsed_with_fuel.as_secs_f64());
            let ratio = vm.elapsed.as_secs_f64() / seconds.max(1e-9);
            format!(" {seconds:>11.3} {ratio:>12.1} {with_fuel:>13.3}")
        })
        .collect();
    let note = "wasmtime (cranelift, compilation included, same output as the vm's): 'wasmtime s' without \
                fuel, its native speed; 'w/ fuel s' with consume_fuel on"
        .to_string();
    Ok(WasmtimeColumns { header, rows, note })
}

#[cfg(not(feature = "wasmtime-bench"))]
fn wasmtime_columns(_scale: u32, vm: &[ergon::vm::bench::BenchResult]) -> Result<WasmtimeColumns> {
    let note = "(wasmtime's time beside each job: build with `--features wasmtime-bench`)".to_string();
    Ok(WasmtimeColumns { header: String::new(), rows: vec![String::new(); vm.len()], note })
}
