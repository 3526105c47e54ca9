//! Smoke test: a matrix product and a recursive Fibonacci parsed from source give the
//! known results at every tier, and an out-of-range size traps `OutOfBounds`.

mod common;
use common::*;
use jit::{Arg, Tier, TrapKind};

const MATMUL: &str = r#"
//! Dense matrix product.

/// C = A x B
fn matmul(a: &[f32], b: &[f32], c: &mut [f32], m: i32, n: i32, k: i32) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = 0.0;
            for p in 0..k {
                acc = fma(a[i * k + p], b[p * n + j], acc);
            }
            c[i * n + j] = acc;
        }
    }
}

fn fib(n: i32) -> i32 {
    if n < 2 { return n; }
    return fib(n - 1) + fib(n - 2);
}
"#;

#[test]
fn matmul_and_fib_at_t0() {
    let e = engine();
    let m = load(&e, MATMUL);
    let mm = e.func(m, "matmul").unwrap();
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let b = [5.0f32, 6.0, 7.0, 8.0];
    let mut c = [0.0f32; 4];
    let r = e.call_at(
        mm,
        Tier::T0,
        &mut [
            Arg::F32s(&a),
            Arg::F32s(&b),
            Arg::F32sMut(&mut c),
            Arg::I32(2),
            Arg::I32(2),
            Arg::I32(2),
        ],
    );
    assert!(r.is_ok());
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
    let fib = e.func(m, "fib").unwrap();
    assert_eq!(i32v(e.call_at(fib, Tier::T0, &mut [Arg::I32(20)])), 6765);
    // out of bounds: k too large
    let r = e.call_at(
        mm,
        Tier::T0,
        &mut [
            Arg::F32s(&a),
            Arg::F32s(&b),
            Arg::F32sMut(&mut c),
            Arg::I32(2),
            Arg::I32(2),
            Arg::I32(3),
        ],
    );
    assert_eq!(r.unwrap_err().kind, TrapKind::OutOfBounds);
}

#[test]
fn matmul_and_fib_every_tier() {
    let e = engine();
    let m = load(&e, MATMUL);
    let mm = e.func(m, "matmul").unwrap();
    let fib = e.func(m, "fib").unwrap();
    for tier in Tier::ALL {
        let a = [1.0f32, 2.0, 3.0, 4.0];
        let b = [5.0f32, 6.0, 7.0, 8.0];
        let mut c = [0.0f32; 4];
        let r = e.call_at(
            mm,
            tier,
            &mut [
                Arg::F32s(&a),
                Arg::F32s(&b),
                Arg::F32sMut(&mut c),
                Arg::I32(2),
                Arg::I32(2),
                Arg::I32(2),
            ],
        );
        assert!(r.is_ok(), "{tier}: {r:?}");
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0], "{tier}");
        assert_eq!(
            i32v(e.call_at(fib, tier, &mut [Arg::I32(20)])),
            6765,
            "{tier}"
        );
        let r = e.call_at(
            mm,
            tier,
            &mut [
                Arg::F32s(&a),
                Arg::F32s(&b),
                Arg::F32sMut(&mut c),
                Arg::I32(2),
                Arg::I32(2),
                Arg::I32(3),
            ],
        );
        assert_eq!(r.unwrap_err().kind, TrapKind::OutOfBounds, "{tier}");
    }
}
