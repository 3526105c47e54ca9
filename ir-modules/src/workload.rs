//! Workloads: one kernel's arguments for a (size, seed), owned, resettable, runnable.
//!
//! A [`Workload`] owns every argument of a call as a [`Param`] and keeps a pristine
//! copy, so in-place kernels (fft, quicksort, softmax...) can be run again from the
//! same inputs. The same workload drives the JIT (through [`Workload::args`], which
//! lends the buffers as `jit::Arg`s) and the AOT baseline ([`Workload::run_aot`]), and
//! [`Outputs`] snapshots what a call produced for [`Outputs::compare`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use jit::{Arg, TrapKind, Value};

use crate::aot::{self, AotError};
use crate::catalog::Kernel;

/// The elements of one buffer argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// Bytes (`&[u8]` parameters).
    U8(Vec<u8>),
    /// `&[i32]` elements.
    I32(Vec<i32>),
    /// `&[i64]` elements.
    I64(Vec<i64>),
    /// `&[f32]` elements.
    F32(Vec<f32>),
    /// `&[f64]` elements.
    F64(Vec<f64>),
}

impl Data {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::U8(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::F64(v) => v.len(),
        }
    }

    /// True when the buffer has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type as the IR spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::U8(_) => "u8",
            Data::I32(_) => "i32",
            Data::I64(_) => "i64",
            Data::F32(_) => "f32",
            Data::F64(_) => "f64",
        }
    }

    fn as_arg(&self) -> Arg<'_> {
        match self {
            Data::U8(v) => Arg::U8s(v),
            Data::I32(v) => Arg::I32s(v),
            Data::I64(v) => Arg::I64s(v),
            Data::F32(v) => Arg::F32s(v),
            Data::F64(v) => Arg::F64s(v),
        }
    }

    fn as_arg_mut(&mut self) -> Arg<'_> {
        match self {
            Data::U8(v) => Arg::U8sMut(v),
            Data::I32(v) => Arg::I32sMut(v),
            Data::I64(v) => Arg::I64sMut(v),
            Data::F32(v) => Arg::F32sMut(v),
            Data::F64(v) => Arg::F64sMut(v),
        }
    }

    /// Copies `src` into `self` when both have the same type and length, else clones it.
    fn restore_from(&mut self, src: &Data) {
        match (self, src) {
            (Data::U8(d), Data::U8(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Data::I32(d), Data::I32(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Data::I64(d), Data::I64(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Data::F32(d), Data::F32(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Data::F64(d), Data::F64(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (d, s) => *d = s.clone(),
        }
    }
}

/// One argument of a kernel call, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// An `i32` scalar.
    I32(i32),
    /// An `i64` scalar.
    I64(i64),
    /// An `f32` scalar.
    F32(f32),
    /// An `f64` scalar.
    F64(f64),
    /// A `bool` scalar.
    Bool(bool),
    /// A read-only buffer (`&[T]`).
    In(Data),
    /// A buffer the kernel may write (`&mut [T]`); its contents are part of the outputs.
    Out(Data),
}

impl Param {
    fn as_arg(&mut self) -> Arg<'_> {
        match self {
            Param::I32(v) => Arg::I32(*v),
            Param::I64(v) => Arg::I64(*v),
            Param::F32(v) => Arg::F32(*v),
            Param::F64(v) => Arg::F64(*v),
            Param::Bool(v) => Arg::Bool(*v),
            Param::In(d) => d.as_arg(),
            Param::Out(d) => d.as_arg_mut(),
        }
    }
}

/// How outputs of two runs must agree.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tolerance {
    /// Same bits (floats compared by bit pattern; any NaN equals any NaN, as the IR
    /// leaves NaN sign and payload unspecified).
    Exact,
    /// For `#[reassoc]` kernels: every float output `y` of a buffer agrees with the
    /// reference `y0` within `rel * max(1, max|y0|)` (max over that buffer), and NaN
    /// only where the reference is NaN; integers and return values must be exact.
    Relative(f32),
}

/// The tolerance jit/IR.md states for reassociated f32 kernels at the catalog's sizes.
pub const REASSOC_TOLERANCE: Tolerance = Tolerance::Relative(1e-4);

/// What one call produced: the return value and the final contents of every `&mut`
/// buffer (by parameter position).
#[derive(Clone, Debug)]
pub struct Outputs {
    /// The return value (`Value::Unit` for kernels without one).
    pub ret: Value,
    /// (parameter position, final contents) of every `&mut` buffer, in parameter order.
    pub buffers: Vec<(usize, Data)>,
}

/// Equal return values (floats by bits) and equal buffers (floats by `==`).
impl PartialEq for Outputs {
    fn eq(&self, other: &Outputs) -> bool {
        value_eq(&self.ret, &other.ret) && self.buffers == other.buffers
    }
}

/// The first difference found by [`Outputs::compare`].
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// Parameter position of the buffer, or `None` for the return value.
    pub param: Option<usize>,
    /// Element index in that buffer (0 for the return value and for a length mismatch).
    pub index: usize,
    /// The reference run's value, `Debug`-formatted.
    pub expected: String,
    /// The compared run's value, `Debug`-formatted.
    pub actual: String,
    /// Which rule failed (`not bit-identical`, `buffer lengths differ`, ...).
    pub detail: &'static str,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.param {
            Some(p) => write!(f, "parameter {} element {}", p, self.index)?,
            None => write!(f, "return value")?,
        }
        write!(
            f,
            ": expected {}, got {} ({})",
            self.expected, self.actual, self.detail
        )
    }
}

