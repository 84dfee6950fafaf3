//! Shared helpers of the router's integration tests.
//!
//! - [`TestRouter`]: messages are text like `k=3;seq=17`, optionally with
//!   instructions for the handler (`do=err`, `do=panic`, `do=hold`,
//!   `yield=N`, `spin=N`) or the router (`parse=panic`, `classify=panic`).
//!   It classifies (reads only the `k=` prefix, so the parse runs in the
//!   lane) when built with [`TestRouter::classifying`], except messages
//!   with `classify=no`, which it leaves to the reader's parse
//!   (`sequence=panic`: its `sequence` panics); it counts
//!   its calls. `sent=MS` is the venue's event time (`exchange_time`);
//!   `stream=NAME` places the message in a venue stream (`sequence`: the
//!   stream `StreamId::of(&[NAME])`, numbered by `seq`).
//! - [`Recorder`]: a handler that reports every message it starts on a tokio
//!   channel as a [`Seen`], then does what the message says. Holding waits on
//!   a [`Gate`] (blocking for thread lanes, awaiting for task lanes).
//! - Bounded waits: every wait here gives up after [`WAIT`].
//!
//! Each test file uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hypersockets_core::{
    BoxError, ClientEvent, MessageContext, MessageHandler, MessageRouter, ParseError, StreamId,
    StreamSequence, WsMessage,
};
use hypersockets_router::{
    Dispatch, Dispatcher, LaneConfig, LaneKind, LaneMetricsSnapshot, RouterStats,
};
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// The bound on every wait: generous, but a hung test fails instead of hanging.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// How long a future that must not complete yet is given to (wrongly)
/// complete. Not a timing assertion: it cannot complete at all until the
/// test releases what it waits for.
pub(crate) const STILL_PENDING: Duration = Duration::from_millis(150);

// ---------------------------------------------------------------------------
// Messages and the router
// ---------------------------------------------------------------------------

/// What the handler does with a message after reporting it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing more.
    #[default]
    Normal,
    /// Returns an error.
    Fail,
    /// Panics.
    Panic,
    /// Waits until the handler's gate opens.
    Hold,
}

/// The typed message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Msg {
    pub(crate) key: u32,
    pub(crate) seq: u64,
    pub(crate) action: Action,
    /// `tokio::task::yield_now` calls the handler makes first.
    pub(crate) yields: u32,
    /// `spin_loop` iterations the handler makes first.
    pub(crate) spins: u32,
    /// The key `parse_classified` was given, when it parsed this message.
    pub(crate) classified: Option<u32>,
    /// The venue's event time (`sent=`, ms since the Unix epoch).
    pub(crate) sent_ms: Option<u64>,
    /// The venue stream it belongs to (`stream=`).
    pub(crate) stream: Option<StreamId>,
    /// The router's `sequence` panics on it (`sequence=panic`).
    pub(crate) sequence_panics: bool,
}

/// A plain message for `key`.
pub(crate) fn text(key: u32, seq: u64) -> WsMessage {
    WsMessage::text(format!("k={key};seq={seq}"))
}

/// A message for `key` with extra fields, e.g. `"do=panic"`.
pub(crate) fn text_with(key: u32, seq: u64, extra: &str) -> WsMessage {
    WsMessage::text(format!("k={key};seq={seq};{extra}"))
}

/// What the router was asked to do, and where.
#[derive(Debug, Default)]
pub(crate) struct RouterCalls {
    pub(crate) classify: AtomicUsize,
    pub(crate) parse: AtomicUsize,
    pub(crate) parse_classified: AtomicUsize,
    pub(crate) sequence: AtomicUsize,
    /// The thread of every `parse_classified` call.
    pub(crate) parse_classified_on: Mutex<Vec<(ThreadId, Option<String>)>>,
}

impl RouterCalls {
    pub(crate) fn parses(&self) -> usize {
        self.parse.load(Ordering::SeqCst)
    }

    pub(crate) fn classified_parses(&self) -> usize {
        self.parse_classified.load(Ordering::SeqCst)
    }

    pub(crate) fn sequences(&self) -> usize {
        self.sequence.load(Ordering::SeqCst)
    }

    pub(crate) fn classified_parse_threads(&self) -> Vec<(ThreadId, Option<String>)> {
        self.parse_classified_on.lock().unwrap().clone()
    }
}

/// Routes `k=N;seq=M[;...]` text messages by `N`.
#[derive(Debug, Default)]
pub(crate) struct TestRouter {
    classify: bool,
    calls: Arc<RouterCalls>,
}

