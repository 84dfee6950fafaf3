//! Routing a venue's messages by topic.

use hypersockets_core::{MessageRouter, ParseError, WsMessage};

/// A router that passes each message on as it is, keyed by its topic as
/// the venue's profile reads it ([`Venue::topic_of`](crate::Venue::topic_of)):
/// one lane per topic, so each topic's messages stay in order and
/// different topics are handled in parallel. Messages that are no topic's
/// data (answers, pongs, statuses) get the key [`TopicRouter::CONTROL`].
/// Handlers are added per topic (`"btcusdt@trade".to_owned()`), the rest
/// go to the fallback.
///
/// To parse into your own types, write a router whose `classify` calls
/// `Venue::topic_of` (or reads the topic faster with
/// [`peek_json_str`](crate::peek_json_str)).
///
/// ```
/// use hypersockets::{MessageRouter, TopicRouter, Venue, WsMessage};
///
/// let router = Venue::okx().router();
/// let pong = WsMessage::text("pong");
/// assert_eq!(router.classify(&pong).as_deref(), Some(TopicRouter::CONTROL));
/// ```
#[derive(Clone, Copy)]
pub struct TopicRouter {
    topic_of: fn(&WsMessage) -> Option<String>,
}

impl std::fmt::Debug for TopicRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicRouter").finish_non_exhaustive()
    }
}

impl TopicRouter {
    /// The key of messages that are no topic's data: the empty string,
    /// which no venue's topic is.
    pub const CONTROL: &'static str = "";

    pub(crate) fn new(topic_of: fn(&WsMessage) -> Option<String>) -> Self {
        Self { topic_of }
    }

    fn key(&self, message: &WsMessage) -> String {
        (self.topic_of)(message).unwrap_or_default()
    }
}

impl MessageRouter for TopicRouter {
    type Message = WsMessage;
    type RouteKey = String;

    fn parse(&self, message: &WsMessage) -> Result<WsMessage, ParseError> {
        Ok(message.clone())
    }

    fn route_key(&self, message: &WsMessage) -> String {
        self.key(message)
    }

    fn classify(&self, message: &WsMessage) -> Option<String> {
        Some(self.key(message))
    }
}
