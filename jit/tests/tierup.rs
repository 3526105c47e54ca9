//! Tiering through slots: thresholds, events, specialization with guard misses, and many
//! threads calling while a kernel climbs T0 -> T3 (inline and background compilation).

mod common;
use common::*;
use jit::{
    Arg, CpuFeatures, Engine, EngineConfig, Event, HostExecMemory, StdClock, Tier, TraceSink, Value,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const SRC: &str = r#"
/// a sum with a divisor and a modulus among its stable arguments (specialized at T3)
fn wsum(a: &[i32], w: i32, n: i32) -> i64 {
    let s = 0i64;
    for i in 0..n { s += (a[i] / w + i % n) as i64; }
    return s;
}

#[reassoc]
fn dotf(a: &[f32], b: &[f32], n: i32) -> f32 {
    let acc: f32 = 0.0;
    for i in 0..n { acc += a[i] * b[i]; }
    return acc;
}
"#;

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);
impl TraceSink for Recorder {
    fn event(&self, ev: &Event) {
        self.0.lock().unwrap().push(ev.clone());
    }
}

fn engine_rec(background: bool, thresholds: [u64; 3]) -> (Engine, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let cfg = EngineConfig {
        thresholds,
        features: CpuFeatures::detect_host(),
        background_compile: background,
        ..EngineConfig::default()
    };
    let e = Engine::new(
        cfg,
        Box::new(HostExecMemory::default()),
        Arc::new(StdClock::new()),
        rec.clone(),
    );
    (e, rec)
}

fn expected(a: &[i32], w: i32, n: i32) -> i64 {
    (0..n as usize)
        .map(|i| (a[i] / w + i as i32 % n) as i64)
        .sum()
}

#[test]
fn single_thread_climbs_with_events() {
    let (e, rec) = engine_rec(false, [3, 6, 10]);
    let m = load(&e, SRC);
    let f = e.func(m, "wsum").unwrap();
    let a: Vec<i32> = (0..64).map(|i| i * 7 - 100).collect();
    let mut seen = vec![];
    for call in 1..=20u64 {
        let r = e.call(f, &mut [Arg::I32s(&a), Arg::I32(3), Arg::I32(50)]);
        assert_eq!(i64v(r), expected(&a, 3, 50));
        seen.push(e.current_tier(f));
        assert_eq!(e.call_count(f), call);
    }
    assert_eq!(&seen[..3], &[Tier::T0, Tier::T0, Tier::T1]);
    assert_eq!(seen[5], Tier::T2);
    assert_eq!(seen[9], Tier::T3);
    let evs = rec.0.lock().unwrap().clone();
    let ups: Vec<(Tier, Tier, u64)> = evs
        .iter()
        .filter_map(|e| match e {
            Event::TierUp {
                from,
                to,
                calls,
                code_bytes,
                ..
            } => {
                assert!(*code_bytes > 0);
                Some((*from, *to, *calls))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        ups,
        vec![
            (Tier::T0, Tier::T1, 3),
            (Tier::T1, Tier::T2, 6),
            (Tier::T2, Tier::T3, 10)
        ]
    );
    let mut json = String::new();
    evs[0].write_json_fields(&mut json).unwrap();
    assert!(
        json.starts_with("\"kernel\":\"wsum\",\"from\":\"T0\",\"to\":\"T1\",\"calls\":3,"),
        "{json}"
    );
    // T3 is specialized on w and n: other values miss the guard, run T2 and report a deopt
    let r = e.call(f, &mut [Arg::I32s(&a), Arg::I32(3), Arg::I32(64)]);
    assert_eq!(i64v(r), expected(&a, 3, 64));
    let r = e.call(f, &mut [Arg::I32s(&a), Arg::I32(-5), Arg::I32(10)]);
    assert_eq!(i64v(r), expected(&a, -5, 10));
    assert_eq!(e.deopt_count(f), 2);
    assert!(
        rec.0
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Deopt { tier: Tier::T3, .. }))
    );
    // traps still come back as values at T3 (through the guard miss path too)
    let r = e.call(f, &mut [Arg::I32s(&a), Arg::I32(3), Arg::I32(65)]);
    assert_eq!(r.unwrap_err().kind, jit::TrapKind::OutOfBounds);
    let r = e.call(f, &mut [Arg::I32s(&a[..10]), Arg::I32(3), Arg::I32(50)]);
    assert_eq!(r.unwrap_err().kind, jit::TrapKind::OutOfBounds);
    // code_owner finds the published code
    assert!(e.pool_stats().used > 0);
}

