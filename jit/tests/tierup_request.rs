//! Background tier-up requests are never lost: a call that crosses the next threshold
//! while the compiler is still finishing the previous tier-up (here: inside the TierUp
//! event, after the new code was published) queues its request, so every tier-up is
//! requested at exactly its threshold.

use jit::{
    Arg, CpuFeatures, Engine, EngineConfig, Event, FuncId, HostExecMemory, StdClock, Tier,
    TraceSink,
};
use std::sync::{Arc, Mutex, OnceLock};

const SRC: &str = "fn inc(x: i32) -> i32 {\n    return x + 1;\n}\n";

/// On the first T0->T1 event, calls the function until its count reaches the T2
/// threshold, from inside the compiler's service loop.
struct Reentrant {
    engine: OnceLock<(Arc<Engine>, FuncId)>,
    ups: Mutex<Vec<(Tier, Tier, u64)>>,
}

impl TraceSink for Reentrant {
    fn event(&self, ev: &Event) {
        if let Event::TierUp {
            from, to, calls, ..
        } = ev
        {
            self.ups.lock().unwrap().push((*from, *to, *calls));
            if *to == Tier::T1
                && let Some((e, f)) = self.engine.get()
            {
                while e.call_count(*f) < 10 {
                    e.call(*f, &mut [Arg::I32(1)]).unwrap();
                }
            }
        }
    }
}

#[test]
fn request_made_while_the_previous_tier_up_finishes_is_kept() {
    let sink = Arc::new(Reentrant {
        engine: OnceLock::new(),
        ups: Mutex::new(Vec::new()),
    });
    let cfg = EngineConfig {
        thresholds: [5, 10, 20],
        features: CpuFeatures::detect_host(),
        background_compile: true,
        ..EngineConfig::default()
    };
    let e = Arc::new(Engine::new(
        cfg,
        Box::new(HostExecMemory::default()),
        Arc::new(StdClock::new()),
        sink.clone(),
    ));
    let id = e.load(jit::parse_module("inc.bfir", SRC).unwrap()).unwrap();
    let f = e.func(id, "inc").unwrap();
    assert!(sink.engine.set((e.clone(), f)).is_ok());
    for _ in 0..5 {
        e.call(f, &mut [Arg::I32(1)]).unwrap();
    }
    // serves the T1 request; its event makes calls 6..10, the 10th requests T2, which
    // the same service pass then compiles (before the fix that request was dropped)
    assert_eq!(e.service_compile_queue(), 2);
    assert_eq!(e.call_count(f), 10);
    assert_eq!(e.current_tier(f), Tier::T2);
    let ups = sink.ups.lock().unwrap().clone();
    assert_eq!(ups, vec![(Tier::T0, Tier::T1, 5), (Tier::T1, Tier::T2, 10)]);
}
