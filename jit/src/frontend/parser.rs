//! Recursive-descent parser: tokens to the untyped syntax tree.
//!
//! Nesting depth is limited so hostile input cannot overflow the (small, in the kernel) stack.

use super::ast::*;
use super::diag::{Pos, PosError, err};
use super::lexer::{Tok, Token, describe};
use super::limits::{MAX_FUNCTION_STATEMENTS, MAX_FUNCTIONS, MAX_NESTING};
use crate::ir::{Elem, ParamTy, Ty};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

mod workload;

/// Limit on syntactic nesting: blocks, `if`s, parentheses, call and index brackets, and
/// every operator, prefix operator and cast (each deepens the tree by one). Every later
/// pass (verifier, bytecode compiler, lowering, drops) recurses over the tree, so this
/// bounds their stack use too; see `jit/IR.md` ("Limits") for the measured stack per
/// level and why 32 levels fit the kernel's 256 KiB stacks with a margin.
const MAX_DEPTH: u32 = MAX_NESTING;

/// The header of a `for` loop, before its body.
struct ForHead {
    var: String,
    pos: Pos,
    start: AExpr,
    end: AExpr,
    step: Option<AExpr>,
}

pub struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: u32,
    /// Statements of the function being parsed, nested ones included.
    statements: usize,
}

type R<T> = Result<T, PosError>;

