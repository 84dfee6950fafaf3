//! Writing a venue's subscription requests for topics.

use crate::WsMessage;

/// A venue's subscription request format: the request that subscribes to
/// (or unsubscribes from) a batch of topics. With it, subscriptions can
/// be given as topics (`Subscription::topic("btcusdt@trade")`) and the
/// client writes the requests: a reconnect restores its topics in as few
/// requests as the venue allows, not one request per topic.
///
/// `id` is a number unique per connection for venues that match answers
/// to requests by an id; formats without ids ignore it.
///
/// ```
/// use hypersockets_core::{TopicRequests, WsMessage};
///
/// /// `sub a,b,c`, at most 50 topics per request.
/// struct Lines;
///
/// impl TopicRequests for Lines {
///     fn max_topics(&self) -> usize {
///         50
///     }
///
///     fn subscribe(&self, topics: &[&str], _id: u64) -> WsMessage {
///         WsMessage::text(format!("sub {}", topics.join(",")))
///     }
///
///     fn unsubscribe(&self, topics: &[&str], _id: u64) -> Option<WsMessage> {
///         Some(WsMessage::text(format!("unsub {}", topics.join(","))))
///     }
/// }
///
/// assert_eq!(Lines.subscribe(&["a", "b"], 1), WsMessage::text("sub a,b"));
/// ```
pub trait TopicRequests: Send + Sync + 'static {
    /// The most topics one request may carry (at least 1).
    fn max_topics(&self) -> usize;

    /// The most bytes one request may have, if the venue caps it (none by
    /// default). A batch is cut short before a request would exceed it.
    fn max_request_len(&self) -> Option<usize> {
        None
    }

    /// Whether `topic` may share a request with `first`, a batch's first
    /// topic: venues whose request names one channel for many symbols
    /// (Kraken, Coinbase, KuCoin) batch only topics of one channel.
    /// Default: any two may.
    fn batches_with(&self, first: &str, topic: &str) -> bool {
        let _ = (first, topic);
        true
    }

    /// The request subscribing to `topics` (one or more).
    fn subscribe(&self, topics: &[&str], id: u64) -> WsMessage;

    /// The request unsubscribing from `topics`; `None` if the venue has
    /// none (the topic then only stops being restored).
    fn unsubscribe(&self, topics: &[&str], id: u64) -> Option<WsMessage>;
}
