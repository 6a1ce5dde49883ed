//! The JSON-RPC server (jsonrpsee): HTTP and WebSocket on one address, plus `GET /metrics` and
//! `GET /health`. Method names follow DESIGN.md §8, with the seed's names as aliases.
//!
//! Limits: request body size, connections, batch length (100) and subscriptions per
//! connection. `admin_*` methods answer only when unsafe methods are allowed
//! (`--rpc-methods unsafe`, or `auto` on a loopback address), and never to a browser page
//! from another machine. Browser requests pass an Origin and a Host check first
//! ([`http`]: `--rpc-cors`, `--rpc-allowed-hosts`).

mod consensus;
mod economy;
mod errors;
mod explorer;
mod http;
mod idle;
mod params;
mod post;
pub mod serve;
pub mod types;
mod uploads;

pub use errors::*;
pub use http::{AccessError, AllowList, RpcAccess};

use crate::ledger::{block_reward, fees, StateReader};
use crate::node::{ChainEvent, NodeHandle};
use crate::primitives::Address;
use jsonrpsee::server::{BatchRequestConfig, PendingSubscriptionSink, Server, ServerConfig, ServerHandle};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;
use params::Args;
use serde_json::{json, Value};
use std::net::SocketAddr;
use types::{parse_block_id, parse_tx_param, BlockId, HeadJson, JsonTx};

pub const MAX_BODY_BYTES: u32 = 2 << 20;
/// Replies queued per connection before its calls wait (Substrate's default).
pub const MESSAGE_BUFFER: u32 = 64;
/// WebSocket pings; a connection that answers none for two intervals, twice, is closed.
pub const WS_PING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);
pub const MAX_BATCH: u32 = 100;
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: u32 = 32;
/// Evidence records returned by one `chain_getEvidence` call.
pub const MAX_EVIDENCE: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RpcMethods {
    /// Unsafe methods only when the RPC address is a loopback address.
    Auto,
    /// Read methods and tx submission only; admin_* are refused.
    Safe,
    /// Every method, admin_* included, from any address that may reach the RPC port.
    Unsafe,
}

impl RpcMethods {
    pub fn allow_unsafe(self, addr: &SocketAddr) -> bool {
        match self {
            RpcMethods::Auto => addr.ip().is_loopback(),
            RpcMethods::Safe => false,
            RpcMethods::Unsafe => true,
        }
    }
}

/// What `ergon node` starts the server with.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    pub addr: SocketAddr,
    pub methods: RpcMethods,
    pub access: RpcAccess,
    pub limits: serve::RpcLimits,
}

