//! Leaving the kernel: an `exit` event, then QEMU's isa-debug-exit port
//! (a no-op on real hardware, where the CPU halts instead).

use crate::arch::halt_forever;
use crate::trace;
use bareflow_boot_model::exit::{DEBUG_EXIT_PORT, ExitCode};
use x86_64::instructions::port::Port;

fn write_port(code: ExitCode) -> ! {
    let mut port: Port<u32> = Port::new(DEBUG_EXIT_PORT);
    // SAFETY: writing the isa-debug-exit port makes QEMU exit; on machines
    // without the device the write goes nowhere.
    unsafe { port.write(code.value()) };
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
pub fn exit_emergency(code: ExitCode) -> ! {
    trace::emit_emergency("exit", |e| {
        e.u64("code", code.value() as u64)
            .str("status", code.name())
            .u64("qemu_status", code.qemu_status() as u64);
    });
    write_port(code)
}
