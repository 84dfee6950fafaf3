//! Whatever a server sends — its handshake response, then frames — through
//! the real transport (the same code as over TCP, here over an in-memory
//! stream): every input ends in messages, a clean end or a typed error;
//! never a panic, never an allocation past the limits.
//!
//! Input: one control byte, then the server's bytes. Bit 0 of the control
//! byte: 1 = the server first answers with a valid `101` (so the fuzzer
//! spends its time in the frame decoder), 0 = the bytes are the whole
//! response (`ACCEPT` in them is replaced by the right accept key). Bits
//! 1–6: the size of the pieces the server writes in (1 to 64 bytes).
#![no_main]

#[path = "support/handshake.rs"]
mod handshake;

use std::time::Duration;

use futures_util::StreamExt;
use handshake::serve;
use hypersockets_core::{ConnectRequest, TransportLimits};
use hypersockets_transport::fuzzing::connect_over;
use libfuzzer_sys::fuzz_target;

/// Frames and messages are capped at 64 KiB: the fuzzer's memory limit
/// catches any allocation far past that.
const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&control, bytes)) = data.split_first() else {
        return;
    };
    RUNTIME.with(|runtime| runtime.block_on(run(control, bytes.to_vec())));
});

thread_local! {
    /// One runtime for every input, its clock paused: when every task
    /// waits, time jumps to the next timer, so a timeout costs nothing and
    /// still fires exactly as it would on the wall clock.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a runtime");
}

async fn run(control: u8, bytes: Vec<u8>) {
    let valid_answer = control & 1 == 1;
    let piece = usize::from((control >> 1) & 63) + 1;
    let (client, server) = tokio::io::duplex(LIMIT);
    let serve = async move { serve(server, valid_answer, "", &bytes, piece).await };
    let limits = TransportLimits::default()
        .max_message_size(LIMIT)
        .max_frame_size(LIMIT);
    let request = ConnectRequest::new("ws://exchange.test/ws")
        .limits(limits)
        .handshake_timeout(Duration::from_secs(5));
    let read = async move {
        let Ok(mut connection) = connect_over(client, request).await else {
            return;
        };
        // Bounded: the server's bytes end, so the stream does too.
        while let Some(item) = connection.stream.next().await {
            match item {
                Ok(message) => assert!(message.len() <= LIMIT, "a message past the limit"),
                Err(_) => break,
            }
        }
    };
    let _ = tokio::join!(serve, read);
}
