//! A tiny router shared by the compile-fail and compile-pass cases:
//! messages are `Tick`s, route keys are `Channel`s.

#![allow(dead_code)]

use hypersockets::{MessageRouter, ParseError, WsMessage};

/// The router's message type.
#[derive(Debug)]
pub struct Tick(pub String);

/// The router's route key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    Trades,
    Book,
}

/// Every text message is a `Tick` on `Channel::Trades`.
pub struct Ticks;

impl MessageRouter for Ticks {
    type Message = Tick;
    type RouteKey = Channel;

    fn parse(&self, message: &WsMessage) -> Result<Tick, ParseError> {
        message
            .as_text()
            .map(|text| Tick(text.to_owned()))
            .ok_or_else(|| ParseError::new("expected text"))
    }

    fn route_key(&self, _: &Tick) -> Channel {
        Channel::Trades
    }
}
