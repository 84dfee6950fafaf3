//! Replaying a recording through a client: the same router, handlers and
//! settings as the recording client had, fed from the file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{HyperSocketError, MessageRouter, Result};
use tokio::sync::mpsc;

use crate::builder::{HasUrl, WebSocketClientBuilder, WithRouter};
use crate::client::WebSocketClient;
use crate::recording::replay_transport::{Feed, ReplayTransport};
use crate::recording::{Recording, RecordingError};

/// Records read ahead of the client.
const READ_AHEAD: usize = 1024;

/// How fast a [`Replay`] goes.
///
/// ```
/// use hypersockets::ReplayPace;
///
/// assert_eq!(ReplayPace::default(), ReplayPace::Fast);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayPace {
    /// As fast as the client takes it (the default).
    #[default]
    Fast,
    /// As the recording went: each record when as long has passed since
    /// the first as had when it was recorded.
    Original,
}

/// Plays a recording ([`Recorder`](crate::Recorder)) through a client
/// built as the recording one was: the same router, handlers, lanes,
/// pings, acks, logins, integrity and decompression see the same frames
/// in the same order, across the same connections, as fast as possible
/// or at the original pace.
///
/// The replay stands in for the venue: connection attempts fail and
/// succeed, frames arrive and connections end as recorded; what the
/// client writes is discarded (a Close is answered). The client
/// reconnects at once (the recording says when the venue let it).
/// Snapshots a [`SnapshotSource`](crate::SnapshotSource) fetched outside
/// the socket are not in the recording: the replay fetches them again.
/// A rotation is replayed when the client starts it: at once for a
/// venue's notice (a frame); for one due by age, only at the original
/// pace.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hypersockets::prelude::*;
/// use hypersockets::{Recorder, Replay, ReplayPace};
///
/// # let path = std::env::temp_dir().join(format!("doc-replay-{}.hsr", std::process::id()));
/// # Recorder::create(&path)?.finish().await?;
/// let builder = WebSocketClient::builder()
///     .url("wss://stream.binance.com:9443/ws/btcusdt@trade")
///     .router(PassThrough)
///     .handler((), handler_fn(|message: WsMessage| {
///         println!("{message:?}");
///         Ok::<_, BoxError>(())
///     }));
/// let summary = Replay::open(&path)?
///     .pace(ReplayPace::Fast)
///     .build(builder)?
///     .run()
///     .await?;
/// println!("{} frames over {} connections", summary.frames, summary.connections);
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Replay {
    recording: Recording,
    pace: ReplayPace,
}

impl Replay {
    /// Opens a recording to replay.
    ///
    /// # Errors
    ///
    /// As [`Recording::open`].
    pub fn open(path: impl AsRef<Path>) -> std::result::Result<Self, RecordingError> {
        Ok(Self {
            recording: Recording::open(path)?,
            pace: ReplayPace::default(),
        })
    }

    /// Sets the pace (default [`ReplayPace::Fast`]).
    ///
    /// ```
    /// # let path = std::env::temp_dir().join(format!("doc-pace-{}.hsr", std::process::id()));
    /// # drop(hypersockets::Recorder::create(&path)?);
    /// use hypersockets::{Replay, ReplayPace};
    ///
    /// let replay = Replay::open(&path)?.pace(ReplayPace::Original);
    /// # drop(replay);
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pace(mut self, pace: ReplayPace) -> Self {
        self.pace = pace;
        self
    }

