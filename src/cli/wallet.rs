//! Commands that talk to a node over JSON-RPC: balances, block rewards, and transactions
//! signed locally before they are sent.

use super::keystore::{self, Keystore};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use ergon::chainspec::ChainSpec;
use ergon::primitives::{serde_amount, Keypair, Payload, Priority, Transfer, Tx};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args, Clone)]
pub struct RpcArgs {
    /// The node's JSON-RPC endpoint.
    #[arg(long, env = "ERGON_RPC", default_value = "http://127.0.0.1:8080")]
    pub rpc: String,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Clone)]
pub struct TxOpts {
    #[command(flatten)]
    pub rpc: RpcArgs,
    /// Fee: base units (5000) or tokens (0.000005AIT) [default: the chain's fee schedule].
    #[arg(long)]
    fee: Option<String>,
    /// Fee priority: low, normal, high or urgent (a higher one pays more and goes first).
    #[arg(long, default_value = "normal")]
    priority: Priority,
    /// Nonce [default: the account's nonce + 1].
    #[arg(long)]
    nonce: Option<u64>,
    /// Where the keystore is [default: ~/.ergon].
    #[arg(long)]
    pub base_path: Option<PathBuf>,
    /// Wait until the tx is in a block and print its outcome.
    #[arg(long)]
    pub wait: bool,
    /// Print the signed tx (JSON and protobuf hex) instead of sending it.
    #[arg(long)]
    dry_run: bool,
    /// Sign without asking any node: the chain from --chain, the nonce from --nonce, the fee
    /// from --fee or the chain's schedule; prints the signed tx as --dry-run does (send it
    /// later with tx_send, JSON or protobuf hex).
    #[arg(long, requires_all = ["chain", "nonce"])]
    offline: bool,
    /// With --offline: the chain to sign for, dev, local or a chain spec file.
    #[arg(long, requires = "offline")]
    chain: Option<String>,
}

impl TxOpts {
    /// The chain the tx is for: the node's (`system_chainSpec`), or with `--offline` the
    /// spec named by `--chain`, read here.
    pub(super) async fn spec(&self, c: &HttpClient) -> Result<ChainSpec> {
        match (&self.chain, self.offline) {
            (Some(chain), true) => ChainSpec::load(chain).with_context(|| format!("--chain {chain}")),
            _ => chain_spec(c, &self.rpc.rpc).await,
        }
    }
}

#[derive(Subcommand)]
pub enum TxCommand {
    /// Move AIT to one account.
    Transfer {
        /// A dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        /// The recipient: an address, or a dev key name on dev chains.
        #[arg(long)]
        to: String,
        /// Base units (1500) or tokens (1.5AIT, 1.5 AIT).
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        opts: TxOpts,
    },
    /// Move AIT to several accounts in one tx (cheaper per transfer).
    Batch {
        /// A dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        /// ADDRESS=AMOUNT, repeatable.
        #[arg(long = "to", required = true)]
        to: Vec<String>,
        #[command(flatten)]
        opts: TxOpts,
    },
}

pub struct TransferArgs {
    pub from: String,
    pub to: Vec<String>,
    pub opts: TxOpts,
}

pub fn block_on<F: std::future::Future<Output = Result<()>>>(f: F) -> Result<()> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(f)
}

pub(super) fn client(url: &str) -> Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(url)
        .with_context(|| format!("invalid RPC URL {url:?}"))
}

pub(super) async fn call(
    c: &HttpClient,
    url: &str,
    method: &str,
    params: jsonrpsee::core::params::ArrayParams,
) -> Result<Value> {
    c.request::<Value, _>(method, params).await.map_err(|e| match e {
        jsonrpsee::core::ClientError::Call(obj) => anyhow!("{} (code {})", obj.message(), obj.code()),
        other => anyhow!("cannot reach the node at {url}: {other}"),
    })
}

/// Adds `extra`'s fields to `v`.
fn merge(v: &mut Value, extra: &Value) {
    if let (Some(out), Some(add)) = (v.as_object_mut(), extra.as_object()) {
        out.extend(add.iter().map(|(k, x)| (k.clone(), x.clone())));
    }
}

pub(super) fn print(json: bool, v: &Value, human: impl FnOnce(&Value) -> String) {
    if json {
        println!("{v}");
    } else {
        println!("{}", human(v));
    }
}

