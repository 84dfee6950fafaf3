//! The transport a replay runs the client on: connections opened, frames
//! received and connections ended come from the recording, in the order
//! it holds them across every connection, so the client goes through what
//! it went through when it recorded: its logins, acks, pings, lanes,
//! integrity and reconnections alike. What it writes is discarded, but a
//! Close is answered, as a venue would.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::Sink;
use futures_util::Stream;
use hypersockets_core::{
    BoxFuture, CloseFrame, ConnectRequest, Connection, HyperSocketError, Result, Transport,
    WsMessage,
};
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, Sleep};

use crate::recording::format::{Record, RecordEvent};
use crate::recording::replay::ReplayPace;

/// Who a record is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Owner {
    /// Connection attempts.
    Connector,
    Connection(u32),
}

/// The recording's records, handed out one at a time to whoever each is
/// for: connection attempts, or one connection's stream.
#[derive(Debug)]
pub(crate) struct Feed {
    state: Mutex<FeedState>,
    /// Set once the recording is used up.
    finished: watch::Sender<bool>,
    pub(crate) counts: FeedCounts,
}

/// What the feed handed out.
#[derive(Debug, Default)]
pub(crate) struct FeedCounts {
    pub(crate) frames: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) skipped: AtomicU64,
    pub(crate) unrecorded: AtomicU64,
}

