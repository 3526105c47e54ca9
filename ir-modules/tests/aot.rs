//! The AOT Rust baselines compute exactly what T0 computes (bit for bit, even for the
//! `#[reassoc]` kernels, whose baselines keep the IR's sequential order), so the
//! benchmarks compare the same work; the AVX2+FMA build of the baselines agrees too.

mod common;

use jit::Tier;
use modules::{CATALOG, Tolerance, Workload};

#[test]
fn aot_matches_t0_for_every_kernel() {
    let engine = common::engine();
    let cat = common::load(&engine);
    for k in CATALOG {
        let f = common::entry(&cat, k);
        let sizes = k.test_sizes.iter().copied().chain([k.bench_size]);
        for size in sizes {
            for seed in 0..3 {
                let mut w = Workload::new(k, size, seed);
                let t0 = common::run(&engine, f, Tier::T0, &mut w);
                let aot = w
                    .run_aot()
                    .unwrap_or_else(|e| panic!("{} size {size}: {e}", k.name));
                if let Err(m) = t0.compare(&aot, Tolerance::Exact) {
                    panic!(
                        "{} size {size} seed {seed}: AOT differs from T0: {m}",
                        k.name
                    );
                }
            }
        }
    }
}

#[test]
fn aot_is_deterministic_and_reset_restores_inputs() {
    for k in CATALOG {
        let size = k.test_sizes[k.test_sizes.len() / 2];
        let mut w = Workload::new(k, size, 5);
        let a = w.run_aot().unwrap();
        let b = w.run_aot().unwrap();
        assert_eq!(a, b, "{}", k.name);
        let fresh = Workload::new(k, size, 5);
        w.reset();
        assert_eq!(w.params, fresh.params, "{}: reset", k.name);
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn aot_native_matches_aot() {
    if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
        eprintln!("skipped: this CPU has no AVX2+FMA");
        return;
    }
    for k in CATALOG {
        for &size in k.test_sizes.iter().chain([&k.bench_size]) {
            let mut w = Workload::new(k, size, 1);
            let plain = w.run_aot().unwrap();
            w.reset();
            // SAFETY: AVX2 and FMA were detected above.
            let ret = unsafe { modules::aot::run_native(k.name, &mut w.params) }.unwrap();
            let native = w.outputs(ret);
            if let Err(m) = plain.compare(&native, Tolerance::Exact) {
                panic!("{} size {size}: native AOT differs: {m}", k.name);
            }
        }
    }
}

#[test]
fn aot_reports_bad_arguments_instead_of_panicking() {
    use modules::{AotError, Param};
    for k in CATALOG {
        for case in k.trap_cases(0) {
            let mut w = case.workload;
            match w.run_aot() {
                Err(AotError::WouldTrap(kind)) => {
                    assert_eq!(kind, case.expected, "{} ({})", k.name, case.what)
                }
                other => panic!(
                    "{} ({}): expected WouldTrap, got {other:?}",
                    k.name, case.what
                ),
            }
        }
        let mut params = (k.inputs)(4, 0);
        params.push(Param::I32(0));
        assert!(
            matches!(
                modules::aot::run(k.name, &mut params),
                Err(AotError::BadArguments(_))
            ),
            "{}",
            k.name
        );
    }
    assert!(matches!(
        modules::aot::run("nope", &mut []),
        Err(AotError::UnknownKernel)
    ));
}

#[test]
fn selftest_helper_accepts_every_kernel_at_t0() {
    let engine = common::engine();
    let cat = common::load(&engine);
    for k in CATALOG {
        let f = common::entry(&cat, k);
        let mut w = Workload::new(k, k.test_sizes[2], 4);
        if let Err(e) = modules::run::check_against_aot(&engine, f, Tier::T0, &mut w) {
            panic!("{}: {e}", k.name);
        }
    }
}
