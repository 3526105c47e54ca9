//! Shared helpers of the catalog's integration tests.
#![allow(dead_code)]

use jit::{CpuFeatures, Engine, EngineConfig, FuncId, Tier};
use modules::run::{run_at, run_at_keep};
use modules::{Kernel, LoadedCatalog, Outputs, Workload};

/// Seeds per (kernel, size) in the differential tests; `BF_TEST_SEEDS` overrides.
pub fn seeds() -> u64 {
    std::env::var("BF_TEST_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8)
}

/// An engine compiling for this host's CPU (T3 picks SIMD/FMA from it), inline
/// compilation, no automatic tier-up (the tests force tiers with `call_at`).
pub fn engine() -> Engine {
    engine_with(
        CpuFeatures::detect_host(),
        [u64::MAX / 4, u64::MAX / 2, u64::MAX - 1],
    )
}

pub fn engine_with(features: CpuFeatures, thresholds: [u64; 3]) -> Engine {
    let config = EngineConfig {
        thresholds,
        features,
        background_compile: false,
        ..EngineConfig::default()
    };
    Engine::host(config)
}

pub fn load(engine: &Engine) -> LoadedCatalog {
    LoadedCatalog::load(engine).unwrap_or_else(|e| panic!("catalog does not load: {e}"))
}

pub fn entry(cat: &LoadedCatalog, k: &Kernel) -> FuncId {
    cat.func(k)
        .unwrap_or_else(|| panic!("{}: entry not loaded", k.name))
}

/// Function `name` of catalog file `file`.
pub fn func(engine: &Engine, cat: &LoadedCatalog, file: &str, name: &str) -> FuncId {
    let m = cat
        .module(file)
        .unwrap_or_else(|| panic!("{file} not loaded"));
    engine
        .func(m, name)
        .unwrap_or_else(|| panic!("{file}: no function {name}"))
}

/// Compiles `f` at T1, T2 and T3, failing the test with the compiler's error: a tier
/// that cannot compile must not silently fall back to T0 in a differential test.
pub fn require_compiled(engine: &Engine, f: FuncId) {
    for tier in [Tier::T1, Tier::T2, Tier::T3] {
        match engine.compile(f, tier) {
            Ok(stats) => assert!(
                stats.code_bytes > 0,
                "{} at {tier}: no code",
                engine.func_name(f)
            ),
            Err(e) => panic!("{} does not compile at {tier}: {e}", engine.func_name(f)),
        }
    }
}

/// Runs `w` at `tier`, panicking with context on a trap.
pub fn run(engine: &Engine, f: FuncId, tier: Tier, w: &mut Workload) -> Outputs {
    match run_at(engine, f, tier, w) {
        Ok(o) => o,
        Err(t) => panic!(
            "{} size {} seed {} at {tier}: unexpected trap {:?}",
            w.kernel.name, w.size, w.seed, t
        ),
    }
}

/// Which implementations a known-answer test checks: the references (T0 and the AOT
/// baseline) or the compiled tiers (which must compile: no fallback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Set {
    Reference,
    Compiled,
}

impl Set {
    /// The JIT tiers of the set.
    pub fn tiers(self) -> &'static [Tier] {
        match self {
            Set::Reference => &[Tier::T0],
            Set::Compiled => &[Tier::T1, Tier::T2, Tier::T3],
        }
    }

    /// Compiles `f` at the set's tiers (a no-op for the references).
    pub fn prepare(self, engine: &Engine, f: FuncId) {
        if self == Set::Compiled {
            require_compiled(engine, f);
        }
    }
}

/// Outputs of every implementation of the set, labelled ("T0", "AOT", "T1"...).
pub fn runs(set: Set, engine: &Engine, f: FuncId, w: &mut Workload) -> Vec<(String, Outputs)> {
    set.prepare(engine, f);
    let mut v: Vec<(String, Outputs)> = set
        .tiers()
        .iter()
        .map(|&t| (t.to_string(), run(engine, f, t, w)))
        .collect();
    if set == Set::Reference {
        let aot = w
            .run_aot()
            .unwrap_or_else(|e| panic!("{}: AOT baseline failed: {e}", w.kernel.name));
        v.push(("AOT".to_string(), aot));
    }
    v
}

/// Differential check of every compiled tier against T0 for one workload.
pub fn check_tiers(engine: &Engine, f: FuncId, w: &mut Workload) {
    let reference = run(engine, f, Tier::T0, w);
    for tier in [Tier::T1, Tier::T2, Tier::T3] {
        let got = run(engine, f, tier, w);
        if let Err(m) = reference.compare(&got, w.kernel.tolerance) {
            panic!(
                "{} size {} seed {}: {tier} differs from T0: {m}",
                w.kernel.name, w.size, w.seed
            );
        }
    }
}

/// Every trap case of `k`: same kind at every tier, the expected one, and the same
/// buffer contents left behind.
pub fn check_traps(engine: &Engine, f: FuncId, k: &'static Kernel, seed: u64) -> usize {
    let cases = k.trap_cases(seed);
    assert!(!cases.is_empty(), "{}: no trap case", k.name);
    for mut case in cases {
        let (r0, o0) = run_at_keep(engine, f, Tier::T0, &mut case.workload);
        let t0 = r0.expect_err(&format!("{} ({}): T0 did not trap", k.name, case.what));
        assert_eq!(
            t0.kind, case.expected,
            "{} ({}): T0 trap kind",
            k.name, case.what
        );
        for tier in [Tier::T1, Tier::T2, Tier::T3] {
            let (r, o) = run_at_keep(engine, f, tier, &mut case.workload);
            match r {
                Ok(v) => panic!(
                    "{} ({}): {tier} returned {v:?} instead of trapping {:?}",
                    k.name, case.what, case.expected
                ),
                Err(t) => assert_eq!(
                    t.kind, case.expected,
                    "{} ({}): {tier} trap kind",
                    k.name, case.what
                ),
            }
            if let Err(m) = o0.compare(&o, k.tolerance) {
                panic!(
                    "{} ({}): buffers left by the trap at {tier} differ from T0: {m}",
                    k.name, case.what
                );
            }
        }
    }
    k.trap_cases(seed).len()
}
