//! The two ways in, Limine (`limine.rs`) and multiboot2 (`multiboot2.rs`):
//! each turns what its loader left into a `BootInfo` and starts the machine
//! (`crate::init`). Afterwards this module answers what the boot gave.

pub(crate) mod limine;
pub(crate) mod multiboot2;

use crate::mem::{VmError, vm};
use bareflow_boot_model::bootinfo::BootInfo;
use bareflow_boot_model::cmdline::BootParams;
use spin::Once;

static BOOT_INFO: Once<BootInfo> = Once::new();
static PARAMS: Once<BootParams> = Once::new();

/// Records the boot information (once, first thing after the hand-over).
pub(crate) fn set_info(info: BootInfo) -> &'static BootInfo {
    BOOT_INFO.call_once(|| info)
}

/// Records the parsed boot parameters (once).
pub(crate) fn set_params(params: impl FnOnce() -> BootParams) -> &'static BootParams {
    PARAMS.call_once(params)
}

/// What the boot loader handed over (memory map, command line, modules, ...).
pub fn info() -> &'static BootInfo {
    BOOT_INFO
        .get()
        .expect("the boot entry stores the boot info before anything else")
}

/// The parsed boot parameters (`bareflow.*` on the command line).
pub fn params() -> &'static BootParams {
    PARAMS
        .get()
        .expect("the platform parses the command line before the application starts")
}

/// The bytes of boot module `index` (in `info().modules`): the loader placed
/// it in RAM it marked as taken, which nothing in the kernel writes.
pub fn module_bytes(index: usize) -> Result<&'static [u8], VmError> {
    let m = info()
        .modules
        .as_slice()
        .get(index)
        .ok_or(VmError::OutOfRange)?;
    let len = usize::try_from(m.len).map_err(|_| VmError::OutOfRange)?;
    vm::firmware_bytes(m.phys_start, len)
}
