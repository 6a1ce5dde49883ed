//! The HTML page of a run: one self-contained file with inline SVG (no scripts, no fonts, no
//! network), so it opens anywhere offline. Plots: every node's height over time with the
//! scenario's events marked, and the block propagation delay histogram.

use crate::report::Report;
use crate::schedule::Action;
use std::fmt::Write as _;

const W: f64 = 860.0;
const H: f64 = 320.0;
const PAD: f64 = 48.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn colour(i: usize, n: usize) -> String {
    let hue = (i as f64 * 360.0 / n.max(1) as f64) % 360.0;
    format!("hsl({hue:.0},65%,45%)")
}

fn axes(svg: &mut String, x_max: f64, y_max: f64, x_label: &str, y_label: &str) {
    let _ = write!(
        svg,
        r##"<line x1="{PAD}" y1="{b}" x2="{r}" y2="{b}" stroke="#333"/><line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{b}" stroke="#333"/>"##,
        b = H - PAD,
        r = W - PAD / 2.0
    );
    for k in 0..=5 {
        let f = k as f64 / 5.0;
        let x = PAD + f * (W - 1.5 * PAD);
        let y = H - PAD - f * (H - 1.5 * PAD);
        let _ = write!(
            svg,
            r##"<text x="{x:.1}" y="{ty:.1}" font-size="11" text-anchor="middle">{xv:.1}</text><text x="{lx:.1}" y="{y:.1}" font-size="11" text-anchor="end" dominant-baseline="middle">{yv:.0}</text>"##,
            ty = H - PAD + 16.0,
            xv = f * x_max,
            lx = PAD - 6.0,
            yv = f * y_max
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{cx:.1}" y="{by:.1}" font-size="12" text-anchor="middle">{x_label}</text><text x="14" y="{cy:.1}" font-size="12" text-anchor="middle" transform="rotate(-90 14 {cy:.1})">{y_label}</text>"##,
        cx = W / 2.0,
        by = H - 8.0,
        cy = H / 2.0
    );
}

fn heights_plot(r: &Report) -> String {
    let mut svg = format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">"#);
    let x_max = r.samples.last().map_or(1.0, |s| s.t_ms as f64 / 1000.0).max(1.0);
    let y_max = r.samples.iter().flat_map(|s| s.heights.iter().flatten()).copied().max().unwrap_or(1).max(1) as f64;
    let px = |t_ms: u64| PAD + (t_ms as f64 / 1000.0) / x_max * (W - 1.5 * PAD);
    let py = |h: u64| H - PAD - h as f64 / y_max * (H - 1.5 * PAD);
    axes(&mut svg, x_max, y_max, "time (s)", "height");
    for e in &r.schedule.events {
        let x = px(r.startup_ms + e.at_ms);
        let (label, colour) = match &e.action {
            Action::Partition { .. } => ("partition", "#c00"),
            Action::Heal => ("heal", "#080"),
            Action::Crash { .. } => ("crash", "#a50"),
            Action::Restart { .. } => ("restart", "#05a"),
            // A storm has dozens: marks without labels.
            Action::StormKill { .. } => ("", "#a50"),
            Action::StormRestart { .. } => ("", "#05a"),
            Action::SetLinks { profile: Some(_), .. } => ("slow link", "#888"),
            Action::SetLinks { profile: None, .. } => ("link restored", "#888"),
        };
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="{PAD}" x2="{x:.1}" y2="{b}" stroke="{colour}" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{ty}" font-size="10" fill="{colour}">{label}</text>"##,
            b = H - PAD,
            tx = x + 2.0,
            ty = PAD - 4.0
        );
    }
    for node in 0..r.nodes {
        let mut d = String::new();
        let mut pen_down = false;
        for s in &r.samples {
            match s.heights.get(node).copied().flatten() {
                Some(h) => {
                    let _ = write!(d, "{}{:.1},{:.1} ", if pen_down { "L" } else { "M" }, px(s.t_ms), py(h));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            svg,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="1.2" opacity="0.8"><title>node {node}</title></path>"#,
            colour(node, r.nodes)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn histogram(values: &[f64]) -> String {
    let mut svg = format!(r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">"#);
    if values.is_empty() {
        svg.push_str(r#"<text x="20" y="40">no block reached a second node</text></svg>"#);
        return svg;
    }
    let bins = 40usize;
    // The top 1% goes in the last bin, so one outlier does not squash the rest.
    let hi = crate::checks::percentile(values, 99.0).unwrap_or(1.0).max(1.0);
    let mut counts = vec![0usize; bins];
    for v in values {
        let b = ((v / hi) * bins as f64) as usize;
        if let Some(c) = counts.get_mut(b.min(bins - 1)) {
            *c += 1;
        }
    }
    let y_max = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    axes(&mut svg, hi, y_max, "propagation delay (ms; last bin holds the rest)", "blocks x nodes");
    let bw = (W - 1.5 * PAD) / bins as f64;
    for (i, c) in counts.iter().enumerate() {
        let h = *c as f64 / y_max * (H - 1.5 * PAD);
        let _ = write!(
            svg,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#4a7bd0"><title>{lo:.0}-{up:.0} ms: {c}</title></rect>"##,
            x = PAD + i as f64 * bw + 1.0,
            y = H - PAD - h,
            w = (bw - 2.0).max(1.0),
            lo = i as f64 * hi / bins as f64,
            up = (i + 1) as f64 * hi / bins as f64
        );
    }
    svg.push_str("</svg>");
    svg
}

pub fn render(r: &Report) -> String {
    let mut html = String::new();
    let verdict = if r.passed { "passed" } else { "FAILED" };
    let _ = write!(
        html,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>netsim {name} (seed {seed}): {verdict}</title>
<style>body{{font-family:sans-serif;max-width:920px;margin:2em auto;color:#222}}pre{{background:#f5f5f5;padding:1em;overflow-x:auto}}td,th{{padding:2px 10px;text-align:left}}.ok{{color:#080}}.fail{{color:#c00;font-weight:bold}}</style></head><body>
<h1>netsim {name}: <span class="{cls}">{verdict}</span></h1>"#,
        name = esc(&r.scenario),
        seed = r.seed,
        cls = if r.passed { "ok" } else { "fail" }
    );
    html.push_str("<table><tr><th>check</th><th>result</th><th>detail</th></tr>");
    for c in &r.checks {
        let _ = write!(
            html,
            r#"<tr><td>{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
            c.name,
            if c.passed { "ok" } else { "fail" },
            if c.passed { "ok" } else { "FAIL" },
            esc(&c.detail)
        );
    }
    html.push_str("</table>");
    let _ = write!(html, "<h2>Summary</h2><pre>{}</pre>", esc(&r.summary()));
    let _ = write!(html, "<h2>Height of every node over time</h2>{}", heights_plot(r));
    let _ = write!(html, "<h2>Block propagation</h2>{}", histogram(&r.propagation_values_ms));
    html.push_str("<h2>Events</h2><pre>");
    for e in &r.schedule.events {
        let _ = writeln!(html, "{:>8.1}s  {}", e.at_ms as f64 / 1000.0, esc(&format!("{:?}", e.action)));
    }
    html.push_str("</pre></body></html>\n");
    html
}
