//! netsim's own integration tests: small networks (4 to 6 real nodes, tens of seconds) under
//! clean links, slow lossy links, a partition, a crash, an equivocating validator, a 2 / 2
//! split of four validators and very lossy links between them, and the report of a run read
//! in headless Chromium. Runs are serialised (one at a time) and judged by the run's own
//! checks, never by tight timing, so they hold on a slow, busy machine.

use ergon_netsim::scenario::{Byzantine, ByzantineKind, EventSpec, Expect, LinkProfile, NodePick, Scenario, Span};
use ergon_netsim::schedule::Action;
use ergon_netsim::{Report, RunOptions, Schedule};
use std::sync::Mutex;
use std::time::Duration;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn secs(s: u64) -> Span {
    Span(Duration::from_secs(s))
}

fn ms(v: u64) -> Span {
    Span(Duration::from_millis(v))
}

fn scenario(name: &str, nodes: usize, duration: u64) -> Scenario {
    let mut s = Scenario::quick(nodes, 1, Duration::from_secs(duration));
    s.name = name.into();
    s.block_time = ms(300);
    s.converge_within = secs(40);
    s
}

fn run(s: &Scenario) -> Report {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let report = rt.block_on(ergon_netsim::run(s, &RunOptions::default())).unwrap();
    rt.shutdown_timeout(Duration::from_secs(2));
    assert!(report.passed, "{}", report.summary());
    assert!(report.converged);
    assert_eq!(report.distinct_heads, 1, "{}", report.summary());
    report
}

fn min_height(r: &Report) -> u64 {
    r.final_nodes.iter().filter_map(|n| n.height).min().unwrap_or(0)
}

#[test]
fn clean_links_converge() {
    let r = run(&scenario("clean", 4, 10));
    assert!(min_height(&r) >= 5, "{}", r.summary());
    assert!(r.block_propagation_ms.count > 0);
    assert!(r.txs.included > 0, "{}", r.summary());
}

#[test]
fn slow_lossy_links_converge() {
    let mut s = scenario("lossy", 5, 20);
    s.link = LinkProfile { latency: ms(100), jitter: ms(30), loss: 0.05, ..LinkProfile::default() };
    let r = run(&s);
    assert!(min_height(&r) >= 5, "{}", r.summary());
    assert!(r.traffic.retransmitted_chunks > 0, "5% loss must cost retransmissions");
    // Every hop costs at least the 70ms minimum one-way latency.
    assert!(r.block_propagation_ms.p50.unwrap_or(0.0) >= 70.0, "{}", r.summary());
}

#[test]
fn a_partition_heals_and_converges() {
    let mut s = scenario("partition", 6, 20);
    s.events = vec![
        EventSpec::Partition { at: secs(4), groups: Some(vec![vec![0, 1, 2], vec![3, 4, 5]]), sides: None },
        EventSpec::Heal { at: secs(10) },
    ];
    let r = run(&s);
    assert!(r.traffic.reset_connections > 0 || r.traffic.refused_dials > 0, "the partition cut links");
    assert!(r.converge_after_disturbance_ms.is_some(), "{}", r.summary());
    assert!(min_height(&r) >= 10, "{}", r.summary());
}

#[test]
fn a_crashed_full_node_restarts_and_catches_up() {
    let mut s = scenario("crash", 4, 20);
    s.events = vec![EventSpec::Crash { at: secs(4), node: NodePick::Index(3), restart_after: Some(secs(8)) }];
    let r = run(&s);
    let node = &r.final_nodes[3];
    assert_eq!(node.crashes, 1);
    assert!(node.up);
    // It missed blocks while down and has them all now.
    let down_from = r.samples.iter().position(|x| x.heights[3].is_none()).expect("node 3 was seen down");
    let height_at_crash = r.samples[..down_from].iter().filter_map(|x| x.heights[3]).max().unwrap_or(0);
    assert!(node.height.unwrap() > height_at_crash + 10, "{}", r.summary());
}

#[test]
fn four_validators_and_two_full_nodes_converge() {
    let mut s = scenario("bft", 6, 15);
    s.validators = 4;
    s.link = LinkProfile { latency: ms(50), jitter: ms(10), ..LinkProfile::default() };
    let r = run(&s);
    assert!(min_height(&r) >= 5, "{}", r.summary());
    assert!(r.final_nodes.iter().filter(|n| n.validator).count() == 4);
}