/// An amount for people: tokens with the base units beside (`1.5 AIT (1500000000)`). `v` is
/// the RPC's decimal string of base units, optionally signed (`+1500`, history deltas); anything
/// else is shown as it came.
pub(super) fn show_amount(spec: &ChainSpec, v: &Value) -> String {
    let Some(s) = v.as_str() else { return v.to_string() };
    let (sign, digits) = match s.strip_prefix(['+', '-']) {
        Some(rest) => (&s[..1], rest),
        None => ("", s),
    };
    match serde_amount::parse(digits) {
        Ok(n) => format!("{sign}{} ({s})", serde_amount::format_tokens(n, &spec.token.symbol, spec.token.decimals)),
        Err(_) => s.to_string(),
    }
}

pub async fn getbalance(address: String, rpc: RpcArgs) -> Result<()> {
    let c = client(&rpc.rpc)?;
    // A dev key name (alice, bob, ...) stands for its address on chains that accept them.
    let spec = chain_spec(&c, &rpc.rpc).await?;
    let address = match spec.dev_key(&address) {
        Some(k) => ergon::primitives::Address::from_public_key(&k.public()).to_bech32(spec.hrp()),
        None => address,
    };
    let v = call(&c, &rpc.rpc, "account_get", rpc_params![address]).await?;
    // --json keeps the node's base-unit strings, for scripts.
    print(rpc.json, &v, |v| {
        format!(
            "Address:   {}\nBalance:   {}\nNonce:     {}\nReserved:  {}\nPending:   {}\nStaked:    {}\nUnbonding: {}",
            v["address"].as_str().unwrap_or("?"),
            show_amount(&spec, &v["balance"]),
            v["nonce"],
            show_amount(&spec, &v["reserved"]),
            show_amount(&spec, &v["pending"]),
            show_amount(&spec, &v["staked"]),
            show_amount(&spec, &v["unbonding"]),
        )
    });
    Ok(())
}

pub async fn getblockreward(height: Option<u64>, rpc: RpcArgs) -> Result<()> {
    let c = client(&rpc.rpc)?;
    let spec = chain_spec(&c, &rpc.rpc).await?;
    let params = match height {
        Some(h) => rpc_params![h],
        None => rpc_params![],
    };
    let v = call(&c, &rpc.rpc, "chain_getBlockReward", params).await?;
    print(rpc.json, &v, |v| format!("Block reward at height {}: {}", v["height"], show_amount(&spec, &v["reward"])));
    Ok(())
}

pub async fn tx(cmd: TxCommand) -> Result<()> {
    match cmd {
        TxCommand::Transfer { from, to, amount, opts } => {
            transfer(TransferArgs { from, to: vec![format!("{to}={amount}")], opts }).await
        }
        TxCommand::Batch { from, to, opts } => {
            if to.len() < 2 {
                bail!("a batch needs at least two --to ADDRESS=AMOUNT entries; use `ergon tx transfer` for one");
            }
            transfer(TransferArgs { from, to, opts }).await
        }
    }
}

pub(super) async fn chain_spec(c: &HttpClient, url: &str) -> Result<ChainSpec> {
    let v = call(c, url, "system_chainSpec", rpc_params![]).await?;
    serde_json::from_value(v["chainSpec"].clone()).context("the node returned a chain spec this CLI cannot read")
}

/// An address, or a dev key name on chains that accept them.
pub(super) fn address(spec: &ChainSpec, s: &str) -> Result<ergon::primitives::Address> {
    if let Some(k) = spec.dev_key(s) {
        return Ok(ergon::primitives::Address::from_public_key(&k.public()));
    }
    spec.parse_address(s).map_err(|e| anyhow!("{s:?} is neither an address nor a dev key name: {e}"))
}

/// A dev key name (if the node's chain accepts them), a keystore address, or a key file.
pub(super) fn resolve_key(spec: &ChainSpec, from: &str, base: &std::path::Path) -> Result<Keypair> {
    if let Some(k) = spec.dev_key(from) {
        return Ok(k);
    }
    let ks = Keystore::new(base);
    if ks.contains(from) {
        return ks.load(from, &keystore::password(false)?);
    }
    super::node::load_key(spec, from)
        .with_context(|| format!("{from:?} is not in the keystore at {}", ks.dir().display()))
}

