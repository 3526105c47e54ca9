//! What the HTML timeline draws, gathered from a trace in one pass (`report::timeline`
//! renders it).
//!
//! The reader is lenient: a line without an event (firmware output), a malformed or
//! cut-off event, an event without `t_us` and events the timeline does not draw are
//! counted in [`Skipped`], never an error. Everything kept per event is a few numbers
//! (and short texts for markers and tokens), so a 100 MB trace fits in memory; the
//! renderer aggregates per pixel column.

use super::{Event, parse};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

/// Event names drawn as markers (besides every `cache_*` event).
pub const MARKER_EVENTS: &[&str] = &[
    "deopt",
    "trap",
    "exception",
    "module_error",
    "warn",
    "compile_error",
    "pool_exhausted",
    "model_error",
    "panic",
];

/// Marker details are kept for this many markers per (kind, kernel); later ones are
/// counted (their tooltip shows the count) so a flood of one event stays small.
const DETAILS_KEPT: usize = 10_000;
/// Longest marker detail or token text kept, in characters.
const TEXT_KEPT: usize = 160;
/// Samples of skipped lines kept for the page.
const SAMPLES_KEPT: usize = 5;

/// A tier name `T0`..`T3` as its index.
pub fn tier_index(name: &str) -> Option<u8> {
    match name {
        "T0" => Some(0),
        "T1" => Some(1),
        "T2" => Some(2),
        "T3" => Some(3),
        _ => None,
    }
}

/// One `tier_up` event. Fields an older kernel did not write are `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct TierUp {
    pub t_us: u64,
    pub from: String,
    pub to: String,
    pub calls: Option<u64>,
    pub compile_ns: Option<u64>,
    pub compile_cycles: Option<u64>,
    pub code_bytes: Option<u64>,
    pub compiler_cpu: Option<u64>,
}

/// A kernel's way down to T0 (a recovered CPU exception, or a `deopt` that is not a
/// guard miss).
#[derive(Clone, Debug, PartialEq)]
pub struct Demotion {
    pub t_us: u64,
    pub reason: String,
}

/// One IR kernel: when it started running (at T0) and its tier changes.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelLane {
    pub name: String,
    /// The lane starts here: the last `module_loaded` before the kernel's first event,
    /// or that first event.
    pub start_us: u64,
    /// Tier-ups in time order.
    pub tier_ups: Vec<TierUp>,
    /// Demotions to T0 in time order.
    pub demotions: Vec<Demotion>,
}

impl KernelLane {
    /// The tier the kernel runs at from `start_us` on: `(start, end, tier)` pieces
    /// (tier `None` after a tier-up to an unknown tier name).
    pub fn segments(&self, end_us: u64) -> Vec<(u64, u64, Option<u8>)> {
        let mut changes: Vec<(u64, Option<u8>)> = self
            .tier_ups
            .iter()
            .map(|u| (u.t_us, tier_index(&u.to)))
            .chain(self.demotions.iter().map(|d| (d.t_us, Some(0))))
            .collect();
        changes.sort_by_key(|c| c.0);
        let mut out = Vec::new();
        let (mut at, mut tier) = (self.start_us, Some(0));
        for (t, next) in changes {
            let t = t.max(at);
            if t > at {
                out.push((at, t, tier));
            }
            at = t;
            tier = next;
        }
        if end_us > at {
            out.push((at, end_us, tier));
        }
        out
    }

    /// The tier at time `t_us` (`None` before the lane starts).
    pub fn tier_at(&self, t_us: u64) -> Option<u8> {
        if t_us < self.start_us {
            return None;
        }
        let mut tier = Some(0);
        let mut latest = 0;
        for u in &self.tier_ups {
            if u.t_us <= t_us && u.t_us >= latest {
                latest = u.t_us;
                tier = tier_index(&u.to);
            }
        }
        for d in &self.demotions {
            if d.t_us <= t_us && d.t_us >= latest {
                latest = d.t_us;
                tier = Some(0);
            }
        }
        tier
    }

