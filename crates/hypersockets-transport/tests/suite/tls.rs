// `TransportUnderTest` over `wss://` against a local TLS WebSocket server
// whose certificate authority is generated at run time: the trusted-root
// options, certificate and name checks, and TLS inside the connect timeout.


use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hypersockets_core::{
    CloseCode, ConnectRequest, Connection, HyperSocketError, Transport, WsMessage,
};
use hypersockets_transport::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer,
};
use hypersockets_transport::rustls::{self, CertificateError};
use hypersockets_transport::TlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;

use support::{WAIT, eager_server, silent_server};

/// The server side of one TLS WebSocket connection.
type TlsSocket = WebSocketStream<tokio_rustls::server::TlsStream<TcpStream>>;

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
async fn bounded<F: Future>(future: F) -> F::Output {
    timeout(WAIT, future).await.expect("timed out")
}

// ---------------------------------------------------------------- the PKI

/// A certificate authority made at run time and a server certificate it
/// signed.
struct Pki {
    /// The authority's certificate: the root a client must trust.
    root: CertificateDer<'static>,
    /// A server configuration presenting the leaf (and the root).
    acceptor: TlsAcceptor,
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A fresh CA and a leaf certificate for `names` (DNS names or IP
/// addresses) signed by it.
fn pki(names: &[&str]) -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hypersockets-transport test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
    let mut leaf_params = CertificateParams::new(names).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "test server");
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().unwrap();
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    let config = rustls::ServerConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf_cert.der().clone(), ca_cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    Pki {
        root: ca_cert.der().clone(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    }
}

/// The usual test PKI: a leaf valid for `localhost` and `127.0.0.1`.
fn local_pki() -> Pki {
    pki(&["localhost", "127.0.0.1"])
}

/// A transport trusting exactly `pki`'s root.
fn trusting(pki: &Pki) -> TransportUnderTest {
    let tls = TlsConfig::with_root_certificates([pki.root.clone()]).unwrap();
    TransportUnderTest::new().tls(tls)
}

// -------------------------------------------------------------- the server

/// A TLS WebSocket server on `127.0.0.1:<random port>`; stopped when dropped.
struct TlsServer {
    addr: SocketAddr,
    headers: Arc<Mutex<Vec<(String, String)>>>,
    task: JoinHandle<()>,
}

impl TlsServer {
    fn url(&self, host: &str) -> String {
        format!("wss://{host}:{}/ws", self.addr.port())
    }

    /// The headers of the last handshake, lowercase names.
    fn last_headers(&self) -> Vec<(String, String)> {
        self.headers.lock().unwrap().clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `session` on every connection that completes TLS and the WebSocket
/// handshake. Failed handshakes (a client refusing the certificate) are
/// ignored.
async fn tls_server<F, Fut>(acceptor: TlsAcceptor, session: F) -> TlsServer
where
    F: Fn(TlsSocket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let headers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&headers);
    let session = Arc::new(session);
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen);
            let session = Arc::clone(&session);
            tokio::spawn(async move {
                let Ok(Ok(tls)) = timeout(WAIT, acceptor.accept(tcp)).await else {
                    return;
                };
                // The error type is tungstenite's `ErrorResponse`, not ours to shrink.
                #[allow(clippy::result_large_err)]
                let record = move |request: &Request, response: Response| {
                    *seen.lock().unwrap() = request
                        .headers()
                        .iter()
                        .map(|(name, value)| {
                            let value = value.to_str().unwrap_or("<not ascii>");
                            (name.as_str().to_owned(), value.to_owned())
                        })
                        .collect();
                    Ok(response)
                };
                if let Ok(Ok(ws)) =
                    timeout(WAIT, tokio_tungstenite::accept_hdr_async(tls, record)).await
                {
                    session(ws).await;
                }
            });
        }
    });
    TlsServer {
        addr,
        headers,
        task,
    }
}

