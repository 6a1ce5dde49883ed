//! `netsim run [FILE] [--seed N] [--out DIR]`: plays a scenario and exits non-zero if a check
//! fails. Without a file, the flags describe a quick scenario.

use anyhow::Context;
use clap::{Parser, Subcommand};
use ergon_netsim::scenario::{parse_bandwidth, parse_duration, LinkProfile, Scenario, Span};
use std::path::PathBuf;
use std::time::Duration;

// The node binary's allocator (see src/main.rs), so simulated nodes allocate as real ones do.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(name = "netsim", version, about = "Many real ergon nodes in one process, over simulated links")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario (a TOML file, or the flags alone) and check the outcome.
    Run(RunArgs),
    /// Print the schedule a scenario and seed give (events, bootnodes, load) as JSON.
    Schedule(RunArgs),
    /// Commit latency and committed transfers/s of N validators, beside one validator.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// One-way latency of every link, e.g. 50ms.
    #[arg(long, value_parser = parse_duration, default_value = "0ms")]
    latency: Duration,
    #[arg(long, value_parser = parse_duration, default_value = "0ms")]
    jitter: Duration,
    #[arg(long, value_parser = parse_duration, default_value = "500ms")]
    block_time: Duration,
    /// Sending accounts (funded at genesis).
    #[arg(long, default_value_t = 2000)]
    accounts: usize,
    /// Transfers per account (1 to 64, the mempool's nonce window).
    #[arg(long, default_value_t = 20)]
    per_account: u64,
    /// How long commits are timed without load.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    idle: Duration,
    #[arg(long, value_parser = parse_duration, default_value = "300s")]
    timeout: Duration,
    /// Skip the runs measured for comparison: one validator alone, and one validator with
    /// full nodes in place of the others (the same nodes, doing the same work but consensus).
    #[arg(long)]
    no_single: bool,
    /// Also print the figures as JSON.
    #[arg(long)]
    json: bool,
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario file (netsim/scenarios/*.toml). Flags below override its values.
    file: Option<PathBuf>,
    #[arg(long)]
    seed: Option<u64>,
    /// Where report.json and report.html go.
    #[arg(long, default_value = "netsim-out")]
    out: PathBuf,
    #[arg(long)]
    nodes: Option<usize>,
    #[arg(long)]
    validators: Option<usize>,
    /// Simulated duration, e.g. 30s.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    #[arg(long, value_parser = parse_duration)]
    block_time: Option<Duration>,
    /// One-way latency of every link, e.g. 100ms.
    #[arg(long, value_parser = parse_duration)]
    latency: Option<Duration>,
    #[arg(long, value_parser = parse_duration)]
    jitter: Option<Duration>,
    /// Packet loss probability, 0 to <1.
    #[arg(long)]
    loss: Option<f64>,
    /// Per-link bandwidth, e.g. 10Mbit.
    #[arg(long)]
    bandwidth: Option<String>,
    /// Transactions per second.
    #[arg(long)]
    tps: Option<f64>,
    /// Compute jobs the client posts (a scenario with `[compute]`).
    #[arg(long)]
    jobs: Option<usize>,
    /// Time between two job posts, e.g. 0ms (all at once).
    #[arg(long, value_parser = parse_duration)]
    post_every: Option<Duration>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
    /// Where the nodes' stores go (default /dev/shm when present, else the temp directory).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl RunArgs {
    fn scenario(&self) -> anyhow::Result<Scenario> {
        let mut s = match &self.file {
            Some(f) => Scenario::load(f)?,
            None => Scenario::quick(4, 1, Duration::from_secs(30)),
        };
        if let Some(v) = self.seed {
            s.seed = v;
        }
        if let Some(v) = self.nodes {
            s.nodes = v;
        }
        if let Some(v) = self.validators {
            s.validators = v;
        }
        if let Some(v) = self.duration {
            s.duration = Span(v);
        }
        if let Some(v) = self.block_time {
            s.block_time = Span(v);
        }
        let l: &mut LinkProfile = &mut s.link;
        if let Some(v) = self.latency {
            l.latency = Span(v);
        }
        if let Some(v) = self.jitter {
            l.jitter = Span(v);
        }
        if let Some(v) = self.loss {
            l.loss = v;
        }
        if let Some(v) = &self.bandwidth {
            l.bandwidth = Some(parse_bandwidth(v).map_err(anyhow::Error::msg)?);
        }
        if let (Some(tps), Some(load)) = (self.tps, s.load.as_mut()) {
            load.tps = tps;
        }
        if self.jobs.is_some() || self.post_every.is_some() {
            let c = s.compute.as_mut().context("--jobs and --post-every need a scenario with [compute]")?;
            c.jobs = self.jobs.unwrap_or(c.jobs);
            c.post_every = self.post_every.map_or(c.post_every, Span);
        }
        s.validate()?;
        Ok(s)
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn,libp2p_gossipsub=error".into());
    // Colours only on a terminal: logs redirected to a file or a CI log stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
    match cli.command {
        Command::Schedule(args) => {
            let schedule = ergon_netsim::Schedule::build(&args.scenario()?)?;
            println!("{}", serde_json::to_string_pretty(&schedule)?);
            Ok(())
        }
        Command::Bench(a) => {
            if a.per_account == 0 || a.per_account > 64 || a.accounts < 2 || a.validators == 0 {
                anyhow::bail!("need --validators >= 1, --accounts >= 2 and --per-account 1 to 64");
            }
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let o = ergon_netsim::bench::BenchOptions {
                validators: a.validators,
                nodes: a.validators,
                latency: a.latency,
                jitter: a.jitter,
                block_time: a.block_time,
                accounts: a.accounts,
                per_account: a.per_account,
                idle: a.idle,
                timeout: a.timeout,
                data_dir: a.data_dir.clone(),
            };
            let mut baselines = Vec::new();
            if !a.no_single && a.validators > 1 {
                for nodes in [1, a.validators] {
                    let base = ergon_netsim::bench::BenchOptions { validators: 1, nodes, ..o.clone() };
                    let r = runtime.block_on(ergon_netsim::bench::bench(&base))?;
                    print!("{}", r.summary());
                    baselines.push(r);
                }
            }
            let r = runtime.block_on(ergon_netsim::bench::bench(&o))?;
            print!("{}", r.summary());
            for base in &baselines {
                println!(
                    "  {} validators commit {:.0}% of the transfers/s of 1 validator of {} node(s)",
                    r.validators,
                    100.0 * r.committed_per_sec / base.committed_per_sec.max(1e-9),
                    base.nodes
                );
            }
            let mut reports = baselines;
            reports.push(r);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            }
            runtime.shutdown_timeout(Duration::from_secs(2));
            Ok(())
        }
        Command::Run(args) => {
            let scenario = args.scenario()?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let opts = ergon_netsim::RunOptions { progress: !args.quiet, data_dir: args.data_dir.clone() };
            let report = runtime.block_on(ergon_netsim::run(&scenario, &opts))?;
            let out = args.out.join(format!("{}-seed{}", scenario.name, scenario.seed));
            ergon_netsim::write_outputs(&report, &out).with_context(|| format!("cannot write to {}", out.display()))?;
            print!("{}", report.summary());
            println!("  report:           {}/report.json, {}/report.html", out.display(), out.display());
            // Nodes' background tasks (RocksDB, libp2p timers) need not finish cleanly.
            runtime.shutdown_timeout(Duration::from_secs(2));
            if !report.passed {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
