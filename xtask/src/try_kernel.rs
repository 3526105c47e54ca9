//! `cargo xtask try FILE.bfir`: every function of a module that has a workload
//! (`#[workload(...)]`, `jit/IR.md`) run at every tier on this host, on the inputs the
//! workload generates (seed 1, as in the kernel): each tier checked against T0 (the same
//! value or trap kind, the same `&mut` buffers), then timed. Prints calls per second,
//! compile time and code size per tier: the quickest way to iterate on a kernel before
//! booting it.

use jit::workload::{Inputs, Outputs, Workload};
use jit::{CpuFeatures, Engine, EngineConfig, FuncId, Tier, TrapKind, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

/// The seed of the inputs (the kernel's too).
pub const SEED: u64 = 1;

/// One tier of one function.
#[derive(Debug, Clone)]
pub struct TierRow {
    pub tier: Tier,
    /// `Ok` when the tier agrees with T0 (for T0 itself: always).
    pub agrees: Result<(), String>,
    pub calls_per_s: f64,
    pub compile_ms: Option<f64>,
    pub code_bytes: Option<usize>,
}

/// One function of the module.
#[derive(Debug, Clone)]
pub enum FunctionReport {
    Exercised {
        name: String,
        sizes: String,
        /// T0's result: a value, or the trap the workload runs into.
        t0: Result<Value, TrapKind>,
        tiers: Vec<TierRow>,
    },
    NotExercised {
        name: String,
        reason: String,
    },
}

impl FunctionReport {
    /// Every tier agreed with T0 (true for a function that was not run).
    pub fn ok(&self) -> bool {
        match self {
            FunctionReport::Exercised { tiers, .. } => tiers.iter().all(|t| t.agrees.is_ok()),
            FunctionReport::NotExercised { .. } => true,
        }
    }
}

/// Runs every function of the module at `file` for about `budget` per tier.
pub fn try_file(file: &Path, budget: Duration) -> Result<Vec<FunctionReport>, String> {
    let src = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    try_source(&file.to_string_lossy(), &src, budget)
}

/// [`try_file`] on a source text (`file` names it in errors).
pub fn try_source(file: &str, src: &str, budget: Duration) -> Result<Vec<FunctionReport>, String> {
    let module = jit::parse_module(file, src).map_err(|d| d.to_string())?;
    let names: Vec<String> = module
        .function_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut plans = Vec::new();
    for name in &names {
        let sig = module.signature(name).map(|s| s.0).unwrap_or_default();
        match module.workload(name) {
            Some(Ok(w)) => plans.push((name.clone(), Some((w.clone(), sig)), String::new())),
            Some(Err(why)) => plans.push((name.clone(), None, why.to_string())),
            None => {}
        }
    }
    let param_names = param_names(src);
    let engine = Engine::host(EngineConfig {
        features: CpuFeatures::detect_host(),
        ..EngineConfig::default()
    });
    let m = engine.load(module).map_err(|e| e.to_string())?;
    let mut reports = Vec::new();
    for (name, plan, why) in plans {
        let Some((w, _)) = plan else {
            reports.push(FunctionReport::NotExercised { name, reason: why });
            continue;
        };
        let f = engine
            .func(m, &name)
            .ok_or_else(|| format!("{file}: function `{name}` missing after loading"))?;
        let pnames: Vec<&str> = param_names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| p.iter().map(String::as_str).collect())
            .unwrap_or_default();
        reports.push(run_function(&engine, f, &name, &w, &pnames, budget));
    }
    Ok(reports)
}

/// Parameter names per function, read from the source (the IR keeps only their types).
fn param_names(src: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for line in src.lines() {
        let Some(rest) = line.trim_start().strip_prefix("fn ") else {
            continue;
        };
        let Some((name, tail)) = rest.split_once('(') else {
            continue;
        };
        let params = tail.split(')').next().unwrap_or("");
        let names = params
            .split(',')
            .filter_map(|p| p.split(':').next())
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        out.push((name.trim().to_string(), names));
    }
    out
}

fn call(engine: &Engine, f: FuncId, tier: Tier, inputs: &mut Inputs) -> Result<Value, TrapKind> {
    inputs.reset();
    let mut args = inputs.args();
    engine.call_at(f, tier, &mut args).map_err(|t| t.kind)
}

