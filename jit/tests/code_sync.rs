//! The embedder's cross-modifying-code hook (`Engine::with_code_sync`): called before
//! every entry into compiled code, never for the T0 interpreter.

use jit::{
    Arg, CodeSync, CpuFeatures, Engine, EngineConfig, HostExecMemory, NullSink, StdClock, Tier,
    Value,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const SRC: &str = "fn twice(x: i32) -> i32 {\n    return x * 2;\n}\n";

#[derive(Default)]
struct Counter(AtomicU64);

impl CodeSync for Counter {
    fn before_enter(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn engine(counter: Arc<Counter>) -> (Engine, jit::FuncId) {
    let cfg = EngineConfig {
        thresholds: [3, 5, 7],
        features: CpuFeatures::detect_host(),
        ..EngineConfig::default()
    };
    let e = Engine::new(
        cfg,
        Box::new(HostExecMemory::default()),
        Arc::new(StdClock::new()),
        Arc::new(NullSink),
    )
    .with_code_sync(counter);
    let m = jit::parse_module("twice.bfir", SRC).unwrap();
    let id = e.load(m).unwrap();
    let f = e.func(id, "twice").unwrap();
    (e, f)
}

#[test]
fn hook_runs_before_compiled_code_only() {
    let counter = Arc::new(Counter::default());
    let (e, f) = engine(counter.clone());
    // calls 1 and 2 run in the interpreter
    for _ in 0..2 {
        assert!(matches!(e.call(f, &mut [Arg::I32(4)]), Ok(Value::I32(8))));
    }
    assert_eq!(e.current_tier(f), Tier::T0);
    assert_eq!(counter.0.load(Ordering::SeqCst), 0);
    // call 3 tiers up inline and runs T1: one entry into compiled code
    assert!(matches!(e.call(f, &mut [Arg::I32(4)]), Ok(Value::I32(8))));
    assert_eq!(e.current_tier(f), Tier::T1);
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    for _ in 0..10 {
        assert!(matches!(e.call(f, &mut [Arg::I32(5)]), Ok(Value::I32(10))));
    }
    assert_eq!(counter.0.load(Ordering::SeqCst), 11);
    // forced tiers: compiled ones enter through the hook, T0 does not
    assert!(matches!(
        e.call_at(f, Tier::T0, &mut [Arg::I32(1)]),
        Ok(Value::I32(2))
    ));
    assert_eq!(counter.0.load(Ordering::SeqCst), 11);
    assert!(matches!(
        e.call_at(f, Tier::T2, &mut [Arg::I32(1)]),
        Ok(Value::I32(2))
    ));
    assert_eq!(counter.0.load(Ordering::SeqCst), 12);
}
