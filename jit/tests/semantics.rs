//! Semantics of every operator, cast and intrinsic on edge values: the interpreter (T0)
//! against a Rust reference, and every compiled tier against the same reference.

mod common;
use common::*;
use jit::{Arg, CpuFeatures, Engine, Tier, TrapKind, Value};

type Ref = fn(Value, Value) -> Result<Value, TrapKind>;

const I32S: &[i32] = &[
    0,
    1,
    -1,
    2,
    -2,
    7,
    -7,
    31,
    32,
    33,
    63,
    64,
    i32::MAX,
    i32::MIN,
    i32::MIN + 1,
    0x5555_5555,
    123_456_789,
    -98_765,
];
const I64S: &[i64] = &[
    0,
    1,
    -1,
    2,
    -3,
    63,
    64,
    65,
    i64::MAX,
    i64::MIN,
    i64::MIN + 1,
    1 << 40,
    -(1 << 33) + 5,
    0x5555_5555_5555_5555,
];
const F32S: &[f32] = &[
    0.0,
    -0.0,
    1.0,
    -1.5,
    2.5,
    0.5,
    3.0,
    -3.5,
    1e-40,
    f32::MAX,
    f32::MIN_POSITIVE,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    1e10,
    -7.25,
    3e9,
    -3e9,
    2147483520.0,
    0.1,
];
const F64S: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.5,
    2.5,
    0.5,
    3.0,
    -3.5,
    1e-310,
    f64::MAX,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    1e19,
    -1e19,
    9.3e18,
    0.1,
    -2.5,
];

fn vals(t: &str) -> Vec<Value> {
    match t {
        "i32" => I32S.iter().map(|&v| Value::I32(v)).collect(),
        "i64" => I64S.iter().map(|&v| Value::I64(v)).collect(),
        "f32" => F32S.iter().map(|&v| Value::F32(v)).collect(),
        "f64" => F64S.iter().map(|&v| Value::F64(v)).collect(),
        "bool" => vec![Value::Bool(false), Value::Bool(true)],
        _ => unreachable!(),
    }
}

fn arg(v: Value) -> Arg<'static> {
    match v {
        Value::I32(x) => Arg::I32(x),
        Value::I64(x) => Arg::I64(x),
        Value::F32(x) => Arg::F32(x),
        Value::F64(x) => Arg::F64(x),
        Value::Bool(x) => Arg::Bool(x),
        Value::Unit => unreachable!(),
    }
}

macro_rules! v {
    (i32, $x:expr) => {
        Value::I32($x)
    };
    (i64, $x:expr) => {
        Value::I64($x)
    };
    (f32, $x:expr) => {
        Value::F32($x)
    };
    (f64, $x:expr) => {
        Value::F64($x)
    };
    (bool, $x:expr) => {
        Value::Bool($x)
    };
}
macro_rules! get {
    (i32, $v:expr) => {
        match $v {
            Value::I32(x) => x,
            _ => unreachable!(),
        }
    };
    (i64, $v:expr) => {
        match $v {
            Value::I64(x) => x,
            _ => unreachable!(),
        }
    };
    (f32, $v:expr) => {
        match $v {
            Value::F32(x) => x,
            _ => unreachable!(),
        }
    };
    (f64, $v:expr) => {
        match $v {
            Value::F64(x) => x,
            _ => unreachable!(),
        }
    };
    (bool, $v:expr) => {
        match $v {
            Value::Bool(x) => x,
            _ => unreachable!(),
        }
    };
}

/// (function name, parameter type, second parameter type or "" for unary, result type,
/// IR expression over `a` and `b`, reference)
struct Case {
    name: &'static str,
    ta: &'static str,
    tb: &'static str,
    tr: &'static str,
    expr: &'static str,
    reference: Ref,
}

macro_rules! bin {
    ($name:literal, $t:ident, $r:ident, $e:literal, |$a:ident, $b:ident| $body:expr) => {
        Case {
            name: $name,
            ta: stringify!($t),
            tb: stringify!($t),
            tr: stringify!($r),
            expr: $e,
            reference: |x, y| {
                let $a = get!($t, x);
                let $b = get!($t, y);
                #[allow(unused_braces)]
                let r = $body;
                r.map(|r| v!($r, r))
            },
        }
    };
}
macro_rules! un {
    ($name:literal, $t:ident, $r:ident, $e:literal, |$a:ident| $body:expr) => {
        Case {
            name: $name,
            ta: stringify!($t),
            tb: "",
            tr: stringify!($r),
            expr: $e,
            reference: |x, _| {
                let $a = get!($t, x);
                let r = $body;
                r.map(|r| v!($r, r))
            },
        }
    };
}

