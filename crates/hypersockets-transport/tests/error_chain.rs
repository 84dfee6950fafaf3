//! Error chains of real failures through real sockets: the `Display` of the
//! error, then of each `source()`, as an error reporter prints them. Each
//! link says its own part once; none repeats another.

mod support;

use std::error::Error as _;
use std::future::Future;

use futures_util::StreamExt;
use hypersockets_core::{ConnectRequest, Connection, HyperSocketError, Transport, WsMessage};
use hypersockets_transport::TungsteniteTransport;
use tokio::time::timeout;

use support::{WAIT, eager_server, raw_http_server, raw_upgrade_server, refused_port};

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
async fn bounded<F: Future>(future: F) -> F::Output {
    timeout(WAIT, future).await.expect("timed out")
}

async fn connect(url: String) -> Result<Connection, HyperSocketError> {
    bounded(TungsteniteTransport::new().connect(ConnectRequest::new(url))).await
}

async fn connect_err(url: String) -> HyperSocketError {
    match connect(url).await {
        Ok(_) => panic!("connect succeeded where it should fail"),
        Err(err) => err,
    }
}

/// The first error the connection's stream yields.
async fn read_err(conn: &mut Connection) -> HyperSocketError {
    loop {
        match bounded(conn.stream.next()).await {
            Some(Err(err)) => return err,
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => {}
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

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

/// Checks that no piece of the chain contains another (ignoring case), and
/// that the chain reads `expected` (ignoring case); returns the chain.
#[track_caller]
fn assert_chain(error: &HyperSocketError, expected: &[&str]) -> Vec<String> {
    let pieces = chain(error);
    for (i, a) in pieces.iter().enumerate() {
        for b in &pieces[i + 1..] {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            assert!(
                !a.contains(&b) && !b.contains(&a),
                "{pieces:?} repeats itself"
            );
        }
    }
    let lower = |pieces: &[String]| pieces.iter().map(|p| p.to_lowercase()).collect::<Vec<_>>();
    let expected: Vec<String> = expected.iter().map(|p| (*p).to_owned()).collect();
    assert_eq!(lower(&pieces), lower(&expected), "{error:?}");
    pieces
}

/// What an error reporter prints: the chain joined with `": "`.
fn report(pieces: &[String]) -> String {
    pieces.join(": ").to_lowercase()
}

#[tokio::test]
async fn a_bad_sec_websocket_accept_is_said_once() {
    let server = raw_http_server(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXk=\r\n\r\n",
    )
    .await;
    let err = connect_err(server.url()).await;
    assert!(
        matches!(err, HyperSocketError::Handshake { status: None, .. }),
        "{err:?}"
    );
    let pieces = assert_chain(
        &err,
        &[
            "handshake failed",
            "key mismatch in \"Sec-WebSocket-Accept\" header",
        ],
    );
    assert_eq!(report(&pieces).matches("key mismatch").count(), 1);
}

#[tokio::test]
async fn a_frame_with_reserved_bits_set_is_said_once() {
    // FIN, RSV1 and the text opcode, with no extension negotiated.
    let frame = vec![0xc1, 0x02, b'h', b'i'];
    let server = raw_upgrade_server("\r\n", frame).await;
    let mut conn = connect(server.url()).await.expect("connect failed");
    let err = read_err(&mut conn).await;
    assert!(matches!(err, HyperSocketError::WebSocket(_)), "{err:?}");
    let pieces = assert_chain(
        &err,
        &["websocket protocol error", "reserved bits are non-zero"],
    );
    assert_eq!(report(&pieces).matches("reserved bits").count(), 1);
}

#[tokio::test]
async fn an_http_error_status_is_said_once() {
    let server = raw_http_server(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").await;
    let err = connect_err(server.url()).await;
    assert_chain(&err, &["handshake failed with http status 404"]);
}

#[tokio::test]
async fn garbage_instead_of_http_is_said_once() {
    let server = raw_http_server(b"HTTP/1.1 2x0 OK\r\n\r\n").await;
    let err = connect_err(server.url()).await;
    assert!(
        matches!(err, HyperSocketError::Handshake { status: None, .. }),
        "{err:?}"
    );
    let pieces = chain(&err);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert_chain(&err, &["handshake failed", &pieces[1]]);
    assert!(!pieces[1].to_lowercase().contains("httparse"), "{pieces:?}");
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_is_said_once() {
    let frame = vec![0x81, 0x02, 0xff, 0xfe];
    let server = raw_upgrade_server("\r\n", frame).await;
    let mut conn = connect(server.url()).await.expect("connect failed");
    let err = read_err(&mut conn).await;
    assert!(matches!(err, HyperSocketError::InvalidUtf8(_)), "{err:?}");
    let pieces = chain(&err);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert_chain(&err, &["invalid utf-8 in text frame", &pieces[1]]);
}

#[tokio::test]
async fn a_refused_connect_is_said_once() {
    let port = refused_port().await;
    let err = connect_err(format!("ws://127.0.0.1:{port}/ws")).await;
    assert!(matches!(err, HyperSocketError::Io(_)), "{err:?}");
    let pieces = chain(&err);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert_chain(&err, &["i/o error", &pieces[1]]);
}

#[tokio::test]
async fn tls_to_a_plain_server_is_said_once() {
    // A plain HTTP server answers the ClientHello with an HTTP error.
    let server = eager_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
    let err = connect_err(format!("wss://127.0.0.1:{}/ws", server.addr().port())).await;
    assert!(matches!(err, HyperSocketError::Tls(_)), "{err:?}");
    let pieces = chain(&err);
    assert_eq!(pieces.len(), 2, "{pieces:?}");
    assert_chain(&err, &["tls error", &pieces[1]]);
}
