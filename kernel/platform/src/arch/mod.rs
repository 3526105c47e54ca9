//! Architecture-specific code, fenced here. Only x86_64 exists; everything
//! outside `arch/` reaches it through the items re-exported below.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub(crate) use self::x86_64::*;
