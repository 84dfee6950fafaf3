//! A panic in user code run on the connection task never kills the client
//! silently: it is caught, counted and reported; the client goes on (ping
//! detector, router) or shuts down with a typed error (auth and header
//! providers, reconnection strategy). And if the connection task ever
//! ends abnormally, `connect` still returns.

mod event_log;
mod support;

use std::sync::OnceLock;
use std::time::Duration;

use hypersockets::{
    AuthProvider, AuthVerdict, BoxError, BoxFuture, ClientEvent, ConnectRequest, Connection,
    ConnectionState, HeaderProvider, HyperSocketError, MessageRouter, ParseError,
    PassivePingDetector, ReconnectionStrategy, Transport, WebSocketClient, WsMessage, handler_fn,
};
use hypersockets_testkit::{ExchangeConfig, MockExchange};
use support::recorder::Recorder;
use support::{Collected, WAIT, client_for, within};
use tracing::Level;

/// In every panic message: it must never reach an event, an error, or a
/// log line above DEBUG.
const SECRET: &str = "secret-listen-key";

/// Everything this binary's tests log (one global subscriber for all).
fn recorder() -> &'static Recorder {
    static RECORDER: OnceLock<Recorder> = OnceLock::new();
    RECORDER.get_or_init(Recorder::install)
}

/// No panic's text was logged at INFO or above.
fn secret_not_logged_above_debug() {
    for logged in recorder().logged() {
        let loud = matches!(logged.level, Level::ERROR | Level::WARN | Level::INFO);
        assert!(!(loud && logged.fields.contains(SECRET)), "{logged:?}");
    }
}

/// Panics on messages containing "boom"; no other message is a ping.
#[derive(Debug)]
struct BoomDetector;

impl PassivePingDetector for BoomDetector {
    fn detect(&self, message: &WsMessage) -> Option<WsMessage> {
        if message.as_text().is_some_and(|t| t.contains("boom")) {
            panic!("detector {SECRET}");
        }
        None
    }
}

/// Texts as they are; panics on "boom".
#[derive(Debug)]
struct BoomRouter;

impl MessageRouter for BoomRouter {
    type Message = String;
    type RouteKey = ();

    fn parse(&self, message: &WsMessage) -> Result<String, ParseError> {
        let text = message
            .as_text()
            .ok_or_else(|| ParseError::new("not text"))?;
        if text.contains("boom") {
            panic!("router {SECRET}");
        }
        Ok(text.to_owned())
    }

    fn route_key(&self, _: &String) {}
}

/// Panics in `login_messages`, or in `verdict` after sending a login.
struct BoomAuth {
    in_login: bool,
}

impl AuthProvider for BoomAuth {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        let in_login = self.in_login;
        Box::pin(async move {
            if in_login {
                panic!("login {SECRET}");
            }
            // Not a request the exchange knows: it answers with an error,
            // which goes to `verdict`.
            Ok(vec![WsMessage::text("hello")])
        })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, _: &WsMessage) -> AuthVerdict {
        panic!("verdict {SECRET}");
    }
}

struct BoomHeaders;

impl HeaderProvider for BoomHeaders {
    fn headers(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, BoxError>> {
        Box::pin(async { panic!("headers {SECRET}") })
    }
}

#[derive(Debug)]
struct BoomStrategy;

impl ReconnectionStrategy for BoomStrategy {
    fn delay(&self, _: u32) -> Option<Duration> {
        panic!("strategy {SECRET}");
    }
}

/// A transport whose connect panics: the panic escapes every callback
/// guard and ends the connection task.
#[derive(Debug)]
struct BoomTransport;

impl Transport for BoomTransport {
    fn connect(&self, _: ConnectRequest) -> BoxFuture<'static, hypersockets::Result<Connection>> {
        panic!("transport {SECRET}");
    }
}

async fn exchange() -> MockExchange {
    MockExchange::start(ExchangeConfig::new()).await.unwrap()
}

fn panicked_events(events: &[ClientEvent]) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::CallbackPanicked { callback } => Some(*callback),
            _ => None,
        })
        .collect()
}