    /// Builds the client from `builder` (its URL is not connected to) on
    /// the recording, and starts a thread reading the file ahead; the
    /// replay goes when [`ReplayRun::run`] is called.
    ///
    /// # Errors
    ///
    /// As [`WebSocketClientBuilder::build`]; [`HyperSocketError::Io`] if
    /// the reading thread cannot be started.
    pub fn build<R: MessageRouter>(
        self,
        builder: WebSocketClientBuilder<HasUrl, WithRouter<R>>,
    ) -> Result<ReplayRun> {
        let (records, receiver) = mpsc::channel(READ_AHEAD);
        let feed = Arc::new(Feed::new(receiver, self.pace));
        let client = builder
            .replayed(ReplayTransport::new(Arc::clone(&feed)))
            .build()?;
        let (error_tx, error_rx) = std::sync::mpsc::channel();
        let mut recording = self.recording;
        std::thread::Builder::new()
            .name("hypersockets-replay".into())
            .spawn(move || {
                for record in recording.by_ref() {
                    match record {
                        Ok(record) => {
                            if records.blocking_send(record).is_err() {
                                // The replay was dropped.
                                return;
                            }
                        }
                        Err(error) => {
                            let _ = error_tx.send(error);
                            return;
                        }
                    }
                }
            })
            .map_err(HyperSocketError::from)?;
        Ok(ReplayRun {
            client,
            feed,
            error: error_rx,
        })
    }
}

/// A replay ready to run: its client, to watch ([`metrics`](WebSocketClient::metrics),
/// [`events`](WebSocketClient::events)), and [`run`](Self::run).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use hypersockets::prelude::*;
/// use hypersockets::{Recorder, Replay};
///
/// # let path = std::env::temp_dir().join(format!("doc-run-{}.hsr", std::process::id()));
/// # Recorder::create(&path)?.finish().await?;
/// let builder = WebSocketClient::builder()
///     .url("wss://ws.kraken.com/v2")
///     .router(PassThrough)
///     .handler((), handler_fn(|_: WsMessage| Ok::<_, BoxError>(())));
/// let run = Replay::open(&path)?.build(builder)?;
/// // Anything to watch it by is taken before it runs.
/// let mut events = run.client().events();
/// let summary = run.run().await?;
/// assert_eq!(summary.frames, 0);
/// // The client's events, to its last.
/// while let Ok(event) = events.recv().await {
///     if let ClientEvent::ShutDown = event {
///         break;
///     }
/// }
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ReplayRun {
    client: WebSocketClient,
    feed: Arc<Feed>,
    error: std::sync::mpsc::Receiver<RecordingError>,
}

/// What a replay went through.
///
/// ```
/// let summary = hypersockets::ReplaySummary::default();
/// assert_eq!(summary.frames, 0);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct ReplaySummary {
    /// Frames handed to the client.
    pub frames: u64,
    /// Recorded connections opened.
    pub connections: u64,
    /// Records of connections the client had already let go (it closed
    /// one the recording client kept reading).
    pub skipped: u64,
    /// Records the recorder had lost, as the recording says.
    pub unrecorded: u64,
    /// From the start to the last handler done.
    pub elapsed: Duration,
    /// Why the file could not be read to its end (cut short, damaged):
    /// everything before it was replayed.
    pub recording_error: Option<RecordingError>,
}

impl ReplayRun {
    /// The client the recording is played through: its events and
    /// figures, as any client's. Closing it ends the replay early.
    pub fn client(&self) -> &WebSocketClient {
        &self.client
    }

    /// Plays the recording through the client, waits until all of it has
    /// gone through, then closes the client once its handlers have
    /// handled everything queued (the close timeout does not cut a replay
    /// short); returns what went through. A client that gives up (a fatal
    /// error on the way, as when recording) or is closed ends the replay
    /// there.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// Cancelling stops waiting, not the replay; the client is closed when
    /// the last handle to it goes.
    pub async fn run(self) -> Result<ReplaySummary> {
        let started = tokio::time::Instant::now();
        self.client.start()?;
        tokio::select! {
            () = self.feed.finished() => {}
            () = self.client.shut_down() => {}
        }
        match self.client.close().await {
            Ok(()) | Err(HyperSocketError::ShutDown) => {}
            Err(error) => return Err(error),
        }
        let counts = &self.feed.counts;
        let load =
            |count: &std::sync::atomic::AtomicU64| count.load(std::sync::atomic::Ordering::Relaxed);
        Ok(ReplaySummary {
            frames: load(&counts.frames),
            connections: load(&counts.connections),
            skipped: load(&counts.skipped),
            unrecorded: load(&counts.unrecorded),
            elapsed: started.elapsed(),
            recording_error: self.error.try_recv().ok(),
        })
    }
}
