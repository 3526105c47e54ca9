//! The forward pass's ops as JIT kernels: `tinyllama::JitOps` over the kernel's
//! [`Runtime`].
//!
//! The kernels are the functions of `ir-modules/llama.bfir` (built in, or a boot module
//! of that name replacing it). Every call goes through its slot with the CPU-exception
//! recovery armed ([`Runtime::call`]), so the kernels climb T0 -> T1 -> T2 -> T3 while
//! the model generates, compiled by the compiler CPU when there is one (inline
//! otherwise), and their `tier_up` events interleave with the `token` events. The
//! kernels give the same bits at every tier as `tinyllama::PlainOps` (see `llama.bfir`),
//! so the tokens are the host's.

use super::answer::OpReport;
use crate::runtime::{CallError, Runtime};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use jit::Arg;
use tinyllama::jit_ops::{JitCaller, LLAMA_MODULE, LlamaFuncs, LlamaKernel, resolve};
use tinyllama::{JitOps, OpError, OpResult};

/// The llama kernels in a runtime: what `JitOps` calls.
pub struct KernelJit {
    runtime: Runtime,
    funcs: LlamaFuncs,
}

impl KernelJit {
    /// The kernels of the runtime's `llama.bfir`; `Err` says why they are missing.
    pub fn new(runtime: Runtime) -> Result<KernelJit, String> {
        let module = runtime
            .modules
            .iter()
            .find(|m| m.file == LLAMA_MODULE)
            .ok_or_else(|| format!("the JIT runtime has no {LLAMA_MODULE}"))?;
        let funcs = resolve(&runtime.engine, module.id).map_err(|e| format!("{e}"))?;
        Ok(KernelJit { runtime, funcs })
    }
}

impl JitCaller for KernelJit {
    fn call(&self, kernel: LlamaKernel, args: &mut [Arg<'_>]) -> OpResult {
        let op = kernel.name();
        let f = self.funcs[kernel.index()];
        self.runtime.call(f, args).map(|_| ()).map_err(|e| OpError {
            op,
            reason: match e {
                CallError::Trap(trap) => format!("the JIT kernel trapped: {trap}"),
                CallError::Exception { kernel, tier, .. } => format!(
                    "CPU exception in {kernel}'s {tier} code (the kernel runs at T0 from now on)"
                ),
            },
        })
    }
}

impl OpReport for JitOps<KernelJit> {
    fn op_tiers(&self) -> Vec<(&'static str, String)> {
        let jit = self.caller();
        LlamaKernel::ALL
            .iter()
            .map(|&k| {
                let tier = jit.runtime.engine.current_tier(jit.funcs[k.index()]);
                (k.name(), String::from(tier.name()))
            })
            .collect()
    }

    fn compile_us(&self) -> u64 {
        let records = self.caller().runtime.sink.tier_ups();
        records.iter().map(|r| r.compile_ns).sum::<u64>() / 1000
    }
}
