//! Scenarios: what to simulate, as written in `netsim/scenarios/*.toml`.
//!
//! A scenario names the network (nodes, validators, how peers find each other), the links
//! (latency, jitter, loss, bandwidth), a transaction load, and timed events: partitions that
//! open and heal, crashes and restarts, and links that turn slow for a while. Times and sizes
//! are strings with units (`"250ms"`, `"30s"`, `"2m"`; `"10Mbit"`). Node sets may name nodes
//! by index or leave the choice to the seeded RNG (`"random"`), so one file gives many
//! different but reproducible runs. [`crate::schedule`] resolves every choice.

use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("scenario is not valid TOML for a scenario: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("scenario field `{field}` is invalid: {reason}")]
    Invalid { field: String, reason: String },
}

pub type Result<T> = std::result::Result<T, ScenarioError>;

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { field: field.into(), reason: reason.into() }
}

/// A duration written with a unit: `ms`, `s` or `m` (`"1.5s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span(pub Duration);

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        parse_duration(&s).map(Span)
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        format!("{}ms", s.0.as_millis())
    }
}

/// As a person reads it: `300 ms`, `1.5 s`, `30 s`.
impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0.as_secs_f64() * 1000.0;
        if ms < 1000.0 {
            write!(f, "{} ms", trim_number(ms, 1))
        } else {
            write!(f, "{} s", trim_number(ms / 1000.0, 2))
        }
    }
}

/// `v` with at most `decimals` decimals and no trailing zeros: `1.5`, `30`, `0.25`.
pub fn trim_number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        return Err(format!("{s:?} needs a unit: ms, s or m (e.g. \"250ms\", \"30s\")"));
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("{s:?} is not a number with a unit"))?;
    if !v.is_finite() || v < 0.0 || v * scale > 1e7 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// A bandwidth written with a unit: `bit`, `kbit`, `Mbit` or `Gbit` per second (`"10Mbit"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Bandwidth {
    pub bytes_per_sec: u64,
}

impl TryFrom<String> for Bandwidth {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        parse_bandwidth(&s)
    }
}

impl From<Bandwidth> for String {
    fn from(b: Bandwidth) -> String {
        format!("{}bit", b.bytes_per_sec.saturating_mul(8))
    }
}

/// As a person reads it: `20 Mbit/s`.
impl std::fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bits = self.bytes_per_sec.saturating_mul(8) as f64;
        let (v, unit) = if bits >= 1e9 {
            (bits / 1e9, "Gbit/s")
        } else if bits >= 1e6 {
            (bits / 1e6, "Mbit/s")
        } else if bits >= 1e3 {
            (bits / 1e3, "kbit/s")
        } else {
            (bits, "bit/s")
        };
        write!(f, "{} {unit}", trim_number(v, 2))
    }
}

pub fn parse_bandwidth(s: &str) -> std::result::Result<Bandwidth, String> {
    let t = s.trim();
    let units = [("Gbit", 1e9), ("Mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)];
    let Some((num, bits)) = units.iter().find_map(|(u, m)| t.strip_suffix(u).map(|n| (n, *m))) else {
        return Err(format!("{s:?} needs a unit: bit, kbit, Mbit or Gbit (per second, e.g. \"10Mbit\")"));
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("{s:?} is not a number with a unit"))?;
    let bytes = v * bits / 8.0;
    if !bytes.is_finite() || !(1.0..=1e12).contains(&bytes) {
        return Err(format!("{s:?} is out of range (at least 8bit)"));
    }
    Ok(Bandwidth { bytes_per_sec: bytes as u64 })
}

/// What `loss` is the probability of losing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossUnit {
    /// Each TCP-sized packet (1460 bytes) of a chunk: a large chunk is hit more often.
    #[default]
    Packet,
    /// Each chunk as a whole (a write: one noise frame, typically one message or part of
    /// one), whatever its size: `loss = 0.5` delivers half the messages on the first try.
    Message,
}

/// How a link behaves. `latency` is one way; `loss` is per packet or per message
/// (`loss_unit`; see the link layer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkProfile {
    #[serde(default = "zero")]
    pub latency: Span,
    #[serde(default = "zero")]
    pub jitter: Span,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub loss_unit: LossUnit,
    /// `None`: unlimited.
    #[serde(default)]
    pub bandwidth: Option<Bandwidth>,
}

