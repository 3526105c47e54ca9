//! The kernel catalog: one entry per benchmarked kernel.

use alloc::vec::Vec;

use crate::inputs;
use crate::sources::source;
use crate::workload::{Param, REASSOC_TOLERANCE, Tolerance, TrapCase};

/// One catalog kernel: where its IR is, how to call it, at which sizes.
#[derive(Debug)]
pub struct Kernel {
    /// Catalog name (also the name of its AOT baseline).
    pub name: &'static str,
    /// The `.bfir` file holding it.
    pub file: &'static str,
    /// The IR function the catalog calls.
    pub entry: &'static str,
    /// One line for reports: what the kernel computes and how.
    pub description: &'static str,
    /// What the `size` of a workload means for this kernel.
    pub size_meaning: &'static str,
    /// Sizes the differential tests sweep (edge sizes included).
    pub test_sizes: &'static [usize],
    /// The moderate size `cargo bench` uses by default.
    pub bench_size: usize,
    /// The report sizes (ARCHITECTURE.md, "The benchmark catalog"; opt-in in the benches
    /// with `BF_BENCH_SIZES=report`).
    pub report_sizes: &'static [usize],
    /// How compiled tiers must agree with T0.
    pub tolerance: Tolerance,
    /// True when the kernel overwrites its own inputs, so a workload must be reset
    /// between runs to repeat the same work.
    pub in_place: bool,
    /// Builds the arguments for (size, seed).
    pub inputs: fn(usize, u64) -> Vec<Param>,
}

impl Kernel {
    /// The IR source text of the kernel's file.
    pub fn source(&self) -> &'static str {
        // Every catalog file is in SOURCES (checked by the catalog's tests).
        source(self.file).unwrap_or("")
    }

    /// The module name the jit gives the file (its stem).
    pub fn module_name(&self) -> &'static str {
        self.file.strip_suffix(".bfir").unwrap_or(self.file)
    }

    /// The size the kernel's tier ladder (demo and selftest modes) calls it at: a small
    /// one of its test sizes, cheap enough for thousands of T0 calls.
    pub fn ladder_size(&self) -> usize {
        let s = self.test_sizes;
        if s.is_empty() {
            self.bench_size
        } else {
            s[(s.len() - 1) * 2 / 3]
        }
    }

    /// The seed of the tier ladder's workloads.
    pub const LADDER_SEED: u64 = 1;

    /// Arguments on which the IR must trap, with the expected kind.
    pub fn trap_cases(&'static self, seed: u64) -> Vec<TrapCase> {
        inputs::trap_cases(self, seed)
    }
}

const ELEMENTWISE_TESTS: &[usize] = &[0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 100];

