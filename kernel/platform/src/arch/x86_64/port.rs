//! Port I/O devices: QEMU's isa-debug-exit and the COM1 UART.

use bareflow_boot_model::exit::{DEBUG_EXIT_PORT, ExitCode};
use uart_16550::backend::PioBackend;
use uart_16550::{BaudRate, Config, Uart16550};
use x86_64::instructions::port::Port;

/// COM1's I/O base.
const COM1: u16 = 0x3f8;

/// The UART behind the serial port.
pub(crate) type Uart = Uart16550<PioBackend>;

/// Writes `code` to the isa-debug-exit port: QEMU exits with
/// `(code << 1) | 1`; without the device the write goes nowhere.
pub(crate) fn debug_exit(code: ExitCode) {
    let mut port: Port<u32> = Port::new(DEBUG_EXIT_PORT);
    // SAFETY: writing the isa-debug-exit port has no effect on memory: QEMU
    // exits, and on machines without the device the write goes nowhere.
    unsafe { port.write(code.value()) };
}

/// COM1 programmed for 115200 8N1, or `None` when there is no UART.
pub(crate) fn com1() -> Option<Uart> {
    // SAFETY: 0x3f8..0x3ff is COM1's standard I/O range; the serial module
    // calls this once and owns the result, so nothing else drives the UART.
    let mut uart = unsafe { Uart16550::new_port(COM1) }.ok()?;
    let config = Config {
        baud_rate: BaudRate::Baud115200,
        ..Config::default()
    };
    uart.init(config).ok()?;
    Some(uart)
}