fn zero() -> Span {
    Span(Duration::ZERO)
}

impl Default for LinkProfile {
    fn default() -> Self {
        LinkProfile { latency: zero(), jitter: zero(), loss: 0.0, loss_unit: LossUnit::Packet, bandwidth: None }
    }
}

/// As a person reads it: `20 ms ± 5 ms one way, 1% packet loss, 20 Mbit/s`.
impl std::fmt::Display for LinkProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.latency)?;
        if !self.jitter.0.is_zero() {
            write!(f, " ± {}", self.jitter)?;
        }
        write!(f, " one way")?;
        if self.loss > 0.0 {
            let unit = match self.loss_unit {
                LossUnit::Packet => "of packets",
                LossUnit::Message => "of messages",
            };
            write!(f, ", {}% {unit} lost", trim_number(self.loss * 100.0, 2))?;
        } else {
            write!(f, ", no loss")?;
        }
        match self.bandwidth {
            Some(b) => write!(f, ", {b}"),
            None => write!(f, ", unlimited bandwidth"),
        }
    }
}

impl LinkProfile {
    fn check(&self, field: &str) -> Result<()> {
        if !(0.0..1.0).contains(&self.loss) {
            return Err(invalid(format!("{field}.loss"), "must be at least 0 and below 1"));
        }
        Ok(())
    }
}

/// Changes to a link profile for a while: fields left out keep their value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkChange {
    pub latency: Option<Span>,
    pub jitter: Option<Span>,
    pub loss: Option<f64>,
    pub bandwidth: Option<Bandwidth>,
}

impl LinkChange {
    pub fn apply(&self, base: &LinkProfile) -> LinkProfile {
        LinkProfile {
            latency: self.latency.unwrap_or(base.latency),
            jitter: self.jitter.unwrap_or(base.jitter),
            loss: self.loss.unwrap_or(base.loss),
            loss_unit: base.loss_unit,
            bandwidth: self.bandwidth.or(base.bandwidth),
        }
    }
}

/// One node by index, or one chosen by the seed among all, the validators, or the full nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NodePick {
    Index(usize),
    /// `"random"`, `"random-validator"` or `"random-full"`.
    Random(String),
}

/// The transaction load: transfers between genesis accounts, sent to random nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// Transactions per second, over the whole network.
    pub tps: f64,
    /// Funded sender accounts; each has at most one tx in flight.
    #[serde(default = "default_accounts")]
    pub accounts: usize,
    #[serde(default)]
    pub start: Option<Span>,
    /// Defaults to the end of the run.
    #[serde(default)]
    pub stop: Option<Span>,
}

