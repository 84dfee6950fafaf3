//! `TungsteniteTransport` through real proxies: Debian's `tinyproxy` (HTTP
//! CONNECT) and `danted` (SOCKS5), started per test on random free ports
//! (see `support/proxies.rs`; without the binaries the tests print why and
//! pass, except with `CI=true`). `ws://` and `wss://` (the mock exchange
//! with its own CA) through each, with and without credentials; wrong or
//! missing credentials (fatal); a proxy that refuses (retryable); a proxy
//! that accepts and never answers (the connect timeout).

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hypersockets_core::{ConnectRequest, HyperSocketError, Proxy, Transport, WsMessage};
use hypersockets_testkit::{ExchangeConfig, MockExchange};
use hypersockets_transport::rustls::pki_types::CertificateDer;
use hypersockets_transport::{TlsConfig, TungsteniteTransport};
use tokio::time::timeout;

use support::proxies::{self, ProxyProcess, RefusingPort};
use support::{WAIT, raw_http_server, refused_port, silent_server};

/// A mock exchange, over TLS when `tls`.
async fn exchange(tls: bool) -> MockExchange {
    MockExchange::start(ExchangeConfig::new().tls(tls))
        .await
        .unwrap()
}

/// The transport, trusting the exchange's CA when it has one.
fn transport_for(exchange: &MockExchange) -> TungsteniteTransport {
    match exchange.root_certificate_der() {
        Some(root) => TungsteniteTransport::new()
            .tls(TlsConfig::with_root_certificates([CertificateDer::from(root.to_vec())]).unwrap()),
        None => TungsteniteTransport::new(),
    }
}

/// `scheme://[user:pass@]127.0.0.1:port` for a running proxy.
fn proxy_url(scheme: &str, proxy: &ProxyProcess, credentials: Option<(&str, &str)>) -> Proxy {
    let userinfo = credentials.map_or(String::new(), |(u, p)| format!("{u}:{p}@"));
    Proxy::from_url(&format!("{scheme}://{userinfo}127.0.0.1:{}", proxy.port())).unwrap()
}

/// Connects to the exchange through `proxy`, sends a message each way,
/// and checks the proxy's log names the exchange's port (the tunnel did
/// go through it).
async fn round_trip(tls: bool, proxy: Proxy, process: &ProxyProcess) {
    let exchange = exchange(tls).await;
    let control = exchange.control();
    let url = exchange.url();
    assert_eq!(url.starts_with("wss://"), tls, "{url}");
    let request = ConnectRequest::new(url).proxy(Some(proxy.clone()));
    let mut connection = timeout(WAIT, transport_for(&exchange).connect(request))
        .await
        .expect("connect hung")
        .unwrap_or_else(|e| panic!("through {proxy}: {e:?}"));

    let id = control.wait_for_connections(1, WAIT).await.unwrap();
    let up = r#"{"method":"up through the proxy"}"#;
    connection.sink.send(WsMessage::text(up)).await.unwrap();
    control.wait_for_received(id, 1, WAIT).await.unwrap();
    assert_eq!(control.received_text(id).unwrap(), [up]);
    control
        .send(id, WsMessage::text("down through the proxy"))
        .unwrap();
    // The exchange may answer the message first (an unknown method).
    let down = timeout(WAIT, async {
        while let Some(message) = connection.stream.next().await {
            let message = message.unwrap();
            if message.as_text() == Some("down through the proxy") {
                return;
            }
        }
        panic!("the connection ended");
    });
    down.await.expect("no message came down");

    let port = exchange.local_addr().port();
    let log = process.log();
    assert!(
        log.contains(&format!(":{port}")) || log.contains(&format!(".{port}")),
        "the proxy did not carry the connection to port {port}: {log}"
    );
    drop(connection);
    exchange.shutdown().await;
}

/// Connects through `proxy` to a mock exchange; the error.
async fn connect_error(proxy: Proxy, connect_timeout: Duration) -> HyperSocketError {
    let exchange = exchange(false).await;
    let request = ConnectRequest::new(exchange.url())
        .proxy(Some(proxy))
        .connect_timeout(connect_timeout);
    let result = timeout(WAIT, TungsteniteTransport::new().connect(request))
        .await
        .expect("connect hung");
    let error = result.expect_err("connected through a proxy that should fail");
    assert_eq!(
        exchange.control().connection_count(),
        0,
        "the exchange saw a connection"
    );
    exchange.shutdown().await;
    error
}

// ------------------------------------------------------- HTTP CONNECT

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_wss_through_http_connect_with_and_without_credentials() {
    for credentials in [None, Some(("trader", "pr0xy-S3cret"))] {
        let Some(process) = proxies::tinyproxy(credentials).await else {
            return;
        };
        for tls in [false, true] {
            round_trip(tls, proxy_url("http", &process, credentials), &process).await;
        }
    }
}

