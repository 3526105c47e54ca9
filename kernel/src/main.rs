//! BareFlow kernel.
//!
//! Boot order (BSP): entry stub (Limine or multiboot2) -> `early_init`
//! (serial, descriptor tables, TSC) -> `BootInfo` -> `kernel_main`: CPU
//! features, boot parameters, page tables, heap, executable pool, local
//! APIC, application processors -> the boot mode.
//!
//! Services for the rest of BareFlow (the JIT runtime):
//! - `trace::emit(name, |e| ...)`: one JSON event line, from any CPU.
//! - `smp::run_on(cpu, closure) -> Job<R>`: run work on a parked CPU;
//!   `Job::join` / `join_timeout` return its result.
//! - `mem::exec_pool::get()`: the W^X executable pool (`alloc`, `CodeRegion::write`,
//!   `finish_writes`, `exec_addr`, `free`, `stats`).
//! - `features()`: CPUID feature set (`has("avx")`, `has("fma")`, ...), with AVX
//!   state already enabled in XCR0 when present.
//! - `params()`: the typed boot parameters (mode, tier thresholds, sizes).
//! - the global allocator: a heap of at least 64 MiB when RAM allows.

#![no_std]
#![no_main]

extern crate alloc;

mod acpi;
mod arch;
mod boot;
mod exit;
mod mem;
mod modes;
mod panic;
mod percpu;
mod runtime;
mod selftest;
mod serial;
mod smp;
mod trace;
mod tsc;

use arch::apic;
use arch::cpuid::CpuFeatures;
use bareflow_boot_model::bootinfo::{BootInfo, Loader};
use bareflow_boot_model::cmdline::BootParams;
use bareflow_boot_model::memmap::PAGE_SIZE;
use mem::{exec_pool, heap, paging};
use spin::Once;

/// Kernel version, reported in the `boot` event.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

static BOOT_INFO: Once<BootInfo> = Once::new();
static PARAMS: Once<BootParams> = Once::new();
static FEATURES: Once<CpuFeatures> = Once::new();

/// The boot information (after `kernel_main` started).
pub fn boot_info() -> &'static BootInfo {
    BOOT_INFO
        .get()
        .expect("kernel_main stores the boot info first")
}

/// The parsed boot parameters.
pub fn params() -> &'static BootParams {
    PARAMS
        .get()
        .expect("kernel_main parses the command line early")
}

/// The BSP's CPU features.
pub fn features() -> &'static CpuFeatures {
    FEATURES
        .get()
        .expect("kernel_main detects CPU features early")
}

/// First Rust code on the BSP, whichever the loader.
pub fn early_init() {
    tsc::record_boot();
    serial::init();
    smp::init_bsp();
    tsc::init();
}

fn fatal(what: &str, reason: &str) -> ! {
    panic!("{what}: {reason}")
}