fn run_function(
    engine: &Engine,
    f: FuncId,
    name: &str,
    w: &Workload,
    pnames: &[&str],
    budget: Duration,
) -> FunctionReport {
    let mut inputs = Inputs::generate(w, SEED);
    let t0 = call(engine, f, Tier::T0, &mut inputs);
    let reference = Outputs::capture(&inputs, t0);
    let mut tiers = Vec::new();
    for tier in Tier::ALL {
        let (compile_ms, code_bytes, compiled) = if tier == Tier::T0 {
            (None, None, Ok(()))
        } else {
            match engine.compile(f, tier) {
                Ok(s) => (Some(s.compile_ns as f64 / 1e6), Some(s.code_bytes), Ok(())),
                Err(e) => (None, None, Err(format!("does not compile: {e}"))),
            }
        };
        let agrees = compiled.and_then(|()| {
            let r = call(engine, f, tier, &mut inputs);
            reference
                .check(&inputs, &r, w.reassoc)
                .map_err(|m| m.to_string())
        });
        let calls_per_s = if agrees.is_ok() {
            rate(engine, f, tier, &mut inputs, budget)
        } else {
            0.0
        };
        tiers.push(TierRow {
            tier,
            agrees,
            calls_per_s,
            compile_ms,
            code_bytes,
        });
    }
    FunctionReport::Exercised {
        name: name.to_string(),
        sizes: w.describe(pnames),
        t0: reference.result,
        tiers,
    }
}

