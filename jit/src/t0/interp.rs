//! T0: the bytecode interpreter. IR calls use an explicit frame stack (no Rust recursion),
//! so deep IR recursion cannot overflow the (small, in the kernel) native stack.

use super::bytecode::BcFunc;
use super::ops::{CastOp, Op};
use crate::ir::{Module, ParamTy, TrapKind};
use crate::math::half;
use crate::math::libcalls::{self, Libcall};
use crate::sync::SpinLock;
use alloc::string::String;
use alloc::vec::Vec;

/// A buffer as the interpreter sees it.
#[derive(Clone, Copy, Debug)]
pub struct BufView {
    pub ptr: *mut u8,
    pub len: usize,
}

/// A module compiled to bytecode.
pub struct Program {
    pub funcs: Vec<BcFunc>,
    /// Table views (pointers into the module's table data, which outlives the program).
    tables: Vec<BufView>,
    /// Parameter lists, to split raw arguments into scalars and buffers.
    params: Vec<Vec<ParamTy>>,
    /// Idle interpreter states, reused across calls.
    pool: SpinLock<Vec<Vm>>,
}

// SAFETY: the raw pointers in `tables` point into the module's immutable table data, which
// the owner keeps alive as long as the program; the program never writes through them.
// Pooled VMs hold no buffer pointers (cleared after every call).
unsafe impl Send for Program {}
// SAFETY: as above (read-only shared data).
unsafe impl Sync for Program {}

impl Program {
    /// Compiles and validates the module's bytecode. `None` if validation fails (an internal error).
    pub fn new(m: &Module) -> Option<Program> {
        let funcs = super::bytecode::build(m);
        if !funcs
            .iter()
            .all(|f| super::bytecode::validate(f, funcs.len()))
        {
            return None;
        }
        let tables = m
            .tables
            .iter()
            .map(|t| BufView {
                ptr: t.data.ptr() as *mut u8,
                len: t.data.len(),
            })
            .collect();
        let params = m.funcs.iter().map(|f| f.params.clone()).collect();
        Some(Program {
            funcs,
            tables,
            params,
            pool: SpinLock::new(Vec::new()),
        })
    }

    /// The bytecode listing of function `f` (see [`BcFunc::listing`]).
    pub fn listing(&self, f: usize) -> Option<String> {
        self.funcs.get(f).map(BcFunc::listing)
    }

    /// Runs function `f` with raw arguments (see `values::marshal`), returning the raw result bits.
    pub fn run(&self, f: usize, raw: &[u64], depth_limit: u32) -> Result<u64, TrapKind> {
        // reuse a VM (its vectors keep their capacity) instead of allocating per call
        let mut vm = self.pool.lock().pop().unwrap_or_else(|| Vm {
            regs: Vec::new(),
            bufs: Vec::new(),
            frames: Vec::new(),
        });
        vm.regs.clear();
        vm.bufs.clear();
        vm.frames.clear();
        let mut scalars = [0u64; 64];
        let mut ns = 0;
        let mut k = 0;
        for p in &self.params[f] {
            match p {
                ParamTy::Scalar(_) => {
                    scalars[ns] = raw[k];
                    ns += 1;
                    k += 1;
                }
                ParamTy::Buf { .. } => {
                    vm.bufs.push(BufView {
                        ptr: raw[k] as usize as *mut u8,
                        len: raw[k + 1] as usize,
                    });
                    k += 2;
                }
            }
        }
        let r = vm.run(self, f, &scalars[..ns], depth_limit.max(1));
        // no buffer pointer outlives the call
        vm.bufs.clear();
        let mut pool = self.pool.lock();
        if pool.len() < 8 {
            pool.push(vm);
        }
        r
    }
}

struct Frame {
    func: u32,
    pc: u32,
    base: u32,
    bbase: u32,
    /// Destination slot in the caller's frame.
    ret_d: u32,
}

struct Vm {
    regs: Vec<u64>,
    bufs: Vec<BufView>,
    frames: Vec<Frame>,
}

