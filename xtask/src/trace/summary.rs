//! A summary of a saved trace (`cargo xtask trace FILE --summary`): time from boot to
//! the first tier-up, and compile latency per tier (median, max).

use super::{Event, number as n, text as s};
use std::collections::BTreeMap;

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
    use crate::trace::pretty::render;

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
