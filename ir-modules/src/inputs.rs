//! Deterministic inputs: the arguments of every catalog kernel for (size, seed), and
//! the trap cases (arguments on which the IR must trap, with the expected kind).
//!
//! All values come from [`Rng`], so the host tests, the benchmarks and the unikernel's
//! self-tests see the same data for the same seed. Float inputs stay in small ranges
//! (no NaN, no infinity, no overflow in the kernels).

use alloc::vec;
use alloc::vec::Vec;

use jit::TrapKind;

use crate::catalog::Kernel;
use crate::dfa::{Dfa, catalog_pattern};
use crate::rng::Rng;
use crate::workload::{Data, Param, TrapCase, Workload};

fn f32s(rng: &mut Rng, len: usize, lo: f32, hi: f32) -> Data {
    Data::F32(rng.vec_f32(len, lo, hi))
}

fn zeros(len: usize) -> Data {
    Data::F32(vec![0.0; len])
}

fn i(v: usize) -> Param {
    Param::I32(v as i32)
}

fn mixed(seed: u64) -> Rng {
    Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x00b4_2ef1_0c47)
}

/// matmul: m = n = k = size.
pub fn matmul(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    let s = size;
    vec![
        Param::In(f32s(&mut rng, s * s, -1.0, 1.0)),
        Param::In(f32s(&mut rng, s * s, -1.0, 1.0)),
        Param::Out(zeros(s * s)),
        i(s),
        i(s),
        i(s),
    ]
}

/// The tile sides the tests rotate through (seed 0 gives 16, the benchmark's).
const TILES: [usize; 5] = [16, 1, 3, 4, 8];

/// gemm_tile: m = n = k = size, tile from the seed.
pub fn gemm_tile(size: usize, seed: u64) -> Vec<Param> {
    let mut p = matmul(size, seed);
    p.push(i(TILES[(seed % TILES.len() as u64) as usize]));
    p
}

/// matvec: rows = size, cols = size + seed % 3 (square for seed 0).
pub fn matvec(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    let rows = size;
    let cols = size + (seed % 3) as usize;
    vec![
        Param::In(f32s(&mut rng, rows * cols, -1.0, 1.0)),
        Param::In(f32s(&mut rng, cols, -1.0, 1.0)),
        Param::Out(zeros(rows)),
        i(rows),
        i(cols),
    ]
}

/// matvec_ffn: the feed-forward shape of llama-style models, rows = size,
/// cols = size * 11 / 4 (2048 x 5632 at the report size).
pub fn matvec_ffn(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    let rows = size;
    let cols = size * 11 / 4;
    vec![
        Param::In(f32s(&mut rng, rows * cols, -1.0, 1.0)),
        Param::In(f32s(&mut rng, cols, -1.0, 1.0)),
        Param::Out(zeros(rows)),
        i(rows),
        i(cols),
    ]
}

/// The head dimension of an attention workload: 64 from seq 32 on, else 1..=13.
pub fn attention_head_dim(size: usize, seed: u64) -> usize {
    if size >= 32 {
        64
    } else {
        1 + (seed % 13) as usize
    }
}

/// attention: seq = size, head dim from [`attention_head_dim`].
pub fn attention(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    let seq = size;
    let d = attention_head_dim(size, seed);
    vec![
        Param::In(f32s(&mut rng, seq * d, -1.0, 1.0)),
        Param::In(f32s(&mut rng, seq * d, -1.0, 1.0)),
        Param::In(f32s(&mut rng, seq * d, -1.0, 1.0)),
        Param::Out(zeros(seq * d)),
        Param::Out(zeros(seq)),
        i(seq),
        i(d),
    ]
}

/// rmsnorm: n = size, eps = 1e-5.
pub fn rmsnorm(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    vec![
        Param::In(f32s(&mut rng, size, -2.0, 2.0)),
        Param::In(f32s(&mut rng, size, 0.5, 1.5)),
        Param::Out(zeros(size)),
        i(size),
        Param::F32(1e-5),
    ]
}

/// softmax: n = size, logits in [-8, 8).
pub fn softmax(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    vec![Param::Out(f32s(&mut rng, size, -8.0, 8.0)), i(size)]
}

/// The head size of a rope workload of `dim` values: the largest power of two <= 64
/// that divides `dim` (2 for dim 0).
pub fn rope_head_dim(dim: usize) -> usize {
    let mut h = 64;
    while h > 2 && !dim.is_multiple_of(h) {
        h /= 2;
    }
    h
}

/// rope: dim = size rounded down to even, theta = 10000, pos from the seed.
pub fn rope(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    let dim = size & !1;
    vec![
        Param::Out(f32s(&mut rng, dim, -1.0, 1.0)),
        i((seed % 4096) as usize),
        i(dim),
        i(rope_head_dim(dim)),
        Param::F32(10000.0),
    ]
}