#[test]
fn max_tier_and_demotion() {
    let rec = Arc::new(Recorder::default());
    let cfg = EngineConfig {
        thresholds: [1, 2, 3],
        max_tier: Tier::T2,
        ..EngineConfig::default()
    };
    let e = Engine::new(
        cfg,
        Box::new(HostExecMemory::default()),
        Arc::new(StdClock::new()),
        rec.clone(),
    );
    let f = func(&e, SRC, "wsum");
    let a = [1, 2, 3];
    for _ in 0..10 {
        assert_eq!(
            i64v(e.call(f, &mut [Arg::I32s(&a), Arg::I32(2), Arg::I32(3)])),
            expected(&a, 2, 3)
        );
    }
    assert_eq!(e.current_tier(f), Tier::T2);
    e.demote_to_t0(f, "test");
    for _ in 0..10 {
        assert_eq!(
            i64v(e.call(f, &mut [Arg::I32s(&a), Arg::I32(2), Arg::I32(3)])),
            expected(&a, 2, 3)
        );
    }
    assert_eq!(e.current_tier(f), Tier::T0);
}

fn hammer(background: bool) {
    let (e, rec) = engine_rec(background, [50, 200, 600]);
    let e = Arc::new(e);
    let m = load(&e, SRC);
    let f = e.func(m, "wsum").unwrap();
    let g = e.func(m, "dotf").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let compiler = background.then(|| {
        let e = e.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Acquire) {
                n += e.service_compile_queue();
                std::thread::yield_now();
            }
            n + e.service_compile_queue()
        })
    });
    let a: Arc<Vec<i32>> = Arc::new((0..256).map(|i| (i * 37 % 101) - 50).collect());
    let x: Arc<Vec<f32>> = Arc::new((0..256).map(|i| (i % 7) as f32 * 0.25).collect());
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let (e, a, x) = (e.clone(), a.clone(), x.clone());
            std::thread::spawn(move || {
                let mut tiers = std::collections::BTreeSet::new();
                for i in 0..3000 {
                    // a stable n until T3 is published (so it specializes), then sometimes another
                    // one (guard misses)
                    let n = if i % 500 == 499 && e.current_tier(f) == Tier::T3 {
                        100 + t
                    } else {
                        200
                    };
                    let r = e.call(f, &mut [Arg::I32s(&a), Arg::I32(3), Arg::I32(n)]);
                    assert_eq!(i64v(r), expected(&a, 3, n), "thread {t} call {i}");
                    let r = e.call(g, &mut [Arg::F32s(&x), Arg::F32s(&x), Arg::I32(203)]);
                    let want: f32 = x[..203].iter().map(|v| v * v).sum();
                    let got = f32v(r);
                    assert!(
                        (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                        "{got} vs {want}"
                    );
                    tiers.insert(e.current_tier(f));
                    if background && i == 2500 {
                        // On a loaded machine the compiler thread may get little CPU: wait
                        // (bounded) for T3 so the last calls run the top tier.
                        let start = std::time::Instant::now();
                        while e.current_tier(f) < Tier::T3 {
                            assert!(
                                start.elapsed() < std::time::Duration::from_secs(120),
                                "T3 never published"
                            );
                            std::thread::yield_now();
                        }
                    }
                }
                tiers
            })
        })
        .collect();
    let mut tiers = std::collections::BTreeSet::new();
    for w in workers {
        tiers.extend(w.join().expect("worker"));
    }
    stop.store(true, Ordering::Release);
    let mut served = compiler.map_or(0, |c| c.join().expect("compiler"));
    // The workers can finish before every queued request is served (background mode):
    // keep calling both kernels and serving the queue until both are at T3.
    for _ in 0..100 {
        if e.current_tier(f) == Tier::T3 && e.current_tier(g) == Tier::T3 {
            break;
        }
        e.call(f, &mut [Arg::I32s(&a), Arg::I32(3), Arg::I32(200)])
            .unwrap();
        e.call(g, &mut [Arg::F32s(&x), Arg::F32s(&x), Arg::I32(203)])
            .unwrap();
        served += e.service_compile_queue();
    }
    assert_eq!(e.current_tier(f), Tier::T3);
    assert_eq!(e.current_tier(g), Tier::T3);
    assert!(tiers.len() >= 2, "{tiers:?}");
    let evs = rec.0.lock().unwrap();
    let ups: Vec<(Tier, Tier)> = evs
        .iter()
        .filter_map(|e| match e {
            Event::TierUp {
                kernel, from, to, ..
            } if kernel == "wsum" => Some((*from, *to)),
            _ => None,
        })
        .collect();
    // each tier is published at most once, in order (a tier is skipped when the calls
    // crossed two thresholds while the previous compilation was running)
    assert!(!ups.is_empty() && ups.len() <= 3, "{ups:?}");
    assert!(
        ups.windows(2).all(|w| w[0].1 == w[1].0) && ups.iter().all(|(a, b)| a < b),
        "{ups:?}"
    );

    assert!(!evs.iter().any(|e| matches!(e, Event::CompileError { .. })));
    if background {
        // every tier-up was compiled by service_compile_queue, none inline by a caller
        let all_ups = evs
            .iter()
            .filter(|e| matches!(e, Event::TierUp { .. }))
            .count();
        assert!(
            served >= 2 && served == all_ups,
            "served {served}, tier-ups {all_ups}"
        );
    }
    if !background {
        // T3 was compiled while n was stable (specialized), then n changed: guard misses
        assert!(e.deopt_count(f) > 0);
    }
    let _ = Value::Unit;
}

