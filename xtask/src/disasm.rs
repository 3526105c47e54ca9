//! `cargo xtask disasm`: what the JIT makes of one function at one tier, on this host: the
//! T0 bytecode listing, or for T1–T3 the Cranelift IR of every function of the unit and
//! the machine code Cranelift produces from it (its VCode listing).

use jit::cranelift_codegen::Context;
use jit::cranelift_codegen::control::ControlPlane;
use jit::{CpuFeatures, Engine, EngineConfig, Tier};
use std::path::Path;

/// What to show.
pub struct Request<'a> {
    pub file: &'a Path,
    pub function: &'a str,
    pub tier: Tier,
    /// SSE2 only instead of this host's CPU features.
    pub baseline: bool,
    /// Leave out the Cranelift IR (T1–T3: machine code only).
    pub no_ir: bool,
    /// Also write each function's machine code to `DIR/SYMBOL.bin`.
    pub dump: Option<&'a Path>,
}

/// Parses a tier name (`T0`..`T3`).
pub fn tier(name: &str) -> Result<Tier, String> {
    Tier::ALL
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| format!("unknown tier '{name}' (T0, T1, T2 or T3)"))
}

/// Prints the listing of `req` to stdout.
pub fn disasm(req: &Request) -> Result<(), String> {
    let src = std::fs::read_to_string(req.file)
        .map_err(|e| format!("cannot read {}: {e}", req.file.display()))?;
    let name = req.file.to_string_lossy();
    let module = jit::parse_module(&name, &src).map_err(|d| d.to_string())?;
    let features = if req.baseline {
        CpuFeatures::baseline()
    } else {
        CpuFeatures::detect_host()
    };
    let engine = Engine::host(EngineConfig {
        features,
        ..EngineConfig::default()
    });
    let m = engine.load(module).map_err(|e| e.to_string())?;
    let f = engine
        .func(m, req.function)
        .ok_or_else(|| format!("{name}: no function '{}'", req.function))?;
    if req.tier == Tier::T0 {
        let listing = engine.t0_listing(f).ok_or("no bytecode")?;
        print!("{listing}");
        return Ok(());
    }
    let unit = engine
        .cranelift_ir(f, req.tier)
        .map_err(|e| e.to_string())?;
    for cf in unit.functions {
        println!("==== {} ====", cf.symbol);
        if !req.no_ir {
            println!("{}", cf.func.display());
        }
        let mut ctx = Context::for_function(cf.func);
        ctx.set_disasm(true);
        let code = ctx
            .compile(&*unit.isa, &mut ControlPlane::default())
            .map_err(|e| format!("{}: {:?}", cf.symbol, e.inner))?;
        println!("{}", code.vcode.as_deref().unwrap_or(""));
        if let Some(dir) = req.dump {
            let path = dir.join(format!("{}.bin", cf.symbol));
            std::fs::write(&path, code.code_buffer())
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}
