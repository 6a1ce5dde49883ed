//! `ergon node`.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use ergon::chainspec::ChainSpec;
use ergon::mempool::MempoolConfig;
use ergon::network::{NetworkConfig, PreSharedKey, TransportKind};
use ergon::node::service::{Service, ServiceConfig};
use ergon::node::NodeConfig;
use ergon::primitives::{Address, Keypair};
use ergon::rpc::serve::RpcLimits;
use ergon::rpc::{AllowList, RpcAccess, RpcConfig, RpcMethods};
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
    /// Which RPC methods answer: auto (unsafe admin_* methods only on a loopback --rpc-addr),
    /// safe or unsafe.
    #[arg(long, value_enum, default_value = "auto")]
    rpc_methods: RpcMethods,
    /// Browser origins allowed to call RPC, comma-separated (`http://localhost:*` style; a `*`
    /// port is any port), or `all`. Requests from other origins get HTTP 403; requests without
    /// an Origin header (curl, the CLI) are not affected [default: http and https on
    /// localhost, 127.0.0.1 and [::1], any port].
    #[arg(long, value_name = "ORIGINS")]
    rpc_cors: Option<AllowList>,
    /// Host names RPC answers to besides `localhost` and IP addresses (which are always
    /// accepted), comma-separated, or `all`. Other names get HTTP 403, which stops DNS
    /// rebinding.
    #[arg(long, value_name = "HOSTS")]
    rpc_allowed_hosts: Option<AllowList>,
    /// Open RPC connections (HTTP and WebSocket) one IP address may hold; more are refused
    /// with HTTP 429.
    #[arg(long, default_value_t = RpcLimits::default().connections_per_ip)]
    rpc_max_connections_per_ip: usize,
    /// HTTP connections open at once, from everyone (apart from WebSockets); more get 503.
    #[arg(long, default_value_t = RpcLimits::default().http_connections)]
    rpc_max_http_connections: usize,
    /// WebSocket connections open at once, from everyone (apart from HTTP); more get 503.
    #[arg(long, default_value_t = RpcLimits::default().ws_connections)]
    rpc_max_ws_connections: usize,
    /// RPC calls per second one IP address may make (each call of a batch counts), in bursts of
    /// up to twice that; calls over it get error 1022. 0: no limit.
    #[arg(long, default_value_t = RpcLimits::default().calls_per_second)]
    rpc_rate_limit: u32,
    /// Seconds a WebSocket may go without a call while it holds no subscription; then it is
    /// closed (a close frame names this flag). Answering pings does not count. 0: never.
    #[arg(long, default_value_t = ergon::rpc::serve::DEFAULT_WS_IDLE.as_secs())]
    rpc_ws_idle_secs: u64,
    /// Validator key: a dev key name (dev and local chains) or a file holding a hex secret.
    #[arg(long, env = "PROPOSER_KEY")]
    validator_key: Option<String>,
    /// Log lines on stderr: text for people, json (one object a line) for log collectors.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// P2P listen address, repeatable [default: /ip4/0.0.0.0/tcp/7070 and
    /// /ip4/0.0.0.0/udp/7070/quic-v1 (127.0.0.1 with --dev), or P2P_BIND=HOST:PORT].
    #[arg(long = "listen-addr")]
    listen_addr: Vec<String>,
    /// Peers to join through, as multiaddrs ending in /p2p/<peer id>.
    #[arg(long, env = "BOOTSTRAP_PEERS", value_delimiter = ',')]
    bootnodes: Vec<String>,
    /// File with this node's network key (hex secret) [default: <base-path>/network/node_key,
    /// created on first start].
    #[arg(long)]
    node_key: Option<PathBuf>,
    /// Pre-shared key file for a private swarm (`ergon key generate-swarm-key`). Disables QUIC.
    #[arg(long)]
    swarm_key: Option<PathBuf>,
    /// Only connect to and accept the --reserved-peers.
    #[arg(long)]
    reserved_only: bool,
    /// Peers dialled at start and the only ones accepted with --reserved-only: multiaddrs
    /// ending in /p2p/<peer id>, comma-separated.
    #[arg(long, value_delimiter = ',')]
    reserved_peers: Vec<String>,
    /// Turn off local-network discovery (on by default for dev and local chains).
    #[arg(long)]
    no_mdns: bool,
    /// State-tree versions (blocks) to keep for proofs; older tree nodes are pruned. At least
    /// the chain's unbonding period and challenge window [default: 100000].
    #[arg(long)]
    state_retention: Option<u64>,
    /// Blocks to keep a blob (job program, input or output) after the last block at which an
    /// open or claimed job needed it, or after its upload; then it is deleted [default: 100000].
    #[arg(long)]
    blob_retention: Option<u64>,
    /// Turn off QUIC (TCP only).
    #[arg(long)]
    no_quic: bool,
    /// Peer connections open at once, inbound and outbound together; more are refused.
    #[arg(long, default_value_t = 50)]
    max_peers: u32,
    /// MiB of free disk space below which nothing is written: block production pauses (and
    /// txs are refused with 1024) until space is freed, then resumes by itself.
    #[arg(long, default_value_t = 64, value_name = "MIB")]
    min_free_disk: u64,
    /// Inbound peer connections accepted from one IP address.
    #[arg(long, default_value_t = 16)]
    max_peers_per_ip: u32,
    /// How long a misbehaving peer is first banned, in seconds; each further offence doubles
    /// it (up to a week). While 4 peers from one IP address are banned, the address is too.
    #[arg(long, default_value_t = 3600)]
    peer_ban_secs: u64,
    /// Mine: run open jobs in the job VM and claim them with receipts from this key (a staked
    /// account: a dev name or a key file, like --validator-key). Repeatable: each job goes to one.
    #[arg(long)]
    miner: Vec<String>,
    /// Coordinate: attest receipts for jobs that name this key's address, after running them
    /// again (repeatable): those of miners on this node, and those miners elsewhere ask for
    /// on the `receipts` gossip topic.
    #[arg(long)]
    coordinator: Vec<String>,
    /// Verify (repeatable): re-execute every pending receipt, post a VERDICT where the chain
    /// drew this key, and challenge wrong ones with a FRAUD_PROOF bonded from the first key.
    #[arg(long)]
    verifier: Vec<String>,
    /// Devnet and tests: the last --miner lies (wrong-output, inflated-units or lazy),
    /// attested by a colluding coordinator, to be caught.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "wrong-output")]
    cheat: Option<ergon::node::compute::Cheat>,
    /// Delete this chain's database (<base-path>/chains/<chain id>/db) and sync the chain
    /// again from genesis through peers: the way out when the node refuses a damaged database
    /// (`ergon db check` says why). The double-sign guard beside it is kept.
    #[arg(long)]
    resync: bool,
    /// Validate from an empty double-sign guard: discard <base-path>/chains/<chain
    /// id>/sign-state.json, or go on without it when it is missing. Unsafe: a key that signed
    /// at heights the chain has not passed can sign there again and be slashed.
    #[arg(long)]
    unsafe_reset_sign_state: bool,
}

