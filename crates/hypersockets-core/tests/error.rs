//! The shared error type: short lowercase messages, kept sources, and which
//! errors are worth a reconnect.

use std::error::Error as _;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{BoxError, ErrorSource, HyperSocketError, ParseError};

fn boxed(message: &str) -> ErrorSource {
    Arc::new(io::Error::other(message.to_owned()))
}

/// One value of every variant.
fn every_variant() -> Vec<HyperSocketError> {
    vec![
        HyperSocketError::WebSocket(boxed("bad frame")),
        HyperSocketError::from(io::Error::from(io::ErrorKind::ConnectionReset)),
        HyperSocketError::Tls(boxed("bad cert")),
        HyperSocketError::Handshake {
            status: Some(503),
            retry_after: None,
            source: None,
        },
        HyperSocketError::handshake(boxed("bad header")),
        HyperSocketError::Auth {
            reason: "bad key".into(),
            fatal: true,
        },
        HyperSocketError::Auth {
            reason: "clock skew".into(),
            fatal: false,
        },
        HyperSocketError::WriteQueueFull,
        HyperSocketError::ConnectionClosed,
        HyperSocketError::NotConnected,
        HyperSocketError::ShutDown,
        HyperSocketError::InvalidUtf8(boxed("invalid byte at 3")),
        HyperSocketError::InvalidCloseCode { code: 999 },
        HyperSocketError::MessageTooLarge {
            size: 2048,
            limit: 1024,
        },
        HyperSocketError::invalid_config("url", "missing host"),
        HyperSocketError::timeout("handshake", Duration::from_millis(200)),
        HyperSocketError::ReconnectExhausted { attempts: 3 },
    ]
}

#[test]
fn display_strings() {
    let shown: Vec<String> = every_variant().iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "websocket protocol error",
            "i/o error",
            "tls error",
            "handshake failed with http status 503",
            "handshake failed",
            "authentication failed: bad key",
            "authentication failed: clock skew",
            "write queue full",
            "connection closed unexpectedly",
            "not connected",
            "client is shut down",
            "invalid utf-8 in text frame",
            "server closed with invalid code 999; answered 1002",
            "message too large: 2048 bytes, limit 1024",
            "invalid configuration for `url`: missing host",
            "handshake timed out after 200ms",
            "gave up reconnecting after 3 attempts",
        ]
    );
}

#[test]
fn display_strings_are_short_lowercase_single_lines() {
    for err in every_variant() {
        let text = err.to_string();
        assert!(!text.is_empty());
        assert!(text.len() < 80, "{text}");
        assert!(!text.contains('\n'), "{text}");
        assert!(!text.ends_with('.'), "{text}");
        let first = text.chars().next().unwrap();
        assert!(!first.is_uppercase(), "{text}");
        // The source is never repeated in the message.
        if let Some(source) = err.source() {
            assert!(!text.contains(&source.to_string()), "{text}");
        }
    }
}

#[test]
fn constructors_fill_the_fields() {
    match HyperSocketError::invalid_config("heartbeat.timeout", String::from("zero")) {
        HyperSocketError::InvalidConfiguration { setting, reason } => {
            assert_eq!(setting, "heartbeat.timeout");
            assert_eq!(reason, "zero");
        }
        other => panic!("{other:?}"),
    }
    match HyperSocketError::timeout("connect", Duration::from_secs(5)) {
        HyperSocketError::Timeout { operation, after } => {
            assert_eq!(operation, "connect");
            assert_eq!(after, Duration::from_secs(5));
        }
        other => panic!("{other:?}"),
    }
}

fn source_text(err: &dyn std::error::Error) -> Option<String> {
    err.source().map(ToString::to_string)
}

#[test]
fn parse_error_keeps_its_source() {
    let plain = ParseError::new("not a trade");
    assert_eq!(plain.message(), "not a trade");
    assert!(plain.source().is_none());

    let with_source = ParseError::from_source("bad json", io::Error::other("eof"));
    assert_eq!(with_source.message(), "bad json");
    assert_eq!(with_source.to_string(), "parse error: bad json");
    assert_eq!(source_text(&with_source).as_deref(), Some("eof"));
    let io_source = with_source
        .source()
        .unwrap()
        .downcast_ref::<io::Error>()
        .expect("the source keeps its type");
    assert_eq!(io_source.kind(), io::ErrorKind::Other);

    // A string message works as a source too, and owned messages as the message.
    let from_str = ParseError::from_source(String::from("owned"), "field `p` missing");
    assert_eq!(source_text(&from_str).as_deref(), Some("field `p` missing"));
}

#[test]
fn handshake_keeps_its_source() {
    let err = HyperSocketError::handshake(boxed("bad header"));
    assert_eq!(source_text(&err).as_deref(), Some("bad header"));
    let err = HyperSocketError::Handshake {
        status: Some(401),
        retry_after: None,
        source: None,
    };
    assert!(err.source().is_none());
    assert_eq!(err.to_string(), "handshake failed with http status 401");
}

