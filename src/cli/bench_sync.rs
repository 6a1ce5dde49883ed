//! `ergon bench-sync`: a fresh node syncing full blocks from a peer over loopback, next to the
//! same blocks imported locally from disk.

use anyhow::{bail, Context, Result};
use clap::Args;
use ergon::chainspec::ChainSpec;
use ergon::mempool::MempoolConfig;
use ergon::network::{keypair_from_secret, parse_multiaddr, NetworkConfig, TransportKind};
use ergon::node::service::{Service, ServiceConfig};
use ergon::node::{ChainEvent, NodeConfig};
use ergon::primitives::{Hash, Keypair};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct BenchSyncArgs {
    /// Blocks in the chain to sync.
    #[arg(long, default_value_t = 1000)]
    blocks: u64,
    /// Transfers in each block.
    #[arg(long, default_value_t = 100)]
    txs_per_block: u32,
}

fn net(listen: &str, bootnodes: Vec<String>, seed: u8, spec: &ChainSpec) -> Result<NetworkConfig> {
    Ok(NetworkConfig {
        keypair: keypair_from_secret([seed; 32])?,
        transport: TransportKind::Tcp { quic: false },
        listen: vec![parse_multiaddr(listen)?],
        bootnodes: bootnodes.iter().map(|b| parse_multiaddr(b)).collect::<Result<_, _>>()?,
        genesis: Hash::ZERO,
        mdns: false,
        swarm_key: None,
        reserved_only: false,
        reserved_peers: vec![],
        max_peers: 8,
        max_message_bytes: spec.limits.max_message_bytes as usize,
        max_tx_bytes: spec.limits.max_tx_bytes as usize,
        policy: ergon::network::PeerPolicy::default(),
    })
}

async fn service(spec: &ChainSpec, db: &Path, key: Option<Keypair>, network: Option<NetworkConfig>) -> Result<Service> {
    let mempool = MempoolConfig { max_txs: 400_000, ..MempoolConfig::default() };
    let node = NodeConfig { spec: spec.clone(), validator_key: key, mempool, network };
    Ok(Service::start(ServiceConfig {
        node,
        db_path: db.to_path_buf(),
        rpc: None,
        state_retention: None,
        blob_retention: None,
        sign_state_path: db.with_extension(ergon::storage::sign_guard::FILE_NAME),
        reset_sign_state: false,
        min_free_disk: None,
    })
    .await?)
}

/// Waits until `svc`'s head reaches `height`.
async fn reach(svc: &Service, height: u64, limit: Duration) -> Result<()> {
    let mut events = svc.handle.subscribe();
    let deadline = Instant::now() + limit;
    while svc.handle.store().head()?.height < height {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.max(Duration::from_millis(1)), events.recv()).await {
            Ok(Ok(ChainEvent::Finalized(_))) | Ok(Ok(_)) | Ok(Err(_)) => {}
            Err(_) => bail!("stuck at height {} of {height}", svc.handle.store().head()?.height),
        }
    }
    Ok(())
}

pub fn run(args: BenchSyncArgs) -> Result<()> {
    let n = args.blocks.max(1);
    let tpb = args.txs_per_block.max(1);
    let total = n * u64::from(tpb);
    let per_account = 40u64;
    let accounts = total.div_ceil(per_account);
    let mut spec = ChainSpec::load("dev")?;
    spec.chain_id = "ergon-bench-sync".into();
    spec.consensus.block_time_ms = 10;
    spec.limits.max_block_txs = tpb;
    let txs = super::bench::workload(&mut spec, "sync", accounts, total);
    let dir = tempfile::Builder::new().prefix("ergon-bench-sync-").tempdir()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        eprintln!("building a chain of {n} blocks with {tpb} transfers each...");
        let src_db = dir.path().join("source");
        let producer = service(&spec, &src_db, Some(Keypair::dev("alice")), None).await?;
        for chunk in txs.chunks(8192) {
            let rejected = producer.handle.submit_many(chunk.to_vec()).await.iter().filter(|r| r.is_err()).count();
            if rejected > 0 {
                bail!("{rejected} transfers rejected while building the chain");
            }
        }
        reach(&producer, n, Duration::from_secs(1200)).await?;
        producer.stop().await;

        // The same store, now only serving blocks.
        let server = service(&spec, &src_db, None, Some(net("/ip4/127.0.0.1/tcp/0", vec![], 1, &spec)?)).await?;
        let server_net = server.handle.network().context("server has no network")?.clone();
        let mut addr = Vec::new();
        for _ in 0..100 {
            addr = server_net.listen_addrs().await?;
            if !addr.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut blocks = Vec::with_capacity(n as usize);
        let synced_txs: u64 = {
            let store = server.handle.store();
            let mut count = 0;
            for h in 1..=n {
                count += u64::from(store.header(h)?.context("missing header")?.tx_count);
            }
            count
        };

        eprintln!("syncing {n} blocks over loopback TCP...");
        let t = Instant::now();
        let follower =
            service(&spec, &dir.path().join("follower"), None, Some(net("/ip4/127.0.0.1/tcp/0", addr, 2, &spec)?))
                .await?;
        reach(&follower, n, Duration::from_secs(1200)).await?;
        let sync_secs = t.elapsed().as_secs_f64();
        let (a, b) = (server.handle.store().header(n)?, follower.handle.store().header(n)?);
        if a.map(|h| h.hash()) != b.map(|h| h.hash()) {
            bail!("the synced chain differs from the source at height {n}");
        }
        follower.stop().await;

        eprintln!("importing the same {n} blocks from disk...");
        let local = service(&spec, &dir.path().join("local"), None, None).await?;
        let t = Instant::now();
        let store = server.handle.store().clone();
        let mut h = 1;
        while h <= n {
            blocks.clear();
            let end = (h + 127).min(n);
            for x in h..=end {
                let block = store.block(x)?.context("missing block")?;
                let commit = store.commit(x)?.context("missing commit")?;
                blocks.push((block, commit));
            }
            local.handle.import(std::mem::take(&mut blocks)).await.map_err(|e| anyhow::anyhow!(e))?;
            h = end + 1;
        }
        let local_secs = t.elapsed().as_secs_f64();
        local.stop().await;
        server.stop().await;

        let rate = |secs: f64| (n as f64 / secs, synced_txs as f64 / secs);
        let (sb, st) = rate(sync_secs);
        let (lb, lt) = rate(local_secs);
        println!("blocks: {n}, transfers: {synced_txs}");
        println!("sync over loopback:  {sb:.0} blocks/s, {st:.0} tx/s ({sync_secs:.2} s, from node start)");
        println!("local import (disk): {lb:.0} blocks/s, {lt:.0} tx/s ({local_secs:.2} s)");
        println!("sync / local:        {:.0}%", 100.0 * sb / lb);
        anyhow::Ok(())
    })
}