impl TestRouter {
    /// Parses everything on the reader (no `classify`).
    pub(crate) fn parsing() -> Self {
        Self::new(false)
    }

    /// Classifies by the `k=` prefix: the parse runs in the lane.
    pub(crate) fn classifying() -> Self {
        Self::new(true)
    }

    pub(crate) fn new(classify: bool) -> Self {
        Self {
            classify,
            calls: Arc::default(),
        }
    }

    /// The call counters (shared with the router, so its strong count also
    /// tells whether every copy of the router has been dropped).
    pub(crate) fn calls(&self) -> Arc<RouterCalls> {
        Arc::clone(&self.calls)
    }

    fn parse_text(message: &WsMessage) -> Result<Msg, ParseError> {
        let text = message
            .as_text()
            .ok_or_else(|| ParseError::new("expected text"))?;
        let mut msg = Msg::default();
        let (mut key, mut seq) = (None, None);
        for field in text.split(';') {
            let (name, value) = field
                .split_once('=')
                .ok_or_else(|| ParseError::new(format!("bad field {field:?}")))?;
            let number = || {
                value
                    .parse::<u64>()
                    .map_err(|_| ParseError::new(format!("{name}: not a number: {value:?}")))
            };
            match name {
                "k" => key = Some(u32::try_from(number()?).map_err(|_| ParseError::new("k"))?),
                "seq" => seq = Some(number()?),
                "yield" => msg.yields = u32::try_from(number()?).unwrap_or(u32::MAX),
                "spin" => msg.spins = u32::try_from(number()?).unwrap_or(u32::MAX),
                "sent" => msg.sent_ms = Some(number()?),
                "stream" => msg.stream = Some(StreamId::of(&[value])),
                "do" => {
                    msg.action = match value {
                        "err" => Action::Fail,
                        "panic" => Action::Panic,
                        "hold" => Action::Hold,
                        other => return Err(ParseError::new(format!("unknown action {other:?}"))),
                    }
                }
                "parse" if value == "panic" => panic!("parse boom: {text}"),
                "sequence" if value == "panic" => msg.sequence_panics = true,
                _ => {}
            }
        }
        msg.key = key.ok_or_else(|| ParseError::new("no key"))?;
        msg.seq = seq.ok_or_else(|| ParseError::new("no seq"))?;
        Ok(msg)
    }
}

impl MessageRouter for TestRouter {
    type Message = Msg;
    type RouteKey = u32;

    fn parse(&self, message: &WsMessage) -> Result<Msg, ParseError> {
        self.calls.parse.fetch_add(1, Ordering::SeqCst);
        Self::parse_text(message)
    }

    fn route_key(&self, message: &Msg) -> u32 {
        message.key
    }

    fn exchange_time(&self, message: &Msg) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::from_millis(message.sent_ms?))
    }

    fn sequence(&self, message: &Msg) -> Option<StreamSequence> {
        self.calls.sequence.fetch_add(1, Ordering::SeqCst);
        if message.sequence_panics {
            panic!("sequence boom on {}", message.seq);
        }
        Some(StreamSequence::new(message.stream?, message.seq))
    }

    fn classify(&self, message: &WsMessage) -> Option<u32> {
        if !self.classify {
            return None;
        }
        self.calls.classify.fetch_add(1, Ordering::SeqCst);
        let text = message.as_text()?;
        if text.contains("classify=panic") {
            panic!("classify boom: {text}");
        }
        if text.contains("classify=no") {
            return None;
        }
        let first = text.split(';').next()?;
        first.strip_prefix("k=")?.parse().ok()
    }

    fn parse_classified(&self, key: &u32, message: &WsMessage) -> Result<Msg, ParseError> {
        self.calls.parse_classified.fetch_add(1, Ordering::SeqCst);
        let current = std::thread::current();
        self.calls
            .parse_classified_on
            .lock()
            .unwrap()
            .push((current.id(), current.name().map(str::to_owned)));
        let mut msg = Self::parse_text(message)?;
        msg.classified = Some(*key);
        Ok(msg)
    }
}

// ---------------------------------------------------------------------------
// Gates
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct GateInner {
    open: Mutex<bool>,
    changed: Condvar,
    notify: Notify,
}

/// Closed until [`open`](Gate::open); held handlers wait on it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Gate(Arc<GateInner>);

/// How a held handler waits on its gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GateWait {
    /// Blocks the thread (what a thread lane's handler may do).
    Blocking,
    /// Awaits (what a task lane's handler must do).
    Async,
}

impl GateWait {
    /// The natural way for a handler on a lane of `kind` to wait.
    pub(crate) fn for_kind(kind: LaneKind) -> Self {
        match kind {
            LaneKind::Task | LaneKind::Pool => GateWait::Async,
            _ => GateWait::Blocking,
        }
    }
}

