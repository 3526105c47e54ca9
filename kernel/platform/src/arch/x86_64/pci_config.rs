//! PCI configuration space through the legacy I/O ports (configuration
//! mechanism #1): the address of a dword goes to `0xcf8`, its value is read
//! or written at `0xcfc`. Which device to touch is `drivers/pci.rs`'s choice.

use spin::Mutex;
use x86_64::instructions::port::Port;

const ADDRESS_PORT: u16 = 0xcf8;
const DATA_PORT: u16 = 0xcfc;

/// The address/data pair is one shared register: one access at a time.
static PORTS: Mutex<()> = Mutex::new(());

fn address(bus: u8, device: u8, function: u8, offset: u8) -> u32 {
    1 << 31
        | (bus as u32) << 16
        | ((device & 0x1f) as u32) << 11
        | ((function & 0x7) as u32) << 8
        | (offset & 0xfc) as u32
}

/// Reads the configuration dword at `offset` (rounded down to a multiple of
/// 4) of bus/device/function. An absent function reads as all ones.
pub(crate) fn read(bus: u8, device: u8, function: u8, offset: u8) -> u32 {
    let _one = PORTS.lock();
    let mut addr: Port<u32> = Port::new(ADDRESS_PORT);
    let mut data: Port<u32> = Port::new(DATA_PORT);
    // SAFETY: 0xcf8/0xcfc are the PCI configuration ports on every PC; the
    // lock keeps the address/data pair consistent, and reading configuration
    // space has no side effect on memory.
    unsafe {
        addr.write(address(bus, device, function, offset));
        data.read()
    }
}

/// Writes the configuration dword at `offset` of bus/device/function.
///
/// Configuration writes can move a device's registers (BARs) or let it
/// master the bus; the caller (`drivers/pci.rs`) only writes the command
/// register and, through the virtio transport, BAR sizing probes that it
/// restores at once.
pub(crate) fn write(bus: u8, device: u8, function: u8, offset: u8, value: u32) {
    let _one = PORTS.lock();
    let mut addr: Port<u32> = Port::new(ADDRESS_PORT);
    let mut data: Port<u32> = Port::new(DATA_PORT);
    // SAFETY: as in `read`; what the write means to the device is the
    // caller's responsibility (see above), and it touches no kernel memory.
    unsafe {
        addr.write(address(bus, device, function, offset));
        data.write(value);
    }
}
