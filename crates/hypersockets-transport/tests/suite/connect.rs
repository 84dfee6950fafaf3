// `TransportUnderTest` against real local servers: echoes of every message
// kind, handshake headers, server closes, and every way a connect or a read
// can fail.


use std::future::Future;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hypersockets_core::{
    CloseCode, ConnectRequest, Connection, HyperSocketError, Transport, TransportLimits, WsMessage,
};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode as TCloseCode, Data, OpCode,
};

use support::{
    WAIT, echo_server, next_server_message, raw_http_server, raw_upgrade_server, refused_port,
    script_server, server_text_frame, silent_server,
};

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
async fn bounded<F: Future>(future: F) -> F::Output {
    timeout(WAIT, future).await.expect("timed out")
}

async fn connect(request: ConnectRequest) -> Result<Connection, HyperSocketError> {
    bounded(TransportUnderTest::new().connect(request)).await
}

async fn connect_ok(url: String) -> Connection {
    connect(ConnectRequest::new(url))
        .await
        .expect("connect failed")
}

async fn connect_err(request: ConnectRequest) -> HyperSocketError {
    match connect(request).await {
        Ok(_) => panic!("connect succeeded where it should fail"),
        Err(err) => err,
    }
}

/// The next item of the connection's stream, within [`WAIT`].
async fn next(conn: &mut Connection) -> Option<Result<WsMessage, HyperSocketError>> {
    bounded(conn.stream.next()).await
}

async fn next_ok(conn: &mut Connection) -> WsMessage {
    next(conn)
        .await
        .expect("the stream ended")
        .expect("the stream failed")
}

async fn send(conn: &mut Connection, message: WsMessage) {
    bounded(conn.sink.send(message)).await.expect("send failed");
}

// ------------------------------------------------------------------ echoes

#[tokio::test]
async fn text_is_echoed() {
    let server = echo_server().await;
    let mut conn = connect_ok(server.url()).await;
    for text in ["hello", "", "héllo 日本語 🦀", r#"{"e":"trade","p":"1.5"}"#] {
        send(&mut conn, WsMessage::text(text)).await;
        assert_eq!(next_ok(&mut conn).await, WsMessage::text(text));
    }
}

#[tokio::test]
async fn binary_is_echoed() {
    let server = echo_server().await;
    let mut conn = connect_ok(server.url()).await;
    let payloads = [
        vec![],
        vec![0u8, 1, 2, 255],
        vec![0xff, 0xfe],
        vec![7u8; 1 << 20],
    ];
    for payload in payloads {
        send(&mut conn, WsMessage::binary(payload.clone())).await;
        assert_eq!(next_ok(&mut conn).await, WsMessage::binary(payload));
    }
}

#[tokio::test]
async fn ping_is_answered_with_a_pong() {
    let server = echo_server().await;
    let mut conn = connect_ok(server.url()).await;
    send(&mut conn, WsMessage::ping(&b"1234"[..])).await;
    assert_eq!(next_ok(&mut conn).await, WsMessage::pong(&b"1234"[..]));
}

/// The transport rebuilds the WebSocket stream after the handshake (to get
/// a full-size read buffer); frames that came in the same segment as the
/// `101` response must survive that, in order, with either line ending the
/// HTTP parser accepts, small and large.
async fn frames_with_the_response_arrive(line_end: &'static str) {
    let big = "x".repeat(200_000);
    let mut after = Vec::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        let text = format!("{{\"seq\":{i}}}");
        after.extend_from_slice(&server_text_frame(&text));
        expected.push(text);
    }
    after.extend_from_slice(&server_text_frame(&big));
    expected.push(big);
    let server = raw_upgrade_server(line_end, after).await;
    let mut conn = connect_ok(server.url()).await;
    for text in &expected {
        assert_eq!(next_ok(&mut conn).await.as_text(), Some(text.as_str()));
    }
}

#[tokio::test]
async fn frames_sent_with_the_response_arrive_crlf() {
    frames_with_the_response_arrive("\r\n").await;
}

#[tokio::test]
async fn frames_sent_with_the_response_arrive_lf() {
    frames_with_the_response_arrive("\n").await;
}

#[tokio::test]
async fn many_messages_arrive_in_order() {
    let server = echo_server().await;
    let mut conn = connect_ok(server.url()).await;
    for i in 0..200 {
        bounded(conn.sink.feed(WsMessage::text(i.to_string())))
            .await
            .unwrap();
    }
    bounded(conn.sink.flush()).await.unwrap();
    for i in 0..200 {
        assert_eq!(
            next_ok(&mut conn).await.as_text(),
            Some(i.to_string().as_str())
        );
    }
}

