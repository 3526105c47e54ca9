//! virtio-blk over the PCI transport (`virtio-drivers`), polled: finding the
//! drives and bringing each up. Reads and writes are `crate::block`'s.

use super::pci::{self, PciAddress, PortConfigAccess};
use crate::mem::dma::{self, KernelHal};
use alloc::format;
use alloc::string::String;
use virtio_drivers::device::blk::VirtIOBlk;
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::pci::bus::{BarInfo, PciRoot};

/// The driver of one drive.
pub(crate) type Driver = VirtIOBlk<KernelHal, PciTransport>;

/// The virtio vendor id.
const VIRTIO_VENDOR: u16 = 0x1af4;
/// Block device ids: transitional (legacy + modern) and modern-only.
const BLOCK_IDS: [u16; 2] = [0x1001, 0x1040 + 2];

/// PCI functions that are virtio block devices, in bus order.
pub(crate) fn candidates() -> impl Iterator<Item = PciAddress> {
    pci::functions()
        .iter()
        .filter(|f| f.vendor_id == VIRTIO_VENDOR && BLOCK_IDS.contains(&f.device_id))
        .map(|f| f.address)
}

/// A drive that is up: its driver, capacity, read-only flag and serial.
pub(crate) struct Started {
    pub driver: Driver,
    pub sectors: u64,
    pub read_only: bool,
    pub serial: String,
}

/// Maps the function's memory BARs, lets it master the bus and negotiates
/// with it; `Err` says why the drive cannot be used.
pub(crate) fn start(address: PciAddress) -> Result<Started, String> {
    let mut root = PciRoot::new(PortConfigAccess);
    let df = address.device_function();
    let bars = root
        .bars(df)
        .map_err(|e| format!("cannot read its BARs: {e}"))?;
    for bar in bars.iter().flatten() {
        if let BarInfo::Memory { address, size, .. } = *bar
            && address != 0
            && size != 0
        {
            dma::map_window(address, size).map_err(|e| {
                format!(
                    "cannot map BAR at {address:#x} (+{size:#x}): {}",
                    e.reason()
                )
            })?;
        }
    }
    pci::enable_polled_dma(address);
    let transport = PciTransport::new::<KernelHal, _>(&mut root, df)
        .map_err(|e| format!("virtio PCI transport: {e}"))?;
    let mut driver =
        Driver::new(transport).map_err(|e| format!("virtio-blk initialization: {e}"))?;
    driver.disable_interrupts();
    let mut id = [0u8; 20];
    let serial = match driver.device_id(&mut id) {
        Ok(n) => String::from_utf8_lossy(&id[..n.min(id.len())]).into_owned(),
        Err(_) => String::new(),
    };
    Ok(Started {
        sectors: driver.capacity(),
        read_only: driver.readonly(),
        serial,
        driver,
    })
}
