//! IR modules: the ones built into the image (`ir-modules/*.bfir`) and the ones given
//! as boot modules (GRUB `module2`, Limine `module_path`).
//!
//! A boot module whose name ends in `.bfir` is parsed and verified; when it is sound
//! and has the name of a built-in module (e.g. `fft.bfir`) it replaces that module,
//! otherwise it is loaded as an extra module. A malformed boot module is reported as
//! `module_error` (file, line, col, reason) and skipped: the built-in module of that
//! name, if any, stays. Boot modules with other names are left to their users.
//!
//! The workloads of a boot module's functions (`#[workload(...)]`) are kept with it:
//! those functions join the demo, bench and self-tests. A function of a new boot module
//! (not one replacing a built-in module) that has none is reported once as a `warn`
//! (`workload`) saying why it is not exercised.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use jit::workload::{NotExercised, Workload};
use jit::{Engine, ModuleId};
use platform::{boot, trace};

/// A module loaded into an engine.
pub struct LoadedModule {
    /// File name, e.g. `fft.bfir`.
    pub file: String,
    pub id: ModuleId,
    /// Whether it came from a boot module.
    pub from_boot: bool,
    /// The source text (kept so other engines, e.g. the bench's, load the same code).
    pub source: String,
    /// Boot modules: each function's workload, or why it has none (empty for built-in
    /// modules, which the catalog drives).
    pub workloads: Vec<(String, Result<Workload, NotExercised>)>,
}

/// Whether `function` of `file` is a catalog kernel's entry (the catalog calls it).
pub fn is_catalog_entry(file: &str, function: &str) -> bool {
    ::modules::CATALOG
        .iter()
        .any(|k| k.file == file && k.entry == function)
}

/// The workloads of a boot module's functions; reports the functions left out.
fn workloads(
    emit: bool,
    file: &str,
    module: &jit::Module,
    names: &[String],
) -> Vec<(String, Result<Workload, NotExercised>)> {
    let mut out = Vec::new();
    for name in names {
        let Some(w) = module.workload(name) else {
            continue;
        };
        if let Err(why) = &w
            && emit
            && !is_catalog_entry(file, name)
        {
            trace::warn("workload", format_args!("{file}: {name}: {why}"));
        }
        out.push((name.clone(), w.cloned()));
    }
    out
}

fn error(emit: bool, file: &str, line: u32, col: u32, reason: &str) {
    if emit {
        trace::emit("module_error", |e| {
            e.str("file", file)
                .u64("line", line as u64)
                .u64("col", col as u64)
                .str("reason", reason);
        });
    }
}

/// Line and column (1-based) of byte `offset` in `bytes`.
fn position(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
    let col = before.iter().rev().take_while(|&&b| b != b'\n').count() as u32 + 1;
    (line, col)
}

/// Boot modules named `*.bfir` that parse and verify: (name, source, module).
fn boot_modules(emit: bool) -> Vec<(String, String, jit::Module)> {
    let mut out: Vec<(String, String, jit::Module)> = Vec::new();
    for (index, m) in boot::info().modules.as_slice().iter().enumerate() {
        let name = m.name.as_str();
        if !name.ends_with(".bfir") {
            continue;
        }
        let bytes = match boot::module_bytes(index) {
            Ok(b) => b,
            Err(_) => {
                let why = "the boot loader placed the module outside the memory it reserved";
                error(emit, name, 0, 0, why);
                continue;
            }
        };
        let text = match core::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let (line, col) = position(bytes, e.valid_up_to());
                error(emit, name, line, col, "not UTF-8 text");
                continue;
            }
        };
        match jit::parse_module(name, text) {
            Ok(module) => {
                out.retain(|(n, _, _)| n != name);
                out.push((name.to_string(), text.to_string(), module));
            }
            Err(d) => error(emit, &d.file, d.line, d.col, &d.reason),
        }
    }
    out
}

fn loaded_event(
    emit: bool,
    file: &str,
    functions: &[String],
    from_boot: bool,
    replaces: bool,
    bytes: usize,
) {
    if emit {
        trace::emit("module_loaded", |e| {
            e.str("file", file)
                .str("source", if from_boot { "boot" } else { "builtin" })
                .bool("replaces_builtin", replaces)
                .u64("bytes", bytes as u64)
                .str_list("functions", functions.iter().map(String::as_str));
        });
    }
}

/// Loads every module into `engine`; reports each as `module_loaded` / `module_error`.
pub fn load_all(engine: &Engine, emit: bool) -> Vec<LoadedModule> {
    let mut boot = boot_modules(emit);
    let mut loaded = Vec::new();
    let mut load =
        |file: &str, source: String, module: jit::Module, from_boot: bool, replaces: bool| {
            let bytes = source.len();
            let names: Vec<String> = module
                .function_names()
                .iter()
                .map(|s| s.to_string())
                .collect();
            // A boot module replacing a built-in one is the catalog's own module
            // (`./x run` passes ir-modules/*.bfir): its helpers are not reported.
            let workloads = if from_boot {
                workloads(emit && !replaces, file, &module, &names)
            } else {
                Vec::new()
            };
            match engine.load(module) {
                Ok(id) => {
                    loaded_event(emit, file, &names, from_boot, replaces, bytes);
                    loaded.push(LoadedModule {
                        file: file.to_string(),
                        id,
                        from_boot,
                        source,
                        workloads,
                    })
                }
                Err(e) => error(
                    emit,
                    file,
                    0,
                    0,
                    &alloc::format!("engine refused the module: {e}"),
                ),
            }
        };
    for (file, src) in ::modules::sources::SOURCES {
        if let Some(i) = boot.iter().position(|(n, _, _)| n == file) {
            let (name, text, module) = boot.remove(i);
            load(&name, text, module, true, true);
            continue;
        }
        match jit::parse_module(file, src) {
            Ok(module) => load(file, src.to_string(), module, false, false),
            Err(d) => error(emit, &d.file, d.line, d.col, &d.reason),
        }
    }
    for (name, text, module) in boot {
        load(&name, text, module, true, false);
    }
    loaded
}
