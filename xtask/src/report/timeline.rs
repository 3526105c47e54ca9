//! The HTML timeline of a trace: one self-contained page (inline SVG, CSS and a small
//! script; nothing loaded from anywhere) drawn from a [`Timeline`].
//!
//! Entry points: [`write_for_trace`] (read a trace file, write the page) and [`render`]
//! (a page from a `Timeline` already read, e.g. by a command that collected the
//! events itself). Everything drawn is aggregated per pixel column here, so the page
//! stays small whatever the trace's size.
//!
//! The page's elements carry data attributes the tests read: a kernel lane is
//! `<g class="lane kernel" data-kernel="NAME">`, a tier-up mark
//! `class="tierup" data-kernel="NAME" data-from="T0" data-to="T1"`, a CPU lane
//! `data-cpu="N"`; the script sets `data-timeline="ready"` on `<html>` when it ran
//! through, and `"error"` (with the message in `#js-errors`) when something threw.

use crate::trace::timeline::{KernelLane, SpanKind, Timeline, tier_index};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Instant;

/// Fill colours of T0..T3 (the bench report's palette).
pub const TIER_COLOURS: [&str; 4] = ["#9e9e9e", "#64b5f6", "#1e88e5", "#0d47a1"];
/// Colour of an unknown tier name.
const UNKNOWN_TIER: &str = "#e0e0e0";
const WORK_COLOUR: &str = "#c8e6c9";

const LABEL_W: f64 = 130.0;
const PLOT_W: f64 = 1000.0;
const WIDTH: f64 = LABEL_W + PLOT_W + 24.0;
const LANE_H: f64 = 14.0;
const LANE_GAP: f64 = 4.0;
const CHART_H: f64 = 56.0;
/// Markers closer than this many pixels on one row are drawn as one (with a count).
const MARKER_PX: f64 = 3.0;
/// With more tokens than this, tokens are drawn per pixel column.
const TOKENS_ONE_BY_ONE: usize = 300;
/// Rows of the marker table per kind.
const MARKER_ROWS: usize = 50;

const CSS: &str = include_str!("timeline.css");
const SCRIPT: &str = include_str!("timeline.js");

/// Figures of one page written by [`write_for_trace`].
#[derive(Debug, Clone)]
pub struct Written {
    /// Trace bytes read (0 when the timeline came from memory).
    pub trace_bytes: u64,
    /// Page bytes written.
    pub page_bytes: usize,
    /// Reading the trace and rendering the page.
    pub seconds: f64,
    /// Placed events.
    pub events: u64,
}

/// Reads the trace in `trace`, renders its timeline and writes it to `out`.
pub fn write_for_trace(trace: &Path, out: &Path) -> Result<Written, String> {
    let start = Instant::now();
    let timeline = Timeline::from_file(trace)?;
    let title = trace.file_name().map_or_else(
        || trace.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut w = write(&timeline, &title, out)?;
    w.trace_bytes = std::fs::metadata(trace).map_or(0, |m| m.len());
    w.seconds = start.elapsed().as_secs_f64();
    Ok(w)
}

/// Renders `timeline` (titled `title`) and writes the page to `out`.
pub fn write(timeline: &Timeline, title: &str, out: &Path) -> Result<Written, String> {
    let start = Instant::now();
    let page = render(timeline, title);
    std::fs::write(out, &page).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(Written {
        trace_bytes: 0,
        page_bytes: page.len(),
        seconds: start.elapsed().as_secs_f64(),
        events: timeline.events,
    })
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn tier_colour(tier: Option<u8>) -> &'static str {
    tier.map_or(UNKNOWN_TIER, |t| TIER_COLOURS[t as usize])
}

fn tier_name(tier: Option<u8>) -> String {
    tier.map_or("?".into(), |t| format!("T{t}"))
}

/// A duration in µs for people: `850 µs`, `12.5 ms`, `3.25 s`.
pub fn duration(us: u64) -> String {
    if us < 1000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", us as f64 / 1e3)
    } else {
        format!("{:.2} s", us as f64 / 1e6)
    }
}

fn bytes(b: u64) -> String {
    if b < 1024 {
        format!("{b} B")
    } else if b < 1 << 20 {
        format!("{:.1} KiB", b as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("–".into(), |v| v.to_string())
}

/// Maps trace time to the page.
struct Axis {
    origin_us: u64,
    span_us: u64,
}

impl Axis {
    fn x(&self, t_us: u64) -> f64 {
        LABEL_W + t_us.saturating_sub(self.origin_us) as f64 / self.span_us as f64 * PLOT_W
    }

    /// Time from the first event, as shown on the axis.
    fn at(&self, t_us: u64) -> String {
        format!("+{}", duration(t_us.saturating_sub(self.origin_us)))
    }

    /// Tick spacing in µs: 1, 2 or 5 × 10^k giving at most about 12 ticks.
    fn tick_step(&self) -> u64 {
        let mut step = 1u64;
        loop {
            for m in [1, 2, 5] {
                if self.span_us / (step * m) <= 12 {
                    return step * m;
                }
            }
            step *= 10;
        }
    }

    fn tick_label(&self, dt: u64, step: u64) -> String {
        if step >= 1_000_000 {
            format!("{} s", dt / 1_000_000)
        } else if step >= 100_000 {
            format!("{:.1} s", dt as f64 / 1e6)
        } else if step >= 1000 {
            format!("{} ms", dt / 1000)
        } else {
            format!("{dt} µs")
        }
    }
}

/// The SVG being drawn, row by row.
struct Svg {
    body: String,
    y: f64,
    axis: Axis,
}

impl Svg {
    fn rect(&mut self, x0: f64, x1: f64, y: f64, h: f64, fill: &str, attrs: &str) {
        let _ = writeln!(
            self.body,
            r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{fill}"{attrs}/>"#,
            (x1 - x0).max(0.8)
        );
    }

    fn text(&mut self, x: f64, y: f64, class: &str, s: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{x:.1}" y="{y:.1}" class="{class}">{}</text>"#,
            escape(s)
        );
    }

    fn heading(&mut self, s: &str) {
        self.y += 8.0;
        self.text(6.0, self.y + 11.0, "heading", s);
        self.y += 16.0;
    }

    fn label(&mut self, s: &str, tip: &str) {
        let _ = writeln!(
            self.body,
            r#"<text x="{:.1}" y="{:.1}" class="label" text-anchor="end" data-tip="{}">{}</text>"#,
            LABEL_W - 6.0,
            self.y + LANE_H - 3.0,
            escape(tip),
            escape(s)
        );
    }

    fn ticks(&mut self, top: f64, bottom: f64) {
        let step = self.axis.tick_step();
        let mut dt = 0;
        while dt <= self.axis.span_us {
            let x = self.axis.x(self.axis.origin_us + dt);
            let _ = writeln!(
                self.body,
                r#"<line x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" class="grid"/>"#
            );
            let label = self.axis.tick_label(dt, step);
            let _ = writeln!(
                self.body,
                r#"<text x="{x:.1}" y="{:.1}" class="tick" text-anchor="middle">{label}</text>"#,
                top - 4.0
            );
            dt += step;
        }
    }
}

/// Markers of one row grouped per few pixels: (x, kind) -> (count, first detail, first time).
type MarkerBins = BTreeMap<(i64, String), (u64, Option<String>, u64)>;

fn marker_shape(svg: &mut Svg, x: f64, mid: f64, kind: &str, tip: &str) {
    let _ = writeln!(
        svg.body,
        r#"<path d="M{x:.1} {:.1}l4 5l-4 5l-4 -5z" class="marker {}" data-kind="{}" data-tip="{}"/>"#,
        mid - 5.0,
        marker_class(kind),
        escape(kind),
        escape(tip)
    );
}

/// The CSS class of a marker kind (colour).
fn marker_class(kind: &str) -> &'static str {
    match kind {
        k if k.starts_with("cache_") => "m-cache",
        "deopt" => "m-deopt",
        "trap" => "m-trap",
        "exception" => "m-exception",
        "exception (fatal)" | "panic" => "m-fatal",
        "module_error" | "model_error" | "compile_error" => "m-error",
        "pool_exhausted" => "m-pool",
        _ => "m-warn",
    }
}