/// silu: n = size, inputs in [-6, 6).
pub fn silu(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    vec![Param::Out(f32s(&mut rng, size, -6.0, 6.0)), i(size)]
}

/// swiglu: n = size.
pub fn swiglu(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    vec![
        Param::Out(f32s(&mut rng, size, -6.0, 6.0)),
        Param::In(f32s(&mut rng, size, -2.0, 2.0)),
        i(size),
    ]
}

/// fft: n = size complex samples (any size; the kernel refuses non-powers of two).
pub fn fft(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    vec![
        Param::Out(f32s(&mut rng, size, -1.0, 1.0)),
        Param::Out(f32s(&mut rng, size, -1.0, 1.0)),
        i(size),
    ]
}

/// sha256: a message of `size` random bytes.
pub fn sha256(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    let data: Vec<u8> = (0..size).map(|_| rng.next_u32() as u8).collect();
    sha256_of(data)
}

/// The sha256 arguments for a given message.
pub fn sha256_of(data: Vec<u8>) -> Vec<Param> {
    let len = data.len();
    vec![
        Param::In(Data::U8(data)),
        i(len),
        Param::Out(Data::U8(vec![0; 32])),
        Param::Out(Data::I32(vec![0; 8])),
        Param::Out(Data::I32(vec![0; 64])),
    ]
}

const LEVELS: [&str; 5] = ["INFO", "DEBUG", "WARN", "ERROR", "TRACE"];
const WORDS: [&str; 12] = [
    "request", "served", "cache", "miss", "user", "login", "disk", "flush", "retry", "timeout",
    "queue", "WARNING",
];
const UNITS: [&str; 4] = ["ms", "s", "us", "ms"];

/// Synthetic log text of exactly `size` bytes: lines such as
/// `000123 ERROR cache miss took 87ms` (the last line may be cut).
pub fn log_text(size: usize, seed: u64) -> Vec<u8> {
    let mut rng = mixed(seed);
    let mut text = Vec::with_capacity(size + 64);
    let mut line_no = 0u32;
    while text.len() < size {
        let mut line = alloc::format!("{:06} {}", line_no, rng.pick(&LEVELS));
        for _ in 0..rng.below(5) {
            line.push(' ');
            line.push_str(rng.pick(&WORDS));
        }
        if rng.below(4) != 0 {
            line.push_str(&alloc::format!(
                " took {}{}",
                rng.below(1000),
                rng.pick(&UNITS)
            ));
        }
        line.push('\n');
        text.extend_from_slice(line.as_bytes());
        line_no += 1;
    }
    text.truncate(size);
    text
}

/// regex_dfa: `size` bytes of [`log_text`] against [`catalog_pattern`].
pub fn regex_dfa(size: usize, seed: u64) -> Vec<Param> {
    regex_dfa_of(log_text(size, seed), &Dfa::search(&catalog_pattern()))
}

/// The regex_dfa arguments for a text and an automaton.
pub fn regex_dfa_of(text: Vec<u8>, dfa: &Dfa) -> Vec<Param> {
    let n = text.len();
    vec![
        Param::In(Data::U8(text)),
        i(n),
        Param::In(Data::U8(dfa.classes.clone())),
        Param::In(Data::I32(dfa.table.clone())),
        Param::In(Data::U8(dfa.accept.clone())),
        i(dfa.nclasses),
        i(dfa.start),
    ]
}

/// physics_step: `size` discs of radius 1 in a square box sized so that about a third
/// of its area is covered (plenty of collisions), random small velocities, some discs
/// starting across a wall.
pub fn physics_step(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    let r = 1.0f32;
    let side = 4.0 + 3.0 * libm::sqrtf(size as f32);
    let (mut x, mut y, mut px, mut py) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..size {
        let (cx, cy) = (
            rng.range_f32(0.5 * r, side - 0.5 * r),
            rng.range_f32(0.5 * r, side - 0.5 * r),
        );
        x.push(cx);
        y.push(cy);
        px.push(cx - rng.range_f32(-0.3, 0.3));
        py.push(cy - rng.range_f32(-0.3, 0.3));
    }
    vec![
        Param::Out(Data::F32(x)),
        Param::Out(Data::F32(y)),
        Param::Out(Data::F32(px)),
        Param::Out(Data::F32(py)),
        Param::In(Data::F32(vec![0.01, -9.81, side, side, r, 0.999])),
        i(size),
    ]
}

/// quicksort: `size` i32 values over the whole range (few duplicates).
pub fn quicksort(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    vec![
        Param::Out(Data::I32(
            (0..size).map(|_| rng.next_u32() as i32).collect(),
        )),
        i(size),
    ]
}