/// The common boot path.
pub fn kernel_main(info: BootInfo) -> ! {
    let info = BOOT_INFO.call_once(|| info);
    trace::emit("boot", |e| {
        e.str("loader", info.loader.name())
            .str("loader_name", info.loader_name.as_str())
            .str("cmdline", info.cmdline.as_str())
            .str("version", VERSION)
            .bool("cmdline_truncated", info.cmdline.truncated());
        if let Some(revision) = info.limine_revision {
            e.display("limine_base_revision", revision);
        }
    });

    let params = PARAMS.call_once(|| {
        BootParams::parse(info.cmdline.as_str(), |w| {
            trace::emit("warn", |e| {
                e.str("what", "cmdline")
                    .str("token", w.token)
                    .str("reason", w.reason)
                    .str("detail", "parameter ignored; default used");
            });
        })
    });
    trace::emit("params", |e| {
        let t = params.tiers.0;
        e.str("mode", params.mode.name())
            .display("tiers", format_args!("{},{},{}", t[0], t[1], t[2]))
            .u64("pool_mib", params.pool_mib as u64)
            .u64("heap_mib", params.heap_mib as u64)
            .u64("max_cpus", params.max_cpus as u64);
    });

    let features = FEATURES.call_once(CpuFeatures::detect);
    trace::emit("cpu_features", |e| {
        e.str("vendor", features.vendor())
            .str("model", features.brand())
            .u64("family", features.family as u64)
            .u64("model_number", features.model as u64)
            .u64("stepping", features.stepping as u64)
            .str_list("features", features.names().iter().copied())
            .hex("xcr0", features.xcr0)
            .u64("tsc_hz", tsc::hz())
            .str("tsc_source", tsc::source().name());
    });

    if let Err(e) = paging::init(info, features.has("nx")) {
        fatal("page tables", e.reason());
    }
    let pool_bytes = params.pool_mib as u64 * mem::MIB;
    let heap_bytes = heap::choose_size(
        paging::free_frames() * PAGE_SIZE,
        paging::largest_contiguous_frames() * PAGE_SIZE,
        pool_bytes,
        params.heap_mib as u64 * mem::MIB,
    );
    if heap_bytes < 4 * mem::MIB {
        fatal("heap", "not enough memory for a kernel heap");
    }
    if let Err(e) = heap::init(heap_bytes) {
        fatal("heap", e.reason());
    }
    if heap_bytes < heap::MIN_TARGET {
        trace::warn(
            "mem",
            format_args!(
                "heap is {} MiB, below the 64 MiB the JIT expects",
                heap_bytes / mem::MIB
            ),
        );
    }
    let pool = match exec_pool::init(pool_bytes) {
        Ok(p) => p,
        Err(e) => fatal("executable pool", e.reason()),
    };
    let totals = info.memory.totals();
    let frames = paging::frame_stats();
    // SAFETY: linker-script symbols; only their addresses are used.
    let kernel_bytes = unsafe {
        &arch::entry::__kernel_end as *const u8 as u64
            - &arch::entry::__kernel_start as *const u8 as u64
    };
    trace::emit("mem", |e| {
        e.u64("usable_bytes", totals.usable_bytes)
            .u64("heap_bytes", heap::size())
            .hex("heap_base", heap::base())
            .u64("pool_bytes", pool.bytes())
            .u64("reserved_bytes", totals.reserved_bytes)
            .u64("regions", totals.regions as u64)
            .hex("max_phys", totals.max_phys)
            .u64("kernel_bytes", kernel_bytes)
            .u64("frames_total", frames.map_or(0, |f| f.total_frames))
            .u64("frames_used", frames.map_or(0, |f| f.allocated_frames))
            .hex("hhdm_offset", info.hhdm_offset)
            .hex("kernel_phys", info.kernel_phys_base)
            .hex("pool_rw", pool.write_base())
            .hex("pool_rx", pool.exec_base());
    });

    for m in info.modules.as_slice() {
        trace::emit("boot_module", |e| {
            e.str("name", m.name.as_str())
                .hex("phys", m.phys_start)
                .u64("bytes", m.len);
        });
    }
    if info.modules_dropped > 0 {
        trace::warn(
            "modules",
            format_args!(
                "{} boot modules beyond the first 32 ignored",
                info.modules_dropped
            ),
        );
    }

    match paging::map_mmio(apic::phys_base(), 4096) {
        Ok(v) => apic::set_mmio(v),
        Err(e) => fatal("local APIC", e.reason()),
    }
    smp::bsp_online();
    let limit = match params.max_cpus {
        0 => percpu::MAX_CPUS,
        n => n as usize,
    };
    let online = match info.loader {
        Loader::Limine => smp::start_limine(limit),
        Loader::Multiboot2 => {
            let rsdp = info.rsdp_phys.or_else(acpi::scan_bios_rsdp);
            match rsdp.map(acpi::read_madt) {
                Some(Ok(madt)) => {
                    let t = arch::entry::AP_TRAMPOLINE_PHYS;
                    smp::start_sipi(
                        madt.cpus.as_slice(),
                        info.memory.is_usable(t, t + 4096),
                        limit,
                    )
                }
                Some(Err(reason)) => {
                    trace::warn("acpi", format_args!("{reason}; running on the BSP only"));
                    1
                }
                None => {
                    trace::warn(
                        "acpi",
                        format_args!("no ACPI RSDP found; running on the BSP only"),
                    );
                    1
                }
            }
        }
    };
    trace::emit("smp", |e| {
        e.u64("cpus_online", online as u64)
            .bool("x2apic", apic::is_x2apic());
    });

    modes::run(params)
}
