//! Loops: `for` with its entry test and latch, loop versioning (T2+: an unchecked copy with
//! strength-reduced addresses when every affine access is in bounds at the first and the
//! last iteration), unrolling by 4 (T3), and the dispatch to the vector emitters (T3).

use super::column_vector::ColumnVectorizer;
use super::map_vector::MapVectorizer;
use super::vector_loop::VectorLoop;
use super::{FunctionContext, FunctionLowering, LoopExits, ProvenPointers, StridedPointer};
use crate::codegen::abi::cl_type;
use crate::codegen::analysis::{self, Access, AffineKey, Coef, LoopInfo, NestLocals, Term};
use crate::ir::walk;
use crate::ir::*;
use alloc::vec::Vec;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{Block, InstBuilder, Value, types};
use cranelift_frontend::{FunctionBuilder, Variable};
use hashbrown::HashMap;

/// An affine index's loop-variable coefficient (if any) and the sum of its invariant
/// terms, as i64 values computed before the loop.
#[derive(Clone, Copy)]
pub(super) struct AffineValues {
    pub coef: Option<Value>,
    pub offset: Value,
}

/// Computes an affine index's coefficient and invariant terms as i64, here (before the
/// loop that uses them).
pub(super) fn affine_i64(
    cx: &mut dyn FunctionContext<'_>,
    coef: Option<Coef>,
    offs: &[Term],
) -> AffineValues {
    let mut off = cx.builder().ins().iconst(types::I64, 0);
    for t in offs {
        let v = cx.invariant(t.expr);
        let v = cx.builder().ins().sextend(types::I64, v);
        off = if t.negated {
            cx.builder().ins().isub(off, v)
        } else {
            cx.builder().ins().iadd(off, v)
        };
    }
    let coef = coef.map(|c| {
        let m = match c.mul {
            None => cx.builder().ins().iconst(types::I64, 1),
            Some(e) => {
                let v = cx.invariant(e);
                cx.builder().ins().sextend(types::I64, v)
            }
        };
        if c.neg { cx.builder().ins().ineg(m) } else { m }
    });
    AffineValues { coef, offset: off }
}

/// Advances each strength-reduced pointer variable by its stride (one iteration):
/// `bumps` are (pointer variable, byte stride) pairs.
pub(super) fn bump_pointers(builder: &mut FunctionBuilder, bumps: &[(Variable, Value)]) {
    for &(pv, stride) in bumps {
        let p = builder.use_var(pv);
        let p2 = builder.ins().iadd(p, stride);
        builder.def_var(pv, p2);
    }
}

impl FunctionLowering<'_, '_> {
    pub(super) fn for_loop(&mut self, fl: &ForLoop) {
        let ty = fl.start.ty;
        let t = cl_type(ty);
        let start = self.expr(&fl.start);
        let var = self.vars[fl.var as usize];
        self.builder.def_var(var, start);
        let end = self.expr(&fl.end);
        let step = match &fl.step {
            None => None,
            Some(se) => {
                let s = self.expr(se);
                let bad = self.ins().icmp_imm_s(IntCC::SignedLessThanOrEqual, s, 0);
                self.trap_if(bad, TrapKind::BadStep);
                let lim0 = self.ins().isub(end, s);
                let under = self.ins().icmp(IntCC::SignedGreaterThan, lim0, end);
                let min = self.ins().iconst(
                    t,
                    if ty == Ty::I32 {
                        i32::MIN as i64
                    } else {
                        i64::MIN
                    },
                );
                let lim = self.ins().select(under, min, lim0);
                Some((s, lim))
            }
        };
        let exit = self.builder.create_block();
        let pre = self.builder.create_block();
        let enter = self.ins().icmp(IntCC::SignedLessThan, start, end);
        self.ins().brif(enter, pre, &[], exit, &[]);
        self.builder.switch_to_block(pre);

        let innermost = !analysis::has_loop(&fl.body);
        // T3: a column loop around a dot product runs 32/16/4 columns at once, a map nest
        // over k (fft's butterflies) 8 or 4 k at once
        if self.opts.vectorize && !innermost && step.is_none() && self.proven.is_none() {
            let locals = NestLocals::of(fl);
            let (f, m, hw_fma) = (self.func, self.module, self.opts.hw_fma);
            let slow = if let Some(nest) = analysis::column_nest(f, m, fl, &locals, hw_fma) {
                Some(ColumnVectorizer::emit(
                    self, &nest, fl, start, end, f.reassoc, hw_fma,
                ))
            } else {
                analysis::map_nest(f, m, fl, &locals, hw_fma)
                    .map(|nest| MapVectorizer::emit(self, &nest, fl, start, end))
            };
            if let Some(slow) = slow {
                self.finish_outer(fl, end, exit, slow);
                self.builder.switch_to_block(exit);
                return;
            }
        }
        if self.opts.hoist && innermost && ty == Ty::I32 && self.proven.is_none() {
            let mut asg = Vec::new();
            walk::assigned(&fl.body, &mut asg);
            let li = LoopInfo {
                var: fl.var,
                assigned: &asg,
                defs: analysis::single_defs(fl.var, &fl.body, &asg),
            };
            let mut acc = Vec::new();
            analysis::accesses(&li, &fl.body, &mut acc);
            if !acc.is_empty() {
                self.versioned(fl, &li, &acc, start, end, step, exit);
                self.builder.switch_to_block(exit);
                return;
            }
        }
        self.plain_loop(fl, end, step, exit, &[]);
        self.builder.switch_to_block(exit);
    }

