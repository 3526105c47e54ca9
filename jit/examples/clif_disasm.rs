//! Prints the Cranelift IR and the machine code (VCode listing) `jit` produces for one
//! function at one tier, with this host's CPU features (or SSE2 only with `--baseline`):
//!
//! ```text
//! cargo run -p jit --example clif_disasm -- ir-modules/softmax.bfir softmax T3 [--baseline] [--no-ir] [--dump DIR]
//! ```

use jit::cranelift_codegen::Context;
use jit::cranelift_codegen::control::ControlPlane;
use jit::{CpuFeatures, Engine, EngineConfig, Tier};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!(
            "usage: clif_disasm FILE.bfir FUNCTION T1|T2|T3 [--baseline] [--no-ir] [--dump DIR]"
        );
        std::process::exit(2);
    }
    let src = std::fs::read_to_string(&args[0]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[0]);
        std::process::exit(1);
    });
    let tier = match args[2].as_str() {
        "T1" => Tier::T1,
        "T2" => Tier::T2,
        "T3" => Tier::T3,
        t => {
            eprintln!("unknown tier {t}");
            std::process::exit(2);
        }
    };
    let features = if args.iter().any(|a| a == "--baseline") {
        CpuFeatures::baseline()
    } else {
        CpuFeatures::detect_host()
    };
    let show_ir = !args.iter().any(|a| a == "--no-ir");
    // --dump DIR: also write each function's machine code to DIR/SYMBOL.bin
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1).cloned());
    let module = jit::parse_module(&args[0], &src).unwrap_or_else(|d| {
        eprintln!("{d}");
        std::process::exit(1);
    });
    let engine = Engine::host(EngineConfig {
        features,
        ..EngineConfig::default()
    });
    let m = engine.load(module).expect("load");
    let Some(f) = engine.func(m, &args[1]) else {
        eprintln!("no function {}", args[1]);
        std::process::exit(1);
    };
    let unit = engine.cranelift_ir(f, tier).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1);
    });
    for cf in unit.functions {
        println!("==== {} ====", cf.symbol);
        if show_ir {
            println!("{}", cf.func.display());
        }
        let mut ctx = Context::for_function(cf.func);
        ctx.set_disasm(true);
        match ctx.compile(&*unit.isa, &mut ControlPlane::default()) {
            Ok(code) => {
                println!("{}", code.vcode.as_deref().unwrap_or(""));
                if let Some(dir) = &dump {
                    let path = format!("{dir}/{}.bin", cf.symbol);
                    if let Err(e) = std::fs::write(&path, code.code_buffer()) {
                        eprintln!("{path}: {e}");
                    }
                }
            }
            Err(e) => println!("compile error: {:?}", e.inner),
        }
    }
}