impl Parser {
    pub fn new(toks: Vec<Token>) -> Parser {
        Parser {
            toks,
            i: 0,
            depth: 0,
            statements: 0,
        }
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> Pos {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }
    fn next(&mut self) -> Token {
        let t = self.toks[self.i.min(self.toks.len() - 1)].clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn eat(&mut self, t: &Tok) -> bool {
        if self.peek() == t {
            self.next();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, t: &Tok, what: &str) -> R<Pos> {
        let pos = self.pos();
        if self.peek() == t {
            self.next();
            Ok(pos)
        } else {
            err(
                pos,
                format!("expected {what}, found {}", describe(self.peek())),
            )
        }
    }
    fn ident(&mut self, what: &str) -> R<(String, Pos)> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok((s, pos))
            }
            other => err(pos, format!("expected {what}, found {}", describe(&other))),
        }
    }
    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                self.pos(),
                format!("nesting too deep (more than {MAX_DEPTH} levels)"),
            );
        }
        Ok(())
    }
    fn leave(&mut self) {
        self.depth -= 1;
    }

    pub fn module(&mut self) -> R<AModule> {
        let mut m = AModule {
            doc: String::new(),
            consts: Vec::new(),
            funcs: Vec::new(),
        };
        loop {
            match self.peek() {
                Tok::Eof => return Ok(m),
                Tok::Const => m.consts.push(self.const_item()?),
                Tok::Fn | Tok::Hash => {
                    if m.funcs.len() == MAX_FUNCTIONS {
                        return err(
                            self.pos(),
                            format!("too many functions: a module has at most {MAX_FUNCTIONS}"),
                        );
                    }
                    m.funcs.push(self.func()?);
                }
                other => {
                    return err(
                        self.pos(),
                        format!("expected `fn` or `const`, found {}", describe(other)),
                    );
                }
            }
        }
    }

    fn const_item(&mut self) -> R<AConst> {
        self.expect(&Tok::Const, "`const`")?;
        let (name, pos) = self.ident("constant name")?;
        self.expect(&Tok::Colon, "`:`")?;
        let ty_pos = self.pos();
        let ty = if self.eat(&Tok::LBracket) {
            let e = self.elem_ty()?;
            self.expect(&Tok::Semi, "`;`")?;
            let lpos = self.pos();
            let n = match self.next().tok {
                Tok::Int {
                    value,
                    suffix: None,
                    ..
                } => value as u64,
                _ => return err(lpos, "expected the array length (an integer literal)"),
            };
            self.expect(&Tok::RBracket, "`]`")?;
            AConstTy::Array(e, n)
        } else {
            AConstTy::Scalar(self.scalar_ty()?)
        };
        self.expect(&Tok::Eq, "`=`")?;
        let value = match ty {
            AConstTy::Array(..) => {
                let lpos = self.expect(&Tok::LBracket, "`[`")?;
                let mut items = Vec::new();
                while self.peek() != &Tok::RBracket {
                    items.push(self.expr()?);
                    if !self.eat(&Tok::Comma) {
                        break;
                    }
                }
                self.expect(&Tok::RBracket, "`]`")?;
                AConstValue::Array(items, lpos)
            }
            AConstTy::Scalar(_) => AConstValue::Scalar(self.expr()?),
        };
        self.expect(&Tok::Semi, "`;`")?;
        Ok(AConst {
            name,
            pos,
            ty,
            ty_pos,
            value,
        })
    }

    fn elem_ty(&mut self) -> R<Elem> {
        let (s, pos) = self.ident("an element type")?;
        Ok(match s.as_str() {
            "u8" => Elem::U8,
            "i8" => Elem::I8,
            "f16" => Elem::F16,
            "i32" => Elem::I32,
            "i64" => Elem::I64,
            "f32" => Elem::F32,
            "f64" => Elem::F64,
            _ => {
                return err(
                    pos,
                    format!(
                        "unknown element type `{s}` (expected u8, i8, i32, i64, f16, f32 or f64)"
                    ),
                );
            }
        })
    }

    fn scalar_ty(&mut self) -> R<Ty> {
        let (s, pos) = self.ident("a type")?;
        Ok(match s.as_str() {
            "i32" => Ty::I32,
            "i64" => Ty::I64,
            "f32" => Ty::F32,
            "f64" => Ty::F64,
            "bool" => Ty::Bool,
            "u8" | "i8" | "f16" => return err(pos, format!("`{s}` is only a buffer element type")),
            _ => return err(pos, format!("unknown type `{s}`")),
        })
    }

    fn param_ty(&mut self) -> R<ParamTy> {
        if self.eat(&Tok::Amp) {
            let mutable = self.eat(&Tok::Mut);
            self.expect(&Tok::LBracket, "`[`")?;
            let elem = self.elem_ty()?;
            self.expect(&Tok::RBracket, "`]`")?;
            Ok(ParamTy::Buf { elem, mutable })
        } else {
            Ok(ParamTy::Scalar(self.scalar_ty()?))
        }
    }

    fn func(&mut self) -> R<AFunc> {
        let mut reassoc = false;
        let mut workload = None;
        while self.eat(&Tok::Hash) {
            self.expect(&Tok::LBracket, "`[`")?;
            let (a, apos) = self.ident("an attribute")?;
            match a.as_str() {
                "reassoc" => reassoc = true,
                "workload" if workload.is_some() => {
                    return err(apos, "a function has at most one `workload` attribute");
                }
                "workload" => workload = Some(self.workload_attr(apos)?),
                _ => return err(apos, format!("unknown attribute `{a}`")),
            }
            self.expect(&Tok::RBracket, "`]`")?;
        }
        self.expect(&Tok::Fn, "`fn`")?;
        let (name, pos) = self.ident("function name")?;
        self.expect(&Tok::LParen, "`(`")?;
        let mut params = Vec::new();
        while self.peek() != &Tok::RParen {
            let (pname, ppos) = self.ident("parameter name")?;
            self.expect(&Tok::Colon, "`:`")?;
            let ty = self.param_ty()?;
            params.push(AParam {
                name: pname,
                pos: ppos,
                ty,
            });
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen, "`)`")?;
        let ret = if self.eat(&Tok::Arrow) {
            self.scalar_ty()?
        } else {
            Ty::Unit
        };
        self.statements = 0;
        let (body, end_pos) = self.block()?;
        Ok(AFunc {
            name,
            pos,
            reassoc,
            workload,
            params,
            ret,
            body,
            end_pos,
        })
    }

    /// `{ stmts }`; returns the statements and the position of the closing brace.
    fn block(&mut self) -> R<(Vec<AStmt>, Pos)> {
        self.expect(&Tok::LBrace, "`{`")?;
        self.enter()?;
        let mut stmts = Vec::new();
        while self.peek() != &Tok::RBrace {
            if self.peek() == &Tok::Eof {
                return err(self.pos(), "expected `}`, found end of file");
            }
            stmts.push(self.stmt()?);
        }
        let end = self.pos();
        self.next();
        self.leave();
        Ok((stmts, end))
    }

    /// One statement. The arms are separate functions so that the frame every nesting
    /// level keeps on the stack is only that of the construct being parsed (a debug build
    /// gives each temporary of a function its own stack slot).
    fn stmt(&mut self) -> R<AStmt> {
        self.statements += 1;
        if self.statements > MAX_FUNCTION_STATEMENTS {
            return err(
                self.pos(),
                format!("function too large: more than {MAX_FUNCTION_STATEMENTS} statements"),
            );
        }
        match self.peek() {
            Tok::Let => self.let_stmt(),
            Tok::If => self.if_stmt(),
            Tok::While => self.while_stmt(),
            Tok::For => self.for_stmt(),
            Tok::Break | Tok::Continue => self.jump_stmt(),
            Tok::Return => self.return_stmt(),
            Tok::LBrace => self.block_stmt(),
            _ => self.expr_stmt(),
        }
    }

    fn let_stmt(&mut self) -> R<AStmt> {
        self.expect(&Tok::Let, "`let`")?;
        self.eat(&Tok::Mut);
        let (name, npos) = self.ident("variable name")?;
        let ty = if self.eat(&Tok::Colon) {
            Some(self.scalar_ty()?)
        } else {
            None
        };
        self.expect(&Tok::Eq, "`=`")?;
        let init = self.expr()?;
        self.expect(&Tok::Semi, "`;`")?;
        Ok(AStmt::Let {
            name,
            pos: npos,
            ty,
            init,
        })
    }

    fn while_stmt(&mut self) -> R<AStmt> {
        self.expect(&Tok::While, "`while`")?;
        let cond = self.boxed_expr()?;
        let (body, _) = self.block()?;
        Ok(AStmt::While { cond: *cond, body })
    }

    fn for_stmt(&mut self) -> R<AStmt> {
        // the header is boxed: the body's nesting levels stack only this small frame
        let head = self.for_head()?;
        let (body, _) = self.block()?;
        let ForHead {
            var,
            pos,
            start,
            end,
            step,
        } = *head;
        Ok(AStmt::For {
            var,
            pos,
            start,
            end,
            step,
            body,
        })
    }

    /// `for var in start..end [step s]`.
    fn for_head(&mut self) -> R<Box<ForHead>> {
        self.expect(&Tok::For, "`for`")?;
        let (var, pos) = self.ident("loop variable")?;
        self.expect(&Tok::In, "`in`")?;
        let start = self.expr()?;
        self.expect(&Tok::DotDot, "`..`")?;
        let end = self.expr()?;
        let step = if self.eat(&Tok::Step) {
            Some(self.expr()?)
        } else {
            None
        };
        Ok(Box::new(ForHead {
            var,
            pos,
            start,
            end,
            step,
        }))
    }

    /// `break;` or `continue;`.
    fn jump_stmt(&mut self) -> R<AStmt> {
        let pos = self.pos();
        let brk = self.next().tok == Tok::Break;
        self.expect(&Tok::Semi, "`;`")?;
        Ok(if brk {
            AStmt::Break(pos)
        } else {
            AStmt::Continue(pos)
        })
    }

    fn return_stmt(&mut self) -> R<AStmt> {
        let pos = self.expect(&Tok::Return, "`return`")?;
        let v = if self.peek() == &Tok::Semi {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect(&Tok::Semi, "`;`")?;
        Ok(AStmt::Return(pos, v))
    }

    fn block_stmt(&mut self) -> R<AStmt> {
        let (body, _) = self.block()?;
        Ok(AStmt::Block(body))
    }

    /// An assignment (`x = e;`, `buf[i] op= e;`) or a call used as a statement.
    fn expr_stmt(&mut self) -> R<AStmt> {
        let e = self.expr()?;
        if matches!(self.peek(), Tok::Eq | Tok::OpAssign(_)) {
            let opos = self.pos();
            let op = match self.next().tok {
                Tok::OpAssign(b) => Some(b),
                _ => None,
            };
            let target = match e.kind {
                AExprKind::Name(n) => ATarget::Var(n, e.pos),
                AExprKind::Index { buf, index } => ATarget::Index {
                    buf,
                    pos: e.pos,
                    index: *index,
                },
                _ => {
                    return err(
                        e.pos,
                        "invalid assignment target (expected a variable or `buf[index]`)",
                    );
                }
            };
            let value = self.expr()?;
            self.expect(&Tok::Semi, "`;`")?;
            return Ok(AStmt::Assign {
                target,
                op,
                value,
                pos: opos,
            });
        }
        self.expect(&Tok::Semi, "`;`")?;
        Ok(AStmt::Expr(e))
    }

    fn if_stmt(&mut self) -> R<AStmt> {
        self.expect(&Tok::If, "`if`")?;
        self.enter()?;
        let r = self.if_rest();
        self.leave();
        r
    }

    /// The condition, the branches and an optional `else` (or `else if`) of an `if`.
    fn if_rest(&mut self) -> R<AStmt> {
        let cond = self.boxed_expr()?;
        let (then, _) = self.block()?;
        let els = if !self.eat(&Tok::Else) {
            None
        } else if self.peek() == &Tok::If {
            Some(alloc::vec![self.if_stmt()?])
        } else {
            Some(self.block()?.0)
        };
        Ok(AStmt::If {
            cond: *cond,
            then,
            els,
        })
    }

    /// An expression on the heap (keeps the frames of statements with bodies small).
    fn boxed_expr(&mut self) -> R<Box<AExpr>> {
        self.expr().map(Box::new)
    }

    pub fn expr(&mut self) -> R<AExpr> {
        self.enter()?;
        let r = self.binary(12);
        self.leave();
        r
    }

    /// The binary operator at the cursor and its precedence level (4 binds tightest).
    fn binop(&self) -> Option<(ABinOp, u8)> {
        Some(match self.peek() {
            Tok::Star => (ABinOp::Mul, 4),
            Tok::Slash => (ABinOp::Div, 4),
            Tok::Percent => (ABinOp::Rem, 4),
            Tok::Plus => (ABinOp::Add, 5),
            Tok::Minus => (ABinOp::Sub, 5),
            Tok::Shl => (ABinOp::Shl, 6),
            Tok::Shr => (ABinOp::Shr, 6),
            Tok::UShr => (ABinOp::UShr, 6),
            Tok::Amp => (ABinOp::And, 7),
            Tok::Caret => (ABinOp::Xor, 8),
            Tok::Pipe => (ABinOp::Or, 9),
            Tok::EqEq => (ABinOp::Eq, 10),
            Tok::Ne => (ABinOp::Ne, 10),
            Tok::Lt => (ABinOp::Lt, 10),
            Tok::Le => (ABinOp::Le, 10),
            Tok::Gt => (ABinOp::Gt, 10),
            Tok::Ge => (ABinOp::Ge, 10),
            Tok::AndAnd => (ABinOp::LAnd, 11),
            Tok::OrOr => (ABinOp::LOr, 12),
            _ => return None,
        })
    }

    /// Precedence climbing: parses operators of level `<= max` (left-associative; one
    /// recursion per operator of tighter level, none per operand of the same level).
    /// Every operator deepens the tree and counts against the nesting limit. The functions
    /// on this recursion (`binary`, `operand`, `primary` and the atoms) keep their frames
    /// small: nested expressions stack one of each per level.
    fn binary(&mut self, max: u8) -> R<AExpr> {
        let base = self.depth;
        let r = self.binary_from(max);
        self.depth = base;
        r
    }

    fn binary_from(&mut self, max: u8) -> R<AExpr> {
        let mut lhs = self.operand()?;
        while let Some((op, level)) = self.binop() {
            if level > max {
                break;
            }
            self.enter()?;
            let pos = self.pos();
            self.i += 1;
            let rhs = self.binary(level - 1)?;
            lhs = binary_node(op, pos, lhs, rhs);
            if level == 10 && matches!(self.binop(), Some((_, 10))) {
                return self.chained_comparison();
            }
        }
        Ok(lhs)
    }

    #[cold]
    fn chained_comparison(&self) -> R<AExpr> {
        err(
            self.pos(),
            "comparison operators cannot be chained (use parentheses)",
        )
    }

    /// An operand of a binary operator: prefix operators (`-`, `!`), an atom, then `as`
    /// casts (`-x as i64` is `(-x) as i64`). Prefix operators and casts are read in loops,
    /// not by recursion; each counts toward the nesting limit, as the tree gets one level
    /// deeper with each.
    fn operand(&mut self) -> R<AExpr> {
        let base = self.depth;
        let mut prefix: Vec<(AUnOp, Pos)> = Vec::new();
        let r = self.prefix_ops(&mut prefix).and_then(|()| self.primary());
        let r = r.and_then(|e| self.wrap_operand(e, prefix));
        self.depth = base;
        r
    }

    /// Reads the prefix operators before an atom into `prefix`.
    fn prefix_ops(&mut self, prefix: &mut Vec<(AUnOp, Pos)>) -> R<()> {
        loop {
            let op = match self.peek() {
                Tok::Minus => AUnOp::Neg,
                Tok::Bang => AUnOp::Not,
                _ => return Ok(()),
            };
            prefix.push((op, self.pos()));
            self.next();
            self.enter()?;
        }
    }

    /// Applies the prefix operators (innermost last read) and the `as` casts after the atom.
    fn wrap_operand(&mut self, mut e: AExpr, mut prefix: Vec<(AUnOp, Pos)>) -> R<AExpr> {
        while let Some((op, pos)) = prefix.pop() {
            e = AExpr {
                pos,
                kind: AExprKind::Unary(op, Box::new(e)),
            };
        }
        while self.peek() == &Tok::As {
            self.enter()?;
            let pos = self.pos();
            self.next();
            let ty = self.scalar_ty()?;
            e = AExpr {
                pos,
                kind: AExprKind::Cast(Box::new(e), ty),
            };
        }
        Ok(e)
    }

    fn primary(&mut self) -> R<AExpr> {
        match self.peek() {
            Tok::LParen => self.paren_expr(),
            Tok::Ident(_) => match self.toks.get(self.i + 1).map(|t| &t.tok) {
                Some(Tok::LParen) => self.call_expr(),
                Some(Tok::LBracket) => self.index_expr(),
                _ => self.name_expr(),
            },
            _ => self.literal(),
        }
    }

    fn name_expr(&mut self) -> R<AExpr> {
        let (name, pos) = self.ident("a name")?;
        Ok(AExpr {
            pos,
            kind: AExprKind::Name(name),
        })
    }

    /// A literal (or an error: no expression starts here).
    fn literal(&mut self) -> R<AExpr> {
        let pos = self.pos();
        let kind = match self.next().tok {
            Tok::Int {
                value,
                radix_bits,
                suffix,
            } => AExprKind::Int {
                value,
                radix_bits,
                suffix,
            },
            Tok::Float { text, suffix } => AExprKind::Float { text, suffix },
            Tok::True => AExprKind::Bool(true),
            Tok::False => AExprKind::Bool(false),
            other => {
                return err(
                    pos,
                    format!("expected an expression, found {}", describe(&other)),
                );
            }
        };
        Ok(AExpr { pos, kind })
    }

    /// `( e )`.
    fn paren_expr(&mut self) -> R<AExpr> {
        self.expect(&Tok::LParen, "`(`")?;
        let e = self.expr()?;
        self.expect(&Tok::RParen, "`)`")?;
        Ok(e)
    }

    /// `name(args)`.
    fn call_expr(&mut self) -> R<AExpr> {
        let (name, pos) = self.ident("a function name")?;
        self.expect(&Tok::LParen, "`(`")?;
        let mut args = Vec::new();
        self.args(&mut args)?;
        Ok(AExpr {
            pos,
            kind: AExprKind::Call { name, args },
        })
    }

    /// Comma-separated expressions up to and including the closing `)`.
    fn args(&mut self, args: &mut Vec<AExpr>) -> R<()> {
        while self.peek() != &Tok::RParen {
            args.push(self.expr()?);
            if !self.eat(&Tok::Comma) {
                break;
            }
        }
        self.expect(&Tok::RParen, "`)`")?;
        Ok(())
    }

    /// `buf[index]` or `buf[lo..hi]`.
    fn index_expr(&mut self) -> R<AExpr> {
        let (buf, pos) = self.ident("a buffer name")?;
        self.expect(&Tok::LBracket, "`[`")?;
        let index = Box::new(self.expr()?);
        let kind = if self.eat(&Tok::DotDot) {
            AExprKind::Slice {
                buf,
                lo: index,
                hi: Box::new(self.expr()?),
            }
        } else {
            AExprKind::Index { buf, index }
        };
        self.expect(&Tok::RBracket, "`]`")?;
        Ok(AExpr { pos, kind })
    }
}

/// The node of a binary operation (out of line: keeps the recursive parser frames small).
fn binary_node(op: ABinOp, pos: Pos, lhs: AExpr, rhs: AExpr) -> AExpr {
    AExpr {
        pos,
        kind: AExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
    }
}
