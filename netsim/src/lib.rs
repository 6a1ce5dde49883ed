//! netsim: many real ergon nodes in one process, over simulated links.
//!
//! Each simulated node is the real node (`ergon::node::service::Service`: network,
//! consensus, ledger, mempool and RocksDB storage), built over libp2p's in-memory transport
//! with a link layer underneath that adds latency, jitter, loss, bandwidth limits and
//! partitions. A run plays a scenario, watches every node from outside, and checks that the
//! nodes stay safe, live, converge and conserve the supply.
//!
//! Modules, in the order a run uses them:
//!
//! - [`scenario`]: the TOML scenario format (nodes, links, load, timed events);
//! - [`schedule`]: the scenario with every seeded choice made (bootnodes, random picks,
//!   tx arrival times), the part of a run that one seed reproduces exactly;
//! - [`chain`]: the chain spec and the keys of validators, accounts and nodes;
//! - [`link`] (with `pipe`): the link layer under each node's transport;
//! - [`byzantine`]: validators that lie (equivocate) through their node's network;
//! - [`compute`]: verified compute: the nodes' compute roles, the client posting jobs, and
//!   the checks that only delivered and verified work was paid;
//! - [`node`]: one simulated node, its start, crash and restart on a kept store;
//! - [`recorder`]: what the nodes committed and when;
//! - [`runner`]: plays the schedule and builds the [`report::Report`];
//! - [`checks`]: safety, liveness, convergence, conservation, and what a scenario expects
//!   (evidence, a halt);
//! - [`report`] and [`html`]: the JSON report, the text summary, the offline HTML page;
//! - [`bench`]: commit latency and committed transfers/s of N validators against one.

pub mod bench;
pub mod byzantine;
pub mod chain;
pub mod checks;
pub mod compute;
pub mod html;
pub mod link;
pub mod node;
mod pipe;
pub mod recorder;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod schedule;

pub use report::Report;
pub use runner::{run, RunError, RunOptions};
pub use scenario::Scenario;
pub use schedule::Schedule;

/// Writes `report.json` and `report.html` into `dir` (created if needed).
pub fn write_outputs(report: &Report, dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("report.json"), json)?;
    std::fs::write(dir.join("report.html"), html::render(report))
}
