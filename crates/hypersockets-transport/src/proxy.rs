//! Through a proxy: TCP to the proxy, then HTTP CONNECT or SOCKS5 to the
//! server, leaving a TCP stream that carries the server's bytes (TLS and
//! the WebSocket handshake follow as on a direct connection).
//!
//! Credentials are never logged nor put in an error: the only place they
//! go is the proxy's socket.

use std::sync::Arc;

use hypersockets_core::{ErrorSource, HyperSocketError, Proxy, ProxyKind, Result, TcpKeepalive};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_socks::tcp::Socks5Stream;
use tokio_socks::{IntoTargetAddr, TargetAddr};

use crate::upgrade::tcp_connect;

/// The most bytes an HTTP proxy's answer to CONNECT (status line and
/// headers) may take.
pub(crate) const MAX_CONNECT_RESPONSE: usize = 8 * 1024;

/// A [`HyperSocketError::Proxy`] without a status.
fn failure(fatal: bool, source: ErrorSource) -> HyperSocketError {
    HyperSocketError::Proxy {
        status: None,
        fatal,
        source: Some(source),
    }
}

/// A retryable failure for a malformed or cut-short answer.
fn bad_answer(what: &'static str) -> HyperSocketError {
    failure(false, Arc::new(std::io::Error::other(what)))
}

/// A TCP stream to `host:port` through `proxy`, with the socket options of
/// a direct connection (`TCP_NODELAY`, `keepalive`) on the socket to the
/// proxy.
pub(crate) async fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    keepalive: Option<TcpKeepalive>,
) -> Result<TcpStream> {
    // `Display` has no credentials.
    tracing::debug!(%proxy, "connecting to the proxy");
    let tcp = tcp_connect(proxy.host(), proxy.port(), keepalive)
        .await
        .map_err(|error| match error {
            HyperSocketError::Io(io) => failure(false, io),
            other => other,
        })?;
    tracing::debug!(
        kind = proxy.kind().scheme(),
        credentials = proxy.username().is_some(),
        "connected to the proxy, asking for a tunnel"
    );
    let tcp = match proxy.kind() {
        ProxyKind::HttpConnect => http_connect(tcp, proxy, host, port).await?,
        ProxyKind::Socks5 => {
            // The client resolves; the proxy is given the first address.
            let addr = tokio::net::lookup_host((host, port))
                .await?
                .next()
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the host name resolved to no address",
                    )
                })?;
            socks5(tcp, proxy, TargetAddr::Ip(addr)).await?
        }
        // An IP address goes as one, a name as a name (at most 255 bytes).
        ProxyKind::Socks5h => socks5(tcp, proxy, (host, port)).await?,
        _ => {
            return Err(HyperSocketError::invalid_config(
                "proxy",
                "this proxy kind is not supported by this transport",
            ));
        }
    };
    tracing::debug!("proxy tunnel open");
    Ok(tcp)
}

/// SOCKS5 `CONNECT` to `target`, with RFC 1929 username/password when the
/// proxy has credentials.
async fn socks5<'t>(
    tcp: TcpStream,
    proxy: &Proxy,
    target: impl IntoTargetAddr<'t>,
) -> Result<TcpStream> {
    let stream = match (proxy.username(), proxy.password()) {
        (Some(username), Some(password)) => {
            Socks5Stream::connect_with_password_and_socket(tcp, target, username, password).await
        }
        _ => Socks5Stream::connect_with_socket(tcp, target).await,
    }
    .map_err(socks_error)?;
    Ok(stream.into_inner())
}

