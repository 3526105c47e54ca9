//! The ops as JIT kernels: [`JitOps`] runs every [`Ops`] method as a function of
//! `ir-modules/llama.bfir` through a [`JitCaller`].
//!
//! The IR kernels compute what [`crate::PlainOps`] computes, operation for operation
//! (see the module's documentation), and every tier of the JIT gives the same bits, so
//! `JitOps` generates the same tokens as `PlainOps` whatever the tier each op has
//! reached and however the rows are split over workers. The forward pass splits the
//! matvec rows and attention heads as for any [`Ops`]; each worker calls the kernels
//! with its own range.
//!
//! Who runs the kernels is the [`JitCaller`]'s business: on the host [`EngineCaller`]
//! (a `jit::Engine` whose slots tier up live, or one forced tier for tests), in the
//! BareFlow kernel its runtime (calls guarded against CPU exceptions, a compiler CPU).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use jit::{Arg, Engine, FuncId, ModuleId, Tier};

use crate::ops::{OpError, OpResult, Ops};

/// File name of the llama kernels among the IR modules (`modules::sources`).
pub const LLAMA_MODULE: &str = "llama.bfir";

/// Scratch values the kernels' dot products need (`lanes`): one per partial sum.
const LANES: usize = 8;

/// The kernels of `llama.bfir`: one per [`Ops`] method, two for attention (which also
/// calls [`LlamaKernel::Softmax`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LlamaKernel {
    /// [`Ops::matvec`].
    Matvec,
    /// [`Ops::matvec_f16`].
    MatvecF16,
    /// [`Ops::matvec_q8`].
    MatvecQ8,
    /// [`Ops::rmsnorm`].
    Rmsnorm,
    /// [`Ops::softmax`].
    Softmax,
    /// [`Ops::rope`].
    Rope,
    /// [`Ops::swiglu`].
    Swiglu,
    /// [`Ops::attention`], first step: the scores.
    AttentionScores,
    /// [`Ops::attention`], last step: the weighted sum of the values (after
    /// [`LlamaKernel::Softmax`] of the scores).
    AttentionValues,
}

impl LlamaKernel {
    /// Every kernel, in [`LlamaKernel::index`] order.
    pub const ALL: [LlamaKernel; 9] = [
        LlamaKernel::Matvec,
        LlamaKernel::MatvecF16,
        LlamaKernel::MatvecQ8,
        LlamaKernel::Rmsnorm,
        LlamaKernel::Softmax,
        LlamaKernel::Rope,
        LlamaKernel::Swiglu,
        LlamaKernel::AttentionScores,
        LlamaKernel::AttentionValues,
    ];

    /// The IR function's name (that of the [`Ops`] method but for attention's two).
    pub fn name(self) -> &'static str {
        match self {
            LlamaKernel::Matvec => "matvec",
            LlamaKernel::MatvecF16 => "matvec_f16",
            LlamaKernel::MatvecQ8 => "matvec_q8",
            LlamaKernel::Rmsnorm => "rmsnorm",
            LlamaKernel::Softmax => "softmax",
            LlamaKernel::Rope => "rope",
            LlamaKernel::Swiglu => "swiglu",
            LlamaKernel::AttentionScores => "attention_scores",
            LlamaKernel::AttentionValues => "attention_values",
        }
    }

    /// Position in [`LlamaKernel::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Runs the kernels of `llama.bfir` for [`JitOps`]. Shared by every worker of the
