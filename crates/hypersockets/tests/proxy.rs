//! A client through real proxies (`tinyproxy` for HTTP CONNECT, `danted`
//! for SOCKS5; see the transport's `tests/support/proxies.rs`) to the mock
//! exchange over `wss://`: the feed is delivered, a dropped connection is
//! restored through the proxy; a proxy that is not there yet is retried
//! with backoff until it is; refused proxy credentials stop the client;
//! and `proxy_from_env` takes the proxy from the environment only when
//! asked, honouring `NO_PROXY`.

mod support;

use std::process::Command;
use std::time::Duration;

use hypersockets::{
    ClientEvent, DisconnectReason, FixedInterval, HyperSocketError, Proxy, TlsConfig,
    TungsteniteTransport,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use support::proxies::{self, ProxyProcess, free_port};
use support::{Collected, client_for, wait_event, within};

const STREAM: &str = "btcusdt@trade";

/// A `wss://` exchange sending trades every few milliseconds.
async fn exchange() -> MockExchange {
    MockExchange::start(
        ExchangeConfig::new()
            .tls(true)
            .stream(StreamConfig::trades(STREAM).rate(Rate::Every(Duration::from_millis(3)))),
    )
    .await
    .unwrap()
}

/// The transport trusting the exchange's CA.
fn trusting(exchange: &MockExchange) -> TungsteniteTransport {
    trusting_root(exchange.root_certificate_der().unwrap().to_vec())
}

/// The transport trusting `root` (DER).
fn trusting_root(root: Vec<u8>) -> TungsteniteTransport {
    TungsteniteTransport::new().tls(TlsConfig::with_root_certificates([root]).unwrap())
}

/// `scheme://[user:pass@]127.0.0.1:port`.
fn proxy_at(scheme: &str, port: u16, credentials: Option<(&str, &str)>) -> Proxy {
    let userinfo = credentials.map_or(String::new(), |(u, p)| format!("{u}:{p}@"));
    Proxy::from_url(&format!("{scheme}://{userinfo}127.0.0.1:{port}")).unwrap()
}

/// How many tunnels to `port` the proxy's log shows it opened.
fn tunnels_to(process: &ProxyProcess, port: u16) -> usize {
    process
        .log()
        .lines()
        .filter(|line| {
            // tinyproxy: `Request (file descriptor 4): CONNECT localhost:PORT HTTP/1.1`;
            // Dante: `pass(1): tcp/connect [: 127.0.0.1.A 127.0.0.1.B -> 127.0.0.1.C 127.0.0.1.PORT`.
            line.contains(&format!("CONNECT localhost:{port} "))
                || (line.contains("tcp/connect [") && line.ends_with(&format!(".{port}")))
        })
        .count()
}

/// A client through `proxy` gets the feed, and after the exchange drops
/// the connection, reconnects through the proxy and gets it again.
async fn feed_survives_a_drop_through(proxy: Proxy, process: &ProxyProcess) {
    let exchange = exchange().await;
    let control = exchange.control();
    let port = exchange.local_addr().port();
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[STREAM], &data, &answers)
        .transport(trusting(&exchange))
        .proxy(proxy.clone())
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect())
        .await
        .unwrap_or_else(|e| panic!("through {proxy}: {e:?}"));
    data.wait_for(5).await;
    let first = control
        .wait_for_connections(1, support::WAIT)
        .await
        .unwrap();
    control.inject(first, Fault::DropTcp).unwrap();
    wait_event(&mut events, "the reconnect", |e| {
        matches!(e, ClientEvent::Connected { reconnect: true })
    })
    .await;
    let before = data.len();
    data.wait_for(before + 5).await;
    assert_eq!(control.connection_count(), 2);
    assert_eq!(
        tunnels_to(process, port),
        2,
        "both connections went through {proxy}: {}",
        process.log()
    );
    within("close", client.close()).await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_survives_a_drop_through_an_http_connect_proxy_with_credentials() {
    let credentials = Some(("trader", "pr0xy-S3cret"));
    let Some(process) = proxies::tinyproxy(credentials).await else {
        return;
    };
    feed_survives_a_drop_through(proxy_at("http", process.port(), credentials), &process).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_survives_a_drop_through_a_socks5_proxy() {
    let Some(process) = proxies::danted(false).await else {
        return;
    };
    feed_survives_a_drop_through(proxy_at("socks5h", process.port(), None), &process).await;
    if let Some(credentials) = proxies::socks_user() {
        let Some(process) = proxies::danted(true).await else {
            return;
        };
        let proxy = proxy_at("socks5", process.port(), Some(credentials));
        feed_survives_a_drop_through(proxy, &process).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_backs_off_until_its_proxy_is_there() {
    let exchange = exchange().await;
    let port = free_port();
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[STREAM], &data, &answers)
        .transport(trusting(&exchange))
        .proxy(proxy_at("http", port, None))
        .reconnect(FixedInterval::new(Duration::from_millis(50)))
        .build()
        .unwrap();
    let mut events = client.events();
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    // Two failed attempts: the proxy is not there, and that is retried.
    for attempt in ["first", "second"] {
        let event = wait_event(&mut events, attempt, |e| {
            matches!(e, ClientEvent::Disconnected { .. })
        })
        .await;
        let ClientEvent::Disconnected {
            reason: DisconnectReason::Error(error),
        } = &event
        else {
            panic!("{event:?}");
        };
        assert!(
            matches!(
                **error,
                HyperSocketError::Proxy {
                    status: None,
                    fatal: false,
                    ..
                }
            ),
            "{error:?}"
        );
    }
    let Some(_process) = proxies::tinyproxy_on(port, None).await else {
        return;
    };
    within("connect", connecting).await.unwrap().unwrap();
    data.wait_for(3).await;
    within("close", client.close()).await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_proxy_credentials_stop_the_client() {
    let Some(process) = proxies::tinyproxy(Some(("trader", "right"))).await else {
        return;
    };
    let exchange = exchange().await;
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[STREAM], &data, &answers)
        .transport(trusting(&exchange))
        .proxy(proxy_at(
            "http",
            process.port(),
            Some(("trader", "WrongPass")),
        ))
        .build()
        .unwrap();
    let error = within("connect", client.connect()).await.unwrap_err();
    assert!(
        matches!(
            error,
            HyperSocketError::Proxy {
                status: Some(401 | 407),
                fatal: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(exchange.control().connection_count(), 0);
    assert!(!format!("{error} {error:?} {client:?}").contains("WrongPass"));
    exchange.shutdown().await;
}

// ---------------------------------------------------- the environment

/// Set in the child process that [`proxy_from_env_is_used_only_when_asked`]
/// starts: the exchange's URL and root certificate (hex).
const CHILD_URL: &str = "HYPERSOCKETS_PROXY_TEST_URL";
const CHILD_ROOT: &str = "HYPERSOCKETS_PROXY_TEST_ROOT";

/// Not a test of its own: run by [`proxy_from_env_is_used_only_when_asked`]
/// in a child process whose environment names the proxy (a test may not
/// change its own environment), it connects with `proxy_from_env` and
/// closes. Without the child's variables it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_connects_with_proxy_from_env() {
    let (Ok(url), Ok(root)) = (std::env::var(CHILD_URL), std::env::var(CHILD_ROOT)) else {
        return;
    };
    let root: Vec<u8> = (0..root.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&root[i..i + 2], 16).unwrap())
        .collect();
    let (data, answers) = (Collected::default(), Collected::default());
    let client = support::client_builder(url, &[STREAM], &data, &answers)
        .transport(trusting_root(root))
        .proxy_from_env()
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    data.wait_for(1).await;
    within("close", client.close()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_from_env_is_used_only_when_asked() {
    let Some(process) = proxies::tinyproxy(None).await else {
        return;
    };
    let exchange = exchange().await;
    let port = exchange.local_addr().port();
    let root: String = exchange
        .root_certificate_der()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let proxy_url = format!("http://127.0.0.1:{}", process.port());
    let child = |no_proxy: &str| {
        let output = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_connects_with_proxy_from_env",
                "--nocapture",
            ])
            .env(CHILD_URL, exchange.url())
            .env(CHILD_ROOT, &root)
            .env("HTTPS_PROXY", &proxy_url)
            .env("NO_PROXY", no_proxy)
            .env_remove("https_proxy")
            .env_remove("no_proxy")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "the child failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // HTTPS_PROXY applies to wss://: through the proxy.
    child("");
    assert_eq!(tunnels_to(&process, port), 1, "{}", process.log());
    // NO_PROXY names the exchange's host: directly.
    child("example.com,localhost");
    assert_eq!(exchange.control().connection_count(), 2);
    assert_eq!(tunnels_to(&process, port), 1, "{}", process.log());
    exchange.shutdown().await;
}