fn default_accounts() -> usize {
    16
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum EventSpec {
    /// Split the nodes: explicit `groups` (nodes left out form one more group), or `sides`
    /// random groups of about equal size.
    Partition {
        at: Span,
        #[serde(default)]
        groups: Option<Vec<Vec<usize>>>,
        #[serde(default)]
        sides: Option<usize>,
    },
    /// Every link is back.
    Heal {
        at: Span,
    },
    /// Stop a node (its store is kept); with `restart_after`, start it again later.
    Crash {
        at: Span,
        node: NodePick,
        #[serde(default)]
        restart_after: Option<Span>,
    },
    Restart {
        at: Span,
        node: usize,
    },
    /// Kills `nodes` (default: every validator) all at once, again and again: each time
    /// after a random `up_min..=up_max` of running, restarting them on their stores `down`
    /// later; until `until`, or from the moment some node has committed `until_height`. A
    /// kill aborts the node's tasks where they stand (commonware's unclean shutdown).
    CrashStorm {
        at: Span,
        until: Span,
        #[serde(default)]
        nodes: Option<Vec<usize>>,
        #[serde(default = "default_storm_up_min")]
        up_min: Span,
        #[serde(default = "default_storm_up_max")]
        up_max: Span,
        #[serde(default = "default_storm_down")]
        down: Span,
        #[serde(default)]
        until_height: Option<u64>,
    },
    /// Links between any node of `from` and any node of `to` change for `duration` (or for
    /// good). Empty `to`: every other node.
    SlowLink {
        at: Span,
        from: Vec<usize>,
        #[serde(default)]
        to: Vec<usize>,
        #[serde(default)]
        duration: Option<Span>,
        #[serde(default)]
        latency: Option<Span>,
        #[serde(default)]
        jitter: Option<Span>,
        #[serde(default)]
        loss: Option<f64>,
        #[serde(default)]
        bandwidth: Option<Bandwidth>,
    },
}

/// What a byzantine node does: a validator that equivocates, or a node whose compute roles
/// lie (the node's compute roles are set in `[compute]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ByzantineKind {
    /// Signs two different prevotes and two different precommits for every round it
    /// reaches at the height after its node's head, and gossips all of them.
    Equivocate,
    /// On the miners' node: the last miner runs each job it gets and reports another output.
    WrongOutput,
    /// On the miners' node: the last miner runs each job and reports more units than it took.
    InflatedUnits,
    /// On the miners' node: the last miner never runs its jobs; it replays the last output
    /// it saw and claims half the job's maximum units.
    Lazy,
    /// On the miners' node, beside one of the three above: the coordinator attests the
    /// cheating miner's receipts without re-running them. A cheating miner always has it
    /// (the node's compute worker ties the two: an honest coordinator would refuse to attest
    /// and no lie would reach the chain); naming it says so in the scenario.
    ColludingCoordinator,
    /// On the verifier's node: the verifier never challenges (the node runs no verifier).
    SilentVerifier,
}

impl ByzantineKind {
    /// As a scenario writes it.
    pub fn name(self) -> &'static str {
        match self {
            ByzantineKind::Equivocate => "equivocate",
            ByzantineKind::WrongOutput => "wrong-output",
            ByzantineKind::InflatedUnits => "inflated-units",
            ByzantineKind::Lazy => "lazy",
            ByzantineKind::ColludingCoordinator => "colluding-coordinator",
            ByzantineKind::SilentVerifier => "silent-verifier",
        }
    }

    /// The lie a cheating miner tells, for the kinds that are one.
    pub fn cheat(self) -> Option<ergon::node::compute::Cheat> {
        use ergon::node::compute::Cheat;
        match self {
            ByzantineKind::WrongOutput => Some(Cheat::WrongOutput),
            ByzantineKind::InflatedUnits => Some(Cheat::InflatedUnits),
            ByzantineKind::Lazy => Some(Cheat::Lazy),
            _ => None,
        }
    }
}

/// A node that lies. An equivocating validator's node runs as a full node (no validator
/// key) and a task with the key misbehaves through that node's network; its power stays in
/// the set. A compute kind changes the node's compute roles (see [`ByzantineKind`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Byzantine {
    /// The node (for `equivocate`, a validator: validator `i` is node `i`; `validator = i`
    /// is accepted as well).
    #[serde(alias = "validator")]
    pub node: usize,
    pub kind: ByzantineKind,
    /// When an equivocator starts (default 2s) and stops (default: the end of the run).
    /// Compute kinds lie from the start to the end.
    #[serde(default)]
    pub from: Option<Span>,
    #[serde(default)]
    pub until: Option<Span>,
}

