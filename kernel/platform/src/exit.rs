//! Leaving the kernel: an `exit` event, then QEMU's isa-debug-exit port
//! (a no-op on real hardware, where the CPU halts instead).

use crate::arch::{halt_forever, port};
use crate::trace;
pub use bareflow_boot_model::exit::ExitCode;

fn write_port(code: ExitCode) -> ! {
    port::debug_exit(code);
    halt_forever()
}

/// Clean shutdown with `code`.
pub fn exit(code: ExitCode) -> ! {
    trace::emit("exit", |e| {
        e.u64("code", code.value() as u64)
            .str("status", code.name())
            .u64("qemu_status", code.qemu_status() as u64);
    });
    write_port(code)
}

/// Shutdown from an exception or panic path.
pub(crate) fn exit_emergency(code: ExitCode) -> ! {
    trace::emit_emergency("exit", |e| {
        e.u64("code", code.value() as u64)
            .str("status", code.name())
            .u64("qemu_status", code.qemu_status() as u64);
    });
    write_port(code)
}