/// Every kernel of the catalog.
pub static CATALOG: &[Kernel] = &[
    Kernel {
        name: "matmul",
        file: "matmul.bfir",
        entry: "matmul",
        description: "C = A x B, f32, triple loop",
        size_meaning: "m = n = k = size",
        test_sizes: &[0, 1, 2, 3, 5, 7, 8, 13, 16],
        bench_size: 64,
        report_sizes: &[64, 128, 256],
        tolerance: REASSOC_TOLERANCE,
        in_place: false,
        inputs: inputs::matmul,
    },
    Kernel {
        name: "gemm_tile",
        file: "gemm_tile.bfir",
        entry: "gemm_tile",
        description: "C = A x B, f32, cache-tiled (tile 16 at seed 0)",
        size_meaning: "m = n = k = size",
        test_sizes: &[0, 1, 2, 3, 5, 7, 8, 13, 17],
        bench_size: 64,
        report_sizes: &[64, 128, 256],
        tolerance: REASSOC_TOLERANCE,
        in_place: false,
        inputs: inputs::gemm_tile,
    },
    Kernel {
        name: "matvec",
        file: "matvec.bfir",
        entry: "matvec",
        description: "y = W x, f32",
        size_meaning: "rows = size, cols = size + seed % 3",
        test_sizes: &[0, 1, 2, 3, 4, 5, 17, 33, 64],
        bench_size: 512,
        report_sizes: &[2048],
        tolerance: REASSOC_TOLERANCE,
        in_place: false,
        inputs: inputs::matvec,
    },
    Kernel {
        name: "matvec_ffn",
        file: "matvec.bfir",
        entry: "matvec",
        description: "y = W x, f32, feed-forward shape (cols = 2.75 rows)",
        size_meaning: "rows = size, cols = size * 11 / 4",
        test_sizes: &[0, 1, 2, 3, 4, 5, 17, 33],
        bench_size: 256,
        report_sizes: &[2048],
        tolerance: REASSOC_TOLERANCE,
        in_place: false,
        inputs: inputs::matvec_ffn,
    },
    Kernel {
        name: "attention",
        file: "attention.bfir",
        entry: "attention",
        description: "softmax(Q K^T / sqrt(d)) V, one head",
        size_meaning: "seq = size; head dim 64 from seq 32 on, else 1 + seed % 13",
        test_sizes: &[0, 1, 2, 3, 5, 9, 16, 33],
        bench_size: 64,
        report_sizes: &[256],
        tolerance: REASSOC_TOLERANCE,
        in_place: false,
        inputs: inputs::attention,
    },
    Kernel {
        name: "rmsnorm",
        file: "rmsnorm.bfir",
        entry: "rmsnorm",
        description: "RMS normalization with weights",
        size_meaning: "n = size",
        test_sizes: ELEMENTWISE_TESTS,
        bench_size: 2048,
        report_sizes: &[2048],
        tolerance: REASSOC_TOLERANCE,
        in_place: false,
        inputs: inputs::rmsnorm,
    },
    Kernel {
        name: "softmax",
        file: "softmax.bfir",
        entry: "softmax",
        description: "stable softmax, in place",
        size_meaning: "n = size",
        test_sizes: ELEMENTWISE_TESTS,
        bench_size: 2048,
        report_sizes: &[2048],
        tolerance: Tolerance::Exact,
        in_place: true,
        inputs: inputs::softmax,
    },
    Kernel {
        name: "rope",
        file: "rope.bfir",
        entry: "rope",
        description: "rotary position embedding, in place",
        size_meaning: "dim = size rounded down to even",
        test_sizes: ELEMENTWISE_TESTS,
        bench_size: 2048,
        report_sizes: &[2048],
        tolerance: Tolerance::Exact,
        in_place: true,
        inputs: inputs::rope,
    },
    Kernel {
        name: "silu",
        file: "silu.bfir",
        entry: "silu",
        description: "SiLU activation, in place",
        size_meaning: "n = size",
        test_sizes: ELEMENTWISE_TESTS,
        bench_size: 2048,
        report_sizes: &[2048],
        tolerance: Tolerance::Exact,
        in_place: true,
        inputs: inputs::silu,
    },
    Kernel {
        name: "swiglu",
        file: "silu.bfir",
        entry: "swiglu",
        description: "SwiGLU gate silu(g) * u, in place",
        size_meaning: "n = size",
        test_sizes: ELEMENTWISE_TESTS,
        bench_size: 2048,
        report_sizes: &[2048],
        tolerance: Tolerance::Exact,
        in_place: true,
        inputs: inputs::swiglu,
    },
    Kernel {
        name: "fft",
        file: "fft.bfir",
        entry: "fft",
        description: "radix-2 complex FFT, in place",
        size_meaning: "n = size complex samples",
        test_sizes: &[0, 1, 2, 3, 4, 8, 12, 16, 32, 64, 128, 256],
        bench_size: 1024,
        report_sizes: &[1024],
        tolerance: Tolerance::Exact,
        in_place: true,
        inputs: inputs::fft,
    },
    Kernel {
        name: "sha256",
        file: "sha256.bfir",
        entry: "sha256",
        description: "SHA-256 of a byte buffer",
        size_meaning: "message bytes",
        test_sizes: &[0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 128, 200, 1000],
        bench_size: 16384,
        report_sizes: &[1 << 20],
        tolerance: Tolerance::Exact,
        in_place: false,
        inputs: inputs::sha256,
    },
    Kernel {
        name: "regex_dfa",
        file: "regex_dfa.bfir",
        entry: "regex_dfa",
        description: "(WARN|ERROR).*[0-9]+ms over log lines, table-driven DFA",
        size_meaning: "text bytes",
        test_sizes: &[0, 1, 2, 10, 50, 99, 300, 1000],
        bench_size: 65536,
        report_sizes: &[1 << 20],
        tolerance: Tolerance::Exact,
        in_place: false,
        inputs: inputs::regex_dfa,
    },
    Kernel {
        name: "physics_step",
        file: "physics_step.bfir",
        entry: "physics_step",
        description: "Verlet step, pairwise and wall collisions",
        size_meaning: "particles",
        test_sizes: &[0, 1, 2, 3, 5, 8, 17, 40],
        bench_size: 256,
        report_sizes: &[1024],
        tolerance: Tolerance::Exact,
        in_place: true,
        inputs: inputs::physics_step,
    },
    Kernel {
        name: "quicksort",
        file: "quicksort.bfir",
        entry: "sort",
        description: "recursive Lomuto quicksort of i32",
        size_meaning: "elements",
        test_sizes: &[0, 1, 2, 3, 5, 8, 17, 100, 257],
        bench_size: 4096,
        report_sizes: &[65536],
        tolerance: Tolerance::Exact,
        in_place: true,
        inputs: inputs::quicksort,
    },
    Kernel {
        name: "primes",
        file: "primes.bfir",
        entry: "primes",
        description: "sieve of Eratosthenes, count of primes <= n",
        size_meaning: "n",
        test_sizes: &[0, 1, 2, 3, 4, 10, 97, 100, 1000, 4099],
        bench_size: 65536,
        report_sizes: &[1 << 20],
        tolerance: Tolerance::Exact,
        in_place: false,
        inputs: inputs::primes,
    },
    Kernel {
        name: "fibonacci",
        file: "fibonacci.bfir",
        entry: "fib",
        description: "doubly recursive Fibonacci",
        size_meaning: "n",
        test_sizes: &[0, 1, 2, 3, 5, 10, 15],
        bench_size: 20,
        report_sizes: &[25],
        tolerance: Tolerance::Exact,
        in_place: false,
        inputs: inputs::fibonacci,
    },
    Kernel {
        name: "strops",
        file: "strops.bfir",
        entry: "strops",
        description: "copy, upper-case, search, compare on bytes",
        size_meaning: "text bytes",
        test_sizes: &[0, 1, 2, 3, 5, 17, 64, 257, 1000],
        bench_size: 4096,
        report_sizes: &[65536],
        tolerance: Tolerance::Exact,
        in_place: false,
        inputs: inputs::strops,
    },
];

/// The catalog entry named `name`.
pub fn kernel(name: &str) -> Option<&'static Kernel> {
    CATALOG.iter().find(|k| k.name == name)
}