/// forward pass at once (`Sync`).
pub trait JitCaller: Sync {
    /// Calls `kernel` with `args` (in the order of its IR parameters). A trap, or
    /// anything else that keeps the kernel from completing, is an [`OpError`] naming the
    /// op.
    fn call(&self, kernel: LlamaKernel, args: &mut [Arg<'_>]) -> OpResult;
}

impl<C: JitCaller + ?Sized> JitCaller for &C {
    fn call(&self, kernel: LlamaKernel, args: &mut [Arg<'_>]) -> OpResult {
        (**self).call(kernel, args)
    }
}

/// Why the llama kernels could not be set up in an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JitSetupError {
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for JitSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "llama JIT kernels: {}", self.reason)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JitSetupError {}

/// The functions of the kernels in a loaded `llama.bfir` (index: [`LlamaKernel::index`]).
pub type LlamaFuncs = [FuncId; 9];

/// Looks the kernels up in `module`, a loaded `llama.bfir`.
pub fn resolve(engine: &Engine, module: ModuleId) -> Result<LlamaFuncs, JitSetupError> {
    let mut funcs = Vec::with_capacity(LlamaKernel::ALL.len());
    for k in LlamaKernel::ALL {
        funcs.push(engine.func(module, k.name()).ok_or_else(|| JitSetupError {
            reason: format!("{LLAMA_MODULE} has no function `{}`", k.name()),
        })?);
    }
    funcs.try_into().map_err(|_| JitSetupError {
        reason: String::from("kernel table size"),
    })
}

/// Parses the built-in `llama.bfir`, loads it into `engine` and resolves its kernels.
pub fn load_llama_module(engine: &Engine) -> Result<LlamaFuncs, JitSetupError> {
    let source = modules::sources::source(LLAMA_MODULE).ok_or_else(|| JitSetupError {
        reason: format!("{LLAMA_MODULE} is not among the built-in IR modules"),
    })?;
    let module = jit::parse_module(LLAMA_MODULE, source).map_err(|d| JitSetupError {
        reason: format!("{}:{}:{}: {}", d.file, d.line, d.col, d.reason),
    })?;
    let id = engine.load(module).map_err(|e| JitSetupError {
        reason: format!("the engine refused {LLAMA_MODULE}: {e}"),
    })?;
    resolve(engine, id)
}

/// A [`JitCaller`] over a `jit::Engine`: every call goes through the kernel's slot
/// (counted, tiering up at the engine's thresholds), or with [`EngineCaller::at_tier`]
/// runs at one tier (for tests and measurements).
pub struct EngineCaller {
    engine: Arc<Engine>,
    funcs: LlamaFuncs,
    forced: Option<Tier>,
}

impl EngineCaller {
    /// Loads `llama.bfir` into `engine`.
    pub fn new(engine: Arc<Engine>) -> Result<EngineCaller, JitSetupError> {
        let funcs = load_llama_module(&engine)?;
        Ok(EngineCaller {
            engine,
            funcs,
            forced: None,
        })
    }

    /// Every call runs at `tier` (compiled on first use), without counting or tiering.
    pub fn at_tier(mut self, tier: Tier) -> EngineCaller {
        self.forced = Some(tier);
        self
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The kernel's function.
    pub fn func(&self, kernel: LlamaKernel) -> FuncId {
        self.funcs[kernel.index()]
    }

    /// The tier the kernel runs at now.
    pub fn tier(&self, kernel: LlamaKernel) -> Tier {
        self.forced
            .unwrap_or_else(|| self.engine.current_tier(self.func(kernel)))
    }
}

impl JitCaller for EngineCaller {
    fn call(&self, kernel: LlamaKernel, args: &mut [Arg<'_>]) -> OpResult {
        let f = self.func(kernel);
        let result = match self.forced {
            Some(tier) => self.engine.call_at(f, tier, args),
            None => self.engine.call(f, args),
        };
        result.map(|_| ()).map_err(|trap| OpError {
            op: kernel.name(),
            reason: format!("the JIT kernel trapped: {trap}"),
        })
    }
}

/// [`Ops`] through the JIT kernels of `llama.bfir` (see the module documentation).
pub struct JitOps<C: JitCaller> {
    caller: C,
}

/// `v` as an IR `i32` argument, or an [`OpError`] naming `what`.
fn int(op: &'static str, what: &str, v: usize) -> Result<i32, OpError> {
    i32::try_from(v).map_err(|_| OpError {
        op,
        reason: format!("{what} = {v} does not fit the kernel's i32 parameter"),
    })
}

impl<C: JitCaller> JitOps<C> {
    /// Ops that run the kernels through `caller`.
    pub fn new(caller: C) -> JitOps<C> {
        JitOps { caller }
    }

    /// The caller.
    pub fn caller(&self) -> &C {
        &self.caller
    }
}

impl<C: JitCaller> Ops for JitOps<C> {
    fn matvec(&self, out: &mut [f32], w: &[f32], x: &[f32], rows: usize, cols: usize) -> OpResult {
        let op = LlamaKernel::Matvec;
        let (r, c) = (int(op.name(), "rows", rows)?, int(op.name(), "cols", cols)?);
        let mut lanes = [0.0f32; LANES];
        self.caller.call(
            op,
            &mut [
                Arg::F32sMut(out),
                Arg::F32s(w),
                Arg::F32s(x),
                Arg::I32(r),
                Arg::I32(c),
                Arg::F32sMut(&mut lanes),
            ],
        )
    }

    fn matvec_f16(
        &self,
        out: &mut [f32],
        w: &[u16],
        x: &[f32],
        rows: usize,
        cols: usize,
    ) -> OpResult {
        let op = LlamaKernel::MatvecF16;
        let (r, c) = (int(op.name(), "rows", rows)?, int(op.name(), "cols", cols)?);
        let mut lanes = [0.0f32; LANES];
        self.caller.call(
            op,
            &mut [
                Arg::F32sMut(out),
                Arg::F16s(w),
                Arg::F32s(x),
                Arg::I32(r),
                Arg::I32(c),
                Arg::F32sMut(&mut lanes),
            ],
        )
    }

    fn matvec_q8(
        &self,
        out: &mut [f32],
        w_q: &[i8],
        w_s: &[f32],
        x_q: &[i8],
        x_s: &[f32],
        rows: usize,
        cols: usize,
        group: usize,
    ) -> OpResult {
        let op = LlamaKernel::MatvecQ8;
        let name = op.name();
        self.caller.call(
            op,
            &mut [
                Arg::F32sMut(out),
                Arg::I8s(w_q),
                Arg::F32s(w_s),
                Arg::I8s(x_q),
                Arg::F32s(x_s),
                Arg::I32(int(name, "rows", rows)?),
                Arg::I32(int(name, "cols", cols)?),
                Arg::I32(int(name, "group", group)?),
            ],
        )
    }

    fn rmsnorm(&self, out: &mut [f32], x: &[f32], weight: &[f32], eps: f32) -> OpResult {
        let op = LlamaKernel::Rmsnorm;
        let n = int(op.name(), "length", x.len())?;
        let mut lanes = [0.0f32; LANES];
        self.caller.call(
            op,
            &mut [
                Arg::F32sMut(out),
                Arg::F32s(x),
                Arg::F32s(weight),
                Arg::I32(n),
                Arg::F32(eps),
                Arg::F32sMut(&mut lanes),
            ],
        )
    }

    fn softmax(&self, x: &mut [f32]) -> OpResult {
        let op = LlamaKernel::Softmax;
        let n = int(op.name(), "length", x.len())?;
        self.caller.call(op, &mut [Arg::F32sMut(x), Arg::I32(n)])
    }

    fn rope(&self, x: &mut [f32], cos: &[f32], sin: &[f32], head_size: usize) -> OpResult {
        let op = LlamaKernel::Rope;
        let n = int(op.name(), "length", x.len())?;
        let hs = int(op.name(), "head size", head_size)?;
        self.caller.call(
            op,
            &mut [
                Arg::F32sMut(x),
                Arg::F32s(cos),
                Arg::F32s(sin),
                Arg::I32(n),
                Arg::I32(hs),
            ],
        )
    }

    fn swiglu(&self, gate: &mut [f32], up: &[f32]) -> OpResult {
        let op = LlamaKernel::Swiglu;
        let n = int(op.name(), "length", gate.len())?;
        self.caller
            .call(op, &mut [Arg::F32sMut(gate), Arg::F32s(up), Arg::I32(n)])
    }

    fn attention(
        &self,
        out: &mut [f32],
        q: &[f32],
        k_cache: &[f32],
        v_cache: &[f32],
        scores: &mut [f32],
        n_pos: usize,
        head_size: usize,
        kv_stride: usize,
        kv_offset: usize,
    ) -> OpResult {
        let name = "attention";
        let n = int(name, "positions", n_pos)?;
        let hs = int(name, "head size", head_size)?;
        let stride = int(name, "KV stride", kv_stride)?;
        let offset = int(name, "KV offset", kv_offset)?;
        let mut lanes = [0.0f32; LANES];
        self.caller.call(
            LlamaKernel::AttentionScores,
            &mut [
                Arg::F32sMut(scores),
                Arg::F32s(q),
                Arg::F32s(k_cache),
                Arg::I32(n),
                Arg::I32(hs),
                Arg::I32(stride),
                Arg::I32(offset),
                Arg::F32sMut(&mut lanes),
            ],
        )?;
        let len = scores.len();
        let scores = scores.get_mut(..n_pos).ok_or_else(|| OpError {
            op: name,
            reason: format!("{n_pos} positions but {len} scores"),
        })?;
        self.softmax(scores)?;
        self.caller.call(
            LlamaKernel::AttentionValues,
            &mut [
                Arg::F32sMut(out),
                Arg::F32s(scores),
                Arg::F32s(v_cache),
                Arg::I32(n),
                Arg::I32(hs),
                Arg::I32(stride),
                Arg::I32(offset),
            ],
        )
    }
}

impl<C: JitCaller> fmt::Debug for JitOps<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitOps").finish_non_exhaustive()
    }
}
