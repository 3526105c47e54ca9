//! The seedable generator of the inputs: SplitMix64, shared with the workloads the IR
//! declares (`jit::workload::Rng`), so the catalog, the host and the kernel draw the
//! very same inputs for a seed.

pub use jit::workload::Rng;