/// `connect` fails with `Panicked { what }`, the events tell it once and
/// end with `ShutDown`, and no panic message leaks.
async fn shuts_down_for(client: &WebSocketClient, what: &'static str) {
    let mut events = client.events();
    let error = within("connect", client.connect()).await.unwrap_err();
    assert!(
        matches!(error, HyperSocketError::Panicked { what: w } if w == what),
        "{error:?}"
    );
    assert_eq!(error.to_string(), format!("{what} panicked"));
    let seen = event_log::events_until(&mut events, "shut down", |e| {
        matches!(e, ClientEvent::ShutDown)
    })
    .await;
    assert_eq!(panicked_events(&seen), [what]);
    assert!(!format!("{seen:?}{error:?}").contains(SECRET));
    assert_eq!(client.metrics().connection.callback_panics, 1);
    assert_eq!(client.state(), ConnectionState::ShuttingDown);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_ping_detector_counts_as_no_ping_and_the_client_goes_on() {
    recorder();
    let exchange = exchange().await;
    let control = exchange.control();
    let handled = Collected::default();
    let client = client_for(&exchange, &[], &Collected::default(), &handled)
        .ping_detector(BoomDetector)
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control
        .send(conn, WsMessage::text(r#"{"boom":1}"#))
        .unwrap();
    control
        .send(conn, WsMessage::text(r#"{"after":2}"#))
        .unwrap();
    handled.wait_for(2).await;
    assert_eq!(handled.texts(), [r#"{"boom":1}"#, r#"{"after":2}"#]);
    let seen = event_log::events_so_far(&mut events);
    assert_eq!(panicked_events(&seen), ["ping detector"]);
    assert!(!format!("{seen:?}").contains(SECRET));
    secret_not_logged_above_debug();
    assert_eq!(client.metrics().connection.callback_panics, 1);
    assert_eq!(client.state(), ConnectionState::Connected);
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_router_on_the_reader_counts_a_parse_failure_and_goes_on() {
    recorder();
    let exchange = exchange().await;
    let control = exchange.control();
    let handled = Collected::default();
    let collect = handled.clone();
    let client = WebSocketClient::builder()
        .url(exchange.url())
        .router(BoomRouter)
        .handler(
            (),
            handler_fn(move |text: String| {
                collect.push(text);
                Ok::<_, BoxError>(())
            }),
        )
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    control.send(conn, WsMessage::text("boom")).unwrap();
    control.send(conn, WsMessage::text("after")).unwrap();
    handled.wait_for(1).await;
    assert_eq!(handled.texts(), ["after"]);
    let seen = event_log::events_so_far(&mut events);
    assert_eq!(panicked_events(&seen), ["router"]);
    let metrics = client.metrics();
    assert_eq!(metrics.connection.callback_panics, 1);
    assert_eq!(metrics.router.all_parse_errors(), 1);
    assert_eq!(client.state(), ConnectionState::Connected);
    secret_not_logged_above_debug();
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_login_messages_shuts_the_client_down() {
    let exchange = exchange().await;
    let client = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .auth(BoomAuth { in_login: true })
        .build()
        .unwrap();
    shuts_down_for(&client, "auth provider").await;
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_auth_verdict_shuts_the_client_down() {
    let exchange = exchange().await;
    let client = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .auth(BoomAuth { in_login: false })
        .build()
        .unwrap();
    shuts_down_for(&client, "auth provider").await;
    // The verdict ran on the exchange's answer to the login.
    let conn = exchange.control().latest_connection().unwrap();
    assert_eq!(exchange.control().received_text(conn).unwrap()[0], "hello");
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_header_provider_shuts_the_client_down() {
    let exchange = exchange().await;
    let client = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .headers(BoomHeaders)
        .build()
        .unwrap();
    shuts_down_for(&client, "header provider").await;
    assert_eq!(exchange.control().attempts(), 0, "never connected");
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_reconnection_strategy_shuts_the_client_down() {
    let exchange = exchange().await;
    exchange.control().refuse_connections(1);
    let client = client_for(&exchange, &[], &Collected::default(), &Collected::default())
        .reconnect(BoomStrategy)
        .build()
        .unwrap();
    shuts_down_for(&client, "reconnection strategy").await;
    assert_eq!(exchange.control().refused(), 1);
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_task_that_ends_abnormally_still_ends_connect() {
    let client = WebSocketClient::builder()
        .url("ws://exchange.test/ws")
        .transport(BoomTransport)
        .router(BoomRouter)
        .build()
        .unwrap();
    let mut events = client.events();
    let error = within("connect", client.connect()).await.unwrap_err();
    assert!(
        matches!(
            error,
            HyperSocketError::Panicked {
                what: "connection task"
            }
        ),
        "{error:?}"
    );
    event_log::events_until(&mut events, "shut down", |e| {
        matches!(e, ClientEvent::ShutDown)
    })
    .await;
    assert_eq!(client.state(), ConnectionState::ShuttingDown);
    client.close().await.unwrap();
}
