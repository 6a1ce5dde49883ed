//! `ergon db check` and `ergon sign-state export|import`: looking at a node's chain database
//! and moving its double-sign guard, with the node stopped (import refuses to run beside it).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use ergon::chainspec::ChainSpec;
use ergon::storage::sign_guard::{self, Merged, SignGuard};
use std::path::{Path, PathBuf};

/// Which chain, under which base path.
#[derive(Args)]
pub struct ChainArgs {
    /// dev, local, or a path to a chain spec JSON file (as given to `ergon node`).
    #[arg(long, default_value = "dev")]
    chain: String,
    /// The node's base path [default: ~/.ergon].
    #[arg(long, env = "DB_PATH")]
    base_path: Option<PathBuf>,
    /// Print the result as one JSON object (`sign-state export` without --output prints the
    /// interchange JSON either way).
    #[arg(long)]
    json: bool,
}

impl ChainArgs {
    fn spec(&self) -> Result<ChainSpec> {
        super::node::load_spec(&self.chain)
    }

    fn chain_dir(&self, spec: &ChainSpec) -> PathBuf {
        super::chain_dir(&self.base_path.clone().unwrap_or_else(super::default_base_path), spec)
    }
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Check the chain database without changing it (safe beside a running node): that RocksDB
    /// opens it, that it is not below the block it had finalized (a lost or truncated
    /// write-ahead log), that every block links to its parent, and the double-sign guard.
    /// Exits with status 1 and says what is wrong if it is damaged.
    Check(ChainArgs),
}

#[derive(Subcommand)]
pub enum SignStateCommand {
    /// Print the double-sign guard (<base-path>/chains/<chain id>/sign-state.json) as
    /// interchange JSON: the last position each validator key signed at, and its lock.
    Export {
        #[command(flatten)]
        chain: ChainArgs,
        /// Write to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Merge an interchange file into this chain's double-sign guard (created if missing), to
    /// move a validator to this machine. Refuses a file for another genesis; keeps, for each
    /// key, the higher of the two positions. Stop the node first.
    Import {
        /// The file `ergon sign-state export` wrote, or `-` for stdin.
        file: PathBuf,
        #[command(flatten)]
        chain: ChainArgs,
    },
}

pub fn db(cmd: DbCommand) -> Result<()> {
    match cmd {
        DbCommand::Check(args) => check(&args),
    }
}

fn position(r: &sign_guard::Record) -> String {
    let p = &r.last_signed;
    let step = serde_json::to_value(p.step).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    format!("height {} round {} {step}{}", p.height, p.round, if r.lock.is_some() { ", locked" } else { "" })
}

fn check(args: &ChainArgs) -> Result<()> {
    let spec = args.spec()?;
    let dir = args.chain_dir(&spec);
    let db = dir.join("db");
    let report = ergon::storage::check::check(&db, &spec)?;
    let guard = SignGuard::path_in(&dir);
    let block = |b: &ergon::storage::BlockRef| serde_json::json!({"height": b.height, "hash": b.hash.to_hex()});
    let mut v = serde_json::json!({
        "database": report.path,
        "schema": report.schema,
        "genesis": report.genesis.to_hex(),
        "head": block(&report.head),
        "finalized": block(&report.finalized),
        "watermark": report.watermark.as_ref().map(block),
        "blocksChecked": report.blocks_checked,
        "signState": {"file": guard, "present": false, "keys": []},
    });
    let mut lines = vec![
        format!("database   {}", report.path.display()),
        format!("schema     {}", report.schema),
        format!("genesis    {}", report.genesis),
        format!("head       {} {}", report.head.height, report.head.hash),
        format!("finalized  {} {}", report.finalized.height, report.finalized.hash),
        match &report.watermark {
            Some(w) => format!("watermark  {} {} (the database is not below it)", w.height, w.hash),
            None => "watermark  none (a database from before watermarks; one is written at the next start)".into(),
        },
        format!("chain      {} blocks link from genesis to the head", report.blocks_checked),
    ];
    match sign_guard::read(&guard)? {
        Some(file) if file.metadata.genesis_hash != report.genesis => bail!(
            "the double-sign guard {} is for genesis {}, not this chain's {}",
            guard.display(),
            file.metadata.genesis_hash,
            report.genesis
        ),
        Some(file) => {
            v["signState"]["present"] = serde_json::Value::Bool(true);
            v["signState"]["keys"] = serde_json::json!(file
                .data
                .iter()
                .map(|r| serde_json::json!({"pubkey": r.pubkey.to_hex(), "lastSigned": position(r)}))
                .collect::<Vec<_>>());
            if file.data.is_empty() {
                lines.push(format!("sign state {}: no key has signed", guard.display()));
            } else {
                lines.push(format!("sign state {}:", guard.display()));
                for r in &file.data {
                    lines.push(format!("           {} last signed at {}", r.pubkey, position(r)));
                }
            }
        }
        None => lines.push(format!(
            "sign state {}: missing; a validator started here is refused until it is restored or imported \
             (`ergon sign-state import`), or started with --unsafe-reset-sign-state",
            guard.display()
        )),
    }
    lines.push("result     ok".into());
    v["result"] = serde_json::Value::String("ok".into());
    if args.json {
        println!("{v}");
    } else {
        println!("{}", lines.join("\n"));
    }
    Ok(())
}

pub fn sign_state(cmd: SignStateCommand) -> Result<()> {
    match cmd {
        SignStateCommand::Export { chain, output } => {
            let spec = chain.spec()?;
            let path = SignGuard::path_in(&chain.chain_dir(&spec));
            let file =
                sign_guard::read(&path)?.with_context(|| format!("no double-sign guard at {}", path.display()))?;
            let genesis = ergon::storage::genesis_hash(&spec)?;
            if file.metadata.genesis_hash != genesis {
                bail!(
                    "{} is for genesis {}, not chain {}'s {genesis}: is --chain right?",
                    path.display(),
                    file.metadata.genesis_hash,
                    spec.chain_id
                );
            }
            let text = serde_json::to_string_pretty(&file)? + "\n";
            match output {
                Some(out) => {
                    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
                    if chain.json {
                        println!("{}", serde_json::json!({"file": out, "keys": file.data.len()}));
                    }
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        SignStateCommand::Import { file, chain } => {
            let spec = chain.spec()?;
            let path = SignGuard::path_in(&chain.chain_dir(&spec));
            let text = read_input(&file)?;
            let incoming = sign_guard::parse(&file, &text)?;
            let genesis = ergon::storage::genesis_hash(&spec)?;
            let merged = SignGuard::import(&path, genesis, incoming.clone())?;
            let mut keys = Vec::with_capacity(merged.len());
            for ((key, what), record) in merged.iter().zip(&incoming.data) {
                let (word, text) = match what {
                    Merged::Added => ("added", "added"),
                    Merged::Raised => ("raised", "raised"),
                    Merged::Kept => ("kept", "kept (the guard here was at least as high)"),
                };
                if !chain.json {
                    println!("{key}: {text}; imported {}", position(record));
                }
                keys.push(serde_json::json!({"pubkey": key.to_hex(), "result": word, "imported": position(record)}));
            }
            if chain.json {
                println!("{}", serde_json::json!({"file": path, "keys": keys}));
            } else {
                println!("imported into {}", path.display());
            }
            Ok(())
        }
    }
}

fn read_input(file: &Path) -> Result<String> {
    if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))
}
