//! Examples of HyperSockets. Run one with
//! `cargo run --release --example NAME`; each starts its own mock exchange
//! on 127.0.0.1 and needs no internet.
