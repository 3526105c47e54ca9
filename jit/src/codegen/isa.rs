//! The Cranelift ISA a tier compiles for: x86-64, flags from the CPU's features.

use super::CompileError;
use super::cpu_features::CpuFeatures;
use alloc::string::ToString;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};

/// The x86-64 ISA with optimization level `opt` (`none` or `speed`) and the feature flags
/// of `features`, each set explicitly from CPUID (the `x86-64-v3` preset, for one, leaves
/// `has_avx` out, and Cranelift emits `vfmadd` only with both `has_avx` and `has_fma`).
pub(super) fn make_isa(features: CpuFeatures, opt: &str) -> Result<OwnedTargetIsa, CompileError> {
    let e = |x: &dyn core::fmt::Display| CompileError::Codegen(x.to_string());
    let mut flags = settings::builder();
    flags.set("opt_level", opt).map_err(|x| e(&x))?;
    flags
        .set(
            "enable_verifier",
            if cfg!(debug_assertions) {
                "true"
            } else {
                "false"
            },
        )
        .map_err(|x| e(&x))?;
    flags.set("is_pic", "false").map_err(|x| e(&x))?;
    flags.set("enable_probestack", "false").map_err(|x| e(&x))?;
    flags.set("unwind_info", "false").map_err(|x| e(&x))?;
    flags
        .set("preserve_frame_pointers", "true")
        .map_err(|x| e(&x))?;
    let mut isa = cranelift_codegen::isa::lookup_by_name("x86_64").map_err(|x| e(&x))?;
    let set = |isa: &mut cranelift_codegen::isa::Builder,
               name: &str,
               on: bool|
     -> Result<(), CompileError> {
        isa.set(name, if on { "true" } else { "false" })
            .map_err(|x| e(&x))
    };
    set(&mut isa, "has_sse3", features.sse3)?;
    set(&mut isa, "has_ssse3", features.ssse3)?;
    set(&mut isa, "has_sse41", features.sse41)?;
    set(&mut isa, "has_sse42", features.sse42)?;
    set(&mut isa, "has_popcnt", features.popcnt)?;
    set(&mut isa, "has_lzcnt", features.lzcnt)?;
    set(&mut isa, "has_bmi1", features.bmi1)?;
    set(&mut isa, "has_bmi2", features.bmi2)?;
    set(&mut isa, "has_avx", features.avx)?;
    set(&mut isa, "has_avx2", features.avx2)?;
    set(&mut isa, "has_fma", features.fma)?;
    isa.finish(settings::Flags::new(flags)).map_err(|x| e(&x))
}