    /// After the vector groups of a nest: the remaining (fewer than 4) outer iterations
    /// through the ordinary lowering; and in `slow` (the nest's entry test failed) the
    /// original loop with every check kept.
    fn finish_outer(&mut self, fl: &ForLoop, end: Value, exit: Block, slow: Block) {
        self.remainder_loop(fl, end, None, exit, &[]);
        self.builder.switch_to_block(slow);
        self.plain_loop(fl, end, None, exit, &[]);
    }

    /// The iterations a vectorized or unrolled part left (`var` where it stopped): the
    /// plain loop if any remain.
    fn remainder_loop(
        &mut self,
        fl: &ForLoop,
        end: Value,
        step: Option<(Value, Value)>,
        exit: Block,
        bumps: &[(Variable, Value)],
    ) {
        let v = self.builder.use_var(self.vars[fl.var as usize]);
        let more = self.ins().icmp(IntCC::SignedLessThan, v, end);
        let rest = self.builder.create_block();
        self.ins().brif(more, rest, &[], exit, &[]);
        self.builder.switch_to_block(rest);
        self.plain_loop(fl, end, step, exit, bumps);
    }

    /// The loop itself, entered with `var < end` known. `bumps` are (pointer var, stride)
    /// pairs advanced at the latch (strength-reduced addresses).
    fn plain_loop(
        &mut self,
        fl: &ForLoop,
        end: Value,
        step: Option<(Value, Value)>,
        exit: Block,
        bumps: &[(Variable, Value)],
    ) {
        let var = self.vars[fl.var as usize];
        let body = self.builder.create_block();
        let latch = self.builder.create_block();
        self.ins().jump(body, &[]);
        self.builder.switch_to_block(body);
        self.loop_exits.push(LoopExits {
            continue_to: latch,
            break_to: exit,
        });
        self.block(&fl.body);
        self.loop_exits.pop();
        if !self.terminated() {
            self.ins().jump(latch, &[]);
        }
        self.builder.switch_to_block(latch);
        bump_pointers(&mut self.builder, bumps);
        let v = self.builder.use_var(var);
        match step {
            None => {
                let v1 = self.ins().iadd_imm_s(v, 1);
                self.builder.def_var(var, v1);
                let c = self.ins().icmp(IntCC::SignedLessThan, v1, end);
                self.ins().brif(c, body, &[], exit, &[]);
            }
            Some((s, lim)) => {
                let c = self.ins().icmp(IntCC::SignedLessThan, v, lim);
                let v1 = self.ins().iadd(v, s);
                self.builder.def_var(var, v1);
                self.ins().brif(c, body, &[], exit, &[]);
            }
        }
    }

