//! The recording file format, version 1: what [`Recorder`](crate::Recorder)
//! writes and [`Recording`](crate::Recording) reads.
//!
//! All integers are little-endian. A file is a header, then records, one
//! after another, to the end of the file:
//!
//! | header field | bytes | |
//! | --- | --- | --- |
//! | magic | 8 | `HSREC\r\n\x1a` |
//! | version | 2 | 1 |
//! | flags | 2 | 0 (none defined) |
//! | reserved | 4 | 0 |
//! | started | 8 | when the recording started: nanoseconds since the Unix epoch |
//!
//! | record field | bytes | |
//! | --- | --- | --- |
//! | kind | 1 | see below |
//! | connection | 4 | the connection it belongs to, numbered from 1 in the order the client opened them; 0 for a failed connect |
//! | at | 8 | nanoseconds since `started`, on a monotonic clock |
//! | length | 4 | the payload's length |
//! | payload | length | as the kind says |
//!
//! | kind | event | payload |
//! | --- | --- | --- |
//! | 1 | Text frame | its UTF-8 text |
//! | 2 | Binary frame | its bytes (as received: still compressed if the venue compresses) |
//! | 3 | Ping frame | its payload |
//! | 4 | Pong frame | its payload |
//! | 5 | Close frame | empty, or the code (2 bytes) then the UTF-8 reason |
//! | 16 | connection opened | empty |
//! | 17 | the connection's stream ended (after a Close frame, or without one) | empty |
//! | 18 | the connection failed | the error, UTF-8 |
//! | 19 | the client ended the connection | empty |
//! | 20 | a connection attempt failed | the error, UTF-8 |
//! | 21 | frames the recorder could not keep (it fell behind) | their count, 8 bytes |
//!
//! A reader refuses a version it does not know. A file cut short (a
//! process killed while recording) reads up to its last whole record,
//! then reports where it was cut.

use std::io::{self, Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hypersockets_core::{CloseFrame, Utf8Bytes, WsMessage};

use crate::recording::RecordingError;

const MAGIC: [u8; 8] = *b"HSREC\r\n\x1a";
/// The format this crate writes, and the only one it reads.
pub(crate) const VERSION: u16 = 1;
pub(crate) const HEADER_LEN: u64 = 24;
const RECORD_HEADER_LEN: usize = 17;

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const PING: u8 = 3;
const PONG: u8 = 4;
const CLOSE: u8 = 5;
const OPENED: u8 = 16;
const ENDED: u8 = 17;
const FAILED: u8 = 18;
const DROPPED: u8 = 19;
const CONNECT_FAILED: u8 = 20;
const UNRECORDED: u8 = 21;

/// One entry of a recording: a received frame or a connection's event.
///
/// ```
/// use std::time::Duration;
/// use hypersockets::{RecordEvent, WsMessage};
///
/// # let record = hypersockets::Record::new(Duration::from_millis(5), 1, RecordEvent::Frame(WsMessage::text("{}")));
/// if let RecordEvent::Frame(frame) = &record.event {
///     println!("{:?} on connection {}: {} bytes", record.at, record.connection, frame.len());
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// How long after the recording started it happened (a monotonic
    /// clock: the wall-clock time is [`Recording::started`](crate::Recording::started)
    /// plus this).
    pub at: Duration,
    /// The connection it belongs to, numbered from 1 in the order the
    /// client opened them; 0 for [`RecordEvent::ConnectFailed`].
    pub connection: u32,
    /// What happened.
    pub event: RecordEvent,
}

impl Record {
    /// A record of `event` on `connection`, `at` after the start.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hypersockets::{Record, RecordEvent};
    ///
    /// let opened = Record::new(Duration::ZERO, 1, RecordEvent::Opened);
    /// assert_eq!(opened.connection, 1);
    /// ```
    pub fn new(at: Duration, connection: u32, event: RecordEvent) -> Self {
        Self {
            at,
            connection,
            event,
        }
    }
}

