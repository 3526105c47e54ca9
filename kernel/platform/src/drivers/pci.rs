//! PCI: every function reachable from bus 0 (following PCI-to-PCI bridges),
//! found through configuration mechanism #1 (`arch/x86_64/pci_config.rs`),
//! and the configuration access the virtio transport reads capabilities and
//! BARs through. ECAM is not needed: every register used here is in the
//! first 256 bytes of configuration space.

use crate::arch::pci_config;
use alloc::vec::Vec;
use core::fmt;
use spin::Once;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};

/// Bus, device and function of a PCI function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciAddress {
    /// Bus number.
    pub bus: u8,
    /// Device number (0..32).
    pub device: u8,
    /// Function number (0..8).
    pub function: u8,
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

impl PciAddress {
    pub(crate) fn device_function(self) -> DeviceFunction {
        DeviceFunction {
            bus: self.bus,
            device: self.device,
            function: self.function,
        }
    }

    fn read(self, offset: u8) -> u32 {
        pci_config::read(self.bus, self.device, self.function, offset)
    }
}

/// One PCI function as its configuration header describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciFunction {
    /// Where it is.
    pub address: PciAddress,
    /// Vendor id.
    pub vendor_id: u16,
    /// Device id.
    pub device_id: u16,
    /// Class code.
    pub class: u8,
    /// Subclass code.
    pub subclass: u8,
    /// Header type without the multi-function bit (0 device, 1 PCI bridge).
    pub header_type: u8,
}

/// Vendor id that reads back from an absent function.
const ABSENT: u16 = 0xffff;
const HEADER_PCI_BRIDGE: u8 = 1;

static FUNCTIONS: Once<Vec<PciFunction>> = Once::new();

/// Every PCI function found (scanned once, on first use).
pub fn functions() -> &'static [PciFunction] {
    FUNCTIONS.call_once(|| {
        let mut found = Vec::new();
        let mut scanned = [false; 256];
        scan_bus(0, &mut found, &mut scanned);
        found
    })
}

fn scan_bus(bus: u8, found: &mut Vec<PciFunction>, scanned: &mut [bool; 256]) {
    if core::mem::replace(&mut scanned[bus as usize], true) {
        return;
    }
    for device in 0..32 {
        let first = PciAddress {
            bus,
            device,
            function: 0,
        };
        if first.read(0) as u16 == ABSENT {
            continue;
        }
        let multi_function = (first.read(0x0c) >> 16) & 0x80 != 0;
        let functions = if multi_function { 8 } else { 1 };
        for function in 0..functions {
            let address = PciAddress {
                bus,
                device,
                function,
            };
            let id = address.read(0);
            if id as u16 == ABSENT {
                continue;
            }
            let class = address.read(0x08);
            let header_type = ((address.read(0x0c) >> 16) & 0x7f) as u8;
            found.push(PciFunction {
                address,
                vendor_id: id as u16,
                device_id: (id >> 16) as u16,
                class: (class >> 24) as u8,
                subclass: (class >> 16) as u8,
                header_type,
            });
            if header_type == HEADER_PCI_BRIDGE {
                let secondary = (address.read(0x18) >> 8) as u8;
                if secondary != 0 {
                    scan_bus(secondary, found, scanned);
                }
            }
        }
    }
}

/// Command register bits.
const COMMAND_MEMORY_SPACE: u32 = 1 << 1;
const COMMAND_BUS_MASTER: u32 = 1 << 2;
const COMMAND_INTX_DISABLE: u32 = 1 << 10;

/// Lets the function answer memory accesses to its BARs and read and write
/// RAM (DMA); its legacy interrupt line stays off (drivers here poll).
pub(crate) fn enable_polled_dma(address: PciAddress) {
    let command = address.read(0x04) & 0xffff;
    let command = command | COMMAND_MEMORY_SPACE | COMMAND_BUS_MASTER | COMMAND_INTX_DISABLE;
    // The upper half is the status register, whose error bits clear when
    // written with 1: write zeros there.
    pci_config::write(address.bus, address.device, address.function, 0x04, command);
}

/// Configuration space through the I/O ports, for `virtio-drivers`.
pub(crate) struct PortConfigAccess;

impl ConfigurationAccess for PortConfigAccess {
    fn read_word(&self, df: DeviceFunction, register_offset: u8) -> u32 {
        pci_config::read(df.bus, df.device, df.function, register_offset)
    }

    fn write_word(&mut self, df: DeviceFunction, register_offset: u8, data: u32) {
        pci_config::write(df.bus, df.device, df.function, register_offset, data)
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortConfigAccess
    }
}
