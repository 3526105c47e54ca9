//! The typed, name-resolved IR that the verifier produces and every tier consumes.

use super::types::{Elem, ParamTy, Ty};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// A parsed and verified module.
#[derive(Debug, Clone)]
pub struct Module {
    pub(crate) name: String,
    pub(crate) file: String,
    pub(crate) doc: String,
    pub(crate) funcs: Vec<Function>,
    pub(crate) tables: Vec<Table>,
}

impl Module {
    /// The file stem, e.g. `matmul` for `matmul.bfir`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The file name the module was parsed from.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// The module documentation: the text of its `//!` lines.
    pub fn doc(&self) -> &str {
        &self.doc
    }
    /// Names of all functions, in declaration order.
    pub fn function_names(&self) -> Vec<&str> {
        self.funcs.iter().map(|f| f.name.as_str()).collect()
    }
    /// The workload of a function, by name (`None` when there is no such function):
    /// its verified `#[workload(...)]` attribute, or why it cannot be run on its own.
    pub fn workload(
        &self,
        name: &str,
    ) -> Option<Result<&crate::workload::Workload, crate::workload::NotExercised>> {
        let f = self.funcs.iter().find(|f| f.name == name)?;
        Some(f.workload.as_ref().ok_or(crate::workload::NotExercised {
            reason: "not exercised: no #[workload(...)] attribute says how to call it",
        }))
    }
    /// Names of the constant tables, in declaration order.
    pub fn table_names(&self) -> Vec<&str> {
        self.tables.iter().map(|t| t.name.as_str()).collect()
    }
    /// Parameter types and return type of a function, by name.
    pub fn signature(&self, name: &str) -> Option<(Vec<ParamTy>, Ty)> {
        let f = self.funcs.iter().find(|f| f.name == name)?;
        Some((f.params.clone(), f.ret))
    }
}

/// A read-only constant table (`const K: [i32; 4] = [...]`).
#[derive(Debug, Clone)]
pub struct Table {
    pub name: String,
    pub data: TableData,
}

