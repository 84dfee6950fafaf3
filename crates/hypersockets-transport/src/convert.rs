//! Conversions between tungstenite's message type and ours.
//!
//! **For `hypersockets-testkit` only; no semver promise.** Hidden from the
//! documentation, and outside the API: it may change or go in any release.
//! It is public only so that the testkit's mock exchange, which speaks
//! tungstenite on the server side, converts messages with this one copy
//! rather than its own. Nothing else in this crate's API names a
//! tungstenite type.

use hypersockets_core::{CloseCode, CloseFrame, HyperSocketError, Utf8Bytes, WsMessage};
use tungstenite::protocol::CloseFrame as TCloseFrame;
use tungstenite::protocol::frame::coding::CloseCode as TCloseCode;
use tungstenite::{Bytes, Message};

/// Ours from tungstenite's. `None` for raw frames, which tungstenite never
/// yields when reading.
///
/// # Errors
///
/// [`HyperSocketError::InvalidUtf8`] when a text payload or a close reason
/// is not UTF-8.
///
/// Text is checked for UTF-8 again here: without `unsafe` there is no way to
/// take tungstenite's word for it. On ASCII JSON the check costs a few
/// nanoseconds per message (see the conversion bench).
#[inline]
pub fn from_tungstenite(message: Message) -> Result<Option<WsMessage>, HyperSocketError> {
    Ok(Some(match message {
        Message::Text(text) => WsMessage::Text(
            Utf8Bytes::try_from(Bytes::from(text))
                .map_err(|e| HyperSocketError::InvalidUtf8(std::sync::Arc::new(e)))?,
        ),
        Message::Binary(data) => WsMessage::Binary(data),
        Message::Ping(data) => WsMessage::Ping(data),
        Message::Pong(data) => WsMessage::Pong(data),
        Message::Close(frame) => WsMessage::Close(
            frame
                .map(|frame| {
                    Ok::<_, HyperSocketError>(CloseFrame {
                        code: CloseCode::from(u16::from(frame.code)),
                        reason: Utf8Bytes::try_from(Bytes::from(frame.reason))
                            .map_err(|e| HyperSocketError::InvalidUtf8(std::sync::Arc::new(e)))?,
                    })
                })
                .transpose()?,
        ),
        Message::Frame(_) => return Ok(None),
    }))
}

/// Tungstenite's from ours.
#[inline]
pub fn to_tungstenite(message: WsMessage) -> Message {
    match message {
        // Valid UTF-8 by construction; the conversion re-checks it, and the
        // fallback is unreachable in practice.
        WsMessage::Text(text) => {
            let bytes = Bytes::from(text);
            match tungstenite::Utf8Bytes::try_from(bytes.clone()) {
                Ok(text) => Message::Text(text),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(message: &WsMessage) {
        let back = from_tungstenite(to_tungstenite(message.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(&back, message);
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(&WsMessage::text("héllo {\"e\":\"trade\"}"));
        round_trip(&WsMessage::text(""));
        round_trip(&WsMessage::binary(vec![0u8, 1, 255]));
        round_trip(&WsMessage::ping(b"1234".to_vec()));
        round_trip(&WsMessage::pong(Vec::<u8>::new()));
        round_trip(&WsMessage::Close(None));
        round_trip(&WsMessage::close(1001, "going away"));
        round_trip(&WsMessage::close(4000, ""));
    }

    #[test]
    fn payloads_are_shared_not_copied() {
        let data = Bytes::from(vec![7u8; 4096]);
        let ours = from_tungstenite(Message::Binary(data.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(ours.as_bytes().as_ptr(), data.as_ptr());

        let text = tungstenite::Utf8Bytes::from("x".repeat(1024));
        let ptr = text.as_str().as_ptr();
        let ours = from_tungstenite(Message::Text(text)).unwrap().unwrap();
        assert_eq!(ours.as_bytes().as_ptr(), ptr);
    }

    #[test]
    fn close_codes_keep_their_number() {
        for code in [1000u16, 1001, 1002, 1008, 1011, 3000, 4999] {
            let msg = from_tungstenite(Message::Close(Some(TCloseFrame {
                code: TCloseCode::from(code),
                reason: "r".into(),
            })))
            .unwrap()
            .unwrap();
            match msg {
                WsMessage::Close(Some(frame)) => assert_eq!(frame.code.as_u16(), code),
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    #[test]
    fn raw_frames_are_skipped() {
        let frame = tungstenite::protocol::frame::Frame::ping(Vec::new());
        assert!(from_tungstenite(Message::Frame(frame)).unwrap().is_none());
    }
}