/// primes: n = size, sieve of n + 1 bytes (filled with noise the kernel must clear).
pub fn primes(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    vec![
        Param::Out(Data::U8((0..=size).map(|_| rng.below(2) as u8).collect())),
        i(size),
    ]
}

/// fibonacci: n = size.
pub fn fibonacci(size: usize, _seed: u64) -> Vec<Param> {
    vec![i(size)]
}

/// strops: `size` bytes of lower-case words (some capitalized), a pattern of 1 to 3
/// bytes taken from the text (or "the" when the text is shorter).
pub fn strops(size: usize, seed: u64) -> Vec<Param> {
    let mut rng = mixed(seed);
    const W: [&str; 10] = [
        "the", "quick", "Brown", "fox", "jumps", "over", "lazy", "dog", "then", "other",
    ];
    let mut text = Vec::with_capacity(size + 8);
    while text.len() < size {
        text.extend_from_slice(rng.pick(&W).as_bytes());
        text.push(if rng.below(8) == 0 { b'\n' } else { b' ' });
    }
    text.truncate(size);
    let m = 1 + rng.below(3) as usize;
    let pattern: Vec<u8> = if size > m {
        let at = rng.below((size - m) as u32) as usize;
        text[at..at + m].to_vec()
    } else {
        b"the".to_vec()
    };
    let m = pattern.len();
    vec![
        Param::In(Data::U8(text)),
        Param::In(Data::U8(pattern)),
        Param::Out(Data::U8(vec![0; size])),
        i(size),
        i(m),
    ]
}

fn case(
    kernel: &'static Kernel,
    what: &'static str,
    size: usize,
    seed: u64,
    expected: TrapKind,
    edit: impl FnOnce(&mut Vec<Param>),
) -> TrapCase {
    let mut params = (kernel.inputs)(size, seed);
    edit(&mut params);
    TrapCase {
        what,
        workload: Workload::from_params(kernel, size, seed, params),
        expected,
    }
}

