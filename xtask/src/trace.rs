//! The serial trace: finding events in serial output and printing them for
//! people (`cargo xtask trace`).

use serde_json::{Map, Value};
use std::io::BufRead;

/// Where an event starts in a serial line (firmware or loader output and
/// terminal escape codes can precede it on the first line).
pub fn event_start(line: &str) -> Option<&str> {
    line.find("{\"ev\":").map(|i| &line[i..])
}

/// Parses the event in `line`, if there is one.
pub fn parse(line: &str) -> Option<Result<Map<String, Value>, String>> {
    let text = event_start(line)?;
    Some(match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("not a JSON object: {text}")),
        Err(e) => Err(format!("malformed event ({e}): {text}")),
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
pub fn pretty(ev: &Map<String, Value>) -> String {
    let name = ev.get("ev").and_then(Value::as_str).unwrap_or("?");
    let t = ev.get("t_us").and_then(Value::as_u64).unwrap_or(0);
    let cpu = ev.get("cpu").and_then(Value::as_u64).unwrap_or(0);
    let mut s = format!("{:>10.3} ms  cpu{:<2} {:<16}", t as f64 / 1000.0, cpu, name);
    if let Some(line) = crate::runtime_view::render(ev) {
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
pub fn print_file(path: Option<&str>) -> Result<(), String> {
    let reader: Box<dyn BufRead> = match path {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).map_err(|e| format!("cannot open trace {p}: {e}"))?,
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

    #[test]
    fn finds_event_after_firmware_noise() {
        let line = "\u{1b}[2J\u{1b}[01;01H{\"ev\":\"boot\",\"t_us\":5,\"cpu\":0,\"loader\":\"multiboot2\"}";
        let ev = parse(line).unwrap().unwrap();
        assert_eq!(ev["loader"], "multiboot2");
        assert!(parse("BdsDxe: loading Boot0001").is_none());
    }

    #[test]
    fn malformed_event_is_reported() {
        assert!(parse("{\"ev\":\"boot\",\"t_us\":").unwrap().is_err());
    }

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
