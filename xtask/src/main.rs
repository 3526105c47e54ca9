//! `cargo xtask`: build, package, boot and test BareFlow.
//!
//! Layout: `cli` (the command line), the commands (`build`, `iso`, `run`, `bench`,
//! `suite` for `test`, `chat`, `limine_fetch`, `disasm`, `coverage`, `try_kernel` for `try`), the fmt and
//! clippy checks of `test` (`code_checks`), QEMU itself (`qemu`), the kernel tests
//! (`qemu_tests/`, with the models they generate in `llama_models`), the browser test
//! of the timeline (`browser_tests`), reading traces (`trace/`) and the reports made
//! from them (`report/`).

mod bench;
mod browser_tests;
mod build;
mod chat;
mod cli;
mod code_checks;
mod coverage;
mod disasm;
mod iso;
mod limine_fetch;
mod llama_models;
mod paths;
mod qemu;
mod qemu_tests;
mod report;
mod run;
mod suite;
mod trace;
mod try_kernel;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// Runs one command: `Ok(true)` success, `Ok(false)` a failure already reported,
/// `Err` a failure to report.
fn dispatch(command: Command) -> Result<bool, String> {
    match command {
        Command::Build => {
            let elf = build::build_kernel()?;
            println!("{}", elf.display());
            Ok(true)
        }
        Command::Iso(args) => {
            let spec = iso::IsoSpec::from_args(&args)?;
            let elf = build::build_kernel()?;
            println!("{}", iso::make_iso(&spec, &elf)?.display());
            Ok(true)
        }
        Command::Run(args) => run::run(&args),
        Command::Test(args) => suite::run(&args),
        Command::Bench(args) => bench::command(&args),
        Command::Trace(args) => trace::command(&args).map(|_| true),
        Command::Chat(args) => chat::run(&args),
        Command::Coverage(args) => coverage::run(&args),
        Command::Disasm(args) => disasm::disasm(&disasm::Request {
            file: &args.file,
            function: &args.function,
            tier: disasm::tier(&args.tier)?,
            baseline: args.baseline,
            no_ir: args.no_ir,
            dump: args.dump.as_deref(),
        })
        .map(|_| true),
        Command::Try(args) => try_kernel::command(&args.file, args.ms),
        Command::LimineFetch(args) => {
            let dir = limine_fetch::fetch(args.dest, args.sha256)?;
            println!(
                "Limine {} ready in {}",
                limine_fetch::LIMINE_VERSION,
                dir.display()
            );
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
