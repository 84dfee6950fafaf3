//! Recording a client's connections to a file: the reader hands each
//! frame to a bounded queue without waiting, and a thread of the
//! recorder's own writes them, so that neither the disk nor a full queue
//! ever holds the socket back.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use futures_util::Stream;
use hypersockets_core::{Connection, HyperSocketError, MessageStream, Result, WsMessage};
use tokio::sync::watch;

use crate::recording::RecordingError;
use crate::recording::format::{self, Record, RecordEvent};

/// Records the recorder's queue holds before it loses them: with market
/// data of a few hundred bytes a message, some tens of megabytes, and at
/// 100 000 messages a second over half a second of a stalled disk.
const QUEUE: usize = 1 << 16;
/// The file's write buffer.
const WRITE_BUFFER: usize = 256 << 10;

/// Records everything a client receives, with when it arrived and the
/// connections' openings, failures and ends, to a file (the format is
/// documented in `docs/guide.md`, "Recording and replay"), for
/// [`Replay`](crate::Replay) or for reading with
/// [`Recording`](crate::Recording).
///
/// Frames are written by a thread of the recorder's own, through a
/// queue the reader never waits on: if the disk cannot keep up, records
/// are lost and counted ([`RecordingStats::lost`], and a record of the
/// loss in the file) rather than the feed slowed down. Only what the
/// venue sent is recorded, never what the client wrote (logins carry
/// signatures); a private channel's recording still holds account data.
///
/// One recorder records one client ([`WebSocketClientBuilder::record`](crate::WebSocketClientBuilder::record)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hypersockets::prelude::*;
/// use hypersockets::Recorder;
///
/// let path = std::env::temp_dir().join(format!("doc-recorder-{}.hsr", std::process::id()));
/// let recorder = Recorder::create(&path)?;
/// let client = WebSocketClient::builder()
///     .url("wss://stream.binance.com:9443/ws/btcusdt@trade")
///     .router(PassThrough)
///     .handler((), handler_fn(|_: WsMessage| Ok::<_, BoxError>(())))
///     .record(&recorder)
///     .build()?;
/// // client.connect().await? … and later:
/// client.close().await?;
/// drop(client);
/// let stats = recorder.finish().await?;
/// assert_eq!(stats.frames, 0);
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Recorder {
    inner: Arc<Inner>,
}

/// What a recording has written so far.
///
/// ```
/// let stats = hypersockets::RecordingStats::default();
/// assert_eq!(stats.frames + stats.lost, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingStats {
    /// Records written (frames and connection events).
    pub records: u64,
    /// Frames written.
    pub frames: u64,
    /// Bytes written to the file, its header included.
    pub bytes: u64,
    /// Records lost because the writer fell behind.
    pub lost: u64,
    /// Connections opened.
    pub connections: u64,
}

#[derive(Debug)]
struct Inner {
    /// The instant the header's wall-clock time was read: records are
    /// timed from it.
    started: Instant,
    /// The queue's sending side until a client takes it: a recorder
    /// dropped unused closes the queue, and its thread ends.
    sender: Mutex<Option<Sender<Record>>>,
    attached: AtomicBool,
    /// Shared with the writer thread, which holds nothing else of ours.
    progress: Arc<Progress>,
}

/// What the writer has done, and its result once it is done.
#[derive(Debug)]
struct Progress {
    counts: Counts,
    done: watch::Sender<Option<std::result::Result<RecordingStats, RecordingError>>>,
}

#[derive(Debug, Default)]
struct Counts {
    records: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    lost: AtomicU64,
    connections: AtomicU64,
    /// Lost since the last record the writer got: written as a record of
    /// the loss before the next.
    unreported: AtomicU64,
}

impl Counts {
    fn stats(&self) -> RecordingStats {
        RecordingStats {
            records: self.records.load(Ordering::Relaxed),
            frames: self.frames.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
        }
    }
}

