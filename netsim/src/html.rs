//! The HTML page of a run: one self-contained file (inline SVG and CSS; no scripts, fonts or
//! anything fetched), so it opens anywhere offline. In order: the verdict and the checks, the
//! scenario's parameters, a legend of the nodes (validators and full nodes, the crashed and
//! the byzantine marked), the height, throughput, mempool size and peer count of every node
//! over time with the events marked, the block propagation histogram (both axes logarithmic,
//! so the tail shows), the finality CDF, every node's final state, the evidence, the events
//! as sentences, and the text summary.
//!
//! Times on the page count from the scenario's start (every node up), as the scenario's own
//! times do; the recorder's clock also counts the startup, which is subtracted here.

use crate::recorder::Sample;
use crate::report::{Percentiles, Report};
use crate::scenario::{trim_number, ByzantineKind, Expect, Scenario};
use crate::schedule::{node_set, Action};
use std::fmt::Write as _;

/// Text made safe to put inside HTML elements and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

// ---------------------------------------------------------------------------------------
// Scales and plots
// ---------------------------------------------------------------------------------------

/// Maps values on an axis to 0..=1, linearly or logarithmically.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
}

impl Scale {
    pub fn linear(lo: f64, hi: f64) -> Scale {
        Scale { lo, hi: if hi > lo { hi } else { lo + 1.0 }, log: false }
    }

    /// `lo` must be positive (it is raised to a tiny positive value otherwise).
    pub fn log(lo: f64, hi: f64) -> Scale {
        let lo = lo.max(1e-6);
        Scale { lo, hi: if hi > lo { hi } else { lo * 10.0 }, log: true }
    }

    /// Where `v` falls, 0 at `lo` and 1 at `hi`, clamped.
    pub fn frac(&self, v: f64) -> f64 {
        let f = if self.log {
            (v.max(self.lo).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        f.clamp(0.0, 1.0)
    }

    /// Values to label: powers of ten on a log scale (with 2x and 5x when it spans less
    /// than three decades), round steps of 1, 2 or 5 x 10^k on a linear one.
    pub fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.log10().ceil() as i32, self.hi.log10().floor() as i32);
            let decades: Vec<f64> = (a..=b).map(|k| 10f64.powi(k)).collect();
            if decades.len() >= 3 {
                return decades;
            }
            let (first, last) = (self.lo.log10().floor() as i32, self.hi.log10().ceil() as i32);
            return (first..=last)
                .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
                .filter(|v| *v >= self.lo * 0.999 && *v <= self.hi * 1.001)
                .collect();
        }
        let raw = (self.hi - self.lo) / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
        let mut v = (self.lo / step).ceil() * step;
        let mut out = Vec::new();
        while v <= self.hi + step * 1e-9 && out.len() < 20 {
            out.push(v);
            v += step;
        }
        out
    }
}

const W: f64 = 880.0;
const H: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
/// Above the plot: four rows of marker labels, so that they never cover the data.
const TOP: f64 = 62.0;
const BOTTOM: f64 = 42.0;

/// One SVG chart: axes with ticks and labels, then whatever is drawn on it.
struct Plot {
    svg: String,
    x: Scale,
    y: Scale,
    markers: usize,
}

struct Axis<'a> {
    scale: Scale,
    label: &'a str,
    format: fn(f64) -> String,
}

