//! `ergon bench --receipts N`: committed RECEIPT_CLAIMs per second through a real node.
//!
//! Set-up, not timed: 1,000 miners (or one per 20 claims, if more) stake, then N/4 clients post
//! 4 jobs each (one job per receipt),
//! the chain draws each job's miner (stake x reputation, from its randomness beacon; with
//! `--no-draw` the claims go round-robin), and that miner signs a receipt which one
//! coordinator attests. Timed: N claims, each with three signatures (the tx's, the miner's,
//! the coordinator's), from admission to the last one committed. Printed beside the same
//! run's signature-checking ceiling.

use anyhow::{bail, Result};
use ergon::chainspec::{ChainSpec, GenesisAccount};
use ergon::mempool::MempoolConfig;
use ergon::node::service::{Service, ServiceConfig};
use ergon::node::{ChainEvent, NodeConfig, NodeHandle};
use ergon::primitives::{
    tag, Address, ComputeReceipt, Hash, JobPost, Keypair, Payload, ReceiptClaim, SignedTx, StakeAmount,
};
use std::time::{Duration, Instant};

/// Miners at least; more for large runs, so that no miner is drawn for more jobs than its
/// 63-tx nonce window holds.
const MIN_MINERS: u64 = 1_000;
const CLAIMS_PER_MINER: u64 = 20;
const JOBS_PER_CLIENT: u64 = 4;
const PRICE: u128 = 1_000_000;
const UNITS: u64 = 1_000;

fn key(role: &str, i: u64) -> Keypair {
    Keypair::from_secret(Hash::digest(tag::DEV_KEY, format!("bench-{role}-{i}").as_bytes()).0)
}

fn tx(spec: &ChainSpec, k: &Keypair, nonce: u64, payload: Payload) -> SignedTx {
    ergon::ledger::fees::signed(spec, k, nonce, payload).unwrap_or_else(|| unreachable!("fees fit"))
}

/// Submits `txs` and waits until they are committed; returns the time until the last was
/// admitted and the time until the last was committed.
async fn push(handle: &NodeHandle, txs: Vec<SignedTx>) -> Result<(Duration, Duration)> {
    let total = txs.len() as u64;
    let mut events = handle.subscribe();
    let start = Instant::now();
    let rejected = super::bench::submit_all(handle, txs).await;
    if let Some(e) = rejected.first() {
        bail!("{} txs rejected at admission, first: {e}", rejected.len());
    }
    let admitted = start.elapsed();
    let mut committed = 0u64;
    while committed < total {
        match tokio::time::timeout(Duration::from_secs(600), events.recv()).await {
            Ok(Ok(ChainEvent::Finalized(h))) => committed += u64::from(h.tx_count),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => bail!("event stream: {e}"),
            Err(_) => bail!("only {committed} of {total} txs committed in 600 s"),
        }
    }
    Ok((admitted, start.elapsed()))
}