#[inline(always)]
fn f32b(x: u64) -> f32 {
    f32::from_bits(x as u32)
}
#[inline(always)]
fn f64b(x: u64) -> f64 {
    f64::from_bits(x)
}
#[inline(always)]
fn bf32(x: f32) -> u64 {
    x.to_bits() as u64
}
#[inline(always)]
fn bf64(x: f64) -> u64 {
    x.to_bits()
}
#[inline(always)]
fn bi32(x: i32) -> u64 {
    x as u32 as u64
}

/// IEEE 754-2019 `minimum` / `maximum` for one float type: NaN if either operand is NaN,
/// and `-0 < +0`.
macro_rules! ieee_min_max {
    ($min:ident, $max:ident, $t:ty) => {
        pub fn $min(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a < b {
                a
            } else if b < a {
                b
            } else if a.is_sign_negative() {
                a
            } else {
                b
            }
        }
        pub fn $max(a: $t, b: $t) -> $t {
            if a.is_nan() || b.is_nan() {
                <$t>::NAN
            } else if a > b {
                a
            } else if b > a {
                b
            } else if a.is_sign_positive() {
                a
            } else {
                b
            }
        }
    };
}
ieee_min_max!(fmin32, fmax32, f32);
ieee_min_max!(fmin64, fmax64, f64);

pub fn math1(f: Libcall, x: u64) -> u64 {
    use Libcall::*;
    match f {
        ExpF32 => bf32(libcalls::bf_expf(f32b(x))),
        ExpF64 => bf64(libcalls::bf_exp(f64b(x))),
        LnF32 => bf32(libcalls::bf_lnf(f32b(x))),
        LnF64 => bf64(libcalls::bf_ln(f64b(x))),
        SinF32 => bf32(libcalls::bf_sinf(f32b(x))),
        SinF64 => bf64(libcalls::bf_sin(f64b(x))),
        CosF32 => bf32(libcalls::bf_cosf(f32b(x))),
        CosF64 => bf64(libcalls::bf_cos(f64b(x))),
        TanhF32 => bf32(libcalls::bf_tanhf(f32b(x))),
        TanhF64 => bf64(libcalls::bf_tanh(f64b(x))),
        FloorF32 => bf32(libcalls::bf_floorf(f32b(x))),
        FloorF64 => bf64(libcalls::bf_floor(f64b(x))),
        CeilF32 => bf32(libcalls::bf_ceilf(f32b(x))),
        CeilF64 => bf64(libcalls::bf_ceil(f64b(x))),
        TruncF32 => bf32(libcalls::bf_truncf(f32b(x))),
        TruncF64 => bf64(libcalls::bf_trunc(f64b(x))),
        NearestF32 => bf32(libcalls::bf_nearestf(f32b(x))),
        NearestF64 => bf64(libcalls::bf_nearest(f64b(x))),
        _ => 0,
    }
}

pub fn math2(f: Libcall, x: u64, y: u64) -> u64 {
    use Libcall::*;
    match f {
        PowF32 => bf32(libcalls::bf_powf(f32b(x), f32b(y))),
        PowF64 => bf64(libcalls::bf_pow(f64b(x), f64b(y))),
        FmodF32 => bf32(libcalls::bf_fmodf(f32b(x), f32b(y))),
        FmodF64 => bf64(libcalls::bf_fmod(f64b(x), f64b(y))),
        _ => 0,
    }
}

fn cast(op: CastOp, x: u64) -> u64 {
    match op {
        CastOp::I32ToI64 => (x as u32 as i32 as i64) as u64,
        CastOp::I64ToI32 => x as u32 as u64,
        CastOp::I32ToF32 => bf32(x as u32 as i32 as f32),
        CastOp::I32ToF64 => bf64(x as u32 as i32 as f64),
        CastOp::I64ToF32 => bf32(x as i64 as f32),
        CastOp::I64ToF64 => bf64(x as i64 as f64),
        CastOp::F32ToI32 => bi32(f32b(x) as i32),
        CastOp::F32ToI64 => (f32b(x) as i64) as u64,
        CastOp::F64ToI32 => bi32(f64b(x) as i32),
        CastOp::F64ToI64 => (f64b(x) as i64) as u64,
        CastOp::F32ToF64 => bf64(f32b(x) as f64),
        CastOp::F64ToF32 => bf32(f64b(x) as f32),
        CastOp::BoolToInt => x & 1,
    }
}

