//! `ergon` subcommands (DESIGN.md §9). The only code in the project that uses `anyhow`.

mod bench;
mod bench_receipts;
mod bench_sync;
mod ceiling;
mod chainspec;
mod devnet;
mod economy;
mod keys;
mod keystore;
mod node;
mod storage;
mod trial;
mod wallet;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "ergon", version, about = "A node for a chain whose currency is minted only for verified compute")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node.
    Node(node::NodeArgs),
    /// Print a chain spec as JSON (`--chain`), or build a testnet spec with fresh keys
    /// (`build`).
    Chainspec(chainspec::ChainspecArgs),
    /// Generate and inspect keys.
    #[command(subcommand)]
    Key(keys::KeyCommand),
    /// Create a new key in the encrypted keystore (alias of `key generate`).
    Createwallet(keys::GenerateArgs),
    /// Show an account's balance and nonce.
    Getbalance {
        address: String,
        #[command(flatten)]
        rpc: wallet::RpcArgs,
    },
    /// Send AIT: FROM is a dev key name, a keystore address or a key file.
    Send {
        from: String,
        to: String,
        /// Amount in base units.
        amount: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Show the block reward at a height (default: the next block).
    Getblockreward {
        height: Option<u64>,
        #[command(flatten)]
        rpc: wallet::RpcArgs,
    },
    /// Build, sign locally and submit a transaction.
    #[command(subcommand)]
    Tx(wallet::TxCommand),
    /// Compute jobs: post, cancel, show, list.
    #[command(subcommand)]
    Job(economy::JobCommand),
    /// Compute receipts: sign (miner), attest (coordinator), submit, show.
    #[command(subcommand)]
    Receipt(economy::ReceiptCommand),
    /// Bond AIT from the available balance (AMOUNT in base units).
    Stake {
        amount: String,
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Start unbonding staked AIT; it returns to the balance after the unbonding period.
    Unstake {
        amount: String,
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Take a validator jailed for downtime out of jail once its term is over; it is selected
    /// again from the next epoch boundary.
    Unjail {
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Bond AIT to a validator candidate (VALIDATOR: an address or dev name).
    Delegate {
        validator: String,
        amount: String,
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Start unbonding AIT delegated to a validator.
    Undelegate {
        validator: String,
        amount: String,
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Trial credits for a new account, paid with proof of work.
    #[command(subcommand)]
    Trial(trial::TrialCommand),
    /// Show an account's history: every change with its height and cause.
    History {
        /// An address or a dev name.
        address: String,
        #[arg(long)]
        from_height: Option<u64>,
        #[arg(long)]
        to_height: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        rpc: wallet::RpcArgs,
    },
    /// Show the validator set in force and the candidates.
    Validators {
        #[command(flatten)]
        rpc: wallet::RpcArgs,
    },
    /// The whole compute flow in one command: a dev node with a miner and a coordinator, and
    /// a client posting sample jobs, printed as it happens.
    Devnet(devnet::DevnetArgs),
    /// Measure committed transfers per second through a node's real pipeline.
    Bench(bench::BenchArgs),
    /// Measure syncing blocks from a peer against importing them from disk.
    BenchSync(bench_sync::BenchSyncArgs),
    /// Inspect the chain database: `check`.
    #[command(subcommand)]
    Db(storage::DbCommand),
    /// Move a validator's double-sign guard between machines: `export`, `import`.
    #[command(subcommand)]
    SignState(storage::SignStateCommand),
    /// Print a shell completion script: `ergon completions bash > /etc/bash_completion.d/ergon`,
    /// `ergon completions zsh > "${fpath[1]}/_ergon"`, `ergon completions fish >
    /// ~/.config/fish/completions/ergon.fish`.
    Completions { shell: clap_complete::Shell },
}

/// The base path when none is given: `$HOME/.ergon`.
pub fn default_base_path() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".ergon")
}

/// A chain's directory under a base path: its database (`db`) and double-sign guard.
pub fn chain_dir(base: &std::path::Path, spec: &ergon::chainspec::ChainSpec) -> PathBuf {
    base.join("chains").join(&spec.chain_id)
}

/// Writes `bytes` to stdout; a reader that stops early (`ergon ... | head`) is not an error.
pub(crate) fn print_out(bytes: &[u8]) -> anyhow::Result<()> {
    match std::io::Write::write_all(&mut std::io::stdout(), bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Node(args) => node::run(args),
        Command::Chainspec(args) => chainspec::run(args),
        Command::Key(cmd) => keys::run(cmd),
        Command::Createwallet(args) => keys::generate(args),
        Command::Getbalance { address, rpc } => wallet::block_on(wallet::getbalance(address, rpc)),
        Command::Send { from, to, amount, opts } => {
            wallet::block_on(wallet::transfer(wallet::TransferArgs { from, to: vec![format!("{to}={amount}")], opts }))
        }
        Command::Getblockreward { height, rpc } => wallet::block_on(wallet::getblockreward(height, rpc)),
        Command::Tx(cmd) => wallet::block_on(wallet::tx(cmd)),
        Command::Job(cmd) => wallet::block_on(economy::job(cmd)),
        Command::Receipt(cmd) => wallet::block_on(economy::receipt(cmd)),
        Command::Stake { amount, from, opts } => wallet::block_on(economy::stake(amount, from, opts, false)),
        Command::Unstake { amount, from, opts } => wallet::block_on(economy::stake(amount, from, opts, true)),
        Command::Unjail { from, opts } => wallet::block_on(economy::unjail(from, opts)),
        Command::Delegate { validator, amount, from, opts } => {
            wallet::block_on(economy::delegate(validator, amount, from, opts, false))
        }
        Command::Undelegate { validator, amount, from, opts } => {
            wallet::block_on(economy::delegate(validator, amount, from, opts, true))
        }
        Command::Validators { rpc } => wallet::block_on(economy::validators(rpc)),
        Command::Trial(cmd) => wallet::block_on(trial::run(cmd)),
        Command::History { address, from_height, to_height, limit, rpc } => {
            wallet::block_on(economy::history(address, from_height, to_height, limit, rpc))
        }
        Command::Devnet(args) => devnet::run(args),
        Command::Bench(args) => bench::run(args),
        Command::BenchSync(args) => bench_sync::run(args),
        Command::Db(cmd) => storage::db(cmd),
        Command::SignState(cmd) => storage::sign_state(cmd),
        Command::Completions { shell } => {
            let mut cli = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cli, "ergon", &mut script);
            print_out(&script)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
