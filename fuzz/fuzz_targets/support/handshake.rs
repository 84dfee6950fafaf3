//! The fuzzed server's side of the handshake, shared by the transport
//! targets.

use tokio::io::{AsyncRead, AsyncReadExt};

/// The request's `Sec-WebSocket-Key`, once its headers have arrived.
pub async fn read_key(server: &mut (impl AsyncRead + Unpin)) -> Option<String> {
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
pub fn accept_key(key: &str) -> String {
    tungstenite::handshake::derive_accept_key(key.as_bytes())
}

/// `bytes` with every `ACCEPT` replaced by `accept`.
pub fn replace_accept(bytes: &[u8], accept: &[u8]) -> Vec<u8> {
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
