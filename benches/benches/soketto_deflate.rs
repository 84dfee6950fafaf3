//! Receiving a feed of ~300-byte JSON messages through the soketto
//! transport, permessage-deflate on (context takeover) and off, and through
//! the tungstenite transport for reference: nanoseconds per message, from
//! the first message to the last, on loopback.
//!
//! `cargo bench -p hypersockets-bench --bench soketto_deflate`
//!
//! Criterion-free: one figure per transport is what the guide quotes. The
//! server is a raw socket that writes frames prepared beforehand (compressed
//! with one compressor, as a server with context takeover does), so its
//! own cost stays out of the figure.

#![allow(clippy::print_stdout, reason = "a bench prints its figures")]

use std::time::{Duration, Instant};

use flate2::{Compress, Compression, FlushCompress};
use futures_util::StreamExt;
use hypersockets::{
    ConnectRequest, PerMessageDeflate, SokettoTransport, Transport, TungsteniteTransport,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::http::HeaderValue;

const MESSAGES: usize = 200_000;
const RUNS: usize = 3;

/// Message `index`: a trade as a venue sends it, about 300 bytes.
fn message(index: usize) -> String {
    let mut state = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    format!(
        concat!(
            r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":{},"s":"BTCUSDT","t":{},"#,
            r#""p":"{}.{:02}","q":"{}.{:08}","b":{},"a":{},"T":{},"m":{},"M":true,"#,
            r#""x":"NEW","X":"FILLED","f":{},"l":{},"n":"0.00000000","N":"BNB","#,
            r#""venue":"binance","market":"spot"}}}}"#
        ),
        1_700_000_000_000u64 + index as u64,
        3_000_000_000u64 + index as u64,
        43_000 + next() % 500,
        next() % 100,
        next() % 3,
        next() % 100_000_000,
        9_000_000_000u64 + next() % 1_000_000,
        9_000_000_000u64 + next() % 1_000_000,
        1_700_000_000_000u64 + index as u64,
        next() % 2 == 0,
        next() % 1_000_000,
        next() % 1_000_000,
    )
}

/// The feed as server frames: unmasked text frames, each compressed (RSV1
/// set, the sync flush's trailer removed) when `deflate`.
fn frames(deflate: bool) -> Vec<u8> {
    let mut compress = Compress::new(Compression::fast(), false);
    let mut out = Vec::new();
    let mut payload = Vec::with_capacity(512);
    for index in 0..MESSAGES {
        let text = message(index);
        payload.clear();
        if deflate {
            payload.reserve(text.len() + 64);
            compress
                .compress_vec(text.as_bytes(), &mut payload, FlushCompress::Sync)
                .expect("compresses");
            assert!(payload.ends_with(&[0, 0, 0xff, 0xff]), "room for the flush");
            payload.truncate(payload.len() - 4);
        } else {
            payload.extend_from_slice(text.as_bytes());
        }
        out.push(if deflate { 0xc1 } else { 0x81 });
        match payload.len() {
            len @ 0..=125 => out.push(len as u8),
            len => {
                out.push(126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
        }
        out.extend_from_slice(&payload);
    }
    out
}

/// A server for one connection: answers the upgrade (accepting
/// permessage-deflate when `deflate`), then writes `feed` to the socket.
async fn serve(deflate: bool, feed: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
    let url = format!("ws://{}/", listener.local_addr().expect("an address"));
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepted");
        #[allow(clippy::result_large_err, reason = "tungstenite's callback type")]
        let accept = move |_: &Request, mut response: Response| {
            if deflate {
                response.headers_mut().insert(
                    "sec-websocket-extensions",
                    HeaderValue::from_static("permessage-deflate; client_no_context_takeover"),
                );
            }
            Ok(response)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(socket, accept)
            .await
            .expect("upgraded");
        // The frames are ready: straight to the socket.
        let socket = ws.get_mut();
        socket.write_all(&feed).await.expect("fed");
        // Until the client goes.
        let _ = socket.read(&mut [0u8; 64]).await;
    });
    url
}

/// Nanoseconds per message through `transport`, first message to last.
async fn per_message(transport: &dyn Transport, deflate: bool, feed: &[u8]) -> f64 {
    let url = serve(deflate, feed.to_vec()).await;
    let mut connection = transport
        .connect(ConnectRequest::new(url))
        .await
        .expect("connected");
    let mut start = None;
    let mut bytes = 0usize;
    for _ in 0..MESSAGES {
        let message = tokio::time::timeout(Duration::from_secs(30), connection.stream.next())
            .await
            .expect("a message within 30 s")
            .expect("a message")
            .expect("no error");
        start.get_or_insert_with(Instant::now);
        bytes += message.len();
    }
    let elapsed = start.expect("messages came").elapsed();
    assert!(bytes > MESSAGES * 250, "messages of ~300 bytes");
    elapsed.as_nanos() as f64 / (MESSAGES - 1) as f64
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let plain = frames(false);
    let compressed = frames(true);
    println!(
        "{MESSAGES} messages of {} bytes on average; on the wire {} bytes each plain, {} deflated",
        plain.len() / MESSAGES - 3,
        plain.len() / MESSAGES,
        compressed.len() / MESSAGES
    );
    let deflating = SokettoTransport::new().permessage_deflate(Some(PerMessageDeflate::new()));
    let cases: [(&str, &dyn Transport, bool, &[u8]); 3] = [
        (
            "tungstenite, plain",
            &TungsteniteTransport::new(),
            false,
            &plain,
        ),
        ("soketto, plain", &SokettoTransport::new(), false, &plain),
        ("soketto, deflated", &deflating, true, &compressed),
    ];
    for (name, transport, deflate, feed) in cases {
        let mut best = f64::MAX;
        for _ in 0..RUNS {
            best = best.min(runtime.block_on(per_message(transport, deflate, feed)));
        }
        println!("{name:>20}: {best:7.0} ns per message (best of {RUNS})");
    }
}