#[test]
fn threads_call_while_tiering_up_inline() {
    hammer(false);
}

#[test]
fn threads_call_while_tiering_up_background() {
    hammer(true);
}

#[test]
fn pool_exhaustion_keeps_the_function_running() {
    let rec = Arc::new(Recorder::default());
    let cfg = EngineConfig {
        thresholds: [1, 2, 3],
        ..EngineConfig::default()
    };
    // room for exactly one page of code: T1 fits, T2 does not
    let e = Engine::new(
        cfg,
        Box::new(HostExecMemory::new(4096)),
        Arc::new(StdClock::new()),
        rec.clone(),
    );
    let f = func(&e, SRC, "wsum");
    let a: Vec<i32> = (0..16).collect();
    for _ in 0..6 {
        assert_eq!(
            i64v(e.call(f, &mut [Arg::I32s(&a), Arg::I32(2), Arg::I32(16)])),
            expected(&a, 2, 16)
        );
    }
    assert_eq!(e.current_tier(f), Tier::T1);
    let evs = rec.0.lock().unwrap();
    assert!(
        evs.iter().any(|e| matches!(
            e,
            Event::PoolExhausted {
                tier: Tier::T2,
                free: 0,
                ..
            }
        )),
        "{evs:?}"
    );
    assert_eq!(e.pool_stats().capacity, 4096);
    assert_eq!(e.pool_stats().used, 4096);
}

#[test]
fn events_render_as_json_members() {
    let evs = [
        Event::CompileError {
            kernel: "k\"1".into(),
            tier: Tier::T2,
            reason: "bad\nthing".into(),
        },
        Event::Trap {
            kernel: "k".into(),
            tier: Tier::T1,
            kind: jit::TrapKind::DivisionByZero,
        },
        Event::Deopt {
            kernel: "k".into(),
            tier: Tier::T3,
            reason: "guard".into(),
        },
        Event::PoolExhausted {
            kernel: "k".into(),
            tier: Tier::T3,
            requested: 10,
            free: 2,
        },
    ];
    let want = [
        (
            "compile_error",
            r#""kernel":"k\"1","tier":"T2","reason":"bad\nthing""#,
        ),
        (
            "trap",
            r#""kernel":"k","tier":"T1","reason":"division by zero""#,
        ),
        ("deopt", r#""kernel":"k","tier":"T3","reason":"guard""#),
        (
            "pool_exhausted",
            r#""kernel":"k","tier":"T3","requested":10,"free":2"#,
        ),
    ];
    for (ev, (name, json)) in evs.iter().zip(want) {
        let mut s = String::new();
        ev.write_json_fields(&mut s).unwrap();
        assert_eq!(ev.name(), name);
        assert_eq!(s, json);
    }
}

#[test]
fn code_owner_maps_addresses_in_jit_code() {
    let e = engine();
    let f = func(&e, SRC, "wsum");
    assert_eq!(e.code_owner(0), None);
    let stats = e.compile(f, Tier::T2).unwrap();
    assert!(stats.code_bytes > 0);
    let (start, len) = e.code_range(f, Tier::T2).unwrap();
    assert!(len >= stats.code_bytes.min(len) && len > 0);
    assert_eq!(e.code_owner(start), Some(("wsum".to_string(), Tier::T2)));
    assert_eq!(
        e.code_owner(start + len - 1),
        Some(("wsum".to_string(), Tier::T2))
    );
    assert_eq!(e.code_range(f, Tier::T3), None);
    // the interpreter's own code is not JIT code
    assert_eq!(
        e.code_owner(expected as fn(&[i32], i32, i32) -> i64 as usize),
        None
    );
    assert!(e.pool_stats().blocks >= 1);
}

#[test]
fn specialization_on_bool_and_i64_arguments() {
    let src = r#"
fn pick(flag: bool, big: i64, a: &[i64]) -> i64 {
    let s = 0i64;
    for i in 0..len(a) {
        if flag { s += a[i] % big; } else { s -= a[i] + big; }
    }
    return s;
}
"#;
    let (e, rec) = engine_rec(false, [2, 4, 8]);
    let f = func(&e, src, "pick");
    let a: Vec<i64> = (0..37).map(|i| i * 3 - 20).collect();
    let want = |flag: bool, big: i64| -> i64 {
        a.iter().fold(0i64, |s, &x| {
            if flag {
                s.wrapping_add(x % big)
            } else {
                s.wrapping_sub(x.wrapping_add(big))
            }
        })
    };
    for _ in 0..12 {
        assert_eq!(
            i64v(e.call(f, &mut [Arg::Bool(true), Arg::I64(1 << 40), Arg::I64s(&a)])),
            want(true, 1 << 40)
        );
    }
    assert_eq!(e.current_tier(f), Tier::T3);
    assert_eq!(e.deopt_count(f), 0);
    // each changed argument misses the guard and runs T2, with the right result
    assert_eq!(
        i64v(e.call(f, &mut [Arg::Bool(false), Arg::I64(1 << 40), Arg::I64s(&a)])),
        want(false, 1 << 40)
    );
    assert_eq!(
        i64v(e.call(f, &mut [Arg::Bool(true), Arg::I64(-7), Arg::I64s(&a)])),
        want(true, -7)
    );
    assert_eq!(e.deopt_count(f), 2);
    assert_eq!(
        i64v(e.call(f, &mut [Arg::Bool(true), Arg::I64(1 << 40), Arg::I64s(&a)])),
        want(true, 1 << 40)
    );
    assert_eq!(e.deopt_count(f), 2);
    assert_eq!(
        rec.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Event::Deopt { .. }))
            .count(),
        2
    );
}

