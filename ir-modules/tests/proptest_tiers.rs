//! Property test: for any catalog kernel, any size up to 48 (capped at the kernel's
//! largest test size) and any seed, T1, T2 and T3
//! give T0's outputs (sizes beyond the fixed test lists, shrinking on failure).

mod common;

use jit::Tier;
use modules::run::run_at;
use modules::{CATALOG, Workload};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

#[test]
fn any_kernel_any_small_size_any_seed() {
    let engine = common::engine();
    let cat = common::load(&engine);
    for k in CATALOG {
        common::require_compiled(&engine, common::entry(&cat, k));
    }
    let mut runner = TestRunner::new(Config {
        cases: 512,
        ..Config::default()
    });
    let strategy = (0..CATALOG.len(), 0usize..=48, any::<u64>());
    let result = runner.run(&strategy, |(ki, size, seed)| {
        let k = &CATALOG[ki];
        // Never beyond the kernel's largest test size (fib(48) would run for hours).
        let size = size.min(k.test_sizes.iter().copied().max().unwrap_or(0));
        let f = common::entry(&cat, k);
        let mut w = Workload::new(k, size, seed);
        let reference = run_at(&engine, f, Tier::T0, &mut w)
            .map_err(|t| TestCaseError::fail(format!("T0 trap {t:?}")))?;
        for tier in [Tier::T1, Tier::T2, Tier::T3] {
            let got = run_at(&engine, f, tier, &mut w)
                .map_err(|t| TestCaseError::fail(format!("{tier} trap {t:?}")))?;
            reference.compare(&got, k.tolerance).map_err(|m| {
                TestCaseError::fail(format!("{} size {size} seed {seed}: {tier}: {m}", k.name))
            })?;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
