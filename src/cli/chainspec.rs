//! `ergon chainspec [--chain NAME]` prints a spec; `ergon chainspec build` makes a testnet spec
//! with fresh keys (see `ergon::chainspec::build`).

use anyhow::Result;
use clap::{Args, Subcommand};
use ergon::chainspec::build::{self, BuildOptions};
use ergon::chainspec::ChainSpec;
use std::path::PathBuf;

/// Without a subcommand, prints `--chain` as JSON (the original behaviour); `--chain` and
/// `build` do not mix.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ChainspecArgs {
    /// dev, local, or a path to a chain spec JSON file.
    #[arg(long, default_value = "dev")]
    chain: String,
    #[command(subcommand)]
    command: Option<ChainspecCommand>,
}

#[derive(Subcommand)]
enum ChainspecCommand {
    /// Build a testnet spec with fresh validator and account keys: writes OUT/chainspec.json
    /// and OUT/keys/validator-N.key, OUT/keys/account-N.key (hex secrets, mode 0600).
    Build(BuildArgs),
}

#[derive(Args)]
struct BuildArgs {
    /// Validators to generate (1 to the base spec's consensus.max_validators).
    #[arg(long)]
    validators: u32,
    /// Funded accounts to generate besides the validators' own accounts.
    #[arg(long, default_value_t = 0)]
    accounts: u32,
    /// Genesis balance of each validator and account: base units (1500) or tokens (1000AIT)
    /// [default: the base spec's first account balance].
    #[arg(long)]
    balance: Option<String>,
    /// Each validator's stake, at least the chain's min_stake [default: the base spec's].
    #[arg(long)]
    stake: Option<String>,
    /// Chain id; also names the node's database directory.
    #[arg(long, default_value = "ergon-testnet")]
    chain_id: String,
    /// Display name.
    #[arg(long, default_value = "Ergon Testnet")]
    name: String,
    /// Base spec whose token, consensus, economy and limits are kept: dev, local or a path.
    #[arg(long, default_value = "local")]
    from: String,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Replace an existing OUT/chainspec.json and its key files.
    #[arg(long)]
    force: bool,
    /// Print `{"spec", "chainId", "genesisHash", "validators": [{"name", "address", "key"}],
    /// "accounts": [{"address", "key"}]}` instead of the instructions.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ChainspecArgs) -> Result<()> {
    match args.command {
        None => {
            let spec = ChainSpec::load(&args.chain)?;
            super::print_out(format!("{}\n", serde_json::to_string_pretty(&spec)?).as_bytes())?;
            Ok(())
        }
        Some(ChainspecCommand::Build(b)) => run_build(b),
    }
}

fn run_build(args: BuildArgs) -> Result<()> {
    let base = ChainSpec::load(&args.from).map_err(build::BuildError::Base)?;
    let amount = |flag: &str, v: &Option<String>| v.as_deref().map(|s| build::parse_amount(flag, s, &base)).transpose();
    let opts = BuildOptions {
        validators: args.validators,
        accounts: args.accounts,
        balance: amount("--balance", &args.balance)?,
        stake: amount("--stake", &args.stake)?,
        chain_id: Some(args.chain_id),
        name: Some(args.name),
    };
    let built = build::build(&base, &opts, &mut rand::rngs::OsRng)?;
    let genesis = ergon::storage::genesis_hash(&built.spec)?;
    let written = build::write(&args.out, &built, args.force)?;
    let spec = &built.spec;
    if args.json {
        let validators: Vec<_> = spec
            .validators
            .iter()
            .zip(&written.validator_keys)
            .map(|(v, key)| serde_json::json!({"name": v.name, "address": v.address, "key": key}))
            .collect();
        let accounts: Vec<_> = spec.accounts[spec.validators.len()..]
            .iter()
            .zip(&written.account_keys)
            .map(|(a, key)| serde_json::json!({"address": a.address, "key": key}))
            .collect();
        let v = serde_json::json!({
            "spec": written.spec,
            "chainId": spec.chain_id,
            "genesisHash": genesis.to_hex(),
            "validators": validators,
            "accounts": accounts,
        });
        return super::print_out(format!("{v}\n").as_bytes());
    }
    println!("Chain spec:   {}", written.spec.display());
    println!("Chain id:     {}", spec.chain_id);
    println!("Genesis hash: {}", genesis.to_hex());
    println!("Validators:");
    for (v, key) in spec.validators.iter().zip(&written.validator_keys) {
        println!("  {}  {}  key {}", v.name, v.address, key.display());
    }
    if !written.account_keys.is_empty() {
        println!("Accounts:");
        for (a, key) in spec.accounts[spec.validators.len()..].iter().zip(&written.account_keys) {
            println!("  {}  key {}", a.address, key.display());
        }
    }
    println!();
    println!("Start each validator on its own machine (or with its own --base-path and ports). Replace");
    println!("<BOOTNODE> with validator 1's address from its \"P2P listening on\" line (/ip4/.../p2p/12D3KooW...),");
    println!("or put that address in the spec's network.bootnodes (the genesis hash ignores it).");
    for (i, key) in written.validator_keys.iter().enumerate() {
        let boot = if i == 0 { String::new() } else { " --bootnodes <BOOTNODE>".to_string() };
        println!("  ergon node --chain {} --validator-key {}{boot}", written.spec.display(), key.display());
    }
    Ok(())
}