impl Plot {
    fn new(id: &str, title: &str, x: Axis, y: Axis) -> Plot {
        let mut svg = format!(
            r#"<svg id="{id}" class="chart" role="img" aria-label="{t}" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}"><title>{t}</title>"#,
            t = esc(title)
        );
        let mut p = Plot { svg: String::new(), x: x.scale, y: y.scale, markers: 0 };
        let (bottom, right) = (H - BOTTOM, W - RIGHT);
        for v in y.scale.ticks() {
            let py = p.py(v);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{right}" y2="{py:.1}" stroke="#e4e4e4"/><text x="{lx}" y="{py:.1}" class="tick" text-anchor="end" dominant-baseline="middle">{}</text>"##,
                esc(&(y.format)(v)),
                lx = LEFT - 6.0
            );
        }
        for v in x.scale.ticks() {
            let px = p.px(v);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" y1="{bottom}" x2="{px:.1}" y2="{b2}" stroke="#333"/><text x="{px:.1}" y="{ty}" class="tick" text-anchor="middle">{}</text>"##,
                esc(&(x.format)(v)),
                b2 = bottom + 4.0,
                ty = bottom + 16.0
            );
        }
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#333"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/><text x="{cx:.1}" y="{ly}" class="label" text-anchor="middle">{}</text><text x="14" y="{cy:.1}" class="label" text-anchor="middle" transform="rotate(-90 14 {cy:.1})">{}</text>"##,
            esc(x.label),
            esc(y.label),
            cx = (LEFT + right) / 2.0,
            ly = H - 6.0,
            cy = (TOP + bottom) / 2.0
        );
        p.svg = svg;
        p
    }

    fn px(&self, v: f64) -> f64 {
        LEFT + self.x.frac(v) * (W - LEFT - RIGHT)
    }

    fn py(&self, v: f64) -> f64 {
        H - BOTTOM - self.y.frac(v) * (H - TOP - BOTTOM)
    }

    /// A line through `points`, lifted where a point is `None` (a node down).
    fn line(&mut self, points: &[Option<(f64, f64)>], stroke: &str, dash: &str, title: &str) {
        let mut d = String::new();
        let mut pen_down = false;
        for p in points {
            match p {
                Some((x, y)) => {
                    let _ = write!(d, "{}{:.1},{:.1} ", if pen_down { "L" } else { "M" }, self.px(*x), self.py(*y));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        if d.is_empty() {
            return;
        }
        let _ = write!(
            self.svg,
            r#"<path class="series" d="{d}" fill="none" stroke="{stroke}" stroke-width="1.6" stroke-dasharray="{dash}" stroke-linejoin="round"><title>{}</title></path>"#,
            esc(title)
        );
    }

    /// A bar from the bottom of the plot to `y`, between `x0` and `x1`.
    fn bar(&mut self, x0: f64, x1: f64, y: f64, title: &str) {
        let (a, b, top) = (self.px(x0), self.px(x1), self.py(y));
        let _ = write!(
            self.svg,
            r##"<rect class="bar" x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#4a7bd0"><title>{}</title></rect>"##,
            a + 0.5,
            (b - a - 1.0).max(1.0),
            (H - BOTTOM - top).max(0.0),
            esc(title)
        );
    }

    /// A dashed vertical line at `x`, labelled above the plot (labels in four rows, in turn,
    /// so that close markers stay readable; the line reaches up to its label).
    fn marker(&mut self, x: f64, colour: &str, label: &str) {
        let px = self.px(x);
        let row = self.markers % 4;
        let label_y = 14.0 + 12.0 * row as f64;
        let top = if label.is_empty() { TOP } else { label_y + 3.0 };
        let _ = write!(
            self.svg,
            r#"<line class="marker" x1="{px:.1}" y1="{top:.1}" x2="{px:.1}" y2="{b}" stroke="{colour}" stroke-dasharray="4 3"/>"#,
            b = H - BOTTOM
        );
        if label.is_empty() {
            return;
        }
        self.markers += 1;
        let (tx, anchor) = if px > W - 160.0 { (px - 3.0, "end") } else { (px + 3.0, "start") };
        let _ = write!(
            self.svg,
            r#"<text class="mark" x="{tx:.1}" y="{label_y:.1}" fill="{colour}" text-anchor="{anchor}">{}</text>"#,
            esc(label)
        );
    }

    /// A strip along the bottom of the plot from `x0` to `x1` (a node down).
    fn strip(&mut self, x0: f64, x1: f64, colour: &str, title: &str) {
        let (a, b) = (self.px(x0), self.px(x1));
        let _ = write!(
            self.svg,
            r#"<rect class="down" x="{a:.1}" y="{y:.1}" width="{:.1}" height="6" fill="{colour}" opacity="0.7"><title>{}</title></rect>"#,
            (b - a).max(2.0),
            esc(title),
            y = H - BOTTOM - 8.0
        );
    }

    fn finish(mut self) -> String {
        self.svg.push_str("</svg>");
        self.svg
    }
}

/// A chart's place when there is nothing to draw, saying why.
fn empty_chart(id: &str, why: &str) -> String {
    format!(
        r#"<svg id="{id}" class="chart empty" xmlns="http://www.w3.org/2000/svg" width="{W}" height="60" viewBox="0 0 {W} 60"><text x="{LEFT}" y="34" class="label">{}</text></svg>"#,
        esc(why)
    )
}

fn fmt_number(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{}M", trim_number(v / 1e6, 1))
    } else if v.abs() >= 1e3 {
        format!("{}k", trim_number(v / 1e3, 1))
    } else {
        trim_number(v, 2)
    }
}

/// A delay in ms as a person reads it: `0.5 ms`, `120 ms`, `2.5 s`.
pub fn fmt_ms(v: f64) -> String {
    if v < 1000.0 {
        format!("{} ms", trim_number(v, if v < 10.0 { 1 } else { 0 }))
    } else {
        format!("{} s", trim_number(v / 1000.0, 2))
    }
}

fn fmt_percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

// ---------------------------------------------------------------------------------------
// Aggregations
// ---------------------------------------------------------------------------------------

/// One bin of a histogram: values in `lo..hi` (the last bin also holds `hi`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bin {
    pub lo: f64,
    pub hi: f64,
    pub count: usize,
}

/// Logarithmic bins, `per_decade` to a factor of ten, from the decade below the smallest
/// value (at least 0.1) up to the largest: every value, the slowest too, lands in one. Values
/// below the first edge (0 ms) count in the first bin.
pub fn log_bins(values: &[f64], per_decade: usize) -> Vec<Bin> {
    let Some(max) = values.iter().copied().filter(|v| v.is_finite()).reduce(f64::max) else { return Vec::new() };
    let smallest = values.iter().copied().filter(|v| *v > 0.0 && v.is_finite()).reduce(f64::min).unwrap_or(1.0);
    let lo = 10f64.powf(smallest.max(0.1).log10().floor());
    let per_decade = per_decade.max(1) as f64;
    let n = ((max.max(lo) / lo).log10() * per_decade).ceil().max(1.0) as usize;
    let edge = |k: usize| lo * 10f64.powf(k as f64 / per_decade);
    let mut bins: Vec<Bin> = (0..n).map(|k| Bin { lo: edge(k), hi: edge(k + 1), count: 0 }).collect();
    for v in values.iter().filter(|v| v.is_finite()) {
        let k = ((v.max(lo) / lo).log10() * per_decade).floor().max(0.0) as usize;
        if let Some(b) = bins.get_mut(k.min(n - 1)) {
            b.count += 1;
        }
    }
    bins
}

/// The empirical CDF of `values`: (value, fraction of values at or below it), sorted, at most
/// `max_points` points (evenly spaced ranks, the first and the last kept).
pub fn cdf(values: &[f64], max_points: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let points = max_points.clamp(2, n.max(2));
    let ranks: Vec<usize> =
        if n <= points { (0..n).collect() } else { (0..points).map(|k| k * (n - 1) / (points - 1)).collect() };
    ranks.into_iter().filter_map(|i| v.get(i).map(|x| (*x, (i + 1) as f64 / n as f64))).collect()
}

/// Scenario time (s) of a recorder time (ms).
fn scenario_secs(r: &Report, t_ms: u64) -> f64 {
    t_ms.saturating_sub(r.startup_ms) as f64 / 1000.0
}

