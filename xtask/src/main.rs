//! `cargo xtask`: build, package, boot and test BareFlow.

mod bench;
mod bench_report;
mod build;
mod image;
mod iso;
mod itests;
mod limine_fetch;
mod paths;
mod qemu;
mod runtime_tests;
mod runtime_view;
mod trace;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build                      build the kernel ELF (release, custom target)
  iso [options]              build a bootable ISO
      --boot grub|limine     loader (default grub)
      --limine-dir DIR       Limine binary release directory (or LIMINE_DIR)
      --cmdline STR          kernel command line (default bareflow.mode=demo)
      --module FILE          add a boot module (repeatable; default ir-modules/*.bfir)
      --no-default-modules   do not add ir-modules/*.bfir
      --out FILE             output (default iso/bareflow-<boot>.iso)
  run [iso options] [options]  build, make the ISO and boot it in QEMU
      --uefi                 boot through OVMF instead of SeaBIOS
      --smp N                CPUs (default 2)
      --mem MIB              RAM (default 512)
      --accel kvm|tcg|auto   accelerator (default auto, or BAREFLOW_ACCEL)
      --timeout SECS         kill QEMU after SECS (default 600)
      --raw                  print the JSON trace as is, not pretty
  test [--host-only|--qemu-only] [--accel A] [--filter NAME]
                             host unit tests, then QEMU integration tests
  bench [--accel A] [--timeout SECS] [--out DIR]
                             boot bench mode, write DIR/report.md and report.svg
                             (default bench-report/)
  trace [FILE] [--summary]   pretty-print a saved JSON trace (default stdin); --summary:
                             time to the first tier-up, compile latency per tier
  limine-fetch [--dest DIR] [--sha256 HEX]
                             download the pinned Limine binary release";

struct Args {
    rest: Vec<String>,
}

impl Args {
    fn flag(&mut self, name: &str) -> bool {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }

    fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                if i + 1 >= self.rest.len() {
                    return Err(format!("{name} needs a value"));
                }
                let v = self.rest.remove(i + 1);
                self.rest.remove(i);
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    fn values(&mut self, name: &str) -> Result<Vec<String>, String> {
        let mut v = Vec::new();
        while let Some(x) = self.value(name)? {
            v.push(x);
        }
        Ok(v)
    }

    fn number(&mut self, name: &str, default: u64) -> Result<u64, String> {
        match self.value(name)? {
            Some(s) => s
                .parse()
                .map_err(|_| format!("{name} expects a number, got '{s}'")),
            None => Ok(default),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.rest.first() {
            Some(a) => Err(format!("unexpected argument '{a}'\n\n{USAGE}")),
            None => Ok(()),
        }
    }
}

fn iso_spec(args: &mut Args) -> Result<iso::IsoSpec, String> {
    let boot = iso::Boot::parse(&args.value("--boot")?.unwrap_or_else(|| "grub".into()))?;
    let limine_dir = args
        .value("--limine-dir")?
        .or_else(|| std::env::var("LIMINE_DIR").ok().filter(|s| !s.is_empty()))
        .map(PathBuf::from);
    let cmdline = args
        .value("--cmdline")?
        .unwrap_or_else(|| "bareflow.mode=demo".into());
    let mut modules: Vec<PathBuf> = args
        .values("--module")?
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if !args.flag("--no-default-modules") {
        modules.extend(iso::default_modules());
    }
    let name = match boot {
        iso::Boot::Grub => "bareflow-grub.iso",
        iso::Boot::Limine => "bareflow-limine.iso",
    };
    let out = args
        .value("--out")?
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::iso_dir().join(name));
    iso::check_modules(&modules)?;
    // Check the loader inputs before the (slow) kernel build.
    if boot == iso::Boot::Limine {
        match &limine_dir {
            Some(dir) => {
                iso::check_limine_dir(dir)?;
            }
            None => return Err(iso::LIMINE_DIR_MISSING.into()),
        }
    }
    Ok(iso::IsoSpec {
        boot,
        limine_dir,
        cmdline,
        modules,
        out,
    })
}

fn cmd_run(mut args: Args) -> Result<bool, String> {
    let spec = iso_spec(&mut args)?;
    let uefi = args.flag("--uefi");
    let raw = args.flag("--raw");
    let smp = args.number("--smp", 2)?;
    let mem = args.number("--mem", 512)?;
    let secs = args.number("--timeout", 600)?;
    let accel = qemu::select_accel(args.value("--accel")?.as_deref())?;
    args.finish()?;
    if !(1..=64).contains(&smp) {
        return Err(format!("--smp {smp}: BareFlow supports 1 to 64 CPUs"));
    }
    if mem < 128 {
        return Err(format!("--mem {mem}: give the kernel at least 128 MiB"));
    }
    let elf = build::build_kernel()?;
    let iso_path = iso::make_iso(&spec, &elf)?;
    eprintln!(
        "booting {} ({} CPUs, {mem} MiB, {}, {}); the trace follows",
        iso_path.display(),
        smp,
        if uefi { "UEFI" } else { "BIOS" },
        accel.name()
    );
    let cfg = qemu::QemuConfig {
        iso: iso_path,
        smp: smp as u32,
        mem_mib: mem as u32,
        uefi,
        accel,
        timeout: Duration::from_secs(secs),
    };
    let out = qemu::run(&cfg, |line| {
        if raw {
            println!("{line}");
        } else {
            println!("{}", trace::pretty_line(line));
        }
    })?;
    let saved = paths::iso_dir().join("last-trace.jsonl");
    let events: Vec<&str> = out
        .lines
        .iter()
        .filter_map(|l| trace::event_start(l))
        .collect();
    let _ = std::fs::write(&saved, events.join("\n") + "\n");
    let first = out.first_event.map_or("no event".into(), |d| {
        format!("first event after {} ms", d.as_millis())
    });
    if out.timed_out {
        return Err(format!(
            "QEMU killed after {secs} s ({first}); trace saved to {}",
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
    Ok(code == Some(bareflow_boot_model::exit::ExitCode::Success))
}

fn cmd_test(mut args: Args) -> Result<bool, String> {
    let host_only = args.flag("--host-only");
    let qemu_only = args.flag("--qemu-only");
    let filter = args.value("--filter")?;
    let accel = qemu::select_accel(args.value("--accel")?.as_deref())?;
    args.finish()?;
    if !qemu_only {
        eprintln!(
            "== host tests: cargo test --workspace --exclude bareflow-kernel --exclude bareflow-platform"
        );
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(&cargo)
            .current_dir(paths::root())
            .args([
                "test",
                "--workspace",
                "--exclude",
                "bareflow-kernel",
                "--exclude",
                "bareflow-platform",
            ])
            .status()
            .map_err(|e| format!("cannot run {cargo}: {e}"))?;
        if !status.success() {
            return Err(format!("host tests failed ({status})"));
        }
    }
    if host_only {
        return Ok(true);
    }
    eprintln!("== kernel build");
    let elf = build::build_kernel()?;
    eprintln!(
        "== QEMU integration tests (accelerator {}, set BAREFLOW_ACCEL=kvm|tcg to choose)",
        accel.name()
    );
    let (passed, failed) = itests::run_all(&elf, accel, filter.as_deref());
    println!("{passed} passed, {failed} failed");
    Ok(failed == 0 && passed > 0)
}

fn cmd_bench(mut args: Args) -> Result<bool, String> {
    let accel = qemu::select_accel(args.value("--accel")?.as_deref())?;
    let secs = args.number("--timeout", 1800)?;
    let out_dir = args
        .value("--out")?
        .map(PathBuf::from)
        .unwrap_or_else(bench::report_dir);
    args.finish()?;
    let elf = build::build_kernel()?;
    let md = bench::run(
        &elf,
        &bench::BenchOpts {
            accel,
            smp: 2,
            mem_mib: 1024,
            timeout: Duration::from_secs(secs),
            out_dir,
        },
    )?;
    println!("{md}");
    Ok(true)
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() || argv[0] == "help" || argv[0] == "--help" || argv[0] == "-h" {
        println!("{USAGE}");
        return if argv.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let command = argv.remove(0);
    let mut args = Args { rest: argv };
    let result: Result<bool, String> = match command.as_str() {
        "build" => args.finish().and_then(|_| build::build_kernel()).map(|p| {
            println!("{}", p.display());
            true
        }),
        "iso" => iso_spec(&mut args)
            .and_then(|spec| args.finish().map(|_| spec))
            .and_then(|spec| {
                let elf = build::build_kernel()?;
                iso::make_iso(&spec, &elf)
            })
            .map(|p| {
                println!("{}", p.display());
                true
            }),
        "run" => cmd_run(args),
        "test" => cmd_test(args),
        "bench" => cmd_bench(args),
        "trace" => (|| {
            let summary = args.flag("--summary");
            let file = args.rest.first().cloned();
            if !summary {
                return trace::print_file(file.as_deref()).map(|_| true);
            }
            let path = file.ok_or("trace --summary needs a FILE")?;
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot open {path}: {e}"))?;
            let events: Vec<_> = text
                .lines()
                .filter_map(trace::parse)
                .collect::<Result<_, _>>()?;
            print!("{}", runtime_view::summary(&events));
            Ok(true)
        })(),
        "limine-fetch" => (|| {
            let dest = args.value("--dest")?.map(PathBuf::from);
            let digest = args.value("--sha256")?;
            args.finish()?;
            let dir = limine_fetch::fetch(dest, digest)?;
            println!(
                "Limine {} ready in {}",
                limine_fetch::LIMINE_VERSION,
                dir.display()
            );
            Ok(true)
        })(),
        other => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
