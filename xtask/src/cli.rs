//! The command line of `cargo xtask` (and `./x`): one struct per subcommand.
//!
//! A new command is a variant of [`Command`] with its own `Args` struct, and a match
//! arm in `main.rs`. The doc comments are the help texts (`./x help`, `./x CMD --help`).

use crate::iso::Boot;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// BareFlow developer commands: build, package, boot, test and read traces.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    arg_required_else_help = true,
    after_help = "`./x CMD` is `cargo xtask CMD` after installing what is missing. \
                  `./x help CMD` or `./x CMD --help` shows a command's options."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the kernel ELF (release, custom target) and print its path
    Build,
    /// Build a bootable ISO and print its path
    Iso(IsoArgs),
    /// Build, make the ISO, boot it in QEMU, stream the trace (saved to iso/last-trace.jsonl)
    Run(RunArgs),
    /// Run the code checks (fmt, clippy), the host unit tests, the timeline's browser
    /// test, then the kernel tests
    Test(TestArgs),
    /// Boot bench mode, write DIR/report.md (tables), report.svg (chart), trace.jsonl,
    /// timeline.html
    Bench(BenchArgs),
    /// Pretty-print a saved JSON trace, summarize it, or draw it as an HTML timeline
    Trace(TraceArgs),
    /// Talk to a language model inside the kernel: boot llama mode with the model (and
    /// tokenizer) as virtio drives, send your lines, print the answers
    Chat(ChatArgs),
    /// Download the pinned Limine binary release (needs internet access)
    LimineFetch(LimineFetchArgs),
    /// Show what the JIT makes of one function on this host: T0's bytecode, or the
    /// Cranelift IR and machine code of a compiled tier's unit
    Disasm(DisasmArgs),
    /// Measure the line coverage of the host crates' tests with cargo-llvm-cov
    /// (installed if missing) and print it per crate; not part of `test`
    Coverage(CoverageArgs),
    /// Run each function of a module that has a #[workload(...)] at every tier on this
    /// host: checked against T0, then calls per second, compile time and code size per tier
    Try(TryArgs),
}

/// What goes into an ISO (`iso`, and `run` before it boots).
#[derive(Debug, Args)]
pub struct IsoArgs {
    /// Boot loader: grub (multiboot2) or limine (needs a Limine release directory).
    #[arg(long, value_enum, value_name = "grub|limine", hide_possible_values = true,
          default_value_t = Boot::Grub)]
    pub boot: Boot,
    /// Limine binary release directory (or the LIMINE_DIR environment variable).
    #[arg(long, value_name = "DIR")]
    pub limine_dir: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, value_name = "STR", default_value = "bareflow.mode=demo")]
    pub cmdline: String,
    /// Add a boot module (repeatable); ir-modules/*.bfir are added unless
    /// --no-default-modules.
    #[arg(long = "module", value_name = "FILE")]
    pub modules: Vec<PathBuf>,
    /// Do not add ir-modules/*.bfir.
    #[arg(long)]
    pub no_default_modules: bool,
    /// Output file [default: iso/bareflow-<boot>.iso].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// The accelerator choice of the commands that boot QEMU.
const ACCEL_HELP: &str = "Accelerator; auto is KVM when usable, else TCG [default: auto, or \
                          BAREFLOW_ACCEL]";

/// `run`: how QEMU boots, then the ISO options.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Boot through OVMF (UEFI) instead of SeaBIOS.
    #[arg(long)]
    pub uefi: bool,
    /// CPUs (1 to 64).
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub smp: u32,
    /// RAM in MiB (at least 128).
    #[arg(long, value_name = "MIB", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(128..))]
    pub mem: u32,
    #[arg(long, value_name = "kvm|tcg|auto", hide_possible_values = true, value_parser = ["kvm", "tcg", "auto"], help = ACCEL_HELP)]
    pub accel: Option<String>,
    /// Kill QEMU after SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub timeout: u64,
    /// Print the JSON trace as it is, not pretty.
    #[arg(long)]
    pub raw: bool,
    /// Also write the trace's HTML timeline to FILE [default: iso/last-trace.html].
    #[arg(long, value_name = "FILE", num_args = 0..=1)]
    pub html: Option<Option<PathBuf>>,
    #[command(flatten, next_help_heading = "ISO options")]
    pub iso: IsoArgs,
}

