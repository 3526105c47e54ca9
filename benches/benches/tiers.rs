//! Criterion benchmarks: every catalog kernel at T0..T3, the AOT baselines (plain and
//! AVX2+FMA), cranelift-jit and the libraries a user would pick (where the kernel has
//! one), at the catalog's moderate sizes: `BF_BENCH_SIZES=report` for its report sizes
//! (ARCHITECTURE.md, "The benchmark catalog"), `BF_BENCH_KERNELS=a,b` to select kernels.
//!
//! Short warm-up and measurement times keep `cargo bench -p bareflow-benches` within a
//! few minutes on a shared 2-core machine.

use std::time::{Duration, Instant};

use bareflow_benches::{Harness, Variant, selected_kernels, sizes_for};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn kernels(c: &mut Criterion) {
    let harness = Harness::new().unwrap_or_else(|e| panic!("cannot load the catalog: {e}"));
    for k in selected_kernels() {
        for size in sizes_for(k) {
            let reference = harness
                .reference(k, size, 0)
                .unwrap_or_else(|e| panic!("{e}"));
            let mut group = c.benchmark_group(format!("{}/{}", k.name, size));
            group
                .sample_size(10)
                .warm_up_time(Duration::from_millis(200))
                .measurement_time(Duration::from_millis(700));
            for v in Variant::ALL.into_iter().filter(|v| v.applies_to(k.name)) {
                let mut r = match harness.runner(k, size, v, &reference) {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("skipping {} {}: {e}", k.name, v.label());
                        continue;
                    }
                };
                if r.needs_reset() {
                    // In-place kernels: restore the inputs outside the timed region.
                    group.bench_function(v.label(), |b| {
                        b.iter_custom(|iters| {
                            let mut total = Duration::ZERO;
                            for _ in 0..iters {
                                r.reset();
                                let t = Instant::now();
                                r.call();
                                total += t.elapsed();
                            }
                            total
                        })
                    });
                } else {
                    group.bench_function(v.label(), |b| b.iter(|| r.call()));
                }
            }
            group.finish();
        }
    }
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(500));
    for k in selected_kernels() {
        for t in [jit::Tier::T1, jit::Tier::T2, jit::Tier::T3] {
            // A fresh engine per iteration: Engine::compile of an already compiled tier
            // may be cached, and we want the cost of the first compilation.
            let probe = Harness::new().unwrap_or_else(|e| panic!("{e}"));
            if let Err(e) = probe.compile(k, t) {
                eprintln!("skipping compile {} {t}: {e}", k.name);
                continue;
            }
            group.bench_function(format!("{}/{t}", k.name), |b| {
                b.iter_batched(
                    || Harness::new().unwrap_or_else(|e| panic!("{e}")),
                    |h| h.compile(k, t).unwrap_or_else(|e| panic!("{e}")),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, kernels, compile);
criterion_main!(benches);
