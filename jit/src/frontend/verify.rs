//! The verifier: type-checks the syntax tree, resolves names and produces the typed IR.
//!
//! Rules checked here (see IR.md): operand types, literal ranges, read-only loop
//! variables and buffers, call signatures, no aliasing of a `&mut` buffer argument,
//! `break`/`continue` inside loops, every path of a value-returning function returns.

use super::ast::*;
use super::diag::{Pos, PosError, err};
use super::lexer::BinTok;
use crate::ir::*;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use hashbrown::HashMap;

type R<T> = Result<T, PosError>;

mod workload;

#[derive(Clone)]
enum Binding {
    Local {
        idx: u32,
        ty: Ty,
        readonly: bool,
    },
    Buf {
        r: BufRef,
        elem: Elem,
        mutable: bool,
    },
    Const(Expr),
}

struct Sig {
    params: Vec<ParamTy>,
    ret: Ty,
}

/// Module-level names (hash maps: a module's lookups stay linear in its size).
struct Globals {
    consts: HashMap<String, Binding>,
    /// Function signatures in declaration order (a function's index is its position).
    sigs: Vec<Sig>,
    sig_index: HashMap<String, u32>,
}

struct FnCx<'g> {
    g: &'g Globals,
    /// Every binding visible by name, innermost last (a `let` shadows by pushing).
    names: HashMap<String, Vec<Binding>>,
    /// The names each open scope declared, popped from `names` when it closes.
    scopes: Vec<Vec<String>>,
    locals: Vec<Ty>,
    loop_depth: u32,
    ret: Ty,
}

pub fn check_module(name: &str, file: &str, m: AModule) -> R<Module> {
    let mut g = Globals {
        consts: HashMap::new(),
        sigs: Vec::new(),
        sig_index: HashMap::new(),
    };
    let mut tables = Vec::new();
    for c in &m.consts {
        if g.consts.contains_key(&c.name) {
            return err(c.pos, format!("constant `{}` is defined twice", c.name));
        }
        if Intrinsic::from_name(&c.name).is_some() || c.name == "len" {
            return err(c.pos, format!("`{}` is an intrinsic name", c.name));
        }
        let b = match (&c.ty, &c.value) {
            (AConstTy::Scalar(ty), AConstValue::Scalar(e)) => {
                let mut cx = FnCx::new(&g, Ty::Unit);
                let e = cx.expr(e, Some(*ty))?;
                if e.ty != *ty {
                    return err(
                        c.pos,
                        format!(
                            "constant `{}` is declared {} but its value is {}",
                            c.name, ty, e.ty
                        ),
                    );
                }
                if e.has_call() || contains_load(&e) {
                    return err(
                        c.pos,
                        "a constant's value must not call functions or read buffers",
                    );
                }
                match eval_const(e) {
                    Ok(k) => Binding::Const(Expr::constant(k)),
                    Err(kind) => {
                        return err(c.pos, format!("constant `{}` traps: {kind}", c.name));
                    }
                }
            }
            (AConstTy::Array(elem, n), AConstValue::Array(items, lpos)) => {
                if *n != items.len() as u64 {
                    return err(
                        *lpos,
                        format!(
                            "array `{}` declares {} elements but lists {}",
                            c.name,
                            n,
                            items.len()
                        ),
                    );
                }
                let data = table_data(*elem, items)?;
                let idx = tables.len() as u32;
                tables.push(Table {
                    name: c.name.clone(),
                    data,
                });
                Binding::Buf {
                    r: BufRef::Table(idx),
                    elem: *elem,
                    mutable: false,
                }
            }
            _ => return err(c.ty_pos, "constant type and value do not match"),
        };
        g.consts.insert(c.name.clone(), b);
    }
    for f in &m.funcs {
        if g.sig_index.contains_key(&f.name) {
            return err(f.pos, format!("function `{}` is defined twice", f.name));
        }
        if Intrinsic::from_name(&f.name).is_some() || f.name == "len" {
            return err(f.pos, format!("`{}` is an intrinsic name", f.name));
        }
        if f.params.len() > 32 {
            return err(
                f.pos,
                format!(
                    "function `{}` has {} parameters (at most 32)",
                    f.name,
                    f.params.len()
                ),
            );
        }
        g.sig_index.insert(f.name.clone(), g.sigs.len() as u32);
        g.sigs.push(Sig {
            params: f.params.iter().map(|p| p.ty).collect(),
            ret: f.ret,
        });
    }
    let mut funcs = Vec::new();
    for f in &m.funcs {
        funcs.push(check_func(&g, f)?);
    }
    Ok(Module {
        name: name.to_string(),
        file: file.to_string(),
        doc: m.doc,
        funcs,
        tables,
    })
}

/// Evaluates a constant's checked expression once, by the T0 interpreter itself (so the
/// value is bit for bit what every tier computed when constants were expanded at each
/// use). Uses of the constant then see one literal: a chain of constants that each use
/// the previous one twice stays linear instead of doubling the tree per constant.
fn eval_const(e: Expr) -> Result<Const, TrapKind> {
    let ty = e.ty;
    let f = Function {
        name: String::new(),
        params: Vec::new(),
        param_slots: Vec::new(),
        ret: ty,
        reassoc: false,
        workload: None,
        locals: Vec::new(),
        bufs: Vec::new(),
        body: vec![Stmt::Return(Some(e))],
    };
    let m = Module {
        name: String::new(),
        file: String::new(),
        doc: String::new(),
        funcs: vec![f],
        tables: Vec::new(),
    };
    let program = crate::t0::Program::new(&m).ok_or(TrapKind::BadArguments)?;
    program
        .run(0, &[], 1)
        .map(|bits| Const::from_bits(ty, bits))
}

