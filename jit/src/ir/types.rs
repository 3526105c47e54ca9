//! The IR's types.

use core::fmt;

/// A scalar type (`Unit` only as a function result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    I32,
    I64,
    F32,
    F64,
    Bool,
    Unit,
}

impl Ty {
    pub fn is_int(self) -> bool {
        matches!(self, Ty::I32 | Ty::I64)
    }
    pub fn is_float(self) -> bool {
        matches!(self, Ty::F32 | Ty::F64)
    }
    pub fn is_numeric(self) -> bool {
        self.is_int() || self.is_float()
    }
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
    U8,
    /// A signed byte: reads sign-extended to `i32`, stores keep the low 8 bits.
    I8,
    /// IEEE binary16 (stored as its bit pattern, a `u16`): reads widened exactly to
    /// `f32`, stores an `f32` rounded to nearest even (see `jit::half`).
    F16,
    I32,
    I64,
    F32,
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
    pub fn size(self) -> usize {
        match self {
            Elem::U8 | Elem::I8 => 1,
            Elem::F16 => 2,
            Elem::I32 | Elem::F32 => 4,
            Elem::I64 | Elem::F64 => 8,
        }
    }
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
    Scalar(Ty),
    Buf { elem: Elem, mutable: bool },
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
