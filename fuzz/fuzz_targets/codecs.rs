//! Whatever a server sends — its handshake response, then frames — through
//! the other transports' frame codecs (tokio-websockets', and the soketto
//! transport's with and without permessage-deflate), each connected over
//! real loopback TCP exactly as in production: every input ends in
//! messages, a clean end or a typed error; never a panic, never an
//! allocation past the limits. (`transport` covers the default one.)
//!
//! Input: one control byte, then the server's bytes. Bit 0: 1 = the server
//! first answers with a valid `101` (so the fuzzer spends its time in the
//! frame decoder), 0 = the bytes are the whole response (`ACCEPT` in them is
//! replaced by the right accept key). Bits 1–5: the size of the pieces the
//! server writes in (1 to 32 bytes). Bits 6–7: the transport — 0 and 1
//! tokio-websockets, 2 soketto, 3 soketto offering permessage-deflate, which
//! the valid answer accepts (so frames may be compressed).
#![no_main]

#[path = "support/handshake.rs"]
mod handshake;

use std::time::Duration;

use futures_util::StreamExt;
use handshake::serve;
use hypersockets::{
    ConnectRequest, PerMessageDeflate, SokettoTransport, TokioWebsocketsTransport, Transport,
    TransportLimits,
};
use libfuzzer_sys::fuzz_target;
use tokio::net::TcpListener;

/// Frames and messages (inflated ones too) are capped at 64 KiB: the
/// fuzzer's memory limit catches any allocation far past that.
const LIMIT: usize = 64 * 1024;

fuzz_target!(
    init: {
        // A write to a socket the peer closed raises SIGPIPE; a Rust `main`
        // ignores it, libFuzzer's does not. Caught here, it is ignored.
        let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGPIPE, caught)
            .expect("SIGPIPE can be caught");
    },
    |data: &[u8]| {
        let Some((&control, bytes)) = data.split_first() else {
            return;
        };
        RUNTIME.with(|runtime| runtime.block_on(run(control, bytes.to_vec())));
    }
);

thread_local! {
    /// One runtime for every input, on the wall clock: the connection is
    /// real TCP, and the server always hangs up, so no timeout is waited for.
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
}

async fn run(control: u8, bytes: Vec<u8>) {
    let valid_answer = control & 1 == 1;
    let piece = usize::from((control >> 1) & 31) + 1;
    let transport = control >> 6;
    let Ok(listener) = TcpListener::bind("127.0.0.1:0").await else {
        return;
    };
    let Ok(address) = listener.local_addr() else {
        return;
    };
    let serve = async move {
        let (server, _) = listener.accept().await.ok()?;
        let extensions = if transport == 3 {
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
        } else {
            ""
        };
        serve(server, valid_answer, extensions, &bytes, piece).await
    };
    let limits = TransportLimits::default()
        .max_message_size(LIMIT)
        .max_frame_size(LIMIT);
    let request = ConnectRequest::new(format!("ws://{address}/ws"))
        .limits(limits)
        .connect_timeout(Duration::from_secs(5))
        .handshake_timeout(Duration::from_secs(5))
        .tcp_keepalive(None);
    let read = async move {
        let connecting = match transport {
            0 | 1 => TokioWebsocketsTransport::new().connect(request),
            2 => SokettoTransport::new().connect(request),
            _ => SokettoTransport::new()
                .permessage_deflate(Some(PerMessageDeflate::new()))
                .connect(request),
        };
        let Ok(mut connection) = connecting.await else {
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
