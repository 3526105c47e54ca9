//! Prints a Markdown table of calls per second: kernel x {T0, T1, T2, T3, AOT,
//! AOT-native, cranelift-jit}, with speedups, then compile time and code size per tier.
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

use bareflow_benches::timing::{Timing, measure};
use bareflow_benches::{Harness, Variant, selected_kernels, sizes_for};
use jit::Tier;

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
            for v in Variant::ALL {
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
    for v in Variant::ALL {
        print!(" {} |", v.label());
    }
    println!(" T3 / AOT |");
    print!("|---|---:|");
    for _ in Variant::ALL {
        print!("---:|");
    }
    println!("---:|");
    for (name, size, cells) in &rows {
        print!("| {name} | {size} |");
        let t0 = cells
            .get(&Variant::Tier(Tier::T0))
            .map(Timing::calls_per_sec);
        for v in Variant::ALL {
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

    println!(
        "\n### Compile time and code size per tier (Engine::compile, fresh engine per kernel)\n"
    );
    println!("| kernel | T1 ms | T1 bytes | T2 ms | T2 bytes | T3 ms | T3 bytes |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for k in selected_kernels() {
        let fresh = match Harness::new() {
            Ok(h) => h,
            Err(e) => {
                notes.push(e);
                break;
            }
        };
        print!("| {} |", k.name);
        for t in [Tier::T1, Tier::T2, Tier::T3] {
            match fresh.compile(k, t) {
                Ok(s) => print!(" {:.2} | {} |", s.compile_ns as f64 / 1e6, s.code_bytes),
                Err(e) => {
                    print!(" n/a | n/a |");
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