    /// The tier after the last change.
    pub fn final_tier(&self) -> Option<u8> {
        self.tier_at(u64::MAX)
    }
}

/// What a CPU was doing over a stretch of time.
#[derive(Clone, Debug, PartialEq)]
pub enum SpanKind {
    /// Compiling a kernel to this tier (from a `tier_up`).
    Compile { kernel: String, tier: Option<u8> },
    /// Work of a mode: the JIT workload, a job handed to another CPU, the soak, the
    /// benchmark, text generation.
    Work { what: String },
}

/// A stretch of one CPU's time.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub start_us: u64,
    pub end_us: u64,
    pub kind: SpanKind,
}

/// One CPU: its spans and when it printed events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuLane {
    pub cpu: u64,
    pub spans: Vec<Span>,
    /// `t_us` of every event the CPU printed (drawn as an activity histogram).
    pub event_times: Vec<u64>,
}

/// One `stats` event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatsPoint {
    pub t_us: u64,
    pub calls: u64,
    pub pool_used: Option<u64>,
    pub pool_capacity: Option<u64>,
}

/// One `pool` event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolPoint {
    pub t_us: u64,
    pub used: u64,
    pub capacity: u64,
}

/// An event drawn as a marker.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub t_us: u64,
    /// The event name (`exception` for a recovered one, `exception (fatal)` otherwise).
    pub kind: String,
    pub kernel: Option<String>,
    /// A one-line description; `None` past the first [`DETAILS_KEPT`] of its kind.
    pub detail: Option<String>,
}

/// One generated token (`token` event, llama mode).
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub t_us: u64,
    pub pos: u64,
    pub id: u64,
    pub text: String,
}

/// What the reader left out, for the page to say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Skipped {
    /// Lines without an event (firmware or loader output): count and first samples
    /// `(line number, text)`.
    pub non_event_lines: u64,
    pub non_event_samples: Vec<(u64, String)>,
    /// Lines with a malformed or cut-off event.
    pub malformed: u64,
    pub malformed_samples: Vec<(u64, String)>,
    /// Events without a numeric `t_us` (cannot be placed on the axis).
    pub untimed: u64,
    /// Events the timeline does not draw, by name.
    pub not_drawn: BTreeMap<String, u64>,
}

/// Everything the timeline page shows.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    /// The first event's time (the axis origin) and the last one's.
    pub origin_us: u64,
    pub end_us: u64,
    /// Placed events.
    pub events: u64,
    /// Events by name.
    pub counts: BTreeMap<String, u64>,
    /// `params.mode`, else the `bareflow.mode=` of `boot.cmdline`.
    pub mode: Option<String>,
    /// The `exit` event's `status` when there is one.
    pub exit_status: Option<String>,
    pub kernels: Vec<KernelLane>,
    pub cpus: Vec<CpuLane>,
    pub stats: Vec<StatsPoint>,
    pub pool: Vec<PoolPoint>,
    pub markers: Vec<Marker>,
    pub tokens: Vec<Token>,
    /// `model_loaded` and `llama_done`, as written.
    pub model_loaded: Option<Event>,
    pub llama_done: Option<Event>,
    /// The `tier_up` events as written (for the `trace --summary` figures).
    pub tier_up_events: Vec<Event>,
    pub skipped: Skipped,
}

fn num(e: &Event, k: &str) -> Option<u64> {
    e.get(k).and_then(Value::as_u64)
}