#[test]
fn websocket_and_other_wrappers_keep_their_source() {
    let err = HyperSocketError::WebSocket(boxed("reserved bits set"));
    assert_eq!(source_text(&err).as_deref(), Some("reserved bits set"));
    assert!(err.source().unwrap().downcast_ref::<io::Error>().is_some());

    for err in [
        HyperSocketError::Tls(boxed("inner")),
        HyperSocketError::InvalidUtf8(boxed("inner")),
    ] {
        assert_eq!(source_text(&err).as_deref(), Some("inner"), "{err:?}");
    }

    let err = HyperSocketError::from(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
    assert!(
        matches!(&err, HyperSocketError::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused)
    );
    assert_eq!(source_text(&err).as_deref(), Some("refused"));

    for err in [
        HyperSocketError::ConnectionClosed,
        HyperSocketError::NotConnected,
        HyperSocketError::ShutDown,
        HyperSocketError::WriteQueueFull,
        HyperSocketError::invalid_config("url", "x"),
    ] {
        assert!(err.source().is_none(), "{err:?}");
    }
}

#[test]
fn question_mark_converts_io_errors() {
    fn io_fails() -> hypersockets_core::Result<()> {
        Err(io::Error::other("x"))?;
        Ok(())
    }
    assert!(matches!(io_fails(), Err(HyperSocketError::Io(_))));
}

#[test]
fn clones_share_the_source() {
    let err = HyperSocketError::Tls(boxed("bad cert"));
    let copy = err.clone();
    assert_eq!(copy.to_string(), err.to_string());
    match (&err, &copy) {
        (HyperSocketError::Tls(a), HyperSocketError::Tls(b)) => assert!(Arc::ptr_eq(a, b)),
        other => panic!("{other:?}"),
    }
    let from_box: BoxError = "from a box".into();
    let err = HyperSocketError::WebSocket(ErrorSource::from(from_box));
    assert_eq!(source_text(&err.clone()).as_deref(), Some("from a box"));
}

#[test]
fn is_retryable_classification() {
    for err in every_variant() {
        let expected = !matches!(
            err,
            HyperSocketError::InvalidConfiguration { .. }
                | HyperSocketError::Auth { fatal: true, .. }
                | HyperSocketError::ShutDown
                | HyperSocketError::ReconnectExhausted { .. }
        );
        assert_eq!(err.is_retryable(), expected, "{err:?}");
    }
    // Spelled out for the cases that matter most.
    assert!(HyperSocketError::from(io::Error::from(io::ErrorKind::ConnectionReset)).is_retryable());
    assert!(HyperSocketError::timeout("handshake", Duration::from_secs(1)).is_retryable());
    assert!(HyperSocketError::ConnectionClosed.is_retryable());
    assert!(
        HyperSocketError::Handshake {
            status: Some(503),
            retry_after: None,
            source: None
        }
        .is_retryable()
    );
    assert!(
        HyperSocketError::Auth {
            reason: "rate limited".into(),
            fatal: false
        }
        .is_retryable()
    );
    assert!(
        !HyperSocketError::Auth {
            reason: "bad key".into(),
            fatal: true
        }
        .is_retryable()
    );
    assert!(!HyperSocketError::invalid_config("url", "x").is_retryable());
    assert!(!HyperSocketError::ShutDown.is_retryable());
    assert!(!HyperSocketError::ReconnectExhausted { attempts: 1 }.is_retryable());
}

fn refused(status: u16, retry_after: Option<Duration>) -> HyperSocketError {
    HyperSocketError::Handshake {
        status: Some(status),
        retry_after,
        source: None,
    }
}

#[test]
fn handshakes_refused_for_good_are_not_retried() {
    for status in [400, 401, 403, 404, 405, 410] {
        assert!(!refused(status, None).is_retryable(), "{status}");
    }
    for status in [408, 418, 429, 500, 502, 503, 504] {
        assert!(refused(status, None).is_retryable(), "{status}");
    }
    assert!(HyperSocketError::handshake(boxed("eof")).is_retryable());
}

#[test]
fn close_codes_answer_what_the_peer_broke() {
    let code = |error: HyperSocketError| error.close_code().map(u16::from);
    assert_eq!(code(HyperSocketError::WebSocket(boxed("rsv"))), Some(1002));
    assert_eq!(
        code(HyperSocketError::InvalidUtf8(boxed("0xff"))),
        Some(1007)
    );
    assert_eq!(
        code(HyperSocketError::MessageTooLarge { size: 2, limit: 1 }),
        Some(1009)
    );
    // Already answered (tungstenite replies 1002 itself), or nobody to tell.
    assert_eq!(code(HyperSocketError::InvalidCloseCode { code: 999 }), None);
    assert_eq!(code(HyperSocketError::ConnectionClosed), None);
    assert_eq!(
        code(HyperSocketError::from(io::Error::other("reset"))),
        None
    );
}

#[test]
fn retry_after_is_reported_and_shown() {
    let busy = refused(429, Some(Duration::from_secs(1)));
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(
        busy.to_string(),
        "handshake failed with http status 429, retry after 1s"
    );
    assert_eq!(refused(503, None).retry_after(), None);
    assert_eq!(HyperSocketError::ConnectionClosed.retry_after(), None);
}

#[test]
fn box_error_accepts_strings_and_errors() {
    let from_str: BoxError = "oops".into();
    assert_eq!(from_str.to_string(), "oops");
    let from_err: BoxError = Box::new(HyperSocketError::NotConnected);
    assert_eq!(from_err.to_string(), "not connected");
    assert!(from_err.downcast_ref::<HyperSocketError>().is_some());
}
