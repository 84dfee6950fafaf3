//! Per-message context: the router's parse (on the reader or in the lane)
//! and the handler learn which connection each message came on and when
//! it was received, through reconnections.

mod support;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hypersockets::{
    BoxError, FixedInterval, MessageContext, MessageHandler, MessageRouter, ParseError,
    WebSocketClient, WsMessage, peek_json_str,
};
use hypersockets_testkit::{ExchangeConfig, Fault, MockExchange, Rate, StreamConfig};
use support::{WAIT, subscription};
use tokio::sync::Notify;

const STREAMS: [&str; 2] = ["btcusdt@trade", "ethusdt@trade"];

/// A message with what the parse learnt of its context.
#[derive(Debug)]
struct Stamped {
    stream: String,
    seq: u64,
    parsed_in: MessageContext,
}

/// Classifies by the stream name, so the parse runs in the lanes.
struct Router {
    classify: bool,
}

impl MessageRouter for Router {
    type Message = Stamped;
    type RouteKey = String;

    fn parse(&self, _: &WsMessage) -> Result<Stamped, ParseError> {
        Err(ParseError::new("the client parses in context"))
    }

    fn route_key(&self, message: &Stamped) -> String {
        message.stream.clone()
    }

    fn classify(&self, message: &WsMessage) -> Option<String> {
        if !self.classify {
            return None;
        }
        peek_json_str(message.as_text()?, &["stream"]).map(str::to_owned)
    }

    fn parse_in_context(
        &self,
        _key: Option<&String>,
        message: &WsMessage,
        context: &MessageContext,
    ) -> Result<Stamped, ParseError> {
        let text = message.as_text().ok_or_else(|| ParseError::new("binary"))?;
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ParseError::from_source("json", e))?;
        let stream = value["stream"]
            .as_str()
            .ok_or_else(|| ParseError::new("no stream"))?;
        Ok(Stamped {
            stream: stream.to_owned(),
            seq: value["seq"]
                .as_u64()
                .ok_or_else(|| ParseError::new("no seq"))?,
            parsed_in: *context,
        })
    }
}

/// (seq, context at parse, context at handle), per stream, in handling order.
type Seen = Arc<Mutex<Vec<(u64, MessageContext, MessageContext)>>>;

struct Recorder(Seen, Arc<Notify>);

impl MessageHandler<Stamped> for Recorder {
    async fn handle(&mut self, _: Stamped) -> Result<(), BoxError> {
        Err("the lane hands the context over".into())
    }

    async fn handle_in_context(
        &mut self,
        message: Stamped,
        context: MessageContext,
    ) -> Result<(), BoxError> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push((
            message.seq,
            message.parsed_in,
            context,
        ));
        self.1.notify_waiters();
        Ok(())
    }
}

async fn contexts_follow_connections(classify: bool) {
    let mut config = ExchangeConfig::new();
    for stream in STREAMS {
        config = config.stream(StreamConfig::trades(stream).rate(Rate::PerSecond(200)));
    }
    let exchange = MockExchange::start(config).await.unwrap();
    let control = exchange.control();
    let seen: Vec<Seen> = STREAMS.iter().map(|_| Seen::default()).collect();
    let handled = Arc::new(Notify::new());
    let mut builder = WebSocketClient::builder()
        .url(exchange.url())
        .router(Router { classify })
        .reconnect(FixedInterval::new(Duration::from_millis(20)));
    for (stream, seen) in STREAMS.iter().zip(&seen) {
        builder = builder
            .handler(
                (*stream).to_owned(),
                Recorder(Arc::clone(seen), Arc::clone(&handled)),
            )
            .subscribe(subscription(stream));
    }
    let before = Instant::now();
    let client = builder.build().unwrap();
    client.connect().await.unwrap();
    let count = |seen: &Seen, connection: u64| {
        seen.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, _, context)| context.connection == connection)
            .count()
    };
    let wait_for = |connection: u64| {
        let (seen, handled) = (&seen, &handled);
        async move {
            let wait = async {
                loop {
                    let notified = handled.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    if seen.iter().all(|s| count(s, connection) >= 5) {
                        return;
                    }
                    notified.await;
                }
            };
            tokio::time::timeout(WAIT, wait)
                .await
                .unwrap_or_else(|_| panic!("messages of connection {connection}"));
        }
    };
    wait_for(1).await;
    let first = control.latest_connection().unwrap();
    control.inject(first, Fault::DropTcp).unwrap();
    wait_for(2).await;
    client.close().await.unwrap();
    let after = Instant::now();

    for (stream, seen) in STREAMS.iter().zip(&seen) {
        let seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut previous: Option<(u64, MessageContext)> = None;
        for &(seq, parsed_in, handled_in) in seen.iter() {
            assert_eq!(
                parsed_in, handled_in,
                "{stream}: parse and handler see one context"
            );
            assert!(
                (1..=2).contains(&handled_in.connection),
                "{stream}: {handled_in:?}"
            );
            assert!(before <= handled_in.received_at && handled_in.received_at <= after);
            if let Some((last_seq, last)) = previous {
                // In socket order: connections never interleave, receive
                // instants never go back, and each connection numbers its
                // messages from 1 (the testkit's per-connection numbering).
                assert!(
                    handled_in.connection >= last.connection,
                    "{stream}: connections"
                );
                assert!(
                    handled_in.received_at >= last.received_at,
                    "{stream}: instants"
                );
                if handled_in.connection == last.connection {
                    assert_eq!(seq, last_seq + 1, "{stream}: order within a connection");
                } else {
                    assert_eq!(seq, 1, "{stream}: the new connection's first message");
                }
            }
            previous = Some((seq, handled_in));
        }
    }
}

#[tokio::test]
async fn contexts_follow_connections_with_the_parse_on_the_reader() {
    contexts_follow_connections(false).await;
}

#[tokio::test]
async fn contexts_follow_connections_with_the_parse_in_the_lanes() {
    contexts_follow_connections(true).await;
}
