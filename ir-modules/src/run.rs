//! Running catalog workloads through a `jit::Engine`.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use jit::{Engine, FuncId, Tier, Trap, Value};

use crate::catalog::{CATALOG, Kernel};
use crate::sources::SOURCES;
use crate::workload::{Outputs, Workload};

/// Why the catalog could not be loaded into an engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogError {
    /// A `.bfir` file did not parse or verify (`file:line:col: reason`).
    Parse(String),
    /// The engine refused a module.
    Load {
        /// The `.bfir` file of the module.
        file: &'static str,
        /// The engine's [`jit::LoadError`], as text.
        reason: String,
    },
    /// A catalog entry names a function its module does not have.
    MissingEntry {
        /// The catalog kernel's name.
        kernel: &'static str,
        /// The function it names.
        entry: &'static str,
    },
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CatalogError::Parse(d) => write!(f, "{d}"),
            CatalogError::Load { file, reason } => {
                write!(f, "{file}: engine refused the module: {reason}")
            }
            CatalogError::MissingEntry { kernel, entry } => {
                write!(f, "kernel {kernel}: no function `{entry}` in its module")
            }
        }
    }
}

/// Parses and verifies one catalog file.
pub fn parse(file: &str) -> Result<jit::Module, CatalogError> {
    let src = crate::sources::source(file)
        .ok_or_else(|| CatalogError::Parse(alloc::format!("{file}: not a catalog file")))?;
    jit::parse_module(file, src).map_err(|d| CatalogError::Parse(d.to_string()))
}

/// The catalog loaded into one engine: the entry function of every kernel.
#[derive(Clone, Debug)]
pub struct LoadedCatalog {
    entries: Vec<(&'static str, FuncId)>,
    modules: Vec<(&'static str, jit::ModuleId)>,
}

impl LoadedCatalog {
    /// Parses every `.bfir` file once, loads it into `engine` and resolves every entry.
    pub fn load(engine: &Engine) -> Result<LoadedCatalog, CatalogError> {
        let mut modules = Vec::new();
        for (file, _) in SOURCES {
            let module = parse(file)?;
            let id = engine.load(module).map_err(|e| CatalogError::Load {
                file,
                reason: alloc::format!("{e:?}"),
            })?;
            modules.push((*file, id));
        }
        let mut entries = Vec::new();
        for k in CATALOG {
            let module = modules
                .iter()
                .find(|(f, _)| *f == k.file)
                .map(|(_, id)| *id);
            let func = module.and_then(|m| engine.func(m, k.entry));
            match func {
                Some(f) => entries.push((k.name, f)),
                None => {
                    return Err(CatalogError::MissingEntry {
                        kernel: k.name,
                        entry: k.entry,
                    });
                }
            }
        }
        Ok(LoadedCatalog { entries, modules })
    }

    /// The entry function of `kernel`.
    pub fn func(&self, kernel: &Kernel) -> Option<FuncId> {
        self.entries
            .iter()
            .find(|(n, _)| *n == kernel.name)
            .map(|(_, f)| *f)
    }

    /// The module loaded from `file`.
    pub fn module(&self, file: &str) -> Option<jit::ModuleId> {
        self.modules
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, m)| *m)
    }
}

/// One call of `f` at `tier` on the workload's current arguments (no reset, no counting).
pub fn call_at(engine: &Engine, f: FuncId, tier: Tier, w: &mut Workload) -> Result<Value, Trap> {
    let mut args = w.args();
    engine.call_at(f, tier, &mut args)
}

/// One call through the slot (counted, may tier up), on the current arguments.
pub fn call_counted(engine: &Engine, f: FuncId, w: &mut Workload) -> Result<Value, Trap> {
    let mut args = w.args();
    engine.call(f, &mut args)
}

/// Resets the workload, runs it at `tier` and returns the outputs.
pub fn run_at(engine: &Engine, f: FuncId, tier: Tier, w: &mut Workload) -> Result<Outputs, Trap> {
    w.reset();
    let ret = call_at(engine, f, tier, w)?;
    Ok(w.outputs(ret))
}

/// Like [`run_at`], but also returns the buffers when the call traps (writes made
/// before a trap stay, identically at every tier).
pub fn run_at_keep(
    engine: &Engine,
    f: FuncId,
    tier: Tier,
    w: &mut Workload,
) -> (Result<Value, Trap>, Outputs) {
    w.reset();
    let r = call_at(engine, f, tier, w);
    let outs = w.outputs(*r.as_ref().unwrap_or(&Value::Unit));
    (r, outs)
}

/// Why [`check_against_aot`] failed.
#[derive(Clone, Debug)]
pub enum CheckError {
    /// The JIT call trapped.
    Trap(Trap),
    /// The AOT baseline refused the arguments.
    Aot(crate::AotError),
    /// The outputs differ beyond the kernel's tolerance.
    Mismatch(crate::Mismatch),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Trap(t) => write!(f, "trap {:?} at {}", t.kind, t.tier),
            CheckError::Aot(e) => write!(f, "AOT baseline: {e}"),
            CheckError::Mismatch(m) => write!(f, "{m}"),
        }
    }
}

/// The self-test of one kernel at one tier: runs the workload through the engine and
/// through the AOT baseline (which equals T0 bit for bit) and compares the outputs with
/// the kernel's tolerance (exactly at T0).
pub fn check_against_aot(
    engine: &Engine,
    f: FuncId,
    tier: Tier,
    w: &mut Workload,
) -> Result<(), CheckError> {
    let want = w.run_aot().map_err(CheckError::Aot)?;
    let got = run_at(engine, f, tier, w).map_err(CheckError::Trap)?;
    let tol = if tier == Tier::T0 {
        crate::Tolerance::Exact
    } else {
        w.kernel.tolerance
    };
    want.compare(&got, tol).map_err(CheckError::Mismatch)
}