#[derive(Debug, Clone)]
pub enum TableData {
    U8(Vec<u8>),
    I8(Vec<i8>),
    /// f16 bit patterns.
    F16(Vec<u16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl TableData {
    pub fn elem(&self) -> Elem {
        match self {
            TableData::U8(_) => Elem::U8,
            TableData::I8(_) => Elem::I8,
            TableData::F16(_) => Elem::F16,
            TableData::I32(_) => Elem::I32,
            TableData::I64(_) => Elem::I64,
            TableData::F32(_) => Elem::F32,
            TableData::F64(_) => Elem::F64,
        }
    }
    pub fn len(&self) -> usize {
        match self {
            TableData::U8(v) => v.len(),
            TableData::I8(v) => v.len(),
            TableData::F16(v) => v.len(),
            TableData::I32(v) => v.len(),
            TableData::I64(v) => v.len(),
            TableData::F32(v) => v.len(),
            TableData::F64(v) => v.len(),
        }
    }
    pub fn ptr(&self) -> *const u8 {
        match self {
            TableData::U8(v) => v.as_ptr(),
            TableData::I8(v) => v.as_ptr() as *const u8,
            TableData::F16(v) => v.as_ptr() as *const u8,
            TableData::I32(v) => v.as_ptr() as *const u8,
            TableData::I64(v) => v.as_ptr() as *const u8,
            TableData::F32(v) => v.as_ptr() as *const u8,
            TableData::F64(v) => v.as_ptr() as *const u8,
        }
    }
}

/// Where a function parameter lives: a scalar local or a buffer slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSlot {
    Local(u32),
    Buf(u32),
}

#[derive(Debug, Clone)]
pub struct Function {
    pub name: String,
    pub params: Vec<ParamTy>,
    pub param_slots: Vec<ParamSlot>,
    pub ret: Ty,
    pub reassoc: bool,
    /// How an embedder may call it (`#[workload(...)]`; a function without parameters
    /// has the empty one).
    pub workload: Option<crate::workload::Workload>,
    /// Types of all scalar locals (scalar parameters first, in order).
    pub locals: Vec<Ty>,
    /// Buffer parameters: element type and mutability, in order.
    pub bufs: Vec<(Elem, bool)>,
    pub body: Vec<Stmt>,
}

/// A buffer operand: a buffer parameter of the current function or a module table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufRef {
    Param(u32),
    Table(u32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Const {
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
}

impl Const {
    pub fn ty(&self) -> Ty {
        match self {
            Const::I32(_) => Ty::I32,
            Const::I64(_) => Ty::I64,
            Const::F32(_) => Ty::F32,
            Const::F64(_) => Ty::F64,
            Const::Bool(_) => Ty::Bool,
        }
    }
    /// The raw 64-bit pattern (as held in an interpreter slot).
    pub fn bits(&self) -> u64 {
        match *self {
            Const::I32(v) => v as u32 as u64,
            Const::I64(v) => v as u64,
            Const::F32(v) => v.to_bits() as u64,
            Const::F64(v) => v.to_bits(),
            Const::Bool(b) => b as u64,
        }
    }
    /// The constant of type `t` whose raw pattern is `bits` (the inverse of
    /// [`Const::bits`]; `bool` reads bit 0).
    pub fn from_bits(t: Ty, bits: u64) -> Const {
        match t {
            Ty::I32 => Const::I32(bits as u32 as i32),
            Ty::I64 => Const::I64(bits as i64),
            Ty::F32 => Const::F32(f32::from_bits(bits as u32)),
            Ty::F64 => Const::F64(f64::from_bits(bits)),
            _ => Const::Bool(bits & 1 != 0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    /// `!` on bool.
    Not,
    /// `!` on integers.
    BitNot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    And,
    Or,
    Xor,
    Shl,
    Shr,
    UShr,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    pub fn is_cmp(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intrinsic {
    Sqrt,
    Abs,
    Floor,
    Ceil,
    Trunc,
    Nearest,
    Exp,
    Ln,
    Sin,
    Cos,
    Tanh,
    Pow,
    Fma,
    Min,
    Max,
    Copysign,
    Rotl,
    Rotr,
    Popcnt,
    Clz,
    Ctz,
    Udiv,
    Urem,
    Ult,
    Ule,
    Ugt,
    Uge,
    Select,
}

impl Intrinsic {
    pub fn from_name(s: &str) -> Option<Intrinsic> {
        use Intrinsic::*;
        Some(match s {
            "sqrt" => Sqrt,
            "abs" => Abs,
            "floor" => Floor,
            "ceil" => Ceil,
            "trunc" => Trunc,
            "nearest" => Nearest,
            "exp" => Exp,
            "ln" => Ln,
            "sin" => Sin,
            "cos" => Cos,
            "tanh" => Tanh,
            "pow" => Pow,
            "fma" => Fma,
            "min" => Min,
            "max" => Max,
            "copysign" => Copysign,
            "rotl" => Rotl,
            "rotr" => Rotr,
            "popcnt" => Popcnt,
            "clz" => Clz,
            "ctz" => Ctz,
            "udiv" => Udiv,
            "urem" => Urem,
            "ult" => Ult,
            "ule" => Ule,
            "ugt" => Ugt,
            "uge" => Uge,
            "select" => Select,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Expr {
    pub ty: Ty,
    pub kind: ExprKind,
}

#[derive(Debug, Clone)]
pub enum ExprKind {
    Const(Const),
    Local(u32),
    Unary(UnOp, Box<Expr>),
    /// Operands have the same type (`ty` of the node is `Bool` for comparisons).
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// Short-circuit `&&` / `||`.
    LogicAnd(Box<Expr>, Box<Expr>),
    LogicOr(Box<Expr>, Box<Expr>),
    /// Conversion from the operand's type to `ty`.
    Cast(Box<Expr>),
    Load(BufRef, Box<Expr>),
    Len(BufRef),
    Call(u32, Vec<CallArg>),
    Intrinsic(Intrinsic, Vec<Expr>),
}

#[derive(Debug, Clone)]
pub enum CallArg {
    Scalar(Expr),
    Buf(BufRef),
    Slice(BufRef, Expr, Expr),
}

#[derive(Debug, Clone)]
pub struct ForLoop {
    pub var: u32,
    pub start: Expr,
    pub end: Expr,
    pub step: Option<Expr>,
    /// Hidden locals holding the evaluated end and step.
    pub end_local: u32,
    pub step_local: u32,
    pub body: Vec<Stmt>,
}

#[derive(Debug, Clone)]
pub enum Stmt {
    Set(u32, Expr),
    /// `buf[index] = value`: index, then value are evaluated, then the bounds check and store.
    Store(BufRef, Expr, Expr),
    If(Expr, Vec<Stmt>, Vec<Stmt>),
    While(Expr, Vec<Stmt>),
    For(Box<ForLoop>),
    Break,
    Continue,
    Return(Option<Expr>),
    Eval(Expr),
}

impl Expr {
    pub fn constant(c: Const) -> Expr {
        Expr {
            ty: c.ty(),
            kind: ExprKind::Const(c),
        }
    }
    pub fn local(idx: u32, ty: Ty) -> Expr {
        Expr {
            ty,
            kind: ExprKind::Local(idx),
        }
    }
    /// True when the expression contains a call (has side effects beyond traps).
    pub fn has_call(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            if matches!(e.kind, ExprKind::Call(..)) {
                found = true;
            }
        });
        found
    }
    /// Visits every node, pre-order.
    pub fn visit(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Const(_) | ExprKind::Local(_) | ExprKind::Len(_) => {}
            ExprKind::Unary(_, a) | ExprKind::Cast(a) | ExprKind::Load(_, a) => a.visit(f),
            ExprKind::Binary(_, a, b) | ExprKind::LogicAnd(a, b) | ExprKind::LogicOr(a, b) => {
                a.visit(f);
                b.visit(f);
            }
            ExprKind::Call(_, args) => {
                for a in args {
                    match a {
                        CallArg::Scalar(e) => e.visit(f),
                        CallArg::Buf(_) => {}
                        CallArg::Slice(_, lo, hi) => {
                            lo.visit(f);
                            hi.visit(f);
                        }
                    }
                }
            }
            ExprKind::Intrinsic(_, args) => {
                for a in args {
                    a.visit(f);
                }
            }
        }
    }
}
