//! The serial trace: finding events in serial output (`parse`), printing them for
//! people (`pretty`) and summarizing them (`summary`); `cargo xtask trace`.

mod pretty;
mod summary;
pub mod timeline;

pub use pretty::{pretty, pretty_line};
pub use summary::summary;

use crate::cli::TraceArgs;
use serde_json::{Map, Value};

/// One parsed trace event (`ev`, `t_us`, `cpu` and the event's fields).
pub type Event = Map<String, Value>;

/// Where an event starts in a serial line (firmware or loader output and
/// terminal escape codes can precede it on the first line).
pub fn event_start(line: &str) -> Option<&str> {
    line.find("{\"ev\":").map(|i| &line[i..])
}

/// A saved trace: the event of each serial line that has one, as the kernel wrote it
/// (firmware output dropped), one per line.
pub fn saved_events(lines: &[String]) -> String {
    let events: Vec<&str> = lines.iter().filter_map(|l| event_start(l)).collect();
    events.join("\n") + "\n"
}

/// Parses the event in `line`, if there is one.
pub fn parse(line: &str) -> Option<Result<Event, String>> {
    let text = event_start(line)?;
    Some(match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("not a JSON object: {text}")),
        Err(e) => Err(format!("malformed event ({e}): {text}")),
    })
}

/// A string field, `?` when absent (for display).
pub fn text<'a>(e: &'a Event, key: &str) -> &'a str {
    e.get(key).and_then(Value::as_str).unwrap_or("?")
}

/// An unsigned integer field, 0 when absent (for display).
pub fn number(e: &Event, key: &str) -> u64 {
    e.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// `cargo xtask trace [FILE] [--summary | --html OUT]`.
pub fn command(args: &TraceArgs) -> Result<(), String> {
    if let (Some(out), Some(file)) = (&args.html, &args.file) {
        let w = crate::report::timeline::write_for_trace(file, out)?;
        eprintln!(
            "timeline of {} events ({} KiB of trace) written to {} ({} KiB, {:.2} s)",
            w.events,
            w.trace_bytes / 1024,
            out.display(),
            w.page_bytes / 1024,
            w.seconds
        );
        return Ok(());
    }
    if !args.summary {
        return pretty::print_file(args.file.as_deref());
    }
    let path = args.file.as_deref().ok_or("trace --summary needs a FILE")?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let events: Vec<Event> = text.lines().filter_map(parse).collect::<Result<_, _>>()?;
    print!("{}", summary::summary(&events));
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
}
