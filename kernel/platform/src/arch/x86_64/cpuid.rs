//! CPU identification: vendor, model and the feature set the JIT needs.

use core::arch::x86_64::{__cpuid, __cpuid_count, _xgetbv, CpuidResult};

fn cpuid(leaf: u32) -> CpuidResult {
    __cpuid(leaf)
}

fn cpuid_sub(leaf: u32, sub: u32) -> CpuidResult {
    __cpuid_count(leaf, sub)
}

/// One named feature: where CPUID reports it.
struct Bit {
    name: &'static str,
    leaf: u32,
    sub: u32,
    reg: u8, // 0 eax, 1 ebx, 2 ecx, 3 edx
    bit: u8,
}

const fn b(name: &'static str, leaf: u32, sub: u32, reg: u8, bit: u8) -> Bit {
    Bit {
        name,
        leaf,
        sub,
        reg,
        bit,
    }
}

const BITS: &[Bit] = &[
    b("sse", 1, 0, 3, 25),
    b("sse2", 1, 0, 3, 26),
    b("sse3", 1, 0, 2, 0),
    b("pclmulqdq", 1, 0, 2, 1),
    b("ssse3", 1, 0, 2, 9),
    b("fma", 1, 0, 2, 12),
    b("cx16", 1, 0, 2, 13),
    b("sse4.1", 1, 0, 2, 19),
    b("sse4.2", 1, 0, 2, 20),
    b("x2apic", 1, 0, 2, 21),
    b("movbe", 1, 0, 2, 22),
    b("popcnt", 1, 0, 2, 23),
    b("tsc_deadline", 1, 0, 2, 24),
    b("aes", 1, 0, 2, 25),
    b("xsave", 1, 0, 2, 26),
    b("avx", 1, 0, 2, 28),
    b("f16c", 1, 0, 2, 29),
    b("rdrand", 1, 0, 2, 30),
    b("hypervisor", 1, 0, 2, 31),
    b("tsc", 1, 0, 3, 4),
    b("apic", 1, 0, 3, 9),
    b("fsgsbase", 7, 0, 1, 0),
    b("bmi1", 7, 0, 1, 3),
    b("avx2", 7, 0, 1, 5),
    b("bmi2", 7, 0, 1, 8),
    b("erms", 7, 0, 1, 9),
    b("avx512f", 7, 0, 1, 16),
    b("rdseed", 7, 0, 1, 18),
    b("adx", 7, 0, 1, 19),
    b("sha", 7, 0, 1, 29),
    b("lzcnt", 0x8000_0001, 0, 2, 5),
    b("nx", 0x8000_0001, 0, 3, 20),
    b("pdpe1gb", 0x8000_0001, 0, 3, 26),
    b("rdtscp", 0x8000_0001, 0, 3, 27),
    b("invariant_tsc", 0x8000_0007, 0, 3, 8),
];

/// Most features tracked.
pub(crate) const MAX_FEATURES: usize = 48;

/// What this CPU is and can do.
#[derive(Clone, Copy)]
pub struct CpuFeatures {
    vendor: [u8; 12],
    brand: [u8; 48],
    /// Family, model and stepping (display values).
    pub family: u32,
    /// Model.
    pub model: u32,
    /// Stepping.
    pub stepping: u32,
    names: [&'static str; MAX_FEATURES],
    count: usize,
    /// XCR0 as set by the entry code (0 when XSAVE is absent).
    pub xcr0: u64,
}

impl CpuFeatures {
    /// Reads CPUID (and XCR0) on the calling CPU.
    pub fn detect() -> CpuFeatures {
        let l0 = cpuid(0);
        let max_leaf = l0.eax;
        let mut vendor = [0u8; 12];
        vendor[0..4].copy_from_slice(&l0.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&l0.edx.to_le_bytes());
        vendor[8..12].copy_from_slice(&l0.ecx.to_le_bytes());
        let max_ext = cpuid(0x8000_0000).eax;

        let l1 = cpuid(1);
        let base_family = (l1.eax >> 8) & 0xf;
        let base_model = (l1.eax >> 4) & 0xf;
        let family = if base_family == 0xf {
            base_family + ((l1.eax >> 20) & 0xff)
        } else {
            base_family
        };
        let model = if base_family == 0x6 || base_family == 0xf {
            base_model | (((l1.eax >> 16) & 0xf) << 4)
        } else {
            base_model
        };

        let mut brand = [0u8; 48];
        if max_ext >= 0x8000_0004 {
            for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
                let r = cpuid(leaf);
                for (j, reg) in [r.eax, r.ebx, r.ecx, r.edx].into_iter().enumerate() {
                    brand[i * 16 + j * 4..i * 16 + j * 4 + 4].copy_from_slice(&reg.to_le_bytes());
                }
            }
        }