/// What a [`Record`] says happened.
///
/// ```
/// use hypersockets::RecordEvent;
///
/// let event = RecordEvent::ConnectFailed("handshake refused (503)".into());
/// assert!(!event.is_frame());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordEvent {
    /// The connection opened (the handshake succeeded).
    Opened,
    /// A frame was received, as the socket gave it (control frames too).
    Frame(WsMessage),
    /// The connection's stream ended: after the peer's Close frame, or the
    /// socket closed without one.
    Ended,
    /// The connection failed, with this error.
    Failed(String),
    /// The client ended the connection itself (closed by the user, a
    /// liveness timeout, a rotation, a protocol error it found).
    Dropped,
    /// A connection attempt failed, with this error.
    ConnectFailed(String),
    /// The recorder fell behind and lost this many records here.
    Unrecorded(u64),
}

impl RecordEvent {
    /// Whether it is a received frame.
    ///
    /// ```
    /// use hypersockets::{RecordEvent, WsMessage};
    ///
    /// assert!(RecordEvent::Frame(WsMessage::text("x")).is_frame());
    /// assert!(!RecordEvent::Opened.is_frame());
    /// ```
    pub fn is_frame(&self) -> bool {
        matches!(self, Self::Frame(_))
    }
}

/// Writes the file header.
pub(crate) fn write_header(out: &mut impl Write, started: SystemTime) -> io::Result<()> {
    let started_ns = started.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    });
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(&MAGIC);
    header[8..10].copy_from_slice(&VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&started_ns.to_le_bytes());
    out.write_all(&header)
}

/// Writes one record; returns the bytes written.
pub(crate) fn write_record(out: &mut impl Write, record: &Record) -> io::Result<u64> {
    let code_bytes;
    let count_bytes;
    let (kind, payload): (u8, &[u8]) = match &record.event {
        RecordEvent::Frame(WsMessage::Text(text)) => (TEXT, text.as_bytes()),
        RecordEvent::Frame(WsMessage::Binary(data)) => (BINARY, data),
        RecordEvent::Frame(WsMessage::Ping(data)) => (PING, data),
        RecordEvent::Frame(WsMessage::Pong(data)) => (PONG, data),
        RecordEvent::Frame(WsMessage::Close(None)) => (CLOSE, &[]),
        RecordEvent::Frame(WsMessage::Close(Some(frame))) => {
            let mut bytes = u16::from(frame.code).to_le_bytes().to_vec();
            bytes.extend_from_slice(frame.reason.as_bytes());
            code_bytes = bytes;
            (CLOSE, &code_bytes)
        }
        RecordEvent::Opened => (OPENED, &[]),
        RecordEvent::Ended => (ENDED, &[]),
        RecordEvent::Failed(error) => (FAILED, error.as_bytes()),
        RecordEvent::Dropped => (DROPPED, &[]),
        RecordEvent::ConnectFailed(error) => (CONNECT_FAILED, error.as_bytes()),
        RecordEvent::Unrecorded(count) => {
            count_bytes = count.to_le_bytes();
            (UNRECORDED, &count_bytes)
        }
    };
    // A frame is at most the transport's message limit, far under 4 GiB;
    // an error text longer than that is cut (it never is).
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let payload = &payload[..length as usize];
    let at = u64::try_from(record.at.as_nanos()).unwrap_or(u64::MAX);
    let mut header = [0u8; RECORD_HEADER_LEN];
    header[0] = kind;
    header[1..5].copy_from_slice(&record.connection.to_le_bytes());
    header[5..13].copy_from_slice(&at.to_le_bytes());
    header[13..17].copy_from_slice(&length.to_le_bytes());
    out.write_all(&header)?;
    out.write_all(payload)?;
    Ok(RECORD_HEADER_LEN as u64 + u64::from(length))
}

/// Reads records from a recording's bytes, after checking its header.
#[derive(Debug)]
pub(crate) struct RecordReader<R> {
    input: R,
    /// Where the next record starts, for errors.
    offset: u64,
    /// Set after an error: the rest of the file cannot be trusted.
    failed: bool,
}

