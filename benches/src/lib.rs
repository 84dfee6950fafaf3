//! Benchmarks of HyperSockets; see `benches/` and the `bin` targets.