fn ok<T>(x: T) -> Result<T, TrapKind> {
    Ok(x)
}
fn minf32(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else {
        a.min(b)
    }
}
fn maxf32(a: f32, b: f32) -> f32 {
    if a.is_nan() || b.is_nan() {
        f32::NAN
    } else if a == b {
        if a.is_sign_positive() { a } else { b }
    } else {
        a.max(b)
    }
}
fn minf64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_negative() { a } else { b }
    } else {
        a.min(b)
    }
}
fn maxf64(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b {
        if a.is_sign_positive() { a } else { b }
    } else {
        a.max(b)
    }
}
fn div0<T>() -> Result<T, TrapKind> {
    Err(TrapKind::DivisionByZero)
}

fn cases() -> Vec<Case> {
    vec![
        // i32
        bin!("i32_add", i32, i32, "a + b", |a, b| ok(a.wrapping_add(b))),
        bin!("i32_sub", i32, i32, "a - b", |a, b| ok(a.wrapping_sub(b))),
        bin!("i32_mul", i32, i32, "a * b", |a, b| ok(a.wrapping_mul(b))),
        bin!("i32_div", i32, i32, "a / b", |a, b| if b == 0 {
            div0()
        } else {
            ok(a.wrapping_div(b))
        }),
        bin!("i32_rem", i32, i32, "a % b", |a, b| if b == 0 {
            div0()
        } else {
            ok(a.wrapping_rem(b))
        }),
        bin!("i32_and", i32, i32, "a & b", |a, b| ok(a & b)),
        bin!("i32_or", i32, i32, "a | b", |a, b| ok(a | b)),
        bin!("i32_xor", i32, i32, "a ^ b", |a, b| ok(a ^ b)),
        bin!("i32_shl", i32, i32, "a << b", |a, b| ok(
            a.wrapping_shl(b as u32)
        )),
        bin!("i32_shr", i32, i32, "a >> b", |a, b| ok(
            a.wrapping_shr(b as u32)
        )),
        bin!("i32_ushr", i32, i32, "a >>> b", |a, b| ok(
            (a as u32).wrapping_shr(b as u32) as i32
        )),
        bin!("i32_eq", i32, bool, "a == b", |a, b| ok(a == b)),
        bin!("i32_ne", i32, bool, "a != b", |a, b| ok(a != b)),
        bin!("i32_lt", i32, bool, "a < b", |a, b| ok(a < b)),
        bin!("i32_le", i32, bool, "a <= b", |a, b| ok(a <= b)),
        bin!("i32_gt", i32, bool, "a > b", |a, b| ok(a > b)),
        bin!("i32_ge", i32, bool, "a >= b", |a, b| ok(a >= b)),
        bin!("i32_min", i32, i32, "min(a, b)", |a, b| ok(a.min(b))),
        bin!("i32_max", i32, i32, "max(a, b)", |a, b| ok(a.max(b))),
        bin!("i32_rotl", i32, i32, "rotl(a, b)", |a, b| ok(
            a.rotate_left(b as u32 & 31)
        )),
        bin!("i32_rotr", i32, i32, "rotr(a, b)", |a, b| ok(
            a.rotate_right(b as u32 & 31)
        )),
        bin!("i32_udiv", i32, i32, "udiv(a, b)", |a, b| if b == 0 {
            div0()
        } else {
            ok(((a as u32) / (b as u32)) as i32)
        }),
        bin!("i32_urem", i32, i32, "urem(a, b)", |a, b| if b == 0 {
            div0()
        } else {
            ok(((a as u32) % (b as u32)) as i32)
        }),
        bin!("i32_ult", i32, bool, "ult(a, b)", |a, b| ok(
            (a as u32) < (b as u32)
        )),
        bin!("i32_ule", i32, bool, "ule(a, b)", |a, b| ok(
            (a as u32) <= (b as u32)
        )),
        bin!("i32_ugt", i32, bool, "ugt(a, b)", |a, b| ok(
            (a as u32) > (b as u32)
        )),
        bin!("i32_uge", i32, bool, "uge(a, b)", |a, b| ok(
            (a as u32) >= (b as u32)
        )),
        bin!(
            "i32_sel",
            i32,
            i32,
            "select(a < b, a * 3, b - 1)",
            |a, b| ok(if a < b {
                a.wrapping_mul(3)
            } else {
                b.wrapping_sub(1)
            })
        ),
        un!("i32_neg", i32, i32, "-a", |a| ok(a.wrapping_neg())),
        un!("i32_not", i32, i32, "!a", |a| ok(!a)),
        un!("i32_abs", i32, i32, "abs(a)", |a| ok(a.wrapping_abs())),
        un!("i32_popcnt", i32, i32, "popcnt(a)", |a| ok(
            a.count_ones() as i32
        )),
        un!("i32_clz", i32, i32, "clz(a)", |a| ok(
            a.leading_zeros() as i32
        )),
        un!("i32_ctz", i32, i32, "ctz(a)", |a| ok(
            a.trailing_zeros() as i32
        )),
        un!("i32_to_i64", i32, i64, "a as i64", |a| ok(a as i64)),
        un!("i32_to_f32", i32, f32, "a as f32", |a| ok(a as f32)),
        un!("i32_to_f64", i32, f64, "a as f64", |a| ok(a as f64)),
        un!(
            "i32_lit",
            i32,
            i32,
            "a + 0x7fffffff - 0b101 + -2147483648",
            |a| ok(a
                .wrapping_add(0x7fff_ffff)
                .wrapping_sub(5)
                .wrapping_add(i32::MIN))
        ),
        // i64
        bin!("i64_add", i64, i64, "a + b", |a, b| ok(a.wrapping_add(b))),
        bin!("i64_sub", i64, i64, "a - b", |a, b| ok(a.wrapping_sub(b))),
        bin!("i64_mul", i64, i64, "a * b", |a, b| ok(a.wrapping_mul(b))),
        bin!("i64_div", i64, i64, "a / b", |a, b| if b == 0 {
            div0()
        } else {
            ok(a.wrapping_div(b))
        }),
        bin!("i64_rem", i64, i64, "a % b", |a, b| if b == 0 {
            div0()
        } else {
            ok(a.wrapping_rem(b))
        }),
        bin!("i64_and", i64, i64, "a & b", |a, b| ok(a & b)),
        bin!("i64_or", i64, i64, "a | b", |a, b| ok(a | b)),
        bin!("i64_xor", i64, i64, "a ^ b", |a, b| ok(a ^ b)),
        bin!("i64_shl", i64, i64, "a << b", |a, b| ok(
            a.wrapping_shl(b as u32)
        )),
        bin!("i64_shr", i64, i64, "a >> b", |a, b| ok(
            a.wrapping_shr(b as u32)
        )),
        bin!("i64_ushr", i64, i64, "a >>> b", |a, b| ok(
            (a as u64).wrapping_shr(b as u32) as i64
        )),
        bin!("i64_lt", i64, bool, "a < b", |a, b| ok(a < b)),
        bin!("i64_ge", i64, bool, "a >= b", |a, b| ok(a >= b)),
        bin!("i64_eq", i64, bool, "a == b", |a, b| ok(a == b)),
        bin!("i64_min", i64, i64, "min(a, b)", |a, b| ok(a.min(b))),
        bin!("i64_max", i64, i64, "max(a, b)", |a, b| ok(a.max(b))),
        bin!("i64_rotl", i64, i64, "rotl(a, b)", |a, b| ok(
            a.rotate_left(b as u32 & 63)
        )),
        bin!("i64_rotr", i64, i64, "rotr(a, b)", |a, b| ok(
            a.rotate_right(b as u32 & 63)
        )),
        bin!("i64_udiv", i64, i64, "udiv(a, b)", |a, b| if b == 0 {
            div0()
        } else {
            ok(((a as u64) / (b as u64)) as i64)
        }),
        bin!("i64_urem", i64, i64, "urem(a, b)", |a, b| if b == 0 {
            div0()
        } else {
            ok(((a as u64) % (b as u64)) as i64)
        }),
        bin!("i64_ult", i64, bool, "ult(a, b)", |a, b| ok(
            (a as u64) < (b as u64)
        )),
        bin!("i64_uge", i64, bool, "uge(a, b)", |a, b| ok(
            (a as u64) >= (b as u64)
        )),
        un!("i64_neg", i64, i64, "-a", |a| ok(a.wrapping_neg())),
        un!("i64_not", i64, i64, "!a", |a| ok(!a)),
        un!("i64_abs", i64, i64, "abs(a)", |a| ok(a.wrapping_abs())),
        un!("i64_popcnt", i64, i64, "popcnt(a)", |a| ok(
            a.count_ones() as i64
        )),
        un!("i64_clz", i64, i64, "clz(a)", |a| ok(
            a.leading_zeros() as i64
        )),
        un!("i64_ctz", i64, i64, "ctz(a)", |a| ok(
            a.trailing_zeros() as i64
        )),
        un!("i64_to_i32", i64, i32, "a as i32", |a| ok(a as i32)),
        un!("i64_to_f32", i64, f32, "a as f32", |a| ok(a as f32)),
        un!("i64_to_f64", i64, f64, "a as f64", |a| ok(a as f64)),
        // f32
        bin!("f32_add", f32, f32, "a + b", |a, b| ok(a + b)),
        bin!("f32_sub", f32, f32, "a - b", |a, b| ok(a - b)),
        bin!("f32_mul", f32, f32, "a * b", |a, b| ok(a * b)),
        bin!("f32_div", f32, f32, "a / b", |a, b| ok(a / b)),
        bin!("f32_rem", f32, f32, "a % b", |a, b| ok(libm::fmodf(a, b))),
        bin!("f32_eq", f32, bool, "a == b", |a, b| ok(a == b)),
        bin!("f32_ne", f32, bool, "a != b", |a, b| ok(a != b)),
        bin!("f32_lt", f32, bool, "a < b", |a, b| ok(a < b)),
        bin!("f32_le", f32, bool, "a <= b", |a, b| ok(a <= b)),
        bin!("f32_gt", f32, bool, "a > b", |a, b| ok(a > b)),
        bin!("f32_ge", f32, bool, "a >= b", |a, b| ok(a >= b)),
        bin!("f32_min", f32, f32, "min(a, b)", |a, b| ok(minf32(a, b))),
        bin!("f32_max", f32, f32, "max(a, b)", |a, b| ok(maxf32(a, b))),
        bin!("f32_copysign", f32, f32, "copysign(a, b)", |a, b| ok(
            a.copysign(b)
        )),
        bin!("f32_pow", f32, f32, "pow(a, b)", |a, b| ok(
            jit::mathf::powf(a, b)
        )),
        un!(
            "f32_pow_literal_base",
            f32,
            f32,
            "pow(10000.0, a) + pow(0.25, a)",
            |a| ok(jit::mathf::powf(10000.0, a) + jit::mathf::powf(0.25, a))
        ),
        bin!("f32_fma", f32, f32, "fma(a, b, a)", |a, b| ok(libm::fmaf(
            a, b, a
        ))),
        un!("f32_neg", f32, f32, "-a", |a| ok(-a)),
        un!("f32_abs", f32, f32, "abs(a)", |a| ok(a.abs())),
        un!("f32_sqrt", f32, f32, "sqrt(a)", |a| ok(a.sqrt())),
        un!("f32_floor", f32, f32, "floor(a)", |a| ok(a.floor())),
        un!("f32_ceil", f32, f32, "ceil(a)", |a| ok(a.ceil())),
        un!("f32_trunc", f32, f32, "trunc(a)", |a| ok(a.trunc())),
        un!("f32_nearest", f32, f32, "nearest(a)", |a| ok(
            a.round_ties_even()
        )),
        un!("f32_exp", f32, f32, "exp(a)", |a| ok(jit::mathf::expf(a))),
        un!("f32_ln", f32, f32, "ln(a)", |a| ok(libm::logf(a))),
        un!("f32_sin", f32, f32, "sin(a)", |a| ok(jit::mathf::sinf(a))),
        un!("f32_cos", f32, f32, "cos(a)", |a| ok(jit::mathf::cosf(a))),
        un!("f32_tanh", f32, f32, "tanh(a)", |a| ok(libm::tanhf(a))),
        un!("f32_to_i32", f32, i32, "a as i32", |a| ok(a as i32)),
        un!("f32_to_i64", f32, i64, "a as i64", |a| ok(a as i64)),
        un!("f32_to_f64", f32, f64, "a as f64", |a| ok(a as f64)),
        un!("f32_lit", f32, f32, "a * 1.5 + 2.0e-3 - 1f32", |a| ok(a
            * 1.5
            + 2.0e-3
            - 1.0)),
        // f64
        bin!("f64_add", f64, f64, "a + b", |a, b| ok(a + b)),
        bin!("f64_sub", f64, f64, "a - b", |a, b| ok(a - b)),
        bin!("f64_mul", f64, f64, "a * b", |a, b| ok(a * b)),
        bin!("f64_div", f64, f64, "a / b", |a, b| ok(a / b)),
        bin!("f64_rem", f64, f64, "a % b", |a, b| ok(libm::fmod(a, b))),
        bin!("f64_eq", f64, bool, "a == b", |a, b| ok(a == b)),
        bin!("f64_lt", f64, bool, "a < b", |a, b| ok(a < b)),
        bin!("f64_ge", f64, bool, "a >= b", |a, b| ok(a >= b)),
        bin!("f64_ne", f64, bool, "a != b", |a, b| ok(a != b)),
        bin!("f64_min", f64, f64, "min(a, b)", |a, b| ok(minf64(a, b))),
        bin!("f64_max", f64, f64, "max(a, b)", |a, b| ok(maxf64(a, b))),
        bin!("f64_copysign", f64, f64, "copysign(a, b)", |a, b| ok(
            a.copysign(b)
        )),
        bin!("f64_pow", f64, f64, "pow(a, b)", |a, b| ok(libm::pow(a, b))),
        bin!("f64_fma", f64, f64, "fma(a, b, b)", |a, b| ok(libm::fma(
            a, b, b
        ))),
        un!("f64_neg", f64, f64, "-a", |a| ok(-a)),
        un!("f64_abs", f64, f64, "abs(a)", |a| ok(a.abs())),
        un!("f64_sqrt", f64, f64, "sqrt(a)", |a| ok(a.sqrt())),
        un!("f64_floor", f64, f64, "floor(a)", |a| ok(a.floor())),
        un!("f64_ceil", f64, f64, "ceil(a)", |a| ok(a.ceil())),
        un!("f64_trunc", f64, f64, "trunc(a)", |a| ok(a.trunc())),
        un!("f64_nearest", f64, f64, "nearest(a)", |a| ok(
            a.round_ties_even()
        )),
        un!("f64_exp", f64, f64, "exp(a)", |a| ok(libm::exp(a))),
        un!("f64_ln", f64, f64, "ln(a)", |a| ok(libm::log(a))),
        un!("f64_sin", f64, f64, "sin(a)", |a| ok(libm::sin(a))),
        un!("f64_cos", f64, f64, "cos(a)", |a| ok(libm::cos(a))),
        un!("f64_tanh", f64, f64, "tanh(a)", |a| ok(libm::tanh(a))),
        un!("f64_to_i32", f64, i32, "a as i32", |a| ok(a as i32)),
        un!("f64_to_i64", f64, i64, "a as i64", |a| ok(a as i64)),
        un!("f64_to_f32", f64, f32, "a as f32", |a| ok(a as f32)),
        // bool
        bin!("bool_and", bool, bool, "a && b", |a, b| ok(a && b)),
        bin!("bool_or", bool, bool, "a || b", |a, b| ok(a || b)),
        bin!("bool_xor", bool, bool, "a ^ b", |a, b| ok(a ^ b)),
        bin!("bool_band", bool, bool, "a & b", |a, b| ok(a & b)),
        bin!("bool_bor", bool, bool, "a | b", |a, b| ok(a | b)),
        bin!("bool_eq", bool, bool, "a == b", |a, b| ok(a == b)),
        bin!("bool_ne", bool, bool, "a != b", |a, b| ok(a != b)),
        un!("bool_not", bool, bool, "!a", |a| ok(!a)),
        un!("bool_to_i32", bool, i32, "a as i32", |a| ok(a as i32)),
        un!("bool_to_i64", bool, i64, "a as i64", |a| ok(a as i64)),
    ]
}