impl<R: Read> RecordReader<R> {
    /// Reads the header: the recording's start.
    pub(crate) fn new(mut input: R) -> Result<(Self, SystemTime), RecordingError> {
        let mut header = [0u8; HEADER_LEN as usize];
        let read = read_up_to(&mut input, &mut header)?;
        if read < 8 || header[..8] != MAGIC {
            return Err(RecordingError::NotARecording);
        }
        if read < header.len() {
            return Err(RecordingError::Truncated { offset: 0 });
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version != VERSION {
            return Err(RecordingError::UnsupportedVersion { version });
        }
        let started_ns = u64::from_le_bytes(array(&header[16..24]));
        let started = UNIX_EPOCH + Duration::from_nanos(started_ns);
        let reader = Self {
            input,
            offset: HEADER_LEN,
            failed: false,
        };
        Ok((reader, started))
    }

    /// The next record; `None` at the end of the file.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, RecordingError> {
        if self.failed {
            return Ok(None);
        }
        let result = self.read_record();
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn read_record(&mut self) -> Result<Option<Record>, RecordingError> {
        let start = self.offset;
        let mut header = [0u8; RECORD_HEADER_LEN];
        match read_up_to(&mut self.input, &mut header)? {
            0 => return Ok(None),
            RECORD_HEADER_LEN => {}
            _ => return Err(RecordingError::Truncated { offset: start }),
        }
        let kind = header[0];
        let connection = u32::from_le_bytes(array(&header[1..5]));
        let at = Duration::from_nanos(u64::from_le_bytes(array(&header[5..13])));
        let length = u32::from_le_bytes(array(&header[13..17]));
        // Read through `take`: a corrupt length runs into the end of the
        // file instead of allocating gigabytes up front.
        let mut payload = Vec::new();
        (&mut self.input)
            .take(u64::from(length))
            .read_to_end(&mut payload)
            .map_err(RecordingError::io)?;
        if payload.len() != length as usize {
            return Err(RecordingError::Truncated { offset: start });
        }
        self.offset += RECORD_HEADER_LEN as u64 + u64::from(length);
        let corrupt = |what| RecordingError::Corrupt {
            offset: start,
            what,
        };
        let text = |payload: Vec<u8>| {
            String::from_utf8(payload).map_err(|_| corrupt("text that is not UTF-8"))
        };
        let event = match kind {
            TEXT => {
                let text = Utf8Bytes::try_from(Bytes::from(payload))
                    .map_err(|_| corrupt("text frame that is not UTF-8"))?;
                RecordEvent::Frame(WsMessage::Text(text))
            }
            BINARY => RecordEvent::Frame(WsMessage::Binary(payload.into())),
            PING => RecordEvent::Frame(WsMessage::Ping(payload.into())),
            PONG => RecordEvent::Frame(WsMessage::Pong(payload.into())),
            CLOSE => {
                RecordEvent::Frame(WsMessage::Close(close_frame(payload).ok_or_else(|| {
                    corrupt("close frame without a whole code or with a reason not UTF-8")
                })?))
            }
            OPENED => RecordEvent::Opened,
            ENDED => RecordEvent::Ended,
            FAILED => RecordEvent::Failed(text(payload)?),
            DROPPED => RecordEvent::Dropped,
            CONNECT_FAILED => RecordEvent::ConnectFailed(text(payload)?),
            UNRECORDED => {
                let count: [u8; 8] = payload
                    .try_into()
                    .map_err(|_| corrupt("lost-records count that is not 8 bytes"))?;
                RecordEvent::Unrecorded(u64::from_le_bytes(count))
            }
            _ => return Err(corrupt("unknown record kind")),
        };
        Ok(Some(Record {
            at,
            connection,
            event,
        }))
    }
}

/// A Close payload: `Some(None)` for none, `None` if malformed.
fn close_frame(payload: Vec<u8>) -> Option<Option<CloseFrame>> {
    match payload.len() {
        0 => Some(None),
        1 => None,
        _ => {
            let code = u16::from_le_bytes([payload[0], payload[1]]);
            let reason = Utf8Bytes::try_from(Bytes::from(payload).slice(2..)).ok()?;
            Some(Some(CloseFrame::new(code, reason)))
        }
    }
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut array = [0u8; N];
    array.copy_from_slice(bytes);
    array
}

/// Fills `buf` as far as the input goes; the count read.
fn read_up_to(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, RecordingError> {
    let mut read = 0;
    while read < buf.len() {
        match input.read(&mut buf[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(RecordingError::io(error)),
        }
    }
    Ok(read)
}
