//! Block devices: the virtio-blk drives on PCI, behind a small safe API.
//!
//! [`devices`] finds and starts every drive once (on first use) and lists
//! them in PCI order; drives that could not be started are in [`skipped`]
//! with the reason. A drive reads and writes whole 512-byte sectors
//! ([`BlockDevice::read_sectors`], [`BlockDevice::write_sectors`],
//! [`BlockDevice::flush`]); a read-only drive (QEMU `readonly=on`) refuses
//! writes. Requests are polled (no interrupts) and one at a time per drive;
//! any CPU may issue them.
//!
//! Buffers are handed to the device where they are when they are physically
//! contiguous (every heap buffer); others go through a heap bounce buffer of
//! at most [`MAX_REQUEST_BYTES`], allocated fallibly.

use crate::drivers::pci::PciAddress;
use crate::drivers::virtio_blk::{self, Driver};
use crate::mem::vm;
use alloc::alloc::{Layout, alloc, dealloc};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use spin::{Mutex, Once};

/// Bytes per sector.
pub const SECTOR_SIZE: usize = 512;
/// Largest single request sent to a device (longer transfers are split).
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// What a drive is.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    /// Position in [`devices`].
    pub index: usize,
    /// Its PCI function.
    pub pci: PciAddress,
    /// Capacity in 512-byte sectors.
    pub sectors: u64,
    /// Whether the device refuses writes.
    pub read_only: bool,
    /// The device's serial number / id string (QEMU `serial=`), empty if it
    /// has none.
    pub serial: String,
}

impl BlockInfo {
    /// Capacity in bytes.
    pub fn bytes(&self) -> u64 {
        self.sectors * SECTOR_SIZE as u64
    }
}

/// Why a block request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// The buffer is empty or not a whole number of sectors.
    BadLength(usize),
    /// The request reaches past the end of the drive.
    OutOfRange {
        /// First sector asked for.
        start: u64,
        /// Sectors asked for.
        sectors: u64,
        /// The drive's capacity in sectors.
        capacity: u64,
    },
    /// A write to a read-only drive.
    ReadOnly,
    /// No heap memory for a bounce buffer of this many bytes.
    NoMemory(usize),
    /// The device or its queue reported an error.
    Device(String),
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockError::BadLength(n) => {
                write!(f, "{n} bytes is not a whole, non-zero number of sectors")
            }
            BlockError::OutOfRange {
                start,
                sectors,
                capacity,
            } => write!(
                f,
                "sectors {start}..{} are past the end of the drive ({capacity} sectors)",
                start.saturating_add(*sectors)
            ),
            BlockError::ReadOnly => write!(f, "the drive is read-only"),
            BlockError::NoMemory(n) => write!(f, "no memory for a {n}-byte transfer buffer"),
            BlockError::Device(e) => write!(f, "device error: {e}"),
        }
    }
}

/// A drive found at boot.
pub struct BlockDevice {
    info: BlockInfo,
    driver: Mutex<Driver>,
}

/// A virtio block function that could not be started.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// Its PCI function.
    pub pci: PciAddress,
    /// Why.
    pub reason: String,
}

struct Probe {
    devices: Vec<BlockDevice>,
    skipped: Vec<Skipped>,
}

static PROBE: Once<Probe> = Once::new();

fn probe() -> &'static Probe {
    PROBE.call_once(|| {
        let mut devices = Vec::new();
        let mut skipped = Vec::new();
        for pci in virtio_blk::candidates() {
            match virtio_blk::start(pci) {
                Ok(s) => devices.push(BlockDevice {
                    info: BlockInfo {
                        index: devices.len(),
                        pci,
                        sectors: s.sectors,
                        read_only: s.read_only,
                        serial: s.serial,
                    },
                    driver: Mutex::new(s.driver),
                }),
                Err(reason) => skipped.push(Skipped { pci, reason }),
            }
        }
        Probe { devices, skipped }
    })
}

/// Every drive that started, in PCI order (found on the first call).
pub fn devices() -> &'static [BlockDevice] {
    &probe().devices
}

/// Virtio block functions that were found but could not be started.
pub fn skipped() -> &'static [Skipped] {
    &probe().skipped
}

