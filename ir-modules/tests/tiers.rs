//! Differential tests: every compiled tier (T1, T2, T3) gives T0's outputs (bit for
//! bit, or within the documented tolerance for `#[reassoc]` kernels) on randomized
//! inputs across the kernel's test sizes (edge sizes 0, 1 and odd sizes included), and
//! the same trap, with the same buffer contents left behind, on the trap cases.

mod common;

use modules::{Workload, kernel};

fn differential(name: &str) {
    let k = kernel(name).unwrap();
    // The host's features (T3 may use AVX and FMA) and plain SSE2 (other code paths).
    let host = common::engine();
    let sse2 = common::engine_with(
        jit::CpuFeatures::baseline(),
        [u64::MAX / 4, u64::MAX / 2, u64::MAX - 1],
    );
    for engine in [&host, &sse2] {
        let cat = common::load(engine);
        let f = common::entry(&cat, k);
        common::require_compiled(engine, f);
        let mut cases = 0;
        for &size in k.test_sizes {
            for seed in 0..common::seeds() {
                let mut w = Workload::new(k, size, seed);
                common::check_tiers(engine, f, &mut w);
                cases += 1;
            }
        }
        // One extra case at (up to) the benchmark size.
        common::check_tiers(engine, f, &mut Workload::new(k, k.bench_size.min(256), 99));
        assert!(cases >= 50, "{name}: only {cases} cases");
    }
}

fn traps(name: &str) {
    let k = kernel(name).unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    common::require_compiled(&engine, f);
    for seed in 0..6 {
        common::check_traps(&engine, f, k, seed);
    }
}

/// T0 alone raises the expected trap kind on every trap case (the reference semantics).
fn t0_traps(name: &str) {
    let k = kernel(name).unwrap();
    let engine = common::engine();
    let cat = common::load(&engine);
    let f = common::entry(&cat, k);
    for seed in 0..6 {
        for mut case in k.trap_cases(seed) {
            match modules::run::run_at(&engine, f, jit::Tier::T0, &mut case.workload) {
                Ok(o) => panic!("{name} ({}): T0 returned {:?}", case.what, o.ret),
                Err(t) => assert_eq!(t.kind, case.expected, "{name} ({})", case.what),
            }
        }
    }
}

macro_rules! kernel_tests {
    ($($name:ident),* $(,)?) => {
        mod t0_traps {
            $(#[test] fn $name() { super::t0_traps(stringify!($name)); })*
        }
        mod differential {
            $(#[test] fn $name() { super::differential(stringify!($name)); })*
        }
        mod traps {
            $(#[test] fn $name() { super::traps(stringify!($name)); })*
        }
    };
}

kernel_tests!(
    matmul,
    gemm_tile,
    matvec,
    attention,
    rmsnorm,
    softmax,
    rope,
    silu,
    swiglu,
    fft,
    sha256,
    regex_dfa,
    physics_step,
    quicksort,
    primes,
    fibonacci,
    strops
);

#[test]
fn every_catalog_kernel_has_differential_tests() {
    let listed = [
        "matmul",
        "gemm_tile",
        "matvec",
        "attention",
        "rmsnorm",
        "softmax",
        "rope",
        "silu",
        "swiglu",
        "fft",
        "sha256",
        "regex_dfa",
        "physics_step",
        "quicksort",
        "primes",
        "fibonacci",
        "strops",
    ];
    for k in modules::CATALOG {
        assert!(
            listed.contains(&k.name),
            "{} has no differential test",
            k.name
        );
    }
}