/// `draw`: the chain draws each job's miner (as on dev); without, claims go round-robin.
pub fn run(n: u32, block_time_ms: u64, base_path: Option<std::path::PathBuf>, draw: bool) -> Result<()> {
    let n = u64::from(n.max(4));
    let clients = n.div_ceil(JOBS_PER_CLIENT);
    let miner_count = MIN_MINERS.max(n.div_ceil(CLAIMS_PER_MINER));
    let mut spec = ChainSpec::load("dev")?;
    spec.chain_id = "ergon-bench".into();
    spec.consensus.block_time_ms = block_time_ms;
    // With the draw, one window covers the whole run, so the drawn miner's claim is valid
    // whenever it lands.
    spec.economy.miner_draw_blocks = if draw { 10_000 } else { 0 };
    let hrp = spec.token.hrp.clone();
    let fund = |k: &Keypair| GenesisAccount {
        address: Address::from_public_key(&k.public()).to_bech32(&hrp),
        balance: 1_000_000_000_000_000,
    };
    let (miners, client_keys): (Vec<Keypair>, Vec<Keypair>) =
        ((0..miner_count).map(|i| key("miner", i)).collect(), (0..clients).map(|i| key("client", i)).collect());
    let coordinator = key("coordinator", 0);
    spec.accounts.extend(miners.iter().chain(&client_keys).map(fund));
    spec.genesis()?;

    eprintln!("signing {miner_count} stakes and {n} jobs...");
    let stakes: Vec<SignedTx> = miners
        .iter()
        .map(|m| tx(&spec, m, 1, Payload::Stake(StakeAmount { amount: spec.economy.miner_min_stake * 10 })))
        .collect();
    let coord_addr = Address::from_public_key(&coordinator.public());
    let mut posts = Vec::with_capacity(n as usize);
    let mut jobs = Vec::with_capacity(n as usize);
    for j in 0..n {
        let (c, nonce) = (j / JOBS_PER_CLIENT, j % JOBS_PER_CLIENT + 1);
        let client = &client_keys[c as usize];
        let post = JobPost {
            program: Hash([1; 32]),
            input: Hash::digest(b"bench-input", &j.to_le_bytes()),
            max_units: UNITS,
            price: PRICE,
            coordinator: coord_addr,
            deadline: 1_000_000,
            verifiers: 0,
        };
        let t = tx(&spec, client, nonce, Payload::JobPost(post));
        jobs.push((t.hash(), Address::from_public_key(&client.public())));
        posts.push(t);
    }
    let temp = tempfile::Builder::new().prefix("ergon-bench-").tempdir()?;
    let base = base_path.unwrap_or_else(|| temp.path().to_path_buf());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (setup, admitted, elapsed) = rt.block_on(async move {
        let mempool = MempoolConfig { max_txs: (2 * n + miner_count) as usize + 1000, ..MempoolConfig::default() };
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
        // Stakes first: a job's miner is drawn in the block after the job's, among the miners
        // staked by then; a job drawn before any stake landed would wait a whole window.
        let (_, staking) = push(&service.handle, stakes).await?;
        let (_, posting) = push(&service.handle, posts).await?;
        let setup = staking + posting;
        let claims = claims_by_the_draw(&service.handle, &miners, &coordinator, &jobs).await?;
        let (admitted, elapsed) = push(&service.handle, claims).await?;
        service.stop().await;
        anyhow::Ok((setup, admitted, elapsed))
    })?;
    let cps = n as f64 / elapsed.as_secs_f64();
    println!("set-up (stakes + jobs):     {:.2} s", setup.as_secs_f64());
    // The rest is the wait for the next block's time, then building and committing it.
    println!("admitted (sig + checks):    {n} in {:.2} s", admitted.as_secs_f64());
    println!("receipt claims committed:   {n} in {:.2} s", elapsed.as_secs_f64());
    println!("committed end to end:       {cps:.0} claims/s (3 signatures each)");
    super::ceiling::Ceiling::measure().print(3.0 * cps);
    Ok(())
}

/// Once the jobs are in and the beacon after them is known: each job's receipt, signed by the
/// miner the chain drew for it and attested by the coordinator, as that miner's next tx.
async fn claims_by_the_draw(
    handle: &NodeHandle,
    miners: &[Keypair],
    coordinator: &Keypair,
    jobs: &[(Hash, Address)],
) -> Result<Vec<SignedTx>> {
    use ergon::ledger::draw::{assigned, Draw};
    let (store, spec) = (handle.store().clone(), handle.spec().clone());
    let posted = store.head()?.height;
    let mut events = handle.subscribe();
    while store.head()?.height <= posted + 1 {
        tokio::time::timeout(Duration::from_secs(60), events.recv()).await??;
    }
    let height = store.head()?.height + 1;
    let by_address: std::collections::HashMap<Address, &Keypair> =
        miners.iter().map(|k| (Address::from_public_key(&k.public()), k)).collect();
    let mut nonces: std::collections::HashMap<Address, u64> = std::collections::HashMap::new();
    eprintln!("signing {} receipt claims by the drawn miners...", jobs.len());
    let mut claims = Vec::with_capacity(jobs.len());
    for (j, (job_id, client)) in jobs.iter().enumerate() {
        let drawn = match assigned(store.as_ref(), &spec, job_id, height)? {
            Draw::Miner { miner, .. } => miner,
            Draw::Anyone => Address::from_public_key(&miners[j % miners.len()].public()),
            Draw::Nobody => bail!("the chain drew no miner for job {job_id}"),
        };
        let miner = by_address
            .get(&drawn)
            .ok_or_else(|| anyhow::anyhow!("drawn {} is not a bench miner", drawn.to_bech32(spec.hrp())))?;
        let nonce = nonces.entry(drawn).or_insert(1);
        *nonce += 1;
        if *nonce > 64 {
            bail!("the draw gave miner {} more than 63 jobs (its pending-tx limit)", drawn.to_bech32(spec.hrp()));
        }
        let receipt = ComputeReceipt {
            receipt_id: Hash::digest(b"bench-receipt", &(j as u64).to_le_bytes()),
            job_id: *job_id,
            client: *client,
            miner: drawn,
            compute_units: UNITS,
            price: PRICE,
            output_hash: Hash([2; 32]),
            metering_version: spec.economy.metering_version,
        };
        let claim = ReceiptClaim {
            miner_sig: miner.sign(&receipt.signing_hash()),
            attestation: coordinator.sign(&receipt.attestation_hash()),
            miner_key: miner.public(),
            coordinator_key: coordinator.public(),
            receipt,
        };
        claims.push(tx(&spec, miner, *nonce, Payload::ReceiptClaim(Box::new(claim))));
    }
    Ok(claims)
}
