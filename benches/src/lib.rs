//! Benchmarks of HyperSockets; see `benches/` and the `bin` targets. The
//! library part holds what several bench programs share.

pub mod child;
pub mod procfs;