/// The events as sentences with their scenario times (ms), in order. A crash storm's kills
/// and restarts become one sentence; a heal names the partition it heals; an equivocator's
/// start and stop are events too.
pub fn event_sentences(r: &Report) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = Vec::new();
    for b in r.parameters.byzantine.iter().filter(|b| b.kind == ByzantineKind::Equivocate) {
        let from = b.from.map_or(2000, |s| u64::try_from(s.0.as_millis()).unwrap_or(u64::MAX));
        out.push((
            from,
            format!(
                "validator {} starts equivocating: two prevotes and two precommits for each round it reaches",
                b.node
            ),
        ));
        if let Some(until) = b.until {
            out.push((
                u64::try_from(until.0.as_millis()).unwrap_or(u64::MAX),
                format!("validator {} stops equivocating", b.node),
            ));
        }
    }
    let events = &r.schedule.events;
    let mut partition: Option<String> = None;
    let mut i = 0;
    while let Some(e) = events.get(i) {
        i += 1;
        match &e.action {
            Action::Partition { groups } => {
                let sides: Vec<String> = groups.iter().map(|g| node_set(g)).collect();
                partition = Some(sides.join(" | "));
                out.push((e.at_ms, e.action.to_string()));
            }
            Action::Heal => {
                let text = match partition.take() {
                    Some(sides) => format!("partition {sides} healed: every link is back"),
                    None => e.action.to_string(),
                };
                out.push((e.at_ms, text));
            }
            Action::StormKill { nodes, until_height } => {
                // The kills and restarts of this storm that follow one another.
                let run: Vec<_> = events[i - 1..]
                    .iter()
                    .take_while(|x| match &x.action {
                        Action::StormKill { nodes: n, .. } | Action::StormRestart { nodes: n } => n == nodes,
                        _ => false,
                    })
                    .collect();
                i += run.len() - 1;
                let kills = run.iter().filter(|x| matches!(x.action, Action::StormKill { .. })).count();
                let down = run
                    .get(1)
                    .filter(|x| matches!(x.action, Action::StormRestart { .. }))
                    .map(|x| format!(", each followed by a restart {} later", secs(x.at_ms - e.at_ms)));
                let last = run.last().map_or(e.at_ms, |x| x.at_ms);
                let mut text = format!(
                    "crash storm on nodes {}: {kills} kills of them all at once until {}{}",
                    node_set(nodes),
                    secs(last),
                    down.unwrap_or_default()
                );
                if let Some(h) = until_height {
                    let _ = write!(text, "; no more kills once some node has reached height {h}");
                }
                out.push((e.at_ms, text));
            }
            _ => out.push((e.at_ms, e.action.to_string())),
        }
    }
    out.push((r.duration_ms, "the scenario ends; the nodes settle, stop and are checked".into()));
    out.sort_by_key(|(t, _)| *t);
    out
}

/// A short label for an event's mark on the time charts; `None` for a storm's (dozens).
fn mark_label(action: &Action) -> Option<(String, &'static str)> {
    Some(match action {
        Action::Partition { .. } => ("partition".into(), "#c62828"),
        Action::Heal => ("healed".into(), "#2e7d32"),
        Action::Crash { node } => (format!("node {node} crashed"), "#e65100"),
        Action::Restart { node } => (format!("node {node} restarted"), "#1565c0"),
        Action::SetLinks { profile: Some(_), .. } => ("slow link".into(), "#757575"),
        Action::SetLinks { profile: None, .. } => ("links back".into(), "#757575"),
        Action::StormKill { .. } | Action::StormRestart { .. } => return None,
    })
}

// ---------------------------------------------------------------------------------------
// Nodes: colours, roles, what happened to them
// ---------------------------------------------------------------------------------------

fn colour(i: usize, n: usize) -> String {
    let hue = (i as f64 * 360.0 / n.max(1) as f64 + 210.0) % 360.0;
    format!("hsl({hue:.0},70%,42%)")
}

/// Validators are drawn solid, full nodes dashed.
fn dash(r: &Report, node: usize) -> &'static str {
    if r.schedule.is_validator(node) {
        ""
    } else {
        "5 3"
    }
}

fn role(r: &Report, node: usize) -> &'static str {
    if r.schedule.is_validator(node) {
        "validator"
    } else {
        "full node"
    }
}

fn byzantine_kinds(p: &Scenario, node: usize) -> Vec<&'static str> {
    p.byzantine.iter().filter(|b| b.node == node).map(|b| b.kind.name()).collect()
}

