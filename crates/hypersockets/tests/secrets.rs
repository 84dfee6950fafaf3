//! No secret reaches a log line (at any level), an error's Display or
//! Debug, an event, or a Debug print, through a whole session against the
//! mock exchange over a real socket: a listen key in the URL's path, query
//! and userinfo, an API key in a handshake header, a login message signed
//! with a secret, a dropped connection and a reconnect, a handshake
//! refused with 401, a connect that fails, and a URL without a host; and
//! through a real HTTP CONNECT proxy (tinyproxy) with the secret as its
//! password: a session with a reconnect, and the secret as a password the
//! proxy refuses.
//!
//! A payload that fails to parse is logged as an excerpt at DEBUG only
//! (a private channel's data): never at WARN or above.

mod support;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::{
    AuthProvider, AuthVerdict, BoxError, BoxFuture, ClientEvent, ConnectRequest, NeverReconnect,
    Proxy, StaticHeaders, WebSocketClient, WsMessage,
};
use hypersockets_testkit::{
    AuthConfig, ExchangeConfig, Fault, HandshakeResponse, MockExchange, Rate, StreamConfig,
};
use support::recorder::Recorder;
use support::{Collected, client_builder, wait_event, within};
use tracing::Level;

/// In the URL, the header and the login.
const SECRET: &str = "S3cretListenKey42";
/// In a payload that fails to parse.
const PAYLOAD_SECRET: &str = "PrivateBalance977";
const STREAM: &str = "btcusdt@trade";
const LOGIN_ID: &str = "login";

/// A Binance-style `session.logon` carrying the secret.
#[derive(Debug)]
struct Logon;

impl AuthProvider for Logon {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        let login = serde_json::json!({
            "method": "session.logon",
            "params": { "apiKey": SECRET, "signature": SECRET, "timestamp": 1 },
            "id": LOGIN_ID,
        });
        Box::pin(async move { Ok(vec![WsMessage::text(login.to_string())]) })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        match message.as_text() {
            Some(text) if text.contains(r#""id":"login""#) && text.contains(r#""status":200"#) => {
                AuthVerdict::Accepted
            }
            Some(text) if text.contains(r#""id":"login""#) => AuthVerdict::Rejected {
                reason: "refused".to_owned(),
                fatal: true,
            },
            _ => AuthVerdict::Unrelated,
        }
    }
}

/// `ws://trader:SECRET@host:port/ws/SECRET?listenKey=SECRET` for `base`
/// (`ws://host:port/...`).
fn secret_url(base: &str) -> String {
    let authority = base
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .unwrap();
    format!("ws://trader:{SECRET}@{authority}/ws/{SECRET}?listenKey={SECRET}")
}

