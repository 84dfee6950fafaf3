//! End-to-end bench of HyperSockets (issue 7): a blast server in its own
//! process writes a Binance-like feed of pre-encoded frames on 127.0.0.1,
//! and twelve clients read it in turn, each in a fresh process, each
//! checking every message (per-stream counts, order, a checksum). Nine read
//! the plain feed, JSON text frames:
//!
//! - `baseline`: a hand-written tokio-tungstenite loop, a tagged serde
//!   parse, handled inline: what a user writes without HyperSockets;
//! - `seed-style`: HyperSockets, a router with `parse` + `route_key` only;
//! - `classified`: the same parse, moved into the lanes by `classify`;
//! - `best`: `classify` plus a concrete, borrowing parse in the lanes;
//! - `inline`: `inline_handler`s, parse and handler on the reader;
//! - `best-tws`, `inline-tws`, `best-soketto`, `inline-soketto`: `best` and
//!   `inline` on the other transports, `TokioWebsocketsTransport` and
//!   `SokettoTransport` (issue 13).
//!
//! Three read the gzip feed (issue 13): the same messages, each a binary
//! frame holding one gzip member, as HTX sends them (see [`gzip`]):
//!
//! - `baseline-gzip`: the baseline loop plus flate2's `GzDecoder` per
//!   message, as exchange adapters do it;
//! - `classified-gzip`: `classified` with `Decompression::Gzip`;
//! - `inline-gzip`: `inline` with `Decompression::Gzip`.
//!
//! It reports throughput (median, min, max over runs), CPU per million
//! messages, peak RSS, paced latency percentiles (plain feed), library
//! allocations per message and the memory of bounded and unbounded lanes,
//! and ends with one machine-readable `RESULT` line; the gzip clients'
//! ratios are against `baseline-gzip`. See `docs/performance.md`.
//!
//! ```text
//! cargo run --release -p hypersockets-bench --bin e2e -- [--n N] [--rate R] [--runs K]
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench's output is its point

mod alloc_count;
mod child;
mod cli;
mod clients;
mod clock;
mod concrete;
mod dataset;
mod feed;
mod frames;
mod gzip;
mod machine;
mod orchestrator;
mod report;
mod server;
mod stats;
mod tagged;
mod tally;

use std::process::ExitCode;

use cli::Invocation;

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

fn main() -> ExitCode {
    let outcome = match cli::parse(std::env::args().skip(1)) {
        Ok(Invocation::Help) => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Ok(Invocation::Bench(options)) => orchestrator::run(&options).map(|figures| {
            println!("{}", report::summary(&figures));
        }),
        Ok(Invocation::Serve { gzip_messages }) => server::serve(gzip_messages),
        Ok(Invocation::Client { job, port }) => clients::run(&job, port).and_then(|report| {
            let json = serde_json::to_string(&report).map_err(|e| e.to_string())?;
            println!("REPORT {json}");
            Ok(())
        }),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("e2e: {error}");
            ExitCode::FAILURE
        }
    }
}
