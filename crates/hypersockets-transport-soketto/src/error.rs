//! Our errors from soketto's and from the frames themselves.

use std::sync::Arc;

use hypersockets_core::HyperSocketError;

/// A protocol violation that soketto's frame codec leaves to its caller,
/// or a message we cannot send.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    #[error("server sent a masked frame")]
    MaskedFrame,
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    #[error("new message before the fragmented one ended")]
    InterleavedMessage,
    #[error("rsv1 set on a control or continuation frame")]
    MisplacedRsv1,
    #[error("close frame with a one-byte payload")]
    ShortClose,
    #[error("control frame payload over 125 bytes")]
    ControlTooLarge,
    #[error("message after our close frame")]
    SendAfterClose,
    #[error("write buffer full")]
    WriteBufferFull,
}

impl From<FrameError> for HyperSocketError {
    fn from(error: FrameError) -> Self {
        Self::WebSocket(Arc::new(error))
    }
}

/// Ours from soketto's frame codec's: the frame limit is
/// [`HyperSocketError::MessageTooLarge`], every other error a protocol
/// error with soketto's as the source.
pub(crate) fn codec_error(error: soketto::base::Error) -> HyperSocketError {
    match error {
        soketto::base::Error::PayloadTooLarge { actual, maximum } => {
            HyperSocketError::MessageTooLarge {
                size: usize::try_from(actual).unwrap_or(usize::MAX),
                limit: usize::try_from(maximum).unwrap_or(usize::MAX),
            }
        }
        soketto::base::Error::Io(error) => hypersockets_transport::upgrade::io_error(error),
        other => HyperSocketError::WebSocket(Arc::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_errors_keep_their_source() {
        let too_big = codec_error(soketto::base::Error::PayloadTooLarge {
            actual: 20,
            maximum: 10,
        });
        assert!(matches!(
            too_big,
            HyperSocketError::MessageTooLarge {
                size: 20,
                limit: 10
            }
        ));
        let reserved = codec_error(soketto::base::Error::InvalidReservedBit(1));
        let HyperSocketError::WebSocket(source) = &reserved else {
            panic!("expected a protocol error, got {reserved:?}");
        };
        assert!(source.is::<soketto::base::Error>());
        assert_eq!(reserved.to_string(), "websocket protocol error");
        assert_eq!(source.to_string(), "invalid reserved bit: 1");
    }
}
