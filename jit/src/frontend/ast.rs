//! The untyped syntax tree produced by the parser (checked into `ir` by the verifier).

use super::diag::Pos;
use super::lexer::BinTok;
use crate::ir::{Elem, ParamTy, Ty};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

#[derive(Debug, Clone)]
pub struct AModule {
    pub doc: String,
    pub consts: Vec<AConst>,
    pub funcs: Vec<AFunc>,
}

#[derive(Debug, Clone)]
pub enum AConstTy {
    Scalar(Ty),
    Array(Elem, u64),
}

#[derive(Debug, Clone)]
pub struct AConst {
    pub name: String,
    pub pos: Pos,
    pub ty: AConstTy,
    pub ty_pos: Pos,
    pub value: AConstValue,
}

#[derive(Debug, Clone)]
pub enum AConstValue {
    Scalar(AExpr),
    Array(Vec<AExpr>, Pos),
}

#[derive(Debug, Clone)]
pub struct AParam {
    pub name: String,
    pub pos: Pos,
    pub ty: ParamTy,
}

#[derive(Debug, Clone)]
pub struct AFunc {
    pub name: String,
    pub pos: Pos,
    pub reassoc: bool,
    pub workload: Option<AWorkload>,
    pub params: Vec<AParam>,
    pub ret: Ty,
    pub body: Vec<AStmt>,
    pub end_pos: Pos,
}

#[derive(Debug, Clone)]
pub enum ATarget {
    Var(String, Pos),
    Index { buf: String, pos: Pos, index: AExpr },
}

#[derive(Debug, Clone)]
pub enum AStmt {
    Let {
        name: String,
        pos: Pos,
        ty: Option<Ty>,
        init: AExpr,
    },
    Assign {
        target: ATarget,
        op: Option<BinTok>,
        value: AExpr,
        pos: Pos,
    },
    If {
        cond: AExpr,
        then: Vec<AStmt>,
        els: Option<Vec<AStmt>>,
    },
    While {
        cond: AExpr,
        body: Vec<AStmt>,
    },
    For {
        var: String,
        pos: Pos,
        start: AExpr,
        end: AExpr,
        step: Option<AExpr>,
        body: Vec<AStmt>,
    },
    Break(Pos),
    Continue(Pos),
    Return(Pos, Option<AExpr>),
    Expr(AExpr),
    Block(Vec<AStmt>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AUnOp {
    Neg,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ABinOp {
    Mul,
    Div,
    Rem,
    Add,
    Sub,
    Shl,
    Shr,
    UShr,
    And,
    Xor,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    LAnd,
    LOr,
}

impl ABinOp {
    pub fn from_compound(b: BinTok) -> ABinOp {
        match b {
            BinTok::Add => ABinOp::Add,
            BinTok::Sub => ABinOp::Sub,
            BinTok::Mul => ABinOp::Mul,
            BinTok::Div => ABinOp::Div,
            BinTok::Rem => ABinOp::Rem,
            BinTok::And => ABinOp::And,
            BinTok::Or => ABinOp::Or,
            BinTok::Xor => ABinOp::Xor,
            BinTok::Shl => ABinOp::Shl,
            BinTok::Shr => ABinOp::Shr,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AExpr {
    pub pos: Pos,
    pub kind: AExprKind,
}

#[derive(Debug, Clone)]
pub enum AExprKind {
    Int {
        value: u128,
        radix_bits: bool,
        suffix: Option<String>,
    },
    Float {
        text: String,
        suffix: Option<String>,
    },
    Bool(bool),
    Name(String),
    Call {
        name: String,
        args: Vec<AExpr>,
    },
    Index {
        buf: String,
        index: Box<AExpr>,
    },
    Slice {
        buf: String,
        lo: Box<AExpr>,
        hi: Box<AExpr>,
    },
    Unary(AUnOp, Box<AExpr>),
    Binary(ABinOp, Box<AExpr>, Box<AExpr>),
    Cast(Box<AExpr>, Ty),
}

/// A `#[workload(...)]` attribute: how the embedder may call the function (see
/// `jit/IR.md`, "Workloads"), before it is checked against the signature.
#[derive(Debug, Clone)]
pub struct AWorkload {
    pub pos: Pos,
    pub entries: Vec<AWorkEntry>,
}

/// `name = spec` inside a workload attribute.
#[derive(Debug, Clone)]
pub struct AWorkEntry {
    pub name: String,
    pub pos: Pos,
    pub spec: AWorkSpec,
}

/// The value of one parameter of a workload.
#[derive(Debug, Clone)]
pub enum AWorkSpec {
    /// A scalar: a fixed value, or drawn at random.
    Scalar(AWorkValue),
    /// A buffer `[fill; len]`.
    Buffer {
        pos: Pos,
        fill: AWorkValue,
        len: AWorkExpr,
    },
}

/// A value (or every element of a buffer).
#[derive(Debug, Clone)]
pub enum AWorkValue {
    Fixed(AWorkExpr),
    /// `random(lo, hi)`: integers in `lo..=hi`, floats in `[lo, hi)`.
    Random {
        pos: Pos,
        lo: AWorkExpr,
        hi: AWorkExpr,
    },
    /// `iota`: element `i` is `i` (buffers only).
    Iota(Pos),
}

/// A constant expression of a workload: literals, the fixed scalar parameters given
/// before it, `+ - * / %`, unary `-` and parentheses.
#[derive(Debug, Clone)]
pub struct AWorkExpr {
    pub pos: Pos,
    pub kind: AWorkExprKind,
}

#[derive(Debug, Clone)]
pub enum AWorkExprKind {
    Int(u128),
    Float(String),
    Bool(bool),
    Name(String),
    Neg(Box<AWorkExpr>),
    Bin(ABinOp, Box<AWorkExpr>, Box<AWorkExpr>),
}
