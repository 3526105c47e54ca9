//! Readable rendering of the JIT runtime's trace events (`cargo xtask run`, `cargo
//! xtask trace`) and a summary of a saved trace (`cargo xtask trace FILE --summary`):
//! time from boot to the first tier-up, and compile latency per tier (median, max).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

type Event = Map<String, Value>;

fn s<'a>(e: &'a Event, k: &str) -> &'a str {
    e.get(k).and_then(Value::as_str).unwrap_or("?")
}

fn n(e: &Event, k: &str) -> u64 {
    e.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// A one-line description of a runtime event, or `None` for other events.
pub fn render(ev: &Event) -> Option<String> {
    let name = ev.get("ev").and_then(Value::as_str)?;
    Some(match name {
        "tier_up" => format!(
            "{:<14} {} -> {} at {} calls: compiled in {:.2} ms ({} cycles), {} bytes, on cpu{}",
            s(ev, "kernel"),
            s(ev, "from"),
            s(ev, "to"),
            n(ev, "calls"),
            n(ev, "compile_ns") as f64 / 1e6,
            n(ev, "compile_cycles"),
            n(ev, "code_bytes"),
            n(ev, "compiler_cpu")
        ),
        "stats" => format!(
            "{} kernels: T0 {} | T1 {} | T2 {} | T3 {}; {} calls, {} tier-ups, pool {} / {} KiB",
            n(ev, "kernels"),
            n(ev, "at_t0"),
            n(ev, "at_t1"),
            n(ev, "at_t2"),
            n(ev, "at_t3"),
            n(ev, "calls"),
            n(ev, "tier_ups"),
            n(ev, "pool_used") / 1024,
            n(ev, "pool_capacity") / 1024
        ),
        "bench" => format!(
            "{:<14} {:<4} size {:<8} median {:>14} cycles over {} reps{}",
            s(ev, "kernel"),
            s(ev, "tier"),
            n(ev, "size"),
            n(ev, "median_cycles"),
            n(ev, "reps"),
            if ev.get("ok") == Some(&Value::Bool(false)) {
                "  RESULT DIFFERS FROM T0"
            } else {
                ""
            }
        ),
        "trap" | "compile_error" | "deopt" => format!(
            "{:<14} at {}: {}",
            s(ev, "kernel"),
            s(ev, "tier"),
            s(ev, "reason")
        ),
        _ => return None,
    })
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Time to the first tier-up and compile latency per target tier.
pub fn summary(events: &[Event]) -> String {
    let mut out = String::new();
    let ups: Vec<&Event> = events.iter().filter(|e| e["ev"] == "tier_up").collect();
    match ups.first() {
        Some(first) => out.push_str(&format!(
            "first tier_up {:.1} ms after boot ({} {} -> {})\n",
            n(first, "t_us") as f64 / 1000.0,
            s(first, "kernel"),
            s(first, "from"),
            s(first, "to")
        )),
        None => out.push_str("no tier_up events\n"),
    }
    let mut by_tier: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in &ups {
        by_tier
            .entry(s(e, "to"))
            .or_default()
            .push(n(e, "compile_ns"));
    }
    for (tier, v) in by_tier.iter_mut() {
        let max = v.iter().copied().max().unwrap_or(0);
        let count = v.len();
        let med = median(v);
        out.push_str(&format!(
            "compile latency to {tier}: median {:.2} ms, max {:.2} ms over {count} tier-ups\n",
            med as f64 / 1e6,
            max as f64 / 1e6
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Event {
        crate::trace::parse(s).unwrap().unwrap()
    }

    #[test]
    fn summary_of_tier_ups() {
        let evs = vec![
            ev(r#"{"ev":"boot","t_us":0,"cpu":0}"#),
            ev(
                r#"{"ev":"tier_up","t_us":1500,"cpu":1,"kernel":"fib","from":"T0","to":"T1","calls":100,"compile_ns":2000000}"#,
            ),
            ev(
                r#"{"ev":"tier_up","t_us":2500,"cpu":1,"kernel":"sha","from":"T0","to":"T1","calls":100,"compile_ns":4000000}"#,
            ),
            ev(
                r#"{"ev":"tier_up","t_us":3500,"cpu":1,"kernel":"x","from":"T0","to":"T1","calls":100,"compile_ns":3000000}"#,
            ),
        ];
        let s = summary(&evs);
        assert!(
            s.contains("first tier_up 1.5 ms after boot (fib T0 -> T1)"),
            "{s}"
        );
        assert!(
            s.contains("to T1: median 3.00 ms, max 4.00 ms over 3"),
            "{s}"
        );
        let line = render(&evs[1]).unwrap();
        assert!(
            line.contains("fib") && line.contains("T0 -> T1 at 100 calls"),
            "{line}"
        );
        assert!(render(&evs[0]).is_none());
    }
}
