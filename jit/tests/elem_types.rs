//! The narrow buffer element types (`i8`, and `u8` next to it): known answers at the
//! extremes, and every compiled tier against T0 on random inputs, including calls that
//! trap part-way (the same trap, and the buffers written up to the same element).

mod common;
use common::*;
use jit::{Arg, CpuFeatures, Engine, Tier, Trap, Value};

const I8_PROGRAMS: &str = r#"
/// the Q8 group dot: i8 x i8 accumulated in i32
fn q8dot(w: &[i8], x: &[i8], n: i32) -> i32 {
    let acc = 0;
    for i in 0..n { acc += w[i] * x[i]; }
    return acc;
}

/// stores truncate (wrapping), loads sign-extend
fn narrow(src: &[i32], dst: &mut [i8], back: &mut [i32], n: i32) {
    for i in 0..n {
        dst[i] = src[i];
        back[i] = dst[i];
    }
}

/// matvec_q8's shape: per group an i32 dot, then scaled into an f32 sum
fn q8_rows(w: &[i8], ws: &[f32], x: &[i8], xs: &[f32], y: &mut [f32], rows: i32, cols: i32, gs: i32) {
    for r in 0..rows {
        let sum: f32 = 0.0;
        for g in 0..cols / gs {
            let dot = 0;
            for k in 0..gs {
                let c = g * gs + k;
                dot += w[r * cols + c] * x[c];
            }
            sum += dot as f32 * ws[(r * cols) / gs + g] * xs[g];
        }
        y[r] = sum;
    }
}

/// i8 and u8 views of the same bytes, and an i8 table
const SIGNS: [i8; 4] = [-128, -1, 0, 127];
fn mixed(a: &[i8], b: &mut [u8], n: i32) -> i64 {
    let s = 0i64;
    for i in 0..n {
        b[i] = a[i] + SIGNS[i & 3];
        s += (a[i] as i64) * 1000 + b[i] as i64;
    }
    return s;
}
"#;

/// Owned argument values, so that each tier gets a fresh copy.
#[derive(Clone, Debug)]
enum A {
    I32(i32),
    I32s(Vec<i32>),
    I32m(Vec<i32>),
    F32s(Vec<f32>),
    F32m(Vec<f32>),
    I8s(Vec<i8>),
    I8m(Vec<i8>),
    U8m(Vec<u8>),
}

type Outcome = (Result<Value, Trap>, Vec<A>);

fn run(e: &Engine, f: jit::FuncId, t: Tier, args: &[A]) -> Outcome {
    let mut owned: Vec<A> = args.to_vec();
    let r = {
        let mut xs: Vec<Arg> = owned
            .iter_mut()
            .map(|a| match a {
                A::I32(v) => Arg::I32(*v),
                A::I32s(v) => Arg::I32s(v),
                A::I32m(v) => Arg::I32sMut(v),
                A::F32s(v) => Arg::F32s(v),
                A::F32m(v) => Arg::F32sMut(v),
                A::I8s(v) => Arg::I8s(v),
                A::I8m(v) => Arg::I8sMut(v),
                A::U8m(v) => Arg::U8sMut(v),
            })
            .collect();
        e.call_at(f, t, &mut xs)
    };
    (r, owned)
}

/// Bit-exact comparison of two outcomes (results, traps and every buffer).
fn same(name: &str, t0: &Outcome, tn: &Outcome) -> Result<(), String> {
    match (&t0.0, &tn.0) {
        (Ok(a), Ok(b)) if a.bits_eq(b) => {}
        (Err(a), Err(b)) if a.kind == b.kind => {}
        (a, b) => return Err(format!("{name}: {a:?} vs {b:?}")),
    }
    for (x, y) in t0.1.iter().zip(&tn.1) {
        let ok = match (x, y) {
            (A::I32m(p), A::I32m(q)) => p == q,
            (A::I8m(p), A::I8m(q)) => p == q,
            (A::U8m(p), A::U8m(q)) => p == q,
            (A::F32m(p), A::F32m(q)) => p.iter().zip(q).all(|(u, v)| u.to_bits() == v.to_bits()),
            _ => true,
        };
        if !ok {
            return Err(format!("{name}: buffer differs: {x:?} vs {y:?}"));
        }
    }
    Ok(())
}

/// Random i8 values with the extremes over-represented.
fn vi8(r: &mut Rng, n: i32) -> Vec<i8> {
    (0..n.max(0))
        .map(|_| match r.int(0, 7) {
            0 => -128,
            1 => 127,
            _ => r.int(-128, 127) as i8,
        })
        .collect()
}