#[tokio::test]
async fn server_ping_reaches_the_stream_and_is_answered() {
    let server = script_server(|mut ws| async move {
        ws.send(Message::Ping(b"hb".to_vec().into())).await.unwrap();
        // Tungstenite on the client answers by itself; echo the pong as text.
        while let Some(message) = next_server_message(&mut ws).await {
            if let Message::Pong(payload) = message {
                let text = format!("pong:{}", String::from_utf8_lossy(&payload));
                ws.send(Message::text(text)).await.unwrap();
            }
        }
    })
    .await;
    let mut conn = connect_ok(server.url()).await;
    assert_eq!(next_ok(&mut conn).await, WsMessage::ping(&b"hb"[..]));
    // Reading on drives the automatic pong out.
    assert_eq!(next_ok(&mut conn).await, WsMessage::text("pong:hb"));
}

// --------------------------------------------------------------- handshake

#[tokio::test]
async fn handshake_headers_reach_the_server() {
    let server = echo_server().await;
    let request = ConnectRequest::new(server.url())
        .header("X-Api-Key", "abc")
        .header("X-Repeated", "one")
        .header("X-Repeated", "two")
        .header("Authorization", "Bearer token-123");
    let mut conn = connect(request).await.expect("connect failed");
    // The echo proves the handshake is over, so the headers were recorded.
    send(&mut conn, WsMessage::text("x")).await;
    next_ok(&mut conn).await;

    let seen = server.seen_headers();
    assert_eq!(seen.len(), 1, "one handshake");
    let headers = &seen[0];
    let values = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(values("x-api-key"), ["abc"]);
    assert_eq!(values("x-repeated"), ["one", "two"]);
    assert_eq!(values("authorization"), ["Bearer token-123"]);
    assert_eq!(values("upgrade"), ["websocket"]);
}

#[tokio::test]
async fn handshake_without_extra_headers_works() {
    let server = echo_server().await;
    let _conn = connect_ok(server.url()).await;
    let seen = server.seen_headers();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].iter().all(|(name, _)| !name.starts_with("x-")));
}

#[tokio::test]
async fn each_connect_is_a_new_handshake() {
    let server = echo_server().await;
    let transport = TransportUnderTest::new();
    for key in ["first", "second"] {
        let request = ConnectRequest::new(server.url()).header("X-Key", key);
        let conn = bounded(transport.connect(request)).await.unwrap();
        drop(conn);
    }
    let seen = server.seen_headers();
    assert_eq!(seen.len(), 2);
    for (headers, key) in seen.iter().zip(["first", "second"]) {
        assert!(headers.contains(&("x-key".to_owned(), key.to_owned())));
    }
}

// ------------------------------------------------------------------ closes

#[tokio::test]
async fn server_close_arrives_as_a_close_frame_then_the_stream_ends() {
    let server = script_server(|mut ws| async move {
        ws.close(Some(TCloseFrame {
            code: TCloseCode::from(4001),
            reason: "kicked".into(),
        }))
        .await
        .unwrap();
        // Wait for the client's answering close.
        while next_server_message(&mut ws).await.is_some() {}
    })
    .await;
    let mut conn = connect_ok(server.url()).await;
    match next_ok(&mut conn).await {
        WsMessage::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::from(4001));
            assert_eq!(frame.reason, "kicked");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(
        next(&mut conn).await.is_none(),
        "the stream goes on after a close"
    );
    // And it stays ended.
    assert!(next(&mut conn).await.is_none());
}

#[tokio::test]
async fn server_close_without_a_code_arrives_as_close_none() {
    let server = script_server(|mut ws| async move {
        ws.close(None).await.unwrap();
        while next_server_message(&mut ws).await.is_some() {}
    })
    .await;
    let mut conn = connect_ok(server.url()).await;
    assert_eq!(next_ok(&mut conn).await, WsMessage::Close(None));
    assert!(next(&mut conn).await.is_none());
}

#[tokio::test]
async fn server_close_then_an_abrupt_drop_still_ends_the_stream_cleanly() {
    let server = script_server(|mut ws| async move {
        ws.send(Message::Close(None)).await.unwrap();
        // Gone without waiting for the answering close.
        drop(ws);
    })
    .await;
    let mut conn = connect_ok(server.url()).await;
    assert_eq!(next_ok(&mut conn).await, WsMessage::Close(None));
    // Whatever the socket does after the peer's close, no error surfaces.
    assert!(next(&mut conn).await.is_none());
    assert!(next(&mut conn).await.is_none());
}