/// A chain spec by name or path, with the dev overrides from the environment on chains that
/// take them.
pub fn load_spec(chain: &str) -> Result<ChainSpec> {
    let mut spec = ChainSpec::load(chain)?;
    if spec.dev_keys {
        spec.apply_dev_overrides(|k| std::env::var(k).ok())?;
    }
    Ok(spec)
}

/// This node's network key: from `path`, or created there on first start.
fn node_key(path: &std::path::Path) -> Result<[u8; 32]> {
    if path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read node key {}", path.display()))?;
        let k = Keypair::parse_secret_hex(&text)
            .with_context(|| format!("{}: expected a 32-byte hex secret", path.display()))?;
        return Ok(k.secret_bytes());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let k = Keypair::generate(&mut rand::rngs::OsRng);
    super::keystore::write_private(path, format!("0x{}\n", hex::encode(k.secret_bytes())).as_bytes())?;
    Ok(k.secret_bytes())
}

fn network_config(args: &NodeArgs, spec: &ChainSpec, base: &std::path::Path) -> Result<NetworkConfig> {
    let parse_all = |v: &[String]| -> Result<Vec<_>> {
        v.iter().filter(|s| !s.trim().is_empty()).map(|s| Ok(ergon::network::parse_multiaddr(s)?)).collect()
    };
    let swarm_key = match &args.swarm_key {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("cannot read swarm key {}", p.display()))?;
            Some(
                text.parse::<PreSharedKey>()
                    .map_err(|e| anyhow::anyhow!("{}: not a swarm key file: {e}", p.display()))?,
            )
        }
        None => None,
    };
    let quic = !args.no_quic && swarm_key.is_none();
    let listen = if !args.listen_addr.is_empty() {
        parse_all(&args.listen_addr)?
    } else {
        // A dev node is a local toy: it listens on loopback only unless told otherwise.
        let default_bind = if args.dev { "127.0.0.1:7070" } else { "0.0.0.0:7070" };
        let bind = std::env::var("P2P_BIND").unwrap_or_else(|_| default_bind.into());
        let sock: SocketAddr = bind.parse().with_context(|| format!("P2P_BIND={bind:?}: expected HOST:PORT"))?;
        let ip = match sock.ip() {
            std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
            std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
        };
        let mut l = vec![ergon::network::parse_multiaddr(&format!("{ip}/tcp/{}", sock.port()))?];
        if quic {
            l.push(ergon::network::parse_multiaddr(&format!("{ip}/udp/{}/quic-v1", sock.port()))?);
        }
        l
    };
    let mut bootnodes = parse_all(&args.bootnodes)?;
    bootnodes.extend(parse_all(&spec.network.bootnodes)?);
    let reserved_peers = parse_all(&args.reserved_peers)?;
    if args.reserved_only && reserved_peers.is_empty() {
        bail!("--reserved-only needs --reserved-peers");
    }
    let key_path = args.node_key.clone().unwrap_or_else(|| base.join("network").join("node_key"));
    Ok(NetworkConfig {
        keypair: ergon::network::keypair_from_secret(node_key(&key_path)?)?,
        transport: TransportKind::Tcp { quic },
        listen,
        bootnodes,
        genesis: ergon::primitives::Hash::ZERO, // filled in from the store at start
        mdns: spec.network.mdns && !args.no_mdns && !args.reserved_only,
        swarm_key,
        reserved_only: args.reserved_only,
        reserved_peers,
        max_peers: args.max_peers,
        max_message_bytes: spec.limits.max_message_bytes as usize,
        max_tx_bytes: spec.limits.max_tx_bytes as usize,
        policy: ergon::network::PeerPolicy {
            ban: std::time::Duration::from_secs(args.peer_ban_secs.max(1)),
            max_inbound_per_ip: args.max_peers_per_ip,
        },
    })
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    /// One readable line per event (coloured on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logging(format: LogFormat) {
    // gossipsub warns for every validation result that arrives after its message cache moved
    // on (hundreds a minute under load), and Kademlia that it cannot bootstrap a node that
    // has no peers yet (every lone node, half a second after it starts listening; libp2p-kad
    // offers no setting against it): noise to an operator. RUST_LOG brings them back.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,jsonrpsee=warn,libp2p_gossipsub=error,libp2p_kad=error")
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
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
    let spec = load_spec(&chain)?;
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
    if let Some(r) = args.state_retention {
        let min = spec.economy.unbonding_period.max(spec.economy.challenge_blocks);
        if r < min {
            anyhow::bail!(
                "--state-retention {r} is below this chain's unbonding period / challenge window ({min} blocks): \
                 proofs of what is still slashable or challengeable would be pruned"
            );
        }
    }
    let keys = |names: &[String]| -> Result<Vec<Keypair>> { names.iter().map(|n| load_key(&spec, n)).collect() };
    let any_role = !args.miner.is_empty() || !args.coordinator.is_empty() || !args.verifier.is_empty();
    let compute_roles = any_role.then(|| -> Result<_> {
        Ok(ergon::node::compute::ComputeRoles {
            miners: keys(&args.miner)?,
            coordinators: keys(&args.coordinator)?,
            verifiers: keys(&args.verifier)?,
            cheat: args.cheat,
        })
    });
    let compute_roles = compute_roles.transpose()?;
    let rpc = RpcConfig {
        addr: args.rpc_addr,
        methods: args.rpc_methods,
        access: RpcAccess::new(args.rpc_cors.as_ref(), args.rpc_allowed_hosts.as_ref())?,
        limits: RpcLimits {
            connections_per_ip: args.rpc_max_connections_per_ip.max(1),
            http_connections: args.rpc_max_http_connections.max(1),
            ws_connections: args.rpc_max_ws_connections,
            calls_per_second: args.rpc_rate_limit,
            ws_idle: (args.rpc_ws_idle_secs > 0).then(|| std::time::Duration::from_secs(args.rpc_ws_idle_secs)),
        },
    };
    let chain_dir = super::chain_dir(&base, &spec);
    let db_path = chain_dir.join("db");
    let sign_state_path = ergon::storage::sign_guard::SignGuard::path_in(&chain_dir);
    if args.resync && db_path.exists() {
        // Not under a running node: it holds the guard's lock.
        ergon::storage::sign_guard::ensure_unused(&sign_state_path)?;
        std::fs::remove_dir_all(&db_path).with_context(|| format!("--resync: cannot delete {}", db_path.display()))?;
        tracing::warn!(db = %db_path.display(), "--resync: deleted the chain database; syncing again from genesis");
    }
    let network = network_config(&args, &spec, &chain_dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let genesis_note = spec.name.clone();
        let is_validator = validator.as_ref().map(|k| Address::from_public_key(&k.public()).to_bech32(spec.hrp()));
        let config = ServiceConfig {
            node: NodeConfig {
                spec,
                validator_key: validator,
                mempool: MempoolConfig::default(),
                network: Some(network),
            },
            db_path: db_path.clone(),
            rpc: Some(rpc),
            state_retention: args.state_retention,
            blob_retention: args.blob_retention,
            sign_state_path,
            reset_sign_state: args.unsafe_reset_sign_state,
            min_free_disk: Some(args.min_free_disk.saturating_mul(1 << 20)),
        };
        // Handlers first: a signal right after the readiness line must shut down cleanly.
        let signals = Signals::install()?;
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
        if let Some(net) = service.handle.network() {
            println!("Local peer id: {}", net.local_peer_id());
            // Listeners come up asynchronously; wait briefly so scripts see real ports.
            for _ in 0..50 {
                let addrs = net.listen_addrs().await.unwrap_or_default();
                if !addrs.is_empty() {
                    for a in addrs {
                        println!("P2P listening on {a}");
                    }
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        if let Some(miner) = compute_roles {
            tokio::spawn(ergon::node::compute::run(service.handle.clone(), miner));
        }
        if let Some(addr) = service.rpc_addr {
            // Scripts and tests read this line.
            println!("RPC listening on http://{addr}");
            tracing::info!("RPC listening on http://{addr} (WebSocket on ws://{addr}, /metrics, /health)");
        }
        signals.wait().await;
        tracing::info!("shutting down");
        service.stop().await;
        anyhow::Ok(())
    })
}

/// SIGINT and SIGTERM, listened for from the moment they are installed.
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    async fn wait(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
