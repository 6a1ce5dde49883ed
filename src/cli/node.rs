//! `ergon node`.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use ergon::chainspec::ChainSpec;
use ergon::mempool::MempoolConfig;
use ergon::node::service::{Service, ServiceConfig};
use ergon::node::NodeConfig;
use ergon::primitives::{Address, Keypair};
use ergon::rpc::RpcMethods;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args)]
pub struct NodeArgs {
    /// Development chain: chain `dev`, validator alice, unsafe RPC on localhost, and a
    /// temporary base path unless --base-path is given.
    #[arg(long)]
    dev: bool,
    /// dev, local, or a path to a chain spec JSON file.
    #[arg(long)]
    chain: Option<String>,
    /// Where the node keeps its database and keystore [default: ~/.ergon].
    #[arg(long, env = "DB_PATH")]
    base_path: Option<PathBuf>,
    /// JSON-RPC (HTTP and WebSocket), /metrics and /health.
    #[arg(long, env = "RPC_BIND", default_value = "127.0.0.1:8080")]
    rpc_addr: SocketAddr,
    #[arg(long, value_enum, default_value = "auto")]
    rpc_methods: RpcMethods,
    /// Validator key: a dev key name (dev and local chains) or a file holding a hex secret.
    #[arg(long, env = "PROPOSER_KEY")]
    validator_key: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,jsonrpsee=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// A dev key name on chains that accept them, else a file holding a hex secret.
pub fn load_key(spec: &ChainSpec, name_or_file: &str) -> Result<Keypair> {
    if let Some(k) = spec.dev_key(name_or_file) {
        return Ok(k);
    }
    let text = std::fs::read_to_string(name_or_file).with_context(|| {
        if spec.dev_keys {
            format!("{name_or_file:?} is neither a dev key name (alice, bob, ...) nor a readable key file")
        } else {
            format!("cannot read key file {name_or_file:?} (dev key names are not accepted on chain {})", spec.chain_id)
        }
    })?;
    Keypair::parse_secret_hex(&text).with_context(|| format!("{name_or_file}: expected a 32-byte hex secret"))
}

pub fn run(args: NodeArgs) -> Result<()> {
    init_logging(args.log_format);
    let chain = match (&args.chain, args.dev) {
        (Some(c), _) => c.clone(),
        (None, true) => "dev".into(),
        (None, false) => bail!("say which chain to run: --dev, or --chain dev|local|PATH"),
    };
    let mut spec = ChainSpec::load(&chain)?;
    if spec.dev_keys {
        spec.apply_dev_overrides(|k| std::env::var(k).ok())?;
    }
    let validator = match (&args.validator_key, args.dev) {
        (Some(k), _) => Some(load_key(&spec, k)?),
        (None, true) => Some(Keypair::dev("alice")),
        (None, false) => None,
    };
    // --dev without --base-path runs in a directory that is removed on exit.
    let mut _temp = None;
    let base = match (&args.base_path, args.dev) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let t = tempfile::Builder::new().prefix("ergon-dev-").tempdir()?;
            let p = t.path().to_path_buf();
            _temp = Some(t);
            p
        }
        (None, false) => super::default_base_path(),
    };
    let db_path = base.join("chains").join(&spec.chain_id).join("db");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let genesis_note = spec.name.clone();
        let is_validator = validator.as_ref().map(|k| Address::from_public_key(&k.public()).to_bech32(spec.hrp()));
        let config = ServiceConfig {
            node: NodeConfig { spec, validator_key: validator, mempool: MempoolConfig::default() },
            db_path: db_path.clone(),
            rpc: Some((args.rpc_addr, args.rpc_methods)),
        };
        let service = Service::start(config).await?;
        let store = service.handle.store();
        let head = store.head()?;
        tracing::info!(
            chain = %genesis_note,
            genesis = %store.genesis_hash()?,
            head = head.height,
            db = %db_path.display(),
            validator = is_validator.as_deref().unwrap_or("none"),
            "node started"
        );
        if let Some(addr) = service.rpc_addr {
            // Scripts and tests read this line.
            println!("RPC listening on http://{addr}");
            tracing::info!("RPC listening on http://{addr} (WebSocket on ws://{addr}, /metrics, /health)");
        }
        wait_for_signal().await;
        tracing::info!("shutting down");
        service.stop().await;
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