#[tokio::test]
async fn server_dropping_the_socket_ends_the_stream_or_errors_without_panic() {
    let server = script_server(|ws| async move {
        drop(ws);
    })
    .await;
    let mut conn = connect_ok(server.url()).await;
    // No close frame: tungstenite reports a reset without closing handshake,
    // which is an error, or the stream simply ends. Either way it is over.
    match next(&mut conn).await {
        None => {}
        Some(Err(err)) => assert!(err.is_retryable(), "{err:?}"),
        Some(Ok(message)) => panic!("unexpected message {message:?}"),
    }
    assert!(next(&mut conn).await.is_none());
}

#[tokio::test]
async fn client_close_is_acknowledged_by_the_server() {
    let server = echo_server().await;
    let mut conn = connect_ok(server.url()).await;
    send(&mut conn, WsMessage::close(CloseCode::NORMAL, "bye")).await;
    // The server's answering close is yielded, then the stream ends.
    loop {
        match next(&mut conn).await {
            None => break,
            Some(Ok(WsMessage::Close(frame))) => {
                if let Some(frame) = frame {
                    assert_eq!(frame.code, CloseCode::NORMAL);
                }
            }
            Some(other) => panic!("unexpected {other:?}"),
        }
    }
    // Closing the sink after the close handshake is not an error.
    bounded(conn.sink.close()).await.unwrap();
}

// ------------------------------------------------------------------ errors