fn source(cs: &[Case]) -> String {
    let mut s = String::new();
    for c in cs {
        if c.tb.is_empty() {
            s += &format!(
                "fn {}(a: {}) -> {} {{ return {}; }}\n",
                c.name, c.ta, c.tr, c.expr
            );
        } else {
            s += &format!(
                "fn {}(a: {}, b: {}) -> {} {{ return {}; }}\n",
                c.name, c.ta, c.tb, c.tr, c.expr
            );
        }
    }
    s
}

fn check_all(e: &Engine, tiers: &[Tier]) -> usize {
    let cs = cases();
    let m = load(e, &source(&cs));
    let mut checked = 0;
    for c in &cs {
        let f = e.func(m, c.name).unwrap();
        let av = vals(c.ta);
        let bv = if c.tb.is_empty() {
            vec![Value::Unit]
        } else {
            vals(c.tb)
        };
        for &a in &av {
            for &b in &bv {
                let want = (c.reference)(a, b);
                for &t in tiers {
                    let mut args = if c.tb.is_empty() {
                        vec![arg(a)]
                    } else {
                        vec![arg(a), arg(b)]
                    };
                    let got = e.call_at(f, t, &mut args);
                    let same = match (&want, &got) {
                        (Ok(w), Ok(g)) => w.bits_eq(g),
                        (Err(k), Err(trap)) => *k == trap.kind && trap.tier == t,
                        _ => false,
                    };
                    assert!(
                        same,
                        "{} at {t} with a={a:?} b={b:?}: want {want:?}, got {got:?}",
                        c.name
                    );
                    checked += 1;
                }
            }
        }
    }
    checked
}

