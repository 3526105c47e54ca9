//! T3 specialization through the slot: a kernel called many times with the same
//! scalar arguments climbs to T3 (which may turn them into constants behind a guard);
//! calls with other arguments must miss the guard and still be correct, and so must
//! the stable arguments afterwards.

mod common;

use jit::{CpuFeatures, Tier, Value};
use modules::run::{call_counted, run_at, run_at_keep};
use modules::{CATALOG, Kernel, Param, Workload};

fn check(k: &'static Kernel, features: CpuFeatures) {
    // Low thresholds so the test reaches T3 quickly: T1 at 2 calls, T2 at 4, T3 at 8.
    let engine = common::engine_with(features, [2, 4, 8]);
    let reference = common::engine();
    let cat = common::load(&engine);
    let ref_cat = common::load(&reference);
    let f = common::entry(&cat, k);
    let rf = common::entry(&ref_cat, k);
    let stable = k.test_sizes[k.test_sizes.len() - 2];
    let other = k.test_sizes[1];
    let run_counted = |w: &mut Workload, what: &str| {
        w.reset();
        let ret =
            call_counted(&engine, f, w).unwrap_or_else(|t| panic!("{} {what}: trap {t:?}", k.name));
        let got = w.outputs(ret);
        let want = run_at(&reference, rf, Tier::T0, w).unwrap();
        if let Err(m) = want.compare(&got, k.tolerance) {
            panic!("{} {what} (tier {}): {m}", k.name, engine.current_tier(f));
        }
    };
    let mut stable_w = Workload::new(k, stable, 0);
    for _ in 0..30 {
        run_counted(&mut stable_w, "stable arguments");
    }
    assert_eq!(
        engine.current_tier(f),
        Tier::T3,
        "{}: did not reach T3 after {} calls",
        k.name,
        engine.call_count(f)
    );
    assert_eq!(
        engine.deopt_count(f),
        0,
        "{}: guard missed on stable arguments",
        k.name
    );
    for seed in 1..4 {
        let mut w = Workload::new(k, other, seed);
        run_counted(&mut w, "changed arguments (guard miss)");
        let mut w = Workload::new(k, stable, seed);
        run_counted(&mut w, "stable sizes, new data");
    }
    // When a parameter T3 specialized on changed, the guard must have missed (and T2
    // ran instead, correctly, as checked above); otherwise T3 has no guard to miss.
    let spec = engine.specializable(f);
    let changed = spec
        .iter()
        .any(|&i| Workload::new(k, other, 1).params[i] != stable_w.params[i]);
    if changed {
        assert!(
            engine.deopt_count(f) >= 3,
            "{}: the changed arguments never missed the guard ({} misses)",
            k.name,
            engine.deopt_count(f)
        );
    } else {
        assert_eq!(
            engine.deopt_count(f),
            0,
            "{}: a guard without a reason",
            k.name
        );
    }
    run_counted(&mut stable_w, "stable arguments again");

    // Edge values of each scalar through the specialized slot: same return or trap
    // kind, and same buffers, as T0.
    let n = stable as i32;
    for (idx, p) in stable_w.params.clone().iter().enumerate() {
        if !matches!(p, Param::I32(_)) {
            continue;
        }
        for v in [-1, 0, 1, n + 1, i32::MIN, i32::MAX] {
            let mut w = stable_w.clone();
            w.set_param(idx, Param::I32(v));
            w.reset();
            let got = call_counted(&engine, f, &mut w);
            let got_out = w.outputs(*got.as_ref().unwrap_or(&Value::Unit));
            let (want, want_out) = run_at_keep(&reference, rf, Tier::T0, &mut w);
            let what = format!("{} parameter {idx} = {v} through the T3 slot", k.name);
            match (&want, &got) {
                (Ok(_), Ok(_)) => {}
                (Err(a), Err(b)) => assert_eq!(a.kind, b.kind, "{what}"),
                _ => panic!("{what}: T0 gave {want:?}, the slot gave {got:?}"),
            }
            if let Err(m) = want_out.compare(&got_out, k.tolerance) {
                panic!("{what}: {m}");
            }
        }
    }
    run_counted(&mut stable_w, "stable arguments after the edge values");
    assert_eq!(engine.current_tier(f), Tier::T3, "{}: left T3", k.name);
}

#[test]
fn guard_misses_stay_correct_with_host_features() {
    for k in CATALOG {
        check(k, CpuFeatures::detect_host());
    }
}

#[test]
fn guard_misses_stay_correct_with_baseline_sse2() {
    for k in CATALOG {
        check(k, CpuFeatures::baseline());
    }
}

/// Which catalog entries T3 specializes, and on what: only where a constant changes the
/// code (rope: `i % head_dim` and the `pow` base `theta`).
#[test]
fn specialization_targets_divisors_shifts_and_pow_bases() {
    let engine = common::engine_with(CpuFeatures::detect_host(), [2, 4, 8]);
    let cat = common::load(&engine);
    let mut seen = Vec::new();
    for k in CATALOG {
        let f = common::entry(&cat, k);
        let spec = engine.specializable(f);
        if !spec.is_empty() {
            seen.push((k.name, spec));
        }
    }
    let rope = seen
        .iter()
        .find(|(n, _)| *n == "rope")
        .expect("rope is specialized");
    assert_eq!(rope.1, vec![3, 4], "rope: head_dim and theta");
    assert!(
        !seen.iter().any(|(n, _)| *n == "primes" || *n == "matvec"),
        "{seen:?}"
    );
}