/// Connects through `process` with credentials the proxy refuses (or
/// none where it wants some): a fatal proxy error, without the password.
async fn refused(
    scheme: &str,
    process: &ProxyProcess,
    credentials: Option<(&str, &str)>,
) -> HyperSocketError {
    let proxy = proxy_url(scheme, process, credentials);
    let error = connect_error(proxy, Duration::from_secs(5)).await;
    assert!(
        matches!(error, HyperSocketError::Proxy { fatal: true, .. }),
        "{credentials:?}: {error:?}"
    );
    assert!(!error.is_retryable());
    if let Some((_, password)) = credentials {
        assert!(!format!("{error} {error:?}").contains(password));
    }
    error
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_http_credentials_are_fatal_with_the_status() {
    let Some(process) = proxies::tinyproxy(Some(("trader", "right"))).await else {
        return;
    };
    // tinyproxy answers 407 to a CONNECT without credentials, and 401 to
    // one with wrong credentials.
    for (credentials, status) in [(Some(("trader", "wrong")), 401), (None, 407)] {
        let error = refused("http", &process, credentials).await;
        assert!(
            matches!(error, HyperSocketError::Proxy { status: Some(s), .. } if s == status),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!("proxy refused the tunnel with http status {status}")
        );
    }
}

// ------------------------------------------------------------- SOCKS5

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_wss_through_socks5_and_socks5h_without_credentials() {
    let Some(process) = proxies::danted(false).await else {
        return;
    };
    for scheme in ["socks5", "socks5h"] {
        for tls in [false, true] {
            round_trip(tls, proxy_url(scheme, &process, None), &process).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_and_wss_through_socks5_with_credentials() {
    let Some(credentials) = proxies::socks_user() else {
        return;
    };
    let Some(process) = proxies::danted(true).await else {
        return;
    };
    for (scheme, tls) in [("socks5h", false), ("socks5h", true), ("socks5", true)] {
        round_trip(
            tls,
            proxy_url(scheme, &process, Some(credentials)),
            &process,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_socks5_credentials_are_fatal() {
    // Dante checks them against the system's users: no user has this
    // password, whether or not the test user exists.
    let Some(process) = proxies::danted(true).await else {
        return;
    };
    for credentials in [Some((proxies::SOCKS_USER, "not-the-password")), None] {
        let error = refused("socks5h", &process, credentials).await;
        assert!(
            matches!(
                error,
                HyperSocketError::Proxy {
                    status: None,
                    source: Some(_),
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "proxy failed");
    }
}

// --------------------------------------------------- proxies that fail

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_refuses_is_a_retryable_proxy_error() {
    let refusing = RefusingPort::new();
    let port = refusing.port();
    for scheme in ["http", "socks5", "socks5h"] {
        let proxy = Proxy::from_url(&format!("{scheme}://user:pw@127.0.0.1:{port}")).unwrap();
        let error = connect_error(proxy, Duration::from_secs(5)).await;
        let HyperSocketError::Proxy {
            status: None,
            fatal: false,
            source: Some(source),
        } = &error
        else {
            panic!("{scheme}: {error:?}");
        };
        assert_eq!(
            source
                .downcast_ref::<std::io::Error>()
                .map(std::io::Error::kind),
            Some(std::io::ErrorKind::ConnectionRefused),
            "{scheme}: {error:?}"
        );
        assert!(error.is_retryable());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_never_answers_hits_the_connect_timeout() {
    let silent = silent_server().await;
    let limit = Duration::from_millis(300);
    for scheme in ["http", "socks5h"] {
        let proxy = Proxy::from_url(&format!("{scheme}://{}", silent.addr())).unwrap();
        let started = tokio::time::Instant::now();
        let error = connect_error(proxy, limit).await;
        assert!(
            matches!(
                error,
                HyperSocketError::Timeout {
                    operation: "connect",
                    after,
                } if after == limit
            ),
            "{scheme}: {error:?}"
        );
        assert!(started.elapsed() >= limit, "{:?}", started.elapsed());
        assert!(error.is_retryable());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_cannot_reach_the_exchange_is_retryable() {
    let (Some(http), Some(socks)) = (proxies::tinyproxy(None).await, proxies::danted(false).await)
    else {
        return;
    };
    let nobody = refused_port().await;
    for (scheme, process) in [("http", &http), ("socks5", &socks), ("socks5h", &socks)] {
        let request = ConnectRequest::new(format!("ws://127.0.0.1:{nobody}/ws"))
            .proxy(Some(proxy_url(scheme, process, None)));
        let error = timeout(WAIT, TungsteniteTransport::new().connect(request))
            .await
            .expect("connect hung")
            .expect_err("nothing listens there");
        // tinyproxy answers 5xx; Dante replies "connection refused".
        let HyperSocketError::Proxy {
            status,
            fatal: false,
            ..
        } = error
        else {
            panic!("{scheme}: {error:?}");
        };
        match scheme {
            "http" => assert!(matches!(status, Some(500..=599)), "{error:?}"),
            _ => assert_eq!(status, None),
        }
        assert!(error.is_retryable());
    }
}

/// Answers no real proxy gives, from a raw TCP server: over the 8 KiB
/// cap without ending, not HTTP, and bytes after a 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_answers_that_break_the_rules_are_retryable_proxy_errors() {
    let endless: &'static [u8] = format!("HTTP/1.1 200 OK\r\nX-Pad: {}", "a".repeat(16 << 10))
        .into_bytes()
        .leak();
    for answer in [
        endless,
        b"SSH-2.0-OpenSSH_9.2\r\n\r\n".as_slice(),
        b"HTTP/1.1 200 OK\r\n\r\nearly".as_slice(),
    ] {
        let server = raw_http_server(answer).await;
        let error = connect_error(
            Proxy::from_url(&format!("http://{}", server.addr())).unwrap(),
            Duration::from_secs(5),
        )
        .await;
        assert!(
            matches!(
                error,
                HyperSocketError::Proxy {
                    status: None,
                    fatal: false,
                    source: Some(_),
                }
            ),
            "{error:?}"
        );
    }
}
