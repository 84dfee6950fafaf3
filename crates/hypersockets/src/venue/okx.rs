//! OKX v5.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Venue, VenueLimits, find_str, first_number, json_str, max_number};
use crate::{Heartbeat, OkxAcks, Pacing, Rate};

/// OKX's requests: `{"id":"1","op":"subscribe","args":[{"channel":…,"instId":…},…]}`.
#[derive(Clone, Copy, Debug)]
struct OkxTopics;

impl TopicRequests for OkxTopics {
    fn max_topics(&self) -> usize {
        // The documentation caps the request's length, not its arguments.
        100
    }

    fn max_request_len(&self) -> Option<usize> {
        // "The total length of multiple channels cannot exceed 64 KB."
        Some(64 * 1024)
    }

    fn subscribe(&self, topics: &[&str], id: u64) -> WsMessage {
        request("subscribe", topics, id)
    }

    fn unsubscribe(&self, topics: &[&str], id: u64) -> Option<WsMessage> {
        Some(request("unsubscribe", topics, id))
    }
}

fn request(op: &str, topics: &[&str], id: u64) -> WsMessage {
    let args: Vec<String> = topics.iter().map(|topic| arg(topic)).collect();
    WsMessage::text(format!(
        r#"{{"id":"{id}","op":"{op}","args":[{}]}}"#,
        args.join(",")
    ))
}

/// `channel:instId` → `{"channel":…,"instId":…}`; `channel` → `{"channel":…}`.
fn arg(topic: &str) -> String {
    match topic.split_once(':') {
        Some((channel, inst)) => format!(
            r#"{{"channel":{},"instId":{}}}"#,
            json_str(channel),
            json_str(inst)
        ),
        None => format!(r#"{{"channel":{}}}"#, json_str(topic)),
    }
}

/// A push, `{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[…]}`;
/// answers (with an `"event"`) are not data.
fn topic_of(message: &WsMessage) -> Option<String> {
    let text = message.as_text()?;
    if text.contains(r#""event""#) {
        return None;
    }
    let channel = peek_json_str(text, &["arg", "channel"])?;
    Some(match peek_json_str(text, &["arg", "instId"]) {
        Some(inst) => format!("{channel}:{inst}"),
        None => channel.to_owned(),
    })
}

/// Trades by their largest `tradeId`, books by `seqId` after `prevSeqId`.
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_of, |text| {
        if let Some(id) = max_number(text, "tradeId") {
            return Some((id, None));
        }
        let seq = first_number(text, "seqId")?;
        Some((seq, first_number(text, "prevSeqId")))
    })
}

/// `{"event":"notice","code":"64008",…}`: the connection closes for a
/// service upgrade in about 60 seconds.
fn notice(message: &WsMessage) -> bool {
    // A substring search first: this runs on every message.
    message.as_text().is_some_and(|text| {
        text.contains("64008")
            && find_str(text, "event") == Some("notice")
            && find_str(text, "code") == Some("64008")
    })
}

impl Venue {
    /// OKX v5 public channels, `wss://ws.okx.com:8443/ws/v5/public` (use
    /// [`url`](Self::url) for `/business`, `/private` or the demo
    /// `wspap.okx.com`).
    ///
    /// Topics are `channel:instId` (`trades:BTC-USDT`,
    /// `books5:ETH-USDT-SWAP`) or a bare `channel`; arguments by
    /// `instType` or `instFamily` need a
    /// [`Subscription::new`](crate::Subscription::new) with your own
    /// request. Requests carry an `"id"`; each argument is answered on its
    /// own, errors by id ([`OkxAcks`]).
    ///
    /// From OKX's documentation ("WebSocket", "Connect", "Subscribe"):
    /// - a connection without any message for 30 s is closed; the client
    ///   should send `ping` and expect `pong`: a `ping` heartbeat every
    ///   20 s, its `pong` consumed, and the connection judged dead after
    ///   30 s of silence;
    /// - 480 subscribe, unsubscribe and login requests per hour per
    ///   connection (pacing); 3 new connections per second per IP;
    /// - a request's channels may total at most 64 KB; batches stop at 100
    ///   arguments (the documentation gives no count);
    /// - the documentation gives no cap on channels per connection and no
    ///   maximum connection age; before a service upgrade OKX sends the
    ///   notice `64008` about 30 s ahead and then closes.
    ///
    /// ```
    /// use hypersockets::{Venue, WsMessage};
    ///
    /// let request = Venue::okx().subscribe_request(&["trades:BTC-USDT", "status"], 7);
    /// assert_eq!(
    ///     request,
    ///     WsMessage::text(r#"{"id":"7","op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"status"}]}"#)
    /// );
    /// ```
    pub fn okx() -> Self {
        let mut venue = Venue::new(
            "okx",
            "wss://ws.okx.com:8443/ws/v5/public",
            OkxTopics,
            OkxAcks,
            topic_of,
            sequence_of,
        );
        venue.heartbeat = Some(Heartbeat::new(Duration::from_secs(20), "ping").reply("pong"));
        venue.liveness_timeout = Some(Duration::from_secs(30));
        venue.pacing = Pacing::default().requests(Some(Rate::new(480, Duration::from_secs(3600))));
        venue.limits = VenueLimits::default().connections(Some(Rate::per_second(3)));
        venue.notice = Some(notice);
        venue
    }
}
