//! Helpers for the testkit's own tests: a plain tokio-tungstenite client
//! (over TCP or over a tokio-rustls stream) and bounded waits.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hypersockets_testkit::{ConnectionId, ExchangeConfig, MockExchange};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The bound on every wait: generous, but a hung test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// A plain client.
pub(crate) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A client over TLS.
pub(crate) type TlsClient = WebSocketStream<TlsStream<TcpStream>>;

/// Starts an exchange, panicking on failure.
pub(crate) async fn start(config: ExchangeConfig) -> MockExchange {
    MockExchange::start(config)
        .await
        .expect("the exchange starts")
}

/// Connects a plain client to `url`.
pub(crate) async fn connect(url: &str) -> Client {
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect took too long")
        .expect("connect failed");
    ws
}

/// Tries to connect; the error's text on failure.
pub(crate) async fn try_connect(url: &str) -> Result<Client, tungstenite::Error> {
    tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connect took too long")
        .map(|(ws, _)| ws)
}

/// A rustls client configuration that trusts `root_der` only (ring
/// provider).
pub(crate) fn tls_config(root_der: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(root_der.to_vec()))
        .expect("the root certificate parses");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Connects over TLS to the exchange as `server_name`, trusting
/// `config`'s roots, then runs the WebSocket handshake on `url`.
pub(crate) async fn try_connect_tls(
    exchange: &MockExchange,
    config: Arc<rustls::ClientConfig>,
    server_name: &'static str,
) -> Result<TlsClient, String> {
    let connect = async {
        let tcp = TcpStream::connect(exchange.local_addr())
            .await
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from(server_name).map_err(|e| e.to_string())?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tokio_tungstenite::client_async(exchange.url(), tls)
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| e.to_string())
    };
    tokio::time::timeout(WAIT, connect)
        .await
        .expect("tls connect took too long")
}

/// The next message of any kind, or `None` when the stream ended.
pub(crate) async fn next_message<S>(
    ws: &mut WebSocketStream<S>,
) -> Option<Result<Message, tungstenite::Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("the client waited too long for a message")
}

/// The next text message, skipping Pings and Pongs; panics on anything else.
pub(crate) async fn next_text<S>(ws: &mut WebSocketStream<S>) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match next_message(ws).await {
            Some(Ok(Message::Text(text))) => return text.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Sends a text message.
pub(crate) async fn send_text<S>(ws: &mut WebSocketStream<S>, text: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tokio::time::timeout(WAIT, ws.send(Message::text(text)))
        .await
        .expect("send took too long")
        .expect("send failed");
}

/// Subscribes Binance style and checks the acknowledgement.
pub(crate) async fn subscribe_binance<S>(ws: &mut WebSocketStream<S>, streams: &[&str], id: u64)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let params = serde_json::to_string(streams).unwrap();
    send_text(
        ws,
        &format!(r#"{{"method":"SUBSCRIBE","params":{params},"id":{id}}}"#),
    )
    .await;
    assert_eq!(
        next_text(ws).await,
        format!(r#"{{"result":null,"id":{id}}}"#)
    );
}

/// Starts an exchange, connects a client, subscribes it Binance style to
/// `streams` and reads `count` market data texts; returns them once the
/// server has recorded all of them as written.
pub(crate) async fn read_feed(
    config: ExchangeConfig,
    streams: &[&str],
    count: u64,
) -> (MockExchange, Client, ConnectionId, Vec<String>) {
    let exchange = start(config).await;
    let mut client = connect(&exchange.url()).await;
    subscribe_binance(&mut client, streams, 1).await;
    let mut texts = Vec::new();
    for _ in 0..count {
        texts.push(next_text(&mut client).await);
    }
    let control = exchange.control();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    let count = usize::try_from(count).unwrap();
    control.wait_for_sent(conn, count, WAIT).await.unwrap();
    (exchange, client, conn, texts)
}

/// How a client's stream ended.
#[derive(Debug)]
pub(crate) enum End {
    /// A Close frame arrived.
    Close(Option<CloseFrame>),
    /// The stream failed.
    Error(tungstenite::Error),
    /// The stream ended without a Close frame.
    Eof,
}

/// Reads until the stream ends; returns the text messages read and how it
/// ended. After a Close frame, keeps reading so the Close reply goes out.
pub(crate) async fn read_to_end<S>(ws: &mut WebSocketStream<S>) -> (Vec<String>, End)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut texts = Vec::new();
    loop {
        match next_message(ws).await {
            Some(Ok(Message::Text(text))) => texts.push(text.to_string()),
            Some(Ok(Message::Close(frame))) => {
                while let Some(Ok(_)) = next_message(ws).await {}
                return (texts, End::Close(frame));
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => return (texts, End::Error(error)),
            None => return (texts, End::Eof),
        }
    }
}

/// The `seq` field of a market data message.
pub(crate) fn seq_of(text: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(text).expect("json");
    value["seq"].as_u64().expect("a seq field")
}

/// The `stream` field of a market data message.
pub(crate) fn stream_of(text: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(text).expect("json");
    value["stream"].as_str().expect("a stream field").to_owned()
}
