//! `cargo xtask bench`: boots the kernel in bench mode (KVM when usable), collects the
//! `bench` events and writes `bench-report/report.md` (Markdown tables),
//! `bench-report/report.svg` (chart), `bench-report/trace.jsonl` (the raw trace) and
//! `bench-report/timeline.html` (its timeline).

use crate::cli::BenchArgs;
use crate::iso::{self, Boot, IsoSpec};
use crate::qemu::{self, Accel, QemuConfig};
use crate::report::bench::Report;
use crate::{build, paths, trace};
use bareflow_boot_model::exit::ExitCode;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `cargo xtask bench`: builds the kernel, runs [`run`] and prints the Markdown.
pub fn command(args: &BenchArgs) -> Result<bool, String> {
    let accel = qemu::select_accel(args.accel.as_deref())?;
    let elf = build::build_kernel()?;
    let md = run(
        &elf,
        &BenchOpts {
            accel,
            smp: 2,
            mem_mib: 1024,
            timeout: Duration::from_secs(args.timeout),
            out_dir: args.out.clone().unwrap_or_else(report_dir),
            modules: args.modules.clone(),
        },
    )?;
    println!("{md}");
    Ok(true)
}

/// Where the report goes.
pub fn report_dir() -> PathBuf {
    paths::root().join("bench-report")
}

/// Options of one bench run.
pub struct BenchOpts {
    pub accel: Accel,
    pub smp: u32,
    pub mem_mib: u32,
    pub timeout: Duration,
    pub out_dir: PathBuf,
    /// Boot modules besides `ir-modules/*.bfir` (their functions with a workload get
    /// T0..T3 rows).
    pub modules: Vec<PathBuf>,
}

fn field<'a>(evs: &'a [Map<String, Value>], ev: &str, key: &str) -> Option<&'a Value> {
    evs.iter().find(|e| e["ev"] == ev).and_then(|e| e.get(key))
}

/// Boots bench mode and writes the report; returns the Markdown.
pub fn run(elf: &Path, opts: &BenchOpts) -> Result<String, String> {
    let spec = IsoSpec {
        boot: Boot::Grub,
        limine_dir: None,
        cmdline: "bareflow.mode=bench".into(),
        modules: {
            let mut m = iso::default_modules();
            m.extend(opts.modules.iter().cloned());
            m
        },
        out: paths::iso_dir().join("bareflow-bench.iso"),
    };
    let iso_path = iso::make_iso(&spec, elf)?;
    eprintln!(
        "booting {} in bench mode ({} CPUs, {}); this takes a few minutes under TCG",
        iso_path.display(),
        opts.smp,
        opts.accel.name()
    );
    let cfg = QemuConfig {
        iso: iso_path,
        smp: opts.smp,
        mem_mib: opts.mem_mib,
        uefi: false,
        accel: opts.accel,
        timeout: opts.timeout,
        drives: Vec::new(),
    };
    let out = qemu::run(&cfg, |line| {
        if let Some(Ok(e)) = trace::parse(line)
            && matches!(
                e.get("ev").and_then(Value::as_str),
                Some("bench" | "bench_start" | "bench_done" | "warn" | "panic" | "exception")
            )
        {
            eprintln!("{}", trace::pretty(&e));
        }
    })?;
    let mut evs = Vec::new();
    for line in &out.lines {
        match trace::parse(line) {
            Some(Ok(e)) => evs.push(e),
            Some(Err(e)) => return Err(format!("bad trace line: {e}")),
            None => {}
        }
    }
    std::fs::create_dir_all(&opts.out_dir)
        .map_err(|e| format!("cannot create {}: {e}", opts.out_dir.display()))?;
    let trace_path = opts.out_dir.join("trace.jsonl");
    std::fs::write(&trace_path, trace::saved_events(&out.lines))
        .map_err(|e| format!("cannot write {}: {e}", trace_path.display()))?;
    let html_path = opts.out_dir.join("timeline.html");
    match crate::report::timeline::write_for_trace(&trace_path, &html_path) {
        Ok(_) => eprintln!("timeline written to {}", html_path.display()),
        Err(e) => eprintln!("xtask: no timeline: {e}"),
    }
    if out.timed_out {
        return Err(format!(
            "QEMU killed after {} s; partial trace in {}",
            opts.timeout.as_secs(),
            trace_path.display()
        ));
    }
    if out.exit_code() != Some(ExitCode::Success) {
        return Err(format!(
            "bench run ended with QEMU status {:?}; trace in {}:\n{}",
            out.status,
            trace_path.display(),
            out.tail(15)
        ));
    }
    let mut report = Report::from_events(&evs)?;
    report
        .notes
        .push(format!("accelerator: {}", opts.accel.name()));
    if let Some(m) = field(&evs, "cpu_features", "model").and_then(Value::as_str) {
        report.notes.push(format!("CPU: {m}"));
    }
    if let Some(hz) = field(&evs, "cpu_features", "tsc_hz").and_then(Value::as_u64) {
        report
            .notes
            .push(format!("TSC: {:.3} GHz", hz as f64 / 1e9));
    }
    if let Some(f) = field(&evs, "bench_start", "jit_features").and_then(Value::as_array) {
        let names: Vec<&str> = f.iter().filter_map(Value::as_str).collect();
        report
            .notes
            .push(format!("JIT ISA features: {}", names.join(" ")));
    }
    report.notes.push(
        "sizes: each kernel's catalog `bench_size`; cells: median TSC cycles per call; \
         aot: the catalog's Rust baseline compiled into the kernel (x86-64 baseline)"
            .into(),
    );
    let not_ok: Vec<String> = evs
        .iter()
        .filter(|e| e["ev"] == "bench" && e.get("ok") == Some(&Value::Bool(false)))
        .map(|e| format!("{} {}", e["kernel"], e["tier"]))
        .collect();
    if !not_ok.is_empty() {
        report
            .notes
            .push(format!("results differing from T0: {}", not_ok.join(", ")));
    }
    let md = report.markdown();
    let md_path = opts.out_dir.join("report.md");
    let svg_path = opts.out_dir.join("report.svg");
    std::fs::write(&md_path, &md)
        .map_err(|e| format!("cannot write {}: {e}", md_path.display()))?;
    std::fs::write(&svg_path, report.svg())
        .map_err(|e| format!("cannot write {}: {e}", svg_path.display()))?;
    eprintln!(
        "report written to {} and {} (run took {:.1} s)",
        md_path.display(),
        svg_path.display(),
        out.elapsed.as_secs_f64()
    );
    if !not_ok.is_empty() {
        return Err(format!("results differ from T0 in: {}", not_ok.join(", ")));
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_trace_reads_back_as_the_same_events() {
        // Regression: bench re-serialized the events, which sorts their keys, so `ev`
        // was no longer first and no reader found the events in its trace.jsonl.
        let lines: Vec<String> = [
            "\u{1b}[2JWelcome to GRUB!",
            r#"{"ev":"boot","t_us":5,"cpu":0,"loader":"multiboot2"}"#,
            r#"{"ev":"bench","t_us":9,"cpu":0,"kernel":"fib","tier":"T0","median_cycles":3,"reps":5}"#,
        ]
        .map(String::from)
        .to_vec();
        let evs: Vec<_> = lines
            .iter()
            .filter_map(|l| trace::parse(l))
            .map(Result::unwrap)
            .collect();
        let text = trace::saved_events(&lines);
        let back: Vec<_> = text
            .lines()
            .map(|l| trace::parse(l).expect("an event line").unwrap())
            .collect();
        assert_eq!(back, evs);
    }
}
