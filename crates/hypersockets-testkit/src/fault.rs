//! Faults the exchange can be told to commit, who they hit, and how a
//! connection carries them out.

use std::ops::ControlFlow;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::SinkExt;
use hypersockets_core::{CloseCode, CloseFrame, Utf8Bytes};
use tokio::io::AsyncWriteExt;

use crate::connection::{CONTINUE, Connection, Flow, shut_down};
use crate::state::Command;
use crate::stream::Cursor;
use crate::{CloseCause, ConnectionId};

/// Something going wrong on one connection, on command.
///
/// Faults that end the connection ([`Close`](Fault::Close),
/// [`DropTcp`](Fault::DropTcp), [`ResetTcp`](Fault::ResetTcp),
/// [`CutMidFrame`](Fault::CutMidFrame), [`HalfOpen`](Fault::HalfOpen)) are
/// its last act; the others leave it serving (what the client does about a
/// broken frame is the client's business).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A Close frame with this code and reason; the server then waits up to
    /// one second for the client's Close and closes the socket.
    Close(CloseFrame),
    /// Closes the TCP connection (FIN) without a Close frame (and, with TLS,
    /// without `close_notify`).
    DropTcp,
    /// Resets the TCP connection (RST, by closing with `SO_LINGER` 0),
    /// without a Close frame.
    ResetTcp,
    /// Writes the first half of a real text frame (its header and part of
    /// its payload: the next market data message of a subscribed stream, or
    /// a made-up one), then closes the TCP connection. The cut message is not
    /// recorded as sent.
    CutMidFrame,
    /// Half-open: keeps the TCP connection open but never reads or writes
    /// again, until the exchange shuts down or a later
    /// [`DropTcp`](Fault::DropTcp) / [`ResetTcp`](Fault::ResetTcp) fault.
    HalfOpen,
    /// A text frame whose payload is not valid UTF-8.
    InvalidUtf8,
    /// A text message of exactly this many bytes (valid UTF-8 JSON when at
    /// least 32 bytes), in a single frame: for a client's size limit. It is
    /// listed in [`Control::written`](crate::Control::written).
    Oversized(usize),
    /// These bytes, written raw on the socket between two frames.
    Garbage(Bytes),
}

impl Fault {
    /// A Close frame with this code and reason.
    pub fn close(code: impl Into<CloseCode>, reason: impl Into<Utf8Bytes>) -> Self {
        Fault::Close(CloseFrame::new(code, reason))
    }

    /// A text message of `bytes` bytes.
    pub fn oversized(bytes: usize) -> Self {
        Fault::Oversized(bytes)
    }

    /// These raw bytes on the socket.
    pub fn garbage(bytes: impl Into<Bytes>) -> Self {
        Fault::Garbage(bytes.into())
    }

    /// Bytes that no WebSocket client can parse as a frame: opcode 0xF is
    /// reserved.
    pub fn default_garbage() -> Self {
        Fault::Garbage(Bytes::from_static(b"\x8f\x05garbage\xff\xfe\x00"))
    }

    /// Whether the fault ends the connection.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Fault::Close(_)
                | Fault::DropTcp
                | Fault::ResetTcp
                | Fault::CutMidFrame
                | Fault::HalfOpen
        )
    }
}

/// A sequence-integrity fault on one stream of one connection, for testing
/// a client's gap, duplicate and checksum tracking against ground truth:
/// the exchange knows exactly which numbers it skipped, repeated or
/// swapped. Given with [`Control::stream_fault`](crate::Control::stream_fault).
///
/// A fault applies to the stream's next message(s) on the connection, or,
/// if the connection is not subscribed to the stream, to the first ones
/// after it subscribes; faults given one after the other apply one after
/// the other (`Gap(2)` then `Duplicate`: two numbers skipped, then the next
/// one written twice). They apply to deltas, never to a
/// [snapshot](crate::StreamConfig::snapshot_on_subscribe).
///
/// What a connection was written, faults included, is in
/// [`Control::sent_on`](crate::Control::sent_on); since
/// [`Control::check_delivery`](crate::Control::check_delivery) expects a
/// client to deliver what was written, once each and in order, check a
/// client that repairs or reports faults against `sent_on` instead.
///
/// ```
/// use hypersockets_testkit::StreamFault;
///
/// let faults = [StreamFault::Gap(3), StreamFault::Duplicate, StreamFault::Reorder];
/// assert_eq!(faults.len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StreamFault {
    /// The next `n` messages are skipped: their numbers are used up (and a
    /// book's state includes their deltas) but they are neither written nor
    /// recorded as sent, so the client sees the numbers jump by `n + 1`.
    /// Each skipped message takes its turn in the stream's schedule, as a
    /// lost message would. `Gap(0)` does nothing.
    Gap(u64),
    /// The next message is written twice in a row, and recorded twice.
    Duplicate,
    /// The next two messages are written in swapped order, the first held
    /// back until the second is due (so that nothing is written early); they
    /// are recorded in the order written. If the first is the stream's last
    /// ([`StreamConfig::limit`](crate::StreamConfig::limit)), it goes alone.
    Reorder,
    /// The next message carries a wrong `"checksum"`: the right one XOR 1.
    /// Only for a stream with [checksums](crate::StreamConfig::checksum);
    /// refused on others.
    WrongChecksum,
}

/// Which connections a command hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Target {
    /// This connection.
    Connection(ConnectionId),
    /// Every open connection.
    All,
    /// The next connection to complete its handshake, right after the
    /// handshake, before it reads anything.
    Next,
}

impl From<ConnectionId> for Target {
    fn from(id: ConnectionId) -> Self {
        Target::Connection(id)
    }
}

