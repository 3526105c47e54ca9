//! The arguments a workload generates for a seed: owned, resettable, lent as [`Arg`]s.

use super::rng::Rng;
use super::spec::{Fill, Number, ParamInput, ScalarInput, Workload};
use crate::ir::Elem;
use crate::runtime::{Arg, Value};
use alloc::vec::Vec;

/// The elements of one buffer argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Buffer {
    /// `u8` elements.
    U8(Vec<u8>),
    /// `i8` elements.
    I8(Vec<i8>),
    /// `f16` elements as IEEE binary16 bit patterns (`jit::half`).
    F16(Vec<u16>),
    /// `i32` elements.
    I32(Vec<i32>),
    /// `i64` elements.
    I64(Vec<i64>),
    /// `f32` elements.
    F32(Vec<f32>),
    /// `f64` elements.
    F64(Vec<f64>),
}

/// One argument, owned.
#[derive(Clone, Debug)]
pub enum Input {
    /// A scalar argument.
    Scalar(Value),
    /// A buffer argument.
    Buffer {
        /// Its elements.
        data: Buffer,
        /// Lent as `&mut [T]`.
        mutable: bool,
    },
}

/// Scalars compare by bits ([`Value::bits_eq`]), buffers element by element.
impl PartialEq for Input {
    fn eq(&self, other: &Input) -> bool {
        match (self, other) {
            (Input::Scalar(a), Input::Scalar(b)) => a.bits_eq(b),
            (
                Input::Buffer {
                    data: a,
                    mutable: m,
                },
                Input::Buffer {
                    data: b,
                    mutable: n,
                },
            ) => m == n && a == b,
            _ => false,
        }
    }
}

/// A workload's arguments for one seed, runnable many times: [`Inputs::reset`] puts
/// every buffer back to the generated values (kernels may write their inputs).
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The arguments, as the last call left them.
    pub params: Vec<Input>,
    pristine: Vec<Input>,
}

