//! Bringing the machine up, on the bootstrap CPU.
//!
//! Order: entry stub (Limine or multiboot2) -> [`early`] (serial, descriptor
//! tables, TSC, exception table) -> `BootInfo` -> [`machine`]: CPU features,
//! boot parameters, page tables, heap, executable pool, local APIC,
//! application processors -> the application's entry (`entry_point!`).

use crate::arch::{self, apic};
use crate::mem::{MIB, exec_pool, heap, vm};
use crate::{boot, cpu, fault, serial, smp, time, trace};
use bareflow_boot_model::bootinfo::{BootInfo, Loader};
use bareflow_boot_model::cmdline::{BootParams, Mode};
use bareflow_boot_model::memmap::PAGE_SIZE;

unsafe extern "Rust" {
    /// Defined by the application through `entry_point!`.
    fn __bareflow_application_main(params: &'static BootParams) -> !;
}

/// First Rust code on the BSP, whichever the loader.
pub(crate) fn early() {
    time::record_boot();
    serial::init();
    smp::init_bsp();
    time::init();
    fault::init();
}

fn fatal(what: &str, reason: &str) -> ! {
    panic!("{what}: {reason}")
}

/// The common boot path after the hand-over.
pub(crate) fn machine(info: BootInfo) -> ! {
    let info = boot::set_info(info);
    trace::emit("boot", |e| {
        e.str("loader", info.loader.name())
            .str("loader_name", info.loader_name.as_str())
            .str("cmdline", info.cmdline.as_str())
            .str("version", crate::VERSION)
            .bool("cmdline_truncated", info.cmdline.truncated());
        if let Some(revision) = info.limine_revision {
            e.display("limine_base_revision", revision);
        }
    });

    let params = boot::set_params(|| {
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
            .str(
                "tier_policy",
                if params.adaptive_tiers {
                    "adaptive"
                } else {
                    "thresholds"
                },
            )
            .u64("pool_mib", params.pool_mib as u64)
            .u64("heap_mib", params.heap_mib as u64)
            .u64("max_cpus", params.max_cpus as u64);
    });

    let features = cpu::detect_features();
    trace::emit("cpu_features", |e| {
        e.str("vendor", features.vendor())
            .str("model", features.brand())
            .u64("family", features.family as u64)
            .u64("model_number", features.model as u64)
            .u64("stepping", features.stepping as u64)
            .str_list("features", features.names().iter().copied())
            .hex("xcr0", features.xcr0)
            .u64("tsc_hz", time::hz())
            .str("tsc_source", time::source().name());
    });

    if let Err(e) = vm::init(info, features.has("nx")) {
        fatal("page tables", e.reason());
    }
    let pool_bytes = params.pool_mib as u64 * MIB;
    // The llama mode keeps the model on the heap: it takes most of RAM.
    let share = match params.mode {
        Mode::Llama => heap::HeapShare::Most,
        _ => heap::HeapShare::Half,
    };
    let keep_frames = heap::keep_after_heap(pool_bytes).div_ceil(PAGE_SIZE);
    let heap_bytes = heap::choose_size(
        vm::free_frames() * PAGE_SIZE,
        vm::largest_contiguous_leaving(keep_frames) * PAGE_SIZE,
        params.heap_mib as u64 * MIB,
        share,
    );
    if heap_bytes < 4 * MIB {
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
                heap_bytes / MIB
            ),
        );
    }
    let pool = match exec_pool::init(pool_bytes) {
        Ok(p) => p,
        Err(e) => fatal("executable pool", e.reason()),
    };
    let totals = info.memory.totals();
    let frames = vm::frame_stats();
    let image = arch::entry::kernel_image();
    trace::emit("mem", |e| {
        e.u64("usable_bytes", totals.usable_bytes)
            .u64("heap_bytes", heap::size())
            .hex("heap_base", heap::base())
            .u64("pool_bytes", pool.bytes())
            .u64("reserved_bytes", totals.reserved_bytes)
            .u64("regions", totals.regions as u64)
            .hex("max_phys", totals.max_phys)
            .u64("kernel_bytes", image.end - image.start)
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

    match vm::map_mmio(apic::phys_base(), 4096) {
        Ok(v) => apic::set_mmio(v),
        Err(e) => fatal("local APIC", e.reason()),
    }
    smp::bsp_online();
    let limit = match params.max_cpus {
        0 => cpu::MAX_CPUS,
        n => n as usize,
    };
    let online = match info.loader {
        Loader::Limine => smp::start_limine(limit),
        Loader::Multiboot2 => smp::start_multiboot2(info, limit),
    };
    trace::emit("smp", |e| {
        e.u64("cpus_online", online as u64)
            .bool("x2apic", apic::is_x2apic());
    });

    // SAFETY: the application defines this function exactly once, through
    // `entry_point!`, with exactly this signature (the macro checks the type
    // of the function it wraps).
    unsafe { __bareflow_application_main(params) }
}
