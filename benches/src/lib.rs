//! Host benchmark support: every catalog kernel at every tier, against the AOT Rust
//! baseline (plain opt-level 3, and the same code compiled with AVX2+FMA), and against
//! cranelift-jit, and against the library a user would pick ([`library`]).
//!
//! Both `benches/tiers.rs` (criterion) and the `bench-summary` binary (Markdown table)
//! are built on [`Harness`] and [`Runner`]: a runner owns one workload and performs one
//! call of one variant; before it is handed out, its outputs are checked against T0 so
//! that every column measures the same, correct work.
//!
//! In-place kernels (the catalog's `in_place` flag: softmax, rope, silu, swiglu, fft,
//! physics_step, quicksort) must get their inputs back before every call; the timing
//! loops reset them outside the timed region.

pub mod library;
pub mod probe;
pub mod timing;

use std::fmt;

use jit::{CompileStats, CpuFeatures, Engine, EngineConfig, FuncId, Tier};
use library::{Choice, Library};
use modules::run::{call_at, call_counted, run_at};
use modules::{Kernel, LoadedCatalog, Outputs, Tolerance, Workload};

/// One column of the benchmark table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The JIT at a tier: T0–T2 forced (`Engine::call_at`); T3 is the slot's real top tier,
    /// reached by calling through the slot (`Engine::call`) with the benchmark's stable
    /// arguments, so it is specialized on them behind its guard, as in the kernel.
    Tier(Tier),
    /// The catalog's AOT baseline, compiled at the bench profile's opt-level 3 for the
    /// default x86_64 target (SSE2).
    Aot,
    /// The same baseline compiled with `#[target_feature(enable = "avx2,fma")]`.
    AotNative,
    /// cranelift-jit + cranelift-module compiling the kernel's T2 Cranelift IR.
    CraneliftJit,
    /// The kernel's first or second library ([`library::library_name`]); only the kernels
    /// with such a library have this column.
    Library(Choice),
}

impl Variant {
    /// Every variant, in table order.
    pub const ALL: [Variant; 9] = [
        Variant::Tier(Tier::T0),
        Variant::Tier(Tier::T1),
        Variant::Tier(Tier::T2),
        Variant::Tier(Tier::T3),
        Variant::Aot,
        Variant::AotNative,
        Variant::CraneliftJit,
        Variant::Library(Choice::First),
        Variant::Library(Choice::Second),
    ];

    /// Column label.
    pub fn label(self) -> &'static str {
        match self {
            Variant::Tier(t) => t.name(),
            Variant::Aot => "AOT",
            Variant::AotNative => "AOT-native",
            Variant::CraneliftJit => "cranelift-jit",
            Variant::Library(Choice::First) => "library",
            Variant::Library(Choice::Second) => "library-2",
        }
    }
}

impl Variant {
    /// Whether the column exists for `kernel` (library columns only where the kernel has
    /// that library).
    pub fn applies_to(self, kernel: &str) -> bool {
        match self {
            Variant::Library(c) => library::library_name(kernel, c).is_some(),
            _ => true,
        }
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// True when this CPU runs the AVX2+FMA baseline.
pub fn native_supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The sizes to benchmark a kernel at: its moderate `bench_size`, or its report sizes
/// (ARCHITECTURE.md, "The benchmark catalog") when `BF_BENCH_SIZES=report`.
pub fn sizes_for(k: &Kernel) -> Vec<usize> {
    match std::env::var("BF_BENCH_SIZES").as_deref() {
        Ok("report") => k.report_sizes.to_vec(),
        _ => vec![k.bench_size],
    }
}

/// The kernels selected by `BF_BENCH_KERNELS` (comma-separated names; all by default).
pub fn selected_kernels() -> Vec<&'static Kernel> {
    let filter = std::env::var("BF_BENCH_KERNELS").ok();
    modules::CATALOG
        .iter()
        .filter(|k| match &filter {
            Some(list) => list.split(',').any(|n| n.trim() == k.name),
            None => true,
        })
        .collect()
}

/// One engine with the whole catalog loaded, compiling for this host's CPU.
pub struct Harness {
    /// The engine holding the catalog.
    pub engine: Engine,
    /// The catalog's function ids in `engine`.
    pub catalog: LoadedCatalog,
}

impl Harness {
    /// A host engine (no automatic tier-up: variants force their tier) with the catalog.
    pub fn new() -> Result<Harness, String> {
        let config = EngineConfig {
            features: CpuFeatures::detect_host(),
            thresholds: [u64::MAX / 4, u64::MAX / 2, u64::MAX - 1],
            background_compile: false,
            ..EngineConfig::default()
        };
        let engine = Engine::host(config);
        let catalog = LoadedCatalog::load(&engine).map_err(|e| e.to_string())?;
        Ok(Harness { engine, catalog })
    }

