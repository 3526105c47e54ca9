//! Device drivers: PCI enumeration ([`pci`]) and virtio-blk through the
//! `virtio-drivers` crate (`virtio_blk`), whose DMA HAL is `mem/dma.rs`. The
//! application sees drives through [`crate::block`].

pub mod pci;
pub(crate) mod virtio_blk;