struct Ctx {
    node: NodeHandle,
    allow_unsafe: bool,
    /// Blobs being uploaded in pieces.
    uploads: std::sync::Mutex<uploads::Uploads>,
}

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// Binds `config.addr` and serves until the returned handle is stopped. The accept loop is
/// ours ([`serve`]): connections per IP, HTTP and WebSocket capacity, call rates and
/// WebSocket backpressure are enforced on every connection.
pub async fn start(config: RpcConfig, node: NodeHandle) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let RpcConfig { addr, methods, access, limits } = config;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let admission = serve::Admission::new(limits, node.metrics().clone());
    let server_config = ServerConfig::builder()
        .max_request_body_size(MAX_BODY_BYTES)
        .max_response_body_size(32 << 20)
        // Ours are enforced before a request gets here; this is only a backstop.
        .max_connections((limits.http_connections + limits.ws_connections) as u32)
        .max_subscriptions_per_connection(MAX_SUBSCRIPTIONS_PER_CONNECTION)
        .set_batch_request_config(BatchRequestConfig::Limit(MAX_BATCH))
        .set_message_buffer_capacity(MESSAGE_BUFFER)
        .enable_ws_ping(
            jsonrpsee::server::PingConfig::new()
                .ping_interval(WS_PING_INTERVAL)
                .inactive_limit(WS_PING_INTERVAL * 2)
                .max_failures(2),
        )
        .build();
    let ctx = Ctx { node: node.clone(), allow_unsafe: methods.allow_unsafe(&local), uploads: Default::default() };
    let methods: jsonrpsee::Methods = module(ctx).map_err(std::io::Error::other)?.into();
    use jsonrpsee::server::MethodCallback::{Subscription, Unsubscription};
    let subscriptions =
        methods.method_names().filter(|m| matches!(methods.method(m), Some(Subscription(_) | Unsubscription(_))));
    let unsubscriptions = methods.method_names().filter(|m| matches!(methods.method(m), Some(Unsubscription(_))));
    let limit = serve::LimitLayer {
        admission: admission.clone(),
        subscriptions: std::sync::Arc::new(subscriptions.collect()),
        unsubscriptions: std::sync::Arc::new(unsubscriptions.collect()),
        methods: std::sync::Arc::new(methods.method_names().collect()),
    };
    let builder = Server::builder()
        .set_config(server_config)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(http::AccessLayer::new(access))
                .layer(http::HttpRoutesLayer::new(node.clone())),
        )
        .set_rpc_middleware(jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer(limit))
        .to_service_builder();
    let (stop, handle) = jsonrpsee::server::stop_channel();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stop.clone().shutdown() => break,
            };
            let (sock, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: let some connections close.
                    tracing::debug!(error = %e, "RPC accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(conn) = admission.connect(remote.ip()) else {
                let reason = format!(
                    "too many connections from {}: at most {} (--rpc-max-connections-per-ip)",
                    remote.ip(),
                    limits.connections_per_ip
                );
                tokio::spawn(serve::refuse(sock, reason));
                continue;
            };
            let _ = sock.set_nodelay(true);
            let io = serve::Guarded::new(sock, conn.clone());
            let (builder, methods, stop) = (builder.clone(), methods.clone(), stop.clone());
            let shutdown = stop.clone().shutdown();
            let svc = tower::service_fn(move |mut req: jsonrpsee::server::HttpRequest<hyper::body::Incoming>| {
                let conn = conn.clone();
                let mut svc = builder.clone().build(methods.clone(), stop.clone());
                async move {
                    let upgrade = jsonrpsee::server::ws::is_upgrade_request(&req);
                    if let Err(why) = conn.admit(upgrade) {
                        return Ok(serve::too_busy(why));
                    }
                    req.extensions_mut().insert(serve::ConnRef(conn));
                    let answer = if req.method() == ::http::Method::POST && !upgrade {
                        match post::read(req, MAX_BODY_BYTES).await {
                            Ok(req) => tower::Service::call(&mut svc, req).await,
                            Err(refused) => return Ok(refused),
                        }
                    } else {
                        tower::Service::call(&mut svc, req).await
                    };
                    answer.map_err(|e| std::io::Error::other(e.to_string()))
                }
            });
            tokio::spawn(async move {
                if let Err(e) = jsonrpsee::server::serve_with_graceful_shutdown(io, svc, shutdown).await {
                    tracing::debug!(error = %e, "RPC connection ended");
                }
            });
        }
    });
    Ok((local, handle))
}