/// The trap cases of `kernel` (deterministic for a seed).
pub fn trap_cases(kernel: &'static Kernel, seed: u64) -> Vec<TrapCase> {
    use TrapKind::{BadStep, CallDepth, DivisionByZero, OutOfBounds};
    let s = 3 + (seed % 6) as usize; // 3..=8, with odd sizes
    let mut v = Vec::new();
    let set = |idx: usize, val: Param| move |p: &mut Vec<Param>| p[idx] = val;
    match kernel.name {
        "matmul" => {
            v.push(case(
                kernel,
                "m one past the buffers",
                s,
                seed,
                OutOfBounds,
                set(3, i(s + 1)),
            ));
            v.push(case(
                kernel,
                "k one past the buffers",
                s,
                seed,
                OutOfBounds,
                set(5, i(s + 1)),
            ));
            v.push(case(
                kernel,
                "n so large that b[p * n + j] is past the end",
                s,
                seed,
                OutOfBounds,
                set(4, Param::I32(i32::MAX / 2)),
            ));
        }
        "gemm_tile" => {
            v.push(case(kernel, "tile 0", s, seed, BadStep, set(6, i(0))));
            v.push(case(
                kernel,
                "negative tile",
                s,
                seed,
                BadStep,
                set(6, Param::I32(-4)),
            ));
            v.push(case(
                kernel,
                "n one past the buffers",
                s,
                seed,
                OutOfBounds,
                set(4, i(s + 1)),
            ));
        }
        "matvec" | "matvec_ffn" => {
            v.push(case(
                kernel,
                "rows one past y",
                s,
                seed,
                OutOfBounds,
                set(3, i(s + 1)),
            ));
            v.push(case(kernel, "cols one past x", s, seed, OutOfBounds, |p| {
                if let Param::I32(cols) = p[4] {
                    p[4] = Param::I32(cols + 1);
                }
            }));
        }
        "attention" => {
            v.push(case(
                kernel,
                "seq one past the buffers",
                s,
                seed,
                OutOfBounds,
                set(5, i(s + 1)),
            ));
            v.push(case(
                kernel,
                "scores too short",
                s,
                seed,
                OutOfBounds,
                set(4, Param::Out(zeros(s - 1))),
            ));
        }
        "rmsnorm" => v.push(case(
            kernel,
            "n one past the buffers",
            s,
            seed,
            OutOfBounds,
            set(3, i(s + 1)),
        )),
        "softmax" | "silu" => v.push(case(
            kernel,
            "n one past the buffer",
            s,
            seed,
            OutOfBounds,
            set(1, i(s + 1)),
        )),
        "swiglu" => v.push(case(
            kernel,
            "n one past the buffers",
            s,
            seed,
            OutOfBounds,
            set(2, i(s + 1)),
        )),
        "rope" => {
            v.push(case(
                kernel,
                "head_dim 0",
                8,
                seed,
                DivisionByZero,
                set(3, i(0)),
            ));
            v.push(case(
                kernel,
                "odd dim reads past the end",
                7,
                seed,
                OutOfBounds,
                |p| {
                    p[0] = Param::Out(zeros(7));
                    p[2] = i(7);
                },
            ));
        }
        "fft" => v.push(case(
            kernel,
            "n = 2 x the buffers",
            8,
            seed,
            OutOfBounds,
            set(2, i(16)),
        )),
        "sha256" => {
            v.push(case(
                kernel,
                "len one past the data",
                70 + s,
                seed,
                OutOfBounds,
                set(1, i(71 + s)),
            ));
            v.push(case(
                kernel,
                "digest too short",
                10 + s,
                seed,
                OutOfBounds,
                set(2, Param::Out(Data::U8(vec![0; 31]))),
            ));
            v.push(case(
                kernel,
                "negative len",
                s,
                seed,
                OutOfBounds,
                set(1, Param::I32(-1)),
            ));
        }
        "regex_dfa" => {
            v.push(case(
                kernel,
                "n one past the text",
                200 + s,
                seed,
                OutOfBounds,
                set(1, i(201 + s)),
            ));
            v.push(case(
                kernel,
                "start state past the table",
                200 + s,
                seed,
                OutOfBounds,
                set(6, i(1000)),
            ));
        }
        "physics_step" => {
            v.push(case(
                kernel,
                "n one past the buffers",
                s,
                seed,
                OutOfBounds,
                set(5, i(s + 1)),
            ));
            v.push(case(
                kernel,
                "params too short",
                s,
                seed,
                OutOfBounds,
                set(4, Param::In(Data::F32(vec![0.01, -9.81, 10.0, 10.0, 1.0]))),
            ));
        }
        "quicksort" => {
            v.push(case(
                kernel,
                "n one past the buffer",
                s,
                seed,
                OutOfBounds,
                set(1, i(s + 1)),
            ));
            v.push(case(
                kernel,
                "sorted input recurses n deep",
                1000,
                seed,
                CallDepth,
                set(0, Param::Out(Data::I32((0..1000).collect()))),
            ));
        }
        "primes" => v.push(case(
            kernel,
            "sieve one byte short",
            100 + s,
            seed,
            OutOfBounds,
            |p| {
                p[0] = Param::Out(Data::U8(vec![0; 100 + s]));
            },
        )),
        "fibonacci" => v.push(case(
            kernel,
            "recursion deeper than the limit",
            0,
            seed,
            CallDepth,
            set(0, i(100_000)),
        )),
        "strops" => {
            v.push(case(
                kernel,
                "n one past the buffers",
                20 + s,
                seed,
                OutOfBounds,
                set(3, i(21 + s)),
            ));
            v.push(case(
                kernel,
                "out too short",
                20 + s,
                seed,
                OutOfBounds,
                set(2, Param::Out(Data::U8(vec![0; 19 + s]))),
            ));
        }
        _ => {}
    }
    // One buffer a single element short: the trap comes at the very last access, after
    // (possibly vectorized, bounds-hoisted) loops have written everything before it.
    let short: &[(usize, &'static str)] = match kernel.name {
        "matmul" => &[(1, "b one element short")],
        "gemm_tile" => &[(2, "c one element short")],
        "matvec" | "matvec_ffn" => &[(0, "w one element short")],
        "attention" => &[(2, "v one element short")],
        "rmsnorm" => &[(1, "w one element short")],
        "swiglu" => &[(1, "up one element short")],
        "fft" => &[(1, "im one element short")],
        "physics_step" => &[(3, "py one element short")],
        "sha256" => &[(4, "schedule w one word short")],
        _ => &[],
    };
    let short_size = if kernel.name == "fft" { 8 } else { s };
    for &(idx, what) in short {
        v.push(case(kernel, what, short_size, seed, OutOfBounds, |p| {
            if let Some(Param::In(d) | Param::Out(d)) = p.get_mut(idx) {
                shorten(d);
            }
        }));
    }
    v
}

fn shorten(d: &mut Data) {
    match d {
        Data::U8(v) => v.truncate(v.len().saturating_sub(1)),
        Data::I32(v) => v.truncate(v.len().saturating_sub(1)),
        Data::I64(v) => v.truncate(v.len().saturating_sub(1)),
        Data::F32(v) => v.truncate(v.len().saturating_sub(1)),
        Data::F64(v) => v.truncate(v.len().saturating_sub(1)),
    }
}
