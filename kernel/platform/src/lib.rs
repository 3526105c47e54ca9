//! BareFlow's platform layer: everything that touches the machine.
//!
//! The kernel is two crates. This one holds all of its `unsafe` code (model:
//! Asterinas' OSTD) behind a small, safe API; the application (`bareflow`, the
//! JIT runtime glue, the boot modes and their self-tests) builds on that API
//! under `#![forbid(unsafe_code)]`. Every `unsafe` block here carries a
//! `// SAFETY:` comment, and x86_64 specifics are fenced under
//! `arch/x86_64/` (model: Hermit).
//!
//! # Boot
//!
//! The entry code (`arch/x86_64/entry.rs`) starts on the bootstrap CPU under either loader
//! (the Limine protocol or multiboot2), [`boot`] turns the loader's hand-over
//! into a `BootInfo`, and `init` brings the machine up: serial, descriptor
//! tables, TSC, CPU features, boot parameters, page tables, heap, executable
//! pool, local APIC and the other CPUs (which park, waiting for work). Then it
//! calls the application's entry, declared with [`entry_point!`].
//!
//! # The API (what the application uses)
//!
//! | module | what |
//! |---|---|
//! | [`boot`] | the boot information, the parsed boot parameters, boot module bytes, [`entry_point!`] |
//! | [`cpu`] | CPU features (CPUID, AVX state enabled), the calling CPU's index and APIC id, per-CPU stack bounds, serializing the instruction stream |
//! | [`smp`] | run a closure on a parked CPU ([`smp::run_on`]), the CPUs online |
//! | [`team`] | several CPUs running one borrowed task at a time (parallel loops) |
//! | [`mem`] | heap and frame counters, the W^X executable pool ([`mem::exec_pool`]) |
//! | [`fault`] | the fault-recovery service: guarded calls into recoverable (JIT) code, probes, exception names |
//! | [`jit_memory`] | the executable pool as the JIT's `ExecMemory` (an `unsafe` trait), and the cross-modifying-code hook |
//! | [`time`] | the TSC: cycles, microseconds since boot, frequency, busy waits |
//! | [`trace`] | one JSON event line on COM1, from any CPU |
//! | [`acpi`] | the MADT reachable from an RSDP |
//! | [`block`] | drives (virtio-blk on PCI): list, capacity, read-only flag, serial, read/write sectors |
//! | [`drivers::pci`] | the PCI functions found |
//! | [`exit`] | leave the kernel with an exit code (QEMU's isa-debug-exit) |
//! | [`stack`] | frame-pointer stack walks |
//!
//! Panics are reported by this crate's panic handler (a `panic` event, then
//! exit), and the global allocator is its heap.
//!
//! # Devices
//!
//! Drivers live in [`drivers`]: PCI enumeration through configuration
//! mechanism #1 (the ports in `arch/x86_64/pci_config.rs`; every register
//! used is in the first 256 bytes, so no ECAM), BARs mapped uncached in the
//! device window, and virtio-blk through the `virtio-drivers` crate, whose
//! DMA HAL is `mem/dma.rs` (heap memory: one physically contiguous run in
//! the direct map). The application sees drives through [`block`]. COM1's
//! receive path is [`serial::try_receive`] (polled).

#![no_std]

extern crate alloc;

pub mod acpi;
mod arch;
pub mod block;
pub mod boot;
pub mod cpu;
pub mod drivers;
pub mod exit;
pub mod fault;
mod init;
pub mod jit_memory;
pub mod mem;
mod panic;
pub mod serial;
pub mod smp;
pub mod stack;
pub mod team;
pub mod time;
pub mod trace;

pub use bareflow_boot_model::bootinfo::BootInfo;
pub use bareflow_boot_model::cmdline::BootParams;

/// Kernel version, reported in the `boot` event.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Declares the application's entry: `entry_point!(path::to::main)` with
/// `main: fn(&'static BootParams) -> !`. The platform calls it on the
/// bootstrap CPU once the machine is up (every other CPU parked, waiting for
/// [`smp::run_on`]). Use it exactly once, in the binary crate.
#[macro_export]
macro_rules! entry_point {
    ($main:path) => {
        /// The application's entry, called by the platform (`entry_point!`).
        #[unsafe(no_mangle)]
        fn __bareflow_application_main(params: &'static $crate::BootParams) -> ! {
            let main: fn(&'static $crate::BootParams) -> ! = $main;
            main(params)
        }
    };
}