#[test]
fn one_seed_gives_one_schedule() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/hundred.toml")).unwrap();
    let mut s = Scenario::from_toml(&text).unwrap();
    let a = Schedule::build(&s).unwrap();
    assert_eq!(a, Schedule::build(&s).unwrap());
    assert!(a.events.iter().any(|e| matches!(e.action, Action::Crash { .. })));
    s.seed += 1;
    let b = Schedule::build(&s).unwrap();
    assert_ne!(a.bootnodes, b.bootnodes);
    assert_ne!(a.txs, b.txs);
    assert_ne!(a.events, b.events, "random picks differ");
}

fn four_validators(name: &str, nodes: usize, duration: u64) -> Scenario {
    let mut s = scenario(name, nodes, duration);
    s.validators = 4;
    s.link = LinkProfile { latency: ms(20), jitter: ms(5), ..LinkProfile::default() };
    s
}

#[test]
fn an_equivocating_validator_is_recorded_and_the_others_go_on() {
    let mut s = four_validators("equivocation", 6, 15);
    s.byzantine = vec![Byzantine { node: 3, kind: ByzantineKind::Equivocate, from: Some(secs(2)), until: None }];
    s.expect = vec![Expect::Evidence { against: 3, included: false }];
    s.liveness_window = secs(10);
    let r = run(&s);
    assert!(r.equivocations > 0);
    assert!(r.checks.iter().any(|c| c.name == "evidence" && c.passed), "{}", r.summary());
    // Validators 0, 1 and 2 carried the chain alone.
    assert!(min_height(&r) >= 5, "{}", r.summary());
    assert!(!r.schedule.is_honest_validator(3));
}

#[test]
fn a_two_two_split_halts_and_resumes_after_the_heal() {
    let mut s = four_validators("split-brain", 4, 28);
    s.events = vec![
        EventSpec::Partition { at: secs(5), groups: Some(vec![vec![0, 1], vec![2, 3]]), sides: None },
        EventSpec::Heal { at: secs(14) },
    ];
    s.expect = vec![Expect::Halt { from: secs(6), until: secs(14), resume_within: Some(secs(14)) }];
    let r = run(&s);
    assert!(r.checks.iter().any(|c| c.name == "halt" && c.passed), "{}", r.summary());
    // Nothing was asked of the split: no side had a quorum.
    let cut = r.samples.iter().filter(|x| x.t_ms >= r.startup_ms + 6000 && x.t_ms <= r.startup_ms + 13_000);
    assert!(cut.clone().count() > 0 && cut.clone().all(|x| !x.quorum));
}

fn shipped(file: &str) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file);
    Scenario::load(&path).unwrap()
}

/// A caught cheat, as the compute checks judge it, with what the report counts.
fn assert_caught(r: &Report, jobs: usize) {
    for name in ["compute-jobs", "compute-receipts", "compute-payments", "compute-balances", "compute-supply"] {
        assert!(r.checks.iter().any(|c| c.name == name && c.passed), "{name}: {}", r.summary());
    }
    let c = r.compute.as_ref().expect("compute stats");
    assert_eq!((c.posted, c.receipts, c.dishonest, c.refunded), (jobs, jobs, jobs, jobs), "{}", r.summary());
    assert_eq!(c.dishonest_matured, 0, "{}", r.summary());
    assert!(c.slashed > 0, "{}", r.summary());
}

#[test]
fn a_miner_reporting_wrong_outputs_is_caught_before_its_receipts_mature() {
    let s = shipped("compute-wrong-output.toml");
    assert!(s.nodes <= 4);
    let jobs = s.compute.as_ref().map_or(0, |c| c.jobs);
    assert_caught(&run(&s), jobs);
}

#[test]
fn a_lazy_miner_that_never_runs_its_jobs_is_caught_before_its_receipts_mature() {
    let s = shipped("compute-lazy.toml");
    assert!(s.nodes <= 4);
    let jobs = s.compute.as_ref().map_or(0, |c| c.jobs);
    assert_caught(&run(&s), jobs);
}

