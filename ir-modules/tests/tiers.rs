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
    matvec_ffn,
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
        "matvec_ffn",
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

/// Every i32 scalar argument of every kernel, one at a time, set to edge values
/// (negative sizes, 0, i32::MIN/MAX, one past the buffers...): whatever T0 does (return
/// or trap), every compiled tier does the same, with the same buffers left behind.
#[test]
fn perturbed_scalar_arguments() {
    use jit::Tier;
    use modules::Param;
    use modules::run::run_at_keep;
    let engine = common::engine();
    let cat = common::load(&engine);
    let mut cases = 0;
    let mut traps = 0;
    for k in modules::CATALOG {
        let f = common::entry(&cat, k);
        common::require_compiled(&engine, f);
        let size = k.test_sizes[3.min(k.test_sizes.len() - 1)];
        let base = Workload::new(k, size, 3);
        let n = size as i32;
        for (idx, p) in base.params.iter().enumerate() {
            if !matches!(p, Param::I32(_)) {
                continue;
            }
            for v in [
                -1,
                0,
                1,
                2,
                -n,
                n + 1,
                2 * n + 3,
                i32::MIN,
                i32::MAX,
                i32::MIN + 1,
            ] {
                let mut w = base.clone();
                w.set_param(idx, Param::I32(v));
                let (r0, o0) = run_at_keep(&engine, f, Tier::T0, &mut w);
                cases += 1;
                traps += usize::from(r0.is_err());
                for tier in [Tier::T1, Tier::T2, Tier::T3] {
                    let (r, o) = run_at_keep(&engine, f, tier, &mut w);
                    let what = format!("{} size {size}, parameter {idx} = {v}, {tier}", k.name);
                    match (&r0, &r) {
                        (Ok(_), Ok(_)) => {}
                        (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "{what}: trap kind"),
                        _ => panic!("{what}: T0 gave {r0:?}, {tier} gave {r:?}"),
                    }
                    if let Err(m) = o0.compare(&o, k.tolerance) {
                        panic!("{what}: {m}");
                    }
                }
            }
        }
    }
    // Both outcomes must be exercised: normal returns and traps.
    assert!(
        cases >= 250 && traps > 50 && cases - traps > 50,
        "{cases} cases, {traps} traps"
    );
}
