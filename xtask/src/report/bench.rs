//! The benchmark report: turns the kernel's `bench` events into a Markdown
//! table and an SVG chart (`cargo xtask bench`).
//!
//! API: collect the parsed serial events (any events; only `bench` ones are
//! read) and call [`Report::from_events`], then [`Report::markdown`] and
//! [`Report::svg`]. A `bench` event carries `kernel`, `tier` (`T0`..`T3` or
//! `aot`), `size`, `median_cycles`, `reps`, and optionally `compile_cycles`
//! and `code_bytes` (compiled tiers). Events that lack a required field are
//! reported as errors, never silently dropped.

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write;

/// The columns of the report, in order.
pub const TIERS: [&str; 5] = ["T0", "T1", "T2", "T3", "aot"];

/// One measured (kernel, tier) cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub median_cycles: u64,
    pub reps: u64,
    pub compile_cycles: Option<u64>,
    pub code_bytes: Option<u64>,
}

/// One benchmarked kernel at one size: a cell per tier that was measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub kernel: String,
    pub size: String,
    pub cells: BTreeMap<&'static str, Cell>,
}

impl Row {
    fn cycles(&self, tier: &str) -> Option<u64> {
        self.cells.get(tier).map(|c| c.median_cycles)
    }

    /// How many times faster `tier` is than `base` (base cycles / tier cycles).
    pub fn speedup(&self, tier: &str, base: &str) -> Option<f64> {
        let (t, b) = (self.cycles(tier)?, self.cycles(base)?);
        (t > 0).then(|| b as f64 / t as f64)
    }

    /// True when every compiled tier is faster than the one below it
    /// (T0 > T1 > T2 > T3 in cycles); `None` when a tier is missing.
    pub fn monotone(&self) -> Option<bool> {
        let c: Option<Vec<u64>> = TIERS[..4].iter().map(|t| self.cycles(t)).collect();
        c.map(|c| c.windows(2).all(|w| w[1] < w[0]))
    }
}

/// All rows of one benchmark run, in the order kernels first appeared.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub rows: Vec<Row>,
    /// Free-form facts about the run (accelerator, CPU model, ...), shown above the table.
    pub notes: Vec<String>,
}

fn field_u64(ev: &Map<String, Value>, key: &str) -> Result<u64, String> {
    ev.get(key).and_then(Value::as_u64).ok_or_else(|| {
        format!(
            "bench event without a numeric `{key}`: {}",
            Value::Object(ev.clone())
        )
    })
}

fn size_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

impl Report {
    /// Builds the report from serial events; the first malformed `bench`
    /// event is an error naming it. A repeated (kernel, size, tier) keeps the
    /// last measurement.
    pub fn from_events(events: &[Map<String, Value>]) -> Result<Report, String> {
        let mut report = Report::default();
        for ev in events {
            if ev.get("ev").and_then(Value::as_str) != Some("bench") {
                continue;
            }
            let kernel = ev.get("kernel").and_then(Value::as_str).ok_or_else(|| {
                format!(
                    "bench event without `kernel`: {}",
                    Value::Object(ev.clone())
                )
            })?;
            let tier_name = ev.get("tier").and_then(Value::as_str).unwrap_or("");
            let tier = TIERS
                .iter()
                .copied()
                .find(|t| t.eq_ignore_ascii_case(tier_name))
                .ok_or_else(|| {
                    format!("bench event for {kernel} with unknown tier {tier_name:?}")
                })?;
            let size = size_text(ev.get("size"));
            let cell = Cell {
                median_cycles: field_u64(ev, "median_cycles")?,
                reps: field_u64(ev, "reps")?,
                compile_cycles: ev.get("compile_cycles").and_then(Value::as_u64),
                code_bytes: ev.get("code_bytes").and_then(Value::as_u64),
            };
            let row = match report
                .rows
                .iter()
                .position(|r| r.kernel == kernel && r.size == size)
            {
                Some(i) => &mut report.rows[i],
                None => {
                    report.rows.push(Row {
                        kernel: kernel.to_string(),
                        size,
                        ..Row::default()
                    });
                    report.rows.last_mut().expect("just pushed")
                }
            };
            row.cells.insert(tier, cell);
        }
        if report.rows.is_empty() {
            return Err("no bench events in the trace".to_string());
        }
        Ok(report)
    }

