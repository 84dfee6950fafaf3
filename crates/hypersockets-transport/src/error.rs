//! Mapping tungstenite's errors onto ours, keeping the source.
//!
//! Each of tungstenite's wrapping variants (`Protocol`, `Io`, `Capacity`,
//! `Tls`, `HttpFormat`, and `ProtocolError::HttparseError` inside it) both
//! prints its inner error in its `Display` and returns it from `source()`,
//! so an error reporter walking the chain printed the inner text twice. The
//! source kept here is therefore always the innermost error, never the
//! wrapper: each link of the chain says its own part once.

use std::sync::Arc;
use std::time::SystemTime;

use hypersockets_core::HyperSocketError;
use tungstenite::error::{CapacityError, Error, ProtocolError};
use tungstenite::http::header::RETRY_AFTER;

/// Ours from tungstenite's. `ConnectionClosed` is a normal end and is handled
/// by the caller before this is reached.
pub(crate) fn map_error(error: Error) -> HyperSocketError {
    match error {
        // A peer that vanished without a Close frame (TCP FIN or RST): a
        // lost connection, not a protocol violation.
        Error::ConnectionClosed
        | Error::AlreadyClosed
        | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            HyperSocketError::ConnectionClosed
        }
        // TLS failures after the handshake reach tungstenite as I/O errors.
        Error::Io(err) => crate::tls::io_error(err),
        Error::Tls(err) => HyperSocketError::Tls(Arc::new(err)),
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            HyperSocketError::MessageTooLarge {
                size,
                limit: max_size,
            }
        }
        Error::Capacity(err @ CapacityError::TooManyHeaders) => {
            HyperSocketError::handshake(Arc::new(err))
        }
        Error::Utf8(reason) => {
            HyperSocketError::InvalidUtf8(hypersockets_core::BoxError::from(reason).into())
        }
        Error::Http(response) => HyperSocketError::Handshake {
            status: Some(response.status().as_u16()),
            retry_after: response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| crate::retry_after::parse(value, SystemTime::now())),
            source: None,
        },
        Error::HttpFormat(err) => HyperSocketError::handshake(Arc::new(err)),
        Error::Url(err) => HyperSocketError::invalid_config("url", err.to_string()),
        // A garbled HTTP answer: only met during the handshake, where the
        // caller turns it into a handshake error.
        Error::Protocol(ProtocolError::HttparseError(err)) => {
            HyperSocketError::WebSocket(Arc::new(err))
        }
        Error::Protocol(err) => HyperSocketError::WebSocket(Arc::new(err)),
        // Neither prints nor returns another error: kept as they are.
        err @ (Error::WriteBufferFull(_) | Error::AttackAttempt) => {
            HyperSocketError::WebSocket(Arc::new(err))
        }
    }
}

