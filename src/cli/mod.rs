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
    /// Show an account's balance and nonce, in AIT with the base units beside (--json: base
    /// units, as RPC gives them).
    Getbalance {
        /// An address, or a dev key name on dev chains.
        address: String,
        #[command(flatten)]
        rpc: wallet::RpcArgs,
    },
    /// Send AIT: FROM is a dev key name, a keystore address or a key file.
    Send {
        /// The sender: a dev key name, a keystore address or a key file.
        from: String,
        /// The recipient: an address, or a dev key name on dev chains.
        to: String,
        /// Base units (1500) or tokens (1.5AIT, 1.5 AIT); a bare decimal (1.5) is refused.
        amount: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Show the block reward at a height (default: the next block).
    Getblockreward {
        /// The height [default: the next block].
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
    /// Bond AIT from the available balance.
    Stake {
        /// Base units (1500) or tokens (1.5AIT, 1.5 AIT); a bare decimal (1.5) is refused.
        amount: String,
        /// Who signs and pays: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Start unbonding staked AIT; it returns to the balance after the unbonding period.
    Unstake {
        /// Base units (1500) or tokens (1.5AIT, 1.5 AIT); a bare decimal (1.5) is refused.
        amount: String,
        /// Who signs and pays: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Take a validator jailed for downtime out of jail once its term is over; it is selected
    /// again from the next epoch boundary.
    Unjail {
        /// The jailed validator's key: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Bond AIT to a validator candidate (VALIDATOR: an address or dev name).
    Delegate {
        /// The validator candidate: an address, or a dev key name on dev chains.
        validator: String,
        /// Base units (1500) or tokens (1.5AIT, 1.5 AIT); a bare decimal (1.5) is refused.
        amount: String,
        /// Who signs and pays: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Start unbonding AIT delegated to a validator.
    Undelegate {
        /// The validator the AIT is delegated to: an address, or a dev key name on dev chains.
        validator: String,
        /// Base units (1500) or tokens (1.5AIT, 1.5 AIT); a bare decimal (1.5) is refused.
        amount: String,
        /// Who signs and pays: a dev key name, a keystore address or a key file.
        #[arg(long)]
        from: String,
        #[command(flatten)]
        opts: wallet::TxOpts,
    },
    /// Trial credits for a new account, paid with proof of work.
    #[command(subcommand)]
    Trial(trial::TrialCommand),
    /// Show an account's history: every change with its height and cause (amounts in AIT with
    /// the base units beside; --json: base units).
    History {
        /// An address or a dev name.
        address: String,
        /// First height to show [default: genesis].
        #[arg(long)]
        from_height: Option<u64>,
        /// Last height to show [default: the head].
        #[arg(long)]
        to_height: Option<u64>,
        /// Most events to print.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        #[command(flatten)]
        rpc: wallet::RpcArgs,
    },
    /// Show the validator set in force (stake in AIT with the base units beside) and the
    /// candidates.
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
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
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

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand, flag, positional argument and listed value says what it is for in
    /// `--help`: a user should not have to read the source to know what `<AMOUNT>` takes.
    #[test]
    fn every_command_flag_and_value_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" || a.is_hide_set() {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
                // Enum values (listed under the flag in --help) each say what they do; the
                // completion shells are clap_complete's and their names say it all.
                let takes_values = matches!(a.get_action(), clap::ArgAction::Set | clap::ArgAction::Append);
                if takes_values && id != "shell" {
                    for v in a.get_possible_values().iter().filter(|v| v.get_help().is_none() && !v.is_hide_set()) {
                        missing.push(format!("{path} {id}={}", v.get_name()));
                    }
                }
            }
            for sub in cmd.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_name() != "help" && sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let cli = Cli::command();
        cli.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cli, "ergon", &mut missing);
        assert!(missing.is_empty(), "no --help text for:\n{}", missing.join("\n"));
    }
}
