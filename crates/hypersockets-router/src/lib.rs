//! Routing and the handler-lane runtime of HyperSockets.
//!
//! Filled in by the router-runtime work: route table, lanes, overflow
//! policies and per-lane metrics. Nothing is exported yet.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
