//! The HTML timeline of a trace: one self-contained page (inline SVG, CSS and a small
//! script; nothing loaded from anywhere) drawn from a [`Timeline`].
//!
//! Entry points: [`write_for_trace`] (read a trace file, write the page), [`write`]
//! and [`render`] (a page from a `Timeline` already read, e.g. built with
//! `Timeline::from_lines` by a command that collected the serial lines itself, as
//! `run` does). Everything drawn is aggregated per pixel column (`chart`), so the page
//! stays small whatever the trace's size; the tables under it are in `tables`.
//!
//! The page's elements carry data attributes the tests read: a kernel lane is
//! `<g class="lane kernel" data-kernel="NAME">`, a tier-up mark
//! `class="tierup" data-kernel="NAME" data-from="T0" data-to="T1"`, a CPU lane
//! `data-cpu="N"`; the script sets `data-timeline="ready"` on `<html>` when it ran
//! through, and `"error"` (with the message in `#js-errors`) when something threw.

mod chart;
mod tables;
#[cfg(test)]
mod tests;

use crate::trace::timeline::Timeline;
use std::fmt::Write as _;
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

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

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
    page.push_str(&chart::chart(tl));
    page.push_str("</div>\n");
    page.push_str(&tables::side_table(tl));
    page.push_str("</div>\n<section>\n<h2>Summary per kernel</h2>\n");
    page.push_str(&tables::summary_table(tl));
    let figures = crate::trace::summary(&tl.tier_up_events);
    let _ = writeln!(
        page,
        "<h3>Figures of <code>trace --summary</code></h3>\n<pre class=\"figures\">{}</pre>",
        escape(&figures)
    );
    page.push_str(&tables::marker_table(tl));
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