    /// Loop versioning: if every affine access is in bounds for the first and the last
    /// iteration (so for all, the index being affine), run a copy of the loop without those
    /// checks and with strength-reduced addresses; otherwise run the fully checked loop.
    #[allow(clippy::too_many_arguments)]
    fn versioned(
        &mut self,
        fl: &ForLoop,
        li: &LoopInfo,
        acc: &[Access],
        start: Value,
        end: Value,
        step: Option<(Value, Value)>,
        exit: Block,
    ) {
        let s64 = self.ins().sextend(types::I64, start);
        let e64 = self.ins().sextend(types::I64, end);
        let step64 = step.map(|(s, _)| self.ins().sextend(types::I64, s));
        let last = match step64 {
            None => self.ins().iadd_imm_s(e64, -1),
            Some(st) => {
                let span = self.ins().isub(e64, s64);
                let span = self.ins().iadd_imm_s(span, -1);
                let n = self.ins().udiv(span, st);
                let k = self.ins().imul(n, st);
                self.ins().iadd(s64, k)
            }
        };
        let mut ok = self.ins().iconst(types::I8, 1);
        let mut forms: Vec<AffineValues> = Vec::new();
        // accesses of the same buffer at the same index (e.g. `re[b]` read twice and stored)
        // share one pointer and one entry test: one induction variable each would only add
        // latch increments and register pressure (measured on fft's butterfly);
        // grouped by hashing their affine forms (comparing every pair was quadratic)
        let mut first: HashMap<(BufRef, AffineKey), usize> = HashMap::new();
        let dup: Vec<Option<usize>> = acc
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let k = (a.buf, analysis::affine_key(a.index.coef, &a.index.offs));
                match first.get(&k) {
                    Some(&j) => Some(j),
                    None => {
                        first.insert(k, i);
                        None
                    }
                }
            })
            .collect();
        for (ai, a) in acc.iter().enumerate() {
            if let Some(j) = dup[ai] {
                forms.push(forms[j]);
                continue;
            }
            let form = affine_i64(self, a.index.coef, &a.index.offs);
            let (_, len) = self.buffer(a.buf);
            let points: &[Value] = if form.coef.is_some() {
                &[s64, last]
            } else {
                &[s64]
            };
            for &pt in points {
                let idx = match form.coef {
                    Some(c) => {
                        let ci = self.ins().imul(c, pt);
                        self.ins().iadd(ci, form.offset)
                    }
                    None => form.offset,
                };
                let inb = self.ins().icmp(IntCC::UnsignedLessThan, idx, len);
                ok = self.ins().band(ok, inb);
            }
            forms.push(form);
        }
        // `pow(b, y)` with b a loop-invariant f32 local: log2 b once, here, and the fast
        // copy (entered only when b is a base `mathf::powf` computes inline) emits 2^(y·L)
        let mut pow_bases: Vec<(u32, Value)> = Vec::new();
        if self.opts.inline_math {
            for l in analysis::invariant_pow_bases(&fl.body, li) {
                if self.const_f32(&Expr::local(l, Ty::F32)).is_some() {
                    continue;
                }
                let x = self.builder.use_var(self.vars[l as usize]);
                let (inline_ok, log2x) = self.emitter().pow_base_log2(x);
                ok = self.ins().band(ok, inline_ok);
                pow_bases.push((l, log2x));
            }
        }
        let fastb = self.builder.create_block();
        let slowb = self.builder.create_block();
        self.ins().brif(ok, fastb, &[], slowb, &[]);

        // fast version: pointer variables start at the first iteration's address
        self.builder.switch_to_block(fastb);
        let mut ptrs: Vec<StridedPointer> = Vec::new();
        let mut bumps = Vec::new();
        for (ai, (a, form)) in acc.iter().zip(&forms).enumerate() {
            if let Some(j) = dup[ai] {
                let shared = ptrs[j];
                ptrs.push(StridedPointer {
                    key: a.key,
                    ..shared
                });
                continue;
            }
            let (p, _) = self.buffer(a.buf);
            let sh = self.elem_of(a.buf).shift() as i64;
            let first = match form.coef {
                Some(c) => {
                    let ci = self.ins().imul(c, s64);
                    self.ins().iadd(ci, form.offset)
                }
                None => form.offset,
            };
            let byte = self.ins().ishl_imm_s(first, sh);
            let addr = self.ins().iadd(p, byte);
            let pv = self.builder.declare_var(types::I64);
            self.builder.def_var(pv, addr);
            // an index with a loop-variable term advances by `coef * step` elements
            if let Some(c) = form.coef {
                let cs = match step64 {
                    None => c,
                    Some(st) => self.ins().imul(c, st),
                };
                let stride = self.ins().ishl_imm_s(cs, sh);
                bumps.push((pv, stride));
            }
            let contiguous = match a.index.coef {
                Some(c) if c.is_one() => Some(true),
                None => Some(false),
                _ => None,
            };
            ptrs.push(StridedPointer {
                key: a.key,
                var: pv,
                contiguous,
            });
        }
        self.pow_bases = pow_bases;
        let proven = ProvenPointers::new(ptrs);
        if step.is_none() && self.opts.vectorize {
            self.vector_loop(fl, li, &proven, end, &bumps);
        }
        self.proven = Some(proven);
        if step.is_none() && self.opts.unroll && analysis::worth_unrolling(fl, self.func.reassoc) {
            self.unrolled(fl, end, &bumps);
        }
        // the scalar fast loop (or the remainder after vector/unrolled parts)
        self.remainder_loop(fl, end, step, exit, &bumps);
        self.proven = None;
        self.pow_bases.clear();

        // slow version: every check kept
        self.builder.switch_to_block(slowb);
        self.plain_loop(fl, end, step, exit, &[]);
    }

    /// The inner vectorizer, when the analysis admits the loop (see [`VectorLoop`]).
    fn vector_loop(
        &mut self,
        fl: &ForLoop,
        li: &LoopInfo,
        proven: &ProvenPointers,
        end: Value,
        bumps: &[(Variable, Value)],
    ) {
        let (m, f) = (self.module, self.func);
        let contiguous = |e: &Expr| {
            proven
                .get(analysis::access_key(e))
                .and_then(|p| p.contiguous)
        };
        let elem_of = |r: BufRef| match r {
            BufRef::Param(i) => f.bufs[i as usize].0,
            BufRef::Table(t) => m.tables[t as usize].data.elem(),
        };
        let plan = analysis::vector_loop(
            m,
            li,
            &fl.body,
            f.reassoc,
            self.opts.hw_fma,
            &elem_of,
            &contiguous,
        );
        if let Some(plan) = plan {
            let var = self.vars[fl.var as usize];
            let depth = self.depth;
            let opts = self.opts;
            VectorLoop::new(self, m, f.reassoc, opts, depth, proven)
                .emit(&plan, &fl.body, var, end, bumps);
        }
    }

    /// Runs whole groups of 4 iterations with the body copied 4 times (T3). In a
    /// `#[reassoc]` function each float reduction (`acc += e`, `acc = fma(x, y, acc)`) gets
    /// one accumulator per copy, which breaks the dependence chain; they are summed after.
    fn unrolled(&mut self, fl: &ForLoop, end: Value, bumps: &[(Variable, Value)]) {
        let var = self.vars[fl.var as usize];
        let reds = if self.func.reassoc {
            analysis::scalar_reductions(fl)
        } else {
            Vec::new()
        };
        let mut extra: Vec<(u32, [Variable; 3])> = Vec::new();
        for &(acc, t) in &reds {
            let vs = [0; 3].map(|_| self.builder.declare_var(cl_type(t)));
            for v in vs {
                let z = self.zero(t);
                self.builder.def_var(v, z);
            }
            extra.push((acc, vs));
        }
        let head = self.builder.create_block();
        let body = self.builder.create_block();
        let done = self.builder.create_block();
        let e64 = self.ins().sextend(types::I64, end);
        self.ins().jump(head, &[]);
        self.builder.switch_to_block(head);
        let v = self.builder.use_var(var);
        let v64 = self.ins().sextend(types::I64, v);
        let v4 = self.ins().iadd_imm_s(v64, 4);
        let c = self.ins().icmp(IntCC::SignedLessThanOrEqual, v4, e64);
        self.ins().brif(c, body, &[], done, &[]);
        self.builder.switch_to_block(body);
        for copy in 0..4 {
            let mark = self.alias.len();
            if copy > 0 {
                for (acc, vs) in &extra {
                    self.alias.push((*acc, vs[copy - 1]));
                }
            }
            self.block(&fl.body);
            self.alias.truncate(mark);
            if self.terminated() {
                self.fresh();
            }
            bump_pointers(&mut self.builder, bumps);
            let v = self.builder.use_var(var);
            let v1 = self.ins().iadd_imm_s(v, 1);
            self.builder.def_var(var, v1);
        }
        self.ins().jump(head, &[]);
        self.builder.switch_to_block(done);
        for (acc, vs) in extra {
            let main = self.vars[acc as usize];
            let a = self.builder.use_var(main);
            let x = self.builder.use_var(vs[0]);
            let y = self.builder.use_var(vs[1]);
            let z = self.builder.use_var(vs[2]);
            let ax = self.ins().fadd(a, x);
            let yz = self.ins().fadd(y, z);
            let total = self.ins().fadd(ax, yz);
            self.builder.def_var(main, total);
        }
    }
}
