//! `cargo xtask run`: build, make the ISO, boot it in QEMU, stream the trace and save
//! it to `iso/last-trace.jsonl`.

use crate::cli::RunArgs;
use crate::iso::{self, IsoSpec};
use crate::report::timeline;
use crate::trace::timeline::Timeline;
use crate::{build, paths, qemu, trace};
use bareflow_boot_model::exit::ExitCode;
use std::path::PathBuf;
use std::time::Duration;

/// Where `run` saves the trace.
pub fn saved_trace() -> PathBuf {
    paths::iso_dir().join("last-trace.jsonl")
}

/// Runs the command; `Ok(true)` when the kernel exited with success.
pub fn run(args: &RunArgs) -> Result<bool, String> {
    let spec = IsoSpec::from_args(&args.iso)?;
    let accel = qemu::select_accel(args.accel.as_deref())?;
    let elf = build::build_kernel()?;
    let iso_path = iso::make_iso(&spec, &elf)?;
    eprintln!(
        "booting {} ({} CPUs, {} MiB, {}, {}); the trace follows",
        iso_path.display(),
        args.smp,
        args.mem,
        if args.uefi { "UEFI" } else { "BIOS" },
        accel.name()
    );
    let cfg = qemu::QemuConfig {
        iso: iso_path,
        smp: args.smp,
        mem_mib: args.mem,
        uefi: args.uefi,
        accel,
        timeout: Duration::from_secs(args.timeout),
        drives: Vec::new(),
    };
    let out = qemu::run(&cfg, |line| {
        if args.raw {
            println!("{line}");
        } else {
            println!("{}", trace::pretty_line(line));
        }
    })?;
    let saved = saved_trace();
    let _ = std::fs::write(&saved, trace::saved_events(&out.lines));
    if let Some(html) = &args.html {
        let path = html
            .clone()
            .unwrap_or_else(|| paths::iso_dir().join("last-trace.html"));
        let timeline = Timeline::from_lines(out.lines.iter().map(String::as_str));
        match timeline::write(&timeline, "last-trace.jsonl", &path) {
            Ok(_) => eprintln!("timeline written to {}", path.display()),
            Err(e) => eprintln!("xtask: no timeline: {e}"),
        }
    }
    let first = out.first_event.map_or("no event".into(), |d| {
        format!("first event after {} ms", d.as_millis())
    });
    if out.timed_out {
        return Err(format!(
            "QEMU killed after {} s ({first}); trace saved to {}",
            args.timeout,
            saved.display()
        ));
    }
    let code = out.exit_code();
    eprintln!(
        "QEMU exited with status {:?} (kernel: {}) after {:.2} s, {first}; trace saved to {}",
        out.status,
        code.map_or("no kernel exit code", |c| c.name()),
        out.elapsed.as_secs_f64(),
        saved.display()
    );
    if !out.stderr.trim().is_empty() {
        eprintln!("qemu: {}", out.stderr.trim());
    }
    Ok(code == Some(ExitCode::Success))
}
