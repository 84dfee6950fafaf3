//! Bybit v5 public streams.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Venue, VenueLimits, json_list, max_number};
use crate::{BybitAcks, Heartbeat, Rate};

/// Bybit's requests: `{"req_id":"1","op":"subscribe","args":["publicTrade.BTCUSDT",…]}`.
#[derive(Clone, Copy, Debug)]
struct BybitTopics {
    /// Spot takes at most 10 arguments per request.
    max_topics: usize,
}

impl TopicRequests for BybitTopics {
    fn max_topics(&self) -> usize {
        self.max_topics
    }

    fn max_request_len(&self) -> Option<usize> {
        // "The args array cannot exceed 21,000 characters"; the rest of the
        // request is a few dozen more.
        Some(21_000)
    }

    fn subscribe(&self, topics: &[&str], id: u64) -> WsMessage {
        request("subscribe", topics, id)
    }

    fn unsubscribe(&self, topics: &[&str], id: u64) -> Option<WsMessage> {
        Some(request("unsubscribe", topics, id))
    }
}

fn request(op: &str, topics: &[&str], id: u64) -> WsMessage {
    WsMessage::text(format!(
        r#"{{"req_id":"{id}","op":"{op}","args":{}}}"#,
        json_list(topics)
    ))
}

/// A push, `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":…,"data":[…]}`.
fn topic_of(message: &WsMessage) -> Option<String> {
    peek_json_str(message.as_text()?, &["topic"]).map(str::to_owned)
}

fn bybit(name: &'static str, url: &str, max_topics: usize) -> Venue {
    let mut venue = Venue::new(
        name,
        url,
        BybitTopics { max_topics },
        BybitAcks,
        topic_of,
        sequence_of,
    );
    venue.heartbeat = Some(Heartbeat::new(
        Duration::from_secs(20),
        r#"{"req_id":"ping","op":"ping"}"#,
    ));
    venue.liveness_timeout = Some(Duration::from_secs(60));
    venue.limits =
        VenueLimits::default().connections(Some(Rate::new(500, Duration::from_secs(300))));
    venue
}

/// Bybit's per-symbol cross sequence `seq` (trades and order books).
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_of, |text| {
        max_number(text, "seq").map(|n| (n, None))
    })
}

impl Venue {
    /// Bybit v5 spot public streams, `wss://stream.bybit.com/v5/public/spot`.
    ///
    /// Topics are Bybit's (`publicTrade.BTCUSDT`, `orderbook.50.BTCUSDT`,
    /// `tickers.ETHUSDT`). Requests carry a `req_id`, answered once for
    /// the whole request ([`BybitAcks`]).
    ///
    /// From Bybit's documentation ("WebSocket Connect"):
    /// - send `{"op":"ping"}` every 20 s to keep the connection: a
    ///   heartbeat (its answer, which carries the connection id, is not a
    ///   fixed message and goes to the router as a control message); dead
    ///   after 60 s of silence;
    /// - spot takes at most 10 arguments per request, and the arguments of
    ///   one request may total at most 21,000 characters;
    /// - at most 500 new connections per 5 minutes per IP;
    /// - the documentation gives no message rate, no cap on topics per
    ///   connection and no maximum connection age.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let request = Venue::bybit_spot().subscribe_request(&["publicTrade.BTCUSDT"], 1);
    /// assert_eq!(
    ///     request,
    ///     WsMessage::text(r#"{"req_id":"1","op":"subscribe","args":["publicTrade.BTCUSDT"]}"#)
    /// );
    /// ```
    pub fn bybit_spot() -> Self {
        bybit("bybit-spot", "wss://stream.bybit.com/v5/public/spot", 10)
    }

    /// Bybit v5 USDT and USDC perpetual and futures public streams,
    /// `wss://stream.bybit.com/v5/public/linear`: as
    /// [`bybit_spot`](Self::bybit_spot), but the documentation caps a
    /// request by its length only (batches stop at 100 topics).
    ///
    /// ```
    /// assert_eq!(hypersockets::Venue::bybit_linear().max_topics_per_request(), 100);
    /// ```
    pub fn bybit_linear() -> Self {
        bybit(
            "bybit-linear",
            "wss://stream.bybit.com/v5/public/linear",
            100,
        )
    }
}