/// Under the adaptive policy a function whose calls are expensive climbs T0 -> T3 in far
/// fewer calls than the default thresholds, one tier at a time, with right results and
/// a specialized T3 (its stable divisor); the thresholds play no part.
#[test]
fn adaptive_policy_climbs_an_expensive_function_early() {
    let rec = Arc::new(Recorder::default());
    let e = Engine::new(
        EngineConfig {
            policy: jit::TierPolicy::Adaptive,
            features: CpuFeatures::detect_host(),
            ..EngineConfig::default()
        },
        Box::new(HostExecMemory::default()),
        Arc::new(StdClock::new()),
        rec.clone(),
    );
    let m = load(&e, SRC);
    let f = e.func(m, "wsum").unwrap();
    let n = 200_000;
    let a: Vec<i32> = (0..n).map(|i| i * 7 - 100).collect();
    let mut calls = 0u64;
    while e.current_tier(f) != Tier::T3 && calls < 2000 {
        let r = e.call(f, &mut [Arg::I32s(&a), Arg::I32(3), Arg::I32(n)]);
        assert_eq!(i64v(r), expected(&a, 3, n));
        calls += 1;
    }
    assert_eq!(e.current_tier(f), Tier::T3, "not at T3 after {calls} calls");
    assert!(calls < 2000);
    let ups: Vec<(Tier, Tier, u64)> = rec
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|ev| match ev {
            Event::TierUp {
                from, to, calls, ..
            } => Some((*from, *to, *calls)),
            _ => None,
        })
        .collect();
    let tiers: Vec<(Tier, Tier)> = ups.iter().map(|u| (u.0, u.1)).collect();
    assert_eq!(
        tiers,
        [
            (Tier::T0, Tier::T1),
            (Tier::T1, Tier::T2),
            (Tier::T2, Tier::T3)
        ]
    );
    // at least the minimum of timed calls at each tier before the next
    assert!(ups[0].2 > jit::ADAPTIVE_MIN_CALLS, "{ups:?}");
    assert!(
        ups.windows(2)
            .all(|w| w[1].2 >= w[0].2 + jit::ADAPTIVE_MIN_CALLS),
        "{ups:?}"
    );
    // T3 specialized on the stable divisor (its guard misses on another one)
    let r = e.call(f, &mut [Arg::I32s(&a), Arg::I32(5), Arg::I32(n)]);
    assert_eq!(i64v(r), expected(&a, 5, n));
    assert_eq!(e.deopt_count(f), 1);
}