/// Ours from tungstenite's, for an error met during the WebSocket
/// handshake: whatever is not a timeout, a socket or TLS failure, or a
/// configuration error is a failed handshake.
pub(crate) fn map_handshake_error(error: Error) -> HyperSocketError {
    match map_error(error) {
        // A garbled answer to the upgrade request, or a header that is not
        // text.
        HyperSocketError::WebSocket(source) | HyperSocketError::InvalidUtf8(source) => {
            HyperSocketError::handshake(source)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use tungstenite::error::{SubProtocolError, UrlError};
    use tungstenite::http;

    use super::*;

    /// The `Display` of `error` and of each error in its source chain.
    fn chain(error: &HyperSocketError) -> Vec<String> {
        let mut pieces = vec![error.to_string()];
        let mut next = error.source();
        while let Some(source) = next {
            pieces.push(source.to_string());
            next = source.source();
        }
        pieces
    }

    /// No piece of the chain contains another: nothing is said twice.
    #[track_caller]
    fn assert_says_each_part_once(pieces: &[String]) {
        for (i, a) in pieces.iter().enumerate() {
            for b in &pieces[i + 1..] {
                let (a, b) = (a.to_lowercase(), b.to_lowercase());
                assert!(
                    !a.contains(&b) && !b.contains(&a),
                    "{pieces:?} repeats itself"
                );
            }
        }
    }

    #[track_caller]
    fn check(error: Error, expected: &[&str]) -> HyperSocketError {
        let ours = map_error(error);
        let pieces = chain(&ours);
        assert_says_each_part_once(&pieces);
        assert_eq!(pieces, expected);
        ours
    }

    #[test]
    fn protocol_errors_keep_the_protocol_error_itself() {
        let ours = check(
            Error::Protocol(ProtocolError::NonZeroReservedBits),
            &["websocket protocol error", "Reserved bits are non-zero"],
        );
        let HyperSocketError::WebSocket(source) = ours else {
            panic!("expected a websocket error");
        };
        assert!(source.is::<ProtocolError>());

        check(
            Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(
                SubProtocolError::InvalidSubProtocol,
            )),
            &[
                "websocket protocol error",
                "SubProtocol error: Server sent an invalid subprotocol",
            ],
        );
    }

    #[test]
    fn httparse_errors_keep_the_httparse_error_itself() {
        let ours = check(
            Error::Protocol(ProtocolError::HttparseError(httparse::Error::Token)),
            &["websocket protocol error", "invalid token"],
        );
        let HyperSocketError::WebSocket(source) = ours else {
            panic!("expected a websocket error");
        };
        assert!(source.is::<httparse::Error>());
    }

    #[test]
    fn a_reset_is_a_lost_connection() {
        for error in [
            Error::ConnectionClosed,
            Error::AlreadyClosed,
            Error::Protocol(ProtocolError::ResetWithoutClosingHandshake),
        ] {
            check(error, &["connection closed unexpectedly"]);
        }
    }

    #[test]
    fn io_errors_keep_the_io_error_itself() {
        let ours = check(
            Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
            &["i/o error", "connection reset"],
        );
        assert!(matches!(ours, HyperSocketError::Io(_)));
    }

    #[test]
    fn tls_errors_inside_io_errors_keep_the_rustls_error() {
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        let ours = check(
            Error::Io(io),
            &["tls error", "cannot decrypt peer's message"],
        );
        assert!(matches!(ours, HyperSocketError::Tls(_)));
    }

    #[test]
    fn capacity_errors() {
        check(
            Error::Capacity(CapacityError::MessageTooLong {
                size: 10,
                max_size: 5,
            }),
            &["message too large: 10 bytes, limit 5"],
        );
        let ours = check(
            Error::Capacity(CapacityError::TooManyHeaders),
            &["handshake failed", "Too many headers"],
        );
        assert!(matches!(
            ours,
            HyperSocketError::Handshake { status: None, .. }
        ));
    }

    #[test]
    fn utf8_errors() {
        check(
            Error::Utf8("invalid utf-8 sequence of 1 bytes from index 0".to_owned()),
            &[
                "invalid utf-8 in text frame",
                "invalid utf-8 sequence of 1 bytes from index 0",
            ],
        );
    }

    #[test]
    fn http_errors_are_handshake_errors() {
        let mut response = http::Response::new(Some(b"busy".to_vec()));
        *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
        let ours = check(
            Error::Http(Box::new(response.clone())),
            &["handshake failed with http status 503"],
        );
        assert_eq!(ours.retry_after(), None);
        response
            .headers_mut()
            .insert("retry-after", http::HeaderValue::from_static("7"));
        let ours = check(
            Error::Http(Box::new(response)),
            &["handshake failed with http status 503, retry after 7s"],
        );
        assert_eq!(ours.retry_after(), Some(std::time::Duration::from_secs(7)));

        let format = http::Response::builder().status(1000).body(()).unwrap_err();
        let ours = check(
            Error::HttpFormat(format),
            &["handshake failed", "invalid status code"],
        );
        let HyperSocketError::Handshake {
            source: Some(source),
            ..
        } = ours
        else {
            panic!("expected a handshake error with a source");
        };
        assert!(source.is::<http::Error>());
    }

    #[test]
    fn url_errors_are_invalid_configuration() {
        let ours = check(
            Error::Url(UrlError::NoHostName),
            &["invalid configuration for `url`: No host name in the URL"],
        );
        assert!(!ours.is_retryable());
    }

    #[test]
    fn errors_without_a_source_are_kept_whole() {
        check(
            Error::WriteBufferFull(Box::new(tungstenite::Message::text("x"))),
            &["websocket protocol error", "Write buffer is full"],
        );
        check(
            Error::AttackAttempt,
            &["websocket protocol error", "Attack attempt detected"],
        );
    }

    #[test]
    fn handshake_errors_wrap_protocol_and_utf8_failures() {
        let ours = map_handshake_error(Error::Protocol(
            ProtocolError::SecWebSocketAcceptKeyMismatch,
        ));
        let pieces = chain(&ours);
        assert_says_each_part_once(&pieces);
        assert_eq!(
            pieces,
            [
                "handshake failed",
                "Key mismatch in \"Sec-WebSocket-Accept\" header"
            ]
        );

        let ours = map_handshake_error(Error::Utf8("failed to convert a header".to_owned()));
        assert_eq!(
            chain(&ours),
            ["handshake failed", "failed to convert a header"]
        );

        let ours = map_handshake_error(Error::Io(std::io::Error::from(
            std::io::ErrorKind::UnexpectedEof,
        )));
        assert!(matches!(ours, HyperSocketError::Io(_)));
    }
}
