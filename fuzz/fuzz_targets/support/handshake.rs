//! The fuzzed server's side of the handshake, shared by the transport
//! targets.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The fuzzed server: reads the client's request, then writes a valid
/// `101` (with `extensions`, a header line or nothing) when
/// `valid_answer`, then `bytes` (each `ACCEPT` in them the right accept
/// key), in pieces of `piece` bytes; then hangs up, so that the client
/// reads what is buffered, then the end, never waiting for its timeouts
/// (its own writes fail, as to a peer that left).
pub async fn serve(
    mut server: impl AsyncRead + AsyncWrite + Unpin,
    valid_answer: bool,
    extensions: &str,
    bytes: &[u8],
    piece: usize,
) -> Option<()> {
    let key = read_key(&mut server).await?;
    let accept = accept_key(&key);
    let mut wire = if valid_answer {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extensions}\r\n"
        )
        .into_bytes()
    } else {
        Vec::new()
    };
    wire.extend(replace_accept(bytes, accept.as_bytes()));
    for chunk in wire.chunks(piece) {
        server.write_all(chunk).await.ok()?;
    }
    server.shutdown().await.ok()?;
    Some(())
}

/// The request's `Sec-WebSocket-Key`, once its headers have arrived.
async fn read_key(server: &mut (impl AsyncRead + Unpin)) -> Option<String> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = server.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(request).ok()?;
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-key")
            .then(|| value.trim().to_owned())
    })
}

/// The `Sec-WebSocket-Accept` for `key`.
fn accept_key(key: &str) -> String {
    tungstenite::handshake::derive_accept_key(key.as_bytes())
}

/// `bytes` with every `ACCEPT` replaced by `accept`.
fn replace_accept(bytes: &[u8], accept: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(at) = rest.windows(6).position(|w| w == b"ACCEPT") {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(accept);
        rest = &rest[at + 6..];
    }
    out.extend_from_slice(rest);
    out
}
