//! T2/T3 inline versions of [`crate::mathf`]'s `exp`, `sin` and `cos`, for a scalar `f32`
//! or an `f32x4` of four lanes.
//!
//! Every routine here emits exactly the operation sequence of its `mathf` counterpart —
//! same constants, same order, no fused multiply-add — so compiled code and the
//! interpreter agree to the bit. Arguments `mathf` hands to `libm` (|x| beyond the trig
//! limit, inf, NaN) take a cold path that calls the shared libcall, lane by lane.

use super::Emitter;
use crate::math::libcalls::Libcall;
use crate::math::mathf;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value, types};

impl Emitter<'_, '_> {
    pub(super) fn is_vec(&self, x: Value) -> bool {
        self.builder.func.dfg.value_type(x).is_vector()
    }

    /// An f32 constant shaped like `like` (scalar, or splat over four lanes).
    pub(super) fn f32_like(&mut self, like: Value, c: f32) -> Value {
        let s = self.ins().f32const(c);
        if self.is_vec(like) {
            self.ins().splat(types::F32X4, s)
        } else {
            s
        }
    }

    /// An i32 constant shaped like `like`.
    pub(super) fn i32_like(&mut self, like: Value, c: i32) -> Value {
        let s = self.ins().iconst(types::I32, c as i64);
        if self.is_vec(like) {
            self.ins().splat(types::I32X4, s)
        } else {
            s
        }
    }

    /// Reinterprets f32 (x4) bits as i32 (x4) or back.
    pub(super) fn reinterpret(&mut self, x: Value, to_int: bool) -> Value {
        let ty: Type = match (self.is_vec(x), to_int) {
            (false, true) => types::I32,
            (false, false) => types::F32,
            (true, true) => types::I32X4,
            (true, false) => types::F32X4,
        };
        self.ins().bitcast(ty, MemFlagsData::new(), x)
    }

    /// `cond ? a : b` lane-wise; `cond` comes from an `fcmp`/`icmp` of the same shape.
    pub(super) fn pick(&mut self, cond: Value, a: Value, b: Value) -> Value {
        if self.is_vec(a) {
            let ty = self.builder.func.dfg.value_type(a);
            let mask = self.ins().bitcast(ty, MemFlagsData::new(), cond);
            self.ins().bitselect(mask, a, b)
        } else {
            self.ins().select(cond, a, b)
        }
    }

    /// `c[0]·x^(n-1) + ... + c[n-1]` by Horner's rule, as `mathf::horner`.
    fn horner(&mut self, c: &[f32], x: Value) -> Value {
        let mut p = self.f32_like(x, c[0]);
        for k in &c[1..] {
            let px = self.ins().fmul(p, x);
            let kv = self.f32_like(x, *k);
            p = self.ins().fadd(px, kv);
        }
        p
    }

    /// `round(x·scale)` as a float and as an integer (the `ROUND_MAGIC` trick).
    fn round_scaled(&mut self, x: Value, scale: f32) -> (Value, Value) {
        let s = self.f32_like(x, scale);
        let magic = self.f32_like(x, mathf::ROUND_MAGIC);
        let xs = self.ins().fmul(x, s);
        let t = self.ins().fadd(xs, magic);
        let nf = self.ins().fsub(t, magic);
        let ti = self.reinterpret(t, true);
        let mi = self.i32_like(x, mathf::ROUND_MAGIC.to_bits() as i32);
        let n = self.ins().isub(ti, mi);
        (nf, n)
    }

    /// 2^n as f32 for n in the normal exponent range.
    fn pow2(&mut self, n: Value) -> Value {
        let bias = self.i32_like(n, 127);
        let e = self.ins().iadd(n, bias);
        let bits = self.ins().ishl_imm_u(e, 23);
        self.reinterpret(bits, false)
    }

    /// `mathf::expf`, inline.
    pub fn inline_exp(&mut self, x: Value) -> Value {
        let lo = self.f32_like(x, mathf::EXP_LO);
        let hi = self.f32_like(x, mathf::EXP_HI);
        let below = self.ins().fcmp(FloatCC::LessThan, x, lo);
        let x = self.pick(below, lo, x);
        let above = self.ins().fcmp(FloatCC::GreaterThan, x, hi);
        let x = self.pick(above, hi, x);
        let (nf, n) = self.round_scaled(x, mathf::LOG2_E);
        let ln2_hi = self.f32_like(x, mathf::LN2_HI);
        let ln2_lo = self.f32_like(x, mathf::LN2_LO);
        let a = self.ins().fmul(nf, ln2_hi);
        let r = self.ins().fsub(x, a);
        let bb = self.ins().fmul(nf, ln2_lo);
        let r = self.ins().fsub(r, bb);
        let z = self.ins().fmul(r, r);
        let p = self.horner(&mathf::EXP_POLY, r);
        let pz = self.ins().fmul(p, z);
        let y = self.ins().fadd(pz, r);
        let one = self.f32_like(x, 1.0);
        let y = self.ins().fadd(y, one);
        let n1 = self.ins().sshr_imm_u(n, 1);
        let n2 = self.ins().isub(n, n1);
        let s1 = self.pow2(n1);
        let s2 = self.pow2(n2);
        let y = self.ins().fmul(y, s1);
        self.ins().fmul(y, s2)
    }