/// `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Only the host part (code checks, unit tests, browser test).
    #[arg(long, conflicts_with = "qemu_only")]
    pub host_only: bool,
    /// Only the kernel tests (image check and QEMU boots).
    #[arg(long)]
    pub qemu_only: bool,
    #[arg(long, value_name = "kvm|tcg|auto", hide_possible_values = true, value_parser = ["kvm", "tcg", "auto"], help = ACCEL_HELP)]
    pub accel: Option<String>,
    /// Only the code checks, browser and kernel tests whose name contains NAME.
    #[arg(long, value_name = "NAME")]
    pub filter: Option<String>,
    /// Only the slow kernel tests, which are not part of the default run (a
    /// TinyLlama-1.1B-shaped model, about 1.2 GB, generated and booted from a drive).
    #[arg(long, conflicts_with = "host_only")]
    pub slow: bool,
}

/// `coverage`.
#[derive(Debug, Args)]
pub struct CoverageArgs {
    /// Also write the HTML report (every uncovered line) to target/llvm-cov/html/.
    #[arg(long)]
    pub html: bool,
}

/// `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, value_name = "kvm|tcg|auto", hide_possible_values = true, value_parser = ["kvm", "tcg", "auto"], help = ACCEL_HELP)]
    pub accel: Option<String>,
    /// Kill QEMU after SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    pub timeout: u64,
    /// Output directory [default: bench-report/].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Add a boot module (repeatable): its functions with a #[workload(...)] get a row
    /// (T0..T3, no AOT).
    #[arg(long = "module", value_name = "FILE")]
    pub modules: Vec<PathBuf>,
}

/// `trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The saved trace (one JSON event per line) [default: stdin].
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print time to the first tier-up and compile latency per tier (median, max).
    #[arg(long, requires = "file")]
    pub summary: bool,
    /// Write a self-contained HTML timeline of the trace to OUT.html (no network needed
    /// to view it).
    #[arg(
        long,
        value_name = "OUT.html",
        requires = "file",
        conflicts_with = "summary"
    )]
    pub html: Option<PathBuf>,
}

/// `chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The model: GGUF (F32, F16, Q8_0) or a llama2.c checkpoint (v0, v1, v2).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// llama2.c's tokenizer.bin (a GGUF carries its own).
    #[arg(long, value_name = "FILE")]
    pub tokenizer: Option<PathBuf>,
    /// CPUs (1 to 64); the forward pass uses all of them.
    #[arg(long, value_name = "N", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub smp: u32,
    /// RAM in MiB [default: enough for the model, at least 512].
    #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u32).range(128..))]
    pub mem: Option<u32>,
    /// Most tokens per answer.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub steps: u32,
    /// Context positions [default: the model's, at most 4096].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub ctx: Option<u32>,
    /// JIT tier thresholds T1,T2,T3 (bareflow.tiers=).
    #[arg(long, value_name = "T1,T2,T3")]
    pub tiers: Option<String>,
    /// The kernel's plain-text console on this terminal (bareflow.console=text)
    /// instead of rendering its JSON events.
    #[arg(long)]
    pub text: bool,
    #[arg(long, value_name = "kvm|tcg|auto", hide_possible_values = true, value_parser = ["kvm", "tcg", "auto"], help = ACCEL_HELP)]
    pub accel: Option<String>,
    /// Kill QEMU after SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 86_400)]
    pub timeout: u64,
}