impl Buffer {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Buffer::U8(v) => v.len(),
            Buffer::I8(v) => v.len(),
            Buffer::F16(v) => v.len(),
            Buffer::I32(v) => v.len(),
            Buffer::I64(v) => v.len(),
            Buffer::F32(v) => v.len(),
            Buffer::F64(v) => v.len(),
        }
    }

    /// True when the buffer has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn copy_from(&mut self, src: &Buffer) {
        match (self, src) {
            (Buffer::U8(d), Buffer::U8(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Buffer::I8(d), Buffer::I8(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Buffer::F16(d), Buffer::F16(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Buffer::I32(d), Buffer::I32(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Buffer::I64(d), Buffer::I64(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Buffer::F32(d), Buffer::F32(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (Buffer::F64(d), Buffer::F64(s)) if d.len() == s.len() => d.copy_from_slice(s),
            (d, s) => *d = s.clone(),
        }
    }
}

fn scalar(n: Number) -> Value {
    match n {
        Number::I32(v) => Value::I32(v),
        Number::I64(v) => Value::I64(v),
        Number::F32(v) => Value::F32(v),
        Number::F64(v) => Value::F64(v),
        Number::Bool(v) => Value::Bool(v),
    }
}

/// One draw from `lo..=hi` (integers) or `[lo, hi)` (floats); the verifier made both
/// bounds of one type with `lo <= hi` (`lo < hi` for floats).
fn draw(rng: &mut Rng, lo: Number, hi: Number) -> Number {
    match (lo, hi) {
        (Number::I32(a), Number::I32(b)) => Number::I32(rng.range_i32(a, b)),
        (Number::I64(a), Number::I64(b)) => Number::I64(rng.range_i64(a, b)),
        (Number::F32(a), Number::F32(b)) => {
            let v = rng.range_f32(a, b);
            Number::F32(if v < b { v } else { a })
        }
        (Number::F64(a), Number::F64(b)) => {
            let v = a + (b - a) * rng.unit_f64();
            Number::F64(if v < b { v } else { a })
        }
        (lo, _) => lo,
    }
}

/// The element at `i` of a fill (`iota` wraps in byte elements: `as` truncates).
fn element(rng: &mut Rng, fill: Fill, i: usize) -> Number {
    match fill {
        Fill::Value(n) => n,
        Fill::Random { lo, hi } => draw(rng, lo, hi),
        Fill::Iota => Number::I64(i as i64),
    }
}

fn as_i64(n: Number) -> i64 {
    match n {
        Number::I32(v) => i64::from(v),
        Number::I64(v) => v,
        Number::F32(v) => v as i64,
        Number::F64(v) => v as i64,
        Number::Bool(v) => i64::from(v),
    }
}

fn as_f64(n: Number) -> f64 {
    match n {
        Number::I32(v) => f64::from(v),
        Number::I64(v) => v as f64,
        Number::F32(v) => f64::from(v),
        Number::F64(v) => v,
        Number::Bool(v) => f64::from(u8::from(v)),
    }
}

fn as_f32(n: Number) -> f32 {
    match n {
        Number::F32(v) => v,
        other => as_f64(other) as f32,
    }
}

fn buffer(rng: &mut Rng, elem: Elem, len: usize, fill: Fill) -> Buffer {
    let mut next = {
        let mut i = 0;
        move |rng: &mut Rng| {
            let v = element(rng, fill, i);
            i += 1;
            v
        }
    };
    match elem {
        Elem::U8 => Buffer::U8((0..len).map(|_| as_i64(next(rng)) as u8).collect()),
        Elem::I8 => Buffer::I8((0..len).map(|_| as_i64(next(rng)) as i8).collect()),
        Elem::F16 => Buffer::F16(
            (0..len)
                .map(|_| crate::half::f32_to_f16(as_f32(next(rng))))
                .collect(),
        ),
        Elem::I32 => Buffer::I32((0..len).map(|_| as_i64(next(rng)) as i32).collect()),
        Elem::I64 => Buffer::I64((0..len).map(|_| as_i64(next(rng))).collect()),
        Elem::F32 => Buffer::F32((0..len).map(|_| as_f32(next(rng))).collect()),
        Elem::F64 => Buffer::F64((0..len).map(|_| as_f64(next(rng))).collect()),
    }
}

impl Inputs {
    /// The arguments of `w` for `seed`: the same on every machine. Parameters are
    /// generated in order from one generator.
    pub fn generate(w: &Workload, seed: u64) -> Inputs {
        let mut rng = Rng::new(seed);
        let params: Vec<Input> = w
            .params
            .iter()
            .map(|p| match *p {
                ParamInput::Scalar { input, .. } => Input::Scalar(scalar(match input {
                    ScalarInput::Fixed(n) => n,
                    ScalarInput::Random { lo, hi } => draw(&mut rng, lo, hi),
                })),
                ParamInput::Buffer {
                    elem,
                    mutable,
                    len,
                    fill,
                } => Input::Buffer {
                    data: buffer(&mut rng, elem, len, fill),
                    mutable,
                },
            })
            .collect();
        Inputs {
            pristine: params.clone(),
            params,
        }
    }

    /// Puts every argument back to its generated value (no allocation).
    pub fn reset(&mut self) {
        for (cur, init) in self.params.iter_mut().zip(&self.pristine) {
            match (cur, init) {
                (Input::Buffer { data: d, .. }, Input::Buffer { data: s, .. }) => d.copy_from(s),
                (c, i) => *c = i.clone(),
            }
        }
    }

    /// The arguments as the engine takes them, borrowing the buffers.
    pub fn args(&mut self) -> Vec<Arg<'_>> {
        self.params
            .iter_mut()
            .map(|p| match p {
                Input::Scalar(Value::I32(v)) => Arg::I32(*v),
                Input::Scalar(Value::I64(v)) => Arg::I64(*v),
                Input::Scalar(Value::F32(v)) => Arg::F32(*v),
                Input::Scalar(Value::F64(v)) => Arg::F64(*v),
                Input::Scalar(Value::Bool(v)) => Arg::Bool(*v),
                // A workload never generates a unit argument; the engine rejects the
                // call (BadArguments) should one appear.
                Input::Scalar(Value::Unit) => Arg::U8s(&[]),
                Input::Buffer { data, mutable } => match (data, *mutable) {
                    (Buffer::U8(v), false) => Arg::U8s(v),
                    (Buffer::I8(v), false) => Arg::I8s(v),
                    (Buffer::F16(v), false) => Arg::F16s(v),
                    (Buffer::I32(v), false) => Arg::I32s(v),
                    (Buffer::I64(v), false) => Arg::I64s(v),
                    (Buffer::F32(v), false) => Arg::F32s(v),
                    (Buffer::F64(v), false) => Arg::F64s(v),
                    (Buffer::U8(v), true) => Arg::U8sMut(v),
                    (Buffer::I8(v), true) => Arg::I8sMut(v),
                    (Buffer::F16(v), true) => Arg::F16sMut(v),
                    (Buffer::I32(v), true) => Arg::I32sMut(v),
                    (Buffer::I64(v), true) => Arg::I64sMut(v),
                    (Buffer::F32(v), true) => Arg::F32sMut(v),
                    (Buffer::F64(v), true) => Arg::F64sMut(v),
                },
            })
            .collect()
    }

    /// The `&mut` buffers as the last call left them, by parameter position.
    pub fn written(&self) -> impl Iterator<Item = (usize, &Buffer)> {
        self.params.iter().enumerate().filter_map(|(i, p)| match p {
            Input::Buffer {
                data,
                mutable: true,
            } => Some((i, data)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Ty;
    use alloc::vec;

    fn saxpy_like() -> Workload {
        Workload {
            reassoc: false,
            params: vec![
                ParamInput::Scalar {
                    ty: Ty::F32,
                    input: ScalarInput::Fixed(Number::F32(1.5)),
                },
                ParamInput::Buffer {
                    elem: Elem::F32,
                    mutable: false,
                    len: 100,
                    fill: Fill::Random {
                        lo: Number::F32(-1.0),
                        hi: Number::F32(1.0),
                    },
                },
                ParamInput::Buffer {
                    elem: Elem::U8,
                    mutable: true,
                    len: 300,
                    fill: Fill::Iota,
                },
                ParamInput::Scalar {
                    ty: Ty::I64,
                    input: ScalarInput::Random {
                        lo: Number::I64(-5),
                        hi: Number::I64(5),
                    },
                },
            ],
        }
    }

    #[test]
    fn generation_is_deterministic_in_range_and_resettable() {
        let w = saxpy_like();
        let a = Inputs::generate(&w, 1);
        let b = Inputs::generate(&w, 1);
        let c = Inputs::generate(&w, 2);
        assert_eq!(a.params, b.params);
        assert_ne!(a.params, c.params);
        let Input::Buffer {
            data: Buffer::F32(x),
            ..
        } = &a.params[1]
        else {
            panic!("x is an f32 buffer: {:?}", a.params[1]);
        };
        assert_eq!(x.len(), 100);
        assert!(x.iter().all(|v| (-1.0..1.0).contains(v)));
        let Input::Buffer {
            data: Buffer::U8(y),
            ..
        } = &a.params[2]
        else {
            panic!("y is a u8 buffer");
        };
        assert_eq!(y[5], 5);
        assert_eq!(y[299], (299 % 256) as u8);
        let Input::Scalar(Value::I64(k)) = a.params[3] else {
            panic!("k is an i64");
        };
        assert!((-5..=5).contains(&k));
        let mut d = a.clone();
        if let Some(Input::Buffer {
            data: Buffer::U8(y),
            ..
        }) = d.params.get_mut(2)
        {
            y[0] = 99;
        }
        assert_ne!(d.params, a.params);
        d.reset();
        assert_eq!(d.params, a.params);
        assert_eq!(d.written().count(), 1);
        assert_eq!(d.args().len(), 4);
    }
}
