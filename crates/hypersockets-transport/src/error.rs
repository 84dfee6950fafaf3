//! Mapping tungstenite's errors onto ours, keeping the source.

use std::sync::Arc;

use hypersockets_core::HyperSocketError;
use tungstenite::error::{CapacityError, Error, ProtocolError};

/// Ours from tungstenite's. `ConnectionClosed` is a normal end and is handled
/// by the caller before this is reached.
pub(crate) fn map_error(error: Error) -> HyperSocketError {
    match error {
        // A peer that vanished without a Close frame (TCP FIN or RST): a
        // lost connection, not a protocol violation.
        Error::ConnectionClosed
        | Error::AlreadyClosed
        | Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            HyperSocketError::ConnectionClosed
        }
        // TLS failures after the handshake reach tungstenite as I/O errors.
        Error::Io(err) => crate::tls::io_error(err),
        Error::Tls(err) => HyperSocketError::Tls(Arc::new(err)),
        Error::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            HyperSocketError::MessageTooLarge {
                size,
                limit: max_size,
            }
        }
        Error::Capacity(err @ CapacityError::TooManyHeaders) => HyperSocketError::Handshake {
            status: None,
            source: Some(Arc::new(err)),
        },
        Error::Utf8(err) => HyperSocketError::InvalidUtf8(hypersockets_core::BoxError::from(err).into()),
        Error::Http(response) => HyperSocketError::Handshake {
            status: Some(response.status().as_u16()),
            source: None,
        },
        Error::HttpFormat(err) => HyperSocketError::Handshake {
            status: None,
            source: Some(Arc::new(err)),
        },
        Error::Url(err) => HyperSocketError::invalid_config("url", err.to_string()),
        other => HyperSocketError::WebSocket(Arc::new(other)),
    }
}