fn mismatch(
    param: Option<usize>,
    index: usize,
    e: impl fmt::Debug,
    a: impl fmt::Debug,
    detail: &'static str,
) -> Mismatch {
    Mismatch {
        param,
        index,
        expected: alloc::format!("{e:?}"),
        actual: alloc::format!("{a:?}"),
        detail,
    }
}

/// Bit-identical, except that any two NaNs are equal: jit/IR.md leaves the sign and
/// payload of a NaN result unspecified (the only place where tiers may differ).
fn same_f32(x: f32, y: f32) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

/// See [`same_f32`].
fn same_f64(x: f64, y: f64) -> bool {
    x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
}

fn value_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Unit, Value::Unit) => true,
        (Value::I32(x), Value::I32(y)) => x == y,
        (Value::I64(x), Value::I64(y)) => x == y,
        (Value::F32(x), Value::F32(y)) => same_f32(*x, *y),
        (Value::F64(x), Value::F64(y)) => same_f64(*x, *y),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        _ => false,
    }
}

fn exact<T: PartialEq + fmt::Debug + Copy>(
    p: usize,
    e: &[T],
    a: &[T],
    same: impl Fn(T, T) -> bool,
) -> Result<(), Mismatch> {
    if e.len() != a.len() {
        return Err(mismatch(
            Some(p),
            0,
            e.len(),
            a.len(),
            "buffer lengths differ",
        ));
    }
    for (i, (x, y)) in e.iter().zip(a).enumerate() {
        if !same(*x, *y) {
            return Err(mismatch(Some(p), i, x, y, "not bit-identical"));
        }
    }
    Ok(())
}

fn relative<T: Copy + fmt::Debug>(
    p: usize,
    e: &[T],
    a: &[T],
    rel: f64,
    to_f64: impl Fn(T) -> f64,
) -> Result<(), Mismatch> {
    if e.len() != a.len() {
        return Err(mismatch(
            Some(p),
            0,
            e.len(),
            a.len(),
            "buffer lengths differ",
        ));
    }
    let scale = e
        .iter()
        .map(|v| to_f64(*v).abs())
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max);
    let bound = rel * scale;
    for (i, (x, y)) in e.iter().zip(a).enumerate() {
        let (xf, yf) = (to_f64(*x), to_f64(*y));
        let ok = if xf.is_nan() || yf.is_nan() {
            xf.is_nan() && yf.is_nan()
        } else if xf.is_infinite() || yf.is_infinite() {
            xf == yf
        } else {
            (xf - yf).abs() <= bound
        };
        if !ok {
            return Err(mismatch(
                Some(p),
                i,
                x,
                y,
                "outside the reassociation tolerance",
            ));
        }
    }
    Ok(())
}