    /// A fresh engine that tiers up by itself (T1/T2/T3 after 1/2/4 calls), and the
    /// kernel's entry in it, called through its slot with `w`'s arguments until it runs
    /// at T3 (specialized on those arguments, which stay the same in every timed call).
    fn climb_to_t3(&self, k: &Kernel, w: &mut Workload) -> Result<Box<Climbed>, String> {
        let engine = Engine::host(EngineConfig {
            features: CpuFeatures::detect_host(),
            thresholds: [1, 2, 4],
            background_compile: false,
            ..EngineConfig::default()
        });
        let catalog = LoadedCatalog::load(&engine).map_err(|e| e.to_string())?;
        let f = catalog
            .func(k)
            .ok_or_else(|| format!("{}: entry not loaded", k.name))?;
        for _ in 0..64 {
            if engine.current_tier(f) == Tier::T3 {
                return Ok(Box::new(Climbed { engine, f }));
            }
            w.reset();
            call_counted(&engine, f, w).map_err(|t| format!("{}: trap {t:?}", k.name))?;
        }
        Err(format!("{}: did not reach T3 through the slot", k.name))
    }

    fn func(&self, k: &Kernel) -> Result<FuncId, String> {
        self.catalog
            .func(k)
            .ok_or_else(|| format!("{}: entry not loaded", k.name))
    }

    /// Compiles the kernel's entry at `tier` and reports the compiler's statistics.
    pub fn compile(&self, k: &Kernel, tier: Tier) -> Result<CompileStats, String> {
        let f = self.func(k)?;
        self.engine
            .compile(f, tier)
            .map_err(|e| format!("{}: {tier}: {e}", k.name))
    }

    /// T0's outputs for (kernel, size, seed): the reference every variant is checked against.
    pub fn reference(&self, k: &'static Kernel, size: usize, seed: u64) -> Result<Outputs, String> {
        let mut w = Workload::new(k, size, seed);
        run_at(&self.engine, self.func(k)?, Tier::T0, &mut w)
            .map_err(|t| format!("{}: T0 trapped: {t:?}", k.name))
    }

    /// A checked runner of `variant` on (kernel, size, seed 0), or why it is unavailable.
    /// `reference` is T0's output for the same workload ([`Harness::reference`]).
    pub fn runner(
        &self,
        k: &'static Kernel,
        size: usize,
        variant: Variant,
        reference: &Outputs,
    ) -> Result<Runner<'_>, String> {
        let mut workload = Workload::new(k, size, 0);
        let func = self.func(k)?;
        let target = match variant {
            Variant::Tier(Tier::T3) => Target::Slot(self.climb_to_t3(k, &mut workload)?),
            Variant::Tier(t) => {
                if t != Tier::T0 {
                    self.compile(k, t)?;
                }
                Target::Jit(func, t)
            }
            Variant::Aot => Target::Aot,
            Variant::AotNative => {
                if !native_supported() {
                    return Err("CPU lacks AVX2/FMA".into());
                }
                Target::AotNative
            }
            Variant::CraneliftJit => {
                Target::CraneliftJit(Box::new(CraneliftJitCode::compile(&self.engine, func)?))
            }
            Variant::Library(choice) => Target::Library(Box::new(Library::new(&workload, choice)?)),
        };
        let mut r = Runner {
            harness: self,
            kernel: k,
            variant,
            workload,
            target,
        };
        r.reset();
        let ret = r.call_checked()?;
        if let Target::Library(lib) = &r.target {
            lib.check(reference, &mut r.workload, ret)?;
            r.reset();
            return Ok(r);
        }
        let got = r.workload.outputs(ret);
        let tol = match (variant, k.tolerance) {
            (Variant::Aot | Variant::AotNative, _) => Tolerance::Exact,
            (_, t) => t,
        };
        reference
            .compare(&got, tol)
            .map_err(|m| format!("{} {variant}: outputs differ from T0: {m}", k.name))?;
        if variant == Variant::CraneliftJit {
            // the same IR as T2: the very same bits, also for `#[reassoc]` kernels
            let mut w = Workload::new(k, size, 0);
            let t2 = run_at(&self.engine, func, cranelift::TIER, &mut w)
                .map_err(|t| format!("{}: {} trapped: {t:?}", k.name, cranelift::TIER))?;
            t2.compare(&got, Tolerance::Exact).map_err(|m| {
                format!(
                    "{} {variant}: outputs differ from {}: {m}",
                    k.name,
                    cranelift::TIER
                )
            })?;
        }
        r.reset();
        Ok(r)
    }
}

