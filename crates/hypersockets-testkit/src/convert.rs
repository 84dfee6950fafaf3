//! Conversions between tungstenite's message type and ours. Private: no
//! tungstenite type crosses the crate boundary.

use bytes::Bytes;
use hypersockets_core::{CloseCode, CloseFrame, Utf8Bytes, WsMessage};
use tokio_tungstenite::tungstenite::protocol::CloseFrame as TCloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tokio_tungstenite::tungstenite::{self, Message};

/// Ours from tungstenite's; `None` for raw frames (never read) and for text
/// that is somehow not UTF-8.
pub(crate) fn from_tungstenite(message: Message) -> Option<WsMessage> {
    Some(match message {
        Message::Text(text) => WsMessage::Text(Utf8Bytes::try_from(Bytes::from(text)).ok()?),
        Message::Binary(data) => WsMessage::Binary(data),
        Message::Ping(data) => WsMessage::Ping(data),
        Message::Pong(data) => WsMessage::Pong(data),
        Message::Close(frame) => WsMessage::Close(frame.map(|frame| CloseFrame {
            code: CloseCode::from(u16::from(frame.code)),
            reason: Utf8Bytes::from(frame.reason.as_str()),
        })),
        Message::Frame(_) => return None,
    })
}

/// Tungstenite's from ours.
pub(crate) fn to_tungstenite(message: WsMessage) -> Message {
    match message {
        WsMessage::Text(text) => {
            let bytes = Bytes::from(text);
            match tungstenite::Utf8Bytes::try_from(bytes.clone()) {
                Ok(text) => Message::Text(text),
                // Unreachable: ours is UTF-8 by construction.
                Err(_) => Message::Binary(bytes),
            }
        }
        WsMessage::Binary(data) => Message::Binary(data),
        WsMessage::Ping(data) => Message::Ping(data),
        WsMessage::Pong(data) => Message::Pong(data),
        WsMessage::Close(frame) => Message::Close(frame.map(|frame| TCloseFrame {
            code: TCloseCode::from(frame.code.as_u16()),
            reason: tungstenite::Utf8Bytes::from(frame.reason.as_str()),
        })),
    }
}
