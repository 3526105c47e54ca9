//! The native stack: every recursive pass fits the kernel's 256 KiB CPU stacks on the
//! deepest sources the nesting limit allows (the figures behind the limit come from
//! `examples/stack_use.rs`).

mod common;

use common::deep_sources::{SHAPES, source};
use jit::{Arg, Engine, EngineConfig, Tier, Value, parse_module};

/// The stack of a kernel CPU (BSP and APs alike): the kernel parses boot modules on the
/// BSP and compiles on the compiler CPU.
const KERNEL_STACK: usize = 256 * 1024;

/// Runs `f` on a thread with the kernel's stack size; a stack overflow aborts the test.
fn on_kernel_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new()
        .stack_size(KERNEL_STACK)
        .spawn(f)
        .expect("thread")
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
}

/// Parse, verify, load (bytecode), compile every function at T1, T2 and T3, call `f` at
/// every tier, drop: the whole pipeline, as the kernel runs it.
fn pipeline(src: &str) {
    let m = parse_module("deep.bfir", src).unwrap_or_else(|d| panic!("{d}"));
    let names: Vec<String> = m.function_names().iter().map(|s| s.to_string()).collect();
    let e = Engine::host(EngineConfig::default());
    let id = e.load(m).expect("load");
    for t in [Tier::T1, Tier::T2, Tier::T3] {
        for n in &names {
            let g = e.func(id, n).expect("function");
            if let Err(err) = e.compile(g, t) {
                panic!("{n} at {t}: {err}");
            }
        }
    }
    let f = e.func(id, "f").expect("f");
    let want = e.call_at(f, Tier::T0, &mut [Arg::I32(1)]);
    assert!(want.is_ok(), "{want:?}");
    for t in [Tier::T1, Tier::T2, Tier::T3] {
        let got = e.call_at(f, t, &mut [Arg::I32(1)]);
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "{t}");
    }
    drop(e);
}

/// The largest repetition count of `shape` the parser accepts.
fn deepest(shape: &str) -> usize {
    let mut k = 1;
    while parse_module("deep.bfir", &source(shape, k + 1)).is_ok() {
        k += 1;
        assert!(k < 1000, "{shape}: no nesting limit");
    }
    k
}

#[test]
fn deepest_sources_run_the_whole_pipeline_on_a_kernel_stack() {
    for &(shape, _) in SHAPES {
        let k = deepest(shape);
        let src = source(shape, k);
        on_kernel_stack(move || pipeline(&src));
        // one level more: a located error, also on the kernel's stack
        let src = source(shape, k + 1);
        let e = on_kernel_stack(move || parse_module("deep.bfir", &src).map(|_| ()));
        let d = e.expect_err("one level past the limit");
        let lines = source(shape, k + 1).lines().count() as u32;
        assert!(
            d.reason.starts_with("nesting too deep") && (1..=lines).contains(&d.line) && d.col > 1,
            "{shape}: {d}"
        );
    }
}

#[test]
fn a_long_cast_chain_is_a_located_error_not_a_stack_overflow() {
    // issue 11: 12,000 casts aborted on an 8 MiB stack, 400 on 256 KiB
    for n in [400, 12_000] {
        let src = format!(
            "fn f(x: i32) -> i32 {{\n  return x{};\n}}",
            " as i64 as i32".repeat(n / 2)
        );
        let d = on_kernel_stack(move || parse_module("casts.bfir", &src).map(|_| ()))
            .expect_err("too deep");
        let at = "casts.bfir:2:".to_string();
        assert!(d.to_string().starts_with(&at), "{d}");
        assert!(d.reason.starts_with("nesting too deep"), "{d}");
    }
}

#[test]
fn long_chains_of_index_helpers_compile_on_a_kernel_stack() {
    // T2's affine analysis expands `let` index helpers: a chain of them must not recurse
    // once per definition (nor double its terms per definition)
    let n = 2000;
    let mut chain = String::new();
    let mut sum = String::new();
    for k in 1..=n {
        chain += &format!("let a{k} = a{};\n", k - 1);
        sum += &format!("let b{k} = b{p} + b{p};\n", p = k - 1);
    }
    let src = format!(
        "fn f(x: i32) -> i32 {{ return x; }}\n\
         fn h(y: &mut [i32], n: i32, c: i32) {{\n\
         for i in 0..n {{\nlet a0 = i;\nlet b0 = c;\n{chain}{sum}y[a{n}] = 1;\ny[i + b{n}] = 2;\n}}\n}}"
    );
    on_kernel_stack(move || {
        pipeline(&src);
        let m = parse_module("chain.bfir", &src).unwrap_or_else(|d| panic!("{d}"));
        let e = Engine::host(EngineConfig::default());
        let id = e.load(m).expect("load");
        let h = e.func(id, "h").expect("h");
        let mut want = vec![0i32; 8];
        e.call_at(
            h,
            Tier::T0,
            &mut [Arg::I32sMut(&mut want), Arg::I32(4), Arg::I32(0)],
        )
        .expect("T0");
        for t in [Tier::T1, Tier::T2, Tier::T3] {
            let mut y = vec![0i32; 8];
            let r = e.call_at(h, t, &mut [Arg::I32sMut(&mut y), Arg::I32(4), Arg::I32(0)]);
            assert!(matches!(r, Ok(Value::Unit)), "{t}: {r:?}");
            assert_eq!(y, want, "{t}");
        }
    });
}