/// A heap block of `len` bytes for data a device reads or writes.
struct Bounce {
    ptr: *mut u8,
    layout: Layout,
}

impl Bounce {
    fn new(len: usize) -> Result<Bounce, BlockError> {
        let layout =
            Layout::from_size_align(len, SECTOR_SIZE).map_err(|_| BlockError::NoMemory(len))?;
        // SAFETY: `len` is a non-zero number of sectors (checked by callers).
        let ptr = unsafe { alloc(layout) };
        if ptr.is_null() {
            return Err(BlockError::NoMemory(len));
        }
        Ok(Bounce { ptr, layout })
    }

    fn bytes(&mut self, len: usize) -> &mut [u8] {
        // SAFETY: `ptr` holds `layout.size()` bytes owned by this value;
        // `len` is at most that; bytes a device has not written are
        // whatever the heap held, which is valid for `u8`.
        unsafe { core::slice::from_raw_parts_mut(self.ptr, len.min(self.layout.size())) }
    }
}

impl Drop for Bounce {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}

fn device_error(e: virtio_drivers::Error) -> BlockError {
    BlockError::Device(alloc::format!("{e}"))
}

fn contiguous(buf: &[u8]) -> bool {
    vm::phys_range(buf.as_ptr() as u64, buf.len() as u64).is_some()
}

impl BlockDevice {
    /// What the drive is.
    pub fn info(&self) -> &BlockInfo {
        &self.info
    }

    fn check(&self, start: u64, len: usize) -> Result<(), BlockError> {
        if len == 0 || !len.is_multiple_of(SECTOR_SIZE) {
            return Err(BlockError::BadLength(len));
        }
        let sectors = (len / SECTOR_SIZE) as u64;
        if start
            .checked_add(sectors)
            .is_none_or(|end| end > self.info.sectors)
        {
            return Err(BlockError::OutOfRange {
                start,
                sectors,
                capacity: self.info.sectors,
            });
        }
        Ok(())
    }

    /// Fills `buf` (a whole number of sectors) with the sectors from `start` on.
    pub fn read_sectors(&self, start: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.check(start, buf.len())?;
        let direct = contiguous(buf);
        let mut bounce = if direct {
            None
        } else {
            Some(Bounce::new(buf.len().min(MAX_REQUEST_BYTES))?)
        };
        let mut driver = self.driver.lock();
        let mut sector = start;
        for chunk in buf.chunks_mut(MAX_REQUEST_BYTES) {
            let block = sector as usize;
            match bounce.as_mut() {
                None => driver.read_blocks(block, chunk).map_err(device_error)?,
                Some(b) => {
                    let tmp = b.bytes(chunk.len());
                    driver.read_blocks(block, tmp).map_err(device_error)?;
                    chunk.copy_from_slice(tmp);
                }
            }
            sector += (chunk.len() / SECTOR_SIZE) as u64;
        }
        Ok(())
    }

    /// Writes `buf` (a whole number of sectors) to the sectors from `start` on.
    /// The data may sit in the device's cache until [`BlockDevice::flush`].
    pub fn write_sectors(&self, start: u64, buf: &[u8]) -> Result<(), BlockError> {
        if self.info.read_only {
            return Err(BlockError::ReadOnly);
        }
        self.check(start, buf.len())?;
        let mut bounce = if contiguous(buf) {
            None
        } else {
            Some(Bounce::new(buf.len().min(MAX_REQUEST_BYTES))?)
        };
        let mut driver = self.driver.lock();
        let mut sector = start;
        for chunk in buf.chunks(MAX_REQUEST_BYTES) {
            let block = sector as usize;
            match bounce.as_mut() {
                None => driver.write_blocks(block, chunk).map_err(device_error)?,
                Some(b) => {
                    let tmp = b.bytes(chunk.len());
                    tmp.copy_from_slice(chunk);
                    driver.write_blocks(block, tmp).map_err(device_error)?;
                }
            }
            sector += (chunk.len() / SECTOR_SIZE) as u64;
        }
        Ok(())
    }

    /// Asks the device to make earlier writes durable (a no-op for devices
    /// without a write cache).
    pub fn flush(&self) -> Result<(), BlockError> {
        self.driver.lock().flush().map_err(device_error)
    }
}