fn contains_load(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |e| {
        if matches!(e.kind, ExprKind::Load(..) | ExprKind::Len(..)) {
            found = true;
        }
    });
    found
}

fn table_data(elem: Elem, items: &[AExpr]) -> R<TableData> {
    fn lit(e: &AExpr) -> R<(bool, &AExprKind)> {
        match &e.kind {
            AExprKind::Unary(AUnOp::Neg, inner) => match &inner.kind {
                k @ (AExprKind::Int { .. } | AExprKind::Float { .. }) => Ok((true, k)),
                _ => err(e.pos, "array elements must be literals"),
            },
            k @ (AExprKind::Int { .. } | AExprKind::Float { .. }) => Ok((false, k)),
            _ => err(e.pos, "array elements must be literals"),
        }
    }
    let ty = elem.value_ty();
    macro_rules! collect {
        ($variant:ident, $conv:expr) => {{
            let mut v = Vec::with_capacity(items.len());
            for it in items {
                let (neg, k) = lit(it)?;
                let c = literal(it.pos, neg, k, ty)?;
                v.push($conv(it.pos, c)?);
            }
            TableData::$variant(v)
        }};
    }
    Ok(match elem {
        Elem::U8 => collect!(U8, |p, c| match c {
            Const::I32(x) if (0..=255).contains(&x) => Ok(x as u8),
            Const::I32(_) => err(p, "u8 element out of range 0..=255"),
            _ => suffix_mismatch(p),
        }),
        Elem::I8 => collect!(I8, |p, c| match c {
            Const::I32(x) if (-128..=127).contains(&x) => Ok(x as i8),
            Const::I32(_) => err(p, "i8 element out of range -128..=127"),
            _ => suffix_mismatch(p),
        }),
        Elem::I32 => collect!(I32, |p, c| match c {
            Const::I32(x) => Ok(x),
            _ => suffix_mismatch(p),
        }),
        Elem::I64 => collect!(I64, |p, c| match c {
            Const::I64(x) => Ok(x),
            _ => suffix_mismatch(p),
        }),
        Elem::F16 => collect!(F16, |p, c| match c {
            Const::F32(x) => Ok(crate::math::half::f32_to_f16(x)),
            _ => suffix_mismatch(p),
        }),
        Elem::F32 => collect!(F32, |p, c| match c {
            Const::F32(x) => Ok(x),
            _ => suffix_mismatch(p),
        }),
        Elem::F64 => collect!(F64, |p, c| match c {
            Const::F64(x) => Ok(x),
            _ => suffix_mismatch(p),
        }),
    })
}

/// A suffixed literal (`7i64`, `1.5f64`) whose type is not the table's element type.
fn suffix_mismatch<T>(p: Pos) -> R<T> {
    err(
        p,
        "table element's type suffix does not match the table's element type",
    )
}

/// Converts a literal to a constant of type `ty` (negated when `neg`).
fn literal(pos: Pos, neg: bool, k: &AExprKind, ty: Ty) -> R<Const> {
    match k {
        AExprKind::Int {
            value,
            radix_bits,
            suffix,
        } => {
            let ty = match suffix.as_deref() {
                Some("i32") => Ty::I32,
                Some("i64") => Ty::I64,
                Some("f32") => Ty::F32,
                Some("f64") => Ty::F64,
                _ => ty,
            };
            let v = *value;
            match ty {
                Ty::I32 => {
                    let x: i32 = if *radix_bits {
                        if v > u32::MAX as u128 {
                            return err(pos, "literal does not fit in i32");
                        }
                        v as u32 as i32
                    } else if neg {
                        if v > 1u128 << 31 {
                            return err(pos, "literal does not fit in i32");
                        }
                        return Ok(Const::I32((v as i64).wrapping_neg() as i32));
                    } else {
                        if v > i32::MAX as u128 {
                            return err(pos, "literal does not fit in i32");
                        }
                        v as i32
                    };
                    Ok(Const::I32(if neg { x.wrapping_neg() } else { x }))
                }
                Ty::I64 => {
                    let x: i64 = if *radix_bits {
                        v as u64 as i64
                    } else if neg {
                        if v > 1u128 << 63 {
                            return err(pos, "literal does not fit in i64");
                        }
                        return Ok(Const::I64((v as i128).wrapping_neg() as i64));
                    } else {
                        if v > i64::MAX as u128 {
                            return err(pos, "literal does not fit in i64");
                        }
                        v as i64
                    };
                    Ok(Const::I64(if neg { x.wrapping_neg() } else { x }))
                }
                Ty::F32 if !*radix_bits => {
                    let f = v as f32;
                    Ok(Const::F32(if neg { -f } else { f }))
                }
                Ty::F64 if !*radix_bits => {
                    let f = v as f64;
                    Ok(Const::F64(if neg { -f } else { f }))
                }
                other => err(pos, format!("expected {other}, found integer literal")),
            }
        }
        AExprKind::Float { text, suffix } => {
            let ty = match suffix.as_deref() {
                Some("f32") => Ty::F32,
                Some("f64") => Ty::F64,
                _ if ty == Ty::F64 => Ty::F64,
                _ if ty == Ty::F32 => Ty::F32,
                _ => {
                    return err(pos, format!("expected {ty}, found float literal"));
                }
            };
            match ty {
                Ty::F32 => {
                    let f: f32 = text.parse().map_err(|_| PosError {
                        pos,
                        reason: "invalid float literal".into(),
                    })?;
                    if f.is_infinite() {
                        return err(pos, "literal does not fit in f32");
                    }
                    Ok(Const::F32(if neg { -f } else { f }))
                }
                _ => {
                    let f: f64 = text.parse().map_err(|_| PosError {
                        pos,
                        reason: "invalid float literal".into(),
                    })?;
                    if f.is_infinite() {
                        return err(pos, "literal does not fit in f64");
                    }
                    Ok(Const::F64(if neg { -f } else { f }))
                }
            }
        }
        _ => err(pos, "expected a literal"),
    }
}