/// Every event of `client`, gathered until it shuts down.
fn gather_events(client: &WebSocketClient) -> Arc<Mutex<Vec<String>>> {
    let gathered = Arc::new(Mutex::new(Vec::new()));
    let mut events = client.events();
    let into = Arc::clone(&gathered);
    tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            let shut_down = matches!(event, ClientEvent::ShutDown);
            into.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(format!("{event:?}"));
            if shut_down {
                break;
            }
        }
    });
    gathered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_a_log_an_error_or_an_event() {
    let recorder = Recorder::install();
    let exchange = MockExchange::start(
        ExchangeConfig::new()
            .auth(AuthConfig::new(SECRET, SECRET))
            .stream(StreamConfig::trades(STREAM).rate(Rate::Every(Duration::from_millis(2)))),
    )
    .await
    .unwrap();
    let control = exchange.control();
    let url = secret_url(&exchange.url());
    let mut shown = Vec::new();

    // A whole session: login, data, a payload that fails to parse, a drop
    // and a reconnect, a close.
    let (data, answers) = (Collected::default(), Collected::default());
    let client = client_builder(url.clone(), &[STREAM], &data, &answers)
        .headers(StaticHeaders::new([("X-MBX-APIKEY", SECRET)]))
        .auth(Logon)
        .build()
        .unwrap();
    let events = gather_events(&client);
    let mut watch = client.events();
    within("connect", client.connect()).await.unwrap();
    let handshake = &control.handshakes()[0];
    assert_eq!(
        handshake.header("x-mbx-apikey"),
        Some(SECRET),
        "sent as given"
    );
    data.wait_for(3).await;
    let first = control
        .wait_for_connections(1, support::WAIT)
        .await
        .unwrap();
    control
        .send(first, WsMessage::text(format!("not json {PAYLOAD_SECRET}")))
        .unwrap();
    // Checked again with every message handled (the feed goes on).
    data.wait_until("the parse failure counted", |_| {
        client.metrics().router.all_parse_errors() == 1
    })
    .await;
    control.inject(first, Fault::DropTcp).unwrap();
    wait_event(&mut watch, "reconnected", |e| {
        matches!(e, ClientEvent::Connected { reconnect: true })
    })
    .await;
    shown.push(format!("{client:?} {:?}", client.metrics()));
    within("close", client.close()).await.unwrap();

    // A handshake refused with 401: fatal, with the status.
    control.respond_next(1, HandshakeResponse::unauthorized());
    let refused = client_builder(url.clone(), &[STREAM], &data, &answers)
        .headers(StaticHeaders::new([("X-MBX-APIKEY", SECRET)]))
        .build()
        .unwrap();
    let refused_events = gather_events(&refused);
    let error = within("refused", refused.connect()).await.unwrap_err();
    shown.push(format!("{error} {error:?}"));

    // A connect that fails: nothing listens on the port any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nobody = secret_url(&format!("ws://{}/", closed.local_addr().unwrap()));
    drop(closed);
    let failed = client_builder(nobody, &[STREAM], &data, &answers)
        .reconnect(NeverReconnect)
        .build()
        .unwrap();
    let failed_events = gather_events(&failed);
    let error = within("failed", failed.connect()).await.unwrap_err();
    shown.push(format!("{error} {error:?} {failed:?}"));

    // A URL with no host after its userinfo: refused by `build`, without
    // the secret in the error.
    let no_host = client_builder(
        format!("ws://trader:{SECRET}@/ws?listenKey={SECRET}"),
        &[STREAM],
        &data,
        &answers,
    )
    .build()
    .unwrap_err();
    shown.push(format!("{no_host} {no_host:?}"));
    // Through a proxy whose password is the secret: a session with a
    // reconnect, then the secret as a password the proxy refuses.
    let mut proxied_events = Vec::new();
    if let Some(proxy) = support::proxies::tinyproxy(Some(("trader", SECRET))).await {
        let through = |password: &str| {
            Proxy::from_url(&format!(
                "http://trader:{password}@127.0.0.1:{}",
                proxy.port()
            ))
            .unwrap()
        };
        let proxied = client_builder(url.clone(), &[STREAM], &data, &answers)
            .headers(StaticHeaders::new([("X-MBX-APIKEY", SECRET)]))
            .proxy(through(SECRET))
            .build()
            .unwrap();
        proxied_events.push(gather_events(&proxied));
        let mut watch = proxied.events();
        let before = control.connection_count();
        within("proxied connect", proxied.connect()).await.unwrap();
        let id = control
            .wait_for_connections(before + 1, support::WAIT)
            .await
            .unwrap();
        control.inject(id, Fault::DropTcp).unwrap();
        wait_event(&mut watch, "reconnected through the proxy", |e| {
            matches!(e, ClientEvent::Connected { reconnect: true })
        })
        .await;
        shown.push(format!("{proxied:?} {:?}", proxied.metrics()));
        within("proxied close", proxied.close()).await.unwrap();

        let refused = client_builder(url.clone(), &[STREAM], &data, &answers)
            .proxy(
                Proxy::from_url(&format!(
                    "http://{SECRET}:{SECRET}@127.0.0.1:{}",
                    proxy.port()
                ))
                .unwrap(),
            )
            .build()
            .unwrap();
        proxied_events.push(gather_events(&refused));
        let error = within("proxy refused", refused.connect())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                hypersockets::HyperSocketError::Proxy { fatal: true, .. }
            ),
            "{error:?}"
        );
        shown.push(format!("{error} {error:?} {refused:?}"));
    }

    // And a transport request's Debug, through a proxy with credentials.
    let request = ConnectRequest::new(url)
        .header("X-MBX-APIKEY", SECRET)
        .proxy(Some(
            Proxy::from_url(&format!("socks5h://{SECRET}:{SECRET}@proxy.test:1080")).unwrap(),
        ));
    shown.push(format!("{request:?}"));

    exchange.shutdown().await;
    for gathered in [events, refused_events, failed_events]
        .into_iter()
        .chain(proxied_events)
    {
        shown.extend(gathered.lock().unwrap().iter().cloned());
    }
    let logged = recorder.logged();
    assert!(
        logged
            .iter()
            .any(|l| l.level == Level::WARN && l.fields.contains("parse failed")),
        "the parse failure is reported"
    );
    assert!(
        logged
            .iter()
            .any(|l| l.level == Level::DEBUG && l.fields.contains(PAYLOAD_SECRET)),
        "its payload is at DEBUG"
    );
    for logged in &logged {
        let line = format!("{logged:?}");
        assert!(!line.contains(SECRET), "a secret was logged: {line}");
        assert!(
            logged.level > Level::INFO || !line.contains(PAYLOAD_SECRET),
            "a payload was logged above DEBUG: {line}"
        );
    }
    assert!(shown.len() > 10, "{shown:#?}");
    for text in &shown {
        assert!(!text.contains(SECRET), "a secret was shown: {text}");
    }
}