/// Verified compute (DESIGN §11): a client posts sample jobs, miners on one node run them
/// and claim receipts attested by a coordinator on that node, and a verifier on some node
/// re-executes pending receipts and challenges wrong ones. Roles are dev key names (funded
/// at genesis of the dev chain netsim starts from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Compute {
    /// Posts the jobs and pays for them.
    #[serde(default = "default_client")]
    pub client: String,
    /// Sample jobs posted (word count, sieve, hash chain and matrix product in turn).
    pub jobs: usize,
    /// When the first job is posted.
    #[serde(default = "default_post_from")]
    pub post_from: Span,
    /// Then one more every this long (`"0ms"`: all at once).
    #[serde(default = "default_post_every")]
    pub post_every: Span,
    /// A job's deadline: the head's height when it is posted plus this.
    #[serde(default = "default_deadline_blocks")]
    pub deadline_blocks: u64,
    /// The node that runs the miners and the jobs' coordinator.
    pub miner_node: usize,
    /// Staked by the runner at the start with 10 x `miner_min_stake` each.
    pub miners: Vec<String>,
    #[serde(default = "default_coordinator")]
    pub coordinator: String,
    /// The node that runs the verifier, and its key; without them nothing challenges.
    #[serde(default)]
    pub verifier_node: Option<usize>,
    #[serde(default)]
    pub verifier: Option<String>,
    /// Whether every dishonest receipt must be invalidated before it matures (the default).
    /// `false` with a cheat and no working verifier: the run then demands that dishonest
    /// receipts matured, to show what a chain without verifiers lets through.
    #[serde(default = "yes")]
    pub expect_caught: bool,
    /// After the run, every job must be settled or refunded within this long.
    #[serde(default = "default_settle")]
    pub settle_within: Span,
}

fn default_client() -> String {
    "bob".into()
}
fn default_coordinator() -> String {
    "dave".into()
}
fn default_post_from() -> Span {
    Span(Duration::from_secs(1))
}
fn default_post_every() -> Span {
    Span(Duration::from_millis(500))
}
fn default_deadline_blocks() -> u64 {
    200
}
fn default_settle() -> Span {
    Span(Duration::from_secs(60))
}
fn yes() -> bool {
    true
}
fn default_storm_up_min() -> Span {
    Span(Duration::from_millis(100))
}
fn default_storm_up_max() -> Span {
    Span(Duration::from_secs(2))
}
fn default_storm_down() -> Span {
    Span(Duration::from_millis(100))
}

/// Outcomes a scenario demands beyond the standard checks; each becomes a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Expect {
    /// Every honest validator that is up at the end recorded equivocation by validator
    /// `against`; with `included`, some block on the chain carries it.
    Evidence {
        against: usize,
        #[serde(default)]
        included: bool,
    },
    /// No node commits a new height from `from` to `until`; with `resume_within`, a new
    /// height is committed within that long after `until`.
    Halt {
        from: Span,
        until: Span,
        #[serde(default)]
        resume_within: Option<Span>,
    },
    /// Every honest validator that is up at the end has committed at least `height`.
    MinHeight { height: u64 },
    /// No node recorded equivocation by anyone.
    NoEvidence,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default)]
    pub seed: u64,
    pub nodes: usize,
    #[serde(default = "one")]
    pub validators: usize,
    pub duration: Span,
    #[serde(default = "default_block_time")]
    pub block_time: Span,
    /// Bootnodes each node is given (chosen among the nodes before it).
    #[serde(default = "default_degree")]
    pub degree: usize,
    /// After the run (and after the last heal or restart), every running node must agree
    /// within this long.
    #[serde(default = "default_converge")]
    pub converge_within: Span,
    /// Heights must advance within this long whenever a quorum of validators is connected.
    #[serde(default = "default_liveness")]
    pub liveness_window: Span,
    #[serde(default)]
    pub link: LinkProfile,
    #[serde(default)]
    pub load: Option<Load>,
    #[serde(default)]
    pub events: Vec<EventSpec>,
    #[serde(default)]
    pub byzantine: Vec<Byzantine>,
    #[serde(default)]
    pub expect: Vec<Expect>,
    #[serde(default)]
    pub compute: Option<Compute>,
}