/// The program of issue 11: `k` f64 values read before a recursive call and used after
/// it, so that every compiled tier keeps them in the frame (a frame of about `8 * k`
/// bytes per level).
fn live_values_source(k: usize) -> String {
    let mut s = String::from("fn r(a: &[f64], n: i32) -> f64 {\n  if n <= 1 { return a[0]; }\n");
    for i in 0..k {
        s += &format!("  let v{i} = a[{i}];\n");
    }
    s += "  let s = r(a, n - 1);\n";
    for i in 0..k {
        s += &format!("  s += v{i};\n");
    }
    s + "  return s;\n}\n"
}

/// Calls `r(a, depth)` of [`live_values_source`] at every tier.
fn live_values_at_depth(k: usize, depth: i32) -> Vec<(Tier, Result<Value, jit::Trap>)> {
    let m = parse_module("live.bfir", &live_values_source(k)).unwrap_or_else(|d| panic!("{d}"));
    let e = Engine::host(EngineConfig::default());
    let id = e.load(m).expect("load");
    let r = e.func(id, "r").expect("r");
    let a: Vec<f64> = (0..k).map(|i| 1.0 + i as f64 / 64.0).collect();
    Tier::ALL
        .iter()
        .map(|&t| (t, e.call_at(r, t, &mut [Arg::F64s(&a), Arg::I32(depth)])))
        .collect()
}

#[test]
fn recursion_that_exhausts_the_native_stack_traps_call_depth_at_every_compiled_tier() {
    use jit::TrapKind::CallDepth;
    for k in [50, 200] {
        let results = on_kernel_stack(move || live_values_at_depth(k, 511));
        let t0 = &results[0].1;
        // T0 keeps its frames on the heap: depth 511 is within the limit of 512
        assert!(matches!(t0, Ok(Value::F64(_))), "k={k} T0: {t0:?}");
        for (t, r) in &results[1..] {
            // a compiled tier either fits (and agrees with T0) or stops with CallDepth
            let same = format!("{r:?}") == format!("{t0:?}");
            let depth = matches!(r, Err(trap) if trap.kind == CallDepth && trap.tier == *t);
            assert!(same || depth, "k={k} {t}: {r:?}");
            // 200 values (about 1.6 KiB a frame) at depth 511 cannot fit 256 KiB
            assert!(k < 200 || depth, "k={k} {t}: {r:?}");
        }
    }
}

#[test]
fn deep_recursion_within_the_stack_still_runs_at_every_tier() {
    let src = "fn sum(n: i32) -> i64 { if n == 0 { return 0; } return sum(n - 1) + n as i64; }\n\
               fn f(x: i32) -> i32 { return x; }";
    on_kernel_stack(move || {
        let m = parse_module("sum.bfir", src).unwrap_or_else(|d| panic!("{d}"));
        let e = Engine::host(EngineConfig::default());
        let id = e.load(m).expect("load");
        let sum = e.func(id, "sum").expect("sum");
        for t in Tier::ALL {
            // 512 nested calls: the most the default call-depth limit allows
            let r = e.call_at(sum, t, &mut [Arg::I32(511)]);
            assert!(matches!(r, Ok(Value::I64(130816))), "{t}: {r:?}");
            // one more is over the limit, at every tier
            let r = e.call_at(sum, t, &mut [Arg::I32(512)]);
            assert!(
                matches!(&r, Err(trap) if trap.kind == jit::TrapKind::CallDepth),
                "{t}: {r:?}"
            );
        }
    });
}

/// `k` f64 values computed before a recursive call and summed after it in balanced trees
/// of 1024 (a few statements, within the nesting limit): at T1, which computes each value
/// where it is written, a frame of about `8 * k` bytes.
fn many_live_values_source(k: usize) -> String {
    fn tree(lo: usize, hi: usize) -> String {
        if hi - lo == 1 {
            format!("v{lo}")
        } else {
            let mid = (lo + hi) / 2;
            format!("({} + {})", tree(lo, mid), tree(mid, hi))
        }
    }
    let mut s = String::from(
        "fn r(a: &[f64], n: i32) -> f64 {\n  if n <= 1 { return 0.0; }\n  \
         let x = a[0];\n  let y = a[1];\n",
    );
    for i in 0..k {
        s += &format!("  let v{i} = x * {i}.0 + y;\n");
    }
    s += "  let s = r(a, n - 1);\n";
    for lo in (0..k).step_by(1024) {
        s += &format!("  s += {};\n", tree(lo, (lo + 1024).min(k)));
    }
    s + "  return s;\n}\n"
}

#[test]
fn a_function_whose_frame_exceeds_the_budget_stays_at_the_tier_below() {
    // 3500 f64 values kept across a call at T1: a native frame of more than 27 KiB, beyond
    // the 24 KiB every function's entry check leaves room for
    let k = 3500;
    let src = many_live_values_source(k);
    let m = parse_module("big.bfir", &src).unwrap_or_else(|d| panic!("{d}"));
    let e = Engine::host(EngineConfig {
        thresholds: [1, 2, 3],
        ..EngineConfig::default()
    });
    let id = e.load(m).expect("load");
    let r = e.func(id, "r").expect("r");
    match e.compile(r, Tier::T1) {
        Err(jit::BuildError::Compile(jit::CompileError::Unsupported(why))) => assert!(
            why.contains(&format!("exceeds the {}-byte budget", jit::MAX_FRAME)),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }
    // counted calls: the tier-up fails once and the function keeps running at T0
    let a = [0.5f64, 0.25];
    let level: f64 = (0..k).map(|i| 0.5 * i as f64 + 0.25).sum();
    for _ in 0..5 {
        let v = e.call(r, &mut [Arg::F64s(&a), Arg::I32(3)]);
        assert!(matches!(v, Ok(Value::F64(x)) if x == 2.0 * level), "{v:?}");
    }
    assert_eq!(e.current_tier(r), Tier::T0);
}