/// Issue 14: the whole validator set killed at once (tasks aborted where they stand) every
/// 100 ms to 2 s and restarted on its stores, until height 50: one chain, nobody recorded as
/// signing twice, supply exact, every honest validator past 50.
#[test]
fn a_crash_storm_of_the_whole_validator_set_forks_nothing() {
    let s = shipped("crash-storm.toml");
    assert!(s.nodes <= 4);
    let r = run(&s);
    for name in ["safety", "no-evidence", "min-height", "convergence", "conservation"] {
        assert!(r.checks.iter().any(|c| c.name == name && c.passed), "{name}: {}", r.summary());
    }
    assert!(r.final_nodes.iter().all(|n| n.crashes >= 5), "the storm killed every validator often: {}", r.summary());
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let sig = png.get(..8)? == b"\x89PNG\r\n\x1a\n" && png.get(12..16)? == b"IHDR";
    let be = |at: usize| png.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes);
    sig.then_some((be(16)?, be(20)?))
}

/// Issue 13: the report of a small real run (4 nodes, one validator, node 3 crashed and
/// restarted) has what it promises, and reads in headless Chromium (`tests/browser/
/// netsim-report.mjs`, playwright-core over Debian's chromium): parameters, a legend entry
/// per node, the propagation histogram with p50 / p95 / p99 / max marked, the finality CDF,
/// a line per node on the height, mempool and peer charts, throughput, the node and evidence
/// tables, events as sentences, no console error, nothing fetched. The full-page screenshot
/// is left beside the report in `target/tmp/netsim-report/`.
#[test]
fn the_report_reads_in_headless_chromium() {
    let mut s = scenario("report", 4, 10);
    s.events = vec![EventSpec::Crash { at: secs(2), node: NodePick::Index(3), restart_after: Some(secs(3)) }];
    if let Some(load) = s.load.as_mut() {
        load.tps = 8.0;
    }
    let r = run(&s);
    assert_eq!(r.final_nodes[3].crashes, 1);
    assert!(r.samples.iter().any(|x| x.peers.iter().flatten().any(|p| *p > 0)), "peer counts were sampled");
    assert!(r.samples.iter().any(|x| x.heights[3].is_none() && x.peers[3].is_none() && x.mempool[3].is_none()));
    assert!(r.samples.iter().all(|x| x.mempool.iter().zip(&x.heights).all(|(m, h)| m.is_some() == h.is_some())));
    assert!(r.throughput.iter().map(|t| t.committed).sum::<u64>() >= r.txs.included as u64, "{:?}", r.throughput);
    assert_eq!(r.finality_values_ms.len(), r.txs.included);
    assert!(r.final_nodes.iter().all(|n| n.peers.is_some_and(|p| p > 0) && n.txs > 0), "{:?}", r.final_nodes);

    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("netsim-report").join("report-seed0");
    ergon_netsim::write_outputs(&r, &out).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("node 3 crashed</li>") && html.contains("crashed at 2.0 s, restarted at 5.0 s"));

    let browser = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("tests").join("browser");
    let has_node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !(has_node && std::path::Path::new(CHROMIUM).exists() && browser.join("node_modules/playwright-core").exists()) {
        eprintln!(
            "SKIPPED (the browser part): needs node, {CHROMIUM} (apt-get install chromium) and tests/browser's npm \
             packages (npm ci --prefix tests/browser); `make deps` installs them. The report is at {}",
            out.display()
        );
        return;
    }
    let png = out.join("report.png");
    let _ = std::fs::remove_file(&png);
    let run = std::process::Command::new("node")
        .arg(browser.join("netsim-report.mjs"))
        .arg(out.join("report.html"))
        .arg(&png)
        .arg(r.nodes.to_string())
        .arg(CHROMIUM)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.lines().any(|l| l.contains(r#""step":"done""#)), "{stdout}");
    let bytes = std::fs::read(&png).expect("the screenshot");
    let (width, height) = png_size(&bytes).expect("a PNG");
    // A whole page of charts and tables: tall, and far from one flat colour.
    assert!(width >= 900 && height >= 2500, "{width}x{height}");
    assert!(bytes.len() > 100_000, "{} bytes", bytes.len());
    eprintln!("screenshot: {} ({width}x{height}, {} bytes)", png.display(), bytes.len());
}
