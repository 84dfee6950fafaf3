//! Subscriptions: what is re-sent on every connection.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hypersockets_core::WsMessage;

/// A subscription the client keeps alive: its message is sent on every
/// connection until it is removed with
/// [`WebSocketClient::unsubscribe`](crate::WebSocketClient::unsubscribe).
///
/// ```
/// use hypersockets::{Subscription, WsMessage};
///
/// let trades = Subscription::new(
///     "btcusdt@trade",
///     WsMessage::text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#),
/// )
/// .unsubscribe_message(WsMessage::text(
///     r#"{"method":"UNSUBSCRIBE","params":["btcusdt@trade"],"id":2}"#,
/// ));
/// assert_eq!(trades.id(), "btcusdt@trade");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    id: String,
    /// `None` for a topic: the venue's [`TopicRequests`] writes it.
    subscribe: Option<WsMessage>,
    unsubscribe: Option<WsMessage>,
}

impl Subscription {
    /// A subscription named `id` (any name unique per client), sent as `subscribe`.
    ///
    /// ```
    /// use hypersockets::{Subscription, WsMessage};
    ///
    /// let tickers = Subscription::new(
    ///     "tickers:BTC-USDT",
    ///     r#"{"op":"subscribe","args":[{"channel":"tickers","instId":"BTC-USDT"}]}"#,
    /// );
    /// assert_eq!(tickers.id(), "tickers:BTC-USDT");
    /// assert!(tickers.unsubscribe().is_none());
    /// ```
    pub fn new(id: impl Into<String>, subscribe: impl Into<WsMessage>) -> Self {
        Self {
            id: id.into(),
            subscribe: Some(subscribe.into()),
            unsubscribe: None,
        }
    }

    /// A subscription to the venue's topic `topic` (its id too), whose
    /// requests the client writes with the venue's format
    /// ([`Venue`](crate::Venue), or the builder's
    /// [`topic_requests`](crate::WebSocketClientBuilder::topic_requests)).
    /// Topics are restored in batches, as many per request as the venue
    /// takes; a client without a format refuses them.
    ///
    /// ```
    /// use hypersockets::Subscription;
    ///
    /// let trades = Subscription::topic("btcusdt@trade");
    /// assert_eq!(trades.id(), "btcusdt@trade");
    /// assert!(trades.is_topic());
    /// assert_eq!(trades.subscribe(), None);
    /// ```
    pub fn topic(topic: impl Into<String>) -> Self {
        Self {
            id: topic.into(),
            subscribe: None,
            unsubscribe: None,
        }
    }

    /// Whether it is a topic (its requests written by the venue's format).
    ///
    /// ```
    /// use hypersockets::Subscription;
    ///
    /// assert!(Subscription::topic("trades").is_topic());
    /// assert!(!Subscription::new("trades", "sub trades").is_topic());
    /// ```
    pub fn is_topic(&self) -> bool {
        self.subscribe.is_none()
    }

    /// The message sent when the subscription is removed while connected
    /// (default: none, or for a topic the venue's unsubscribe request;
    /// without either, removing it only stops it being restored).
    ///
    /// ```
    /// use hypersockets::{Subscription, WsMessage};
    ///
    /// let trades = Subscription::new("trades", r#"{"op":"subscribe","args":["trades"]}"#)
    ///     .unsubscribe_message(r#"{"op":"unsubscribe","args":["trades"]}"#);
    /// assert_eq!(
    ///     trades.unsubscribe(),
    ///     Some(&WsMessage::text(r#"{"op":"unsubscribe","args":["trades"]}"#))
    /// );
    /// ```
    pub fn unsubscribe_message(mut self, message: impl Into<WsMessage>) -> Self {
        self.unsubscribe = Some(message.into());
        self
    }

    /// Its name.
    ///
    /// ```
    /// use hypersockets::Subscription;
    ///
    /// let trades = Subscription::new("btcusdt@trade", "subscribe btcusdt@trade");
    /// assert_eq!(trades.id(), "btcusdt@trade");
    /// ```
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The message that subscribes; `None` for a topic, whose request the
    /// venue's format writes.
    ///
    /// ```
    /// use hypersockets::{Subscription, WsMessage};
    ///
    /// let trades = Subscription::new("trades", "subscribe trades");
    /// assert_eq!(trades.subscribe(), Some(&WsMessage::text("subscribe trades")));
    /// ```
    pub fn subscribe(&self) -> Option<&WsMessage> {
        self.subscribe.as_ref()
    }

    /// The message that unsubscribes, if any.
    ///
    /// ```
    /// use hypersockets::{Subscription, WsMessage};
    ///
    /// let trades = Subscription::new("trades", "subscribe trades");
    /// assert_eq!(trades.unsubscribe(), None);
    /// let trades = trades.unsubscribe_message("unsubscribe trades");
    /// assert_eq!(trades.unsubscribe(), Some(&WsMessage::text("unsubscribe trades")));
    /// ```
    pub fn unsubscribe(&self) -> Option<&WsMessage> {
        self.unsubscribe.as_ref()
    }
}

/// The active subscriptions: written by user calls, read by every
/// (re)connection. Behind a mutex because both sides touch it from
/// different tasks; it is never on the message path. (A sharded map here
/// cost every client ~5 KiB of empty shards.)
#[derive(Debug, Default)]
pub(crate) struct SubscriptionRegistry {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_id: HashMap<String, (u64, Subscription)>,
    next: u64,
}

impl SubscriptionRegistry {
    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Nothing panics while holding it; each change is one step.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds or replaces; returns whether it was new.
    pub(crate) fn insert(&self, subscription: Subscription) -> bool {
        let mut entries = self.lock();
        let order = entries.next;
        entries.next += 1;
        entries
            .by_id
            .insert(subscription.id.clone(), (order, subscription))
            .is_none()
    }

    /// Removes `subscription` if it is still the one registered under its
    /// id (not replaced since).
    pub(crate) fn remove_if_same(&self, subscription: &Subscription) {
        let mut entries = self.lock();
        if entries
            .by_id
            .get(subscription.id())
            .is_some_and(|(_, registered)| registered == subscription)
        {
            entries.by_id.remove(subscription.id());
        }
    }

    pub(crate) fn remove(&self, id: &str) -> Option<Subscription> {
        self.lock().by_id.remove(id).map(|(_, sub)| sub)
    }

    /// Every active subscription, in the order they were (last) added.
    pub(crate) fn snapshot(&self) -> Vec<Subscription> {
        let mut all: Vec<(u64, Subscription)> = self.lock().by_id.values().cloned().collect();
        all.sort_by_key(|(order, _)| *order);
        all.into_iter().map(|(_, sub)| sub).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// The subscription whose id names `stream` (its topic), if any.
    pub(crate) fn naming(&self, stream: hypersockets_core::StreamId) -> Option<Subscription> {
        self.lock()
            .by_id
            .values()
            .find(|(_, subscription)| {
                hypersockets_core::StreamId::of(&[subscription.id()]) == stream
            })
            .map(|(_, subscription)| subscription.clone())
    }
}
