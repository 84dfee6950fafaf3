//! Bybit v5 public streams.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Number, Venue, VenueLimits, find_str, first_number, json_list, max_number};
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
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    peek_json_str(text, &["topic"]).map(|topic| (topic, None))
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
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

/// Order books (`orderbook.{depth}.{symbol}`) by their update id `u`,
/// anything else (trades) by its largest cross sequence `seq`.
///
/// From Bybit's documentation ("Orderbook"):
/// - a `"type":"snapshot"` push replaces the local book: a reset (level 1
///   books of linear and inverse contracts send one again, with the same
///   `u`, after 3 s without change);
/// - a push with `"u":1`, snapshot or delta, follows a restart of the
///   service: overwrite the local book, a reset;
/// - the documentation does not say that `u` grows by one, so a delta has
///   no previous number (and no gap can be told).
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, topic| {
        if !topic.starts_with("orderbook.") {
            return max_number(text, "seq").map(Number::at);
        }
        let update = first_number(text, "u")?;
        let snapshot = find_str(text, "type") == Some("snapshot");
        Some(Number::at(update).reset_if(snapshot || update == 1))
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

#[cfg(test)]
mod tests {
    use hypersockets_core::StreamId;

    use super::*;
    use crate::venue::tests::place;

    /// An `orderbook.50.BTCUSDT` push of Bybit's documented shape.
    fn book(kind: &str, u: u64, seq: u64) -> WsMessage {
        WsMessage::text(format!(
            r#"{{"topic":"orderbook.50.BTCUSDT","type":"{kind}","ts":1672304484978,"data":{{"s":"BTCUSDT","b":[["16493.50","0.006"]],"a":[["16611.00","0.029"]],"u":{u},"seq":{seq}}},"cts":1672304484976}}"#
        ))
    }

    #[test]
    fn bybit_books_are_numbered_by_u_and_reset_by_snapshots_and_restarts() {
        let bybit = Venue::bybit_linear();
        let snapshot = bybit
            .sequence_of(&book("snapshot", 18_521_288, 7_961_638_724))
            .unwrap();
        assert_eq!(snapshot.stream, StreamId::of(&["orderbook.50.BTCUSDT"]));
        assert_eq!(place(snapshot), (18_521_288, None, true));
        // Bybit does not say `u` grows by one: no previous number.
        let delta = bybit
            .sequence_of(&book("delta", 18_521_289, 7_961_638_783))
            .unwrap();
        assert_eq!(place(delta), (18_521_289, None, false));
        // `u` of 1: the service restarted.
        for kind in ["delta", "snapshot"] {
            let restart = bybit.sequence_of(&book(kind, 1, 7_961_640_001)).unwrap();
            assert_eq!(place(restart), (1, None, true), "{kind}");
        }
    }

    #[test]
    fn bybit_trades_keep_their_seq_and_never_reset() {
        let trade = WsMessage::text(
            r#"{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023af","BT":false,"seq":1783284617},{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950-d8dd-5b31-9112-a178eb6023b0","BT":false,"seq":1783284618}]}"#,
        );
        let at = Venue::bybit_spot().sequence_of(&trade).unwrap();
        assert_eq!(at.stream, StreamId::of(&["publicTrade.BTCUSDT"]));
        assert_eq!(place(at), (1_783_284_618, None, false));
    }
}