impl Outputs {
    /// Checks that `actual` agrees with `self` (the reference) within `tol`.
    pub fn compare(&self, actual: &Outputs, tol: Tolerance) -> Result<(), Mismatch> {
        if !value_eq(&self.ret, &actual.ret) {
            return Err(mismatch(
                None,
                0,
                self.ret,
                actual.ret,
                "return values differ",
            ));
        }
        if self.buffers.len() != actual.buffers.len() {
            return Err(mismatch(
                None,
                0,
                self.buffers.len(),
                actual.buffers.len(),
                "different number of output buffers",
            ));
        }
        for ((pe, de), (pa, da)) in self.buffers.iter().zip(&actual.buffers) {
            if pe != pa {
                return Err(mismatch(
                    Some(*pe),
                    0,
                    pe,
                    pa,
                    "output buffers at different positions",
                ));
            }
            let p = *pe;
            match (de, da, tol) {
                (Data::U8(e), Data::U8(a), _) => exact(p, e, a, |x, y| x == y)?,
                (Data::I32(e), Data::I32(a), _) => exact(p, e, a, |x, y| x == y)?,
                (Data::I64(e), Data::I64(a), _) => exact(p, e, a, |x, y| x == y)?,
                (Data::F32(e), Data::F32(a), Tolerance::Exact) => exact(p, e, a, same_f32)?,
                (Data::F64(e), Data::F64(a), Tolerance::Exact) => exact(p, e, a, same_f64)?,
                (Data::F32(e), Data::F32(a), Tolerance::Relative(r)) => {
                    relative(p, e, a, f64::from(r), f64::from)?
                }
                (Data::F64(e), Data::F64(a), Tolerance::Relative(r)) => {
                    relative(p, e, a, f64::from(r), |v| v)?
                }
                (e, a, _) => {
                    return Err(mismatch(
                        Some(p),
                        0,
                        e.type_name(),
                        a.type_name(),
                        "element types differ",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The output buffer of parameter `param`, if that parameter is a `&mut` buffer.
    pub fn buffer(&self, param: usize) -> Option<&Data> {
        self.buffers
            .iter()
            .find(|(p, _)| *p == param)
            .map(|(_, d)| d)
    }
}

/// A kernel's complete set of arguments for one (size, seed), runnable many times.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The catalog kernel the arguments are for.
    pub kernel: &'static Kernel,
    /// The problem size (its meaning is the kernel's `size_meaning`).
    pub size: usize,
    /// The seed of the deterministic inputs.
    pub seed: u64,
    /// The current arguments (buffers as the last run left them).
    pub params: Vec<Param>,
    pristine: Vec<Param>,
}

impl Workload {
    /// The catalog's deterministic inputs of `kernel` for `size` (see the kernel's
    /// `size_meaning`) and `seed`.
    pub fn new(kernel: &'static Kernel, size: usize, seed: u64) -> Workload {
        let params = (kernel.inputs)(size, seed);
        Workload::from_params(kernel, size, seed, params)
    }

    /// A workload with explicit arguments (known-answer tests, trap cases).
    pub fn from_params(
        kernel: &'static Kernel,
        size: usize,
        seed: u64,
        params: Vec<Param>,
    ) -> Workload {
        Workload {
            kernel,
            size,
            seed,
            pristine: params.clone(),
            params,
        }
    }

    /// Puts every argument back to its initial value.
    pub fn reset(&mut self) {
        for (cur, init) in self.params.iter_mut().zip(&self.pristine) {
            match (cur, init) {
                (Param::In(d), Param::In(s)) | (Param::Out(d), Param::Out(s)) => d.restore_from(s),
                (c, i) => *c = i.clone(),
            }
        }
    }

    /// The arguments as the JIT takes them, borrowing the buffers.
    pub fn args(&mut self) -> Vec<Arg<'_>> {
        self.params.iter_mut().map(Param::as_arg).collect()
    }

    /// Runs the AOT Rust baseline on the current arguments (no reset).
    pub fn call_aot(&mut self) -> Result<Value, AotError> {
        aot::run(self.kernel.name, &mut self.params)
    }

    /// Resets, runs the AOT baseline and returns its outputs.
    pub fn run_aot(&mut self) -> Result<Outputs, AotError> {
        self.reset();
        let ret = self.call_aot()?;
        Ok(self.outputs(ret))
    }

    /// Snapshot of the `&mut` buffers together with a call's return value.
    pub fn outputs(&self, ret: Value) -> Outputs {
        let buffers = self
            .params
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Param::Out(d) => Some((i, d.clone())),
                _ => None,
            })
            .collect();
        Outputs { ret, buffers }
    }

    /// A scalar `i32` argument, if parameter `idx` is one.
    pub fn i32_param(&self, idx: usize) -> Option<i32> {
        match self.params.get(idx) {
            Some(Param::I32(v)) => Some(*v),
            _ => None,
        }
    }

    /// Replaces parameter `idx` (used to build trap cases and specialization tests).
    /// Returns false when `idx` is out of range. Also updates the pristine copy.
    pub fn set_param(&mut self, idx: usize, value: Param) -> bool {
        match (self.params.get_mut(idx), self.pristine.get_mut(idx)) {
            (Some(cur), Some(init)) => {
                *init = value.clone();
                *cur = value;
                true
            }
            _ => false,
        }
    }
}

/// A trap the catalog expects, and the workload that must raise it.
#[derive(Clone, Debug)]
pub struct TrapCase {
    /// What is wrong with the inputs, in words (for test messages).
    pub what: &'static str,
    /// The arguments that must trap.
    pub workload: Workload,
    /// The trap every tier must raise.
    pub expected: TrapKind,
}