#[derive(Debug)]
struct FeedState {
    records: mpsc::Receiver<Record>,
    /// The record at the cursor: nobody gets a later one before it is
    /// taken (or skipped).
    next: Option<Record>,
    /// The recording is used up.
    end: bool,
    /// The highest connection opened so far.
    opened: u32,
    /// Connections the client let go: their records are skipped.
    gone: HashSet<u32>,
    wakers: HashMap<Owner, Waker>,
    pace: ReplayPace,
    /// When the first record was handed out, and its time in the
    /// recording: the original pace is kept from there.
    clock: Option<(Instant, Duration)>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Feed {
    pub(crate) fn new(records: mpsc::Receiver<Record>, pace: ReplayPace) -> Self {
        Self {
            state: Mutex::new(FeedState {
                records,
                next: None,
                end: false,
                opened: 0,
                gone: HashSet::new(),
                wakers: HashMap::new(),
                pace,
                clock: None,
                sleep: None,
            }),
            finished: watch::Sender::new(false),
            counts: FeedCounts::default(),
        }
    }

    /// Waits until every record was handed out or skipped.
    ///
    /// Cancel safe.
    pub(crate) async fn finished(&self) {
        let mut finished = self.finished.subscribe();
        // The sender lives in `self`: waiting cannot fail.
        let _ = finished.wait_for(|finished| *finished).await;
    }

    fn lock(&self) -> MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next record for `owner`, when it is the next in the
    /// recording (and, at the original pace, its time has come). Never
    /// ready once the recording is used up.
    fn poll_take(&self, owner: Owner, cx: &mut Context<'_>) -> Poll<Record> {
        let mut state = self.lock();
        loop {
            if state.next.is_none() {
                if state.end {
                    return state.wait(owner, cx);
                }
                match state.records.poll_recv(cx) {
                    Poll::Ready(Some(record)) => state.next = Some(record),
                    Poll::Ready(None) => {
                        state.end = true;
                        self.finished.send_replace(true);
                        tracing::debug!("replay: recording used up");
                        return state.wait(owner, cx);
                    }
                    Poll::Pending => return state.wait(owner, cx),
                }
            }
            let Some(record) = &state.next else { continue };
            let belongs = match &record.event {
                RecordEvent::Unrecorded(lost) => {
                    self.counts.unrecorded.fetch_add(*lost, Ordering::Relaxed);
                    state.next = None;
                    continue;
                }
                RecordEvent::Opened | RecordEvent::ConnectFailed(_) => Owner::Connector,
                _ => Owner::Connection(record.connection),
            };
            if let Owner::Connection(number) = belongs
                && (number > state.opened || state.gone.contains(&number))
            {
                // The client already let this connection go (or the
                // recording names one never opened): nobody will read it.
                self.counts.skipped.fetch_add(1, Ordering::Relaxed);
                state.next = None;
                continue;
            }
            if belongs != owner {
                if let Some(waker) = state.wakers.remove(&belongs) {
                    waker.wake();
                }
                return state.wait(owner, cx);
            }
            let at = record.at;
            if state.not_yet(at, cx) {
                return state.wait(owner, cx);
            }
            let Some(record) = state.next.take() else {
                continue;
            };
            match record.event {
                RecordEvent::Opened => {
                    state.opened = state.opened.max(record.connection);
                    self.counts.connections.fetch_add(1, Ordering::Relaxed);
                }
                RecordEvent::Frame(_) => {
                    self.counts.frames.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            return Poll::Ready(record);
        }
    }

    /// The client let a connection go: its records are skipped, and
    /// whoever waited behind them reads on.
    fn let_go(&self, number: u32) {
        let mut state = self.lock();
        state.gone.insert(number);
        for (_, waker) in state.wakers.drain() {
            waker.wake();
        }
    }

    fn wake(&self, owner: Owner) {
        if let Some(waker) = self.lock().wakers.remove(&owner) {
            waker.wake();
        }
    }
}

impl FeedState {
    fn wait<T>(&mut self, owner: Owner, cx: &mut Context<'_>) -> Poll<T> {
        self.wakers.insert(owner, cx.waker().clone());
        Poll::Pending
    }

    /// Whether a record of time `at` must still wait, at the original
    /// pace (the sleep then wakes the caller).
    fn not_yet(&mut self, at: Duration, cx: &mut Context<'_>) -> bool {
        if self.pace == ReplayPace::Fast {
            return false;
        }
        let (start, first) = *self.clock.get_or_insert_with(|| (Instant::now(), at));
        let Some(due) = start.checked_add(at.saturating_sub(first)) else {
            return false;
        };
        if due <= Instant::now() {
            return false;
        }
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if sleep.deadline() != due {
            sleep.as_mut().reset(due);
        }
        sleep.as_mut().poll(cx).is_pending()
    }
}

/// Opens the recording's connections, in its order.
#[derive(Debug)]
pub(crate) struct ReplayTransport {
    feed: Arc<Feed>,
}

impl ReplayTransport {
    pub(crate) fn new(feed: Arc<Feed>) -> Self {
        Self { feed }
    }
}

impl Transport for ReplayTransport {
    fn connect(&self, _request: ConnectRequest) -> BoxFuture<'static, Result<Connection>> {
        let feed = Arc::clone(&self.feed);
        Box::pin(async move {
            let record = std::future::poll_fn(|cx| feed.poll_take(Owner::Connector, cx)).await;
            match record.event {
                RecordEvent::ConnectFailed(error) => Err(recorded(&error)),
                _ => Ok(ReplayConnection::open(feed, record.connection)),
            }
        })
    }
}

/// A recorded failure, as the client meets it again.
fn recorded(error: &str) -> HyperSocketError {
    HyperSocketError::from(std::io::Error::other(format!("recorded: {error}")))
}

/// One recorded connection: its stream gives what the recording holds
/// for it; its sink takes what the client writes.
struct ReplayConnection {
    feed: Arc<Feed>,
    number: u32,
    /// The client wrote a Close: answered, then the stream ends.
    closed_by_client: Arc<AtomicBool>,
    /// The stream said how it ended.
    ended: bool,
}

impl ReplayConnection {
    fn open(feed: Arc<Feed>, number: u32) -> Connection {
        let closed_by_client = Arc::new(AtomicBool::new(false));
        let sink = DiscardSink {
            feed: Arc::clone(&feed),
            number,
            closed_by_client: Arc::clone(&closed_by_client),
        };
        let stream = Self {
            feed,
            number,
            closed_by_client,
            ended: false,
        };
        Connection::new(Box::pin(sink), Box::pin(stream))
    }
}

impl Stream for ReplayConnection {
    type Item = Result<WsMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if self.closed_by_client.load(Ordering::Acquire) {
            // As a venue answers a Close; the rest of this connection's
            // records are for a client that did not close here.
            self.ended = true;
            self.feed.let_go(self.number);
            let answer = CloseFrame::new(1000, "");
            return Poll::Ready(Some(Ok(WsMessage::Close(Some(answer)))));
        }
        let record = std::task::ready!(self.feed.poll_take(Owner::Connection(self.number), cx));
        let item = match record.event {
            RecordEvent::Frame(message) => return Poll::Ready(Some(Ok(message))),
            RecordEvent::Ended => None,
            RecordEvent::Failed(error) => Some(Err(recorded(&error))),
            // The recording client ended the connection itself here, and
            // this one has not (a timer that ran on another clock): it
            // ends here too, so that what follows follows.
            _ => Some(Err(recorded("the client ended the connection here"))),
        };
        self.ended = true;
        Poll::Ready(item)
    }
}

impl Drop for ReplayConnection {
    fn drop(&mut self) {
        self.feed.let_go(self.number);
    }
}

/// Takes what the client writes; a Close makes the stream answer.
struct DiscardSink {
    feed: Arc<Feed>,
    number: u32,
    closed_by_client: Arc<AtomicBool>,
}

impl DiscardSink {
    fn close(&self) {
        if !self.closed_by_client.swap(true, Ordering::AcqRel) {
            self.feed.wake(Owner::Connection(self.number));
        }
    }
}

impl Sink<WsMessage> for DiscardSink {
    type Error = HyperSocketError;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: WsMessage) -> Result<()> {
        if message.is_close() {
            self.close();
        }
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}
