//! The verified workload of a function: one input per parameter.

use crate::ir::{Elem, Ty};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Most bytes the buffers of one workload may hold together (the kernel keeps them, a
/// pristine copy and T0's outputs on its heap).
pub const MAX_WORKLOAD_BYTES: usize = 8 * 1024 * 1024;

/// A constant of a workload, already of its parameter's (or element's) type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    /// An `i32` (also `u8` and `i8` elements).
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32` (also `f16` elements, rounded when stored).
    F32(f32),
    /// An `f64`.
    F64(f64),
    /// A `bool`.
    Bool(bool),
}

/// How a scalar parameter gets its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScalarInput {
    /// This value.
    Fixed(Number),
    /// Drawn once per seed, uniform in `lo..=hi` (integers) or `[lo, hi)` (floats).
    Random {
        /// The low bound (included).
        lo: Number,
        /// The high bound (included for integers, excluded for floats).
        hi: Number,
    },
}

/// How the elements of a buffer are filled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    /// Every element the same value.
    Value(Number),
    /// Each element drawn uniformly from `lo..=hi` (integers) or `[lo, hi)` (floats).
    Random {
        /// The low bound (included).
        lo: Number,
        /// The high bound (included for integers, excluded for floats).
        hi: Number,
    },
    /// Element `i` is `i` (converted to the element type; `u8` wraps modulo 256).
    Iota,
}

/// The input of one parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum ParamInput {
    /// A scalar parameter.
    Scalar {
        /// Its type.
        ty: Ty,
        /// Its value.
        input: ScalarInput,
    },
    /// A buffer parameter.
    Buffer {
        /// The element type.
        elem: Elem,
        /// `&mut [T]`.
        mutable: bool,
        /// Elements.
        len: usize,
        /// How the elements are filled.
        fill: Fill,
    },
}

/// A verified `#[workload(...)]`: the inputs of every parameter, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// One input per parameter, in order.
    pub params: Vec<ParamInput>,
    /// The function is `#[reassoc]`: compiled tiers may differ from T0 within
    /// [`crate::workload::REASSOC_TOLERANCE`].
    pub reassoc: bool,
}

impl Workload {
    /// Bytes of all buffers together.
    pub fn buffer_bytes(&self) -> usize {
        self.params
            .iter()
            .map(|p| match p {
                ParamInput::Buffer { elem, len, .. } => elem.size() * len,
                ParamInput::Scalar { .. } => 0,
            })
            .sum()
    }

    /// A short description of the sizes, e.g. `x[4096] y[4096]` (for reports), with
    /// the parameter names given by the caller.
    pub fn describe(&self, names: &[&str]) -> String {
        let mut s = String::new();
        for (i, p) in self.params.iter().enumerate() {
            let name = names.get(i).copied().unwrap_or("?");
            let part = match p {
                ParamInput::Buffer { len, .. } => alloc::format!("{name}[{len}]"),
                ParamInput::Scalar {
                    input: ScalarInput::Fixed(n),
                    ..
                } => alloc::format!("{name}={n}"),
                ParamInput::Scalar { .. } => alloc::format!("{name}=random"),
            };
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&part);
        }
        s
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::I32(v) => write!(f, "{v}"),
            Number::I64(v) => write!(f, "{v}"),
            Number::F32(v) => write!(f, "{v}"),
            Number::F64(v) => write!(f, "{v}"),
            Number::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// Why a function without a workload cannot be run by an embedder on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotExercised {
    /// Why, in words.
    pub reason: &'static str,
}

impl fmt::Display for NotExercised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason)
    }
}