#[test]
fn interpreter_matches_reference() {
    let n = check_all(&engine(), &[Tier::T0]);
    assert!(n > 3000, "{n}");
}

#[test]
fn compiled_tiers_match_reference_host_features() {
    check_all(&engine(), &[Tier::T1, Tier::T2, Tier::T3]);
}

#[test]
fn compiled_tiers_match_reference_baseline_features() {
    // SSE2 only: floor/ceil/trunc/nearest and fma become libcalls
    check_all(
        &engine_with(CpuFeatures::baseline()),
        &[Tier::T1, Tier::T2, Tier::T3],
    );
}

#[test]
fn traps_and_depth_limit() {
    let src = r#"
fn rec(n: i32) -> i32 { if n == 0 { return 0; } return rec(n - 1) + 1; }
fn stepped(n: i32, s: i32) -> i32 { let t = 0; for i in 0..n step s { t += i; } return t; }
fn oob(a: &[i32], i: i32) -> i32 { return a[i]; }
fn oob64(a: &[i32], i: i64) -> i32 { return a[i]; }
fn slice(a: &[i32], lo: i32, hi: i32) -> i32 { return len2(a[lo..hi]); }
fn len2(a: &[i32]) -> i32 { return len(a); }
fn store_then_trap(a: &mut [i32], n: i32) { for i in 0..n { a[i] = i + 1; } }
"#;
    for feats in [CpuFeatures::detect_host(), CpuFeatures::baseline()] {
        let e = engine_with(feats);
        let m = load(&e, src);
        let f = |n| e.func(m, n).unwrap();
        for t in Tier::ALL {
            assert_eq!(
                i32v(e.call_at(f("rec"), t, &mut [Arg::I32(511)])),
                511,
                "{t}"
            );
            assert_eq!(
                e.call_at(f("rec"), t, &mut [Arg::I32(512)])
                    .unwrap_err()
                    .kind,
                TrapKind::CallDepth,
                "{t}"
            );
            assert_eq!(
                i32v(e.call_at(f("stepped"), t, &mut [Arg::I32(10), Arg::I32(3)])),
                18,
                "{t}"
            );
            assert_eq!(
                i32v(e.call_at(
                    f("stepped"),
                    t,
                    &mut [Arg::I32(i32::MAX), Arg::I32(1 << 30)]
                )),
                1 << 30,
                "{t}"
            );
            assert_eq!(
                e.call_at(f("stepped"), t, &mut [Arg::I32(10), Arg::I32(0)])
                    .unwrap_err()
                    .kind,
                TrapKind::BadStep,
                "{t}"
            );
            assert_eq!(
                e.call_at(f("stepped"), t, &mut [Arg::I32(10), Arg::I32(-1)])
                    .unwrap_err()
                    .kind,
                TrapKind::BadStep,
                "{t}"
            );
            let a = [10, 20, 30];
            for (i, want) in [
                (0, Ok(10)),
                (2, Ok(30)),
                (3, Err(TrapKind::OutOfBounds)),
                (-1, Err(TrapKind::OutOfBounds)),
                (i32::MIN, Err(TrapKind::OutOfBounds)),
            ] {
                let got = e
                    .call_at(f("oob"), t, &mut [Arg::I32s(&a), Arg::I32(i)])
                    .map(|v| get!(i32, v))
                    .map_err(|x| x.kind);
                assert_eq!(got, want, "{t} oob {i}");
                let got = e
                    .call_at(f("oob64"), t, &mut [Arg::I32s(&a), Arg::I64(i as i64)])
                    .map(|v| get!(i32, v))
                    .map_err(|x| x.kind);
                assert_eq!(got, want, "{t} oob64 {i}");
            }
            let got = e
                .call_at(f("oob64"), t, &mut [Arg::I32s(&a), Arg::I64(1 << 32)])
                .map_err(|x| x.kind);
            assert_eq!(got.unwrap_err(), TrapKind::OutOfBounds);
            for (lo, hi, want) in [
                (0, 3, Ok(3)),
                (1, 2, Ok(1)),
                (3, 3, Ok(0)),
                (2, 1, Err(TrapKind::OutOfBounds)),
                (0, 4, Err(TrapKind::OutOfBounds)),
                (-1, 2, Err(TrapKind::OutOfBounds)),
            ] {
                let got = e
                    .call_at(
                        f("slice"),
                        t,
                        &mut [Arg::I32s(&a), Arg::I32(lo), Arg::I32(hi)],
                    )
                    .map(|v| get!(i32, v))
                    .map_err(|x| x.kind);
                assert_eq!(got, want, "{t} slice {lo}..{hi}");
            }
            // stores made before the trap stay
            let mut b = [0i32; 4];
            let r = e.call_at(
                f("store_then_trap"),
                t,
                &mut [Arg::I32sMut(&mut b), Arg::I32(6)],
            );
            assert_eq!(r.unwrap_err().kind, TrapKind::OutOfBounds);
            assert_eq!(b, [1, 2, 3, 4], "{t}");
            // wrong arguments
            let r = e.call_at(f("oob"), t, &mut [Arg::I32(1)]);
            assert_eq!(r.unwrap_err().kind, TrapKind::BadArguments);
        }
    }
}

