//! Checks a `#[workload(...)]` attribute against its function's signature and evaluates
//! its constant expressions (`jit/IR.md`, "Workloads").

use super::super::ast::{ABinOp, AFunc, AWorkExpr, AWorkExprKind, AWorkSpec, AWorkValue};
use super::super::diag::{Pos, err};
use super::R;
use crate::ir::{Elem, ParamTy, Ty};
use crate::workload::{Fill, MAX_WORKLOAD_BYTES, Number, ParamInput, ScalarInput, Workload};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use hashbrown::HashMap;

/// A constant while it is evaluated: integers wide enough that no step of a workload's
/// arithmetic wraps silently (overflow of `i128` is an error).
#[derive(Clone, Copy)]
enum Val {
    Int(i128),
    Float(f64),
    Bool(bool),
}

/// What a name in a workload expression stands for.
enum Binding {
    Fixed(Val),
    Random,
}

/// The verified workload of `f`: from its attribute; a function without parameters runs
/// with none; `None` for any other function without one.
pub(super) fn check(f: &AFunc) -> R<Option<Workload>> {
    let Some(attr) = &f.workload else {
        return Ok(f.params.is_empty().then(|| Workload {
            params: Vec::new(),
            reassoc: f.reassoc,
        }));
    };
    let mut inputs: Vec<Option<ParamInput>> = vec![None; f.params.len()];
    let mut names: HashMap<&str, Binding> = HashMap::new();
    let mut bytes: usize = 0;
    for entry in &attr.entries {
        let Some(idx) = f.params.iter().position(|p| p.name == entry.name) else {
            return err(
                entry.pos,
                format!("`{}` is not a parameter of `{}`", entry.name, f.name),
            );
        };
        if inputs[idx].is_some() {
            return err(
                entry.pos,
                format!("parameter `{}` is given twice", entry.name),
            );
        }
        let input = match (f.params[idx].ty, &entry.spec) {
            (ParamTy::Scalar(ty), AWorkSpec::Scalar(value)) => {
                let (input, binding) = scalar(&names, &entry.name, ty, value)?;
                names.insert(entry.name.as_str(), binding);
                ParamInput::Scalar { ty, input }
            }
            (ParamTy::Buf { elem, mutable }, AWorkSpec::Buffer { pos, fill, len }) => {
                let len = length(&names, len)?;
                bytes = bytes.saturating_add(len.saturating_mul(elem.size()));
                if bytes > MAX_WORKLOAD_BYTES {
                    return err(
                        *pos,
                        format!(
                            "the buffers of a workload hold at most {MAX_WORKLOAD_BYTES} bytes \
                             together; with `{}` they hold {bytes}",
                            entry.name
                        ),
                    );
                }
                let fill = buffer_fill(&names, &entry.name, elem, fill)?;
                ParamInput::Buffer {
                    elem,
                    mutable,
                    len,
                    fill,
                }
            }
            (ParamTy::Buf { elem, mutable }, AWorkSpec::Scalar(_)) => {
                let m = if mutable { "&mut " } else { "&" };
                return err(
                    entry.pos,
                    format!(
                        "`{}` is a buffer ({m}[{}]): give `[fill; length]`, e.g. `[random(-1, 1); 1024]`",
                        entry.name, elem
                    ),
                );
            }
            (ParamTy::Scalar(ty), AWorkSpec::Buffer { .. }) => {
                return err(
                    entry.pos,
                    format!("`{}` is a scalar ({ty}), not a buffer", entry.name),
                );
            }
        };
        inputs[idx] = Some(input);
    }
    let mut params = Vec::with_capacity(inputs.len());
    for (p, input) in f.params.iter().zip(inputs) {
        match input {
            Some(i) => params.push(i),
            None => {
                return err(
                    attr.pos,
                    format!(
                        "the workload of `{}` gives no value for parameter `{}`",
                        f.name, p.name
                    ),
                );
            }
        }
    }
    Ok(Some(Workload {
        params,
        reassoc: f.reassoc,
    }))
}

