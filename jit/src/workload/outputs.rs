//! What one call produced, and the comparison of another tier's call with it.

use super::inputs::{Buffer, Inputs};
use crate::ir::TrapKind;
use crate::runtime::Value;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// For `#[reassoc]` functions: every float output `y` (a `&mut` buffer's elements, or
/// the return value) agrees with T0's `y0` within `REASSOC_TOLERANCE * max(1, max|y0|)`
/// (the maximum over that buffer), as `jit/IR.md` states for f32 reductions.
pub const REASSOC_TOLERANCE: f64 = 1e-4;

/// The result (a value or the trap's kind) and the final contents of every `&mut`
/// buffer of one call. Buffers count after a trap too: every tier keeps the stores made
/// before it.
#[derive(Clone, Debug)]
pub struct Outputs {
    /// The returned value, or the kind of the trap.
    pub result: Result<Value, TrapKind>,
    /// Every `&mut` buffer after the call, by parameter position.
    pub buffers: Vec<(usize, Buffer)>,
}

/// The first difference [`Outputs::check`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch(
    /// The difference, in words.
    pub String,
);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn float_ok(e: f64, a: f64, bound: Option<f64>) -> bool {
    if e.to_bits() == a.to_bits() || (e.is_nan() && a.is_nan()) {
        return true;
    }
    match bound {
        None => false,
        Some(_) if e.is_nan() || a.is_nan() || e.is_infinite() || a.is_infinite() => false,
        Some(b) => (e - a).abs() <= b,
    }
}

fn scale(v: impl Iterator<Item = f64>) -> f64 {
    v.filter(|x| x.is_finite())
        .map(f64::abs)
        .fold(1.0, f64::max)
}

/// The index of the first element where `a` differs from `e`, or `None`.
fn first_difference(e: &Buffer, a: &Buffer, reassoc: bool) -> Option<usize> {
    fn floats<T: Copy>(e: &[T], a: &[T], reassoc: bool, f: impl Fn(T) -> f64) -> Option<usize> {
        let bound = reassoc.then(|| REASSOC_TOLERANCE * scale(e.iter().map(|v| f(*v))));
        e.iter()
            .zip(a)
            .position(|(x, y)| !float_ok(f(*x), f(*y), bound))
    }
    fn ints<T: PartialEq>(e: &[T], a: &[T]) -> Option<usize> {
        e.iter().zip(a).position(|(x, y)| x != y)
    }
    if e.len() != a.len() {
        return Some(e.len().min(a.len()));
    }
    match (e, a) {
        (Buffer::U8(x), Buffer::U8(y)) => ints(x, y),
        (Buffer::I8(x), Buffer::I8(y)) => ints(x, y),
        (Buffer::F16(x), Buffer::F16(y)) => {
            floats(x, y, reassoc, |h| f64::from(crate::half::f16_to_f32(h)))
        }
        (Buffer::I32(x), Buffer::I32(y)) => ints(x, y),
        (Buffer::I64(x), Buffer::I64(y)) => ints(x, y),
        (Buffer::F32(x), Buffer::F32(y)) => floats(x, y, reassoc, f64::from),
        (Buffer::F64(x), Buffer::F64(y)) => floats(x, y, reassoc, |v| v),
        _ => Some(0),
    }
}

fn element(b: &Buffer, i: usize) -> String {
    match b {
        Buffer::U8(v) => v.get(i).map(|x| alloc::format!("{x}")),
        Buffer::I8(v) => v.get(i).map(|x| alloc::format!("{x}")),
        Buffer::F16(v) => v
            .get(i)
            .map(|x| alloc::format!("{:?}", crate::half::f16_to_f32(*x))),
        Buffer::I32(v) => v.get(i).map(|x| alloc::format!("{x}")),
        Buffer::I64(v) => v.get(i).map(|x| alloc::format!("{x}")),
        Buffer::F32(v) => v.get(i).map(|x| alloc::format!("{x:?}")),
        Buffer::F64(v) => v.get(i).map(|x| alloc::format!("{x:?}")),
    }
    .unwrap_or_else(|| String::from("nothing"))
}

fn value_ok(e: &Value, a: &Value, reassoc: bool) -> bool {
    match (e, a) {
        (Value::F32(x), Value::F32(y)) if reassoc => float_ok(
            f64::from(*x),
            f64::from(*y),
            Some(REASSOC_TOLERANCE * scale(core::iter::once(f64::from(*x)))),
        ),
        (Value::F64(x), Value::F64(y)) if reassoc => float_ok(
            *x,
            *y,
            Some(REASSOC_TOLERANCE * scale(core::iter::once(*x))),
        ),
        _ => e.bits_eq(a),
    }
}

impl Outputs {
    /// The outputs of the call that just ran on `inputs` and gave `result`.
    pub fn capture(inputs: &Inputs, result: Result<Value, TrapKind>) -> Outputs {
        Outputs {
            result,
            buffers: inputs.written().map(|(i, b)| (i, b.clone())).collect(),
        }
    }

    /// Whether the call that just ran on `inputs` and gave `result` agrees with these
    /// (reference) outputs: the same trap kind or an equal value (floats bit for bit,
    /// any NaN equal to any NaN; within [`REASSOC_TOLERANCE`] when `reassoc`), and equal
    /// `&mut` buffers. Allocates only to describe a mismatch.
    pub fn check(
        &self,
        inputs: &Inputs,
        result: &Result<Value, TrapKind>,
        reassoc: bool,
    ) -> Result<(), Mismatch> {
        match (&self.result, result) {
            (Ok(e), Ok(a)) if value_ok(e, a, reassoc) => {}
            (Err(e), Err(a)) if e == a => {}
            (e, a) => {
                return Err(Mismatch(alloc::format!(
                    "result: expected {}, got {}",
                    describe(e),
                    describe(a)
                )));
            }
        }
        let mut written = inputs.written();
        for (param, expected) in &self.buffers {
            let Some((p, actual)) = written.next().filter(|(p, _)| p == param) else {
                return Err(Mismatch(alloc::format!(
                    "parameter {param}: not a written buffer of this call"
                )));
            };
            if let Some(i) = first_difference(expected, actual, reassoc) {
                return Err(Mismatch(alloc::format!(
                    "parameter {p} element {i}: expected {}, got {}",
                    element(expected, i),
                    element(actual, i)
                )));
            }
        }
        Ok(())
    }
}

fn describe(r: &Result<Value, TrapKind>) -> String {
    match r {
        Ok(v) => alloc::format!("{v:?}"),
        Err(k) => alloc::format!("trap {k:?}"),
    }
}