/// Echoes text and binary messages until the client closes.
async fn echo(mut ws: TlsSocket) {
    while let Ok(Some(Ok(message))) = timeout(WAIT, ws.next()).await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

async fn tls_echo_server(pki: &Pki) -> TlsServer {
    tls_server(pki.acceptor.clone(), echo).await
}

// ----------------------------------------------------------------- client

async fn connect_with(
    transport: &TransportUnderTest,
    request: ConnectRequest,
) -> Result<Connection, HyperSocketError> {
    bounded(transport.connect(request)).await
}

async fn connect_err(
    transport: &TransportUnderTest,
    request: ConnectRequest,
) -> HyperSocketError {
    match connect_with(transport, request).await {
        Ok(_) => panic!("connect succeeded where it should fail"),
        Err(err) => err,
    }
}

async fn next_ok(conn: &mut Connection) -> WsMessage {
    bounded(conn.stream.next())
        .await
        .expect("the stream ended")
        .expect("the stream failed")
}

async fn send(conn: &mut Connection, message: WsMessage) {
    bounded(conn.sink.send(message)).await.expect("send failed");
}

/// Sends a text, a large binary and a ping, and checks the answers.
async fn exchange(conn: &mut Connection) {
    send(conn, WsMessage::text("héllo over tls")).await;
    assert_eq!(next_ok(conn).await, WsMessage::text("héllo over tls"));
    // Larger than a TLS record (16 KiB): split and reassembled.
    let big: Vec<u8> = (0..(1usize << 20)).map(|i| i as u8).collect();
    send(conn, WsMessage::binary(big.clone())).await;
    assert_eq!(next_ok(conn).await, WsMessage::binary(big));
    send(conn, WsMessage::ping(&b"tls-ping"[..])).await;
    assert_eq!(next_ok(conn).await, WsMessage::pong(&b"tls-ping"[..]));
}

/// The rustls error at the source of a [`HyperSocketError::Tls`].
fn rustls_source(err: &HyperSocketError) -> &rustls::Error {
    match err {
        HyperSocketError::Tls(source) => source
            .downcast_ref::<rustls::Error>()
            .unwrap_or_else(|| panic!("the source is not a rustls error: {source:?}")),
        other => panic!("expected a tls error, got {other:?}"),
    }
}

// ------------------------------------------------------------------ tests

#[tokio::test]
async fn wss_to_localhost_exchanges_messages() {
    let pki = local_pki();
    let server = tls_echo_server(&pki).await;
    let mut conn = connect_with(
        &trusting(&pki),
        ConnectRequest::new(server.url("localhost")),
    )
    .await
    .expect("connect failed");
    exchange(&mut conn).await;
}

#[tokio::test]
async fn wss_to_an_ip_address_exchanges_messages() {
    let pki = local_pki();
    let server = tls_echo_server(&pki).await;
    let mut conn = connect_with(
        &trusting(&pki),
        ConnectRequest::new(server.url("127.0.0.1")),
    )
    .await
    .expect("connect failed");
    exchange(&mut conn).await;
}

#[tokio::test]
async fn handshake_headers_reach_a_tls_server() {
    let pki = local_pki();
    let server = tls_echo_server(&pki).await;
    let request = ConnectRequest::new(server.url("localhost"))
        .header("X-Api-Key", "secret")
        .header("Authorization", "Bearer t");
    let mut conn = connect_with(&trusting(&pki), request).await.unwrap();
    // The echo proves the handshake is over, so the headers were recorded.
    send(&mut conn, WsMessage::text("x")).await;
    next_ok(&mut conn).await;
    let headers = server.last_headers();
    assert!(headers.contains(&("x-api-key".to_owned(), "secret".to_owned())));
    assert!(headers.contains(&("authorization".to_owned(), "Bearer t".to_owned())));
    let host = format!("localhost:{}", server.addr.port());
    assert!(headers.contains(&("host".to_owned(), host)), "{headers:?}");
}

#[tokio::test]
async fn a_custom_rustls_config_is_used() {
    let pki = local_pki();
    let server = tls_echo_server(&pki).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let transport = TransportUnderTest::new().tls(TlsConfig::custom(Arc::new(config)));
    let mut conn = connect_with(&transport, ConnectRequest::new(server.url("localhost")))
        .await
        .expect("connect failed");
    exchange(&mut conn).await;
}

#[tokio::test]
async fn roots_given_as_der_bytes_work() {
    let pki = local_pki();
    let server = tls_echo_server(&pki).await;
    let der: Vec<u8> = pki.root.as_ref().to_vec();
    let transport =
        TransportUnderTest::new().tls(TlsConfig::with_root_certificates([der]).unwrap());
    let mut conn = connect_with(&transport, ConnectRequest::new(server.url("127.0.0.1")))
        .await
        .unwrap();
    send(&mut conn, WsMessage::text("der")).await;
    assert_eq!(next_ok(&mut conn).await, WsMessage::text("der"));
}

#[tokio::test]
async fn default_webpki_roots_refuse_the_generated_ca() {
    let pki = local_pki();
    let server = tls_echo_server(&pki).await;
    let err = connect_err(
        &TransportUnderTest::new(),
        ConnectRequest::new(server.url("localhost")),
    )
    .await;
    assert!(
        matches!(
            rustls_source(&err),
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn native_roots_refuse_the_generated_ca() {
    let pki = local_pki();
    let server = tls_echo_server(&pki).await;
    match TlsConfig::native_roots() {
        Ok(tls) => {
            let transport = TransportUnderTest::new().tls(tls);
            let err = connect_err(&transport, ConnectRequest::new(server.url("localhost"))).await;
            assert!(
                matches!(
                    rustls_source(&err),
                    rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
                ),
                "{err:?}"
            );
        }
        // A machine without a certificate store: the error says so.
        Err(err) => assert!(matches!(err, HyperSocketError::Tls(_)), "{err:?}"),
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let pki = pki(&["exchange.test"]);
    let server = tls_echo_server(&pki).await;
    let transport = trusting(&pki);
    for host in ["localhost", "127.0.0.1"] {
        let err = connect_err(&transport, ConnectRequest::new(server.url(host))).await;
        assert!(
            matches!(
                rustls_source(&err),
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                )
            ),
            "{host}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_server_without_tls_is_a_tls_error() {
    // A plain HTTP server answers the ClientHello with an HTTP error.
    let server = eager_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
    let url = format!("wss://127.0.0.1:{}/ws", server.addr().port());
    let err = connect_err(&TransportUnderTest::new(), ConnectRequest::new(url)).await;
    rustls_source(&err);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn tls_handshake_counts_against_the_connect_timeout() {
    // TCP connects, then the server never answers the ClientHello.
    let server = silent_server().await;
    let limit = Duration::from_millis(200);
    let url = format!("wss://127.0.0.1:{}/ws", server.addr().port());
    let request = ConnectRequest::new(url)
        .connect_timeout(limit)
        .handshake_timeout(WAIT * 10);
    let err = connect_err(&TransportUnderTest::new(), request).await;
    match err {
        HyperSocketError::Timeout { operation, after } => {
            assert_eq!(operation, "connect");
            assert_eq!(after, limit);
        }
        other => panic!("expected a connect timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn server_close_over_tls_arrives_then_the_stream_ends() {
    let pki = local_pki();
    let server = tls_server(pki.acceptor.clone(), |mut ws| async move {
        ws.close(Some(TCloseFrame {
            code: 4002.into(),
            reason: "maintenance".into(),
        }))
        .await
        .unwrap();
        // Wait for the client's answering close.
        while let Ok(Some(Ok(_))) = timeout(WAIT, ws.next()).await {}
    })
    .await;
    let mut conn = connect_with(
        &trusting(&pki),
        ConnectRequest::new(server.url("localhost")),
    )
    .await
    .unwrap();
    match next_ok(&mut conn).await {
        WsMessage::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::from(4002));
            assert_eq!(frame.reason, "maintenance");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(bounded(conn.stream.next()).await.is_none());
}

#[tokio::test]
async fn server_text_reaches_a_tls_client_unprompted() {
    let pki = local_pki();
    let server = tls_server(pki.acceptor.clone(), |mut ws| async move {
        for i in 0..3 {
            ws.send(Message::text(format!("tick {i}"))).await.unwrap();
        }
        while let Ok(Some(Ok(_))) = timeout(WAIT, ws.next()).await {}
    })
    .await;
    let mut conn = connect_with(
        &trusting(&pki),
        ConnectRequest::new(server.url("localhost")),
    )
    .await
    .unwrap();
    for i in 0..3 {
        assert_eq!(
            next_ok(&mut conn).await,
            WsMessage::text(format!("tick {i}"))
        );
    }
    bounded(conn.sink.close()).await.unwrap();
}

#[test]
fn tls_config_debug_names_the_roots() {
    let pki = local_pki();
    let tls = TlsConfig::with_root_certificates([pki.root.clone()]).unwrap();
    let text = format!("{tls:?}");
    assert!(
        text.contains("certificates") && text.contains("count: 1"),
        "{text}"
    );
    // No roots given: the features decide, at connect.
    let transport = TransportUnderTest::new();
    assert!(transport.tls_config().is_none());
    let transport = transport.tls(TlsConfig::webpki_roots());
    assert!(format!("{transport:?}").contains("webpki"));
}