#[test]
fn comparisons_in_branches() {
    let ops = ["<", "<=", ">", ">=", "==", "!="];
    let mut src = String::new();
    for (k, op) in ops.iter().enumerate() {
        for t in ["i32", "i64"] {
            src += &format!(
                "fn if_{t}_{k}(a: {t}, b: {t}) -> i32 {{ if a {op} b {{ return 1; }} return 0; }}\n"
            );
            src += &format!(
                "fn while_{t}_{k}(a: {t}, b: {t}) -> i32 {{ let n = 0; while a {op} b {{ n += 1; if n == 3 {{ break; }} }} return n; }}\n"
            );
        }
    }
    let reference = |k: usize, a: i64, b: i64| match k {
        0 => a < b,
        1 => a <= b,
        2 => a > b,
        3 => a >= b,
        4 => a == b,
        _ => a != b,
    };
    let e = engine();
    let m = load(&e, &src);
    for (k, op) in ops.iter().enumerate() {
        for t in ["i32", "i64"] {
            let fi = e.func(m, &format!("if_{t}_{k}")).unwrap();
            let fw = e.func(m, &format!("while_{t}_{k}")).unwrap();
            let vs: Vec<i64> = if t == "i32" {
                I32S.iter().map(|&v| v as i64).collect()
            } else {
                I64S.to_vec()
            };
            for &a in &vs {
                for &b in &vs {
                    let want = reference(k, a, b);
                    for tier in Tier::ALL {
                        let mk = || {
                            if t == "i32" {
                                vec![Arg::I32(a as i32), Arg::I32(b as i32)]
                            } else {
                                vec![Arg::I64(a), Arg::I64(b)]
                            }
                        };
                        assert_eq!(
                            i32v(e.call_at(fi, tier, &mut mk())),
                            want as i32,
                            "if {a} {} {b} ({t}) at {tier}",
                            op
                        );
                        assert_eq!(
                            i32v(e.call_at(fw, tier, &mut mk())),
                            3 * want as i32,
                            "while {a} {} {b} ({t}) at {tier}",
                            op
                        );
                    }
                }
            }
        }
    }
}