impl Vm {
    fn run(
        &mut self,
        p: &Program,
        entry: usize,
        scalars: &[u64],
        depth_limit: u32,
    ) -> Result<u64, TrapKind> {
        let mut func = &p.funcs[entry];
        let mut base = 0usize;
        let mut bbase = 0usize;
        self.regs.resize(func.nslots as usize, 0);
        self.regs[..scalars.len()].copy_from_slice(scalars);
        for &(s, bits) in &func.consts {
            self.regs[s as usize] = bits;
        }
        for &t in &func.tables {
            self.bufs.push(p.tables[t as usize]);
        }
        self.frames.push(Frame {
            func: entry as u32,
            pc: 0,
            base: 0,
            bbase: 0,
            ret_d: 0,
        });
        let mut code: &[Op] = &func.code;
        let mut pc = 0usize;
        let mut fp: *mut u64 = self.regs.as_mut_ptr();
        let mut bp: *const BufView = self.bufs.as_ptr();

        // SAFETY (for every use of the macros below): the bytecode was validated
        // (`bytecode::validate`): every slot operand is < nslots of its function and every
        // buffer operand is < nbufs + ntables; `fp` points at `base` in `regs`, which holds at
        // least `base + nslots` slots, and `bp` at `bbase` in `bufs`, which holds the frame's
        // buffers. Both pointers are refreshed after every call and return (the vectors may move).
        macro_rules! r {
            ($x:expr) => {
                // SAFETY: a validated slot operand of this frame (see above).
                unsafe { *fp.add($x as usize) }
            };
        }
        macro_rules! w {
            ($x:expr, $v:expr) => {{
                let v = $v;
                // SAFETY: a validated slot operand of this frame (see above).
                unsafe { *fp.add($x as usize) = v }
            }};
        }
        macro_rules! buf {
            ($b:expr) => {
                // SAFETY: a validated buffer operand of this frame (see above).
                unsafe { *bp.add($b as usize) }
            };
        }
        macro_rules! i32op {
            ($d:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
                let $x = r!($a) as u32 as i32;
                let $y = r!($b) as u32 as i32;
                w!($d, bi32($e))
            }};
        }
        macro_rules! i64op {
            ($d:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
                let $x = r!($a) as i64;
                let $y = r!($b) as i64;
                w!($d, ($e) as u64)
            }};
        }
        macro_rules! f32op {
            ($d:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
                let $x = f32b(r!($a));
                let $y = f32b(r!($b));
                w!($d, bf32($e))
            }};
        }
        macro_rules! f64op {
            ($d:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {{
                let $x = f64b(r!($a));
                let $y = f64b(r!($b));
                w!($d, bf64($e))
            }};
        }
        macro_rules! cmp {
            ($d:expr, $a:expr, $b:expr, $conv:expr, |$x:ident, $y:ident| $e:expr) => {{
                let $x = $conv(r!($a));
                let $y = $conv(r!($b));
                w!($d, ($e) as u64)
            }};
        }
        macro_rules! load {
            ($d:expr, $buf:expr, $i:expr, $t:ty, $conv:expr) => {{
                let b = buf!($buf);
                let i = r!($i);
                if i >= b.len as u64 {
                    return Err(TrapKind::OutOfBounds);
                }
                // SAFETY: i < len and the buffer is valid for len elements for the whole call.
                let v = unsafe { (b.ptr as *const $t).add(i as usize).read() };
                w!($d, $conv(v))
            }};
        }
        macro_rules! store {
            ($buf:expr, $i:expr, $v:expr, $t:ty, $conv:expr) => {{
                let b = buf!($buf);
                let i = r!($i);
                let v = r!($v);
                if i >= b.len as u64 {
                    return Err(TrapKind::OutOfBounds);
                }
                // SAFETY: i < len; the verifier only allows stores to `&mut` buffers, which
                // the caller lent mutably and exclusively for the whole call.
                unsafe { (b.ptr as *mut $t).add(i as usize).write($conv(v)) }
            }};
        }
        let i32v = |x: u64| x as u32 as i32;
        let i64v = |x: u64| x as i64;
        let u32v = |x: u64| x as u32;

        loop {
            // SAFETY: validated code ends in a non-falling-through instruction and every jump
            // target is < code.len(), so pc stays in bounds.
            let op = unsafe { *code.get_unchecked(pc) };
            pc += 1;
            match op {
                Op::Mov { d, s } => w!(d, r!(s)),
                Op::I32Add { d, a, b } => i32op!(d, a, b, |x, y| x.wrapping_add(y)),
                Op::I32MulAdd { d, a, b, c } => {
                    let x = (r!(a) as u32 as i32).wrapping_mul(r!(b) as u32 as i32);
                    w!(d, bi32(x.wrapping_add(r!(c) as u32 as i32)))
                }
                Op::I32AddImm { d, a, imm } => w!(d, bi32((r!(a) as u32 as i32).wrapping_add(imm))),
                Op::I32Sub { d, a, b } => i32op!(d, a, b, |x, y| x.wrapping_sub(y)),
                Op::I32Mul { d, a, b } => i32op!(d, a, b, |x, y| x.wrapping_mul(y)),
                Op::I32Div { d, a, b } => {
                    if r!(b) as u32 == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    i32op!(d, a, b, |x, y| x.wrapping_div(y))
                }
                Op::I32Rem { d, a, b } => {
                    if r!(b) as u32 == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    i32op!(d, a, b, |x, y| x.wrapping_rem(y))
                }
                Op::I32Udiv { d, a, b } => {
                    if r!(b) as u32 == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    w!(d, (r!(a) as u32 / r!(b) as u32) as u64)
                }
                Op::I32Urem { d, a, b } => {
                    if r!(b) as u32 == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    w!(d, (r!(a) as u32 % r!(b) as u32) as u64)
                }
                Op::I32And { d, a, b } => w!(d, r!(a) & r!(b)),
                Op::I32Or { d, a, b } => w!(d, r!(a) | r!(b)),
                Op::I32Xor { d, a, b } => w!(d, r!(a) ^ r!(b)),
                Op::I32Shl { d, a, b } => i32op!(d, a, b, |x, y| x.wrapping_shl(y as u32)),
                Op::I32Shr { d, a, b } => i32op!(d, a, b, |x, y| x.wrapping_shr(y as u32)),
                Op::I32UShr { d, a, b } => {
                    i32op!(d, a, b, |x, y| (x as u32).wrapping_shr(y as u32) as i32)
                }
                Op::I32Rotl { d, a, b } => i32op!(d, a, b, |x, y| x.rotate_left(y as u32 & 31)),
                Op::I32Rotr { d, a, b } => i32op!(d, a, b, |x, y| x.rotate_right(y as u32 & 31)),
                Op::I32Min { d, a, b } => i32op!(d, a, b, |x, y| x.min(y)),
                Op::I32Max { d, a, b } => i32op!(d, a, b, |x, y| x.max(y)),
                Op::I32Eq { d, a, b } => cmp!(d, a, b, u32v, |x, y| x == y),
                Op::I32Ne { d, a, b } => cmp!(d, a, b, u32v, |x, y| x != y),
                Op::I32Lt { d, a, b } => cmp!(d, a, b, i32v, |x, y| x < y),
                Op::I32Le { d, a, b } => cmp!(d, a, b, i32v, |x, y| x <= y),
                Op::I32Ult { d, a, b } => cmp!(d, a, b, u32v, |x, y| x < y),
                Op::I32Ule { d, a, b } => cmp!(d, a, b, u32v, |x, y| x <= y),
                Op::I32Neg { d, a } => w!(d, bi32((r!(a) as u32 as i32).wrapping_neg())),
                Op::I32Not { d, a } => w!(d, bi32(!(r!(a) as u32 as i32))),
                Op::I32Abs { d, a } => w!(d, bi32((r!(a) as u32 as i32).wrapping_abs())),
                Op::I32Popcnt { d, a } => w!(d, (r!(a) as u32).count_ones() as u64),
                Op::I32Clz { d, a } => w!(d, (r!(a) as u32).leading_zeros() as u64),
                Op::I32Ctz { d, a } => w!(d, (r!(a) as u32).trailing_zeros() as u64),
                Op::I64Add { d, a, b } => i64op!(d, a, b, |x, y| x.wrapping_add(y)),
                Op::I64Sub { d, a, b } => i64op!(d, a, b, |x, y| x.wrapping_sub(y)),
                Op::I64Mul { d, a, b } => i64op!(d, a, b, |x, y| x.wrapping_mul(y)),
                Op::I64Div { d, a, b } => {
                    if r!(b) == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    i64op!(d, a, b, |x, y| x.wrapping_div(y))
                }
                Op::I64Rem { d, a, b } => {
                    if r!(b) == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    i64op!(d, a, b, |x, y| x.wrapping_rem(y))
                }
                Op::I64Udiv { d, a, b } => {
                    if r!(b) == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    w!(d, r!(a) / r!(b))
                }
                Op::I64Urem { d, a, b } => {
                    if r!(b) == 0 {
                        return Err(TrapKind::DivisionByZero);
                    }
                    w!(d, r!(a) % r!(b))
                }
                Op::I64And { d, a, b } => w!(d, r!(a) & r!(b)),
                Op::I64Or { d, a, b } => w!(d, r!(a) | r!(b)),
                Op::I64Xor { d, a, b } => w!(d, r!(a) ^ r!(b)),
                Op::I64Shl { d, a, b } => i64op!(d, a, b, |x, y| x.wrapping_shl(y as u32)),
                Op::I64Shr { d, a, b } => i64op!(d, a, b, |x, y| x.wrapping_shr(y as u32)),
                Op::I64UShr { d, a, b } => {
                    i64op!(d, a, b, |x, y| (x as u64).wrapping_shr(y as u32) as i64)
                }
                Op::I64Rotl { d, a, b } => i64op!(d, a, b, |x, y| x.rotate_left(y as u32 & 63)),
                Op::I64Rotr { d, a, b } => i64op!(d, a, b, |x, y| x.rotate_right(y as u32 & 63)),
                Op::I64Min { d, a, b } => i64op!(d, a, b, |x, y| x.min(y)),
                Op::I64Max { d, a, b } => i64op!(d, a, b, |x, y| x.max(y)),
                Op::I64Eq { d, a, b } => cmp!(d, a, b, i64v, |x, y| x == y),
                Op::I64Ne { d, a, b } => cmp!(d, a, b, i64v, |x, y| x != y),
                Op::I64Lt { d, a, b } => cmp!(d, a, b, i64v, |x, y| x < y),
                Op::I64Le { d, a, b } => cmp!(d, a, b, i64v, |x, y| x <= y),
                Op::I64Ult { d, a, b } => w!(d, (r!(a) < r!(b)) as u64),
                Op::I64Ule { d, a, b } => w!(d, (r!(a) <= r!(b)) as u64),
                Op::I64Neg { d, a } => w!(d, (r!(a) as i64).wrapping_neg() as u64),
                Op::I64Not { d, a } => w!(d, !r!(a)),
                Op::I64Abs { d, a } => w!(d, (r!(a) as i64).wrapping_abs() as u64),
                Op::I64Popcnt { d, a } => w!(d, r!(a).count_ones() as u64),
                Op::I64Clz { d, a } => w!(d, r!(a).leading_zeros() as u64),
                Op::I64Ctz { d, a } => w!(d, r!(a).trailing_zeros() as u64),
                Op::F32Add { d, a, b } => f32op!(d, a, b, |x, y| x + y),
                Op::F32Sub { d, a, b } => f32op!(d, a, b, |x, y| x - y),
                Op::F32Mul { d, a, b } => f32op!(d, a, b, |x, y| x * y),
                Op::F32Div { d, a, b } => f32op!(d, a, b, |x, y| x / y),
                Op::F32Eq { d, a, b } => cmp!(d, a, b, f32b, |x, y| x == y),
                Op::F32Ne { d, a, b } => cmp!(d, a, b, f32b, |x, y| x != y),
                Op::F32Lt { d, a, b } => cmp!(d, a, b, f32b, |x, y| x < y),
                Op::F32Le { d, a, b } => cmp!(d, a, b, f32b, |x, y| x <= y),
                Op::F32Min { d, a, b } => f32op!(d, a, b, |x, y| fmin32(x, y)),
                Op::F32Max { d, a, b } => f32op!(d, a, b, |x, y| fmax32(x, y)),
                Op::F32Copysign { d, a, b } => {
                    w!(
                        d,
                        ((r!(a) as u32 & 0x7fff_ffff) | (r!(b) as u32 & 0x8000_0000)) as u64
                    )
                }
                Op::F32Fma { d, a, b, c } => {
                    w!(
                        d,
                        bf32(libcalls::bf_fmaf(f32b(r!(a)), f32b(r!(b)), f32b(r!(c))))
                    )
                }
                Op::F32Neg { d, a } => w!(d, (r!(a) as u32 ^ 0x8000_0000) as u64),
                Op::F32Abs { d, a } => w!(d, (r!(a) as u32 & 0x7fff_ffff) as u64),
                Op::F32Sqrt { d, a } => w!(d, bf32(libm::sqrtf(f32b(r!(a))))),
                Op::F64Add { d, a, b } => f64op!(d, a, b, |x, y| x + y),
                Op::F64Sub { d, a, b } => f64op!(d, a, b, |x, y| x - y),
                Op::F64Mul { d, a, b } => f64op!(d, a, b, |x, y| x * y),
                Op::F64Div { d, a, b } => f64op!(d, a, b, |x, y| x / y),
                Op::F64Eq { d, a, b } => cmp!(d, a, b, f64b, |x, y| x == y),
                Op::F64Ne { d, a, b } => cmp!(d, a, b, f64b, |x, y| x != y),
                Op::F64Lt { d, a, b } => cmp!(d, a, b, f64b, |x, y| x < y),
                Op::F64Le { d, a, b } => cmp!(d, a, b, f64b, |x, y| x <= y),
                Op::F64Min { d, a, b } => f64op!(d, a, b, |x, y| fmin64(x, y)),
                Op::F64Max { d, a, b } => f64op!(d, a, b, |x, y| fmax64(x, y)),
                Op::F64Copysign { d, a, b } => {
                    w!(
                        d,
                        (r!(a) & 0x7fff_ffff_ffff_ffff) | (r!(b) & 0x8000_0000_0000_0000)
                    )
                }
                Op::F64Fma { d, a, b, c } => {
                    w!(
                        d,
                        bf64(libcalls::bf_fma(f64b(r!(a)), f64b(r!(b)), f64b(r!(c))))
                    )
                }
                Op::F64Neg { d, a } => w!(d, r!(a) ^ 0x8000_0000_0000_0000),
                Op::F64Abs { d, a } => w!(d, r!(a) & 0x7fff_ffff_ffff_ffff),
                Op::F64Sqrt { d, a } => w!(d, bf64(libm::sqrt(f64b(r!(a))))),
                Op::Math1 { d, a, f } => w!(d, math1(f, r!(a))),
                Op::Math2 { d, a, b, f } => w!(d, math2(f, r!(a), r!(b))),
                Op::BoolNot { d, a } => w!(d, r!(a) ^ 1),
                Op::BoolEq { d, a, b } => w!(d, (r!(a) == r!(b)) as u64),
                Op::BoolNe { d, a, b } => w!(d, (r!(a) != r!(b)) as u64),
                Op::BoolAnd { d, a, b } => w!(d, r!(a) & r!(b)),
                Op::BoolOr { d, a, b } => w!(d, r!(a) | r!(b)),
                Op::BoolXor { d, a, b } => w!(d, r!(a) ^ r!(b)),
                Op::Cast { d, a, op } => w!(d, cast(op, r!(a))),
                Op::Select { d, c, a, b } => w!(d, if r!(c) != 0 { r!(a) } else { r!(b) }),
                Op::LoadU8 { d, buf, i } => load!(d, buf, i, u8, |v: u8| v as u64),
                Op::LoadI8 { d, buf, i } => load!(d, buf, i, i8, |v: i8| v as i32 as u32 as u64),
                Op::LoadI32 { d, buf, i } => load!(d, buf, i, u32, |v: u32| v as u64),
                Op::LoadI64 { d, buf, i } => load!(d, buf, i, u64, |v: u64| v),
                Op::LoadF16 { d, buf, i } => {
                    load!(d, buf, i, u16, |v: u16| half::f16_to_f32(v).to_bits()
                        as u64)
                }
                Op::LoadF32 { d, buf, i } => load!(d, buf, i, u32, |v: u32| v as u64),
                Op::LoadF64 { d, buf, i } => load!(d, buf, i, u64, |v: u64| v),
                Op::StoreU8 { buf, i, v } => store!(buf, i, v, u8, |v: u64| v as u8),
                Op::StoreI32 { buf, i, v } => store!(buf, i, v, u32, |v: u64| v as u32),
                Op::StoreI64 { buf, i, v } => store!(buf, i, v, u64, |v: u64| v),
                Op::StoreF16 { buf, i, v } => {
                    store!(buf, i, v, u16, |v: u64| half::f32_to_f16(f32b(v)))
                }
                Op::StoreF32 { buf, i, v } => store!(buf, i, v, u32, |v: u64| v as u32),
                Op::StoreF64 { buf, i, v } => store!(buf, i, v, u64, |v: u64| v),
                Op::Len { d, buf } => w!(d, buf!(buf).len as u32 as u64),
                Op::Jmp { t } => pc = t as usize,
                Op::JmpIf { c, t } => {
                    if r!(c) != 0 {
                        pc = t as usize
                    }
                }
                Op::JmpIfNot { c, t } => {
                    if r!(c) == 0 {
                        pc = t as usize
                    }
                }
                Op::I32JmpLt { a, b, t } => {
                    if i32v(r!(a)) < i32v(r!(b)) {
                        pc = t as usize
                    }
                }
                Op::I32JmpEq { a, b, t } => {
                    if r!(a) as u32 == r!(b) as u32 {
                        pc = t as usize
                    }
                }
                Op::I32JmpNe { a, b, t } => {
                    if r!(a) as u32 != r!(b) as u32 {
                        pc = t as usize
                    }
                }
                Op::I64JmpLt { a, b, t } => {
                    if i64v(r!(a)) < i64v(r!(b)) {
                        pc = t as usize
                    }
                }
                Op::I64JmpEq { a, b, t } => {
                    if r!(a) == r!(b) {
                        pc = t as usize
                    }
                }
                Op::I64JmpNe { a, b, t } => {
                    if r!(a) != r!(b) {
                        pc = t as usize
                    }
                }
                Op::I32JmpGe { a, b, t } => {
                    if i32v(r!(a)) >= i32v(r!(b)) {
                        pc = t as usize
                    }
                }
                Op::I64JmpGe { a, b, t } => {
                    if i64v(r!(a)) >= i64v(r!(b)) {
                        pc = t as usize
                    }
                }
                Op::I32Next1 { v, end, t } => {
                    let x = i32v(r!(v)).wrapping_add(1);
                    w!(v, bi32(x));
                    if x < i32v(r!(end)) {
                        pc = t as usize
                    }
                }
                Op::I64Next1 { v, end, t } => {
                    let x = i64v(r!(v)).wrapping_add(1);
                    w!(v, x as u64);
                    if x < i64v(r!(end)) {
                        pc = t as usize
                    }
                }
                Op::I32Next { v, lim, step, t } => {
                    let x = i32v(r!(v));
                    if x < i32v(r!(lim)) {
                        w!(v, bi32(x.wrapping_add(i32v(r!(step)))));
                        pc = t as usize
                    }
                }
                Op::I64Next { v, lim, step, t } => {
                    let x = i64v(r!(v));
                    if x < i64v(r!(lim)) {
                        w!(v, x.wrapping_add(i64v(r!(step))) as u64);
                        pc = t as usize
                    }
                }
                Op::I32StepLim { end, step, lim } => {
                    let s = i32v(r!(step));
                    if s <= 0 {
                        return Err(TrapKind::BadStep);
                    }
                    let e = i32v(r!(end));
                    w!(lim, bi32(e.checked_sub(s).unwrap_or(i32::MIN)));
                }
                Op::I64StepLim { end, step, lim } => {
                    let s = i64v(r!(step));
                    if s <= 0 {
                        return Err(TrapKind::BadStep);
                    }
                    let e = i64v(r!(end));
                    w!(lim, e.checked_sub(s).unwrap_or(i64::MIN) as u64);
                }
                Op::Trap { kind } => return Err(kind),
                Op::PushBuf { buf } => {
                    let b = buf!(buf);
                    self.bufs.push(b);
                    // SAFETY: bbase <= bufs.len() (the vector may have moved: refresh).
                    bp = unsafe { self.bufs.as_ptr().add(bbase) };
                }
                Op::PushSlice { buf, lo, hi, shift } => {
                    let b = buf!(buf);
                    let (l, h) = (r!(lo), r!(hi));
                    if l > h || h > b.len as u64 {
                        return Err(TrapKind::OutOfBounds);
                    }
                    let esz = 1usize << shift;
                    // SAFETY: l <= len, so the offset stays inside (or one past) the buffer.
                    let ptr = unsafe { b.ptr.add(l as usize * esz) };
                    self.bufs.push(BufView {
                        ptr,
                        len: (h - l) as usize,
                    });
                    // SAFETY: bbase <= bufs.len() (the vector may have moved: refresh).
                    bp = unsafe { self.bufs.as_ptr().add(bbase) };
                }
                Op::Call { f, args, d } => {
                    if self.frames.len() >= depth_limit as usize {
                        return Err(TrapKind::CallDepth);
                    }
                    self.frames.last_mut().expect("frame").pc = pc as u32;
                    let callee = &p.funcs[f as usize];
                    let nb = callee.nbufs as usize;
                    let new_bbase = self.bufs.len() - nb;
                    let new_base = base + func.nslots as usize;
                    let need = new_base + callee.nslots as usize;
                    if self.regs.len() < need {
                        self.regs.resize(need, 0);
                    }
                    let ns = callee.nscalars as usize;
                    let src = base + args as usize;
                    self.regs.copy_within(src..src + ns, new_base);
                    for &(s, bits) in &callee.consts {
                        self.regs[new_base + s as usize] = bits;
                    }
                    for &t in &callee.tables {
                        self.bufs.push(p.tables[t as usize]);
                    }
                    self.frames.push(Frame {
                        func: f,
                        pc: 0,
                        base: new_base as u32,
                        bbase: new_bbase as u32,
                        ret_d: d,
                    });
                    func = callee;
                    code = &func.code;
                    pc = 0;
                    base = new_base;
                    bbase = new_bbase;
                    // SAFETY: regs holds base + callee.nslots slots.
                    fp = unsafe { self.regs.as_mut_ptr().add(base) };
                    // SAFETY: bufs holds bbase + the callee's buffers.
                    bp = unsafe { self.bufs.as_ptr().add(bbase) };
                }
                Op::Ret { .. } | Op::RetVoid {} => {
                    let val = if let Op::Ret { s } = op { r!(s) } else { 0 };
                    let done = self.frames.pop().expect("frame");
                    self.bufs.truncate(done.bbase as usize);
                    let Some(caller) = self.frames.last() else {
                        return Ok(val);
                    };
                    func = &p.funcs[caller.func as usize];
                    code = &func.code;
                    pc = caller.pc as usize;
                    base = caller.base as usize;
                    bbase = caller.bbase as usize;
                    // SAFETY: the caller's frame is still allocated in regs.
                    fp = unsafe { self.regs.as_mut_ptr().add(base) };
                    // SAFETY: the caller's buffers are still in bufs (truncated to its end).
                    bp = unsafe { self.bufs.as_ptr().add(bbase) };
                    w!(done.ret_d, val);
                }
            }
        }
    }
}