/// The type an unsuffixed literal defaults to, or `None` when `e` is not an untyped literal.
fn untyped_literal(e: &AExpr) -> bool {
    match &e.kind {
        AExprKind::Int { suffix: None, .. } | AExprKind::Float { suffix: None, .. } => true,
        AExprKind::Unary(AUnOp::Neg, inner) => untyped_literal(inner),
        _ => false,
    }
}

fn check_func(g: &Globals, f: &AFunc) -> R<Function> {
    let mut cx = FnCx::new(g, f.ret);
    cx.scopes.push(Vec::new());
    let mut param_slots = Vec::new();
    let mut bufs = Vec::new();
    for p in &f.params {
        if cx.names.contains_key(&p.name) {
            return err(p.pos, format!("parameter `{}` is declared twice", p.name));
        }
        let b = match p.ty {
            ParamTy::Scalar(ty) => {
                let idx = cx.new_local(ty);
                param_slots.push(ParamSlot::Local(idx));
                Binding::Local {
                    idx,
                    ty,
                    readonly: false,
                }
            }
            ParamTy::Buf { elem, mutable } => {
                let idx = bufs.len() as u32;
                bufs.push((elem, mutable));
                param_slots.push(ParamSlot::Buf(idx));
                Binding::Buf {
                    r: BufRef::Param(idx),
                    elem,
                    mutable,
                }
            }
        };
        cx.declare(&p.name, b);
    }
    let body = cx.block(&f.body)?;
    if f.ret != Ty::Unit && !always_returns(&f.body) {
        return err(
            f.end_pos,
            format!(
                "function `{}` must return a {} on every path",
                f.name, f.ret
            ),
        );
    }
    Ok(Function {
        name: f.name.clone(),
        params: f.params.iter().map(|p| p.ty).collect(),
        param_slots,
        ret: f.ret,
        reassoc: f.reassoc,
        workload: workload::check(f)?,
        locals: cx.locals,
        bufs,
        body,
    })
}

fn always_returns(stmts: &[AStmt]) -> bool {
    match stmts.last() {
        Some(AStmt::Return(..)) => true,
        Some(AStmt::If {
            then,
            els: Some(els),
            ..
        }) => always_returns(then) && always_returns(els),
        Some(AStmt::Block(b)) => always_returns(b),
        Some(AStmt::While { cond, body }) => {
            matches!(cond.kind, AExprKind::Bool(true)) && !has_break(body)
        }
        _ => false,
    }
}

fn has_break(stmts: &[AStmt]) -> bool {
    stmts.iter().any(|s| match s {
        AStmt::Break(_) => true,
        AStmt::If { then, els, .. } => has_break(then) || els.as_deref().is_some_and(has_break),
        AStmt::Block(b) => has_break(b),
        _ => false,
    })
}

fn binop(op: ABinOp) -> BinOp {
    match op {
        ABinOp::Mul => BinOp::Mul,
        ABinOp::Div => BinOp::Div,
        ABinOp::Rem => BinOp::Rem,
        ABinOp::Add => BinOp::Add,
        ABinOp::Sub => BinOp::Sub,
        ABinOp::Shl => BinOp::Shl,
        ABinOp::Shr => BinOp::Shr,
        ABinOp::UShr => BinOp::UShr,
        ABinOp::And => BinOp::And,
        ABinOp::Xor => BinOp::Xor,
        ABinOp::Or => BinOp::Or,
        ABinOp::Eq => BinOp::Eq,
        ABinOp::Ne => BinOp::Ne,
        ABinOp::Lt => BinOp::Lt,
        ABinOp::Le => BinOp::Le,
        ABinOp::Gt => BinOp::Gt,
        ABinOp::Ge => BinOp::Ge,
        ABinOp::LAnd | ABinOp::LOr => BinOp::And,
    }
}