    /// The Markdown report: median cycles per call for each tier, speedups
    /// against T0 and against the in-kernel AOT Rust, and a second table with
    /// compile cost and code size per tier.
    pub fn markdown(&self) -> String {
        let mut s = String::from("# BareFlow in-kernel benchmark\n\n");
        for n in &self.notes {
            let _ = writeln!(s, "- {n}");
        }
        if !self.notes.is_empty() {
            s.push('\n');
        }
        s.push_str(
            "Median cycles per call (rdtsc), lower is better. Speedups are ratios of medians \
             measured side by side in one boot. `T3/AOT` > 1 means the JIT's top tier beats \
             the AOT Rust compiled into the kernel for baseline x86-64. `mono` is ✓ when \
             T0 > T1 > T2 > T3.\n\n",
        );
        s.push_str(
            "| kernel | size | T0 | T1 | T2 | T3 | AOT | T1/T0 | T2/T0 | T3/T0 | T3/AOT | mono |\n",
        );
        s.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|:-:|\n");
        for r in &self.rows {
            let _ = write!(s, "| {} | {} |", r.kernel, r.size);
            for t in TIERS {
                let _ = write!(s, " {} |", r.cycles(t).map_or("–".into(), group_thousands));
            }
            for t in ["T1", "T2", "T3"] {
                let _ = write!(s, " {} |", ratio(r.speedup(t, "T0")));
            }
            let _ = write!(s, " {} |", ratio(r.speedup("T3", "aot")));
            let mono = match r.monotone() {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "–",
            };
            let _ = writeln!(s, " {mono} |");
        }
        s.push_str("\nCompile cost (cycles) and code size (bytes) per tier.\n\n");
        s.push_str(
            "| kernel | T1 compile | T2 compile | T3 compile | T1 bytes | T2 bytes | T3 bytes |\n",
        );
        s.push_str("|---|--:|--:|--:|--:|--:|--:|\n");
        for r in &self.rows {
            let _ = write!(s, "| {} |", r.kernel);
            for t in ["T1", "T2", "T3"] {
                let v = r.cells.get(t).and_then(|c| c.compile_cycles);
                let _ = write!(s, " {} |", v.map_or("–".into(), group_thousands));
            }
            for t in ["T1", "T2", "T3"] {
                let v = r.cells.get(t).and_then(|c| c.code_bytes);
                let _ = write!(s, " {} |", v.map_or("–".into(), group_thousands));
            }
            s.push('\n');
        }
        s
    }