fn make_i8_args(name: &str, r: &mut Rng) -> Vec<A> {
    let n = r.int(0, 41);
    // sometimes ask for more elements than the buffers hold: the kernel traps part-way
    let over = if r.int(0, 4) == 0 { r.int(1, 5) } else { 0 };
    let k = n + over;
    match name {
        "q8dot" => {
            let extra = r.int(0, 3);
            vec![A::I8s(vi8(r, n)), A::I8s(vi8(r, n + extra)), A::I32(k)]
        }
        "narrow" => {
            let src = (0..n)
                .map(|_| match r.int(0, 5) {
                    0 => r.next() as i32,
                    1 => [-129, 128, 255, 256, -256, i32::MIN, i32::MAX][r.int(0, 6) as usize],
                    _ => r.int(-300, 300),
                })
                .collect();
            vec![
                A::I32s(src),
                A::I8m(vec![0; n as usize]),
                A::I32m(vec![0; n as usize]),
                A::I32(k),
            ]
        }
        "q8_rows" => {
            let gs = [1, 2, 4, 8, 16, 32][r.int(0, 5) as usize];
            let (rows, groups) = (r.int(0, 5), r.int(0, 4));
            let cols = gs * groups;
            vec![
                A::I8s(vi8(r, rows * cols)),
                A::F32s(r.vf32(rows * groups)),
                A::I8s(vi8(r, cols - over.min(cols))),
                A::F32s(r.vf32(groups)),
                A::F32m(vec![0.0; rows as usize]),
                A::I32(rows),
                A::I32(cols),
                A::I32(gs),
            ]
        }
        "mixed" => vec![A::I8s(vi8(r, n)), A::U8m(vec![0; n as usize]), A::I32(k)],
        _ => unreachable!("{name}"),
    }
}

fn differential(src: &str, names: &[&str], features: CpuFeatures, seed: u64, rounds: usize) {
    let e = engine_with(features);
    let m = load(&e, src);
    let mut rng = Rng(seed);
    let mut traps = 0;
    for &name in names {
        let f = e.func(m, name).unwrap();
        for round in 0..rounds {
            let args = make_i8_args(name, &mut rng);
            let t0 = run(&e, f, Tier::T0, &args);
            if t0.0.is_err() {
                traps += 1;
            }
            for t in [Tier::T1, Tier::T2, Tier::T3] {
                let tn = run(&e, f, t, &args);
                if let Err(msg) = same(name, &t0, &tn) {
                    panic!("{t} round {round}: {msg}\nargs: {args:?}");
                }
            }
        }
    }
    assert!(traps > rounds / 4, "trap cases exercised: {traps}");
}

const I8_NAMES: [&str; 4] = ["q8dot", "narrow", "q8_rows", "mixed"];

#[test]
fn i8_tiers_match_t0_host_features() {
    differential(
        I8_PROGRAMS,
        &I8_NAMES,
        CpuFeatures::detect_host(),
        0x5DEE_CE66_D1CE_4E5B,
        80,
    );
}

#[test]
fn i8_tiers_match_t0_baseline_features() {
    differential(
        I8_PROGRAMS,
        &I8_NAMES,
        CpuFeatures::baseline(),
        0x2545_F491_4F6C_DD1D,
        40,
    );
}

#[test]
fn i8_loads_sign_extend_and_stores_wrap_at_every_tier() {
    let e = engine();
    let f = func(&e, I8_PROGRAMS, "narrow");
    let src = [-128, 127, 128, 255, -129, 0x1ff, i32::MIN, -1];
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        let mut dst = [0i8; 8];
        let mut back = [0i32; 8];
        let r = e.call_at(
            f,
            t,
            &mut [
                Arg::I32s(&src),
                Arg::I8sMut(&mut dst),
                Arg::I32sMut(&mut back),
                Arg::I32(8),
            ],
        );
        assert!(r.is_ok(), "{t}: {r:?}");
        assert_eq!(dst, [-128, 127, -128, -1, 127, -1, 0, -1], "{t}");
        assert_eq!(back, [-128, 127, -128, -1, 127, -1, 0, -1], "{t}");
    }
    let dot = func(&e, I8_PROGRAMS, "q8dot");
    let w = [-128i8; 33];
    for t in [Tier::T0, Tier::T1, Tier::T2, Tier::T3] {
        let r = e.call_at(dot, t, &mut [Arg::I8s(&w), Arg::I8s(&w), Arg::I32(33)]);
        assert_eq!(i32v(r), 33 * 16384, "{t}");
    }
}

#[test]
fn i8_buffers_type_check() {
    let e = engine();
    let f = func(&e, I8_PROGRAMS, "q8dot");
    // an u8 buffer is not an i8 buffer
    let u = [1u8; 4];
    let i = [1i8; 4];
    let r = e.call_at(f, Tier::T0, &mut [Arg::U8s(&u), Arg::I8s(&i), Arg::I32(4)]);
    assert!(r.is_err(), "{r:?}");
    let bad = [
        ("fn f(x: i8) {}", "`i8` is only a buffer element type"),
        (
            "const T: [i8; 1] = [128];",
            "i8 element out of range -128..=127",
        ),
        (
            "fn f(b: &mut [i8]) { b[0] = 1.0; }",
            "expected i32, found float literal",
        ),
    ];
    for (src, want) in bad {
        let msg = match jit::parse_module("bad.bfir", src) {
            Ok(m) => match e.load(m) {
                Ok(_) => panic!("accepted: {src}"),
                Err(d) => d.to_string(),
            },
            Err(d) => d.to_string(),
        };
        assert!(msg.contains(want), "{src}: {msg}");
    }
}
