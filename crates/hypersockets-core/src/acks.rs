//! Reading a venue's answers to subscription requests.

use crate::WsMessage;

/// What a message from the venue says about a subscription request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionAnswer {
    /// Not an answer to a subscription request (market data, say).
    Unrelated,
    /// The request with this key succeeded.
    Accepted {
        /// The key, as [`SubscriptionAcks::request_keys`] gave it.
        key: String,
    },
    /// One answer accepting the requests (or parts of requests) with these
    /// keys: a venue that answers with its whole subscription list
    /// (Coinbase). Keys no request waits for are ignored.
    AcceptedAll {
        /// The keys, as [`SubscriptionAcks::request_keys`] gave them.
        keys: Vec<String>,
    },
    /// The request with this key was refused.
    Rejected {
        /// The key, as [`SubscriptionAcks::request_keys`] gave it.
        key: String,
        /// Why, in the venue's words (code and message).
        reason: String,
    },
}

/// A venue's acknowledgement format: which keys its answers to a request
/// carry, and what an answer says. With it, each subscription is pending
/// until the venue answers, then active or rejected; a request without an
/// answer in time is sent again.
///
/// Answers are read only while a request waits for one, and are not
/// passed to the router.
///
/// ```
/// use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
///
/// /// Requests `sub <topic>`; answers `ok <topic>` or `refused <topic> <why>`.
/// struct TopicAcks;
///
/// impl SubscriptionAcks for TopicAcks {
///     fn request_keys(&self, request: &WsMessage) -> Vec<String> {
///         let topic = request.as_text().and_then(|t| t.strip_prefix("sub "));
///         topic.map(str::to_owned).into_iter().collect()
///     }
///
///     fn answer(&self, message: &WsMessage) -> SubscriptionAnswer {
///         let text = message.as_text().unwrap_or_default();
///         if let Some(topic) = text.strip_prefix("ok ") {
///             return SubscriptionAnswer::Accepted { key: topic.to_owned() };
///         }
///         match text.strip_prefix("refused ").and_then(|rest| rest.split_once(' ')) {
///             Some((topic, why)) => SubscriptionAnswer::Rejected {
///                 key: topic.to_owned(),
///                 reason: why.to_owned(),
///             },
///             None => SubscriptionAnswer::Unrelated,
///         }
///     }
/// }
///
/// let acks = TopicAcks;
/// assert_eq!(acks.request_keys(&WsMessage::text("sub trades")), ["trades"]);
/// assert_eq!(
///     acks.answer(&WsMessage::text("ok trades")),
///     SubscriptionAnswer::Accepted { key: "trades".into() }
/// );
/// assert_eq!(
///     acks.answer(&WsMessage::text("refused book no such book")),
///     SubscriptionAnswer::Rejected { key: "book".into(), reason: "no such book".into() }
/// );
/// ```
pub trait SubscriptionAcks: Send + Sync + 'static {
    /// The keys the venue's answers to `request` carry: the subscription
    /// is active once each is accepted, rejected when one is refused. None:
    /// no answer is expected, and the subscription is active once written.
    fn request_keys(&self, request: &WsMessage) -> Vec<String>;

    /// The key an answer about `request` as a whole carries, when the
    /// venue answers some things (errors, typically) by request id alone
    /// and the rest by [`request_keys`](SubscriptionAcks::request_keys).
    /// Such an answer applies to every subscription the request carries:
    /// accepted, all are; refused, a batch is split and each of its
    /// subscriptions asked for alone, to learn which the venue refuses.
    /// None by default.
    ///
    /// ```
    /// use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
    ///
    /// struct Silent;
    ///
    /// impl SubscriptionAcks for Silent {
    ///     fn request_keys(&self, _: &WsMessage) -> Vec<String> {
    ///         Vec::new()
    ///     }
    ///     fn answer(&self, _: &WsMessage) -> SubscriptionAnswer {
    ///         SubscriptionAnswer::Unrelated
    ///     }
    /// }
    ///
    /// assert_eq!(Silent.request_id(&WsMessage::text("sub trades")), None);
    /// ```
    fn request_id(&self, request: &WsMessage) -> Option<String> {
        let _ = request;
        None
    }

    /// What `message` says, if it answers a request.
    fn answer(&self, message: &WsMessage) -> SubscriptionAnswer;
}
