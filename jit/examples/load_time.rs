//! Times every load and compile step on generated functions of 10k to 80k statements, to
//! show how each step grows with function size (linear: doubling the size doubles the time).
//!
//! ```text
//! cargo run --release -p jit --example load_time                 # 10k, 20k, 40k, 80k
//! cargo run --release -p jit --example load_time -- 5000 10000   # other sizes
//! cargo run --release -p jit --example load_time -- --shape lets # one shape
//! ```
//!
//! Functions above `jit::MAX_FUNCTION_STATEMENTS` (or modules above `MAX_MODULE_TOKENS`)
//! are rejected; the figures in `jit/IR.md` for 10k to 80k statements were taken with
//! those two limits lifted in `jit/src/frontend/limits.rs` for the measurement.

use jit::{Engine, EngineConfig, Tier, parse_module};
use std::time::Instant;

/// A function `f` of about `n` statements of one shape.
fn source(shape: &str, n: usize) -> String {
    let mut s = String::new();
    match shape {
        // a new local per statement (name lookup, locals, spills)
        "lets" => {
            s += "fn f(x: i32) -> i32 {\n  let v0 = x;\n";
            for i in 1..n {
                s += &format!("  let v{i} = v{} * 3 + {};\n", i - 1, i % 1000);
            }
            s += &format!("  return v{};\n}}\n", n - 1);
        }
        // one variable updated over and over, with a distinct constant each time
        "assign" => {
            s += "fn f(x: i32) -> i32 {\n  let a = x;\n";
            for i in 0..n {
                s += &format!("  a = a * 3 + {i};\n");
            }
            s += "  return a;\n}\n";
        }
        // small `if`s (blocks, branches)
        "ifs" => {
            s += "fn f(x: i32) -> i32 {\n  let a = x;\n";
            for i in 0..n {
                s += &format!("  if a > {i} {{ a = a - 1; }}\n");
            }
            s += "  return a;\n}\n";
        }
        // one innermost loop with every statement in its body (T2/T3 loop analyses)
        "loop" => {
            s += "fn f(x: i32) -> i32 {\n  let a: f32 = 0.0;\n  for i in 0..x {\n";
            for k in 0..n {
                s += &format!("    a = a * 0.5 + {}.0;\n", k % 100);
            }
            s += "  }\n  return a as i32;\n}\n";
        }
        // buffer accesses in one innermost loop (affine indices, versioning)
        "stores" => {
            s += "fn f(x: i32) -> i32 { return x; }\n";
            s += "fn g(y: &mut [f32], n: i32) {\n  for i in 0..n {\n";
            for k in 0..n {
                s += &format!("    y[i + {}] = y[i + {}] * 0.5;\n", k % 64, (k + 1) % 64);
            }
            s += "  }\n}\n";
        }
        // calls of a small function
        "calls" => {
            s += "fn g(x: i32) -> i32 { return x + 1; }\n";
            s += "fn f(x: i32) -> i32 {\n  let a = x;\n";
            for _ in 0..n {
                s += "  a = g(a);\n";
            }
            s += "  return a;\n}\n";
        }
        // every statement reads the parameter (name lookup through every local in scope)
        "uses" => {
            s += "fn f(x: i32) -> i32 {\n";
            for i in 0..n {
                s += &format!("  let v{i} = x + {};\n", i % 1000);
            }
            s += "  return x;\n}\n";
        }
        // half the statements read a buffer (a bounds check each) before a call, half use
        // the values after it: values live across a call and across many branches
        "live" => {
            let k = n / 2;
            s += "fn f(x: i32) -> i32 { return x; }\n";
            s += "fn g(a: &[f64], n: i32) -> f64 {\n  if n <= 1 { return a[0]; }\n";
            for i in 0..k {
                s += &format!("  let v{i} = a[{i}];\n");
            }
            s += "  let t = g(a, n - 1);\n";
            for i in 0..k {
                s += &format!("  t += v{i};\n");
            }
            s += "  return t;\n}\n";
        }
        other => panic!("unknown shape {other}"),
    }
    s
}

const SHAPES: &[&str] = &[
    "lets", "assign", "uses", "ifs", "loop", "stores", "calls", "live",
];
const STEPS: &[&str] = &["parse+verify", "load", "T1", "T2", "T3"];

fn secs(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// Seconds per step for one source; a step that fails prints its error instead.
fn steps(src: &str) -> Vec<Result<f64, String>> {
    let mut out = Vec::new();
    let t = Instant::now();
    let m = match parse_module("big.bfir", src) {
        Ok(m) => m,
        Err(d) => return vec![Err(d.to_string())],
    };
    out.push(Ok(secs(t)));
    let names: Vec<String> = m.function_names().iter().map(|s| s.to_string()).collect();
    let e = Engine::host(EngineConfig::default());
    let t = Instant::now();
    let id = match e.load(m) {
        Ok(id) => id,
        Err(err) => {
            out.push(Err(err.to_string()));
            return out;
        }
    };
    out.push(Ok(secs(t)));
    for tier in [Tier::T1, Tier::T2, Tier::T3] {
        let t = Instant::now();
        let r = names.iter().try_for_each(|n| {
            e.compile(e.func(id, n).expect("function"), tier)
                .map(|_| ())
        });
        // a failed compile took its time too (a frame over the budget is found after
        // register allocation)
        out.push(
            r.map(|()| secs(t))
                .map_err(|err| format!("{:.3} {err}", secs(t))),
        );
    }
    out
}

fn main() {
    let mut sizes = Vec::new();
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--shape" {
            only = args.next();
        } else {
            sizes.push(a.parse::<usize>().expect("a statement count"));
        }
    }
    if sizes.is_empty() {
        sizes = vec![10_000, 20_000, 40_000, 80_000];
    }
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("seconds per step ({build} build); x2: time ratio to the half size");
    for shape in SHAPES
        .iter()
        .filter(|s| only.as_deref().is_none_or(|o| o == **s))
    {
        println!("{shape}");
        print!("{:>10}", "statements");
        for s in STEPS {
            print!("{s:>20}");
        }
        println!();
        let mut prev: Option<Vec<Result<f64, String>>> = None;
        for &n in &sizes {
            let r = steps(&source(shape, n));
            print!("{n:>10}");
            for (i, x) in r.iter().enumerate() {
                let cell = match (x, prev.as_ref().and_then(|p| p.get(i))) {
                    (Ok(t), Some(Ok(p))) if *p > 0.0 => format!("{t:.3} (x{:.1})", t / p),
                    (Ok(t), _) => format!("{t:.3}"),
                    (Err(e), _) => {
                        let e: String = e.chars().take(40).collect();
                        format!("  {e}")
                    }
                };
                print!("{cell:>20}");
            }
            println!();
            prev = Some(r);
        }
    }
}