/// Calls per second at `tier`, timing the calls only (inputs are reset between calls,
/// outside the timed part), for about `budget` of calls (at least 3).
fn rate(engine: &Engine, f: FuncId, tier: Tier, inputs: &mut Inputs, budget: Duration) -> f64 {
    let mut spent = Duration::ZERO;
    let mut calls = 0u64;
    while spent < budget || calls < 3 {
        inputs.reset();
        let mut args = inputs.args();
        let t = Instant::now();
        let _ = engine.call_at(f, tier, &mut args);
        spent += t.elapsed();
        calls += 1;
    }
    calls as f64 / spent.as_secs_f64().max(1e-9)
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The report as text.
pub fn render(file: &str, reports: &[FunctionReport]) -> String {
    let mut s = String::new();
    for r in reports {
        match r {
            FunctionReport::NotExercised { name, reason } => {
                let _ = writeln!(s, "{file}: {name}: {reason}");
            }
            FunctionReport::Exercised {
                name,
                sizes,
                t0,
                tiers,
            } => {
                let _ = writeln!(s, "{file}: {name}({sizes}), seed {SEED}");
                match t0 {
                    Ok(v) => {
                        let _ = writeln!(s, "  T0 returns {v:?}");
                    }
                    Err(k) => {
                        let _ = writeln!(
                            s,
                            "  warning: T0 traps {k:?} on this workload (every tier must trap the same way)"
                        );
                    }
                }
                let _ = writeln!(
                    s,
                    "  {:<4} {:<10} {:>14} {:>11} {:>11}",
                    "tier", "vs T0", "calls/s", "compile ms", "code bytes"
                );
                for t in tiers {
                    let verdict = match (&t.agrees, t.tier) {
                        (_, Tier::T0) => "reference",
                        (Ok(()), _) => "agrees",
                        (Err(_), _) => "DIFFERS",
                    };
                    let compile = t.compile_ms.map_or("-".to_string(), |m| format!("{m:.2}"));
                    let bytes = t.code_bytes.map_or("-".to_string(), |b| b.to_string());
                    let cps = if t.agrees.is_ok() {
                        thousands(t.calls_per_s)
                    } else {
                        "-".to_string()
                    };
                    let _ = writeln!(
                        s,
                        "  {:<4} {:<10} {:>14} {:>11} {:>11}",
                        t.tier.name(),
                        verdict,
                        cps,
                        compile,
                        bytes
                    );
                    if let Err(e) = &t.agrees {
                        let _ = writeln!(s, "       {}: {e}", t.tier.name());
                    }
                }
            }
        }
    }
    if !reports
        .iter()
        .any(|r| matches!(r, FunctionReport::Exercised { .. }))
    {
        let _ = writeln!(
            s,
            "{file}: no function has a workload: add #[workload(...)] (jit/IR.md, \"Workloads\")"
        );
    }
    s
}

/// `cargo xtask try`: prints the report; false when a tier disagrees with T0.
pub fn command(file: &Path, budget_ms: u64) -> Result<bool, String> {
    let reports = try_file(file, Duration::from_millis(budget_ms))?;
    print!("{}", render(&file.to_string_lossy(), &reports));
    Ok(reports.iter().all(FunctionReport::ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: Duration = Duration::from_millis(5);

    #[test]
    fn the_readme_saxpy_agrees_at_every_tier() {
        let path = crate::paths::root().join("ir-modules/examples/saxpy.bfir");
        let reports = try_file(&path, BUDGET).unwrap();
        assert_eq!(reports.len(), 1, "{reports:?}");
        let FunctionReport::Exercised {
            name, t0, tiers, ..
        } = &reports[0]
        else {
            panic!("saxpy not exercised: {reports:?}");
        };
        assert_eq!(name, "saxpy");
        assert!(matches!(t0, Ok(Value::Unit)), "{t0:?}");
        assert_eq!(tiers.len(), 4);
        for t in tiers {
            assert!(t.agrees.is_ok(), "{:?}", t);
            assert!(t.calls_per_s > 0.0);
            assert_eq!(t.compile_ms.is_some(), t.tier != Tier::T0);
            assert!(t.tier == Tier::T0 || t.code_bytes.unwrap_or(0) > 0);
        }
        let text = render("saxpy.bfir", &reports);
        assert!(
            text.contains("saxpy(a=1.5 x[4096] y[4096] n=4096)"),
            "{text}"
        );
        assert!(text.contains("T3   agrees"), "{text}");
    }

    #[test]
    fn a_bad_workload_is_a_located_error() {
        let src = "fn f(x: &[f32], n: i32) -> f32 {\n    return x[n];\n}\n\
                   #[workload(x = [random(-1, 1); 8], n = 2.5)]\nfn g(x: &[f32], n: i32) {}\n";
        let e = try_source("bad.bfir", src, BUDGET).unwrap_err();
        assert_eq!(e, "bad.bfir:4:40: `n` takes an integer (i32), not a float");
    }

    #[test]
    fn a_trapping_workload_traps_alike_at_every_tier() {
        let src = "#[workload(x = [iota; 16], n = 17)]\n\
                   fn sum(x: &[i32], n: i32) -> i32 {\n    let s = 0;\n    for i in 0..n { s += x[i]; }\n    return s;\n}\n\
                   fn helper(x: &[i32]) -> i32 { return x[0]; }\n";
        let reports = try_source("trap.bfir", src, BUDGET).unwrap();
        assert_eq!(reports.len(), 2);
        let FunctionReport::Exercised { t0, tiers, .. } = &reports[0] else {
            panic!("sum not exercised");
        };
        assert!(matches!(t0, Err(TrapKind::OutOfBounds)), "{t0:?}");
        assert!(tiers.iter().all(|t| t.agrees.is_ok()), "{tiers:?}");
        let FunctionReport::NotExercised { name, reason } = &reports[1] else {
            panic!("helper has no workload");
        };
        assert_eq!(name, "helper");
        assert!(reason.contains("no #[workload(...)]"), "{reason}");
        let text = render("trap.bfir", &reports);
        assert!(text.contains("T0 traps OutOfBounds"), "{text}");
    }

    #[test]
    fn a_differing_tier_is_reported() {
        // The comparison itself: an output that does not match T0's is a mismatch.
        let w = jit::parse_module(
            "m.bfir",
            "#[workload(y = [0; 4])]\nfn f(y: &mut [i32]) { y[1] = 7; }\n",
        )
        .unwrap();
        let wl = w.workload("f").unwrap().unwrap().clone();
        let mut inputs = Inputs::generate(&wl, SEED);
        let reference = Outputs::capture(&inputs, Ok(Value::Unit));
        if let Some(jit::workload::Input::Buffer {
            data: jit::workload::Buffer::I32(y),
            ..
        }) = inputs.params.get_mut(0)
        {
            y[1] = 7;
        }
        let m = reference
            .check(&inputs, &Ok(Value::Unit), false)
            .unwrap_err();
        assert_eq!(m.to_string(), "parameter 0 element 1: expected 0, got 7");
        assert!(
            reference
                .check(&inputs, &Err(TrapKind::OutOfBounds), false)
                .is_err()
        );
    }
}
