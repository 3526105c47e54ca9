//! CPU features that select Cranelift's ISA flags.

use alloc::vec::Vec;

/// x86-64 features beyond the SSE2 baseline. On the host they come from
/// `is_x86_feature_detected!`, in the kernel from CPUID (+ XGETBV for AVX).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuFeatures {
    /// SSE3 (CPUID.1:ECX bit 0).
    pub sse3: bool,
    /// Supplemental SSE3 (CPUID.1:ECX bit 9).
    pub ssse3: bool,
    /// SSE4.1 (CPUID.1:ECX bit 19): `roundss`/`roundsd` for floor, ceil, trunc.
    pub sse41: bool,
    /// SSE4.2 (CPUID.1:ECX bit 20).
    pub sse42: bool,
    /// `popcnt` (CPUID.1:ECX bit 23).
    pub popcnt: bool,
    /// `lzcnt` (CPUID.80000001h:ECX bit 5).
    pub lzcnt: bool,
    /// BMI1 (CPUID.7.0:EBX bit 3): `tzcnt`, `andn`.
    pub bmi1: bool,
    /// BMI2 (CPUID.7.0:EBX bit 8): `shlx`, `sarx`, `shrx`.
    pub bmi2: bool,
    /// AVX (CPUID.1:ECX bit 28, with the OS saving YMM state per XCR0).
    pub avx: bool,
    /// AVX2 (CPUID.7.0:EBX bit 5, with AVX usable).
    pub avx2: bool,
    /// FMA3 (CPUID.1:ECX bit 12, with AVX usable): fused multiply-add.
    pub fma: bool,
}

impl CpuFeatures {
    /// SSE2 only.
    pub fn baseline() -> Self {
        Self::default()
    }

    /// Everything a recent x86-64 has (for tests that want every code path).
    pub fn all() -> Self {
        CpuFeatures {
            sse3: true,
            ssse3: true,
            sse41: true,
            sse42: true,
            popcnt: true,
            lzcnt: true,
            bmi1: true,
            bmi2: true,
            avx: true,
            avx2: true,
            fma: true,
        }
    }

    /// The features of the CPU running this process.
    #[cfg(feature = "std")]
    pub fn detect_host() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            CpuFeatures {
                sse3: std::is_x86_feature_detected!("sse3"),
                ssse3: std::is_x86_feature_detected!("ssse3"),
                sse41: std::is_x86_feature_detected!("sse4.1"),
                sse42: std::is_x86_feature_detected!("sse4.2"),
                popcnt: std::is_x86_feature_detected!("popcnt"),
                lzcnt: std::is_x86_feature_detected!("lzcnt"),
                bmi1: std::is_x86_feature_detected!("bmi1"),
                bmi2: std::is_x86_feature_detected!("bmi2"),
                avx: std::is_x86_feature_detected!("avx"),
                avx2: std::is_x86_feature_detected!("avx2"),
                fma: std::is_x86_feature_detected!("fma"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self::baseline()
        }
    }

    /// True when fused multiply-add instructions can be emitted (Cranelift needs AVX + FMA).
    pub fn has_hw_fma(&self) -> bool {
        self.avx && self.fma
    }

    /// The features named in `names` (as [`CpuFeatures::names`] and the kernel's
    /// `cpu_features` event spell them); other names are ignored.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut f = CpuFeatures::baseline();
        for n in names {
            match n {
                "sse3" => f.sse3 = true,
                "ssse3" => f.ssse3 = true,
                "sse4.1" => f.sse41 = true,
                "sse4.2" => f.sse42 = true,
                "popcnt" => f.popcnt = true,
                "lzcnt" => f.lzcnt = true,
                "bmi1" => f.bmi1 = true,
                "bmi2" => f.bmi2 = true,
                "avx" => f.avx = true,
                "avx2" => f.avx2 = true,
                "fma" => f.fma = true,
                _ => {}
            }
        }
        f
    }

    /// Names of the enabled features, for traces.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let all = [
            (self.sse3, "sse3"),
            (self.ssse3, "ssse3"),
            (self.sse41, "sse4.1"),
            (self.sse42, "sse4.2"),
            (self.popcnt, "popcnt"),
            (self.lzcnt, "lzcnt"),
            (self.bmi1, "bmi1"),
            (self.bmi2, "bmi2"),
            (self.avx, "avx"),
            (self.avx2, "avx2"),
            (self.fma, "fma"),
        ];
        for (on, n) in all {
            if on {
                v.push(n);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_names_inverts_names() {
        let mut f = CpuFeatures::baseline();
        assert_eq!(CpuFeatures::from_names(f.names()), f);
        f.avx = true;
        f.fma = true;
        f.sse41 = true;
        assert_eq!(CpuFeatures::from_names(f.names()), f);
        assert_eq!(
            CpuFeatures::from_names(CpuFeatures::all().names()),
            CpuFeatures::all()
        );
        // names the JIT does not use (the kernel's event lists more) are ignored
        assert_eq!(
            CpuFeatures::from_names(["avx512f", "nx"]),
            CpuFeatures::baseline()
        );
    }
}
