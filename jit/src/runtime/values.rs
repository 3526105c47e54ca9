//! Values crossing the embedder boundary: arguments, results and traps (the tiers and the
//! trap kinds themselves are the IR's, `crate::ir`).

use crate::ir::{Elem, ParamTy, Tier, TrapKind, Ty};
use core::fmt;

/// An argument of a kernel call: a scalar or a buffer.
#[derive(Debug)]
pub enum Arg<'a> {
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
    /// A read-only `&[u8]` buffer.
    U8s(&'a [u8]),
    /// An `&[i8]` buffer (elements read sign-extended as `i32`).
    I8s(&'a [i8]),
    /// A read-only `&[i32]` buffer.
    I32s(&'a [i32]),
    /// A read-only `&[i64]` buffer.
    I64s(&'a [i64]),
    /// An `&[f16]` buffer, as IEEE binary16 bit patterns (see [`crate::half`]).
    F16s(&'a [u16]),
    /// A read-only `&[f32]` buffer.
    F32s(&'a [f32]),
    /// A read-only `&[f64]` buffer.
    F64s(&'a [f64]),
    /// A writable `&mut [u8]` buffer (also accepted for a read-only parameter).
    U8sMut(&'a mut [u8]),
    /// An `&mut [i8]` buffer (stores keep the low 8 bits of an `i32`).
    I8sMut(&'a mut [i8]),
    /// A writable `&mut [i32]` buffer (also accepted for a read-only parameter).
    I32sMut(&'a mut [i32]),
    /// A writable `&mut [i64]` buffer (also accepted for a read-only parameter).
    I64sMut(&'a mut [i64]),
    /// An `&mut [f16]` buffer, as IEEE binary16 bit patterns.
    F16sMut(&'a mut [u16]),
    /// A writable `&mut [f32]` buffer (also accepted for a read-only parameter).
    F32sMut(&'a mut [f32]),
    /// A writable `&mut [f64]` buffer (also accepted for a read-only parameter).
    F64sMut(&'a mut [f64]),
}

/// A raw view of an argument: scalar bits, or buffer pointer + length.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RawArg {
    Scalar(Ty, u64),
    Buf {
        elem: Elem,
        mutable: bool,
        ptr: *mut u8,
        len: usize,
    },
}

impl Arg<'_> {
    pub(crate) fn raw(&mut self) -> RawArg {
        match self {
            Arg::I32(v) => RawArg::Scalar(Ty::I32, *v as u32 as u64),
            Arg::I64(v) => RawArg::Scalar(Ty::I64, *v as u64),
            Arg::F32(v) => RawArg::Scalar(Ty::F32, v.to_bits() as u64),
            Arg::F64(v) => RawArg::Scalar(Ty::F64, v.to_bits()),
            Arg::Bool(v) => RawArg::Scalar(Ty::Bool, *v as u64),
            Arg::U8s(s) => RawArg::Buf {
                elem: Elem::U8,
                mutable: false,
                ptr: s.as_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::I8s(s) => RawArg::Buf {
                elem: Elem::I8,
                mutable: false,
                ptr: s.as_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::I32s(s) => RawArg::Buf {
                elem: Elem::I32,
                mutable: false,
                ptr: s.as_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::I64s(s) => RawArg::Buf {
                elem: Elem::I64,
                mutable: false,
                ptr: s.as_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::F16s(s) => RawArg::Buf {
                elem: Elem::F16,
                mutable: false,
                ptr: s.as_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::F32s(s) => RawArg::Buf {
                elem: Elem::F32,
                mutable: false,
                ptr: s.as_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::F64s(s) => RawArg::Buf {
                elem: Elem::F64,
                mutable: false,
                ptr: s.as_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::U8sMut(s) => RawArg::Buf {
                elem: Elem::U8,
                mutable: true,
                ptr: s.as_mut_ptr(),
                len: s.len(),
            },
            Arg::I8sMut(s) => RawArg::Buf {
                elem: Elem::I8,
                mutable: true,
                ptr: s.as_mut_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::I32sMut(s) => RawArg::Buf {
                elem: Elem::I32,
                mutable: true,
                ptr: s.as_mut_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::I64sMut(s) => RawArg::Buf {
                elem: Elem::I64,
                mutable: true,
                ptr: s.as_mut_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::F16sMut(s) => RawArg::Buf {
                elem: Elem::F16,
                mutable: true,
                ptr: s.as_mut_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::F32sMut(s) => RawArg::Buf {
                elem: Elem::F32,
                mutable: true,
                ptr: s.as_mut_ptr() as *mut u8,
                len: s.len(),
            },
            Arg::F64sMut(s) => RawArg::Buf {
                elem: Elem::F64,
                mutable: true,
                ptr: s.as_mut_ptr() as *mut u8,
                len: s.len(),
            },
        }
    }
}

/// Checks arguments against a signature and writes them as raw words into `out` (scalars
/// as bits; buffers as two words, pointer then length). Returns the word count, or `None`
/// on any mismatch (count, type, mutability, a buffer longer than `i32::MAX`, too many words).
pub(crate) fn marshal(params: &[ParamTy], args: &mut [Arg], out: &mut [u64]) -> Option<usize> {
    if params.len() != args.len() {
        return None;
    }
    let mut n = 0;
    for (p, a) in params.iter().zip(args.iter_mut()) {
        match (p, a.raw()) {
            (ParamTy::Scalar(t), RawArg::Scalar(at, bits)) if *t == at => {
                *out.get_mut(n)? = bits;
                n += 1;
            }
            (
                ParamTy::Buf { elem, mutable },
                RawArg::Buf {
                    elem: ae,
                    mutable: am,
                    ptr,
                    len,
                },
            ) if *elem == ae && (am || !*mutable) && len <= i32::MAX as usize => {
                *out.get_mut(n)? = ptr as usize as u64;
                *out.get_mut(n + 1)? = len as u64;
                n += 2;
            }
            _ => return None,
        }
    }
    Some(n)
}

/// A scalar result (`Unit` for functions without a return type).
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// No value (a function without a return type).
    Unit,
    /// An `i32` result.
    I32(i32),
    /// An `i64` result.
    I64(i64),
    /// An `f32` result.
    F32(f32),
    /// An `f64` result.
    F64(f64),
    /// A `bool` result.
    Bool(bool),
}

impl Value {
    /// Equality with floats compared by bit pattern; any two NaNs compare equal
    /// (NaN payloads are not specified by the IR).
    pub fn bits_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Unit, Value::Unit) => true,
            (Value::I32(a), Value::I32(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::F32(a), Value::F32(b)) => {
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
            }
            (Value::F64(a), Value::F64(b)) => {
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
            }
            _ => false,
        }
    }
    pub(crate) fn from_bits(ty: Ty, bits: u64) -> Value {
        match ty {
            Ty::I32 => Value::I32(bits as u32 as i32),
            Ty::I64 => Value::I64(bits as i64),
            Ty::F32 => Value::F32(f32::from_bits(bits as u32)),
            Ty::F64 => Value::F64(f64::from_bits(bits)),
            Ty::Bool => Value::Bool(bits & 0xff != 0),
            Ty::Unit => Value::Unit,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("()"),
            Value::I32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::F32(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
        }
    }
}

/// A trap: the kind and the tier that raised it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    /// What went wrong.
    pub kind: TrapKind,
    /// The tier whose code raised it (a call that tiered down reports the lower tier).
    pub tier: Tier,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {})", self.kind, self.tier)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Trap {}