    /// A horizontal grouped bar chart of the speedup of every tier over T0,
    /// on a log2 axis, one group per kernel. Self-contained SVG, no scripts.
    pub fn svg(&self) -> String {
        const BAR_H: f64 = 9.0;
        const GAP: f64 = 10.0;
        const LEFT: f64 = 190.0;
        const PLOT_W: f64 = 560.0;
        const TOP: f64 = 50.0;
        const COLORS: [&str; 5] = ["#9e9e9e", "#64b5f6", "#1e88e5", "#0d47a1", "#ef6c00"];
        // Only rows measured at T0 have speedups to draw (e.g. not an AOT-only probe).
        let rows: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.cycles("T0").is_some())
            .collect();
        let group_h = BAR_H * TIERS.len() as f64 + GAP;
        let height = TOP + group_h * rows.len() as f64 + 40.0;
        let width = LEFT + PLOT_W + 30.0;
        // The axis spans the speedups seen, in whole powers of two, always including 1x.
        let speedups: Vec<f64> = rows
            .iter()
            .flat_map(|r| TIERS.iter().filter_map(|t| r.speedup(t, "T0")))
            .filter(|v| v.is_finite() && *v > 0.0)
            .collect();
        let lo = speedups
            .iter()
            .copied()
            .fold(1.0f64, f64::min)
            .log2()
            .floor()
            .min(0.0);
        let hi = speedups
            .iter()
            .copied()
            .fold(1.0f64, f64::max)
            .log2()
            .ceil()
            .max(lo + 1.0);
        let x = |v: f64| LEFT + (v.log2() - lo) / (hi - lo) * PLOT_W;

        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{LEFT}" y="18" font-size="14" font-weight="bold">Speedup over the T0 interpreter (log scale, higher is better)</text>"#
        );
        for (i, (t, c)) in TIERS.iter().zip(COLORS).enumerate() {
            let lx = LEFT + i as f64 * 70.0;
            let _ = writeln!(
                s,
                r#"<rect x="{lx}" y="28" width="10" height="10" fill="{c}"/>"#
            );
            let label = if *t == "aot" { "AOT Rust" } else { t };
            let _ = writeln!(s, r#"<text x="{}" y="37">{label}</text>"#, lx + 14.0);
        }
        let bottom = height - 35.0;
        for p in lo as i32..=hi as i32 {
            let v = 2f64.powi(p);
            let gx = x(v);
            let stroke = if p == 0 { "#000" } else { "#ddd" };
            let _ = writeln!(
                s,
                r#"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{bottom}" stroke="{stroke}"/>"#
            );
            let label = if p >= 0 {
                format!("{}×", 1u64 << p)
            } else {
                format!("1/{}×", 1u64 << -p)
            };
            let _ = writeln!(
                s,
                r#"<text x="{gx:.1}" y="{}" text-anchor="middle">{label}</text>"#,
                bottom + 14.0
            );
        }
        for (ri, r) in rows.iter().enumerate() {
            let gy = TOP + ri as f64 * group_h;
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{} {}</text>"#,
                LEFT - 6.0,
                gy + group_h / 2.0,
                xml_escape(&r.kernel),
                xml_escape(&r.size)
            );
            for (ti, (t, c)) in TIERS.iter().zip(COLORS).enumerate() {
                let Some(v) = r.speedup(t, "T0").filter(|v| v.is_finite() && *v > 0.0) else {
                    continue;
                };
                let (x0, x1) = (x(1.0), x(v));
                let (bx, bw) = if x1 >= x0 {
                    (x0, x1 - x0)
                } else {
                    (x1, x0 - x1)
                };
                let by = gy + ti as f64 * BAR_H;
                let _ = writeln!(
                    s,
                    r#"<rect x="{bx:.1}" y="{by:.1}" width="{:.1}" height="{:.1}" fill="{c}"><title>{} {t}: {v:.2}×</title></rect>"#,
                    bw.max(0.5),
                    BAR_H - 1.0,
                    xml_escape(&r.kernel)
                );
            }
        }
        s.push_str("</svg>\n");
        s
    }
}

