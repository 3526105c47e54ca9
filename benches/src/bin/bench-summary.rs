//! Prints a Markdown table of calls per second: kernel x {T0, T1, T2, T3, AOT,
//! AOT-native, cranelift-jit}, with speedups; then, for the kernels that have one, T3
//! against the library a user would pick, in GFLOP/s, GB/s or M/s and as a fraction of
//! this machine's FMA peak or read bandwidth measured in the same run; then compile time
//! and code size per tier.
//!
//! Run it with the bench profile (opt-level 3):
//!
//! ```text
//! cargo run -p bareflow-benches --profile bench --bin bench-summary
//! ```
//!
//! Environment: `BF_BENCH_SIZES=report` for the report sizes (ARCHITECTURE.md, "The
//! benchmark catalog"; default: the
//! catalog's moderate bench sizes), `BF_BENCH_KERNELS=matmul,fft` to select kernels,
//! `BF_BENCH_MS=300` for the time budget per cell in milliseconds.

use std::collections::HashMap;
use std::time::Duration;

use bareflow_benches::library::{Choice, library_name};
use bareflow_benches::probe::{self, Bound, Work};
use bareflow_benches::timing::{Timing, measure};
use bareflow_benches::{Harness, Variant, selected_kernels, sizes_for};
use jit::{Tier, break_even_calls};

/// The main table's columns (the library columns have their own table).
const TIER_TABLE: [Variant; 7] = [
    Variant::Tier(Tier::T0),
    Variant::Tier(Tier::T1),
    Variant::Tier(Tier::T2),
    Variant::Tier(Tier::T3),
    Variant::Aot,
    Variant::AotNative,
    Variant::CraneliftJit,
];

/// A rate cell: the rate in the work's unit, and the fraction of the bound when known.
fn fmt_work(work: &Work, t: &Timing, bound: Option<f64>) -> String {
    let (rate, _) = work.rate(t.median.as_secs_f64());
    match bound {
        Some(b) => format!("{rate:.2} ({:.0} %)", 100.0 * rate / b),
        None => format!("{rate:.2}"),
    }
}

/// Prints T3, AOT-native and the library columns per (kernel, size) that has a library.
fn print_library_table(rows: &[(String, usize, HashMap<Variant, Timing>)], budget: Duration) {
    let lib_rows: Vec<_> = rows
        .iter()
        .filter(|(name, _, _)| library_name(name, Choice::First).is_some())
        .collect();
    if lib_rows.is_empty() {
        return;
    }
    let peak = probe::fma_peak_gflops(budget);
    println!("\n### Against the libraries a user would pick (same run)\n");
    match peak {
        Some(p) => println!(
            "Bounds measured in this run: f32 FMA peak {p:.1} GFLOP/s (one core, 256-bit FMA); \
             the read bound of each matvec row is a streaming read of its matrix and vector \
             bytes. Cells: rate (percent of the bound). `T3 / lib`: T3's rate over the library's.\n"
        ),
        None => println!("(no AVX2/FMA: bounds not measured)\n"),
    }
    println!(
        "| kernel | size | unit | bound | T3 | AOT-native | library | library-2 | T3 / lib | T3 / lib-2 |"
    );
    println!("|---|---:|---|---:|---:|---:|---|---|---:|---:|");
    for (name, size, cells) in lib_rows {
        let Some(work) = probe::work(name, *size) else {
            continue;
        };
        let bound = match work.bound {
            Some(Bound::FmaPeak) => peak,
            Some(Bound::Read(bytes)) => probe::read_gbs(bytes, budget),
            None => None,
        };
        let (_, unit) = work.rate(1.0);
        let bound_cell = match (work.bound, bound) {
            (Some(Bound::FmaPeak), Some(b)) => format!("{b:.1} peak"),
            (Some(Bound::Read(bytes)), Some(b)) => {
                format!("{b:.1} read of {:.2} MB", bytes as f64 / 1e6)
            }
            _ => "-".into(),
        };
        let cell = |v: Variant| {
            cells
                .get(&v)
                .map_or_else(|| "n/a".into(), |t| fmt_work(&work, t, bound))
        };
        let lib_cell = |c: Choice| match (library_name(name, c), cells.get(&Variant::Library(c))) {
            (Some(lib), Some(t)) => format!("{lib}: {}", fmt_work(&work, t, bound)),
            (Some(lib), None) => format!("{lib}: n/a"),
            (None, _) => "-".into(),
        };
        let ratio = |c: Choice| match (
            cells.get(&Variant::Tier(Tier::T3)),
            cells.get(&Variant::Library(c)),
        ) {
            (Some(t3), Some(lib)) => format!("{:.2}", t3.calls_per_sec() / lib.calls_per_sec()),
            _ => "-".into(),
        };
        println!(
            "| {name} | {size} | {unit} | {bound_cell} | {} | {} | {} | {} | {} | {} |",
            cell(Variant::Tier(Tier::T3)),
            cell(Variant::AotNative),
            lib_cell(Choice::First),
            lib_cell(Choice::Second),
            ratio(Choice::First),
            ratio(Choice::Second),
        );
    }
}

fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k", r / 1e3)
    } else {
        format!("{r:.1}")
    }
}