impl FnCx<'_> {
    fn new(g: &Globals, ret: Ty) -> FnCx<'_> {
        FnCx {
            g,
            names: HashMap::new(),
            scopes: Vec::new(),
            locals: Vec::new(),
            loop_depth: 0,
            ret,
        }
    }

    /// Binds `name` in the innermost scope (shadowing any outer binding).
    fn declare(&mut self, name: &str, b: Binding) {
        self.names.entry_ref(name).or_default().push(b);
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(name.into());
        }
    }

    fn open_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    fn close_scope(&mut self) {
        for name in self.scopes.pop().unwrap_or_default() {
            if let Some(v) = self.names.get_mut(&name) {
                v.pop();
            }
        }
    }

    fn new_local(&mut self, ty: Ty) -> u32 {
        self.locals.push(ty);
        (self.locals.len() - 1) as u32
    }

    fn lookup(&self, name: &str) -> Option<Binding> {
        match self.names.get(name).and_then(|v| v.last()) {
            Some(b) => Some(b.clone()),
            None => self.g.consts.get(name).cloned(),
        }
    }

    fn block(&mut self, stmts: &[AStmt]) -> R<Vec<Stmt>> {
        self.open_scope();
        let mut out = Vec::new();
        let r = stmts.iter().try_for_each(|s| self.stmt(s, &mut out));
        self.close_scope();
        r.map(|()| out)
    }

    /// Checks one statement into `out`. Each kind has its own function so that a nesting
    /// level keeps only the frame of its own construct on the stack (in a debug build
    /// every temporary of a function has its own stack slot).
    fn stmt(&mut self, s: &AStmt, out: &mut Vec<Stmt>) -> R<()> {
        match s {
            AStmt::Let {
                name,
                pos,
                ty,
                init,
            } => self.let_stmt(name, *pos, *ty, init, out),
            AStmt::Assign {
                target: ATarget::Var(name, npos),
                op,
                value,
                pos,
            } => self.assign_var(name, *npos, *op, value, *pos, out),
            AStmt::Assign {
                target:
                    ATarget::Index {
                        buf,
                        pos: bpos,
                        index,
                    },
                op,
                value,
                pos,
            } => self.assign_index(buf, *bpos, index, *op, value, *pos, out),
            AStmt::If { cond, then, els } => self.if_stmt(cond, then, els.as_deref(), out),
            AStmt::While { cond, body } => self.while_stmt(cond, body, out),
            AStmt::For {
                var,
                pos,
                start,
                end,
                step,
                body,
            } => self.for_stmt(var, *pos, start, end, step.as_ref(), body, out),
            AStmt::Break(pos) | AStmt::Continue(pos) => {
                let brk = matches!(s, AStmt::Break(_));
                if self.loop_depth == 0 {
                    let what = if brk { "break" } else { "continue" };
                    return err(*pos, format!("`{what}` outside a loop"));
                }
                out.push(if brk { Stmt::Break } else { Stmt::Continue });
                Ok(())
            }
            AStmt::Return(pos, v) => self.return_stmt(*pos, v.as_ref(), out),
            AStmt::Expr(e) => self.eval_stmt(e, out),
            AStmt::Block(b) => self.block_stmt(b, out),
        }
    }

    fn let_stmt(
        &mut self,
        name: &str,
        pos: Pos,
        ty: Option<Ty>,
        init: &AExpr,
        out: &mut Vec<Stmt>,
    ) -> R<()> {
        check_name(name, pos)?;
        let e = self.expr(init, ty)?;
        if let Some(t) = ty
            && e.ty != t
        {
            return err(init.pos, format!("expected {t}, found {}", e.ty));
        }
        if e.ty == Ty::Unit {
            return err(init.pos, "cannot bind a value of type ()");
        }
        let idx = self.new_local(e.ty);
        out.push(Stmt::Set(idx, e));
        let ty = self.locals[idx as usize];
        self.declare(
            name,
            Binding::Local {
                idx,
                ty,
                readonly: false,
            },
        );
        Ok(())
    }

    /// `x = e;` or `x op= e;`.
    fn assign_var(
        &mut self,
        name: &str,
        npos: Pos,
        op: Option<BinTok>,
        value: &AExpr,
        pos: Pos,
        out: &mut Vec<Stmt>,
    ) -> R<()> {
        let (idx, ty) = match self.lookup(name) {
            Some(Binding::Local { readonly: true, .. }) => {
                return err(npos, format!("loop variable `{name}` is read-only"));
            }
            Some(Binding::Local { idx, ty, .. }) => (idx, ty),
            Some(_) => return err(npos, format!("`{name}` is not a variable")),
            None => return err(npos, format!("unknown variable `{name}`")),
        };
        let v = self.expr(value, Some(ty))?;
        let v = match op {
            None => v,
            Some(b) => self.compound(b, Expr::local(idx, ty), v, pos)?,
        };
        if v.ty != ty {
            return err(value.pos, format!("expected {ty}, found {}", v.ty));
        }
        out.push(Stmt::Set(idx, v));
        Ok(())
    }

    /// `buf[i] = e;` or `buf[i] op= e;`.
    #[allow(clippy::too_many_arguments)]
    fn assign_index(
        &mut self,
        buf: &str,
        bpos: Pos,
        index: &AExpr,
        op: Option<BinTok>,
        value: &AExpr,
        pos: Pos,
        out: &mut Vec<Stmt>,
    ) -> R<()> {
        let (r, elem) = match self.lookup(buf) {
            Some(Binding::Buf {
                r,
                elem,
                mutable: true,
            }) => (r, elem),
            Some(Binding::Buf { .. }) => {
                return err(bpos, format!("buffer `{buf}` is read-only"));
            }
            Some(_) => return err(bpos, format!("`{buf}` is not a buffer")),
            None => return err(bpos, format!("unknown buffer `{buf}`")),
        };
        let idx = self.index_expr(index)?;
        let vt = elem.value_ty();
        let v = self.expr(value, Some(vt))?;
        match op {
            None => {
                if v.ty != vt {
                    return err(value.pos, format!("expected {vt}, found {}", v.ty));
                }
                out.push(Stmt::Store(r, idx, v));
            }
            Some(b) => {
                let idx_e = if idx.has_call() {
                    let t = self.new_local(idx.ty);
                    out.push(Stmt::Set(t, idx.clone()));
                    Expr::local(t, idx.ty)
                } else {
                    idx
                };
                let cur = Expr {
                    ty: vt,
                    kind: ExprKind::Load(r, Box::new(idx_e.clone())),
                };
                let v = self.compound(b, cur, v, pos)?;
                if v.ty != vt {
                    return err(value.pos, format!("expected {vt}, found {}", v.ty));
                }
                out.push(Stmt::Store(r, idx_e, v));
            }
        }
        Ok(())
    }

    fn if_stmt(
        &mut self,
        cond: &AExpr,
        then: &[AStmt],
        els: Option<&[AStmt]>,
        out: &mut Vec<Stmt>,
    ) -> R<()> {
        let c = self.cond(cond)?;
        let t = self.block(then)?;
        let e = match els {
            Some(e) => self.block(e)?,
            None => Vec::new(),
        };
        out.push(Stmt::If(c, t, e));
        Ok(())
    }

    fn while_stmt(&mut self, cond: &AExpr, body: &[AStmt], out: &mut Vec<Stmt>) -> R<()> {
        let c = self.cond(cond)?;
        self.loop_depth += 1;
        let b = self.block(body)?;
        self.loop_depth -= 1;
        out.push(Stmt::While(c, b));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn for_stmt(
        &mut self,
        var: &str,
        pos: Pos,
        start: &AExpr,
        end: &AExpr,
        step: Option<&AExpr>,
        body: &[AStmt],
        out: &mut Vec<Stmt>,
    ) -> R<()> {
        check_name(var, pos)?;
        // the checked header is boxed: the body's nesting levels stack only a small frame
        let mut fl = self.for_head(start, end, step)?;
        let ty = fl.start.ty;
        self.open_scope();
        self.declare(
            var,
            Binding::Local {
                idx: fl.var,
                ty,
                readonly: true,
            },
        );
        self.loop_depth += 1;
        let b = self.block(body);
        self.loop_depth -= 1;
        self.close_scope();
        fl.body = b?;
        out.push(Stmt::For(fl));
        Ok(())
    }

    /// The bounds and step of a `for` loop (one integer type), and its hidden locals.
    fn for_head(&mut self, start: &AExpr, end: &AExpr, step: Option<&AExpr>) -> R<Box<ForLoop>> {
        let (s, e) = self.pair(start, end, None)?;
        if !s.ty.is_int() {
            return err(
                start.pos,
                format!("a for loop ranges over i32 or i64, found {}", s.ty),
            );
        }
        if e.ty != s.ty {
            return err(
                end.pos,
                format!(
                    "`for` bounds have different types: start is {}, end is {}",
                    s.ty, e.ty
                ),
            );
        }
        let st = match step {
            Some(st) => {
                let x = self.expr(st, Some(s.ty))?;
                if x.ty != s.ty {
                    return err(st.pos, format!("expected {}, found {}", s.ty, x.ty));
                }
                Some(x)
            }
            None => None,
        };
        let ty = s.ty;
        let end_local = self.new_local(ty);
        let step_local = self.new_local(ty);
        let var = self.new_local(ty);
        Ok(Box::new(ForLoop {
            var,
            start: s,
            end: e,
            step: st,
            end_local,
            step_local,
            body: Vec::new(),
        }))
    }

    fn return_stmt(&mut self, pos: Pos, v: Option<&AExpr>, out: &mut Vec<Stmt>) -> R<()> {
        match (v, self.ret) {
            (None, Ty::Unit) => out.push(Stmt::Return(None)),
            (None, t) => return err(pos, format!("`return` needs a {t} value")),
            (Some(e), Ty::Unit) => return err(e.pos, "this function returns nothing"),
            (Some(e), t) => {
                let x = self.expr(e, Some(t))?;
                if x.ty != t {
                    return err(e.pos, format!("expected {t}, found {}", x.ty));
                }
                out.push(Stmt::Return(Some(x)));
            }
        }
        Ok(())
    }

    /// A call used as a statement.
    fn eval_stmt(&mut self, e: &AExpr, out: &mut Vec<Stmt>) -> R<()> {
        let is_call = match &e.kind {
            AExprKind::Call { name, .. } => {
                self.g.sig_index.contains_key(name.as_str())
                    || (name != "len" && Intrinsic::from_name(name).is_none())
            }
            _ => false,
        };
        if !is_call {
            return err(e.pos, "only a function call can be used as a statement");
        }
        let x = self.expr_any(e, None)?;
        out.push(Stmt::Eval(x));
        Ok(())
    }

    fn block_stmt(&mut self, b: &[AStmt], out: &mut Vec<Stmt>) -> R<()> {
        let mut v = self.block(b)?;
        out.append(&mut v);
        Ok(())
    }

    fn compound(&mut self, b: BinTok, cur: Expr, v: Expr, pos: Pos) -> R<Expr> {
        let op = ABinOp::from_compound(b);
        self.make_binary(op, cur, v, pos)
    }

    fn cond(&mut self, e: &AExpr) -> R<Expr> {
        let c = self.expr(e, Some(Ty::Bool))?;
        if c.ty != Ty::Bool {
            return err(e.pos, format!("expected bool, found {}", c.ty));
        }
        Ok(c)
    }

    fn index_expr(&mut self, e: &AExpr) -> R<Expr> {
        let x = self.expr(e, Some(Ty::I32))?;
        if !x.ty.is_int() {
            return err(
                e.pos,
                format!("an index must be i32 or i64, found {}", x.ty),
            );
        }
        Ok(x)
    }

    /// Checks two operands that must have the same type, using one to type a literal other.
    fn pair(&mut self, a: &AExpr, b: &AExpr, expected: Option<Ty>) -> R<(Expr, Expr)> {
        if untyped_literal(a) && !untyped_literal(b) {
            let y = self.expr(b, expected)?;
            let x = self.expr(a, Some(y.ty))?;
            Ok((x, y))
        } else {
            let x = self.expr(a, expected)?;
            let y = self.expr(b, Some(x.ty))?;
            Ok((x, y))
        }
    }

    fn expr(&mut self, e: &AExpr, expected: Option<Ty>) -> R<Expr> {
        let x = self.expr_any(e, expected)?;
        if x.ty == Ty::Unit {
            return err(e.pos, "this call returns no value");
        }
        Ok(x)
    }

    /// Checks an expression (of any type, `()` included). The recursive kinds have their
    /// own functions, so each nesting level keeps only a small frame on the stack.
    fn expr_any(&mut self, e: &AExpr, expected: Option<Ty>) -> R<Expr> {
        let pos = e.pos;
        match &e.kind {
            AExprKind::Int { .. } | AExprKind::Float { .. } => self.literal_expr(e, expected),
            AExprKind::Bool(b) => Ok(Expr::constant(Const::Bool(*b))),
            AExprKind::Name(n) => self.name_expr(n, pos),
            AExprKind::Unary(AUnOp::Neg, inner)
                if matches!(inner.kind, AExprKind::Int { .. } | AExprKind::Float { .. }) =>
            {
                let dflt = match (&inner.kind, expected) {
                    (_, Some(t)) => t,
                    (AExprKind::Float { .. }, None) => Ty::F32,
                    _ => Ty::I32,
                };
                Ok(Expr::constant(literal(inner.pos, true, &inner.kind, dflt)?))
            }
            AExprKind::Unary(op, inner) => self.unary_expr(*op, inner, pos, expected),
            AExprKind::Binary(op, a, b) => self.binary_expr(*op, a, b, pos, expected),
            AExprKind::Cast(inner, to) => self.cast_expr(inner, *to, pos),
            AExprKind::Index { buf, index } => self.load_expr(buf, index, pos),
            AExprKind::Slice { .. } => err(
                pos,
                "a slice `buf[lo..hi]` can only be passed as a call argument",
            ),
            AExprKind::Call { name, args } => self.call(name, args, pos, expected),
        }
    }

    fn literal_expr(&mut self, e: &AExpr, expected: Option<Ty>) -> R<Expr> {
        let dflt = match (&e.kind, expected) {
            (_, Some(t)) => t,
            (AExprKind::Float { .. }, None) => Ty::F32,
            _ => Ty::I32,
        };
        // a float literal where an integer/bool is expected: report that mismatch
        if let AExprKind::Float { suffix: None, .. } = e.kind
            && !dflt.is_float()
        {
            return err(e.pos, format!("expected {dflt}, found float literal"));
        }
        Ok(Expr::constant(literal(e.pos, false, &e.kind, dflt)?))
    }

    fn name_expr(&mut self, n: &str, pos: Pos) -> R<Expr> {
        match self.lookup(n) {
            Some(Binding::Local { idx, ty, .. }) => Ok(Expr::local(idx, ty)),
            Some(Binding::Const(c)) => Ok(c),
            Some(Binding::Buf { .. }) => err(
                pos,
                format!("buffer `{n}` used as a value (index it or use len)"),
            ),
            None => err(pos, format!("unknown name `{n}`")),
        }
    }

    fn unary_expr(&mut self, op: AUnOp, inner: &AExpr, pos: Pos, expected: Option<Ty>) -> R<Expr> {
        let x = self.expr(inner, expected)?;
        let (op, ok) = match op {
            AUnOp::Neg => (UnOp::Neg, x.ty.is_numeric()),
            AUnOp::Not if x.ty == Ty::Bool => (UnOp::Not, true),
            AUnOp::Not => (UnOp::BitNot, x.ty.is_int()),
        };
        if !ok {
            return err(pos, format!("operator cannot be applied to {}", x.ty));
        }
        Ok(Expr {
            ty: x.ty,
            kind: ExprKind::Unary(op, Box::new(x)),
        })
    }

    fn binary_expr(
        &mut self,
        op: ABinOp,
        a: &AExpr,
        b: &AExpr,
        pos: Pos,
        expected: Option<Ty>,
    ) -> R<Expr> {
        let exp = match op {
            ABinOp::LAnd | ABinOp::LOr => Some(Ty::Bool),
            ABinOp::Eq | ABinOp::Ne | ABinOp::Lt | ABinOp::Le | ABinOp::Gt | ABinOp::Ge => None,
            _ => expected,
        };
        let (x, y) = self.pair(a, b, exp)?;
        self.make_binary(op, x, y, pos)
    }

    fn cast_expr(&mut self, inner: &AExpr, to: Ty, pos: Pos) -> R<Expr> {
        let x = self.expr(inner, None)?;
        if to == Ty::Bool {
            return err(pos, "cannot cast to bool (compare with 0 instead)");
        }
        if x.ty == Ty::Bool && to.is_float() {
            return err(pos, "cannot cast bool to a float type");
        }
        Ok(Expr {
            ty: to,
            kind: ExprKind::Cast(Box::new(x)),
        })
    }

    /// `buf[index]` as a value.
    fn load_expr(&mut self, buf: &str, index: &AExpr, pos: Pos) -> R<Expr> {
        let (r, elem, _) = self.buf(buf, pos)?;
        let i = self.index_expr(index)?;
        Ok(Expr {
            ty: elem.value_ty(),
            kind: ExprKind::Load(r, Box::new(i)),
        })
    }

    fn buf(&self, name: &str, pos: Pos) -> R<(BufRef, Elem, bool)> {
        match self.lookup(name) {
            Some(Binding::Buf { r, elem, mutable }) => Ok((r, elem, mutable)),
            Some(_) => err(pos, format!("`{name}` is not a buffer")),
            None => err(pos, format!("unknown buffer `{name}`")),
        }
    }

    fn make_binary(&mut self, op: ABinOp, x: Expr, y: Expr, pos: Pos) -> R<Expr> {
        if x.ty != y.ty {
            return err(
                pos,
                format!("operands have different types: {} and {}", x.ty, y.ty),
            );
        }
        let t = x.ty;
        match op {
            ABinOp::LAnd | ABinOp::LOr => {
                if t != Ty::Bool {
                    return err(pos, format!("`&&` and `||` need bool operands, found {t}"));
                }
                let k = if op == ABinOp::LAnd {
                    ExprKind::LogicAnd(Box::new(x), Box::new(y))
                } else {
                    ExprKind::LogicOr(Box::new(x), Box::new(y))
                };
                Ok(Expr {
                    ty: Ty::Bool,
                    kind: k,
                })
            }
            _ => {
                let bop = binop(op);
                let ok = match bop {
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                        t.is_numeric()
                    }
                    BinOp::And | BinOp::Or | BinOp::Xor => t.is_int() || t == Ty::Bool,
                    BinOp::Shl | BinOp::Shr | BinOp::UShr => t.is_int(),
                    BinOp::Eq | BinOp::Ne => t != Ty::Unit,
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => t.is_numeric(),
                };
                if !ok {
                    return err(pos, format!("operator cannot be applied to {t}"));
                }
                let rt = if bop.is_cmp() { Ty::Bool } else { t };
                Ok(Expr {
                    ty: rt,
                    kind: ExprKind::Binary(bop, Box::new(x), Box::new(y)),
                })
            }
        }
    }

    /// `len(buf)`, an intrinsic or a call of a module function.
    fn call(&mut self, name: &str, args: &[AExpr], pos: Pos, expected: Option<Ty>) -> R<Expr> {
        if name == "len" {
            return self.len_call(args, pos);
        }
        match Intrinsic::from_name(name) {
            Some(intr) if self.lookup(name).is_none() => {
                self.intrinsic(intr, name, args, pos, expected)
            }
            _ => self.function_call(name, args, pos),
        }
    }

    fn function_call(&mut self, name: &str, args: &[AExpr], pos: Pos) -> R<Expr> {
        let Some(&fidx) = self.g.sig_index.get(name) else {
            return err(pos, format!("unknown function `{name}`"));
        };
        let sig = &self.g.sigs[fidx as usize];
        if sig.params.len() != args.len() {
            return err(
                pos,
                format!(
                    "`{name}` takes {} arguments, {} given",
                    sig.params.len(),
                    args.len()
                ),
            );
        }
        let params = sig.params.clone();
        let ret = sig.ret;
        let mut out = Vec::with_capacity(args.len());
        let mut used: Vec<(BufRef, bool)> = Vec::new();
        for (p, a) in params.iter().zip(args) {
            let arg = match *p {
                ParamTy::Scalar(t) => self.scalar_arg(t, a)?,
                ParamTy::Buf { elem, mutable } => self.buf_arg(elem, mutable, a, &mut used)?,
            };
            out.push(arg);
        }
        Ok(Expr {
            ty: ret,
            kind: ExprKind::Call(fidx, out),
        })
    }

    /// `len(buf)`.
    fn len_call(&mut self, args: &[AExpr], pos: Pos) -> R<Expr> {
        if args.len() != 1 {
            return err(pos, "`len` takes one buffer");
        }
        let AExprKind::Name(b) = &args[0].kind else {
            return err(args[0].pos, "`len` takes a buffer name");
        };
        let (r, _, _) = self.buf(b, args[0].pos)?;
        Ok(Expr {
            ty: Ty::I32,
            kind: ExprKind::Len(r),
        })
    }

    fn scalar_arg(&mut self, t: Ty, a: &AExpr) -> R<CallArg> {
        let x = self.expr(a, Some(t))?;
        if x.ty != t {
            return err(a.pos, format!("expected {t}, found {}", x.ty));
        }
        Ok(CallArg::Scalar(x))
    }

    /// A buffer argument: a buffer or a slice `buf[lo..hi]`, never aliasing a `&mut`
    /// argument of the same call (`used`: the buffers passed so far and whether as `&mut`).
    fn buf_arg(
        &mut self,
        elem: Elem,
        mutable: bool,
        a: &AExpr,
        used: &mut Vec<(BufRef, bool)>,
    ) -> R<CallArg> {
        let p = ParamTy::Buf { elem, mutable };
        let (bname, arg) = match &a.kind {
            AExprKind::Name(b) => (b, None),
            AExprKind::Slice { buf, lo, hi } => (buf, Some((lo, hi))),
            _ => return err(a.pos, format!("expected a buffer argument ({p})")),
        };
        let (r, be, bm) = self.buf(bname, a.pos)?;
        if be != elem {
            return err(a.pos, format!("expected {p}, found a buffer of {be}"));
        }
        if mutable && !bm {
            return err(
                a.pos,
                format!("buffer `{bname}` is read-only but the parameter is &mut"),
            );
        }
        if used.iter().any(|(u, um)| *u == r && (*um || mutable)) {
            return err(
                a.pos,
                format!(
                    "buffer `{bname}` is passed twice and one of them is &mut (buffers must not alias)"
                ),
            );
        }
        used.push((r, mutable));
        let Some((lo, hi)) = arg else {
            return Ok(CallArg::Buf(r));
        };
        let (l, h) = self.pair(lo, hi, Some(Ty::I32))?;
        if !l.ty.is_int() {
            return err(
                lo.pos,
                format!("slice bounds must be i32 or i64, found {}", l.ty),
            );
        }
        Ok(CallArg::Slice(r, l, h))
    }

    fn intrinsic(
        &mut self,
        intr: Intrinsic,
        name: &str,
        args: &[AExpr],
        pos: Pos,
        expected: Option<Ty>,
    ) -> R<Expr> {
        use Intrinsic::*;
        let arity = match intr {
            Sqrt | Abs | Floor | Ceil | Trunc | Nearest | Exp | Ln | Sin | Cos | Tanh | Popcnt
            | Clz | Ctz => 1,
            Fma | Select => 3,
            _ => 2,
        };
        if args.len() != arity {
            return err(
                pos,
                format!("`{name}` takes {arity} arguments, {} given", args.len()),
            );
        }
        if intr == Select {
            return self.select_intrinsic(args, pos, expected);
        }
        let operand_expected = match intr {
            Ult | Ule | Ugt | Uge => None,
            _ => expected,
        };
        let xs = self.same_type_args(name, args, operand_expected)?;
        let t = xs[0].ty;
        let ok = match intr {
            Sqrt | Floor | Ceil | Trunc | Nearest | Exp | Ln | Sin | Cos | Tanh | Pow | Fma
            | Copysign => t.is_float(),
            Abs | Min | Max => t.is_numeric(),
            Rotl | Rotr | Popcnt | Clz | Ctz | Udiv | Urem | Ult | Ule | Ugt | Uge => t.is_int(),
            Select => true,
        };
        if !ok {
            return err(pos, format!("`{name}` cannot be applied to {t}"));
        }
        let rt = if matches!(intr, Ult | Ule | Ugt | Uge) {
            Ty::Bool
        } else {
            t
        };
        Ok(Expr {
            ty: rt,
            kind: ExprKind::Intrinsic(intr, xs),
        })
    }

    /// `select(c, a, b)`.
    fn select_intrinsic(&mut self, args: &[AExpr], pos: Pos, expected: Option<Ty>) -> R<Expr> {
        let c = self.cond(&args[0])?;
        let (a, b) = self.pair(&args[1], &args[2], expected)?;
        if a.ty != b.ty {
            return err(
                pos,
                format!("`select` arms have different types: {} and {}", a.ty, b.ty),
            );
        }
        Ok(Expr {
            ty: a.ty,
            kind: ExprKind::Intrinsic(Intrinsic::Select, vec![c, a, b]),
        })
    }

    /// The arguments of an intrinsic whose operands share one type: the first argument
    /// that is not an untyped literal is typed first, the others with its type.
    fn same_type_args(&mut self, name: &str, args: &[AExpr], expected: Option<Ty>) -> R<Vec<Expr>> {
        let lead = args.iter().position(|a| !untyped_literal(a)).unwrap_or(0);
        let mut xs = Vec::with_capacity(args.len());
        xs.push(self.expr(&args[lead], expected)?);
        let t = xs[0].ty;
        for (i, a) in args.iter().enumerate() {
            if i != lead {
                xs.push(self.expr(a, Some(t))?);
                if xs[xs.len() - 1].ty != t {
                    return mixed_args(name, t, &xs[xs.len() - 1], a.pos);
                }
            }
        }
        // back into argument order
        xs[..=lead].rotate_left(1);
        Ok(xs)
    }
}

#[cold]
fn mixed_args(name: &str, t: Ty, x: &Expr, pos: Pos) -> R<Vec<Expr>> {
    err(
        pos,
        format!(
            "`{name}` arguments have different types: {} and {}",
            t, x.ty
        ),
    )
}

fn check_name(name: &str, pos: Pos) -> R<()> {
    if name == "len" || Intrinsic::from_name(name).is_some() {
        return err(pos, format!("`{name}` is an intrinsic name"));
    }
    Ok(())
}