    /// `mathf::powf(x, y)` for a base known to be inline-able (`mathf::pow_base_inline`),
    /// given `log2 x` (f64): `mathf::exp2_to_f32(y · log2x)`, scalar.
    pub fn inline_pow_log2(&mut self, y: Value, log2x: Value) -> Value {
        let y64 = self.ins().fpromote(types::F64, y);
        let t = self.ins().fmul(y64, log2x);
        let lo = self.ins().f64const(-mathf::EXP2_CLAMP);
        let hi = self.ins().f64const(mathf::EXP2_CLAMP);
        let below = self.ins().fcmp(FloatCC::LessThan, t, lo);
        let t = self.ins().select(below, lo, t);
        let above = self.ins().fcmp(FloatCC::GreaterThan, t, hi);
        let t = self.ins().select(above, hi, t);
        let magic = self.ins().f64const(mathf::ROUND_MAGIC_F64);
        let k = self.ins().fadd(t, magic);
        let nf = self.ins().fsub(k, magic);
        let ki = self.ins().bitcast(types::I64, MemFlagsData::new(), k);
        let n = self
            .ins()
            .iadd_imm_s(ki, -(mathf::ROUND_MAGIC_F64.to_bits() as i64));
        let f = self.ins().fsub(t, nf);
        let ln2 = self.ins().f64const(core::f64::consts::LN_2);
        let u = self.ins().fmul(f, ln2);
        let mut p = self.ins().f64const(mathf::EXP2_POLY[0]);
        for c in &mathf::EXP2_POLY[1..] {
            let pu = self.ins().fmul(p, u);
            let cv = self.ins().f64const(*c);
            p = self.ins().fadd(pu, cv);
        }
        let e = self.ins().iadd_imm_s(n, 1023);
        let sb = self.ins().ishl_imm_u(e, 52);
        let scale = self.ins().bitcast(types::F64, MemFlagsData::new(), sb);
        let r = self.ins().fmul(p, scale);
        self.ins().fdemote(types::F32, r)
    }

    /// For an f32 `x`: (whether `mathf::pow_base_inline(x)`, `mathf::log2_f64(x)`), the
    /// latter meaningful only when the former holds.
    pub fn pow_base_log2(&mut self, x: Value) -> (Value, Value) {
        let zero = self.ins().f32const(0.0);
        let inf = self.ins().f32const(f32::INFINITY);
        let one = self.ins().f32const(1.0);
        let pos = self.ins().fcmp(FloatCC::GreaterThan, x, zero);
        let fin = self.ins().fcmp(FloatCC::LessThan, x, inf);
        let not1 = self.ins().fcmp(FloatCC::NotEqual, x, one);
        let ok = self.ins().band(pos, fin);
        let ok = self.ins().band(ok, not1);
        // log2_f64: x = 2^e · m, m in [sqrt(1/2), sqrt(2)); 2s·S(s²) with s = (m-1)/(m+1)
        let x64 = self.ins().fpromote(types::F64, x);
        let bits = self.ins().bitcast(types::I64, MemFlagsData::new(), x64);
        let eb = self.ins().ushr_imm_u(bits, 52);
        let eb = self.ins().band_imm_s(eb, 0x7ff);
        let e = self.ins().iadd_imm_s(eb, -1023);
        let mant = self.ins().band_imm_s(bits, (1i64 << 52) - 1);
        let mbits = self.ins().bor_imm_s(mant, 1023i64 << 52);
        let m = self.ins().bitcast(types::F64, MemFlagsData::new(), mbits);
        let sqrt2 = self.ins().f64const(core::f64::consts::SQRT_2);
        let big = self.ins().fcmp(FloatCC::GreaterThan, m, sqrt2);
        let half = self.ins().f64const(0.5);
        let mh = self.ins().fmul(m, half);
        let m = self.ins().select(big, mh, m);
        let e1 = self.ins().iadd_imm_s(e, 1);
        let e = self.ins().select(big, e1, e);
        let one64 = self.ins().f64const(1.0);
        let num = self.ins().fsub(m, one64);
        let den = self.ins().fadd(m, one64);
        let sv = self.ins().fdiv(num, den);
        let z = self.ins().fmul(sv, sv);
        let mut p = self.ins().f64const(mathf::LN_SERIES[0]);
        for c in &mathf::LN_SERIES[1..] {
            let pz = self.ins().fmul(p, z);
            let cv = self.ins().f64const(*c);
            p = self.ins().fadd(pz, cv);
        }
        let two = self.ins().f64const(2.0);
        let s2 = self.ins().fmul(two, sv);
        let ln_m = self.ins().fmul(s2, p);
        let ef = self.ins().fcvt_from_sint(types::F64, e);
        let log2e = self.ins().f64const(core::f64::consts::LOG2_E);
        let l = self.ins().fmul(ln_m, log2e);
        (ok, self.ins().fadd(ef, l))
    }