impl Gate {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn open(&self) {
        *self.0.open.lock().unwrap() = true;
        self.0.changed.notify_all();
        self.0.notify.notify_waiters();
    }

    pub(crate) fn is_open(&self) -> bool {
        *self.0.open.lock().unwrap()
    }

    /// Blocks until open (panics after twice [`WAIT`]).
    pub(crate) fn wait_blocking(&self) {
        let open = self.0.open.lock().unwrap();
        let (_open, result) = self
            .0
            .changed
            .wait_timeout_while(open, WAIT * 2, |open| !*open)
            .unwrap();
        assert!(!result.timed_out(), "the gate never opened");
    }

    /// Awaits until open (panics after twice [`WAIT`]).
    pub(crate) async fn wait(&self) {
        let wait = async {
            loop {
                let mut notified = pin!(self.0.notify.notified());
                notified.as_mut().enable();
                if self.is_open() {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(WAIT * 2, wait)
            .await
            .expect("the gate never opened");
    }
}

// ---------------------------------------------------------------------------
// Recording handlers
// ---------------------------------------------------------------------------

/// A message a handler started on.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    /// The handler's lane: its key, `None` for the fallback.
    pub(crate) lane: Option<u32>,
    pub(crate) msg: Msg,
    pub(crate) thread: ThreadId,
    pub(crate) thread_name: Option<String>,
}

impl Seen {
    fn here(lane: Option<u32>, msg: Msg) -> Self {
        let current = std::thread::current();
        Self {
            lane,
            msg,
            thread: current.id(),
            thread_name: current.name().map(str::to_owned),
        }
    }
}

/// A channel for [`Seen`] reports.
pub(crate) fn seen_channel() -> (UnboundedSender<Seen>, UnboundedReceiver<Seen>) {
    unbounded_channel()
}

/// Reports each message on a channel when it starts on it, then does what
/// the message says. Dropping it (all copies) closes the channel, and its
/// probe is released before that (see its `Drop`).
#[derive(Debug)]
pub(crate) struct Recorder {
    lane: Option<u32>,
    seen: UnboundedSender<Seen>,
    gate: Option<(Gate, GateWait)>,
    probe: Option<Arc<()>>,
}

impl Drop for Recorder {
    /// Releases the probe before the channel sender: a test that has seen
    /// the channel close (every sender gone) may then read the probe's
    /// count. The handler is dropped on its lane's thread, so with the
    /// fields' own order (sender, then probe) the test could read the count
    /// between the two.
    fn drop(&mut self) {
        self.probe = None;
    }
}

impl Recorder {
    /// The handler of `lane` (`None`: the fallback).
    pub(crate) fn new(lane: Option<u32>, seen: &UnboundedSender<Seen>) -> Self {
        Self {
            lane,
            seen: seen.clone(),
            gate: None,
            probe: None,
        }
    }

    /// Messages with `do=hold` wait on `gate`.
    pub(crate) fn gated(mut self, gate: &Gate, wait: GateWait) -> Self {
        self.gate = Some((gate.clone(), wait));
        self
    }

    /// Keeps a clone of `probe` for as long as the handler lives.
    pub(crate) fn probe(mut self, probe: &Arc<()>) -> Self {
        self.probe = Some(Arc::clone(probe));
        self
    }
}

impl MessageHandler<Msg> for Recorder {
    async fn handle(&mut self, msg: Msg) -> Result<(), BoxError> {
        let _ = self.seen.send(Seen::here(self.lane, msg.clone()));
        for _ in 0..msg.yields {
            tokio::task::yield_now().await;
        }
        for _ in 0..msg.spins {
            std::hint::spin_loop();
        }
        match msg.action {
            Action::Normal => Ok(()),
            Action::Fail => Err(format!("handler failed on {}", msg.seq).into()),
            Action::Panic => panic!("handler boom on {}", msg.seq),
            Action::Hold => {
                let (gate, wait) = self.gate.as_ref().expect("do=hold needs a gated handler");
                match wait {
                    GateWait::Blocking => gate.wait_blocking(),
                    GateWait::Async => gate.wait().await,
                }
                Ok(())
            }
        }
    }
}

/// An inline handler that reports like [`Recorder`] (it cannot hold).
pub(crate) fn inline_recorder(
    lane: u32,
    seen: &UnboundedSender<Seen>,
) -> impl FnMut(Msg) -> Result<(), BoxError> + Send + 'static {
    let seen = seen.clone();
    move |msg: Msg| {
        let _ = seen.send(Seen::here(Some(lane), msg.clone()));
        for _ in 0..msg.spins {
            std::hint::spin_loop();
        }
        match msg.action {
            Action::Normal => Ok(()),
            Action::Fail => Err(format!("inline handler failed on {}", msg.seq).into()),
            Action::Panic => panic!("inline handler boom on {}", msg.seq),
            Action::Hold => panic!("an inline handler must never hold the reader"),
        }
    }
}

// ---------------------------------------------------------------------------
// Dispatching
// ---------------------------------------------------------------------------

/// Dispatches `message` as a read loop does: when it is held
/// ([`Dispatch::Blocked`]), waits until it is queued. Returns what became
/// of it (`Queued` for a held message once queued).
pub(crate) async fn dispatch<R: MessageRouter>(
    dispatcher: &mut Dispatcher<R>,
    message: WsMessage,
) -> Dispatch {
    match dispatcher.dispatch(message, MessageContext::now(1)) {
        Dispatch::Blocked => dispatcher.ready().await,
        outcome => outcome,
    }
}

// ---------------------------------------------------------------------------
// Bounded waits
// ---------------------------------------------------------------------------

/// The next report (panics after [`WAIT`] or if every handler is gone).
pub(crate) async fn next_seen(seen: &mut UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(WAIT, seen.recv())
        .await
        .expect("timed out waiting for a handler")
        .expect("every handler is gone")
}

/// The next `count` reports.
pub(crate) async fn take_seen(seen: &mut UnboundedReceiver<Seen>, count: usize) -> Vec<Seen> {
    let mut all = Vec::with_capacity(count);
    for _ in 0..count {
        all.push(next_seen(seen).await);
    }
    all
}

/// Every report until the channel closes, i.e. until every handler holding
/// a sender has been dropped (panics after [`WAIT`]). The test must have
/// dropped its own sender.
pub(crate) async fn until_closed(seen: &mut UnboundedReceiver<Seen>) -> Vec<Seen> {
    let collect = async {
        let mut all = Vec::new();
        while let Some(one) = seen.recv().await {
            all.push(one);
        }
        all
    };
    tokio::time::timeout(WAIT, collect)
        .await
        .expect("timed out waiting for the handlers to be dropped")
}

/// The reports already there, without waiting.
pub(crate) fn drain_seen(seen: &mut UnboundedReceiver<Seen>) -> Vec<Seen> {
    let mut all = Vec::new();
    while let Ok(one) = seen.try_recv() {
        all.push(one);
    }
    all
}

/// The sequence numbers of some reports.
pub(crate) fn seqs(seen: &[Seen]) -> Vec<u64> {
    seen.iter().map(|one| one.msg.seq).collect()
}

/// Whether `future` is still pending after [`STILL_PENDING`]. It is polled
/// in place, so it can be awaited to completion afterwards.
pub(crate) async fn still_pending<F: Future>(future: Pin<&mut F>) -> bool {
    tokio::time::timeout(STILL_PENDING, future).await.is_err()
}

/// Awaits `future`, panicking after [`WAIT`].
pub(crate) async fn within<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WAIT, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Polls `future` once with a waker that does nothing: for code that runs
/// without a tokio runtime and never really waits.
pub(crate) fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    let mut future = pin!(future);
    future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
}