fn scalar(
    names: &HashMap<&str, Binding>,
    name: &str,
    ty: Ty,
    value: &AWorkValue,
) -> R<(ScalarInput, Binding)> {
    match value {
        AWorkValue::Fixed(e) => {
            let v = eval(names, e)?;
            let n = number(v, ty, None, e.pos, name)?;
            Ok((ScalarInput::Fixed(n), Binding::Fixed(v)))
        }
        AWorkValue::Random { pos, lo, hi } => {
            let (lo, hi) = bounds(names, name, ty, None, *pos, lo, hi)?;
            Ok((ScalarInput::Random { lo, hi }, Binding::Random))
        }
        AWorkValue::Iota(pos) => err(*pos, "`iota` fills buffers; a scalar takes a value"),
    }
}

fn buffer_fill(
    names: &HashMap<&str, Binding>,
    name: &str,
    elem: Elem,
    fill: &AWorkValue,
) -> R<Fill> {
    let (ty, range) = match elem {
        Elem::U8 => (Ty::I32, Some((0, 255))),
        Elem::I8 => (Ty::I32, Some((-128, 127))),
        Elem::F16 => (Ty::F32, None),
        Elem::I32 => (Ty::I32, None),
        Elem::I64 => (Ty::I64, None),
        Elem::F32 => (Ty::F32, None),
        Elem::F64 => (Ty::F64, None),
    };
    let fill = match fill {
        AWorkValue::Fixed(e) => {
            let n = number(eval(names, e)?, ty, range, e.pos, name)?;
            half_fits(elem, n, e.pos, name)?;
            Fill::Value(n)
        }
        AWorkValue::Random { pos, lo, hi } => {
            let (lo, hi) = bounds(names, name, ty, range, *pos, lo, hi)?;
            half_fits(elem, lo, *pos, name)?;
            half_fits(elem, hi, *pos, name)?;
            Fill::Random { lo, hi }
        }
        AWorkValue::Iota(_) => Fill::Iota,
    };
    Ok(fill)
}

/// An `f16` element holds finite values up to 65504 in magnitude.
fn half_fits(elem: Elem, n: Number, pos: Pos, name: &str) -> R<()> {
    match (elem, n) {
        (Elem::F16, Number::F32(v)) if !(-65504.0..=65504.0).contains(&v) => err(
            pos,
            format!("{v} is outside the f16 range of `{name}` (-65504..=65504)"),
        ),
        _ => Ok(()),
    }
}

/// The two bounds of `random(lo, hi)`: `lo <= hi` for integers, `lo < hi` for floats.
fn bounds(
    names: &HashMap<&str, Binding>,
    name: &str,
    ty: Ty,
    range: Option<(i128, i128)>,
    pos: Pos,
    lo: &AWorkExpr,
    hi: &AWorkExpr,
) -> R<(Number, Number)> {
    if ty == Ty::Bool {
        return err(pos, format!("`random` needs a number; `{name}` is a bool"));
    }
    let l = number(eval(names, lo)?, ty, range, lo.pos, name)?;
    let h = number(eval(names, hi)?, ty, range, hi.pos, name)?;
    let ordered = match (l, h) {
        (Number::I32(a), Number::I32(b)) => a <= b,
        (Number::I64(a), Number::I64(b)) => a <= b,
        (Number::F32(a), Number::F32(b)) => a < b,
        (Number::F64(a), Number::F64(b)) => a < b,
        _ => false,
    };
    if !ordered {
        let need = if ty.is_float() { "below" } else { "at most" };
        return err(
            pos,
            format!("`random({l}, {h})`: the low bound must be {need} the high one"),
        );
    }
    Ok((l, h))
}

/// A buffer length: a non-negative integer.
fn length(names: &HashMap<&str, Binding>, e: &AWorkExpr) -> R<usize> {
    match eval(names, e)? {
        Val::Int(v) if v >= 0 => {
            usize::try_from(v).or_else(|_| err(e.pos, "buffer length too large"))
        }
        Val::Int(v) => err(e.pos, format!("buffer length {v} is negative")),
        _ => err(e.pos, "a buffer length is an integer"),
    }
}