/// What happened to a node: crashes (with times when there were few) and whether it was up
/// at the end.
fn fate(r: &Report, node: usize) -> Option<String> {
    let end = r.final_nodes.iter().find(|n| n.node == node)?;
    let mut parts = Vec::new();
    if end.crashes > 0 {
        let times: Vec<String> = r
            .schedule
            .events
            .iter()
            .filter_map(|e| match e.action {
                Action::Crash { node: n } if n == node => Some(format!("crashed at {}", secs(e.at_ms))),
                Action::Restart { node: n } if n == node => Some(format!("restarted at {}", secs(e.at_ms))),
                _ => None,
            })
            .collect();
        if end.crashes <= 3 && !times.is_empty() {
            parts.push(times.join(", "));
        } else {
            parts.push(format!("crashed {} times", end.crashes));
        }
    }
    if !end.up {
        parts.push("down at the end".into());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn swatch(r: &Report, node: usize) -> String {
    format!(
        r#"<svg class="swatch" width="30" height="10" viewBox="0 0 30 10"><line x1="1" y1="5" x2="29" y2="5" stroke="{}" stroke-width="2.5" stroke-dasharray="{}"/></svg>"#,
        colour(node, r.nodes),
        dash(r, node)
    )
}

fn legend(r: &Report) -> String {
    let mut html = String::from(r#"<div id="legend" class="legend">"#);
    for node in 0..r.nodes {
        let _ = write!(
            html,
            r#"<div class="node" data-node="{node}">{}<b>node {node}</b> <span class="role">{}</span>"#,
            swatch(r, node),
            role(r, node)
        );
        for kind in byzantine_kinds(&r.parameters, node) {
            let _ = write!(html, r#" <span class="tag byzantine">byzantine: {}</span>"#, esc(kind));
        }
        if let Some(f) = fate(r, node) {
            let _ = write!(html, r#" <span class="tag crashed">{}</span>"#, esc(&f));
        }
        html.push_str("</div>");
    }
    html.push_str(
        r#"</div><p class="note">Validators are drawn solid, full nodes dashed, in the same colour on every chart.</p>"#,
    );
    html
}

// ---------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------

/// The time axis every time chart shares: the scenario's start to its end or the last thing
/// recorded, whichever is later.
fn time_scale(r: &Report) -> Scale {
    let last = r
        .samples
        .last()
        .map(|s| s.t_ms)
        .into_iter()
        .chain(r.blocks.last().map(|b| b.at_ms))
        .map(|t| scenario_secs(r, t))
        .fold(r.duration_ms as f64 / 1000.0, f64::max);
    Scale::linear(0.0, last.max(1.0))
}

fn time_axis(r: &Report) -> Axis<'static> {
    Axis { scale: time_scale(r), label: "time since the scenario started (s)", format: |v| trim_number(v, 1) }
}

fn mark_events(p: &mut Plot, r: &Report) {
    for e in &r.schedule.events {
        let x = e.at_ms as f64 / 1000.0;
        match mark_label(&e.action) {
            Some((label, colour)) => p.marker(x, colour, &label),
            None => p.marker(x, "#e6510066", ""),
        }
    }
}

/// One line per node through `value` of each sample (a gap where it is `None`).
fn per_node_chart(
    r: &Report,
    id: &str,
    title: &str,
    y_label: &str,
    value: impl Fn(&Sample, usize) -> Option<f64>,
    decorate: impl FnOnce(&mut Plot),
) -> String {
    let top = r.samples.iter().flat_map(|s| (0..r.nodes).filter_map(|n| value(s, n))).fold(0.0, f64::max);
    if r.samples.is_empty() {
        return empty_chart(id, "no samples were taken");
    }
    let y = Axis { scale: Scale::linear(0.0, (top * 1.08).max(1.0)), label: y_label, format: fmt_number };
    let mut p = Plot::new(id, title, time_axis(r), y);
    mark_events(&mut p, r);
    for node in 0..r.nodes {
        let points: Vec<Option<(f64, f64)>> =
            r.samples.iter().map(|s| value(s, node).map(|v| (scenario_secs(r, s.t_ms), v))).collect();
        let name = format!("node {node} ({})", role(r, node));
        p.line(&points, &colour(node, r.nodes), dash(r, node), &name);
    }
    decorate(&mut p);
    p.finish()
}

/// Every node's height, with a strip in its colour along the bottom while it was down.
fn heights_chart(r: &Report) -> String {
    let value = |s: &Sample, n: usize| s.heights.get(n).copied().flatten().map(|h| h as f64);
    per_node_chart(r, "heights", "Height of every node over time", "height", value, |p| {
        for node in 0..r.nodes {
            for (from, to) in down_spans(&r.samples, node) {
                let (a, b) = (scenario_secs(r, from), scenario_secs(r, to));
                p.strip(a, b, &colour(node, r.nodes), &format!("node {node} down from {a:.1} s to {b:.1} s"));
            }
        }
    })
}

/// When `node` was seen down: from the first sample without a height to the next with one
/// (or the last sample), in recorder ms.
pub fn down_spans(samples: &[Sample], node: usize) -> Vec<(u64, u64)> {
    let mut spans = Vec::new();
    let mut since = None;
    for s in samples {
        let down = s.heights.get(node).is_some_and(|h| h.is_none());
        match (down, since) {
            (true, None) => since = Some(s.t_ms),
            (false, Some(from)) => {
                spans.push((from, s.t_ms));
                since = None;
            }
            _ => {}
        }
    }
    if let (Some(from), Some(last)) = (since, samples.last()) {
        spans.push((from, last.t_ms));
    }
    spans
}

fn throughput_chart(r: &Report) -> String {
    if r.throughput.is_empty() {
        return empty_chart("throughput", "no transaction was submitted and no block committed");
    }
    let top = r.throughput.iter().map(|t| t.submitted.max(t.committed)).max().unwrap_or(0) as f64;
    let y =
        Axis { scale: Scale::linear(0.0, (top * 1.08).max(1.0)), label: "transactions per second", format: fmt_number };
    let mut p = Plot::new("throughput", "Transactions submitted and committed per second", time_axis(r), y);
    mark_events(&mut p, r);
    let at = |t: &crate::report::Throughput| t.second as f64 + 0.5;
    let submitted: Vec<_> = r.throughput.iter().map(|t| Some((at(t), t.submitted as f64))).collect();
    let committed: Vec<_> = r.throughput.iter().map(|t| Some((at(t), t.committed as f64))).collect();
    p.line(&submitted, "#9e9e9e", "5 3", "submitted per second");
    p.line(&committed, "#1565c0", "", "committed per second (in blocks first committed that second)");
    p.finish()
}

const PERCENTILE_COLOURS: [(&str, &str); 4] =
    [("p50", "#2e7d32"), ("p95", "#ef6c00"), ("p99", "#c62828"), ("max", "#6a1b9a")];

fn percentile_marks(p: &mut Plot, q: &Percentiles) {
    for ((name, colour), v) in PERCENTILE_COLOURS.iter().zip([q.p50, q.p95, q.p99, q.max]) {
        if let Some(v) = v {
            p.marker(v, colour, &format!("{name} {}", fmt_ms(v)));
        }
    }
}

fn propagation_chart(r: &Report) -> String {
    let bins = log_bins(&r.propagation_values_ms, 10);
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        return empty_chart("propagation", "no block reached a second node");
    };
    let top = bins.iter().map(|b| b.count).max().unwrap_or(1) as f64;
    let x = Axis {
        scale: Scale::log(first.lo, last.hi),
        label: "delay from a block's first commit (log scale)",
        format: fmt_ms,
    };
    let y = Axis { scale: Scale::log(0.7, top * 1.6), label: "arrivals (log)", format: fmt_number };
    let mut p = Plot::new("propagation", "Block propagation delay", x, y);
    for b in bins.iter().filter(|b| b.count > 0) {
        let title = format!("{} to {}: {} arrivals", fmt_ms(b.lo), fmt_ms(b.hi), b.count);
        p.bar(b.lo, b.hi, b.count as f64, &title);
    }
    percentile_marks(&mut p, &r.block_propagation_ms);
    p.finish()
}

fn finality_chart(r: &Report) -> String {
    let points = cdf(&r.finality_values_ms, 1000);
    let Some(max) = points.last().map(|p| p.0) else {
        return empty_chart("finality", "no transaction of the load was included");
    };
    let x = Axis {
        scale: Scale::linear(0.0, max * 1.02),
        label: "from a tx's submission to the first commit of its block",
        format: fmt_ms,
    };
    let y = Axis { scale: Scale::linear(0.0, 1.0), label: "share of included txs", format: fmt_percent };
    let mut p = Plot::new("finality", "Finality: cumulative distribution", x, y);
    // Steps: the share rises at each value.
    let mut steps = vec![Some((0.0, 0.0))];
    let mut below = 0.0;
    for (v, f) in &points {
        steps.push(Some((*v, below)));
        steps.push(Some((*v, *f)));
        below = *f;
    }
    p.line(&steps, "#1565c0", "", "share of included txs final within this long");
    percentile_marks(&mut p, &r.finality_ms);
    p.finish()
}

// ---------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------

fn expectation(e: &Expect) -> String {
    match e {
        Expect::Evidence { against, included } => format!(
            "every honest validator records evidence against validator {against}{}",
            if *included { ", and a block carries it" } else { "" }
        ),
        Expect::Halt { from, until, resume_within } => {
            let resume = resume_within.map(|w| format!(", then a new height within {w}")).unwrap_or_default();
            format!("no height committed from {from} to {until}{resume}")
        }
        Expect::MinHeight { height } => format!("every honest validator up at the end reaches height {height}"),
        Expect::NoEvidence => "nobody records an equivocation".into(),
    }
}

fn parameters(r: &Report) -> String {
    let p = &r.parameters;
    let mut rows: Vec<(&str, String)> = vec![
        ("scenario", format!("{} (seed {})", p.name, r.seed)),
        (
            "nodes",
            format!(
                "{}: validators {} with equal stakes, full nodes {}",
                r.nodes,
                node_set(&(0..r.validators).collect::<Vec<_>>()),
                node_set(&(r.validators..r.nodes).collect::<Vec<_>>())
            ),
        ),
        ("duration", format!("{} (then up to {} to converge)", p.duration, p.converge_within)),
        ("block time", p.block_time.to_string()),
        ("bootnodes", format!("{} per node, chosen by the seed among the nodes before it", p.degree)),
        ("links", p.link.to_string()),
    ];
    rows.push((
        "load",
        match &p.load {
            Some(l) if l.tps > 0.0 => format!(
                "{} tx/s (Poisson arrivals) from {} accounts, from {} to {}",
                trim_number(l.tps, 2),
                l.accounts,
                l.start.map_or("1 s".into(), |s| s.to_string()),
                l.stop.map_or("the end".into(), |s| s.to_string())
            ),
            _ => "none".into(),
        },
    ));
    let byzantine: Vec<String> = p
        .byzantine
        .iter()
        .map(|b| {
            let from = if b.kind == ByzantineKind::Equivocate {
                format!(" from {}", b.from.map_or("2 s".into(), |s| s.to_string()))
            } else {
                String::new()
            };
            let until = b.until.map(|u| format!(" until {u}")).unwrap_or_default();
            format!("node {}: {}{from}{until}", b.node, b.kind.name())
        })
        .collect();
    rows.push(("byzantine", if byzantine.is_empty() { "none".into() } else { byzantine.join("; ") }));
    if let Some(c) = &p.compute {
        let verifier = match (&c.verifier, c.verifier_node) {
            (Some(v), Some(n)) => format!("verifier {v} on node {n}"),
            _ => "no verifier".into(),
        };
        rows.push((
            "compute",
            format!(
                "{} jobs posted by {} every {} from {}; miners {} on node {} (coordinator {}); {verifier}",
                c.jobs,
                c.client,
                c.post_every,
                c.post_from,
                c.miners.join(", "),
                c.miner_node,
                c.coordinator
            ),
        ));
    }
    let expect: Vec<String> = p.expect.iter().map(expectation).collect();
    rows.push(("expected", if expect.is_empty() { "the standard checks only".into() } else { expect.join("; ") }));
    rows.push(("liveness window", p.liveness_window.to_string()));
    rows.push((
        "this run",
        format!(
            "{} to start every node, {} wall time{}",
            secs(r.startup_ms),
            secs(r.wall_ms),
            r.peak_rss_bytes.map(|b| format!(", peak RSS {:.0} MiB", b as f64 / 1048576.0)).unwrap_or_default()
        ),
    ));
    let mut html = String::from(r#"<table id="parameters" class="kv">"#);
    for (k, v) in rows {
        let _ = write!(html, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    html.push_str("</table>");
    html
}

fn cell(v: Option<impl ToString>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

fn nodes_table(r: &Report) -> String {
    let mut html = String::from(
        r#"<table id="nodes" class="grid"><thead><tr><th>node</th><th>role</th><th>at the end</th><th class="num">height</th><th>head</th><th class="num">peers</th><th class="num">mempool</th><th class="num">txs on its chain</th><th class="num">crashes</th></tr></thead><tbody>"#,
    );
    for n in &r.final_nodes {
        let head = n.head.as_deref().map_or("-".into(), |h| {
            let short: String = h.chars().take(14).collect();
            format!(r#"<code title="{}">{}…</code>"#, esc(h), esc(&short))
        });
        let mut role = role(r, n.node).to_string();
        for kind in byzantine_kinds(&r.parameters, n.node) {
            let _ = write!(role, ", byzantine ({kind})");
        }
        let _ = write!(
            html,
            r#"<tr><td class="name">{swatch}node {}</td><td>{}</td><td class="{}">{}</td><td class="num">{}</td><td>{head}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            n.node,
            esc(&role),
            if n.up { "ok" } else { "fail" },
            if n.up { "running" } else { "down" },
            cell(n.height),
            cell(n.peers),
            cell(n.mempool),
            n.txs,
            n.crashes,
            swatch = swatch(r, n.node)
        );
    }
    html.push_str("</tbody></table>");
    html
}

fn evidence_table(r: &Report) -> String {
    let mut html = String::new();
    if r.schedule.byzantine.is_empty() {
        html.push_str(r#"<p class="note">No validator equivocates in this scenario: every count should be 0.</p>"#);
    } else {
        let _ = write!(
            html,
            r#"<p class="note">Validators {} published {} conflicting vote pairs. Every honest validator up at the end must record them.</p>"#,
            node_set(&r.schedule.byzantine),
            r.equivocations
        );
    }
    html.push_str(
        r#"<table id="evidence" class="grid"><thead><tr><th>node</th><th>role</th><th class="num">evidence records</th><th>against the equivocators</th></tr></thead><tbody>"#,
    );
    for n in &r.final_nodes {
        let against: Vec<String> = r
            .evidence
            .iter()
            .filter(|e| e.node == n.node)
            .map(|e| {
                let mut heights = e.included_in.clone();
                heights.sort_unstable();
                heights.dedup();
                let carried = match heights.as_slice() {
                    [] => "carried by no block".to_string(),
                    [h] => format!("carried by block {h}"),
                    hs => format!("carried by blocks {}", hs.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
                };
                let records = if e.records == 1 { "record" } else { "records" };
                format!("validator {}: {} {records}, {carried}", e.against, e.records)
            })
            .collect();
        let _ = write!(
            html,
            r#"<tr><td>node {}</td><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            n.node,
            role(r, n.node),
            if n.up { n.evidence.to_string() } else { "- (down)".into() },
            esc(&if against.is_empty() { "-".into() } else { against.join("; ") })
        );
    }
    html.push_str("</tbody></table>");
    html
}

fn events_list(r: &Report) -> String {
    let mut html = String::from(r#"<ul id="events" class="events">"#);
    for (t, text) in event_sentences(r) {
        let _ = write!(html, r#"<li><span class="t">{}</span> {}</li>"#, secs(t), esc(&text));
    }
    html.push_str("</ul>");
    html
}

fn percentiles_line(q: &Percentiles) -> String {
    let f = |v: Option<f64>| v.map_or("-".into(), fmt_ms);
    format!("n = {}: p50 {}, p95 {}, p99 {}, max {}", q.count, f(q.p50), f(q.p95), f(q.p99), f(q.max))
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:940px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\
h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
pre{background:#f5f5f5;padding:1em;overflow-x:auto;font-size:12px}\
table{border-collapse:collapse;font-size:14px}td,th{padding:3px 10px;text-align:left;vertical-align:top}\
.grid th{border-bottom:2px solid #ccc}.grid td{border-bottom:1px solid #eee}.kv th{color:#555;font-weight:600;white-space:nowrap}\
.num{text-align:right}.name{white-space:nowrap}.ok{color:#2e7d32}.fail{color:#c62828;font-weight:bold}\
.chart{max-width:100%;height:auto;display:block;margin:.5em 0}.chart .tick{font-size:11px;fill:#444}\
.chart .label{font-size:12px;fill:#222}.chart .mark{font-size:10px}\
.legend{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:4px 16px;font-size:14px}\
.swatch{vertical-align:middle;margin-right:6px}.role{color:#555}\
.tag{display:inline-block;font-size:12px;border-radius:3px;padding:0 4px;margin-left:4px}.crashed{background:#fff3e0;color:#bf360c}.byzantine{background:#fce4ec;color:#ad1457}\
.note{color:#555;font-size:13px}.key span{margin-right:1.5em}\
.events{list-style:none;padding:0;font-size:14px}.events .t{display:inline-block;min-width:5em;color:#555;font-variant-numeric:tabular-nums}";

pub fn render(r: &Report) -> String {
    let mut html = String::new();
    let verdict = if r.passed { "passed" } else { "FAILED" };
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>netsim {name} (seed {seed}): {verdict}</title><style>{STYLE}</style></head><body>
<h1>netsim {name}: <span id="verdict" class="{cls}">{verdict}</span></h1>"#,
        name = esc(&r.scenario),
        seed = r.seed,
        cls = if r.passed { "ok" } else { "fail" }
    );
    html.push_str(r#"<table id="checks" class="grid"><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>"#);
    for c in &r.checks {
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
            esc(c.name),
            if c.passed { "ok" } else { "fail" },
            if c.passed { "ok" } else { "FAIL" },
            esc(&c.detail)
        );
    }
    html.push_str("</tbody></table>");
    let _ = write!(html, "<h2>Scenario</h2>{}", parameters(r));
    let _ = write!(html, "<h2>Nodes</h2>{}", legend(r));
    let _ = write!(
        html,
        "<h2>Height over time</h2>{}<p class=\"note\">Each node's committed height every 500 ms. A node down leaves a gap in its line and a strip in its colour along the bottom. Dashed vertical lines are the events below.</p>",
        heights_chart(r)
    );
    let included = r.txs.included;
    let _ = write!(
        html,
        r##"<h2>Throughput</h2>{}<p class="key note"><span><svg width="30" height="10"><line x1="1" y1="5" x2="29" y2="5" stroke="#9e9e9e" stroke-width="2.5" stroke-dasharray="5 3"/></svg> submitted</span><span><svg width="30" height="10"><line x1="1" y1="5" x2="29" y2="5" stroke="#1565c0" stroke-width="2.5"/></svg> committed (in blocks first committed that second)</span> {} submitted, {included} included, {} rejected at submission.</p>"##,
        throughput_chart(r),
        r.txs.submitted,
        r.txs.rejected
    );
    let _ = write!(
        html,
        "<h2>Mempool size over time</h2>{}<p class=\"note\">Transactions waiting in each node's mempool (its <code>ergon_mempool_size</code> metric).</p>",
        per_node_chart(
            r,
            "mempool",
            "Mempool size of every node over time",
            "txs in the mempool",
            |s, n| s.mempool.get(n).copied().flatten().map(|v| v as f64),
            |_| {}
        )
    );
    let _ = write!(
        html,
        "<h2>Peers over time</h2>{}<p class=\"note\">Connected peers of each node, as its network reports them.</p>",
        per_node_chart(
            r,
            "peers",
            "Peer count of every node over time",
            "peers",
            |s, n| s.peers.get(n).copied().flatten().map(|v| v as f64),
            |_| {}
        )
    );
    let _ = write!(
        html,
        "<h2>Block propagation</h2>{}<p class=\"note\">From a block's first commit anywhere to its commit on each other node that was up and on the same side. Both axes are logarithmic (10 bins to a factor of ten), so a single late arrival still shows. {}.</p>",
        propagation_chart(r),
        esc(&percentiles_line(&r.block_propagation_ms))
    );
    let _ = write!(
        html,
        "<h2>Finality</h2>{}<p class=\"note\">The share of included transactions that were final within a given time of their submission. {}.</p>",
        finality_chart(r),
        esc(&percentiles_line(&r.finality_ms))
    );
    let _ = write!(html, "<h2>Final state of every node</h2>{}", nodes_table(r));
    let _ = write!(html, "<h2>Evidence</h2>{}", evidence_table(r));
    let _ = write!(html, "<h2>Events</h2>{}", events_list(r));
    let _ = write!(html, "<h2>Summary</h2><pre id=\"summary\">{}</pre>", esc(&r.summary()));
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Check;
    use crate::recorder::BlockCommit;
    use crate::report::{throughput, NodeEnd, Traffic, Txs};
    use crate::scenario::{Byzantine, EventSpec, NodePick, Span};
    use crate::schedule::Schedule;
    use std::time::Duration;

    fn report() -> Report {
        let mut s = Scenario::quick(4, 2, Duration::from_secs(10));
        s.name = "a <b>\"test\"</b>".into();
        s.events = vec![
            EventSpec::Partition { at: Span(Duration::from_secs(2)), groups: Some(vec![vec![0, 1]]), sides: None },
            EventSpec::Heal { at: Span(Duration::from_secs(4)) },
            EventSpec::Crash {
                at: Span(Duration::from_secs(5)),
                node: NodePick::Index(3),
                restart_after: Some(Span(Duration::from_secs(2))),
            },
        ];
        s.byzantine = vec![Byzantine { node: 1, kind: ByzantineKind::Equivocate, from: None, until: None }];
        let schedule = Schedule::build(&s).unwrap();
        let startup = 1500;
        let samples: Vec<Sample> = (0..24)
            .map(|k| {
                let t = startup + k * 500;
                let down = (5000..7000).contains(&(k * 500));
                Sample {
                    t_ms: t,
                    heights: (0..4).map(|n| (!(down && n == 3)).then_some(k / 2)).collect(),
                    quorum: true,
                    mempool: (0..4).map(|n| (!(down && n == 3)).then_some(k % 5)).collect(),
                    peers: (0..4).map(|n| (!(down && n == 3)).then_some(3)).collect(),
                }
            })
            .collect();
        let blocks: Vec<BlockCommit> =
            (1..12).map(|h| BlockCommit { height: h, at_ms: startup + h * 1000, first_node: 0, txs: 2 }).collect();
        let propagation: Vec<f64> = (0..200).map(|k| 5.0 + k as f64 / 10.0).chain([2500.0]).collect();
        let finality: Vec<f64> = (0..50).map(|k| 300.0 + 10.0 * k as f64).collect();
        let final_nodes = (0..4)
            .map(|n| NodeEnd {
                node: n,
                validator: n < 2,
                up: true,
                height: Some(11),
                head: Some(format!("0x{}", "ab".repeat(32))),
                crashes: u32::from(n == 3),
                peers: Some(3),
                mempool: Some(0),
                txs: 22,
                evidence: usize::from(n == 0),
            })
            .collect();
        Report {
            scenario: s.name.clone(),
            seed: 0,
            nodes: 4,
            validators: 2,
            duration_ms: 10_000,
            startup_ms: startup,
            wall_ms: 14_000,
            peak_rss_bytes: None,
            passed: true,
            converged: true,
            checks: vec![Check::pass("safety", "no <conflict>")],
            final_nodes,
            distinct_heads: 1,
            converge_after_disturbance_ms: Some(900),
            block_propagation_ms: Percentiles::of(&propagation),
            finality_ms: Percentiles::of(&finality),
            txs: Txs { submitted: 22, included: 22, rejected: 0 },
            traffic: Traffic::default(),
            evidence: vec![crate::checks::EvidenceSeen {
                node: 0,
                validator: true,
                against: 1,
                records: 1,
                included_in: vec![7],
            }],
            equivocations: 3,
            compute: None,
            parameters: s,
            schedule,
            samples,
            throughput: throughput(&[startup + 100, startup + 1200], &blocks, startup),
            blocks,
            propagation_values_ms: propagation,
            finality_values_ms: finality,
        }
    }

    #[test]
    fn scales_map_and_tick() {
        let lin = Scale::linear(0.0, 10.0);
        assert_eq!(lin.frac(5.0), 0.5);
        assert_eq!(lin.ticks(), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        let log = Scale::log(1.0, 10_000.0);
        assert!((log.frac(100.0) - 0.5).abs() < 1e-9);
        assert_eq!(log.ticks(), vec![1.0, 10.0, 100.0, 1000.0, 10_000.0]);
        // Less than three decades: 1-2-5 steps.
        assert_eq!(Scale::log(1.0, 60.0).ticks(), vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        assert_eq!(Scale::linear(3.0, 3.0).hi, 4.0, "an empty range still draws");
    }

    #[test]
    fn log_bins_hold_every_value_the_tail_too() {
        let values = [0.0, 3.0, 4.0, 40.0, 41.0, 42.0, 27_300.0];
        let bins = log_bins(&values, 10);
        assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), values.len());
        assert_eq!(bins.first().map(|b| b.lo), Some(1.0), "from the decade below the smallest positive value");
        let last = bins.last().unwrap();
        assert!(last.count == 1 && last.hi >= 27_300.0 && last.lo <= 27_300.0, "{last:?}");
        assert!(bins.windows(2).all(|w| (w[0].hi - w[1].lo).abs() < 1e-9), "contiguous");
        assert!(log_bins(&[], 10).is_empty());
        assert_eq!(log_bins(&[5.0], 10).iter().map(|b| b.count).sum::<usize>(), 1);
    }

    #[test]
    fn cdf_rises_to_one_and_is_thinned() {
        let c = cdf(&[3.0, 1.0, 2.0, 2.0], 100);
        assert_eq!(c, vec![(1.0, 0.25), (2.0, 0.5), (2.0, 0.75), (3.0, 1.0)]);
        let many: Vec<f64> = (0..10_000).map(f64::from).collect();
        let c = cdf(&many, 50);
        assert_eq!(c.len(), 50);
        assert_eq!(c.first(), Some(&(0.0, 1e-4)));
        assert_eq!(c.last(), Some(&(9999.0, 1.0)));
        assert!(c.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert!(cdf(&[], 10).is_empty());
    }

    #[test]
    fn events_read_as_sentences() {
        let r = report();
        let e = event_sentences(&r);
        let texts: Vec<&str> = e.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "validator 1 starts equivocating: two prevotes and two precommits for each round it reaches",
                "partition: {0, 1} | {2, 3}",
                "partition {0, 1} | {2, 3} healed: every link is back",
                "node 3 crashed",
                "node 3 restarted on its store",
                "the scenario ends; the nodes settle, stop and are checked",
            ]
        );
        assert_eq!(e.iter().map(|(t, _)| *t).collect::<Vec<_>>(), vec![2000, 2000, 4000, 5000, 7000, 10_000]);
    }

    #[test]
    fn a_crash_storm_is_one_sentence() {
        let mut r = report();
        let mut s = Scenario::quick(4, 4, Duration::from_secs(20));
        s.events = vec![EventSpec::CrashStorm {
            at: Span(Duration::from_secs(1)),
            until: Span(Duration::from_secs(15)),
            nodes: None,
            up_min: Span(Duration::from_millis(500)),
            up_max: Span(Duration::from_secs(1)),
            down: Span(Duration::from_millis(100)),
            until_height: Some(50),
        }];
        r.schedule = Schedule::build(&s).unwrap();
        r.parameters = s;
        let e = event_sentences(&r);
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].1.starts_with("crash storm on nodes {0-3}: "), "{}", e[0].1);
        assert!(e[0].1.contains("each followed by a restart 0.1 s later"), "{}", e[0].1);
        assert!(e[0].1.ends_with("once some node has reached height 50"), "{}", e[0].1);
    }

    #[test]
    fn the_page_has_every_part_and_escapes_text() {
        let html = render(&report());
        for id in [
            "checks",
            "parameters",
            "legend",
            "heights",
            "throughput",
            "mempool",
            "peers",
            "propagation",
            "finality",
            "nodes",
            "evidence",
            "events",
            "summary",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "no #{id}");
        }
        assert!(!html.contains("<b>\"test\"</b>") && html.contains("a &lt;b&gt;&quot;test&quot;&lt;/b&gt;"));
        assert!(html.contains("no &lt;conflict&gt;"));
        // Nothing from elsewhere, and no Rust Debug dumps of the events.
        assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("<script"));
        assert!(!html.contains("Crash {") && !html.contains("Partition {"));
        assert!(html.contains(r#"<span class="t">5.0 s</span> node 3 crashed</li>"#));
        // The legend: roles, the byzantine one, the crashed one.
        assert_eq!(html.matches(r#"<div class="node""#).count(), 4);
        assert!(html.contains("byzantine: equivocate"));
        assert!(html.contains("crashed at 5.0 s, restarted at 7.0 s"));
        assert_eq!(html.matches("<span class=\"role\">validator</span>").count(), 2);
        assert_eq!(html.matches("<span class=\"role\">full node</span>").count(), 2);
        // The histogram's tail and its percentiles; the CDF; a line per node on the charts.
        assert!(html.contains("max 2.5 s"), "the tail is marked");
        assert!(html.contains(r#"class="bar""#));
        assert_eq!(html.matches(r#"class="series""#).count(), 3 * 4 + 2 + 1, "per node x 3 charts, throughput, CDF");
        assert!(html.contains("validator 1: 1 record, carried by block 7"));
    }

    #[test]
    fn down_spans_run_from_the_first_sample_down_to_the_next_up() {
        let r = report();
        // Node 3 is down in the samples at 5.0 s to 6.5 s (recorder time + 1.5 s of startup).
        assert_eq!(down_spans(&r.samples, 3), vec![(6500, 8500)]);
        assert!(down_spans(&r.samples, 0).is_empty());
        let mut tail = r.samples.clone();
        tail.truncate(14);
        assert_eq!(down_spans(&tail, 3), vec![(6500, 8000)], "down at the last sample");
        let html = render(&r);
        assert!(html.contains("node 3 down from 5.0 s to 7.0 s"));
    }

    #[test]
    fn delays_read_with_units() {
        assert_eq!(fmt_ms(0.5), "0.5 ms");
        assert_eq!(fmt_ms(120.4), "120 ms");
        assert_eq!(fmt_ms(2500.0), "2.5 s");
        assert_eq!(fmt_number(1500.0), "1.5k");
        assert_eq!(esc("<a href='x'>&</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
    }
}