// ---------------------------------------------------------------------------
// Events and figures
// ---------------------------------------------------------------------------

/// An `on_event` callback that forwards events to a channel.
pub(crate) fn event_channel() -> (
    impl Fn(ClientEvent) + Send + Sync + 'static,
    UnboundedReceiver<ClientEvent>,
) {
    let (tx, rx) = unbounded_channel();
    (
        move |event| {
            let _ = tx.send(event);
        },
        rx,
    )
}

/// The next event (panics after [`WAIT`]).
pub(crate) async fn next_event(events: &mut UnboundedReceiver<ClientEvent>) -> ClientEvent {
    within("an event", events.recv())
        .await
        .expect("the event sink is gone")
}

/// Lane settings of `kind`, otherwise the defaults.
pub(crate) fn lane(kind: LaneKind) -> LaneConfig {
    LaneConfig::default().kind(kind)
}

/// The figures of the lane with this `Debug`-formatted key.
pub(crate) fn lane_figures(stats: &RouterStats, key: &str) -> LaneMetricsSnapshot {
    stats
        .snapshot()
        .lane(key)
        .cloned()
        .unwrap_or_else(|| panic!("no lane {key:?}"))
}

/// Both lane kinds.
pub(crate) const KINDS: [LaneKind; 2] = [LaneKind::Thread, LaneKind::Task];
