//! Reports made from traces: the benchmark tables and chart (`bench`), and the HTML
//! timeline of any trace (`timeline`).

pub mod bench;
pub mod timeline;