        let xsave = l1.ecx & (1 << 26) != 0;
        // SAFETY: XGETBV is valid once CR4.OSXSAVE is set, which the entry
        // code does whenever CPUID reports XSAVE.
        let xcr0 = if xsave { unsafe { _xgetbv(0) } } else { 0 };

        let mut names = [""; MAX_FEATURES];
        let mut count = 0;
        for f in BITS {
            let present_leaf = if f.leaf >= 0x8000_0000 {
                f.leaf <= max_ext
            } else {
                f.leaf <= max_leaf
            };
            if !present_leaf {
                continue;
            }
            let r = cpuid_sub(f.leaf, f.sub);
            let reg = [r.eax, r.ebx, r.ecx, r.edx][f.reg as usize];
            let mut on = reg & (1 << f.bit) != 0;
            // AVX-family instructions are usable only when the OS enabled
            // their state in XCR0.
            if matches!(f.name, "avx" | "avx2" | "fma" | "f16c") {
                on &= xcr0 & 0b110 == 0b110;
            }
            if f.name == "avx512f" {
                on &= xcr0 & 0xe6 == 0xe6;
            }
            if on && count < MAX_FEATURES {
                names[count] = f.name;
                count += 1;
            }
        }
        CpuFeatures {
            vendor,
            brand,
            family,
            model,
            stepping: l1.eax & 0xf,
            names,
            count,
            xcr0,
        }
    }

    /// The vendor string, e.g. `GenuineIntel`.
    pub fn vendor(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or("unknown")
    }

    /// The brand string, trimmed (empty when the CPU has none).
    pub fn brand(&self) -> &str {
        let end = self.brand.iter().position(|&c| c == 0).unwrap_or(48);
        core::str::from_utf8(&self.brand[..end])
            .unwrap_or("")
            .trim()
    }

    /// Names of the features present (and enabled, for AVX state).
    pub fn names(&self) -> &[&'static str] {
        &self.names[..self.count]
    }

    /// Whether a named feature is present.
    pub fn has(&self, name: &str) -> bool {
        self.names().contains(&name)
    }
}

/// The hypervisor vendor signature (leaf 0x4000_0000), if any.
pub(crate) fn hypervisor_signature() -> Option<([u8; 12], u32)> {
    if cpuid(1).ecx & (1 << 31) == 0 {
        return None;
    }
    let r = cpuid(0x4000_0000);
    let mut sig = [0u8; 12];
    sig[0..4].copy_from_slice(&r.ebx.to_le_bytes());
    sig[4..8].copy_from_slice(&r.ecx.to_le_bytes());
    sig[8..12].copy_from_slice(&r.edx.to_le_bytes());
    Some((sig, r.eax))
}

/// Raw CPUID for callers that need a specific leaf (e.g. the TSC leaves).
pub(crate) fn leaf(leaf: u32) -> CpuidResult {
    cpuid(leaf)
}

/// Highest basic leaf.
pub(crate) fn max_leaf() -> u32 {
    cpuid(0).eax
}