/// `v` as a value of type `ty` (and within `range`, for `u8` elements).
fn number(v: Val, ty: Ty, range: Option<(i128, i128)>, pos: Pos, name: &str) -> R<Number> {
    let int = |lo: i128, hi: i128, v: i128| -> R<i128> {
        let (lo, hi) = range.unwrap_or((lo, hi));
        if v < lo || v > hi {
            return err(pos, format!("{v} does not fit `{name}` ({lo}..={hi})"));
        }
        Ok(v)
    };
    Ok(match (ty, v) {
        (Ty::I32, Val::Int(v)) => Number::I32(int(i32::MIN.into(), i32::MAX.into(), v)? as i32),
        (Ty::I64, Val::Int(v)) => Number::I64(int(i64::MIN.into(), i64::MAX.into(), v)? as i64),
        (Ty::F32, Val::Int(v)) => Number::F32(v as f32),
        (Ty::F64, Val::Int(v)) => Number::F64(v as f64),
        (Ty::F32, Val::Float(f)) if (f as f32).is_finite() => Number::F32(f as f32),
        (Ty::F64, Val::Float(f)) if f.is_finite() => Number::F64(f),
        (Ty::F32 | Ty::F64, Val::Float(f)) => {
            return err(pos, format!("{f} is not a finite {ty}"));
        }
        (Ty::Bool, Val::Bool(b)) => Number::Bool(b),
        (Ty::I32 | Ty::I64, Val::Float(_)) => {
            return err(
                pos,
                format!("`{name}` takes an integer ({ty}), not a float"),
            );
        }
        (_, Val::Bool(_)) => {
            return err(pos, format!("`{name}` takes a {ty}, not a bool"));
        }
        (_, _) => return err(pos, format!("`{name}` takes a {ty}")),
    })
}

fn eval(names: &HashMap<&str, Binding>, e: &AWorkExpr) -> R<Val> {
    match &e.kind {
        AWorkExprKind::Int(v) => match i128::try_from(*v) {
            Ok(v) => Ok(Val::Int(v)),
            Err(_) => err(e.pos, "integer literal too large"),
        },
        AWorkExprKind::Float(text) => match text.parse::<f64>() {
            Ok(f) => Ok(Val::Float(f)),
            Err(_) => err(e.pos, format!("malformed float literal `{text}`")),
        },
        AWorkExprKind::Bool(b) => Ok(Val::Bool(*b)),
        AWorkExprKind::Name(n) => match names.get(n.as_str()) {
            Some(Binding::Fixed(v)) => Ok(*v),
            Some(Binding::Random) => err(
                e.pos,
                format!("`{n}` is drawn at random; only fixed values can be used here"),
            ),
            None => err(
                e.pos,
                format!(
                    "`{n}` is not a scalar parameter given a fixed value earlier in this workload"
                ),
            ),
        },
        AWorkExprKind::Neg(inner) => match eval(names, inner)? {
            Val::Int(v) => Ok(Val::Int(-v)),
            Val::Float(f) => Ok(Val::Float(-f)),
            Val::Bool(_) => err(e.pos, "`-` needs a number"),
        },
        AWorkExprKind::Bin(op, a, b) => {
            let (x, y) = (eval(names, a)?, eval(names, b)?);
            binary(*op, x, y, e.pos)
        }
    }
}

fn binary(op: ABinOp, x: Val, y: Val, pos: Pos) -> R<Val> {
    let overflow = || {
        err(
            pos,
            String::from("integer overflow in a workload expression"),
        )
    };
    match (x, y) {
        (Val::Int(a), Val::Int(b)) => {
            let r = match op {
                ABinOp::Add => a.checked_add(b),
                ABinOp::Sub => a.checked_sub(b),
                ABinOp::Mul => a.checked_mul(b),
                ABinOp::Div | ABinOp::Rem if b == 0 => {
                    return err(pos, "division by zero in a workload expression");
                }
                ABinOp::Div => a.checked_div(b),
                ABinOp::Rem => a.checked_rem(b),
                _ => return err(pos, "unsupported operator in a workload"),
            };
            match r {
                Some(v) => Ok(Val::Int(v)),
                None => overflow(),
            }
        }
        (Val::Bool(_), _) | (_, Val::Bool(_)) => err(pos, "arithmetic needs numbers, not bools"),
        (a, b) => {
            let f = |v: Val| match v {
                Val::Int(i) => i as f64,
                Val::Float(f) => f,
                Val::Bool(_) => 0.0,
            };
            let (a, b) = (f(a), f(b));
            Ok(Val::Float(match op {
                ABinOp::Add => a + b,
                ABinOp::Sub => a - b,
                ABinOp::Mul => a * b,
                ABinOp::Div => a / b,
                ABinOp::Rem => a % b,
                _ => return err(pos, "unsupported operator in a workload"),
            }))
        }
    }
}