/// The header of an unmasked server frame: FIN, the opcode and the length.
pub(crate) fn frame_header(opcode: u8, len: usize) -> BytesMut {
    let mut header = BytesMut::with_capacity(10);
    header.put_u8(0x80 | (opcode & 0x0f));
    if len < 126 {
        header.put_u8(len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        header.put_u8(126);
        header.put_u16(len);
    } else {
        header.put_u8(127);
        header.put_u64(len as u64);
    }
    header
}

/// A complete text frame around `payload`, valid UTF-8 or not.
pub(crate) fn text_frame(payload: &[u8]) -> Bytes {
    let mut frame = frame_header(0x1, payload.len());
    frame.put_slice(payload);
    frame.freeze()
}

/// The first half of the text frame of `text`: the header and under half of
/// the payload (at least one byte of it when there is one).
pub(crate) fn cut_text_frame(text: &str) -> Bytes {
    let frame = text_frame(text.as_bytes());
    let header = frame.len() - text.len();
    let keep = header + (text.len() / 2).max(usize::from(!text.is_empty()));
    frame.slice(..keep.min(frame.len() - 1))
}

/// A payload that is not UTF-8 inside otherwise ordinary JSON.
pub(crate) const INVALID_UTF8: &[u8] = b"{\"stream\":\"bad\",\"data\":\"\xff\xfe\xc3\x28\"}";

/// Text of exactly `len` bytes: JSON when `len` is at least 32.
pub(crate) fn oversized_text(len: usize) -> String {
    const HEAD: &str = r#"{"stream":"oversized","data":""#;
    const TAIL: &str = r#""}"#;
    if len < HEAD.len() + TAIL.len() {
        return "x".repeat(len);
    }
    let mut text = String::with_capacity(len);
    text.push_str(HEAD);
    text.extend(std::iter::repeat_n('x', len - HEAD.len() - TAIL.len()));
    text.push_str(TAIL);
    text
}

impl Connection {
    pub(crate) async fn apply_faults(&mut self, faults: Vec<Fault>) -> Flow {
        for fault in faults {
            self.apply_fault(fault).await?;
        }
        CONTINUE
    }

    pub(crate) async fn apply_fault(&mut self, fault: Fault) -> Flow {
        tracing::debug!(id = %self.id, ?fault, "fault");
        let cause = CloseCause::Fault(fault.clone());
        match fault {
            Fault::Close(frame) => self.close_with(Some(frame), cause).await,
            Fault::DropTcp => ControlFlow::Break(cause),
            Fault::ResetTcp => {
                let _ = self.ws.get_ref().tcp().set_zero_linger();
                ControlFlow::Break(cause)
            }
            Fault::CutMidFrame => {
                let text = self
                    .cursors
                    .iter()
                    .find(|c| c.is_active())
                    .map_or_else(|| oversized_text(64), Cursor::peek);
                self.write_raw(&cut_text_frame(&text)).await?;
                ControlFlow::Break(cause)
            }
            Fault::HalfOpen => self.go_silent().await,
            Fault::InvalidUtf8 => self.write_raw(&text_frame(INVALID_UTF8)).await,
            Fault::Oversized(len) => self.write_text(oversized_text(len)).await,
            Fault::Garbage(bytes) => self.write_raw(&bytes).await,
        }
    }

    /// Writes bytes straight onto the socket, between two frames.
    async fn write_raw(&mut self, bytes: &[u8]) -> Flow {
        let result: Result<(), String> = async {
            // Whatever the WebSocket layer holds goes out first.
            self.ws.flush().await.map_err(|e| e.to_string())?;
            let io = self.ws.get_mut();
            io.write_all(bytes).await.map_err(|e| e.to_string())?;
            io.flush().await.map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok(()) => CONTINUE,
            Err(error) => ControlFlow::Break(CloseCause::ConnectionLost(error)),
        }
    }

    /// Neither reads nor writes any more, but keeps the socket, until the
    /// exchange shuts down or a fault drops it.
    async fn go_silent(&mut self) -> Flow {
        let id = self.id;
        self.shared.update(|s| s.set_silent(id));
        loop {
            let command = tokio::select! {
                biased;
                () = shut_down(&mut self.shutdown) => None,
                command = self.commands.recv() => command,
            };
            match command {
                None => return ControlFlow::Break(CloseCause::Fault(Fault::HalfOpen)),
                Some(Command::Fault(Fault::DropTcp)) => {
                    return ControlFlow::Break(CloseCause::Fault(Fault::DropTcp));
                }
                Some(Command::Fault(Fault::ResetTcp)) => {
                    let _ = self.ws.get_ref().tcp().set_zero_linger();
                    return ControlFlow::Break(CloseCause::Fault(Fault::ResetTcp));
                }
                Some(other) => tracing::debug!(%id, ?other, "ignored while half-open"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_use_the_three_length_forms() {
        assert_eq!(&frame_header(1, 5)[..], &[0x81, 5]);
        assert_eq!(&frame_header(1, 300)[..], &[0x81, 126, 1, 44]);
        assert_eq!(
            &frame_header(1, 70_000)[..],
            &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]
        );
    }

    #[test]
    fn cut_frames_are_partial() {
        let text = "0123456789";
        let cut = cut_text_frame(text);
        assert_eq!(&cut[..2], &[0x81, 10]);
        assert!(cut.len() > 2 && cut.len() < 12);
        assert_eq!(cut_text_frame("").len(), 1);
    }

    #[test]
    fn oversized_is_exact() {
        for len in [0, 10, 32, 33, 1000] {
            assert_eq!(oversized_text(len).len(), len);
        }
        assert!(serde_json::from_str::<serde_json::Value>(&oversized_text(100)).is_ok());
        assert!(std::str::from_utf8(std::hint::black_box(INVALID_UTF8)).is_err());
    }
}
