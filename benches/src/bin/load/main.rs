//! Load bench of HyperSockets (issue 12, point 15): 1,000 clients in one
//! `ClientManager` against one mock exchange for a bounded time, with
//! periodic faults on random connections (dropped TCP, server close 1012,
//! half-open silence).
//!
//! Two processes, so that the client's memory and CPU figures are its own:
//! this one runs the testkit's `MockExchange` and injects the faults; a child
//! (this program again, `load clients …`) runs the clients and checks every
//! message. Every message carries its connection id and sequence number, so
//! the child checks `Control::check_delivery`'s rule without keeping the
//! texts: per client, each connection's messages are 1, 2, 3, … with no gap,
//! duplicate or reordering, and connections only move forward. Each stream
//! stops after `rate × secs` messages per connection, so once faults stop the
//! feed drains: every client's final connection must deliver all of them, and
//! the exchange must show each open connection wrote exactly that many.
//! Then the child sits idle for 5 s with every connection open (default
//! keepalive) and measures its CPU.
//!
//! It reports messages, reconnects, losses (must be 0; the exit status is
//! non-zero otherwise), peak RSS total and per client, CPU per second of the
//! run and idle CPU, and ends with one machine-readable `RESULT` line. See
//! `docs/performance.md`.
//!
//! ```text
//! cargo run --release -p hypersockets-bench --bin load -- [--clients N] [--secs S] [--rate R] [--fault-every F] [--lanes task|thread]
//! ```
#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench's output is its point

mod checker;
mod cli;
mod clients;
mod exchange;
mod limits;

use std::process::ExitCode;

use cli::Invocation;

fn main() -> ExitCode {
    if let Err(error) = limits::raise_open_files() {
        eprintln!("load: {error}");
    }
    let outcome = match cli::parse(std::env::args().skip(1)) {
        Ok(Invocation::Help) => {
            println!("{}", cli::USAGE);
            Ok(())
        }
        Ok(Invocation::Bench(options)) => exchange::run(&options),
        Ok(Invocation::Clients(options)) => clients::run(&options),
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("load: {error}");
            ExitCode::FAILURE
        }
    }
}