fn ratio(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2}×"))
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> Map<String, Value> {
        match serde_json::from_str(json).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn sample() -> Vec<Map<String, Value>> {
        let mut v = vec![ev(
            r#"{"ev":"boot","t_us":1,"cpu":0,"loader":"multiboot2"}"#,
        )];
        for (tier, cyc) in [
            ("T0", 8000u64),
            ("T1", 2000),
            ("T2", 1000),
            ("T3", 250),
            ("aot", 500),
        ] {
            v.push(ev(&format!(
                r#"{{"ev":"bench","t_us":2,"cpu":0,"kernel":"matmul","tier":"{tier}","size":"64x64","median_cycles":{cyc},"reps":31,"compile_cycles":12345,"code_bytes":2048}}"#
            )));
        }
        v.push(ev(
            r#"{"ev":"bench","t_us":3,"cpu":0,"kernel":"fib","tier":"T0","size":25,"median_cycles":100,"reps":5}"#,
        ));
        v.push(ev(
            r#"{"ev":"bench","t_us":3,"cpu":0,"kernel":"fib","tier":"T1","size":25,"median_cycles":200,"reps":5}"#,
        ));
        v
    }

    #[test]
    fn rows_group_by_kernel_and_size() {
        let r = Report::from_events(&sample()).unwrap();
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].kernel, "matmul");
        assert_eq!(r.rows[0].cells.len(), 5);
        assert_eq!(r.rows[1].size, "25");
        assert_eq!(r.rows[0].speedup("T3", "T0"), Some(32.0));
        assert_eq!(r.rows[0].speedup("T3", "aot"), Some(2.0));
        assert_eq!(r.rows[0].monotone(), Some(true));
        assert_eq!(r.rows[1].monotone(), None);
    }

    #[test]
    fn markdown_has_every_row_and_ratio() {
        let md = Report::from_events(&sample()).unwrap().markdown();
        assert!(md.contains("| matmul | 64x64 | 8,000 | 2,000 | 1,000 | 250 | 500 | 4.00× | 8.00× | 32.00× | 2.00× | ✓ |"), "{md}");
        assert!(
            md.contains("| fib | 25 | 100 | 200 | – | – | – | 0.50× | – | – | – | – |"),
            "{md}"
        );
        assert!(
            md.contains("| matmul | 12,345 | 12,345 | 12,345 | 2,048 | 2,048 | 2,048 |"),
            "{md}"
        );
    }

    #[test]
    fn non_monotone_rows_are_flagged() {
        let mut evs = sample();
        evs.push(ev(
            r#"{"ev":"bench","t_us":4,"cpu":0,"kernel":"matmul","tier":"T3","size":"64x64","median_cycles":1500,"reps":31}"#,
        ));
        let r = Report::from_events(&evs).unwrap();
        assert_eq!(r.rows[0].monotone(), Some(false));
        assert!(r.markdown().contains("✗"));
    }

    #[test]
    fn svg_is_well_formed_and_has_a_bar_per_cell() {
        let svg = Report::from_events(&sample()).unwrap().svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        // 5 legend squares + background + one bar per measured cell (5 + 2).
        assert_eq!(svg.matches("<rect").count(), 1 + 5 + 7);
        assert!(svg.contains("matmul T3: 32.00×"));
        assert!(svg.contains("fib T1: 0.50×"));
        assert!(
            svg.contains("1/2×"),
            "axis must reach below 1x for a slowdown"
        );
    }

    #[test]
    fn svg_leaves_out_rows_without_t0() {
        let mut evs = sample();
        evs.push(ev(
            r#"{"ev":"bench","t_us":5,"cpu":0,"kernel":"probe","tier":"aot","size":1,"median_cycles":9,"reps":3}"#,
        ));
        let r = Report::from_events(&evs).unwrap();
        assert!(r.markdown().contains("| probe | 1 |"));
        assert!(!r.svg().contains("probe"));
    }

    #[test]
    fn malformed_events_are_errors() {
        let no_cycles = ev(r#"{"ev":"bench","kernel":"k","tier":"T0","size":1,"reps":3}"#);
        assert!(
            Report::from_events(&[no_cycles])
                .unwrap_err()
                .contains("median_cycles")
        );
        let bad_tier =
            ev(r#"{"ev":"bench","kernel":"k","tier":"T9","size":1,"median_cycles":3,"reps":3}"#);
        assert!(Report::from_events(&[bad_tier]).unwrap_err().contains("T9"));
        assert!(
            Report::from_events(&[])
                .unwrap_err()
                .contains("no bench events")
        );
    }

    #[test]
    fn thousands_grouping() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(1234567), "1,234,567");
    }
}