fn draw_marker_bins(svg: &mut Svg, bins: &MarkerBins, mid: f64) {
    for ((_, kind), (count, detail, t)) in bins {
        let x = svg.axis.x(*t);
        let mut tip = format!("{kind} at {}", svg.axis.at(*t));
        if *count > 1 {
            let _ = write!(tip, " ({count} events here; the first:)");
        }
        if let Some(d) = detail {
            let _ = write!(tip, "\n{d}");
        }
        marker_shape(svg, x, mid, kind, &tip);
    }
}

fn bin_markers<'a>(
    axis: &Axis,
    markers: impl Iterator<Item = &'a crate::trace::timeline::Marker>,
) -> MarkerBins {
    let mut bins = MarkerBins::new();
    for m in markers {
        let col = (axis.x(m.t_us) / MARKER_PX).floor() as i64;
        let e = bins
            .entry((col, m.kind.clone()))
            .or_insert((0, m.detail.clone(), m.t_us));
        e.0 += 1;
    }
    bins
}

fn tier_up_tip(axis: &Axis, k: &KernelLane, i: usize) -> String {
    let u = &k.tier_ups[i];
    let mut tip = format!("{} {} → {} at {}", k.name, u.from, u.to, axis.at(u.t_us));
    let _ = write!(tip, "\ncalls: {}", opt(u.calls));
    let _ = write!(
        tip,
        "\ncompile time: {}",
        u.compile_ns
            .map_or("–".into(), |ns| format!("{:.2} ms", ns as f64 / 1e6))
    );
    if let Some(c) = u.compile_cycles {
        let _ = write!(tip, " ({c} cycles)");
    }
    let _ = write!(tip, "\ncode: {}", u.code_bytes.map_or("–".into(), bytes));
    if let Some(c) = u.compiler_cpu {
        let _ = write!(tip, "\ncompiled on cpu{c}");
    }
    tip
}

