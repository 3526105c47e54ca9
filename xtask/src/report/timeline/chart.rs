//! The SVG chart of the timeline: kernel lanes, CPU lanes, rate and pool charts,
//! marker rows and llama tokens, on one time axis; aggregated per pixel column.

use super::{
    CHART_H, LABEL_W, LANE_GAP, LANE_H, MARKER_PX, PLOT_W, TOKENS_ONE_BY_ONE, WIDTH, WORK_COLOUR,
    bytes, duration, escape, opt, tier_colour, tier_name,
};
use crate::trace::timeline::{KernelLane, Marker, SpanKind, Timeline};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Maps trace time to the page.
pub struct Axis {
    pub origin_us: u64,
    pub span_us: u64,
}

impl Axis {
    fn x(&self, t_us: u64) -> f64 {
        LABEL_W + t_us.saturating_sub(self.origin_us) as f64 / self.span_us as f64 * PLOT_W
    }

    /// Time from the first event, as shown on the axis.
    pub fn at(&self, t_us: u64) -> String {
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
pub fn marker_class(kind: &str) -> &'static str {
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

fn bin_markers<'a>(axis: &Axis, markers: impl Iterator<Item = &'a Marker>) -> MarkerBins {
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

/// The whole chart as one `<svg>` element.
pub fn chart(tl: &Timeline) -> String {
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