/// An engine whose slot for `f` has climbed to T3.
struct Climbed {
    engine: Engine,
    f: FuncId,
}

pub mod cranelift;
use cranelift::CraneliftJitCode;

enum Target {
    Jit(FuncId, Tier),
    /// Through a self-tiering engine's slot (counted calls, the slot's current entry).
    Slot(Box<Climbed>),
    Aot,
    AotNative,
    /// The kernel's T2 IR linked by cranelift-jit (boxed: the module is large).
    CraneliftJit(Box<CraneliftJitCode>),
    /// A library's implementation of the kernel.
    Library(Box<Library>),
}

/// One variant of one kernel on one workload, ready to be timed.
pub struct Runner<'h> {
    harness: &'h Harness,
    /// The catalog kernel.
    pub kernel: &'static Kernel,
    /// The tier or baseline that runs it.
    pub variant: Variant,
    /// The arguments of every timed call.
    pub workload: Workload,
    target: Target,
}

impl Runner<'_> {
    /// Whether the inputs must be restored between calls.
    pub fn needs_reset(&self) -> bool {
        self.kernel.in_place
    }

    /// Restores the workload's inputs (and a library's copy of them).
    pub fn reset(&mut self) {
        self.workload.reset();
        if let Target::Library(lib) = &mut self.target {
            // The workload was checked when the library was built; its shape is unchanged.
            if let Err(e) = lib.load(&self.workload) {
                panic!("{} {}: {e}", self.kernel.name, self.variant);
            }
        }
    }

    fn call_checked(&mut self) -> Result<jit::Value, String> {
        match &mut self.target {
            Target::Jit(f, t) => call_at(&self.harness.engine, *f, *t, &mut self.workload)
                .map_err(|e| format!("trap {e:?}")),
            Target::Slot(c) => {
                call_counted(&c.engine, c.f, &mut self.workload).map_err(|e| format!("trap {e:?}"))
            }
            Target::Aot => self.workload.call_aot().map_err(|e| e.to_string()),
            Target::CraneliftJit(code) => {
                let mut args = self.workload.args();
                code.call(&self.harness.engine, &mut args)
                    .map_err(|e| format!("trap {e:?}"))
            }
            Target::Library(lib) => lib.run(&mut self.workload),
            Target::AotNative => {
                #[cfg(target_arch = "x86_64")]
                {
                    // SAFETY: `Harness::runner` only builds this target when AVX2 and FMA
                    // were detected on this CPU.
                    unsafe { modules::aot::run_native(self.kernel.name, &mut self.workload.params) }
                        .map_err(|e| e.to_string())
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    Err("not x86_64".into())
                }
            }
        }
    }

    /// One call on the current inputs. The runner was checked when it was built, so a
    /// failure here means the workload was not reset (it panics with the reason).
    #[inline]
    pub fn call(&mut self) {
        if let Err(e) = self.call_checked() {
            panic!("{} {}: {e}", self.kernel.name, self.variant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every available variant of every kernel builds a runner whose outputs match T0
    /// (checked inside `Harness::runner`), and survives repeated calls with resets.
    #[test]
    fn every_variant_runs_and_matches_t0_at_a_small_size() {
        let h = Harness::new().unwrap();
        for k in modules::CATALOG {
            let size = k.test_sizes[k.test_sizes.len() / 2];
            let reference = h.reference(k, size, 0).unwrap();
            for v in Variant::ALL {
                if v == Variant::AotNative && !native_supported() {
                    continue;
                }
                if !v.applies_to(k.name) {
                    continue;
                }
                if let Variant::Library(_) = v {
                    // libraries at the benchmark's size (fft's test sizes include
                    // non-powers of two, where the radix-2 kernel only returns -1)
                    let reference = h.reference(k, k.bench_size, 0).unwrap();
                    let mut r = h
                        .runner(k, k.bench_size, v, &reference)
                        .unwrap_or_else(|e| panic!("{e}"));
                    for _ in 0..2 {
                        r.reset();
                        r.call();
                    }
                    continue;
                }
                let mut r = h
                    .runner(k, size, v, &reference)
                    .unwrap_or_else(|e| panic!("{e}"));
                for _ in 0..3 {
                    if r.needs_reset() {
                        r.reset();
                    }
                    r.call();
                }
            }
        }
    }
}