#[tokio::test]
async fn silent_server_gives_a_handshake_timeout() {
    let server = silent_server().await;
    let limit = Duration::from_millis(200);
    let err = connect_err(ConnectRequest::new(server.url()).handshake_timeout(limit)).await;
    match err {
        HyperSocketError::Timeout { operation, after } => {
            assert_eq!(operation, "handshake");
            assert_eq!(after, limit);
        }
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn refused_port_gives_an_io_error() {
    let port = refused_port().await;
    let err = connect_err(ConnectRequest::new(format!("ws://127.0.0.1:{port}/ws"))).await;
    match err {
        HyperSocketError::Io(io) => {
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected an i/o error, got {other:?}"),
    }
}

#[tokio::test]
async fn wrong_scheme_is_invalid_configuration() {
    for url in [
        "http://127.0.0.1:1/ws",
        "https://127.0.0.1:1/ws",
        "ftp://127.0.0.1:1/",
    ] {
        let err = connect_err(ConnectRequest::new(url)).await;
        assert!(
            matches!(
                err,
                HyperSocketError::InvalidConfiguration { setting: "url", .. }
            ),
            "{url}: {err:?}"
        );
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn wss_to_a_refused_port_gives_an_io_error() {
    // wss:// is attempted (no longer refused as unsupported): TCP fails first.
    let port = refused_port().await;
    let err = connect_err(ConnectRequest::new(format!("wss://127.0.0.1:{port}/ws"))).await;
    match err {
        HyperSocketError::Io(io) => {
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected an i/o error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_urls_are_invalid_configuration() {
    for url in ["", "not a url", "ws://", "ws:///path", "127.0.0.1:80"] {
        let err = connect_err(ConnectRequest::new(url)).await;
        assert!(
            matches!(
                err,
                HyperSocketError::InvalidConfiguration { setting: "url", .. }
            ),
            "{url:?}: {err:?}"
        );
    }
}

#[tokio::test]
async fn bad_header_names_and_values_are_invalid_configuration() {
    let server = echo_server().await;
    for (name, value) in [("bad name", "v"), ("", "v"), ("X-Ok", "line\nbreak")] {
        let err = connect_err(ConnectRequest::new(server.url()).header(name, value)).await;
        assert!(
            matches!(
                err,
                HyperSocketError::InvalidConfiguration {
                    setting: "headers",
                    ..
                }
            ),
            "{name:?}: {value:?}: {err:?}"
        );
    }
    assert!(server.seen_headers().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn http_503_gives_a_handshake_error_with_the_status() {
    let server =
        raw_http_server(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").await;
    let err = connect_err(ConnectRequest::new(server.url())).await;
    assert!(
        matches!(
            err,
            HyperSocketError::Handshake {
                status: Some(503),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.to_string(), "handshake failed with http status 503");
}

#[tokio::test]
async fn retry_after_in_seconds_reaches_the_error() {
    let server = raw_http_server(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let err = connect_err(ConnectRequest::new(server.url())).await;
    assert!(
        matches!(
            err,
            HyperSocketError::Handshake {
                status: Some(429),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn retry_after_as_a_date_reaches_the_error_as_a_wait() {
    // A date long past: no wait at all, but a Retry-After all the same.
    let server = raw_http_server(
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n",
    )
    .await;
    let err = connect_err(ConnectRequest::new(server.url())).await;
    assert_eq!(err.retry_after(), Some(Duration::ZERO), "{err:?}");
    // An unreadable one is none.
    let server =
        raw_http_server(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: soon\r\n\r\n").await;
    let err = connect_err(ConnectRequest::new(server.url())).await;
    assert_eq!(err.retry_after(), None, "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn refusals_the_same_request_would_get_again_are_not_retryable() {
    let refusals: [&'static [u8]; 3] = [
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    ];
    for response in refusals {
        let server = raw_http_server(response).await;
        let err = connect_err(ConnectRequest::new(server.url())).await;
        assert!(!err.is_retryable(), "{err:?}");
    }
}

#[tokio::test]
async fn garbage_instead_of_http_gives_a_handshake_error() {
    let server = raw_http_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n").await;
    let err = connect_err(ConnectRequest::new(server.url())).await;
    // Tungstenite reports an unparsable response as a protocol error; during
    // the handshake it is a failed handshake.
    assert!(
        matches!(err, HyperSocketError::Handshake { status: None, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn message_over_max_message_size_is_too_large() {
    let server = script_server(|mut ws| async move {
        let _ = ws.send(Message::text("x".repeat(4096))).await;
        while next_server_message(&mut ws).await.is_some() {}
    })
    .await;
    let limits = TransportLimits::default().max_message_size(1024);
    let mut conn = connect(ConnectRequest::new(server.url()).limits(limits))
        .await
        .unwrap();
    match next(&mut conn).await {
        Some(Err(HyperSocketError::MessageTooLarge { size, limit })) => {
            assert_eq!(limit, 1024);
            assert!(size > limit, "size {size}");
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert!(next(&mut conn).await.is_none(), "an error ends the stream");
}

#[tokio::test]
async fn frame_over_max_frame_size_is_too_large() {
    let server = script_server(|mut ws| async move {
        let _ = ws.send(Message::binary(vec![1u8; 4096])).await;
        while next_server_message(&mut ws).await.is_some() {}
    })
    .await;
    let limits = TransportLimits::default().max_frame_size(1024);
    let mut conn = connect(ConnectRequest::new(server.url()).limits(limits))
        .await
        .unwrap();
    match next(&mut conn).await {
        Some(Err(HyperSocketError::MessageTooLarge { size, limit })) => {
            assert_eq!(limit, 1024);
            assert!(size > limit, "size {size}");
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert!(next(&mut conn).await.is_none());
}

#[tokio::test]
async fn messages_within_the_limit_pass() {
    let server = echo_server().await;
    let limits = TransportLimits::default().max_message_size(1024);
    let mut conn = connect(ConnectRequest::new(server.url()).limits(limits))
        .await
        .unwrap();
    let text = "y".repeat(1024);
    send(&mut conn, WsMessage::text(text.as_str())).await;
    assert_eq!(next_ok(&mut conn).await.as_text(), Some(text.as_str()));
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_is_an_error() {
    let server = script_server(|mut ws| async move {
        // A raw frame is written as it is, without UTF-8 validation.
        let frame = Frame::message(vec![0xff, 0xfe], OpCode::Data(Data::Text), true);
        let _ = ws.send(Message::Frame(frame)).await;
        while next_server_message(&mut ws).await.is_some() {}
    })
    .await;
    let mut conn = connect_ok(server.url()).await;
    match next(&mut conn).await {
        Some(Err(HyperSocketError::InvalidUtf8(_))) => {}
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }
    assert!(next(&mut conn).await.is_none(), "an error ends the stream");
}

#[tokio::test]
async fn sending_after_the_peer_closed_fails_without_panic() {
    let server = script_server(|mut ws| async move {
        ws.close(None).await.unwrap();
        while next_server_message(&mut ws).await.is_some() {}
    })
    .await;
    let mut conn = connect_ok(server.url()).await;
    assert_eq!(next_ok(&mut conn).await, WsMessage::Close(None));
    assert!(next(&mut conn).await.is_none());
    let result = bounded(conn.sink.send(WsMessage::text("late"))).await;
    assert!(result.is_err(), "sending on a closed connection succeeded");
}
