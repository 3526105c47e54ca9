//! x86_64 4-level page tables (through the `x86_64` crate's mapper), CR3,
//! EFER.NXE / CR0.WP and TLB flushes. What goes where is `mem/vm.rs`.

use crate::mem::Protection;
use bareflow_boot_model::frames::FrameAllocator;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr3};
use x86_64::registers::model_specific::{Efer, EferFlags};
use x86_64::structures::paging::mapper::MapperFlush;
use x86_64::structures::paging::{
    FrameAllocator as X86FrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable,
    PageTableFlags as F, PhysFrame, Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

/// Why a mapping could not be made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MapFailed;

struct Frames<'a>(&'a mut FrameAllocator);

// SAFETY: `FrameAllocator` hands out each usable, page-aligned frame at most
// once and never a frame outside the usable map.
unsafe impl X86FrameAllocator<Size4KiB> for Frames<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        self.0
            .allocate()
            .map(|a| PhysFrame::containing_address(PhysAddr::new(a)))
    }
}

fn flags(p: Protection) -> F {
    match p {
        Protection::ReadWrite => F::PRESENT | F::WRITABLE | F::NO_EXECUTE,
        Protection::ReadOnly => F::PRESENT | F::NO_EXECUTE,
        Protection::ReadExecute => F::PRESENT,
        Protection::Device => {
            F::PRESENT | F::WRITABLE | F::NO_EXECUTE | F::NO_CACHE | F::WRITE_THROUGH
        }
    }
}

/// The kernel's page tables.
pub(crate) struct PageTables {
    mapper: OffsetPageTable<'static>,
    root: u64,
}

impl PageTables {
    /// Empty tables rooted at the frame `root_phys`, edited through the
    /// direct map at `hhdm` (physical + `hhdm` = virtual).
    ///
    /// # Safety
    /// `root_phys` must be a fresh frame owned by the caller, and `hhdm` must
    /// map all usable RAM both in the active address space and in every one
    /// these tables are used in (so that table frames can be edited).
    pub(crate) unsafe fn new(root_phys: u64, hhdm: u64) -> PageTables {
        // SAFETY: the frame is fresh usable RAM, reachable through the direct
        // map at `hhdm` (caller's guarantee), and nothing else refers to it.
        let root: &'static mut PageTable = unsafe { &mut *((hhdm + root_phys) as *mut PageTable) };
        root.zero();
        // SAFETY: `hhdm` maps all physical memory the tables live in (caller).
        let mapper = unsafe { OffsetPageTable::new(root, VirtAddr::new(hhdm)) };
        PageTables {
            mapper,
            root: root_phys,
        }
    }

    /// Physical address of the root table.
    pub(crate) fn root(&self) -> u64 {
        self.root
    }

    /// Maps the 4 KiB page at `virt` to the frame at `phys`.
    ///
    /// # Safety
    /// `virt` must be in a range reserved for exactly this mapping, and the
    /// frame must be one the caller may expose there with `prot` (owned, or
    /// the same memory the kernel already reaches elsewhere with compatible
    /// rights); mapping must not create a writable and executable alias.
    pub(crate) unsafe fn map_4k(
        &mut self,
        virt: u64,
        phys: u64,
        prot: Protection,
        frames: &mut FrameAllocator,
    ) -> Result<(), MapFailed> {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        let frame = PhysFrame::containing_address(PhysAddr::new(phys));
        // SAFETY: the caller vouches for the page, the frame and the rights.
        let flush = unsafe {
            self.mapper
                .map_to(page, frame, flags(prot), &mut Frames(frames))
                .map_err(|_| MapFailed)?
        };
        ignore(flush);
        Ok(())
    }

    /// Maps the 2 MiB page at `virt` to the 2 MiB frame at `phys`.
    ///
    /// # Safety
    /// As for [`PageTables::map_4k`].
    pub(crate) unsafe fn map_2m(
        &mut self,
        virt: u64,
        phys: u64,
        prot: Protection,
        frames: &mut FrameAllocator,
    ) -> Result<(), MapFailed> {
        let page = Page::<Size2MiB>::containing_address(VirtAddr::new(virt));
        let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(phys));
        // SAFETY: the caller vouches for the page, the frame and the rights.
        let flush = unsafe {
            self.mapper
                .map_to(page, frame, flags(prot), &mut Frames(frames))
                .map_err(|_| MapFailed)?
        };
        ignore(flush);
        Ok(())
    }

    /// Changes the rights of the mapped 4 KiB page at `virt` and flushes it
    /// from the calling CPU's TLB only.
    ///
    /// # Safety
    /// The page must belong to a range whose owner allows `prot` there (no
    /// writable and executable mapping; nothing relies on the old rights).
    pub(crate) unsafe fn protect_4k_local(
        &mut self,
        virt: u64,
        prot: Protection,
    ) -> Result<(), MapFailed> {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(virt));
        // SAFETY: the caller vouches that only the page's rights change, to
        // rights its owner allows.
        unsafe {
            self.mapper
                .update_flags(page, flags(prot))
                .map_err(|_| MapFailed)?
                .flush();
        }
        Ok(())
    }
}

impl PageTables {
    /// The physical address `virt` maps to, if it is mapped.
    pub(crate) fn translate(&self, virt: u64) -> Option<u64> {
        let virt = VirtAddr::try_new(virt).ok()?;
        self.mapper.translate_addr(virt).map(|p| p.as_u64())
    }
}

/// New mappings replace not-present entries, so no TLB holds them; callers
/// flush paging-structure caches once per batch with [`flush_all`].
fn ignore<S: PageSize>(flush: MapperFlush<S>) {
    flush.ignore();
}

/// Turns on NX enforcement (EFER.NXE) and supervisor write protection
/// (CR0.WP).
pub(crate) fn enable_nx_and_write_protect() {
    // SAFETY: both only restrict access; the loader's tables map nothing that
    // relies on either being off (Limine sets both; the multiboot2 entry stub
    // does too).
    unsafe {
        Efer::update(|f| f.insert(EferFlags::NO_EXECUTE_ENABLE));
        Cr0::update(|f| f.insert(Cr0Flags::WRITE_PROTECT));
    }
}

/// Flushes this CPU's TLB and paging-structure caches.
pub(crate) fn flush_all() {
    x86_64::instructions::tlb::flush_all();
}

/// Physical address of the active root table (CR3).
pub(crate) fn active_root() -> u64 {
    Cr3::read().0.start_address().as_u64()
}

/// Switches the calling CPU to the tables rooted at `root` (`mov cr3`).
///
/// # Safety
/// The tables must map the running code, the current stack and everything
/// the caller touches afterwards at the addresses it uses now.
pub(crate) unsafe fn switch_root(root: u64) {
    let (_, cr3_flags) = Cr3::read();
    // SAFETY: the caller vouches for the new address space.
    unsafe {
        Cr3::write(
            PhysFrame::containing_address(PhysAddr::new(root)),
            cr3_flags,
        )
    };
}