/// `limine-fetch`.
#[derive(Debug, Args)]
pub struct LimineFetchArgs {
    /// Where to unpack [default: iso/limine].
    #[arg(long, value_name = "DIR")]
    pub dest: Option<PathBuf>,
    /// Also check the tarball's SHA-256 before unpacking (or LIMINE_SHA256); the
    /// unpacked files are always checked against the pinned digests.
    #[arg(long, value_name = "HEX")]
    pub sha256: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(line.split_whitespace()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn readme_commands_parse() {
        for line in [
            "build",
            "run",
            "run --smp 4 --mem 1024 --cmdline bareflow.mode=selftest",
            "run --uefi",
            "run --html",
            "run --html out.html --raw",
            "run --raw --html",
            "run --boot limine --limine-dir DIR",
            "test",
            "test --host-only",
            "test --qemu-only --filter uefi",
            "test --accel tcg",
            "test --slow",
            "test --slow --filter tinyllama",
            "test --host-only --filter clippy",
            "coverage",
            "coverage --html",
            "bench",
            "bench --accel kvm --out DIR",
            "bench --module ir-modules/examples/saxpy.bfir",
            "trace iso/last-trace.jsonl",
            "trace",
            "trace FILE --summary",
            "trace FILE --html OUT.html",
            "iso",
            "iso --module my.bfir --no-default-modules",
            "iso --boot limine --limine-dir DIR --out x.iso",
            "limine-fetch --sha256 00",
            "chat --model m.gguf",
            "chat --model stories15M.bin --tokenizer tokenizer.bin --smp 4 --steps 64",
            "chat --model m.gguf --text --mem 2048 --ctx 512 --tiers 10,20,40",
            "disasm ir-modules/saxpy.bfir saxpy T3",
            "disasm f.bfir fib T0 --baseline --no-ir --dump DIR",
            "try ir-modules/examples/saxpy.bfir",
            "try f.bfir --ms 50",
        ] {
            if let Err(e) = parse(line) {
                panic!("`{line}`: {e}");
            }
        }
    }

    #[test]
    fn values_reach_the_structs() {
        let Command::Run(r) = parse("run --smp 4 --module a.bfir --module b.bfir")
            .unwrap()
            .command
        else {
            panic!("not run");
        };
        assert_eq!(r.smp, 4);
        assert_eq!(r.mem, 512);
        assert_eq!(r.iso.cmdline, "bareflow.mode=demo");
        assert_eq!(r.iso.modules.len(), 2);
        assert_eq!(r.html, None);
        let Command::Run(r) = parse("run --html").unwrap().command else {
            panic!("not run");
        };
        assert_eq!(r.html, Some(None));
        let Command::Run(r) = parse("run --html x.html").unwrap().command else {
            panic!("not run");
        };
        assert_eq!(r.html, Some(Some(PathBuf::from("x.html"))));
        let Command::Trace(t) = parse("trace f.jsonl --summary").unwrap().command else {
            panic!("not trace");
        };
        assert_eq!(t.file, Some(PathBuf::from("f.jsonl")));
        assert!(t.summary);
        let Command::Trace(t) = parse("trace f.jsonl --html o.html").unwrap().command else {
            panic!("not trace");
        };
        assert_eq!(t.html, Some(PathBuf::from("o.html")));
    }

    #[test]
    fn bad_command_lines_are_errors() {
        for line in [
            "run --smp 0",
            "run --smp 65",
            "run --mem 64",
            "run --accel hvf",
            "run --boot lilo",
            "test --host-only --qemu-only",
            "test --host-only --slow",
            "trace --summary",
            "trace --html x.html",
            "trace f --summary --html x.html",
            "frobnicate",
            "chat",
            "chat --model m.gguf --smp 0",
            "build extra",
            "disasm f.bfir fib",
            "disasm f.bfir fib T4",
            "try",
            "try f.bfir --ms x",
        ] {
            assert!(parse(line).is_err(), "`{line}` was accepted");
        }
    }
}

/// `disasm`.
#[derive(Debug, Args)]
pub struct DisasmArgs {
    /// The IR module.
    #[arg(value_name = "FILE.bfir")]
    pub file: PathBuf,
    /// The function.
    #[arg(value_name = "FUNCTION")]
    pub function: String,
    /// The tier: T0 (the bytecode listing), T1, T2 or T3 (IR and machine code).
    #[arg(value_name = "T0|T1|T2|T3", hide_possible_values = true,
          value_parser = ["T0", "T1", "T2", "T3"])]
    pub tier: String,
    /// SSE2 only, instead of this host's CPU features.
    #[arg(long)]
    pub baseline: bool,
    /// Leave out the Cranelift IR (machine code only).
    #[arg(long)]
    pub no_ir: bool,
    /// Also write each function's machine code to DIR/SYMBOL.bin.
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
}

/// `try`.
#[derive(Debug, Args)]
pub struct TryArgs {
    /// The IR module.
    #[arg(value_name = "FILE.bfir")]
    pub file: PathBuf,
    /// About how long each tier is timed, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub ms: u64,
}