fn module(ctx: Ctx) -> Result<RpcModule<Ctx>, jsonrpsee::core::RegisterMethodError> {
    let mut m = RpcModule::new(ctx);

    m.register_method("chain_getHead", |_, ctx, _| -> RpcResult<Value> {
        let store = ctx.node.store();
        let head = store.head().map_err(read_failed(&ctx.node))?;
        let fin = store.finalized().map_err(read_failed(&ctx.node))?;
        Ok(json!({"height": head.height, "hash": head.hash, "finalizedHeight": fin.height, "finalizedHash": fin.hash}))
    })?;

    m.register_method("chain_getBlock", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["id"])?;
        let id = parse_block_id(args.raw(0).ok_or_else(|| invalid_params("missing param `id`"))?)?;
        let store = ctx.node.store();
        let height = match id {
            BlockId::Height(h) => Some(h),
            BlockId::Hash(h) => store.height_of(&h).map_err(read_failed(&ctx.node))?,
        };
        let Some(height) = height else { return Ok(Value::Null) };
        let Some(block) = store.block(height).map_err(read_failed(&ctx.node))? else { return Ok(Value::Null) };
        let commit = store.commit(height).map_err(read_failed(&ctx.node))?;
        Ok(types::block_to_json(&block, commit.as_ref()))
    })?;

    m.register_method("chain_getBlockReward", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["height"])?;
        let height = match args.optional::<u64>(0)? {
            Some(h) => h,
            None => ctx.node.store().head().map_err(read_failed(&ctx.node))?.height.saturating_add(1),
        };
        let reward = block_reward(ctx.node.spec(), height);
        Ok(json!({"height": height, "reward": reward.to_string(), "symbol": ctx.node.spec().token.symbol}))
    })?;

    m.register_method("chain_getEvidence", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["fromHeight"])?;
        let from = args.optional::<u64>(0)?.unwrap_or(0);
        let records = ctx.node.store().evidence(from, MAX_EVIDENCE).map_err(read_failed(&ctx.node))?;
        Ok(Value::Array(records.iter().map(|(e, at)| types::evidence_to_json(e, *at)).collect()))
    })?;

    m.register_async_method("tx_send", |p, ctx, _| async move {
        let args = Args::parse(&p, &["tx"])?;
        let tx = parse_tx_param(args.raw(0).ok_or_else(|| invalid_params("missing param `tx`"))?, ctx.node.spec())?;
        let tx = crate::primitives::SealedTx::seal(tx);
        economy::check_job_blobs(&ctx, &tx)?;
        let hash = ctx.node.submit(tx).await.map_err(submit)?;
        RpcResult::Ok(json!({"txHash": hash}))
    })?;

    m.register_async_method("receipt_submit", |p, ctx, _| async move {
        let args = Args::parse(&p, &["tx"])?;
        let tx = parse_tx_param(args.raw(0).ok_or_else(|| invalid_params("missing param `tx`"))?, ctx.node.spec())?;
        let crate::primitives::Payload::ReceiptClaim(claim) = &tx.tx.payload else {
            return Err(invalid_params(format!(
                "receipt_submit takes a RECEIPT_CLAIM, not a {}",
                tx.tx.payload.kind()
            )));
        };
        let receipt_id = claim.receipt.receipt_id;
        let hash = ctx.node.submit(tx).await.map_err(submit)?;
        RpcResult::Ok(json!({"txHash": hash, "receiptId": receipt_id}))
    })?;

    m.register_async_method("account_nextNonce", |p, ctx, _| async move {
        let args = Args::parse(&p, &["address"])?;
        let address = parse_address(&args.required::<String>(0)?, &ctx.node)?;
        let nonce = ctx.node.next_nonce(address).await.map_err(submit)?;
        RpcResult::Ok(json!({"address": address.to_bech32(ctx.node.spec().hrp()), "nonce": nonce}))
    })?;

    economy::register(&mut m)?;
    consensus::register(&mut m)?;

    m.register_async_method("tx_get", |p, ctx, _| async move {
        let args = Args::parse(&p, &["hash"])?;
        let hash: crate::primitives::Hash = args.required(0)?;
        // Mempool first: a block is stored before the mempool drops its txs, so a tx that is
        // no longer pending is already in the store (asking in the other order races).
        if ctx.node.is_pending(hash) {
            return RpcResult::Ok(json!({"status": "pending", "blockHeight": null, "blockHash": null, "error": null}));
        }
        let store = ctx.node.store();
        match store.tx_record(&hash).map_err(read_failed(&ctx.node))? {
            Some(rec) => {
                let status = if rec.error.is_some() { "failed" } else { "included" };
                // The tx itself, in the JSON form tx_send takes.
                let block = store.block(rec.height).map_err(read_failed(&ctx.node))?;
                let tx = block
                    .as_ref()
                    .and_then(|b| b.txs.get(rec.index as usize))
                    .map(|t| types::tx_to_json(t, ctx.node.spec().hrp()));
                Ok(json!({
                    "status": status, "blockHeight": rec.height, "blockHash": rec.block_hash, "index": rec.index, "error": rec.error.map(|e| e.to_string()),
                    "tx": tx,
                }))
            }
            None => Ok(json!({"status": "unknown", "blockHeight": null, "blockHash": null, "error": null})),
        }
    })?;

    m.register_method("account_get", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["address"])?;
        let addr = parse_address(&args.required::<String>(0)?, &ctx.node)?;
        let acc = ctx.node.store().account(&addr).map_err(internal)?.unwrap_or_default();
        let mut v = serde_json::to_value(acc).map_err(internal)?;
        v["address"] = json!(addr.to_bech32(ctx.node.spec().hrp()));
        Ok(v)
    })?;

    m.register_method("fee_estimate", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["tx"])?;
        let spec = ctx.node.spec();
        let raw = args.raw(0).ok_or_else(|| invalid_params("missing param `tx`"))?;
        let tx = match raw {
            Value::Object(_) => {
                let j: JsonTx = types::from_json(raw).map_err(|e| err(TX_DECODE, format!("tx JSON: {e}")))?;
                j.to_tx(spec, false)?
            }
            other => parse_tx_param(other, spec)?.tx,
        };
        if let crate::primitives::Payload::Batch(ts) = &tx.payload {
            let limit = spec.limits.max_batch_transfers;
            if ts.is_empty() || ts.len() > limit as usize {
                return Err(err(BATCH_SIZE, format!("batch has {} transfers; it must have 1 to {limit}", ts.len())));
            }
        }
        let b = fees::required_fee(spec, &tx).ok_or_else(|| invalid_params("fee overflows: payload too large"))?;
        Ok(json!({"fee": b.total.to_string(), "breakdown": b}))
    })?;

    m.register_method("state_getProof", |p, ctx, _| -> RpcResult<Value> {
        let args = Args::parse(&p, &["address", "height"])?;
        let addr = parse_address(&args.required::<String>(0)?, &ctx.node)?;
        let store = ctx.node.store();
        let head = store.head().map_err(read_failed(&ctx.node))?.height;
        let height = args.optional::<u64>(1)?.unwrap_or(head);
        if height > head {
            return Err(err(UNKNOWN_HEIGHT, format!("height {height} is above the head {head}")));
        }
        let root = store.state_root(height).map_err(read_failed(&ctx.node))?;
        let (account, proof) = store.prove_account(&addr, height).map_err(read_failed(&ctx.node))?;
        let proof_bytes = borsh::to_vec(&proof).map_err(internal)?;
        Ok(json!({
            "address": addr.to_bech32(ctx.node.spec().hrp()),
            "account": account,
            "stateRoot": root,
            "height": height,
            "keyHash": format!("0x{}", hex::encode(crate::ledger::tree::account_key(&addr).0)),
            "proof": format!("0x{}", hex::encode(proof_bytes)),
            "proofEncoding": "borsh(jmt::SparseMerkleProof<blake3>)",
        }))
    })?;

    m.register_async_method("system_health", |_, ctx, _| async move {
        serde_json::to_value(ctx.node.health().await).map_err(internal)
    })?;

    m.register_async_method("system_peers", |_, ctx, _| async move {
        let Some(net) = ctx.node.network() else { return RpcResult::Ok(json!([])) };
        let peers = net.peers().await.map_err(internal)?;
        serde_json::to_value(peers).map_err(internal)
    })?;

    m.register_async_method("system_networkState", |_, ctx, _| async move {
        let Some(net) = ctx.node.network() else { return RpcResult::Ok(Value::Null) };
        let listen = net.listen_addrs().await.map_err(internal)?;
        let counters = net.counters().await.map_err(internal)?;
        let mut gossip = serde_json::to_value(counters.total()).map_err(internal)?;
        let by_topic: serde_json::Map<String, Value> = counters
            .by_topic()
            .map(|(topic, c)| serde_json::to_value(c).map(|v| (topic.to_string(), v)))
            .collect::<Result<_, _>>()
            .map_err(internal)?;
        gossip["byTopic"] = Value::Object(by_topic);
        Ok(json!({"peerId": net.local_peer_id(), "listenAddresses": listen, "gossip": gossip}))
    })?;

    m.register_async_method("admin_addPeer", |p, ctx, ext| async move {
        ctx.check_unsafe("admin_addPeer", &ext)?;
        let args = Args::parse(&p, &["address"])?;
        let addr: String = args.required(0)?;
        let net = ctx.node.network().ok_or_else(|| err(NETWORK, "this node runs without networking"))?;
        net.dial(&addr).await.map_err(|e| match e {
            crate::network::NetworkError::Multiaddr { .. } => invalid_params(format!("param `address`: {e}")),
            other => err(NETWORK, other.to_string()),
        })?;
        RpcResult::Ok(json!({"connected": addr}))
    })?;

    m.register_method("system_version", |_, _, _| -> RpcResult<Value> {
        Ok(json!({"name": "ergon", "version": env!("CARGO_PKG_VERSION")}))
    })?;

    m.register_method("system_chainSpec", |_, ctx, _| -> RpcResult<Value> {
        let genesis = ctx.node.store().genesis_hash().map_err(read_failed(&ctx.node))?;
        Ok(json!({"genesisHash": genesis, "chainSpec": ctx.node.spec().as_ref()}))
    })?;

    m.register_async_method("admin_mintFaucet", |p, ctx, ext| async move {
        ctx.check_unsafe("admin_mintFaucet", &ext)?;
        let args = Args::parse(&p, &["address", "amount"])?;
        let addr = parse_address(&args.required::<String>(0)?, &ctx.node)?;
        let amount: u128 = match args.raw(1) {
            Some(v) => crate::primitives::serde_amount::deserialize(v.clone())
                .map_err(|e| invalid_params(format!("param `amount`: {e}")))?,
            None => return Err(invalid_params("missing param `amount`")),
        };
        let hash = ctx.node.faucet(addr, amount).await.map_err(|e| match e {
            crate::node::SubmitError::Faucet(m) => err(FAUCET, m),
            other => submit(other),
        })?;
        RpcResult::Ok(
            json!({"txHash": hash, "address": addr.to_bech32(ctx.node.spec().hrp()), "amount": amount.to_string()}),
        )
    })?;

    for (sub, notif, unsub, finalized) in [
        ("chain_subscribeNewHeads", "chain_newHead", "chain_unsubscribeNewHeads", false),
        ("chain_subscribeFinalizedHeads", "chain_finalizedHead", "chain_unsubscribeFinalizedHeads", true),
    ] {
        m.register_subscription(sub, notif, unsub, move |_, pending, ctx, _| async move {
            heads(pending, ctx.node.clone(), finalized).await
        })?;
    }

    for (alias, method) in [
        ("getHead", "chain_getHead"),
        ("getBlock", "chain_getBlock"),
        ("getBlockReward", "chain_getBlockReward"),
        ("sendTx", "tx_send"),
        ("getTx", "tx_get"),
        ("getBalance", "account_get"),
        ("estimateFee", "fee_estimate"),
        ("submitReceipt", "receipt_submit"),
        ("mintFaucet", "admin_mintFaucet"),
    ] {
        m.register_alias(alias, method)?;
    }
    // Every method this server answers, itself included.
    let mut names: Vec<String> = m.method_names().map(str::to_string).collect();
    names.push("rpc_methods".into());
    names.sort();
    m.register_method("rpc_methods", move |_, _, _| -> RpcResult<Value> { Ok(json!({"methods": names})) })?;
    Ok(m)
}