/// Ours from tokio-socks': fatal when the same attempt would be refused
/// again (credentials refused, missing or unusable, the proxy's rules).
pub(crate) fn socks_error(error: tokio_socks::Error) -> HyperSocketError {
    use tokio_socks::Error as E;
    let fatal = matches!(
        error,
        E::PasswordAuthFailure(_)
            | E::NoAcceptableAuthMethods
            | E::AuthorizationRequired
            | E::InvalidAuthValues(_)
            | E::ConnectionNotAllowedByRuleset
            | E::InvalidTargetAddress(_)
    );
    tracing::debug!(fatal, "socks5 negotiation failed");
    let source: ErrorSource = match error {
        E::Io(io) => Arc::new(io),
        other => Arc::new(other),
    };
    failure(fatal, source)
}

/// `CONNECT host:port`, with `Proxy-Authorization: Basic` when the proxy
/// has credentials; the stream once the proxy answered 2xx.
async fn http_connect(
    mut tcp: TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<TcpStream> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let (Some(username), Some(password)) = (proxy.username(), proxy.password()) {
        request.push_str("Proxy-Authorization: Basic ");
        request.push_str(&base64(format!("{username}:{password}").as_bytes()));
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(|error| failure(false, Arc::new(error)))?;
    tracing::debug!("http connect sent");

    let mut answer = Vec::with_capacity(512);
    let end = loop {
        if let Some(at) = answer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if answer.len() > MAX_CONNECT_RESPONSE {
            return Err(bad_answer("the proxy's answer to CONNECT is over 8 KiB"));
        }
        let mut chunk = [0u8; 1024];
        let read = tcp
            .read(&mut chunk)
            .await
            .map_err(|error| failure(false, Arc::new(error)))?;
        if read == 0 {
            return Err(failure(
                false,
                Arc::new(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the proxy closed before answering CONNECT",
                )),
            ));
        }
        answer.extend_from_slice(&chunk[..read]);
    };
    let status = parse_status(&answer[..end])
        .ok_or_else(|| bad_answer("the proxy's answer to CONNECT is not HTTP/1.x"))?;
    tracing::debug!(status, "http proxy answered connect");
    if !(200..300).contains(&status) {
        return Err(HyperSocketError::Proxy {
            status: Some(status),
            // 401: what tinyproxy answers to wrong credentials (407 to none).
            fatal: matches!(status, 400 | 401 | 403 | 405 | 407),
            source: None,
        });
    }
    // Nothing has been sent through the tunnel yet, and neither a TLS
    // nor a WebSocket server speaks first: bytes past the answer are the
    // proxy's mistake, not the server's.
    if answer.len() > end {
        return Err(bad_answer(
            "the proxy sent bytes after its answer to CONNECT",
        ));
    }
    Ok(tcp)
}

/// The status code of an `HTTP/1.x NNN reason` status line.
pub(crate) fn parse_status(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return None;
    }
    code.parse().ok().filter(|code| (100..600).contains(code))
}

/// Standard base64 with padding (RFC 4648), for Basic credentials.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Some(200)
        );
        assert_eq!(
            parse_status(b"HTTP/1.0 407 Proxy Authentication Required\r\n"),
            Some(407)
        );
        assert_eq!(parse_status(b"HTTP/1.1 502\r\n\r\n"), Some(502));
        assert_eq!(parse_status(b"HTTP/2 200\r\n"), None);
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 20 OK\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 999 OK\r\n"), None);
    }

    #[test]
    fn socks_refusals_of_credentials_are_fatal() {
        use tokio_socks::Error as E;
        for (error, fatal) in [
            (E::PasswordAuthFailure(1), true),
            (E::NoAcceptableAuthMethods, true),
            (E::ConnectionNotAllowedByRuleset, true),
            (E::ConnectionRefused, false),
            (E::HostUnreachable, false),
            (E::GeneralSocksServerFailure, false),
            (E::Io(std::io::ErrorKind::ConnectionReset.into()), false),
        ] {
            let mapped = socks_error(error);
            assert!(
                matches!(mapped, HyperSocketError::Proxy { status: None, fatal: f, source: Some(_) } if f == fatal),
                "{mapped:?}"
            );
            assert_eq!(mapped.is_retryable(), !fatal);
        }
    }
}
