//! OKX v5.

use std::time::Duration;

use hypersockets_core::{StreamSequence, TopicRequests, WsMessage};
use hypersockets_router::peek_json_str;

use super::{Number, Venue, VenueLimits, find_str, first_number, json_str, max_number};
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
fn topic_parts(text: &str) -> Option<(&str, Option<&str>)> {
    if text.contains(r#""event""#) {
        return None;
    }
    let channel = peek_json_str(text, &["arg", "channel"])?;
    Some((channel, peek_json_str(text, &["arg", "instId"])))
}

fn topic_of(message: &WsMessage) -> Option<String> {
    super::topic(message, topic_parts)
}

/// Trades by their largest `tradeId`; order books (`books`,
/// `books-l2-tbt`, `books50-l2-tbt`, and `books5`, `bbo-tbt` without a
/// previous number) by `seqId`.
///
/// From OKX's documentation ("Order book channel", "Sequence ID"):
/// - a push with `"action":"snapshot"` (its `prevSeqId` is -1) starts the
///   book afresh: a reset;
/// - an `"action":"update"` follows the message whose `seqId` is its
///   `prevSeqId`;
/// - with no change to the book for a while, OKX sends an update with no
///   levels whose `seqId` is the last one's and `prevSeqId` equals
///   `seqId`: read as number == previous, it is no gap, and the tracker
///   drops it as a duplicate of the last message, which is harmless since
///   it changes nothing;
/// - after a maintenance the numbers may start again lower: an update
///   whose `seqId` is below its `prevSeqId`, the messages after it
///   numbered as usual. Read as a reset, or its stream would drop every
///   message as a duplicate until the numbers passed the old ones.
fn sequence_of(message: &WsMessage) -> Option<StreamSequence> {
    super::numbered(message, topic_parts, |text, _| {
        if let Some(id) = max_number(text, "tradeId") {
            return Some(Number::at(id));
        }
        let seq = first_number(text, "seqId")?;
        if find_str(text, "action") == Some("snapshot") {
            return Some(Number::at(seq).reset_if(true));
        }
        let previous = first_number(text, "prevSeqId");
        let restarted = previous.is_some_and(|previous| seq < previous);
        Some(Number::at(seq).after(previous).reset_if(restarted))
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

#[cfg(test)]
mod tests {
    use hypersockets_core::{Admitted, StreamId, StreamTracker};

    use super::*;
    use crate::venue::tests::place;

    /// A `books` push of OKX's documented shape.
    fn book(action: &str, prev: i64, seq: u64, asks: &str) -> WsMessage {
        WsMessage::text(format!(
            r#"{{"arg":{{"channel":"books","instId":"BTC-USDT"}},"action":"{action}","data":[{{"asks":{asks},"bids":[],"ts":"1597026383085","checksum":-855196043,"prevSeqId":{prev},"seqId":{seq}}}]}}"#
        ))
    }

    #[test]
    fn okx_snapshots_reset_and_updates_follow_their_prev_seq_id() {
        let okx = Venue::okx();
        let level = r#"[["8476.98","415","0","13"]]"#;
        let snapshot = okx
            .sequence_of(&book("snapshot", -1, 123_456, level))
            .unwrap();
        assert_eq!(snapshot.stream, StreamId::of(&["books:BTC-USDT"]));
        assert_eq!(place(snapshot), (123_456, None, true));
        let update = okx
            .sequence_of(&book("update", 123_456, 123_457, level))
            .unwrap();
        assert_eq!(place(update), (123_457, Some(123_456), false));
        // No change for a while: an empty update with prevSeqId == seqId.
        let unchanged = okx
            .sequence_of(&book("update", 123_457, 123_457, "[]"))
            .unwrap();
        assert_eq!(place(unchanged), (123_457, Some(123_457), false));
        // After a maintenance, seqId starts again below prevSeqId.
        let restarted = okx.sequence_of(&book("update", 123_457, 3, level)).unwrap();
        assert_eq!(place(restarted), (3, Some(123_457), true));
        let after = okx.sequence_of(&book("update", 3, 4, level)).unwrap();
        assert_eq!(place(after), (4, Some(3), false));

        // Through a stream's tracking: the unchanged push is dropped as a
        // duplicate, harmlessly, and nothing goes stale.
        let mut tracker = StreamTracker::new();
        for (at, delivered) in [
            (snapshot, true),
            (update, true),
            (unchanged, false),
            (restarted, true),
            (after, true),
        ] {
            match tracker.admit(at, ()) {
                Admitted::Deliver(()) => assert!(delivered, "{at:?}"),
                Admitted::Duplicate => assert!(!delivered, "{at:?}"),
                other => panic!("{at:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn okx_books_without_prev_seq_id_have_no_previous() {
        let books5 = WsMessage::text(
            r#"{"arg":{"channel":"books5","instId":"BTC-USDT"},"data":[{"asks":[],"bids":[],"instId":"BTC-USDT","ts":"1597026383085","seqId":123456}]}"#,
        );
        let at = Venue::okx().sequence_of(&books5).unwrap();
        assert_eq!(place(at), (123_456, None, false));
    }
}
