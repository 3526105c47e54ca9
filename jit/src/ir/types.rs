//! The IR's types.

use core::fmt;

/// A scalar type (`Unit` only as a function result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// 32-bit two's-complement integer.
    I32,
    /// 64-bit two's-complement integer.
    I64,
    /// IEEE 754 single precision.
    F32,
    /// IEEE 754 double precision.
    F64,
    /// A truth value (one byte, 0 or 1, in registers and slots).
    Bool,
    /// No value: the result type of a function that returns nothing.
    Unit,
}

impl Ty {
    /// `i32` or `i64`.
    pub fn is_int(self) -> bool {
        matches!(self, Ty::I32 | Ty::I64)
    }
    /// `f32` or `f64`.
    pub fn is_float(self) -> bool {
        matches!(self, Ty::F32 | Ty::F64)
    }
    /// An integer or a float (arithmetic and comparisons accept these).
    pub fn is_numeric(self) -> bool {
        self.is_int() || self.is_float()
    }
    /// Width in bits of the machine representation (8 for `bool`, 0 for `()`).
    pub fn bits(self) -> u32 {
        match self {
            Ty::I32 | Ty::F32 => 32,
            Ty::I64 | Ty::F64 => 64,
            Ty::Bool => 8,
            Ty::Unit => 0,
        }
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ty::I32 => "i32",
            Ty::I64 => "i64",
            Ty::F32 => "f32",
            Ty::F64 => "f64",
            Ty::Bool => "bool",
            Ty::Unit => "()",
        })
    }
}

/// The element type of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Elem {
    /// Bytes (read as `i32`, zero-extended; stores keep the low 8 bits).
    U8,
    /// A signed byte: reads sign-extended to `i32`, stores keep the low 8 bits.
    I8,
    /// IEEE binary16 (stored as its bit pattern, a `u16`): reads widened exactly to
    /// `f32`, stores an `f32` rounded to nearest even (see `jit::half`).
    F16,
    /// 32-bit integers.
    I32,
    /// 64-bit integers.
    I64,
    /// Single-precision floats.
    F32,
    /// Double-precision floats.
    F64,
}

impl Elem {
    /// The scalar type an element reads as (`u8` and `i8` read as `i32`, `f16` as `f32`).
    pub fn value_ty(self) -> Ty {
        match self {
            Elem::U8 | Elem::I8 | Elem::I32 => Ty::I32,
            Elem::I64 => Ty::I64,
            Elem::F16 | Elem::F32 => Ty::F32,
            Elem::F64 => Ty::F64,
        }
    }
    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            Elem::U8 | Elem::I8 => 1,
            Elem::F16 => 2,
            Elem::I32 | Elem::F32 => 4,
            Elem::I64 | Elem::F64 => 8,
        }
    }
    /// `log2` of [`Elem::size`]: the shift that turns an index into a byte offset.
    pub fn shift(self) -> u32 {
        match self {
            Elem::U8 | Elem::I8 => 0,
            Elem::F16 => 1,
            Elem::I32 | Elem::F32 => 2,
            Elem::I64 | Elem::F64 => 3,
        }
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Elem::U8 => "u8",
            Elem::I8 => "i8",
            Elem::F16 => "f16",
            Elem::I32 => "i32",
            Elem::I64 => "i64",
            Elem::F32 => "f32",
            Elem::F64 => "f64",
        })
    }
}

/// A parameter type: a scalar or a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamTy {
    /// A scalar passed by value.
    Scalar(Ty),
    /// A buffer (`&[elem]` or `&mut [elem]`), passed as pointer and length.
    Buf {
        /// The element type.
        elem: Elem,
        /// `&mut`: the function may store into it.
        mutable: bool,
    },
}

impl fmt::Display for ParamTy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamTy::Scalar(t) => write!(f, "{t}"),
            ParamTy::Buf {
                elem,
                mutable: true,
            } => write!(f, "&mut [{elem}]"),
            ParamTy::Buf {
                elem,
                mutable: false,
            } => write!(f, "&[{elem}]"),
        }
    }
}