impl Recorder {
    /// Creates (or truncates) the file at `path`, writes the header and
    /// starts the writer thread.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("doc-create-{}.hsr", std::process::id()));
    /// let recorder = hypersockets::Recorder::create(&path)?;
    /// assert_eq!(recorder.stats().bytes, 24); // the header
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RecordingError::Io`] if the file cannot be created or written,
    /// or the thread not started.
    pub fn create(path: impl AsRef<Path>) -> std::result::Result<Self, RecordingError> {
        let file = File::create(path).map_err(RecordingError::io)?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        let started_wall = SystemTime::now();
        let started = Instant::now();
        format::write_header(&mut out, started_wall).map_err(RecordingError::io)?;
        out.flush().map_err(RecordingError::io)?;
        let (sender, receiver) = crossbeam_channel::bounded(QUEUE);
        let inner = Arc::new(Inner {
            started,
            sender: Mutex::new(Some(sender)),
            attached: AtomicBool::new(false),
            progress: Arc::new(Progress {
                counts: Counts::default(),
                done: watch::Sender::new(None),
            }),
        });
        inner
            .progress
            .counts
            .bytes
            .store(format::HEADER_LEN, Ordering::Relaxed);
        let writer = Arc::clone(&inner.progress);
        std::thread::Builder::new()
            .name("hypersockets-recorder".into())
            .spawn(move || {
                let result = write_all(&receiver, &mut out, &writer.counts);
                writer.done.send_replace(Some(result));
            })
            .map_err(RecordingError::io)?;
        Ok(Self { inner })
    }

    /// What has been written so far: for a progress line.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("doc-stats-{}.hsr", std::process::id()));
    /// let recorder = hypersockets::Recorder::create(&path)?;
    /// assert_eq!(recorder.stats().records, 0);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> RecordingStats {
        self.inner.progress.counts.stats()
    }

    /// Waits until the client recording to it is gone (closed and
    /// dropped, with every handle) and the file is written and flushed;
    /// returns what was written. Without a client, finishes at once.
    ///
    /// # Errors
    ///
    /// [`RecordingError::Io`] if writing the file failed (records after
    /// the failure are lost).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the writer goes on; the file is finished all the same.
    pub async fn finish(self) -> std::result::Result<RecordingStats, RecordingError> {
        // A recorder no client took: nothing else holds the queue open.
        drop(
            self.inner
                .sender
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut done = self.inner.progress.done.subscribe();
        let result = match done.wait_for(Option::is_some).await {
            Ok(result) => result.clone(),
            // The sender lives in `progress`, which `self` holds.
            Err(_) => None,
        };
        result.unwrap_or(Ok(self.inner.progress.counts.stats()))
    }

    /// The tap a client records through; once per recorder.
    pub(crate) fn attach(&self) -> Result<RecordTap> {
        if self.inner.attached.swap(true, Ordering::AcqRel) {
            return Err(HyperSocketError::invalid_config(
                "record",
                "the recorder already records another client",
            ));
        }
        let sender = self
            .inner
            .sender
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| {
                HyperSocketError::invalid_config("record", "the recorder is finished")
            })?;
        Ok(RecordTap {
            inner: Arc::new(Tap {
                sender,
                recorder: Arc::clone(&self.inner),
                connections: AtomicU64::new(0),
            }),
        })
    }
}

/// Writes what comes through the queue until every sender is gone,
/// flushing whenever the queue is empty.
fn write_all(
    receiver: &Receiver<Record>,
    out: &mut BufWriter<File>,
    counts: &Counts,
) -> std::result::Result<RecordingStats, RecordingError> {
    let mut failed = None;
    while let Ok(record) = receiver.recv() {
        let mut next = Some(record);
        while let Some(record) = next {
            if failed.is_none()
                && let Err(error) = write_one(out, &record, counts)
            {
                tracing::warn!(%error, "recording failed: the rest is lost");
                failed = Some(error);
            }
            if failed.is_some() {
                counts.lost.fetch_add(1, Ordering::Relaxed);
            }
            next = receiver.try_recv().ok();
        }
        if failed.is_none()
            && let Err(error) = out.flush()
        {
            failed = Some(error);
        }
    }
    match failed {
        Some(error) => Err(RecordingError::io(error)),
        None => Ok(counts.stats()),
    }
}

/// Writes a record, after a record of what was lost before it.
fn write_one(out: &mut BufWriter<File>, record: &Record, counts: &Counts) -> std::io::Result<()> {
    let unreported = counts.unreported.swap(0, Ordering::Relaxed);
    if unreported > 0 {
        let loss = Record::new(
            record.at,
            record.connection,
            RecordEvent::Unrecorded(unreported),
        );
        let bytes = format::write_record(out, &loss)?;
        counts.records.fetch_add(1, Ordering::Relaxed);
        counts.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    let bytes = format::write_record(out, record)?;
    counts.records.fetch_add(1, Ordering::Relaxed);
    counts.bytes.fetch_add(bytes, Ordering::Relaxed);
    match record.event {
        RecordEvent::Frame(_) => {
            counts.frames.fetch_add(1, Ordering::Relaxed);
        }
        RecordEvent::Opened => {
            counts.connections.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
    Ok(())
}

/// A client's end of a recorder: shared by its connects and connections.
#[derive(Clone, Debug)]
pub(crate) struct RecordTap {
    inner: Arc<Tap>,
}

#[derive(Debug)]
struct Tap {
    sender: Sender<Record>,
    recorder: Arc<Inner>,
    /// Connections opened so far: the next one's number is this plus one.
    connections: AtomicU64,
}

impl RecordTap {
    /// Records a connect's outcome; a connection comes back with its
    /// stream recorded.
    pub(crate) fn connected(&self, result: Result<Connection>) -> Result<Connection> {
        match result {
            Ok(connection) => {
                let number = self.inner.connections.fetch_add(1, Ordering::Relaxed) + 1;
                let number = u32::try_from(number).unwrap_or(u32::MAX);
                self.record(number, RecordEvent::Opened);
                let Connection { sink, stream, .. } = connection;
                let stream = RecordedStream {
                    inner: stream,
                    tap: self.clone(),
                    connection: number,
                    ended: false,
                };
                Ok(Connection::new(sink, Box::pin(stream)))
            }
            Err(error) => {
                self.record(0, RecordEvent::ConnectFailed(describe(&error)));
                Err(error)
            }
        }
    }

    /// Queues a record, never waiting: a full queue loses it, counted.
    fn record(&self, connection: u32, event: RecordEvent) {
        let at = self.inner.recorder.started.elapsed();
        let record = Record::new(at, connection, event);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.inner.sender.try_send(record)
        {
            let counts = &self.inner.recorder.progress.counts;
            if counts.lost.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!("recorder behind: records lost");
            }
            counts.unreported.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// An error with its causes, as a record keeps it.
fn describe(error: &HyperSocketError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A connection's stream, recording what it yields and how it ends.
struct RecordedStream {
    inner: MessageStream,
    tap: RecordTap,
    connection: u32,
    /// The stream said how it ended (an error, or its end).
    ended: bool,
}

impl Stream for RecordedStream {
    type Item = Result<WsMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = std::task::ready!(self.inner.as_mut().poll_next(cx));
        let event = match &item {
            Some(Ok(message)) => RecordEvent::Frame(message.clone()),
            Some(Err(error)) => {
                self.ended = true;
                RecordEvent::Failed(describe(error))
            }
            None if self.ended => return Poll::Ready(None),
            None => {
                self.ended = true;
                RecordEvent::Ended
            }
        };
        self.tap.record(self.connection, event);
        Poll::Ready(item)
    }
}

impl Drop for RecordedStream {
    fn drop(&mut self) {
        if !self.ended {
            self.tap.record(self.connection, RecordEvent::Dropped);
        }
    }
}
