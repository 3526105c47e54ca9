//! Reports made from traces: the benchmark tables and chart (`bench`).

pub mod bench;
