//! Trace events as readable lines (`cargo xtask run`, `cargo xtask trace FILE`).

use super::{Event, number as n, parse, text as s};
use serde_json::Value;
use std::io::BufRead;
use std::path::Path;

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

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) if s.contains(' ') || s.is_empty() => format!("{s:?}"),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(scalar).collect::<Vec<_>>().join(" ")),
        other => other.to_string(),
    }
}

/// One event as a human-readable line:
/// `   12.345 ms  cpu0  boot          loader=multiboot2 ...`.
pub fn pretty(ev: &Event) -> String {
    let name = ev.get("ev").and_then(Value::as_str).unwrap_or("?");
    let t = ev.get("t_us").and_then(Value::as_u64).unwrap_or(0);
    let cpu = ev.get("cpu").and_then(Value::as_u64).unwrap_or(0);
    let mut s = format!("{:>10.3} ms  cpu{:<2} {:<16}", t as f64 / 1000.0, cpu, name);
    if let Some(line) = render(ev) {
        s.push_str(&line);
        return s;
    }
    for (k, v) in ev {
        if matches!(k.as_str(), "ev" | "t_us" | "cpu") {
            continue;
        }
        s.push(' ');
        s.push_str(k);
        s.push('=');
        s.push_str(&scalar(v));
    }
    s
}

/// Pretty-prints one serial line (events formatted, other output marked).
pub fn pretty_line(line: &str) -> String {
    match parse(line) {
        Some(Ok(ev)) => pretty(&ev),
        Some(Err(e)) => format!("!! {e}"),
        None => format!("   | {line}"),
    }
}

/// `cargo xtask trace [FILE]`: pretty-prints a saved trace (or stdin).
pub fn print_file(path: Option<&Path>) -> Result<(), String> {
    let reader: Box<dyn BufRead> = match path {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p)
                .map_err(|e| format!("cannot open trace {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    for line in reader.lines() {
        let line = line.map_err(|e| format!("reading trace: {e}"))?;
        println!("{}", pretty_line(&line));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::parse;

    #[test]
    fn pretty_format() {
        let ev = parse("{\"ev\":\"selftest\",\"t_us\":1500,\"cpu\":1,\"name\":\"heap\",\"ok\":true,\"detail\":\"a b\"}")
            .unwrap()
            .unwrap();
        let p = pretty(&ev);
        assert!(p.contains("1.500 ms"), "{p}");
        assert!(p.contains("cpu1"));
        for field in ["name=heap", "ok=true", "detail=\"a b\""] {
            assert!(p.contains(field), "{p}");
        }
    }
}
