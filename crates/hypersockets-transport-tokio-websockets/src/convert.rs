//! Conversions between tokio-websockets' message type and ours.

use bytes::Bytes;
use hypersockets_core::{CloseCode, CloseFrame, HyperSocketError, Utf8Bytes, WsMessage};
use tokio_websockets::{CloseCode as TCloseCode, Message};

use crate::error::Unsendable;

/// Ours from tokio-websockets'. Payloads are shared, not copied.
///
/// # Errors
///
/// [`HyperSocketError::InvalidUtf8`] when a text payload is not UTF-8: the
/// codec has already refused such a message, so this is the one check ours
/// needs, not a verdict that can differ.
#[inline]
pub(crate) fn from_codec(message: Message) -> Result<WsMessage, HyperSocketError> {
    if message.is_text() {
        return Utf8Bytes::try_from(Bytes::from(message.into_payload()))
            .map(WsMessage::Text)
            .map_err(|e| HyperSocketError::InvalidUtf8(std::sync::Arc::new(e)));
    }
    if message.is_binary() {
        return Ok(WsMessage::Binary(message.into_payload().into()));
    }
    if message.is_ping() {
        return Ok(WsMessage::Ping(message.into_payload().into()));
    }
    if message.is_pong() {
        return Ok(WsMessage::Pong(message.into_payload().into()));
    }
    // A Close frame: the codec checked its code and its reason's UTF-8.
    let frame = match message.as_close() {
        Some((code, _)) if code == TCloseCode::NO_STATUS_RECEIVED => None,
        Some((code, reason)) => Some(CloseFrame {
            code: CloseCode::from(u16::from(code)),
            reason: Utf8Bytes::from(reason),
        }),
        None => None,
    };
    Ok(WsMessage::Close(frame))
}

/// Largest payload of a control frame (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// tokio-websockets' from ours.
///
/// # Errors
///
/// [`Unsendable`] for what no endpoint may send (a ping or pong over 125
/// bytes, a reserved close code, a close reason over 123 bytes): the codec
/// would panic on them.
#[inline]
pub(crate) fn to_codec(message: WsMessage) -> Result<Message, Unsendable> {
    Ok(match message {
        WsMessage::Text(text) => Message::text(Bytes::from(text)),
        WsMessage::Binary(data) => Message::binary(data),
        WsMessage::Ping(data) => Message::ping(control_payload(data)?),
        WsMessage::Pong(data) => Message::pong(control_payload(data)?),
        WsMessage::Close(None) => Message::close(None, ""),
        WsMessage::Close(Some(frame)) => {
            let code = TCloseCode::try_from(frame.code.as_u16())
                .ok()
                .filter(|code| !code.is_reserved())
                .ok_or(Unsendable::CloseCode(frame.code.as_u16()))?;
            let reason = frame.reason.as_str();
            if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
                return Err(Unsendable::ControlPayload(reason.len() + 2));
            }
            Message::close(Some(code), reason)
        }
    })
}

fn control_payload(data: Bytes) -> Result<Bytes, Unsendable> {
    if data.len() > MAX_CONTROL_PAYLOAD {
        return Err(Unsendable::ControlPayload(data.len()));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_kinds_keep_their_payload() {
        let text = to_codec(WsMessage::text("héllo")).unwrap();
        assert_eq!(text.as_text(), Some("héllo"));
        let binary = to_codec(WsMessage::binary(vec![0u8, 255])).unwrap();
        assert!(binary.is_binary());
        assert_eq!(&binary.as_payload()[..], &[0, 255]);
        assert!(to_codec(WsMessage::ping(b"1".to_vec())).unwrap().is_ping());
        assert!(
            to_codec(WsMessage::pong(Vec::<u8>::new()))
                .unwrap()
                .is_pong()
        );
        let close = to_codec(WsMessage::close(4000, "bye")).unwrap();
        let (code, reason) = close.as_close().unwrap();
        assert_eq!((u16::from(code), reason), (4000, "bye"));
    }

    #[test]
    fn incoming_kinds_round_trip() {
        for message in [
            WsMessage::text("héllo {\"e\":\"trade\"}"),
            WsMessage::text(""),
            WsMessage::binary(vec![0u8, 1, 255]),
            WsMessage::ping(b"1234".to_vec()),
            WsMessage::pong(Vec::<u8>::new()),
            WsMessage::Close(None),
            WsMessage::close(1001, "going away"),
            WsMessage::close(4999, ""),
        ] {
            let back = from_codec(to_codec(message.clone()).unwrap()).unwrap();
            assert_eq!(back, message);
        }
    }

    #[test]
    fn what_no_endpoint_may_send_is_an_error_not_a_panic() {
        assert_eq!(
            to_codec(WsMessage::ping(vec![0u8; 126])).unwrap_err(),
            Unsendable::ControlPayload(126)
        );
        assert_eq!(
            to_codec(WsMessage::pong(vec![0u8; 200])).unwrap_err(),
            Unsendable::ControlPayload(200)
        );
        for code in [0u16, 999, 1005, 1006, 1015, 5000] {
            assert_eq!(
                to_codec(WsMessage::close(code, "")).unwrap_err(),
                Unsendable::CloseCode(code)
            );
        }
        assert_eq!(
            to_codec(WsMessage::close(1000, "x".repeat(124))).unwrap_err(),
            Unsendable::ControlPayload(126)
        );
        assert!(to_codec(WsMessage::close(1000, "x".repeat(123))).is_ok());
    }
}