fn default_name() -> String {
    "unnamed".into()
}
fn one() -> usize {
    1
}
fn default_block_time() -> Span {
    Span(Duration::from_millis(500))
}
fn default_degree() -> usize {
    3
}
fn default_converge() -> Span {
    Span(Duration::from_secs(30))
}
fn default_liveness() -> Span {
    Span(Duration::from_secs(20))
}

impl Scenario {
    /// A scenario with clean links and no events: what `netsim run` without a file starts from.
    pub fn quick(nodes: usize, validators: usize, duration: Duration) -> Scenario {
        Scenario {
            name: "quick".into(),
            seed: 0,
            nodes,
            validators,
            duration: Span(duration),
            block_time: default_block_time(),
            degree: default_degree(),
            converge_within: default_converge(),
            liveness_window: default_liveness(),
            link: LinkProfile::default(),
            load: Some(Load { tps: 2.0, accounts: default_accounts(), start: None, stop: None }),
            events: vec![],
            byzantine: vec![],
            expect: vec![],
            compute: None,
        }
    }

    pub fn from_toml(text: &str) -> Result<Scenario> {
        let s: Scenario = toml::from_str(text)?;
        s.validate()?;
        Ok(s)
    }

    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        Scenario::from_toml(&text)
    }

    /// Checks what TOML cannot: counts, ranges, node indexes and event times.
    pub fn validate(&self) -> Result<()> {
        if self.nodes == 0 || self.nodes > 1000 {
            return Err(invalid("nodes", "must be 1 to 1000"));
        }
        if self.validators == 0 || self.validators > self.nodes {
            return Err(invalid("validators", format!("must be 1 to nodes ({})", self.nodes)));
        }
        if self.duration.0.is_zero() {
            return Err(invalid("duration", "must be positive"));
        }
        if self.block_time.0 < Duration::from_millis(10) {
            return Err(invalid("block_time", "must be at least 10ms"));
        }
        self.link.check("link")?;
        if let Some(load) = &self.load {
            if !load.tps.is_finite() || load.tps < 0.0 || load.tps > 10_000.0 {
                return Err(invalid("load.tps", "must be 0 to 10000"));
            }
            if load.accounts == 0 || load.accounts > 10_000 {
                return Err(invalid("load.accounts", "must be 1 to 10000"));
            }
        }
        let node = |field: String, i: usize| {
            if i < self.nodes {
                Ok(())
            } else {
                Err(invalid(field, format!("node {i} does not exist (nodes are 0 to {})", self.nodes - 1)))
            }
        };
        for (k, e) in self.events.iter().enumerate() {
            let field = format!("events[{k}]");
            match e {
                EventSpec::Partition { groups, sides, .. } => match (groups, sides) {
                    (Some(groups), None) => {
                        let mut seen = std::collections::BTreeSet::new();
                        for i in groups.iter().flatten() {
                            node(format!("{field}.groups"), *i)?;
                            if !seen.insert(*i) {
                                return Err(invalid(format!("{field}.groups"), format!("node {i} is in two groups")));
                            }
                        }
                    }
                    (None, Some(n)) if *n >= 2 && *n <= self.nodes => {}
                    _ => {
                        return Err(invalid(
                            field,
                            "a partition needs either `groups` or `sides` (2 to nodes), not both",
                        ))
                    }
                },
                EventSpec::Crash { node: NodePick::Index(i), .. } | EventSpec::Restart { node: i, .. } => {
                    node(format!("{field}.node"), *i)?
                }
                EventSpec::CrashStorm { at, until, nodes, up_min, up_max, .. } => {
                    for i in nodes.iter().flatten() {
                        node(format!("{field}.nodes"), *i)?;
                    }
                    if until.0 <= at.0 {
                        return Err(invalid(format!("{field}.until"), "must come after `at`"));
                    }
                    if up_min.0.is_zero() || up_max.0 < up_min.0 {
                        return Err(invalid(format!("{field}.up_min"), "must be above zero and at most `up_max`"));
                    }
                }
                EventSpec::Crash { node: NodePick::Random(r), .. } => {
                    if !["random", "random-validator", "random-full"].contains(&r.as_str()) {
                        return Err(invalid(
                            format!("{field}.node"),
                            "must be an index, \"random\", \"random-validator\" or \"random-full\"",
                        ));
                    }
                    if r == "random-full" && self.validators == self.nodes {
                        return Err(invalid(format!("{field}.node"), "there are no full nodes"));
                    }
                }
                EventSpec::SlowLink { from, to, .. } => {
                    for i in from.iter().chain(to) {
                        node(field.clone(), *i)?;
                    }
                    if from.is_empty() {
                        return Err(invalid(format!("{field}.from"), "name at least one node"));
                    }
                    if let Some(change) = e.link_change() {
                        change.apply(&self.link).check(&field)?;
                    }
                }
                EventSpec::Heal { .. } => {}
            }
        }
        let mut liars = std::collections::BTreeSet::new();
        for (k, b) in self.byzantine.iter().enumerate() {
            let field = format!("byzantine[{k}]");
            node(format!("{field}.node"), b.node)?;
            if !liars.insert((b.node, b.kind)) {
                return Err(invalid(field, format!("node {} is listed twice as {}", b.node, b.kind.name())));
            }
            if b.kind == ByzantineKind::Equivocate {
                if b.node >= self.validators {
                    return Err(invalid(format!("{field}.validator"), format!("validator {} does not exist", b.node)));
                }
            } else if b.from.is_some() || b.until.is_some() {
                return Err(invalid(
                    field,
                    "compute kinds lie for the whole run: `from` and `until` are for equivocate",
                ));
            }
        }
        self.validate_compute()?;
        for (k, e) in self.expect.iter().enumerate() {
            let field = format!("expect[{k}]");
            match e {
                Expect::Evidence { against, .. } if !liars.contains(&(*against, ByzantineKind::Equivocate)) => {
                    return Err(invalid(format!("{field}.against"), format!("validator {against} is not byzantine")))
                }
                Expect::Halt { from, until, .. } if from.0 >= until.0 || until.0 > self.duration.0 => {
                    return Err(invalid(field, "a halt needs from < until <= duration"))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// The byzantine entries of one kind.
    pub fn byzantine_of(&self, kind: ByzantineKind) -> impl Iterator<Item = &Byzantine> {
        self.byzantine.iter().filter(move |b| b.kind == kind)
    }

    /// The lie the miners' node tells, if any.
    pub fn cheat(&self) -> Option<ergon::node::compute::Cheat> {
        self.byzantine.iter().find_map(|b| b.kind.cheat())
    }

    /// Whether a verifier runs and challenges.
    pub fn verifier_works(&self) -> bool {
        let silent = self.byzantine_of(ByzantineKind::SilentVerifier).next().is_some();
        self.compute.as_ref().is_some_and(|c| c.verifier.is_some()) && !silent
    }

    fn validate_compute(&self) -> Result<()> {
        let compute_kind = self.byzantine.iter().find(|b| b.kind != ByzantineKind::Equivocate);
        let Some(c) = &self.compute else {
            return match compute_kind {
                Some(b) => Err(invalid("byzantine", format!("{} needs a [compute] table", b.kind.name()))),
                None => Ok(()),
            };
        };
        let key = |field: &str, name: &str| match ergon::primitives::Keypair::dev_by_name(name) {
            Some(_) => Ok(()),
            None => Err(invalid(
                format!("compute.{field}"),
                format!("{name:?} is not a dev key name ({})", ergon::primitives::DEV_KEY_NAMES.join(", ")),
            )),
        };
        if c.jobs == 0 || c.jobs > 1000 {
            return Err(invalid("compute.jobs", "must be 1 to 1000"));
        }
        if c.miners.is_empty() {
            return Err(invalid("compute.miners", "name at least one miner"));
        }
        let last_post =
            c.post_from.0.saturating_add(c.post_every.0.saturating_mul(u32::try_from(c.jobs - 1).unwrap_or(u32::MAX)));
        if last_post >= self.duration.0 {
            return Err(invalid("compute.post_every", "the last job would be posted after the run's end"));
        }
        if c.deadline_blocks < 2 {
            return Err(invalid("compute.deadline_blocks", "must be at least 2"));
        }
        let mut names = std::collections::BTreeSet::new();
        let roles =
            c.miners.iter().map(|m| ("miners", m)).chain([("client", &c.client), ("coordinator", &c.coordinator)]);
        for (field, name) in roles.chain(c.verifier.iter().map(|v| ("verifier", v))) {
            key(field, name)?;
            // Each account's bookkeeping is checked on its own.
            if !names.insert(name.as_str()) {
                return Err(invalid(format!("compute.{field}"), format!("{name:?} has two roles")));
            }
        }
        for (field, i) in [("miner_node", Some(c.miner_node)), ("verifier_node", c.verifier_node)] {
            if let Some(i) = i.filter(|i| *i >= self.nodes) {
                return Err(invalid(format!("compute.{field}"), format!("node {i} does not exist")));
            }
        }
        if c.verifier.is_some() != c.verifier_node.is_some() {
            return Err(invalid("compute.verifier", "give both `verifier` and `verifier_node`, or neither"));
        }
        let cheats: Vec<&Byzantine> = self.byzantine.iter().filter(|b| b.kind.cheat().is_some()).collect();
        if cheats.len() > 1 {
            return Err(invalid(
                "byzantine",
                "one miner lies, in one way: name one of wrong-output, inflated-units, lazy",
            ));
        }
        for (k, b) in self.byzantine.iter().enumerate() {
            let field = format!("byzantine[{k}].node");
            match b.kind {
                ByzantineKind::Equivocate => {}
                ByzantineKind::SilentVerifier if c.verifier_node != Some(b.node) => {
                    return Err(invalid(field, format!("node {} runs no verifier", b.node)))
                }
                ByzantineKind::SilentVerifier => {}
                _ if b.node != c.miner_node => {
                    return Err(invalid(
                        field,
                        format!("{} is a miner's lie: node {} runs no miners", b.kind.name(), b.node),
                    ))
                }
                ByzantineKind::ColludingCoordinator if cheats.is_empty() => {
                    return Err(invalid(
                        field,
                        "a colluding coordinator attests a cheating miner: add wrong-output, inflated-units or lazy",
                    ))
                }
                _ => {}
            }
        }
        match (cheats.is_empty(), self.verifier_works(), c.expect_caught) {
            (false, false, true) => Err(invalid(
                "compute.expect_caught",
                "a miner cheats and no verifier challenges it: set expect_caught = false to show what gets through",
            )),
            (_, true, false) => {
                Err(invalid("compute.expect_caught", "a working verifier catches every lie: leave it true"))
            }
            (true, _, false) => Err(invalid("compute.expect_caught", "no miner cheats: there is nothing to miss")),
            _ => Ok(()),
        }
    }
}

impl EventSpec {
    /// What a `slow-link` event changes.
    pub fn link_change(&self) -> Option<LinkChange> {
        match self {
            EventSpec::SlowLink { latency, jitter, loss, bandwidth, .. } => {
                Some(LinkChange { latency: *latency, jitter: *jitter, loss: *loss, bandwidth: *bandwidth })
            }
            _ => None,
        }
    }

    pub fn at(&self) -> Duration {
        match self {
            EventSpec::Partition { at, .. }
            | EventSpec::Heal { at }
            | EventSpec::Crash { at, .. }
            | EventSpec::Restart { at, .. }
            | EventSpec::CrashStorm { at, .. }
            | EventSpec::SlowLink { at, .. } => at.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert_eq!(parse_bandwidth("8Mbit").map(|b| b.bytes_per_sec), Ok(1_000_000));
        assert!(parse_bandwidth("fast").is_err());
    }

    #[test]
    fn a_scenario_parses_and_bad_nodes_are_named() {
        let text = r#"
            nodes = 4
            duration = "20s"
            [link]
            latency = "100ms"
            jitter = "30ms"
            loss = 0.05
            [[events]]
            kind = "partition"
            at = "5s"
            groups = [[0, 1], [2, 3]]
            [[events]]
            kind = "heal"
            at = "10s"
            [[events]]
            kind = "slow-link"
            at = "3s"
            from = [0]
            latency = "400ms"
            duration = "2s"
        "#;
        let s = Scenario::from_toml(text).unwrap();
        assert_eq!(s.events.len(), 3);
        assert_eq!(s.link.latency.0, Duration::from_millis(100));
        let bad = text.replace("[2, 3]", "[2, 9]");
        let err = Scenario::from_toml(&bad).unwrap_err().to_string();
        assert!(err.contains("node 9 does not exist"), "{err}");
    }

    const COMPUTE: &str = r#"
        nodes = 4
        validators = 2
        duration = "10s"
        [compute]
        jobs = 4
        miner_node = 3
        miners = ["eve"]
        verifier_node = 2
        verifier = "ferdie"
    "#;

    fn with(extra: &str) -> std::result::Result<Scenario, String> {
        Scenario::from_toml(&format!("{COMPUTE}\n{extra}")).map_err(|e| e.to_string())
    }

    #[test]
    fn compute_scenarios_parse_and_contradictions_are_named() {
        let s = with("[[byzantine]]\nnode = 3\nkind = \"lazy\"").unwrap();
        assert_eq!(s.cheat(), Some(ergon::node::compute::Cheat::Lazy));
        assert!(s.verifier_works());
        let silent =
            "[[byzantine]]\nnode = 3\nkind = \"wrong-output\"\n[[byzantine]]\nnode = 2\nkind = \"silent-verifier\"";
        let err = with(silent).unwrap_err();
        assert!(err.contains("expect_caught = false"), "{err}");
        let s = Scenario::from_toml(&format!("{}\nexpect_caught = false\n{silent}", COMPUTE.trim_end())).unwrap();
        assert!(!s.verifier_works());
        let err = with("[[byzantine]]\nnode = 3\nkind = \"colluding-coordinator\"").unwrap_err();
        assert!(err.contains("attests a cheating miner"), "{err}");
        let err = with("[[byzantine]]\nnode = 1\nkind = \"inflated-units\"").unwrap_err();
        assert!(err.contains("runs no miners"), "{err}");
        let err = with("[[byzantine]]\nnode = 3\nkind = \"lazy\"\nfrom = \"2s\"").unwrap_err();
        assert!(err.contains("whole run"), "{err}");
        let err = Scenario::from_toml(&COMPUTE.replace("\"eve\"", "\"mallory\"")).unwrap_err().to_string();
        assert!(err.contains("not a dev key name"), "{err}");
        let err = Scenario::from_toml(&COMPUTE.replace("\"ferdie\"", "\"eve\"")).unwrap_err().to_string();
        assert!(err.contains("two roles"), "{err}");
        // An equivocator is still named by its validator index.
        let s = with("[[byzantine]]\nvalidator = 1\nkind = \"equivocate\"").unwrap();
        assert_eq!(s.byzantine[0].node, 1);
        assert!(with("[[byzantine]]\nvalidator = 3\nkind = \"equivocate\"").unwrap_err().contains("does not exist"));
    }

    #[test]
    fn every_shipped_scenario_is_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut compute = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if s.compute.is_some() {
                compute += 1;
                assert!(s.validators <= 4 && s.nodes <= 4, "{}", path.display());
            }
        }
        assert_eq!(compute, 6);
    }
}
