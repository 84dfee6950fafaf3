//! tokio-websockets' errors as ours, the source kept.

use std::sync::Arc;

use hypersockets_core::HyperSocketError;
use hypersockets_transport::upgrade::{FrameTooLarge, SentCloseCode, io_error};
use tokio_websockets::Error;
use tokio_websockets::proto::ProtocolError;

/// A message no endpoint may send; the codec would panic on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum Unsendable {
    /// A control frame's payload over 125 bytes (a close frame's: its code
    /// and reason).
    #[error("control frame payload of {0} bytes over 125")]
    ControlPayload(usize),
    /// A close code reserved or out of range (RFC 6455 §7.4).
    #[error("close code {0} may not be sent")]
    CloseCode(u16),
}

impl From<Unsendable> for HyperSocketError {
    fn from(error: Unsendable) -> Self {
        HyperSocketError::WebSocket(Arc::new(error))
    }
}

/// Ours from the codec's. `watch` has the code of the server's Close
/// frame, when one was read (the codec refuses an invalid one without
/// saying which), and whether the socket ended.
pub(crate) fn map_error(error: Error, watch: &SentCloseCode) -> HyperSocketError {
    match error {
        Error::AlreadyClosed => HyperSocketError::ConnectionClosed,
        Error::PayloadTooLong { len, max_len } => HyperSocketError::MessageTooLarge {
            size: len,
            limit: max_len,
        },
        // The socket ended inside a frame ("bytes remaining on stream"):
        // a lost connection, as when it ends between frames.
        Error::Io(_) if watch.ended() => HyperSocketError::ConnectionClosed,
        Error::Io(error) => match error
            .get_ref()
            .and_then(|e| e.downcast_ref::<FrameTooLarge>())
        {
            Some(frame) => HyperSocketError::MessageTooLarge {
                size: usize::try_from(frame.size).unwrap_or(usize::MAX),
                limit: usize::try_from(frame.limit).unwrap_or(usize::MAX),
            },
            None => io_error(error),
        },
        Error::Protocol(ProtocolError::InvalidUtf8) => {
            HyperSocketError::InvalidUtf8(Arc::new(ProtocolError::InvalidUtf8))
        }
        Error::Protocol(ProtocolError::InvalidCloseCode) => match watch.get() {
            Some(code) => HyperSocketError::InvalidCloseCode { code },
            None => HyperSocketError::WebSocket(Arc::new(ProtocolError::InvalidCloseCode)),
        },
        Error::Protocol(error) => HyperSocketError::WebSocket(Arc::new(error)),
        other => HyperSocketError::WebSocket(Arc::new(other)),
    }
}