fn main() {
    let budget = Duration::from_millis(
        std::env::var("BF_BENCH_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(300),
    );
    let harness = match Harness::new() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot load the catalog: {e}");
            std::process::exit(1);
        }
    };
    let mut notes: Vec<String> = Vec::new();
    let mut rows: Vec<(String, usize, HashMap<Variant, Timing>)> = Vec::new();
    for k in selected_kernels() {
        for size in sizes_for(k) {
            let reference = match harness.reference(k, size, 0) {
                Ok(r) => r,
                Err(e) => {
                    notes.push(e);
                    continue;
                }
            };
            let mut cells = HashMap::new();
            for v in Variant::ALL.into_iter().filter(|v| v.applies_to(k.name)) {
                match harness.runner(k, size, v, &reference) {
                    Ok(mut r) => {
                        let t = measure(&mut r, budget);
                        eprintln!(
                            "{:>13} {:>8} {:>13}: {:>12.3} us/call",
                            k.name,
                            size,
                            v.label(),
                            t.median.as_secs_f64() * 1e6
                        );
                        cells.insert(v, t);
                    }
                    Err(e) => {
                        let note = format!("{} {}: {e}", k.name, v.label());
                        if !notes.contains(&note) {
                            notes.push(note);
                        }
                    }
                }
            }
            rows.push((k.name.to_string(), size, cells));
        }
    }

    println!(
        "Host CPU features (T3 and AOT-native use them): {}; time budget {} ms per cell.\n",
        jit::CpuFeatures::detect_host().names().join(" "),
        budget.as_millis()
    );
    println!("### Calls per second (median), speedup relative to T0 in parentheses\n");
    print!("| kernel | size |");
    for v in TIER_TABLE {
        print!(" {} |", v.label());
    }
    println!(" T3 / AOT |");
    print!("|---|---:|");
    for _ in TIER_TABLE {
        print!("---:|");
    }
    println!("---:|");
    for (name, size, cells) in &rows {
        print!("| {name} | {size} |");
        let t0 = cells
            .get(&Variant::Tier(Tier::T0))
            .map(Timing::calls_per_sec);
        for v in TIER_TABLE {
            match (cells.get(&v), t0) {
                (Some(t), Some(base)) if v != Variant::Tier(Tier::T0) => print!(
                    " {} ({:.1}x) |",
                    fmt_rate(t.calls_per_sec()),
                    t.calls_per_sec() / base
                ),
                (Some(t), _) => print!(" {} |", fmt_rate(t.calls_per_sec())),
                (None, _) => print!(" n/a |"),
            }
        }
        match (
            cells.get(&Variant::Tier(Tier::T3)),
            cells.get(&Variant::Aot),
        ) {
            (Some(t3), Some(aot)) => println!(" {:.2} |", t3.calls_per_sec() / aot.calls_per_sec()),
            _ => println!(" n/a |"),
        }
    }

    print_library_table(&rows, budget);

    println!(
        "\n### Compile time and code size per tier (Engine::compile, fresh engine per kernel)\n"
    );
    println!(
        "Break-even (`b/e`): calls after which the tier has paid for its compile time, \
         compile time / (time per call at the tier below - at this tier), from the first \
         size's timings above; `-` where the tier is not faster. The adaptive policy \
         (`TierPolicy::Adaptive`, `bareflow.tiers=adaptive`) tiers up near these counts.\n"
    );
    println!(
        "| kernel | T1 ms | T1 bytes | T1 b/e | T2 ms | T2 bytes | T2 b/e | T3 ms | T3 bytes | T3 b/e |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for k in selected_kernels() {
        let fresh = match Harness::new() {
            Ok(h) => h,
            Err(e) => {
                notes.push(e);
                break;
            }
        };
        print!("| {} |", k.name);
        let cells = rows.iter().find(|(n, _, _)| n == k.name).map(|(_, _, c)| c);
        let per_call_ns = |t: Tier| {
            cells
                .and_then(|c| c.get(&Variant::Tier(t)))
                .map(|x| x.median.as_secs_f64() * 1e9)
        };
        for t in [Tier::T1, Tier::T2, Tier::T3] {
            match fresh.compile(k, t) {
                Ok(s) => {
                    let below = Tier::from_index(t.index() - 1).unwrap_or(Tier::T0);
                    let be = match (per_call_ns(below), per_call_ns(t)) {
                        (Some(b), Some(n)) => break_even_calls(b, n, s.compile_ns as f64)
                            .map_or_else(|| "-".to_string(), |c| format!("{:.0}", c.ceil())),
                        _ => "n/a".into(),
                    };
                    print!(
                        " {:.2} | {} | {be} |",
                        s.compile_ns as f64 / 1e6,
                        s.code_bytes
                    );
                }
                Err(e) => {
                    print!(" n/a | n/a | n/a |");
                    notes.push(e);
                }
            }
        }
        println!();
    }
    println!(
        "\ncranelift-jit: the kernel's {} Cranelift IR (Engine::cranelift_ir) compiled and linked by cranelift-jit + cranelift-module.",
        bareflow_benches::cranelift::TIER
    );
    if !notes.is_empty() {
        println!("\nNotes:");
        for n in notes {
            println!("- {n}");
        }
    }
}