    /// `mathf::sinf` / `mathf::cosf`, inline: the polynomial path when every lane is
    /// within the limit, else the shared libcall for each lane.
    pub fn inline_sincos(&mut self, x: Value, cos: bool) -> Value {
        let ty = self.builder.func.dfg.value_type(x);
        let ax = self.ins().fabs(x);
        let lim = self.f32_like(x, mathf::TRIG_LIMIT);
        // false for NaN
        let ok = self.ins().fcmp(FloatCC::LessThanOrEqual, ax, lim);
        let all_ok = if self.is_vec(x) {
            self.ins().vall_true(ok)
        } else {
            ok
        };
        let fast = self.builder.create_block();
        let slow = self.builder.create_block();
        let join = self.builder.create_block();
        let out = self.builder.append_block_param(join, ty);
        self.ins().brif(all_ok, fast, &[], slow, &[]);
        self.builder.set_cold_block(slow);

        self.builder.switch_to_block(slow);
        let lc = if cos {
            Libcall::CosF32
        } else {
            Libcall::SinF32
        };
        let v = if self.is_vec(x) {
            let mut acc = x;
            for lane in 0..4u8 {
                let e = self.ins().extractlane(x, lane);
                let r = self.libcall(lc, &[e]);
                acc = self.ins().insertlane(acc, r, lane);
            }
            acc
        } else {
            self.libcall(lc, &[x])
        };
        self.ins().jump(join, &[v.into()]);

        self.builder.switch_to_block(fast);
        let v = self.sincos_reduced(x, cos);
        self.ins().jump(join, &[v.into()]);
        self.builder.switch_to_block(join);
        out
    }

    fn sincos_reduced(&mut self, x: Value, cos: bool) -> Value {
        let (qf, q) = self.round_scaled(x, mathf::FRAC_2_PI);
        let q = if cos {
            let one = self.i32_like(x, 1);
            self.ins().iadd(q, one)
        } else {
            q
        };
        let mut r = x;
        for part in [mathf::PIO2_1, mathf::PIO2_2, mathf::PIO2_3] {
            let c = self.f32_like(x, part);
            let qc = self.ins().fmul(qf, c);
            r = self.ins().fsub(r, qc);
        }
        let z = self.ins().fmul(r, r);
        // s = r + r·z·S(z)
        let sp = self.horner(&mathf::SIN_POLY, z);
        let rz = self.ins().fmul(r, z);
        let rzs = self.ins().fmul(rz, sp);
        let s = self.ins().fadd(r, rzs);
        // c = (z·z·C(z) − 0.5·z) + 1
        let cp = self.horner(&mathf::COS_POLY, z);
        let zz = self.ins().fmul(z, z);
        let zzc = self.ins().fmul(zz, cp);
        let half = self.f32_like(x, 0.5);
        let hz = self.ins().fmul(half, z);
        let c = self.ins().fsub(zzc, hz);
        let one = self.f32_like(x, 1.0);
        let c = self.ins().fadd(c, one);
        // odd quadrant: the other polynomial, chosen with a bit mask (a scalar `select`
        // of floats becomes a branch, mispredicted half the time on varied angles);
        // quadrants 2 and 3: negated
        let q1 = self.i32_like(x, 1);
        let odd = self.ins().band(q, q1);
        let mask = self.ins().ineg(odd);
        let si = self.reinterpret(s, true);
        let ci = self.reinterpret(c, true);
        let diff = self.ins().bxor(si, ci);
        let pick_c = self.ins().band(diff, mask);
        let vi = self.ins().bxor(si, pick_c);
        let q2 = self.i32_like(x, 2);
        let neg = self.ins().band(q, q2);
        let sign = self.ins().ishl_imm_u(neg, 30);
        let vi = self.ins().bxor(vi, sign);
        let v = self.reinterpret(vi, false);
        if cos {
            v
        } else {
            // sin(±0) = ±0
            let fz = self.f32_like(x, 0.0);
            let is_zero = self.ins().fcmp(FloatCC::Equal, x, fz);
            self.pick(is_zero, x, v)
        }
    }
}
