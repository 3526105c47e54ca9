//! Reaching the calling CPU's `PerCpu` through the GS base register.

use crate::cpu::PerCpu;
use x86_64::VirtAddr;
use x86_64::registers::model_specific::GsBase;

/// Points the calling CPU's GS base at `cpu`.
pub(crate) fn install(cpu: &'static PerCpu) {
    GsBase::write(VirtAddr::from_ptr(cpu as *const PerCpu));
}

/// The calling CPU's state, once [`install`] ran on it.
pub(crate) fn current() -> Option<&'static PerCpu> {
    let p = GsBase::read().as_u64();
    if p == 0 {
        return None;
    }
    // SAFETY: the GS base is only ever set by `install`, to a 'static PerCpu
    // (PerCpu is Sync), or left at 0 by the loader, which is excluded above.
    Some(unsafe { &*(p as *const PerCpu) })
}
