//! Shared helpers: a router for the testkit's market data, handlers that
//! collect what they get, and waiting on events without sleeping.

#![allow(dead_code, unreachable_pub)]

pub mod hostile;
pub mod inflate;
/// The transport's tests' real proxies (tinyproxy, danted): one copy.
#[path = "../../../hypersockets-transport/tests/support/proxies.rs"]
pub mod proxies;
pub mod raw;
pub mod recorder;
pub mod server_pings;
pub mod venue_cases;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hypersockets::{
    BoxError, ClientEvent, EventStream, FixedInterval, HasUrl, MessageRouter, ParseError,
    StreamSequence, Subscription, WebSocketClient, WebSocketClientBuilder, WithRouter, WsMessage,
    handler_fn,
};
use hypersockets_testkit::MockExchange;
use tokio::sync::Notify;

/// Generous bound for anything a test waits for: only reached on failure.
pub const WAIT: Duration = Duration::from_secs(10);

/// Route key for messages that are not market data (answers, pongs, …).
pub const CONTROL: &str = "control";

/// A message from the testkit: its stream (none for non-data) and its text.
#[derive(Debug)]
pub struct Feed {
    pub stream: Option<String>,
    pub text: String,
    /// Its place in its stream, for a router that numbers what it parses
    /// (`FeedRouter` does not).
    pub at: Option<StreamSequence>,
}

/// Routes the testkit's `{"stream":…,"seq":…}` messages by stream name.
#[derive(Debug, Default)]
pub struct FeedRouter;

impl MessageRouter for FeedRouter {
    type Message = Feed;
    type RouteKey = String;

    fn parse(&self, message: &WsMessage) -> Result<Feed, ParseError> {
        let text = message
            .as_text()
            .ok_or_else(|| ParseError::new("expected a text message"))?;
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|error| ParseError::from_source("invalid json", error))?;
        let stream = value
            .get("stream")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        Ok(Feed {
            stream,
            text: text.to_owned(),
            at: None,
        })
    }

    fn route_key(&self, message: &Feed) -> String {
        message.stream.clone().unwrap_or_else(|| CONTROL.to_owned())
    }
}

/// Texts gathered by handlers, in the order they were handled, with a way
/// to wait for them.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    texts: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
}

impl Collected {
    pub fn push(&self, text: String) {
        self.texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(text);
        self.changed.notify_waiters();
    }

    pub fn texts(&self) -> Vec<String> {
        self.texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn len(&self) -> usize {
        self.texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Waits until `done` holds for the texts, or panics after `WAIT`.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[String]) -> bool) {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                if done(&self.texts.lock().unwrap_or_else(PoisonError::into_inner)) {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout(WAIT, wait).await.is_err() {
            panic!("timed out waiting for {what}; have {} texts", self.len());
        }
    }

    /// Waits for at least `count` texts.
    pub async fn wait_for(&self, count: usize) {
        self.wait_until(&format!("{count} texts"), |texts| texts.len() >= count)
            .await;
    }
}

/// A Binance-style subscription to `stream`.
pub fn subscription(stream: &str) -> Subscription {
    Subscription::new(
        stream,
        WsMessage::text(format!(
            r#"{{"method":"SUBSCRIBE","params":["{stream}"],"id":1}}"#
        )),
    )
    .unsubscribe_message(WsMessage::text(format!(
        r#"{{"method":"UNSUBSCRIBE","params":["{stream}"],"id":2}}"#
    )))
}

/// A client for `exchange` with a lane per stream collecting into `data`,
/// control messages collected into `control`, subscribed to `streams`, and
/// reconnecting quickly.
pub fn client_builder(
    url: String,
    streams: &[&str],
    data: &Collected,
    control: &Collected,
) -> WebSocketClientBuilder<HasUrl, WithRouter<FeedRouter>> {
    client_builder_with(FeedRouter, url, streams, data, control)
}

/// [`client_builder`] with another router of the testkit's messages.
pub fn client_builder_with<R: MessageRouter<Message = Feed, RouteKey = String>>(
    router: R,
    url: String,
    streams: &[&str],
    data: &Collected,
    control: &Collected,
) -> WebSocketClientBuilder<HasUrl, WithRouter<R>> {
    let mut builder = WebSocketClient::builder()
        .url(url)
        .router(router)
        .reconnect(FixedInterval::new(Duration::from_millis(20)))
        .close_timeout(Duration::from_millis(500));
    for stream in streams {
        let data = data.clone();
        builder = builder
            .handler(
                (*stream).to_owned(),
                handler_fn(move |feed: Feed| {
                    data.push(feed.text);
                    Ok::<_, BoxError>(())
                }),
            )
            .subscribe(subscription(stream));
    }
    let control = control.clone();
    builder.handler(
        CONTROL.to_owned(),
        handler_fn(move |feed: Feed| {
            control.push(feed.text);
            Ok::<_, BoxError>(())
        }),
    )
}

/// The same for a running exchange.
pub fn client_for(
    exchange: &MockExchange,
    streams: &[&str],
    data: &Collected,
    control: &Collected,
) -> WebSocketClientBuilder<HasUrl, WithRouter<FeedRouter>> {
    client_builder(exchange.url(), streams, data, control)
}

/// The next event matching `wanted`, skipping others; panics after `WAIT`.
pub async fn wait_event(
    events: &mut EventStream,
    what: &str,
    wanted: impl Fn(&ClientEvent) -> bool,
) -> ClientEvent {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(hypersockets::EventStreamError::Lagged(_)) => {}
                Err(error) => panic!("event stream ended waiting for {what}: {error}"),
            }
        }
    };
    match tokio::time::timeout(WAIT, wait).await {
        Ok(event) => event,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

/// The reason of the next `Disconnected` event; panics after `WAIT`.
pub async fn disconnect_reason(events: &mut EventStream) -> hypersockets::DisconnectReason {
    match wait_event(events, "the disconnect", |e| {
        matches!(e, ClientEvent::Disconnected { .. })
    })
    .await
    {
        ClientEvent::Disconnected { reason } => reason,
        _ => unreachable!("filtered above"),
    }
}

/// The error of the next `Disconnected` event; panics when its reason is
/// not an error, or after `WAIT`.
pub async fn disconnect_error(events: &mut EventStream) -> hypersockets::HyperSocketError {
    match disconnect_reason(events).await {
        hypersockets::DisconnectReason::Error(error) => (*error).clone(),
        other => panic!("expected a disconnect by error, got {other:?}"),
    }
}

/// Waits for a future with `WAIT` as the bound.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Whether an event is a successful connection.
pub fn is_connected(event: &ClientEvent) -> bool {
    matches!(event, ClientEvent::Connected { .. })
}

/// The testkit's book streams, numbered as Binance's diffs: a delta covers
/// `U..=u` (so the one before it ends at `U - 1`); a snapshot starts the
/// stream afresh at its `u`.
pub fn book_sequence(message: &WsMessage) -> Option<StreamSequence> {
    let text = message.as_text()?;
    let stream = hypersockets::StreamId::of(&[hypersockets::peek_json_str(text, &["stream"])?]);
    let data = serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("data")?
        .clone();
    let last = data["u"].as_u64()?;
    if data["type"] == "snapshot" {
        return Some(StreamSequence::new(stream, last).reset());
    }
    Some(StreamSequence::new(stream, last).previous(data["U"].as_u64()?.saturating_sub(1)))
}
