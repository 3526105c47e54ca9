//! The IR sources of the catalog, embedded at build time.

/// (file name, source text) of every `.bfir` file of `ir-modules/`.
pub const SOURCES: &[(&str, &str)] = &[
    ("matmul.bfir", include_str!("../matmul.bfir")),
    ("gemm_tile.bfir", include_str!("../gemm_tile.bfir")),
    ("matvec.bfir", include_str!("../matvec.bfir")),
    ("attention.bfir", include_str!("../attention.bfir")),
    ("rmsnorm.bfir", include_str!("../rmsnorm.bfir")),
    ("softmax.bfir", include_str!("../softmax.bfir")),
    ("rope.bfir", include_str!("../rope.bfir")),
    ("silu.bfir", include_str!("../silu.bfir")),
    ("fft.bfir", include_str!("../fft.bfir")),
    ("sha256.bfir", include_str!("../sha256.bfir")),
    ("regex_dfa.bfir", include_str!("../regex_dfa.bfir")),
    ("physics_step.bfir", include_str!("../physics_step.bfir")),
    ("quicksort.bfir", include_str!("../quicksort.bfir")),
    ("primes.bfir", include_str!("../primes.bfir")),
    ("fibonacci.bfir", include_str!("../fibonacci.bfir")),
    ("strops.bfir", include_str!("../strops.bfir")),
    ("llama.bfir", include_str!("../llama.bfir")),
];

/// The source text of `file` (e.g. "fft.bfir").
pub fn source(file: &str) -> Option<&'static str> {
    SOURCES.iter().find(|(f, _)| *f == file).map(|(_, s)| *s)
}