impl Ctx {
    /// Unsafe methods answer when the node allows them, and never a page from another
    /// machine, whatever `--rpc-cors` admits.
    pub(super) fn check_unsafe(&self, method: &str, ext: &jsonrpsee::Extensions) -> RpcResult<()> {
        if !self.allow_unsafe {
            return Err(err(
                UNSAFE_METHOD,
                format!(
                    "{method} is an unsafe method; start the node with --rpc-methods unsafe (or bind RPC to localhost)"
                ),
            ));
        }
        if ext.get::<http::ForeignOrigin>().is_some() {
            return Err(err(
                UNSAFE_METHOD,
                format!("{method} is an unsafe method; it never answers a web page from another origin"),
            ));
        }
        Ok(())
    }
}

fn parse_address(s: &str, node: &NodeHandle) -> RpcResult<Address> {
    node.spec().parse_address(s).map_err(|e| invalid_params(format!("param `address`: {e}")))
}

async fn heads(
    pending: PendingSubscriptionSink,
    node: NodeHandle,
    finalized: bool,
) -> jsonrpsee::core::SubscriptionResult {
    let mut events = node.subscribe();
    let sink = pending.accept().await?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            ev = events.recv() => match ev {
                Ok(ChainEvent::NewHead(h)) if !finalized => send_head(&sink, &h).await?,
                Ok(ChainEvent::Finalized(h)) if finalized => send_head(&sink, &h).await?,
                Ok(_) => {}
                // A slow subscriber skips heads rather than holding the node back.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

async fn send_head(
    sink: &jsonrpsee::SubscriptionSink,
    h: &crate::node::ChainEventHead,
) -> jsonrpsee::core::SubscriptionResult {
    let raw = serde_json::value::to_raw_value(&HeadJson::from(h))?;
    sink.send(raw).await?;
    Ok(())
}
