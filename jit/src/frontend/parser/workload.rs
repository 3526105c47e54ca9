//! The `#[workload(...)]` attribute (grammar in `jit/IR.md`, "Workloads").
//!
//! ```text
//! attr  := 'workload' '(' entry (',' entry)* ','? ')'
//! entry := IDENT '=' ( '[' value ';' expr ']' | value )
//! value := 'random' '(' expr ',' expr ')' | 'iota' | expr
//! expr  := term (('+' | '-') term)*
//! term  := unary (('*' | '/' | '%') unary)*
//! unary := '-' unary | INT | FLOAT | 'true' | 'false' | IDENT | '(' expr ')'
//! ```

use super::super::ast::{
    ABinOp, AWorkEntry, AWorkExpr, AWorkExprKind, AWorkSpec, AWorkValue, AWorkload,
};
use super::super::diag::{Pos, err};
use super::super::lexer::{Tok, describe};
use super::{Parser, R};
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

impl Parser {
    /// The attribute after `#[workload`, up to and including `)` (the caller eats `]`).
    pub(super) fn workload_attr(&mut self, pos: Pos) -> R<AWorkload> {
        self.expect(&Tok::LParen, "`(` after `workload`")?;
        let mut entries = Vec::new();
        while self.peek() != &Tok::RParen {
            let (name, npos) = self.ident("a parameter name")?;
            self.expect(&Tok::Eq, "`=`")?;
            let spec = if self.peek() == &Tok::LBracket {
                let bpos = self.pos();
                self.next();
                let fill = self.work_value()?;
                self.expect(&Tok::Semi, "`;` and the buffer length")?;
                let len = self.work_expr()?;
                self.expect(&Tok::RBracket, "`]`")?;
                AWorkSpec::Buffer {
                    pos: bpos,
                    fill,
                    len,
                }
            } else {
                AWorkSpec::Scalar(self.work_value()?)
            };
            entries.push(AWorkEntry {
                name,
                pos: npos,
                spec,
            });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen, "`,` or `)`")?;
        Ok(AWorkload { pos, entries })
    }

    fn work_value(&mut self) -> R<AWorkValue> {
        let pos = self.pos();
        if let Tok::Ident(s) = self.peek() {
            if s == "iota" {
                self.next();
                return Ok(AWorkValue::Iota(pos));
            }
            if s == "random" && self.toks.get(self.i + 1).map(|t| &t.tok) == Some(&Tok::LParen) {
                self.next();
                self.next();
                let lo = self.work_expr()?;
                self.expect(&Tok::Comma, "`,` between the bounds of `random`")?;
                let hi = self.work_expr()?;
                self.expect(&Tok::RParen, "`)`")?;
                return Ok(AWorkValue::Random { pos, lo, hi });
            }
        }
        Ok(AWorkValue::Fixed(self.work_expr()?))
    }

    fn work_expr(&mut self) -> R<AWorkExpr> {
        self.enter()?;
        let mut lhs = self.work_term()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => ABinOp::Add,
                Tok::Minus => ABinOp::Sub,
                _ => break,
            };
            let pos = self.pos();
            self.next();
            let rhs = self.work_term()?;
            lhs = AWorkExpr {
                pos,
                kind: AWorkExprKind::Bin(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        self.leave();
        Ok(lhs)
    }

    fn work_term(&mut self) -> R<AWorkExpr> {
        let mut lhs = self.work_unary()?;
        loop {
            let op = match self.peek() {
                Tok::Star => ABinOp::Mul,
                Tok::Slash => ABinOp::Div,
                Tok::Percent => ABinOp::Rem,
                _ => break,
            };
            let pos = self.pos();
            self.next();
            let rhs = self.work_unary()?;
            lhs = AWorkExpr {
                pos,
                kind: AWorkExprKind::Bin(op, Box::new(lhs), Box::new(rhs)),
            };
        }
        Ok(lhs)
    }

    fn work_unary(&mut self) -> R<AWorkExpr> {
        let pos = self.pos();
        let kind = match self.next().tok {
            Tok::Minus => {
                self.enter()?;
                let e = self.work_unary()?;
                self.leave();
                AWorkExprKind::Neg(Box::new(e))
            }
            Tok::Int {
                value,
                suffix: None,
                ..
            } => AWorkExprKind::Int(value),
            Tok::Float { text, suffix: None } => AWorkExprKind::Float(text),
            Tok::Int { .. } | Tok::Float { .. } => {
                return err(
                    pos,
                    "a workload literal takes its type from the parameter: no suffix",
                );
            }
            Tok::True => AWorkExprKind::Bool(true),
            Tok::False => AWorkExprKind::Bool(false),
            Tok::Ident(name) => AWorkExprKind::Name(name),
            Tok::LParen => {
                let e = self.work_expr()?;
                self.expect(&Tok::RParen, "`)`")?;
                return Ok(e);
            }
            other => {
                return err(
                    pos,
                    format!("expected a workload value, found {}", describe(&other)),
                );
            }
        };
        Ok(AWorkExpr { pos, kind })
    }
}