pub async fn transfer(args: TransferArgs) -> Result<()> {
    let TransferArgs { from, to, opts } = args;
    let c = client(&opts.rpc.rpc)?;
    let spec = opts.spec(&c).await?;
    let key = resolve_key(&spec, &from, &opts.base_path.clone().unwrap_or_else(super::default_base_path))?;
    let mut transfers = Vec::with_capacity(to.len());
    for entry in &to {
        let (addr, amount) = entry.split_once('=').ok_or_else(|| anyhow!("{entry:?}: expected ADDRESS=AMOUNT"))?;
        let to = address(&spec, addr)?;
        let amount =
            serde_amount::parse_tokens(amount, &spec.token.symbol, spec.token.decimals).map_err(|e| anyhow!(e))?;
        transfers.push(Transfer { to, amount });
    }
    let payload = match transfers.len() {
        1 => Payload::Transfer(transfers.remove(0)),
        _ => Payload::Batch(transfers),
    };
    send(&opts, &c, &spec, &key, payload, serde_json::json!({})).await
}

/// Signs `payload` from `key` with the options' nonce, fee and priority, then prints it
/// (`--dry-run`) or submits it, waiting for its block with `--wait`. `extra` fields (a job id,
/// a receipt id) are added to the JSON printed.
pub(super) async fn send(
    opts: &TxOpts,
    c: &HttpClient,
    spec: &ChainSpec,
    key: &Keypair,
    payload: Payload,
    mut extra: Value,
) -> Result<()> {
    let url = opts.rpc.rpc.clone();
    let sender = ergon::primitives::Address::from_public_key(&key.public()).to_bech32(spec.hrp());
    let nonce = match opts.nonce {
        Some(n) => n,
        // After the account's committed nonce and its txs already pending, so that sends
        // back to back each get their own.
        None => {
            let v = call(c, &url, "account_nextNonce", rpc_params![sender.clone()]).await?;
            v["nonce"].as_u64().ok_or_else(|| anyhow!("node returned no nonce for {sender}"))?
        }
    };
    let mut tx =
        Tx { chain_id: spec.chain_id.clone(), sender: key.public(), nonce, fee: 0, priority: opts.priority, payload };
    tx.fee = match &opts.fee {
        Some(f) => {
            serde_amount::parse_tokens(f, &spec.token.symbol, spec.token.decimals).map_err(|e| anyhow!("--fee: {e}"))?
        }
        None => ergon::ledger::required_fee(spec, &tx).ok_or_else(|| anyhow!("fee overflow"))?.total,
    };
    let signed = tx.sign(key);
    let json = ergon::rpc::types::tx_to_json(&signed, spec.hrp());
    if matches!(signed.tx.payload, Payload::JobPost(_)) {
        // A job's id is the hash of the tx that posts it.
        merge(&mut extra, &serde_json::json!({"jobId": signed.hash()}));
    }
    if opts.dry_run || opts.offline {
        let hex_tx = hex::encode(ergon::wire::encode_signed_tx(&signed));
        let mut out = serde_json::json!({"tx": json, "protobufHex": hex_tx, "txHash": signed.hash()});
        merge(&mut out, &extra);
        println!("{out}");
        return Ok(());
    }
    let mut v = call(c, &url, "tx_send", rpc_params![json]).await?;
    let hash = v["txHash"].as_str().unwrap_or_default().to_string();
    merge(&mut v, &extra);
    if !opts.wait {
        print(opts.rpc.json, &v, |_| {
            let fee = serde_amount::format_tokens(signed.tx.fee, &spec.token.symbol, spec.token.decimals);
            let mut line = format!("Submitted {hash} (nonce {nonce}, fee {fee} = {} base units)", signed.tx.fee);
            for (k, val) in extra.as_object().into_iter().flatten() {
                line.push_str(&format!("\n{k}: {}", val.as_str().map_or_else(|| val.to_string(), str::to_string)));
            }
            line
        });
        return Ok(());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut st = call(c, &url, "tx_get", rpc_params![hash.clone()]).await?;
        match st["status"].as_str() {
            Some("included") | Some("failed") => {
                st["txHash"] = Value::String(hash.clone());
                merge(&mut st, &extra);
                print(opts.rpc.json, &st, |st| {
                    format!(
                        "{hash} {} in block {}{}",
                        st["status"].as_str().unwrap_or("?"),
                        st["blockHeight"],
                        st["error"].as_str().map(|e| format!(": {e}")).unwrap_or_default()
                    )
                });
                return Ok(());
            }
            _ if std::time::Instant::now() > deadline => bail!("{hash} was not included within 60 s"),
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
