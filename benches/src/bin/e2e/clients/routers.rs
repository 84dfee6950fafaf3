//! The three routers of the HyperSockets clients, from the seed's shape to
//! every speed option. All route by message kind (four lanes).

use hypersockets::{MessageRouter, ParseError, WsMessage, peek_json_str};

use crate::alloc_count::user_scope;
use crate::concrete::FastEvent;
use crate::feed::Kind;
use crate::tagged::Event;

fn text(message: &WsMessage) -> Result<&str, ParseError> {
    message
        .as_text()
        .ok_or_else(|| ParseError::new("expected a text message"))
}

/// The kind, peeked from the raw text with the library's `peek_json_str`
/// (the scan stops at `"e"`, the first key): the `classify` the library's
/// docs recommend.
#[inline]
fn peek_kind(message: &WsMessage) -> Option<Kind> {
    Kind::from_tag(peek_json_str(message.as_text()?, &["e"])?)
}

/// The user's tagged parse, its allocations counted as the user's.
#[inline]
fn parse_tagged(message: &WsMessage) -> Result<Event, ParseError> {
    let text = text(message)?;
    user_scope(|| serde_json::from_str(text)).map_err(|e| ParseError::from_source("json", e))
}

/// The seed's shape: `parse` + `route_key` only, so the reader parses every
/// message and the lanes only run handlers.
#[derive(Debug)]
pub(crate) struct SeedRouter;

impl MessageRouter for SeedRouter {
    type Message = Event;
    type RouteKey = Kind;

    #[inline]
    fn parse(&self, message: &WsMessage) -> Result<Event, ParseError> {
        parse_tagged(message)
    }

    #[inline]
    fn route_key(&self, message: &Event) -> Kind {
        message.kind()
    }
}

/// Adds `classify`: the reader peeks the kind from the raw bytes and queues
/// the raw message; the same tagged parse runs in the lane
/// (`parse_classified` defaults to `parse`).
#[derive(Debug)]
pub(crate) struct ClassifiedRouter;

impl MessageRouter for ClassifiedRouter {
    type Message = Event;
    type RouteKey = Kind;

    #[inline]
    fn parse(&self, message: &WsMessage) -> Result<Event, ParseError> {
        parse_tagged(message)
    }

    #[inline]
    fn route_key(&self, message: &Event) -> Kind {
        message.kind()
    }

    #[inline]
    fn classify(&self, message: &WsMessage) -> Option<Kind> {
        peek_kind(message)
    }
}

/// Every speed option: `classify` peeks the kind, and `parse_classified`
/// parses straight into that kind's struct, borrowing strings from the
/// frame, in the lane.
#[derive(Debug)]
pub(crate) struct FastRouter;

impl MessageRouter for FastRouter {
    type Message = FastEvent;
    type RouteKey = Kind;

    /// Only for messages `classify` could not place (none in this feed).
    fn parse(&self, message: &WsMessage) -> Result<FastEvent, ParseError> {
        let kind = peek_kind(message).ok_or_else(|| ParseError::new("unknown kind"))?;
        self.parse_classified(&kind, message)
    }

    #[inline]
    fn route_key(&self, message: &FastEvent) -> Kind {
        message.kind()
    }

    #[inline]
    fn classify(&self, message: &WsMessage) -> Option<Kind> {
        peek_kind(message)
    }

    #[inline]
    fn parse_classified(&self, kind: &Kind, message: &WsMessage) -> Result<FastEvent, ParseError> {
        let text = text(message)?;
        user_scope(|| FastEvent::parse(*kind, text)).map_err(|e| ParseError::from_source("json", e))
    }
}
