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