fn draw_kernels(svg: &mut Svg, tl: &Timeline) {
    svg.heading(&format!(
        "Kernels ({}), coloured by the tier they run at",
        tl.kernels.len()
    ));
    let end = tl.end_us;
    for k in &tl.kernels {
        let y = svg.y;
        let final_tier = tier_name(k.final_tier());
        let _ = writeln!(
            svg.body,
            r#"<g class="lane kernel" data-kernel="{}">"#,
            escape(&k.name)
        );
        svg.label(
            &k.name,
            &format!(
                "{}: {} tier-ups, final tier {final_tier}",
                k.name,
                k.tier_ups.len()
            ),
        );
        for (a, b, tier) in k.segments(end) {
            let tip = format!(
                "{} at {} from {} to {}",
                k.name,
                tier_name(tier),
                svg.axis.at(a),
                svg.axis.at(b)
            );
            let attrs = format!(r#" class="seg" data-tip="{}""#, escape(&tip));
            let (x0, x1) = (svg.axis.x(a), svg.axis.x(b));
            svg.rect(x0, x1, y, LANE_H, tier_colour(tier), &attrs);
        }
        for (i, u) in k.tier_ups.iter().enumerate() {
            let x = svg.axis.x(u.t_us);
            let _ = writeln!(
                svg.body,
                r#"<rect x="{:.1}" y="{:.1}" width="3" height="{:.1}" class="tierup" data-kernel="{}" data-from="{}" data-to="{}" data-tip="{}"/>"#,
                x - 1.5,
                y - 2.0,
                LANE_H + 4.0,
                escape(&k.name),
                escape(&u.from),
                escape(&u.to),
                escape(&tier_up_tip(&svg.axis, k, i))
            );
        }
        let bins = bin_markers(
            &svg.axis,
            tl.markers
                .iter()
                .filter(|m| m.kernel.as_deref() == Some(k.name.as_str())),
        );
        draw_marker_bins(svg, &bins, y + LANE_H / 2.0);
        svg.body.push_str("</g>\n");
        svg.y += LANE_H + LANE_GAP;
    }
}

fn draw_cpus(svg: &mut Svg, tl: &Timeline) {
    svg.heading("CPUs: compile spans (by target tier), work, and events printed");
    let cols = PLOT_W as usize / 2;
    for c in &tl.cpus {
        let y = svg.y;
        let h = LANE_H + 4.0;
        let _ = writeln!(svg.body, r#"<g class="lane cpu" data-cpu="{}">"#, c.cpu);
        let compiles = c
            .spans
            .iter()
            .filter(|s| matches!(s.kind, SpanKind::Compile { .. }))
            .count();
        svg.label(
            &format!("cpu{}", c.cpu),
            &format!(
                "cpu{}: {} events, {compiles} compiles",
                c.cpu,
                c.event_times.len()
            ),
        );
        svg.rect(LABEL_W, LABEL_W + PLOT_W, y, h, "#f5f5f5", "");
        for s in &c.spans {
            let (x0, x1) = (svg.axis.x(s.start_us), svg.axis.x(s.end_us));
            let took = duration(s.end_us - s.start_us);
            match &s.kind {
                SpanKind::Work { what } => {
                    let tip = format!("{what}: {took}, ending at {}", svg.axis.at(s.end_us));
                    let attrs = format!(r#" class="work" data-tip="{}""#, escape(&tip));
                    svg.rect(x0, x1, y, h - 5.0, WORK_COLOUR, &attrs);
                }
                SpanKind::Compile { kernel, tier } => {
                    let tip = format!(
                        "compiling {kernel} to {}: {took}, done at {}",
                        tier_name(*tier),
                        svg.axis.at(s.end_us)
                    );
                    let attrs = format!(r#" class="compile" data-tip="{}""#, escape(&tip));
                    svg.rect(x0, x1, y + 2.0, h - 9.0, tier_colour(*tier), &attrs);
                }
            }
        }
        // Events printed, per two-pixel column, as a small histogram under the spans.
        let mut counts = vec![0u64; cols + 1];
        for &t in &c.event_times {
            let col = ((svg.axis.x(t) - LABEL_W) / 2.0) as usize;
            counts[col.min(cols)] += 1;
        }
        let max = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let mut path = String::new();
        for (i, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let bar = 1.0 + 3.0 * (n as f64).ln_1p() / max.ln_1p();
            let _ = write!(
                path,
                "M{:.1} {:.1}v{:.1}h1.6v{:.1}z",
                LABEL_W + i as f64 * 2.0,
                y + h,
                -bar,
                bar
            );
        }
        if !path.is_empty() {
            let _ = writeln!(
                svg.body,
                r#"<path d="{path}" class="activity" data-tip="cpu{}: events printed (per 2 px, log scale)"/>"#,
                c.cpu
            );
        }
        svg.body.push_str("</g>\n");
        svg.y += h + LANE_GAP;
    }
}

/// A line chart on its own row: `points` are (t_us, value); drawn per pixel column
/// (the column's mean) when there are more points than columns.
fn draw_series(
    svg: &mut Svg,
    name: &str,
    class: &str,
    points: &[(u64, f64)],
    unit: &dyn Fn(f64) -> String,
) {
    let y0 = svg.y;
    let _ = writeln!(svg.body, r#"<g class="chart {class}">"#);
    let max = points.iter().map(|p| p.1).fold(0.0f64, f64::max);
    let _ = writeln!(
        svg.body,
        r#"<text x="{:.1}" y="{:.1}" class="label" text-anchor="end">{}</text>"#,
        LABEL_W - 6.0,
        y0 + 12.0,
        escape(name)
    );
    let _ = writeln!(
        svg.body,
        r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">max {}</text>"#,
        LABEL_W - 6.0,
        y0 + 26.0,
        escape(&unit(max))
    );
    svg.rect(LABEL_W, LABEL_W + PLOT_W, y0, CHART_H, "#fafafa", "");
    let mut cols: BTreeMap<i64, (f64, u64, u64)> = BTreeMap::new();
    for &(t, v) in points {
        let e = cols
            .entry(svg.axis.x(t).round() as i64)
            .or_insert((0.0, 0, t));
        e.0 += v;
        e.1 += 1;
    }
    let scale = if max > 0.0 {
        (CHART_H - 4.0) / max
    } else {
        0.0
    };
    let mut line = String::new();
    for (i, (x, (sum, n, _))) in cols.iter().enumerate() {
        let v = sum / *n as f64;
        let _ = write!(
            line,
            "{}{x} {:.1}",
            if i == 0 { "M" } else { "L" },
            y0 + CHART_H - v * scale
        );
    }
    if !line.is_empty() {
        let _ = writeln!(svg.body, r#"<path d="{line}" class="series"/>"#);
    }
    // Hover targets: one per drawn column, at most a few hundred.
    let step = (cols.len() / 300).max(1);
    for (x, (sum, n, t)) in cols.iter().step_by(step) {
        let v = sum / *n as f64;
        let tip = format!("{name} at {}: {}", svg.axis.at(*t), unit(v));
        let _ = writeln!(
            svg.body,
            r#"<circle cx="{x}" cy="{:.1}" r="2.5" class="point" data-tip="{}"/>"#,
            y0 + CHART_H - v * scale,
            escape(&tip)
        );
    }
    svg.body.push_str("</g>\n");
    svg.y += CHART_H + LANE_GAP * 2.0;
}

fn draw_rates(svg: &mut Svg, tl: &Timeline) {
    if tl.stats.len() >= 2 {
        svg.heading("Calls per second (from stats)");
        let rates: Vec<(u64, f64)> = tl
            .stats
            .windows(2)
            .filter(|w| w[1].t_us > w[0].t_us && w[1].calls >= w[0].calls)
            .map(|w| {
                let dt = (w[1].t_us - w[0].t_us) as f64 / 1e6;
                (w[1].t_us, (w[1].calls - w[0].calls) as f64 / dt)
            })
            .collect();
        draw_series(svg, "calls/s", "calls", &rates, &|v| format!("{v:.0}/s"));
    }
    let (pool, capacity): (Vec<(u64, f64)>, Option<u64>) = if !tl.pool.is_empty() {
        (
            tl.pool.iter().map(|p| (p.t_us, p.used as f64)).collect(),
            tl.pool.iter().map(|p| p.capacity).max(),
        )
    } else {
        (
            tl.stats
                .iter()
                .filter_map(|s| s.pool_used.map(|u| (s.t_us, u as f64)))
                .collect(),
            tl.stats.iter().filter_map(|s| s.pool_capacity).max(),
        )
    };
    if !pool.is_empty() {
        svg.heading(&format!(
            "Executable pool in use (of {})",
            capacity.map_or("?".into(), bytes)
        ));
        draw_series(svg, "pool used", "pool", &pool, &|v| bytes(v as u64));
    }
}

fn draw_tokens(svg: &mut Svg, tl: &Timeline) {
    if tl.tokens.is_empty() {
        return;
    }
    svg.heading(&format!(
        "Tokens ({}), coloured by the lowest tier any kernel runs at",
        tl.tokens.len()
    ));
    let y = svg.y;
    let h = LANE_H + 6.0;
    let _ = writeln!(svg.body, r#"<g class="lane tokens">"#);
    svg.label("tokens", "one box per generated token");
    let axis_end = tl.end_us;
    if tl.tokens.len() <= TOKENS_ONE_BY_ONE {
        for (i, tok) in tl.tokens.iter().enumerate() {
            let next = tl.tokens.get(i + 1).map_or(axis_end, |n| n.t_us);
            let (x0, x1) = (svg.axis.x(tok.t_us), svg.axis.x(next.max(tok.t_us)));
            let tier = tl.lowest_tier_at(tok.t_us);
            let tip = format!(
                "token {} (id {}) {:?} at {}, {}",
                tok.pos,
                tok.id,
                tok.text,
                svg.axis.at(tok.t_us),
                tier_name(tier)
            );
            let attrs = format!(r#" class="token" data-tip="{}""#, escape(&tip));
            svg.rect(
                x0,
                (x1 - 0.6).max(x0 + 0.8),
                y,
                h,
                tier_colour(tier),
                &attrs,
            );
            let shown = tok.text.trim();
            if !shown.is_empty() && (x1 - x0) >= 6.5 * shown.chars().count() as f64 + 4.0 {
                let fg = if tier.unwrap_or(0) >= 2 {
                    "tok-light"
                } else {
                    "tok-dark"
                };
                svg.text(x0 + 2.0, y + h - 6.0, fg, shown);
            }
        }
    } else {
        // Per two-pixel column: how many tokens, the first few texts.
        let mut cols: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
        for (i, tok) in tl.tokens.iter().enumerate() {
            cols.entry((svg.axis.x(tok.t_us) / 2.0) as i64)
                .or_default()
                .push(i);
        }
        for (col, idx) in cols {
            let first = &tl.tokens[idx[0]];
            let tier = tl.lowest_tier_at(first.t_us);
            let texts: String = idx
                .iter()
                .take(12)
                .map(|&i| tl.tokens[i].text.as_str())
                .collect();
            let tip = format!(
                "{} tokens from pos {} at {}, {}: {:?}{}",
                idx.len(),
                first.pos,
                svg.axis.at(first.t_us),
                tier_name(tier),
                texts,
                if idx.len() > 12 { "…" } else { "" }
            );
            let attrs = format!(r#" class="token" data-tip="{}""#, escape(&tip));
            let x = col as f64 * 2.0;
            svg.rect(x, x + 2.0, y, h, tier_colour(tier), &attrs);
        }
    }
    svg.body.push_str("</g>\n");
    svg.y += h + LANE_GAP * 2.0;
    // Tokens per second over windows of 1/100 of the generation (at least 1 s).
    let (first, last) = (tl.tokens[0].t_us, tl.tokens[tl.tokens.len() - 1].t_us);
    let window = ((last - first) / 100).max(1_000_000);
    let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
    for tok in &tl.tokens {
        *counts.entry((tok.t_us - first) / window).or_default() += 1;
    }
    // Every window counts, empty ones too; a last window shorter than half of one is
    // left out (too few tokens to say a rate).
    let last_window = (last - first) / window;
    let rates: Vec<(u64, f64)> = (0..=last_window)
        .filter_map(|w| {
            let start = first + w * window;
            let end = (start + window).min(last);
            let short = w == last_window && last_window > 0 && end - start < window / 2;
            if end <= start || short {
                return None;
            }
            let n = counts.get(&w).copied().unwrap_or(0);
            Some((
                start + (end - start) / 2,
                n as f64 / ((end - start) as f64 / 1e6),
            ))
        })
        .collect();
    draw_series(svg, "tokens/s", "tokens-rate", &rates, &|v| {
        format!("{v:.2}/s")
    });
}

fn draw_markers(svg: &mut Svg, tl: &Timeline) {
    let kinds: Vec<String> = {
        let mut k: Vec<String> = tl.markers.iter().map(|m| m.kind.clone()).collect();
        k.sort();
        k.dedup();
        k
    };
    if kinds.is_empty() {
        return;
    }
    svg.heading("Markers");
    for kind in kinds {
        let y = svg.y;
        let n = tl.markers.iter().filter(|m| m.kind == kind).count();
        let _ = writeln!(
            svg.body,
            r#"<g class="lane markers" data-kind="{}">"#,
            escape(&kind)
        );
        svg.label(&format!("{kind} ({n})"), &format!("{n} {kind} events"));
        svg.rect(LABEL_W, LABEL_W + PLOT_W, y, LANE_H, "#fbfbfb", "");
        let bins = bin_markers(&svg.axis, tl.markers.iter().filter(|m| m.kind == kind));
        draw_marker_bins(svg, &bins, y + LANE_H / 2.0);
        svg.body.push_str("</g>\n");
        svg.y += LANE_H + LANE_GAP;
    }
}

fn chart(tl: &Timeline) -> String {
    let axis = Axis {
        origin_us: tl.origin_us,
        span_us: (tl.end_us - tl.origin_us).max(1),
    };
    let mut svg = Svg {
        body: String::new(),
        y: 34.0,
        axis,
    };
    draw_tokens(&mut svg, tl);
    draw_kernels(&mut svg, tl);
    draw_cpus(&mut svg, tl);
    draw_rates(&mut svg, tl);
    draw_markers(&mut svg, tl);
    let height = svg.y + 10.0;
    let mut grid = Svg {
        body: String::new(),
        y: 0.0,
        axis: Axis {
            origin_us: svg.axis.origin_us,
            span_us: svg.axis.span_us,
        },
    };
    grid.ticks(22.0, height - 6.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg id="chart" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-label="timeline">"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="18" class="tick" text-anchor="end">time →</text>"#,
        LABEL_W - 18.0
    );
    out.push_str(&grid.body);
    out.push_str(&svg.body);
    out.push_str("</svg>\n");
    out
}

fn legend() -> String {
    let mut s = String::from(r#"<div class="legend">"#);
    for (i, c) in TIER_COLOURS.iter().enumerate() {
        let _ = write!(s, r#"<span><i style="background:{c}"></i>T{i}</span>"#);
    }
    let _ = write!(
        s,
        r#"<span><i style="background:{WORK_COLOUR}"></i>work</span><span><i class="tierup-key"></i>tier-up</span>"#
    );
    for (kind, class) in [
        ("deopt", "m-deopt"),
        ("trap", "m-trap"),
        ("exception (recovered)", "m-exception"),
        ("module/compile/model error", "m-error"),
        ("cache_*", "m-cache"),
        ("warn", "m-warn"),
        ("pool exhausted", "m-pool"),
        ("fatal", "m-fatal"),
    ] {
        let _ = write!(
            s,
            r#"<span><svg width="10" height="10"><path d="M5 0l4 5l-4 5l-4 -5z" class="marker {class}"/></svg>{kind}</span>"#
        );
    }
    s.push_str("</div>\n");
    s
}

/// The tier-up table beside the chart: every tier-up in time order.
fn side_table(tl: &Timeline) -> String {
    let axis = Axis {
        origin_us: tl.origin_us,
        span_us: 1,
    };
    let mut ups: Vec<(&KernelLane, usize)> = tl
        .kernels
        .iter()
        .flat_map(|k| (0..k.tier_ups.len()).map(move |i| (k, i)))
        .collect();
    ups.sort_by_key(|(k, i)| k.tier_ups[*i].t_us);
    let mut s = format!(
        "<aside id=\"side\"><h2>Tier-ups ({})</h2>\n<table class=\"tierups\"><thead><tr><th>time</th><th>kernel</th><th>tier</th><th>calls</th><th>compile</th><th>code</th><th>cpu</th></tr></thead><tbody>\n",
        ups.len()
    );
    for (k, i) in ups {
        let u = &k.tier_ups[i];
        let _ = writeln!(
            s,
            r#"<tr data-kernel="{}" data-to="{}"><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            escape(&k.name),
            escape(&u.to),
            axis.at(u.t_us),
            escape(&k.name),
            escape(&u.from),
            escape(&u.to),
            opt(u.calls),
            u.compile_ns
                .map_or("–".into(), |ns| format!("{:.2} ms", ns as f64 / 1e6)),
            u.code_bytes.map_or("–".into(), bytes),
            opt(u.compiler_cpu)
        );
    }
    s.push_str("</tbody></table></aside>\n");
    s
}

/// Per kernel: time and calls at each tier-up, compile time per tier, final tier.
fn summary_table(tl: &Timeline) -> String {
    let axis = Axis {
        origin_us: tl.origin_us,
        span_us: 1,
    };
    let mut s = String::from(
        "<table class=\"summary\"><thead><tr><th rowspan=\"2\">kernel</th><th colspan=\"3\">reached T1</th><th colspan=\"3\">reached T2</th><th colspan=\"3\">reached T3</th><th rowspan=\"2\">final tier</th><th rowspan=\"2\">markers</th></tr>\n<tr>",
    );
    for _ in 1..=3 {
        s.push_str("<th>at</th><th>calls</th><th>compile</th>");
    }
    s.push_str("</tr></thead><tbody>\n");
    for k in &tl.kernels {
        let _ = write!(
            s,
            r#"<tr data-kernel="{}"><td>{}</td>"#,
            escape(&k.name),
            escape(&k.name)
        );
        for tier in 1..=3u8 {
            // The last tier-up to this tier (a kernel can climb again after a demotion).
            match k
                .tier_ups
                .iter()
                .rev()
                .find(|u| tier_index(&u.to) == Some(tier))
            {
                Some(u) => {
                    let _ = write!(
                        s,
                        "<td>{}</td><td>{}</td><td>{}</td>",
                        axis.at(u.t_us),
                        opt(u.calls),
                        u.compile_ns
                            .map_or("–".into(), |ns| format!("{:.2} ms", ns as f64 / 1e6))
                    );
                }
                None => s.push_str("<td>–</td><td>–</td><td>–</td>"),
            }
        }
        let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
        for m in tl
            .markers
            .iter()
            .filter(|m| m.kernel.as_deref() == Some(&k.name))
        {
            *kinds.entry(&m.kind).or_default() += 1;
        }
        let marks: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let final_tier = k.final_tier();
        let _ = writeln!(
            s,
            r#"<td><b style="color:{}">{}</b></td><td>{}</td></tr>"#,
            if final_tier == Some(0) {
                "#616161"
            } else {
                tier_colour(final_tier)
            },
            tier_name(final_tier),
            escape(&marks.join(", "))
        );
    }
    s.push_str("</tbody></table>\n");
    s
}

fn marker_table(tl: &Timeline) -> String {
    if tl.markers.is_empty() {
        return String::new();
    }
    let axis = Axis {
        origin_us: tl.origin_us,
        span_us: 1,
    };
    let mut s = String::from(
        "<h2>Markers</h2>\n<table class=\"markers\"><thead><tr><th>time</th><th>event</th><th>kernel</th><th>detail</th></tr></thead><tbody>\n",
    );
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    let mut left: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &tl.markers {
        let n = shown.entry(&m.kind).or_default();
        if *n >= MARKER_ROWS {
            *left.entry(&m.kind).or_default() += 1;
            continue;
        }
        *n += 1;
        let _ = writeln!(
            s,
            r#"<tr><td>{}</td><td><span class="dot {}"></span>{}</td><td>{}</td><td>{}</td></tr>"#,
            axis.at(m.t_us),
            marker_class(&m.kind),
            escape(&m.kind),
            escape(m.kernel.as_deref().unwrap_or("")),
            escape(m.detail.as_deref().unwrap_or("(detail not kept)"))
        );
    }
    s.push_str("</tbody></table>\n");
    for (kind, n) in left {
        let _ = writeln!(
            s,
            "<p class=\"note\">{n} more <code>{}</code> events are drawn but not listed.</p>",
            escape(kind)
        );
    }
    s
}

/// What the reader skipped or could not find, in sentences.
fn notes(tl: &Timeline) -> Vec<String> {
    let sk = &tl.skipped;
    let mut v = Vec::new();
    if tl.events == 0 {
        v.push("The trace holds no event with a time: there is nothing to draw.".into());
    }
    if sk.non_event_lines > 0 {
        let samples: Vec<String> = sk
            .non_event_samples
            .iter()
            .map(|(n, l)| format!("line {n}: {l:?}"))
            .collect();
        v.push(format!(
            "{} line(s) without an event were skipped (firmware or loader output), e.g. {}.",
            sk.non_event_lines,
            samples.join("; ")
        ));
    }
    if sk.malformed > 0 {
        let samples: Vec<String> = sk
            .malformed_samples
            .iter()
            .map(|(n, l)| format!("line {n}: {l:?}"))
            .collect();
        v.push(format!(
            "{} malformed or cut-off event line(s) were skipped: {}.",
            sk.malformed,
            samples.join("; ")
        ));
    }
    if sk.untimed > 0 {
        v.push(format!(
            "{} event(s) without a numeric t_us were skipped (not placeable on the axis).",
            sk.untimed
        ));
    }
    if tl.events > 0 && !tl.complete() {
        v.push(
            "The trace ends without an exit event: it was cut off (QEMU killed, or still \
             running when saved); everything up to its last event is drawn."
                .into(),
        );
    }
    if tl.events > 0 && tl.kernels.is_empty() {
        v.push(
            "No kernel events (tier_up, deopt, trap...): this trace has no JIT activity, or \
             comes from a kernel that did not report it."
                .into(),
        );
    }
    v
}

/// The whole page for `tl`; `title` names the trace (e.g. its file name).
pub fn render(tl: &Timeline, title: &str) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\" data-timeline=\"static\">\n<head>\n<meta charset=\"utf-8\">\n<title>BareFlow timeline: {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        escape(title)
    );
    let cpus = tl.cpus.len();
    let _ = writeln!(
        page,
        "<header><h1>BareFlow timeline <small>{}</small></h1>\n<p class=\"meta\">mode <b>{}</b> · {} events over {} · {} CPU(s) · {} kernel(s) · {} tier-ups{}{}</p>",
        escape(title),
        escape(tl.mode.as_deref().unwrap_or("unknown")),
        tl.events,
        duration(tl.end_us - tl.origin_us),
        cpus,
        tl.kernels.len(),
        tl.tier_up_events.len(),
        tl.exit_status
            .as_deref()
            .map_or(String::new(), |s| format!(" · exit <b>{}</b>", escape(s))),
        if tl.tokens.is_empty() {
            String::new()
        } else {
            format!(" · {} tokens", tl.tokens.len())
        }
    );
    let notes = notes(tl);
    if !notes.is_empty() {
        page.push_str("<ul class=\"notes\">\n");
        for n in &notes {
            let _ = writeln!(page, "<li>{}</li>", escape(n));
        }
        page.push_str("</ul>\n");
    }
    if let Some(m) = &tl.model_loaded {
        let fields: Vec<String> = m
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ev" | "t_us" | "cpu"))
            .map(|(k, v)| format!("{k}={}", v.as_str().map_or(v.to_string(), str::to_owned)))
            .collect();
        let _ = writeln!(
            page,
            "<p class=\"meta\">model: {}</p>",
            escape(&fields.join(", "))
        );
    }
    if let Some(d) = &tl.llama_done {
        let fields: Vec<String> = d
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ev" | "t_us" | "cpu"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            page,
            "<p class=\"meta\">generation: {}</p>",
            escape(&fields.join(", "))
        );
    }
    page.push_str("</header>\n");
    page.push_str(&legend());
    page.push_str("<div class=\"main\"><div class=\"chart-box\">\n");
    page.push_str(&chart(tl));
    page.push_str("</div>\n");
    page.push_str(&side_table(tl));
    page.push_str("</div>\n<section>\n<h2>Summary per kernel</h2>\n");
    page.push_str(&summary_table(tl));
    let figures = crate::trace::summary(&tl.tier_up_events);
    let _ = writeln!(
        page,
        "<h3>Figures of <code>trace --summary</code></h3>\n<pre class=\"figures\">{}</pre>",
        escape(&figures)
    );
    page.push_str(&marker_table(tl));
    if !tl.skipped.not_drawn.is_empty() {
        let names: Vec<String> = tl
            .skipped
            .not_drawn
            .iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect();
        let _ = writeln!(
            page,
            "<p class=\"note\">Events counted on the CPU lanes but not drawn otherwise: {}.</p>",
            escape(&names.join(", "))
        );
    }
    page.push_str("</section>\n<div id=\"tip\" hidden></div>\n<pre id=\"js-errors\" hidden></pre>\n<script>\n");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</body>\n</html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser_tests::{demo_fixture, truncated};
    use crate::trace::{Event, parse};

    fn demo_text() -> String {
        std::fs::read_to_string(demo_fixture()).unwrap()
    }

    fn events(text: &str) -> Vec<Event> {
        text.lines()
            .filter_map(parse)
            .filter_map(Result::ok)
            .collect()
    }

    fn page_of(text: &str) -> String {
        render(&Timeline::from_lines(text.lines()), "test")
    }

    fn field<'a>(e: &'a Event, k: &str) -> &'a str {
        e.get(k).and_then(serde_json::Value::as_str).unwrap()
    }

    /// The lane and tier-up mark attributes the page gives every kernel and tier-up.
    fn assert_lanes_and_tier_ups(page: &str, evs: &[Event]) -> usize {
        let ups: Vec<&Event> = evs.iter().filter(|e| e["ev"] == "tier_up").collect();
        for e in &ups {
            let k = escape(field(e, "kernel"));
            assert!(
                page.contains(&format!(r#"<g class="lane kernel" data-kernel="{k}">"#)),
                "no lane for {k}"
            );
            let mark = format!(
                r#"class="tierup" data-kernel="{k}" data-from="{}" data-to="{}""#,
                field(e, "from"),
                field(e, "to")
            );
            assert_eq!(page.matches(&mark).count(), 1, "{mark}");
            let row = format!(r#"<tr data-kernel="{k}" data-to="{}">"#, field(e, "to"));
            assert!(page.contains(&row), "no side-table row {row}");
        }
        ups.len()
    }

    #[test]
    fn demo_page_has_every_kernel_lane_and_tier_up() {
        let text = demo_text();
        let evs = events(&text);
        let page = page_of(&text);
        let ups = assert_lanes_and_tier_ups(&page, &evs);
        let kernels: std::collections::BTreeSet<&str> = evs
            .iter()
            .filter(|e| e["ev"] == "tier_up")
            .map(|e| field(e, "kernel"))
            .collect();
        assert!(
            kernels.len() >= 16 && ups == 3 * kernels.len(),
            "{kernels:?}"
        );
        assert_eq!(
            page.matches(r#"<g class="lane kernel""#).count(),
            kernels.len()
        );
        // one lane per CPU, compile spans on the compiler CPU, work on the other
        assert!(page.contains(r#"data-cpu="0""#) && page.contains(r#"data-cpu="1""#));
        assert_eq!(page.matches(r#"class="compile""#).count(), ups);
        assert!(page.contains(r#"class="work""#));
        assert!(page.contains("calls/s") && page.contains("pool used"));
        // the figures of `trace --summary`, and a complete trace needs no note
        let tier_ups: Vec<Event> = evs
            .iter()
            .filter(|e| e["ev"] == "tier_up")
            .cloned()
            .collect();
        let figures = crate::trace::summary(&tier_ups);
        assert!(figures.contains("compile latency to T3"));
        assert!(page.contains(&escape(&figures)));
        assert!(
            !page.contains("class=\"notes\""),
            "a complete trace has no notes"
        );
        assert!(page.contains("exit <b>success</b>"));
    }

    #[test]
    fn page_is_self_contained() {
        let page = page_of(&demo_text());
        for needle in [
            "http:", "https:", "src=", "href=", "@import", "url(", "//cdn",
        ] {
            assert!(!page.contains(needle), "page refers to {needle}");
        }
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        assert_eq!(page.matches("<svg id=\"chart\"").count(), 1);
        assert_eq!(page.matches("<script>").count(), 1);
    }

    #[test]
    fn truncated_trace_renders_what_it_holds_and_says_what_was_skipped() {
        let text = demo_text();
        let cut = truncated(&text, 0.5);
        let page = page_of(&cut);
        let ups = assert_lanes_and_tier_ups(&page, &events(&cut));
        assert!(ups > 0 && ups < 51, "{ups}");
        assert!(
            page.contains("2 line(s) without an event were skipped"),
            "firmware lines"
        );
        assert!(page.contains("1 malformed or cut-off event line(s) were skipped"));
        assert!(page.contains("ends without an exit event"));
    }

    #[test]
    fn older_kernel_trace_without_new_fields_renders() {
        // No compile_ns / code_bytes / compiler_cpu, no stats, no pool: an early kernel.
        let text = r#"{"ev":"boot","t_us":10,"cpu":0}
{"ev":"tier_up","t_us":500,"cpu":0,"kernel":"fib","from":"T0","to":"T1","calls":100}
{"ev":"exit","t_us":900,"cpu":0,"code":16}"#;
        let page = page_of(text);
        assert_lanes_and_tier_ups(&page, &events(text));
        assert!(page.contains("compile time: –"));
        assert!(!page.contains("calls/s"));
        assert!(page.contains("exit <b>?</b>"));
    }

    #[test]
    fn empty_and_noise_only_traces_render_with_a_note() {
        let page = page_of("");
        assert!(page.contains("no event with a time"));
        let page = page_of("SeaBIOS (version 1.16)\nBooting from DVD/CD...\n");
        assert!(page.contains("2 line(s) without an event"));
        assert!(page.contains("no event with a time"));
    }

    #[test]
    fn markup_in_trace_text_is_escaped() {
        let text = r#"{"ev":"tier_up","t_us":5,"cpu":0,"kernel":"<script>x</script>","from":"T0","to":"T1","calls":1}
{"ev":"warn","t_us":6,"cpu":0,"what":"cmdline","detail":"a \"quoted\" <b>"}"#;
        let page = page_of(text);
        assert!(!page.contains("<script>x"));
        assert!(page.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(page.contains("&lt;b&gt;"));
    }

    #[test]
    fn markers_are_drawn_on_their_row_and_kernel_lane() {
        let text = r#"{"ev":"module_loaded","t_us":1,"cpu":0}
{"ev":"tier_up","t_us":10,"cpu":1,"kernel":"k","from":"T0","to":"T1","calls":1}
{"ev":"deopt","t_us":20,"cpu":0,"kernel":"k","tier":"T3","reason":"specialization guard miss (#1), running T2"}
{"ev":"trap","t_us":30,"cpu":0,"kernel":"k","tier":"T1","reason":"out_of_bounds"}
{"ev":"exception","t_us":40,"cpu":0,"vector":14,"kernel":"k","tier":"T1","recovered":true}
{"ev":"module_error","t_us":50,"cpu":0,"file":"b.bfir","line":3,"col":5,"reason":"x"}
{"ev":"cache_hit","t_us":60,"cpu":0,"kernel":"k"}
{"ev":"warn","t_us":70,"cpu":0,"what":"smp","detail":"y"}"#;
        let page = page_of(text);
        for kind in [
            "deopt",
            "trap",
            "exception",
            "module_error",
            "cache_hit",
            "warn",
        ] {
            assert!(
                page.contains(&format!(r#"<g class="lane markers" data-kind="{kind}">"#)),
                "{kind} row"
            );
        }
        // four kernel markers on k's lane and on their rows, two more without a kernel
        let drawn = page
            .lines()
            .filter(|l| l.starts_with("<path") && l.contains("data-kind="))
            .count();
        assert_eq!(drawn, 4 * 2 + 2);
        // the recovered exception sends k back to T0
        assert!(page.contains("k at T0 from +39 µs"), "{page}");
    }

    #[test]
    fn llama_mode_draws_tokens_and_their_rate() {
        let mut text = String::from(
            r#"{"ev":"boot","t_us":0,"cpu":0,"cmdline":"bareflow.mode=llama"}
{"ev":"module_loaded","t_us":900,"cpu":0,"file":"llama_ops.bfir"}
{"ev":"model_loaded","t_us":1000,"cpu":0,"format":"gguf","quant":"q8_0","dim":288}
"#,
        );
        for (k, t) in [("matvec", 50_000), ("rmsnorm", 60_000)] {
            for (i, (from, to)) in [("T0", "T1"), ("T1", "T2"), ("T2", "T3")]
                .iter()
                .enumerate()
            {
                text.push_str(&format!(
                    r#"{{"ev":"tier_up","t_us":{},"cpu":1,"kernel":"{k}","from":"{from}","to":"{to}","calls":1,"compile_ns":1000000}}"#,
                    t + i as u64 * 400_000
                ));
                text.push('\n');
            }
        }
        for pos in 0..64u64 {
            text.push_str(&format!(
                r#"{{"ev":"token","t_us":{},"cpu":0,"pos":{pos},"id":{},"text":" w{pos}"}}"#,
                20_000 + pos * 30_000,
                100 + pos
            ));
            text.push('\n');
        }
        text.push_str(r#"{"ev":"llama_done","t_us":2000000,"cpu":0,"prompt_tokens":4,"generated":64,"tok_per_s":33.3}"#);
        let page = page_of(&text);
        assert_eq!(page.matches(r#"class="token""#).count(), 64);
        // one token per 30 ms: 34 in the first second, 30 in the last 0.89 s
        assert!(page.contains("max 34.00/s"), "tokens/s scale");
        assert!(page.contains("mode <b>llama</b>"));
        assert!(page.contains("quant=q8_0"));
        // the first token comes at T0, the last at T3
        let first = page.find("token 0 (id 100)").unwrap();
        assert!(page[..first].rfind("fill=\"#9e9e9e\"").is_some());
        let tl = Timeline::from_lines(text.lines());
        assert_eq!(tl.lowest_tier_at(tl.tokens[0].t_us), Some(0));
        assert_eq!(tl.lowest_tier_at(tl.tokens[63].t_us), Some(3));
    }

    /// A synthetic trace of `target` bytes: a demo-like climb, then a long llama-mode
    /// run of tokens, stats, pool events, rate-limited deopts, traps, warnings and
    /// firmware lines.
    pub fn synthetic_trace(target: usize) -> String {
        let mut s = String::with_capacity(target + 4096);
        s.push_str("SeaBIOS (version 1.16.2-debian-1.16.2-1)\n");
        s.push_str(r#"{"ev":"boot","t_us":1000,"cpu":0,"loader":"multiboot2","cmdline":"bareflow.mode=llama"}"#);
        s.push('\n');
        s.push_str(r#"{"ev":"module_loaded","t_us":2000,"cpu":0,"file":"ops.bfir"}"#);
        s.push('\n');
        let kernels = [
            "matvec",
            "matvec_q8",
            "rmsnorm",
            "softmax",
            "rope",
            "swiglu",
            "attention",
        ];
        for (i, k) in kernels.iter().enumerate() {
            for (j, (from, to)) in [("T0", "T1"), ("T1", "T2"), ("T2", "T3")]
                .iter()
                .enumerate()
            {
                let t = 100_000 + (j as u64 * 7 + i as u64) * 150_000;
                s.push_str(&format!(
                    r#"{{"ev":"tier_up","t_us":{t},"cpu":1,"kernel":"{k}","from":"{from}","to":"{to}","calls":{},"compile_us":40000,"compile_ns":40000000,"compile_cycles":99000000,"code_bytes":1200,"compiler_cpu":1}}"#,
                    100 * 10u64.pow(j as u32)
                ));
                s.push('\n');
            }
        }
        let mut t = 4_000_000u64;
        let mut n = 0u64;
        while s.len() < target {
            n += 1;
            t += 2_000;
            s.push_str(&format!(
                r#"{{"ev":"token","t_us":{t},"cpu":0,"pos":{n},"id":{},"text":" tok{}"}}"#,
                n % 32000,
                n % 977
            ));
            s.push('\n');
            if n.is_multiple_of(500) {
                s.push_str(&format!(
                    r#"{{"ev":"stats","t_us":{t},"cpu":0,"phase":"llama","kernels":7,"at_t0":0,"at_t1":0,"at_t2":0,"at_t3":7,"calls":{},"tier_ups":21,"pool_used":{},"pool_capacity":16777216,"code_blocks":21,"serializations":21}}"#,
                    n * 40,
                    30000 + n % 5000
                ));
                s.push('\n');
                s.push_str(&format!(
                    r#"{{"ev":"pool","t_us":{t},"cpu":1,"reason":"tier_up","capacity":16777216,"used":{},"peak":40000,"blocks":21,"largest_free":16000000}}"#,
                    30000 + n % 5000
                ));
                s.push('\n');
            }
            if n.is_multiple_of(7) {
                s.push_str(&format!(
                    r#"{{"ev":"deopt","t_us":{t},"cpu":0,"kernel":"{}","tier":"T3","reason":"specialization guard miss (#{n}), running T2"}}"#,
                    kernels[(n % 7) as usize]
                ));
                s.push('\n');
            }
            if n.is_multiple_of(11) {
                s.push_str(&format!(
                    r#"{{"ev":"trap","t_us":{t},"cpu":0,"kernel":"softmax","tier":"T3","reason":"out_of_bounds","kind":"out_of_bounds"}}"#
                ));
                s.push('\n');
            }
            if n.is_multiple_of(1000) {
                s.push_str(&format!(
                    r#"{{"ev":"warn","t_us":{t},"cpu":0,"what":"serial","detail":"line {n} dropped"}}"#
                ));
                s.push('\n');
                s.push_str("firmware noise in the middle\n");
            }
        }
        s
    }

    #[test]
    fn a_large_trace_gives_a_small_page() {
        let text = synthetic_trace(4 << 20);
        let tl = Timeline::from_lines(text.lines());
        assert!(tl.tokens.len() > 20_000);
        let page = render(&tl, "synthetic");
        // Aggregated per pixel column: the page does not grow with the trace.
        assert!(page.len() < 1 << 20, "{} bytes", page.len());
        assert!(page.contains("tokens/s"));
        assert_lanes_and_tier_ups(&page, &events(&text));
    }

    /// Figures for the README: `cargo test -p xtask --release -- --ignored --nocapture
    /// timeline_of_a_100mb_trace`. Writes target/timeline-100mb.{jsonl,html}.
    #[test]
    #[ignore]
    fn timeline_of_a_100mb_trace() {
        let dir = crate::paths::root().join("target");
        let trace = dir.join("timeline-100mb.jsonl");
        let page = dir.join("timeline-100mb.html");
        std::fs::write(&trace, synthetic_trace(100 << 20)).unwrap();
        let w = write_for_trace(&trace, &page).unwrap();
        println!(
            "{} MiB trace, {} events -> {} KiB page in {:.2} s ({})",
            w.trace_bytes >> 20,
            w.events,
            w.page_bytes >> 10,
            w.seconds,
            page.display()
        );
    }
}
