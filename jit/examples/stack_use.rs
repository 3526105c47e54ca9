//! Measures the native stack each front-end and compiler pass uses on deeply nested
//! sources, per nesting level: the figures behind the nesting limit in `jit/IR.md`.
//!
//! ```text
//! cargo run -p jit --example stack_use             # debug build (what host tests run)
//! cargo run -p jit --example stack_use --release   # release build (what the kernel runs)
//! cargo run -p jit --example stack_use -- 2        # from 2 repetitions (default 4)
//! ```
//!
//! Each pass runs on a thread with a large stack whose unused part was painted with a
//! pattern; the lowest word no longer holding the pattern afterwards gives the pass's
//! stack high-water mark. The difference between a small repetition count and the deepest
//! source the nesting limit accepts, divided by the nesting levels between them, is the
//! cost of one level; the total on the deepest source is what the limit allows.

use jit::{Arg, Engine, EngineConfig, Tier, parse_module};

const PATTERN: u64 = 0x5a5a_c3c3_a5a5_3c3c;
/// How far below the measuring frame the stack is painted.
const PAINT: usize = 24 << 20;

/// Runs `f` and returns its result and the stack bytes it used below the caller's frame.
#[inline(never)]
fn measure<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let (lo, _) = jit::thread_stack_bounds().expect("stack bounds");
    let marker = 0u8;
    let sp = std::hint::black_box(&marker) as *const u8 as usize;
    // leave room for this frame's own calls (the red zone and small helpers)
    let end = (sp - 1024) & !7;
    let start = end.saturating_sub(PAINT).max(lo + 4096);
    for a in (start..end).step_by(8) {
        // SAFETY: [start, end) lies in this thread's stack, below the live frames.
        unsafe { (a as *mut u64).write_volatile(PATTERN) };
    }
    let r = std::hint::black_box(f());
    let mut low = end;
    for a in (start..end).step_by(8) {
        // SAFETY: as above; reading our own stack memory.
        if unsafe { (a as *const u64).read_volatile() } != PATTERN {
            low = a;
            break;
        }
    }
    assert!(
        low > start,
        "the pass used more than the painted {PAINT} bytes"
    );
    // below 1 KiB (the unpainted gap under this frame) the figure reads as 1 KiB
    (r, sp - low)
}

#[path = "../tests/common/deep_sources.rs"]
mod deep_sources;
use deep_sources::{SHAPES, source};

const PHASES: &[&str] = &["parse", "load", "T1", "T2", "T3", "run", "drop"];

/// Every function of the module `src` was loaded as.
fn e_names(e: &Engine, id: jit::ModuleId, src: &str) -> Vec<jit::FuncId> {
    let m = parse_module("deep.bfir", src).expect("parses");
    m.function_names()
        .iter()
        .map(|n| e.func(id, n).expect("function"))
        .collect()
}

/// Stack bytes per phase for one source.
fn phases(src: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let (m, b) = measure(|| parse_module("deep.bfir", src));
    let m = m.unwrap_or_else(|d| panic!("{d}"));
    out.push(b);
    let e = Engine::host(EngineConfig::default());
    let (id, b) = measure(|| e.load(m).expect("load"));
    out.push(b);
    let names = e_names(&e, id, src);
    for t in [Tier::T1, Tier::T2, Tier::T3] {
        let (r, b) = measure(|| names.iter().try_for_each(|&g| e.compile(g, t).map(|_| ())));
        r.unwrap_or_else(|err| panic!("{t}: {err}"));
        out.push(b);
    }
    let f = e.func(id, "f").expect("f");
    let mut run = 0;
    for t in Tier::ALL {
        let (_, b) = measure(|| e.call_at(f, t, &mut [Arg::I32(1)]));
        run = run.max(b);
    }
    out.push(run);
    let (_, b) = measure(move || drop(e));
    out.push(b);
    out
}

/// Stack the math routines use when compiled code calls them: a T1 call of a function
/// using every libcall (baseline CPU features: `floor`..`nearest` and `fma` are calls
/// too) minus a call of a function using none. `jit::LIBCALL_STACK` must cover it.
fn libcall_stack() -> usize {
    let src = "fn m(x: f32, y: f64) -> f64 {\n\
        let a = exp(x) + sin(x) + cos(x) + pow(x, 1.5) + ln(x) + tanh(x) + x % 0.7;\n\
        let b = floor(x) + ceil(x) + trunc(x) + nearest(x) + fma(x, x, x);\n\
        let c = exp(y) + sin(y) + cos(y) + pow(y, 1.5) + ln(y) + tanh(y) + y % 0.7;\n\
        let d = floor(y) + ceil(y) + trunc(y) + nearest(y) + fma(y, y, y);\n\
        return (a + b) as f64 + c + d;\n}\n\
        fn p(x: f32, y: f64) -> f64 { return x as f64 + y; }";
    let e = Engine::host(EngineConfig {
        features: jit::CpuFeatures::baseline(),
        ..EngineConfig::default()
    });
    let id = e
        .load(parse_module("math.bfir", src).expect("parses"))
        .expect("load");
    let run = |name: &str| {
        let f = e.func(id, name).expect("function");
        e.compile(f, Tier::T1).expect("T1");
        let args = || [Arg::F32(1.25), Arg::F64(2.5)];
        // large arguments take libm's slow paths (argument reduction of sin/cos)
        let (_, a) = measure(|| e.call_at(f, Tier::T1, &mut args()));
        let (_, b) = measure(|| e.call_at(f, Tier::T1, &mut [Arg::F32(1e30), Arg::F64(1e300)]));
        a.max(b)
    };
    run("m").saturating_sub(run("p"))
}

/// The largest repetition count of `shape` the parser accepts (the nesting limit).
fn deepest(shape: &str) -> usize {
    let mut k = 1;
    while parse_module("deep.bfir", &source(shape, k + 1)).is_ok() {
        k += 1;
    }
    k
}

fn main() {
    let k1: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("a repetition count"))
        .unwrap_or(4);
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "stack bytes per nesting level ({build} build), from {k1} repetitions to the deepest \
         accepted source; in parentheses: the pass's total on that deepest source"
    );
    print!("{:<11}", "shape");
    for p in PHASES {
        print!("{p:>15}");
    }
    println!();
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut worst = vec![(0usize, 0usize); PHASES.len()];
            for &(shape, units) in SHAPES {
                let k2 = deepest(shape);
                let a = phases(&source(shape, k1));
                let b = phases(&source(shape, k2));
                print!("{:<11}", format!("{shape} {k2}"));
                for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                    let per = y.saturating_sub(*x) / ((k2 - k1) * units);
                    worst[i] = (worst[i].0.max(per), worst[i].1.max(*y));
                    print!("{:>15}", format!("{per} ({y})"));
                }
                println!();
            }
            print!("{:<11}", "worst");
            for (per, total) in worst {
                print!("{:>15}", format!("{per} ({total})"));
            }
            println!();
            println!(
                "math routines called from compiled code: {} bytes (jit::LIBCALL_STACK = {})",
                libcall_stack(),
                jit::LIBCALL_STACK
            );
        })
        .expect("thread");
    worker.join().expect("measurement");
}