fn text(e: &Event, k: &str) -> Option<String> {
    e.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(TEXT_KEPT) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The marker line of an event: its fields except `ev`, `t_us`, `cpu`.
fn describe(e: &Event) -> String {
    let mut s = String::new();
    for (k, v) in e {
        if matches!(k.as_str(), "ev" | "t_us" | "cpu" | "stack") {
            continue;
        }
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str(k);
        s.push('=');
        match v {
            Value::String(x) => s.push_str(x),
            other => s.push_str(&other.to_string()),
        }
        if s.len() > TEXT_KEPT * 4 {
            break;
        }
    }
    clip(&s)
}

/// Builds a [`Timeline`] event by event.
#[derive(Default)]
struct Builder {
    tl: Timeline,
    lines: u64,
    kernel_index: BTreeMap<String, usize>,
    cpu_index: BTreeMap<u64, usize>,
    /// Times of `module_loaded` events (a kernel lane starts at the last one before it).
    module_loads: Vec<u64>,
    details: BTreeMap<(String, Option<String>), usize>,
    /// Each kernel's first event time.
    kernel_first: Vec<u64>,
}

impl Builder {
    fn line(&mut self, line: &str) {
        self.lines += 1;
        let n = self.lines;
        let sk = &mut self.tl.skipped;
        match parse(line) {
            None => {
                if line.trim().is_empty() {
                    return;
                }
                sk.non_event_lines += 1;
                if sk.non_event_samples.len() < SAMPLES_KEPT {
                    sk.non_event_samples.push((n, clip(line.trim())));
                }
            }
            Some(Err(_)) => {
                sk.malformed += 1;
                if sk.malformed_samples.len() < SAMPLES_KEPT {
                    sk.malformed_samples.push((n, clip(line.trim())));
                }
            }
            Some(Ok(e)) => self.event(e),
        }
    }

    fn cpu(&mut self, cpu: u64) -> &mut CpuLane {
        let i = *self.cpu_index.entry(cpu).or_insert_with(|| {
            self.tl.cpus.push(CpuLane {
                cpu,
                ..CpuLane::default()
            });
            self.tl.cpus.len() - 1
        });
        &mut self.tl.cpus[i]
    }

    fn kernel(&mut self, name: &str, t_us: u64) -> &mut KernelLane {
        let i = match self.kernel_index.get(name) {
            Some(&i) => i,
            None => {
                self.tl.kernels.push(KernelLane {
                    name: name.to_owned(),
                    start_us: t_us,
                    tier_ups: Vec::new(),
                    demotions: Vec::new(),
                });
                self.kernel_first.push(t_us);
                self.kernel_index
                    .insert(name.to_owned(), self.tl.kernels.len() - 1);
                self.tl.kernels.len() - 1
            }
        };
        self.kernel_first[i] = self.kernel_first[i].min(t_us);
        &mut self.tl.kernels[i]
    }

    fn span(&mut self, cpu: u64, start_us: u64, end_us: u64, kind: SpanKind) {
        self.cpu(cpu).spans.push(Span {
            start_us,
            end_us,
            kind,
        });
    }

    fn marker(&mut self, t_us: u64, kind: &str, kernel: Option<String>, e: &Event) {
        let seen = self
            .details
            .entry((kind.to_owned(), kernel.clone()))
            .or_default();
        *seen += 1;
        let detail = (*seen <= DETAILS_KEPT).then(|| describe(e));
        self.tl.markers.push(Marker {
            t_us,
            kind: kind.to_owned(),
            kernel,
            detail,
        });
    }

    fn event(&mut self, e: Event) {
        let name = e.get("ev").and_then(Value::as_str).unwrap_or("").to_owned();
        let Some(t) = num(&e, "t_us") else {
            self.tl.skipped.untimed += 1;
            return;
        };
        let tl = &mut self.tl;
        if tl.events == 0 {
            tl.origin_us = t;
            tl.end_us = t;
        }
        tl.origin_us = tl.origin_us.min(t);
        tl.end_us = tl.end_us.max(t);
        tl.events += 1;
        *tl.counts.entry(name.clone()).or_default() += 1;
        let cpu = num(&e, "cpu").unwrap_or(0);
        self.cpu(cpu).event_times.push(t);
        let kernel = text(&e, "kernel");
        let mut drawn = true;
        match name.as_str() {
            "boot" => {
                if self.tl.mode.is_none() {
                    self.tl.mode = text(&e, "cmdline").and_then(|c| {
                        c.split_whitespace()
                            .find_map(|w| w.strip_prefix("bareflow.mode="))
                            .map(str::to_owned)
                    });
                }
            }
            "params" => self.tl.mode = text(&e, "mode").or(self.tl.mode.take()),
            "exit" => self.tl.exit_status = text(&e, "status").or(Some("?".into())),
            "module_loaded" => self.module_loads.push(t),
            "cpu_online" => {
                self.cpu(num(&e, "index").unwrap_or(cpu));
            }
            "tier_up" => {
                let up = TierUp {
                    t_us: t,
                    from: text(&e, "from").unwrap_or_else(|| "?".into()),
                    to: text(&e, "to").unwrap_or_else(|| "?".into()),
                    calls: num(&e, "calls"),
                    compile_ns: num(&e, "compile_ns")
                        .or_else(|| num(&e, "compile_us").map(|u| u * 1000)),
                    compile_cycles: num(&e, "compile_cycles"),
                    code_bytes: num(&e, "code_bytes"),
                    compiler_cpu: num(&e, "compiler_cpu"),
                };
                let name = kernel.clone().unwrap_or_else(|| "?".into());
                if let Some(ns) = up.compile_ns {
                    let on = up.compiler_cpu.unwrap_or(cpu);
                    let kind = SpanKind::Compile {
                        kernel: name.clone(),
                        tier: tier_index(&up.to),
                    };
                    self.span(on, t.saturating_sub(ns / 1000), t, kind);
                }
                self.kernel(&name, t).tier_ups.push(up);
                self.tl.tier_up_events.push(e.clone());
            }
            "stats" => self.tl.stats.push(StatsPoint {
                t_us: t,
                calls: num(&e, "calls").unwrap_or(0),
                pool_used: num(&e, "pool_used"),
                pool_capacity: num(&e, "pool_capacity"),
            }),
            "pool" => self.tl.pool.push(PoolPoint {
                t_us: t,
                used: num(&e, "used").unwrap_or(0),
                capacity: num(&e, "capacity").unwrap_or(0),
            }),
            "token" => self.tl.tokens.push(Token {
                t_us: t,
                pos: num(&e, "pos").unwrap_or(0),
                id: num(&e, "id").unwrap_or(0),
                text: clip(&text(&e, "text").unwrap_or_default()),
            }),
            "model_loaded" => self.tl.model_loaded = Some(e.clone()),
            "llama_done" => {
                let start = self
                    .tl
                    .model_loaded
                    .as_ref()
                    .and_then(|m| num(m, "t_us"))
                    .unwrap_or(self.tl.origin_us);
                self.span(
                    cpu,
                    start,
                    t,
                    SpanKind::Work {
                        what: "text generation".into(),
                    },
                );
                self.tl.llama_done = Some(e.clone());
            }
            "demo_done" => {
                let ms = num(&e, "elapsed_ms").unwrap_or(0);
                let what = "JIT workload (demo)".to_owned();
                self.span(cpu, t.saturating_sub(ms * 1000), t, SpanKind::Work { what });
            }
            "demo_job" => {
                let on = num(&e, "on_cpu").unwrap_or(cpu);
                let us = num(&e, "run_us").unwrap_or(0);
                let what = format!("demo job: {}", text(&e, "work").unwrap_or_default());
                self.span(on, t.saturating_sub(us), t, SpanKind::Work { what });
            }
            "soak" => {
                let us = num(&e, "elapsed_us").unwrap_or(0);
                for c in 0..num(&e, "cpus").unwrap_or(1) {
                    let what = "JIT soak".to_owned();
                    self.span(c, t.saturating_sub(us), t, SpanKind::Work { what });
                }
            }
            "bench_done" => {
                let us = num(&e, "elapsed_us").unwrap_or(0);
                let what = "benchmark".to_owned();
                self.span(cpu, t.saturating_sub(us), t, SpanKind::Work { what });
            }
            _ => drawn = false,
        }
        let is_marker = MARKER_EVENTS.contains(&name.as_str()) || name.starts_with("cache_");
        if is_marker {
            let kind = if name == "exception" && e.get("recovered") != Some(&Value::Bool(true)) {
                "exception (fatal)".to_owned()
            } else {
                name.clone()
            };
            let demoted = match name.as_str() {
                "exception" => e.get("recovered") == Some(&Value::Bool(true)),
                "deopt" => !e
                    .get("reason")
                    .and_then(Value::as_str)
                    .is_some_and(|r| r.contains("guard")),
                _ => false,
            };
            if let Some(k) = &kernel {
                let lane = self.kernel(k, t);
                if demoted {
                    let reason = text(&e, "reason")
                        .or_else(|| text(&e, "detail"))
                        .unwrap_or_else(|| name.clone());
                    lane.demotions.push(Demotion {
                        t_us: t,
                        reason: clip(&reason),
                    });
                }
            }
            self.marker(t, &kind, kernel, &e);
        } else if !drawn {
            *self.tl.skipped.not_drawn.entry(name).or_default() += 1;
        }
    }

    fn finish(mut self) -> Timeline {
        self.module_loads.sort_unstable();
        for (lane, first) in self.tl.kernels.iter_mut().zip(&self.kernel_first) {
            let i = self.module_loads.partition_point(|&m| m <= *first);
            lane.start_us = if i > 0 {
                self.module_loads[i - 1]
            } else {
                *first
            };
            lane.tier_ups.sort_by_key(|u| u.t_us);
            lane.demotions.sort_by_key(|d| d.t_us);
        }
        let tl = &mut self.tl;
        tl.kernels
            .sort_by_key(|k| (k.tier_ups.first().map_or(u64::MAX, |u| u.t_us), k.start_us));
        tl.cpus.sort_by_key(|c| c.cpu);
        for c in &mut tl.cpus {
            c.event_times.sort_unstable();
            c.spans.sort_by_key(|s| s.start_us);
        }
        tl.stats.sort_by_key(|s| s.t_us);
        tl.pool.sort_by_key(|p| p.t_us);
        tl.markers.sort_by_key(|m| m.t_us);
        tl.tokens.sort_by_key(|t| (t.t_us, t.pos));
        tl.tier_up_events
            .sort_by_key(|e| num(e, "t_us").unwrap_or(0));
        self.tl
    }
}

impl Timeline {
    /// Reads a trace (one serial line per line; invalid UTF-8 is replaced). Only an
    /// I/O error is an error.
    pub fn from_reader(mut reader: impl BufRead) -> Result<Timeline, String> {
        let mut b = Builder::default();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| format!("reading the trace: {e}"))?;
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf);
            b.line(line.trim_end_matches(['\r', '\n']));
        }
        Ok(b.finish())
    }

    /// Reads the trace in `path`.
    pub fn from_file(path: &Path) -> Result<Timeline, String> {
        let f = std::fs::File::open(path)
            .map_err(|e| format!("cannot open trace {}: {e}", path.display()))?;
        Timeline::from_reader(std::io::BufReader::with_capacity(1 << 20, f))
    }

    /// Reads a trace held in memory, one serial line per item.
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> Timeline {
        let mut b = Builder::default();
        for l in lines {
            b.line(l);
        }
        b.finish()
    }

    /// Whether the trace ends the way a complete boot does (with `exit`).
    pub fn complete(&self) -> bool {
        self.exit_status.is_some()
    }

    /// The lowest tier any kernel lane runs at, at `t_us` (`None` when no lane runs).
    pub fn lowest_tier_at(&self, t_us: u64) -> Option<u8> {
        self.kernels.iter().filter_map(|k| k.tier_at(t_us)).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"BdsDxe: loading Boot0001 "UEFI QEMU DVD-ROM"
{"ev":"boot","t_us":1000,"cpu":0,"loader":"multiboot2","cmdline":"bareflow.mode=demo"}
{"ev":"module_loaded","t_us":2000,"cpu":0,"file":"a.bfir"}
{"ev":"tier_up","t_us":5000,"cpu":1,"kernel":"fib","from":"T0","to":"T1","calls":100,"compile_ns":2000000,"code_bytes":300,"compiler_cpu":1}
{"ev":"stats","t_us":6000,"cpu":0,"calls":500,"pool_used":512,"pool_capacity":4096}
{"ev":"deopt","t_us":7000,"cpu":0,"kernel":"fib","tier":"T3","reason":"specialization guard miss (#1), running T2"}
{"ev":"tier_up","t_us":8000,"cpu":1,"kernel":"fib","from":"T1","to":"T2","calls":1000,"compile_us":3000}
{"ev":"exception","t_us":9000,"cpu":0,"vector":14,"kernel":"fib","tier":"T2","recovered":true}
{"ev":"selftest","t_us":"#;

    #[test]
    fn reads_what_it_can_and_counts_the_rest() {
        let tl = Timeline::from_lines(SAMPLE.lines());
        assert_eq!(tl.origin_us, 1000);
        assert_eq!(tl.end_us, 9000);
        assert_eq!(tl.mode.as_deref(), Some("demo"));
        assert_eq!(tl.skipped.non_event_lines, 1);
        assert_eq!(tl.skipped.malformed, 1);
        assert_eq!(tl.skipped.malformed_samples[0].0, 9);
        assert!(!tl.complete());
        let fib = &tl.kernels[0];
        assert_eq!(fib.start_us, 2000, "lane starts at the module load");
        assert_eq!(fib.tier_ups.len(), 2);
        assert_eq!(
            fib.tier_ups[1].compile_ns,
            Some(3_000_000),
            "old compile_us"
        );
        assert_eq!(fib.demotions.len(), 1, "the guard miss is no demotion");
        assert_eq!(
            fib.segments(10_000),
            vec![
                (2000, 5000, Some(0)),
                (5000, 8000, Some(1)),
                (8000, 9000, Some(2)),
                (9000, 10_000, Some(0))
            ]
        );
        assert_eq!(fib.tier_at(7500), Some(1));
        assert_eq!(fib.final_tier(), Some(0));
        let cpu1 = tl.cpus.iter().find(|c| c.cpu == 1).unwrap();
        assert_eq!(
            cpu1.spans
                .iter()
                .map(|s| (s.start_us, s.end_us))
                .collect::<Vec<_>>(),
            vec![(3000, 5000), (5000, 8000)]
        );
        assert_eq!(tl.markers.len(), 2);
        assert_eq!(tl.markers[1].kind, "exception");
        assert_eq!(tl.stats.len(), 1);
        assert_eq!(tl.skipped.not_drawn.get("boot"), None);
        assert_eq!(tl.skipped.not_drawn.get("module_loaded"), None);
    }

    #[test]
    fn reader_survives_invalid_utf8_and_crlf() {
        let bytes =
            b"\xff\xfe garbage\r\n{\"ev\":\"warn\",\"t_us\":5,\"cpu\":0,\"what\":\"smp\"}\r\n";
        let tl = Timeline::from_reader(&bytes[..]).unwrap();
        assert_eq!(tl.skipped.non_event_lines, 1);
        assert_eq!(tl.markers.len(), 1);
        assert_eq!(tl.markers[0].detail.as_deref(), Some("what=smp"));
    }

    #[test]
    fn untimed_and_unknown_events_are_counted() {
        let tl = Timeline::from_lines([
            r#"{"ev":"boot","cpu":0}"#,
            r#"{"ev":"future_thing","t_us":3,"cpu":0}"#,
            r#"{"ev":"cache_hit","t_us":4,"cpu":0,"kernel":"k"}"#,
        ]);
        assert_eq!(tl.skipped.untimed, 1);
        assert_eq!(tl.skipped.not_drawn.get("future_thing"), Some(&1));
        assert_eq!(tl.markers[0].kind, "cache_hit");
        assert_eq!(tl.kernels[0].name, "k");
    }

    #[test]
    fn marker_details_stop_after_the_cap() {
        let line = r#"{"ev":"trap","t_us":1,"cpu":0,"kernel":"k","tier":"T1","reason":"oob"}"#;
        let tl = Timeline::from_lines(std::iter::repeat_n(line, DETAILS_KEPT + 3));
        assert_eq!(tl.markers.len(), DETAILS_KEPT + 3);
        assert!(tl.markers[DETAILS_KEPT - 1].detail.is_some());
        assert!(tl.markers[DETAILS_KEPT].detail.is_none());
    }
}
