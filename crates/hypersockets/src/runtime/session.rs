//! One connection, from the handshake's end to its loss, as one read loop
//! that moves through phases: authenticating (when the auth provider waits
//! for the server's verdict) → restoring subscriptions → live. Every phase
//! reads the socket the same way (receive → keepalive → auth verdict →
//! dispatch), with the user's commands and the keepalive timers
//! interleaved.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use hypersockets_core::{
    Admitted, AuthProvider, AuthVerdict, BoxError, ClientEvent, Connection, DisconnectReason,
    HyperSocketError, MessageContext, MessageRouter, MessageStream, Result, RotationCause,
    SequenceReader, StaleCause, StreamId, StreamSequence, StreamTracker, WsMessage,
};
use hypersockets_router::{Dispatch, Routed, Routing, ShutdownMode};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

use crate::pacing::Pacer;
use crate::runtime::confirmations::{self, Confirmations, Verdict};
use crate::runtime::connection_task::answer_offline;
use crate::runtime::inflater::Inflater;
use crate::runtime::integrity::Fetched;
use crate::runtime::keepalive::{Answer, Due, Keepalive};
use crate::runtime::overlap::{Overlap, Source};
use crate::runtime::requests::{RequestSender, request_queue};
use crate::runtime::rotation::{Handover, Predecessor, Successor, SuccessorStep};
use crate::runtime::writer::{self, Outgoing};
use crate::runtime::{Command, Runtime, Shared, Transition};
use crate::subscription::Subscription;

/// How long a failed snapshot fetch waits before it is tried again.
const SNAPSHOT_RETRY: Duration = Duration::from_secs(1);

/// Messages read straight from the socket's buffer before commands and
/// timers get a look in.
const BURST: u32 = 64;

/// Least room in the writer's keepalive queue (pongs, heartbeats, pings,
/// Close) and requests queue (login, subscriptions), whatever the
/// user-send queue's size. Keepalive never fills its queue but with a
/// stuck writer; the user's subscription changes wait for room in theirs.
const CONTROL_QUEUE_MIN: usize = 64;

/// How a session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// The connection was lost: reconnect per the strategy.
    Lost(DisconnectReason),
    /// The user closed the client.
    Closed(ShutdownMode),
    /// Reconnecting cannot help (fatal auth rejection, bad configuration).
    Fatal(HyperSocketError),
    /// The successor is connected: its session takes over, reading this
    /// connection beside its own until every stream has switched.
    Rotated(Box<Handover>),
}

impl SessionEnd {
    /// Lost through `error`, or fatal when reconnecting cannot help.
    pub(crate) fn from_error(error: HyperSocketError) -> Self {
        if error.is_retryable() {
            Self::Lost(DisconnectReason::Error(Arc::new(error)))
        } else {
            Self::Fatal(error)
        }
    }
}

/// Where the session is.
enum Phase {
    /// Waiting for the auth provider's verdict, until `deadline`.
    Authenticating {
        auth: Arc<dyn AuthProvider>,
        deadline: Instant,
    },
    /// Authenticated; the restored subscriptions are queued to the writer
    /// (paced) and `written` says when the last is on the wire. The socket
    /// is read (and keepalive answered) meanwhile.
    Restoring {
        written: oneshot::Receiver<Result<()>>,
    },
    /// Connected, authenticated and subscribed.
    Live,
}

/// One step of the read loop.
enum Step {
    Message(WsMessage),
    Ended(DisconnectReason),
    Command(Option<Command>),
    Keepalive(Due),
    AuthTimedOut,
    /// The restored subscriptions are written (or could not be).
    Restored(Result<()>),
    /// A subscription request was written, or went unanswered.
    Subscription(confirmations::Due),
    /// A frame (or the end) of the connection being replaced.
    Old(Option<Result<WsMessage>>),
    /// The successor's progress.
    Successor(SuccessorStep),
    /// The overlap has lasted as long as it may.
    OverlapOver,
    /// A snapshot fetch ended.
    Fetched(Fetched),
    /// Handlers asked for streams to be resynchronised.
    Resync(Vec<(StreamId, StaleCause)>),
}

/// What became of a step, short of waiting.
enum Flow {
    Continue,
    /// The server accepted the login: restore subscriptions, go live.
    Authenticated,
    /// Its lane is full (`Block`): the dispatcher holds it; wait for room.
    Blocked,
    End(SessionEnd),
}

struct Session<'a, R: MessageRouter> {
    rt: &'a mut Runtime<R>,
    phase: Phase,
    reconnect: bool,
    stream: MessageStream,
    /// The writer's keepalive queue: pongs, heartbeats, Pings, Close.
    writer: mpsc::Sender<Outgoing>,
    /// The writer's queue for the session's requests (login,
    /// subscriptions), paced apart from keepalive. Unbounded so that a
    /// paced restore never makes the reader wait; it holds at most the
    /// registry's subscriptions and the changes commands asked for.
    requests: RequestSender,
    /// The writer's queue for user sends, handed to the outbox when the
    /// connection goes live.
    user_sends: Option<mpsc::Sender<Outgoing>>,
    writer_failed: oneshot::Receiver<HyperSocketError>,
    keepalive: Keepalive,
    /// Inflates compressed frames, when asked for.
    inflater: Option<Inflater>,
    /// Subscriptions sent on this connection.
    sent: HashSet<String>,
    /// The number the next topic request is written with.
    request_id: u64,
    /// Subscription requests waiting for the venue's answer (with
    /// `SubscriptionAcks`).
    confirmations: Option<Confirmations>,
    /// Our Close frame is queued: frames still go through `on_message`,
    /// but nothing more is written.
    closing: bool,
    /// When the user's close must be over: the writer gets no longer.
    close_deadline: Option<Instant>,
    burst: u32,
    /// The connection that will replace this one.
    successor: Successor,
    /// A rotation's streams, from its start until the old connection is
    /// closed: set on both sides.
    overlap: Option<Overlap<(WsMessage, MessageContext)>>,
    /// The connection this one replaces, read until every stream switched.
    predecessor: Option<Predecessor>,
    /// Messages the overlap lets through, waiting to be dispatched.
    release: VecDeque<(WsMessage, MessageContext)>,
    /// This connection's number (see `MessageContext::connection`).
    connection: u64,
    /// When the reader last took messages off the socket: read once per
    /// wake-up and once per burst of messages at hand, not per message
    /// (the clock costs ~40 ns here, a few % of a message's whole path).
    received_at: std::time::Instant,
    /// When the overlap must end: the predecessor is closed, or (once it
    /// is) the new connection's copies are no longer filtered.
    overlap_deadline: Option<Instant>,
}

/// Runs a session on a fresh connection; `reconnect` says whether it is
/// the client's first connection attempt or a later one.
pub(crate) async fn run<R: MessageRouter>(
    rt: &mut Runtime<R>,
    connection: Connection,
    reconnect: bool,
    old: Option<(Predecessor, Overlap<(WsMessage, MessageContext)>)>,
) -> SessionEnd {
    rt.streams.connections += 1;
    let number = rt.streams.connections;
    let Connection { sink, stream, .. } = connection;
    let timeouts = rt.config.timeouts;
    let (control_tx, control_rx) = mpsc::channel(rt.config.writer_queue.max(CONTROL_QUEUE_MIN));
    let (requests_tx, requests_rx) = request_queue();
    let (data_tx, data_rx) = mpsc::channel(rt.config.writer_queue);
    let (failed_tx, failed_rx) = oneshot::channel();
    let writer_task = tokio::spawn(writer::run(
        sink,
        writer::Queues {
            keepalive: control_rx,
            requests: requests_rx,
            data: data_rx,
        },
        Pacer::new(rt.config.pacing),
        (timeouts.write, timeouts.close),
        Arc::clone(&rt.shared),
        failed_tx,
    ));
    let keepalive = Keepalive::start(&rt.config.keepalive);
    let inflater = Inflater::new(rt.config.decompression, rt.config.limits.max_message_size);
    let confirmations = rt.config.acks.clone().map(|acks| {
        Confirmations::new(
            acks,
            rt.config.subscribe_timeout,
            rt.config.subscribe_attempts,
        )
    });
    let (predecessor, overlap) = old.unzip();
    let successor = Successor::idle(rt.config.rotation.rotates_after());
    let mut session = Session {
        successor,
        overlap,
        predecessor,
        release: VecDeque::new(),
        connection: number,
        received_at: std::time::Instant::now(),
        overlap_deadline: None,
        rt,
        phase: Phase::Live,
        reconnect,
        stream,
        writer: control_tx,
        requests: requests_tx,
        user_sends: Some(data_tx),
        writer_failed: failed_rx,
        keepalive,
        inflater,
        sent: HashSet::new(),
        request_id: 0,
        confirmations,
        closing: false,
        close_deadline: None,
        burst: 0,
    };
    let end = session.drive().await;
    // A predecessor still read ends with this session: what its successor
    // held is delivered first.
    if session.predecessor.is_some() {
        session.retire_predecessor();
    }
    // What was read before the end reaches the lanes now, not when the
    // next connection first waits (after a backoff or a `Retry-After`).
    session.rt.dispatcher.flush();
    let Session {
        rt,
        stream,
        writer,
        requests,
        close_deadline,
        keepalive,
        inflater,
        overlap,
        ..
    } = session;
    drop(requests);
    if let SessionEnd::Rotated(mut handover) = end {
        // Handed over: this connection stays open, user sends included,
        // until its successor has taken every stream over.
        let predecessor = Predecessor {
            connection: number,
            stream,
            writer,
            writer_task,
            keepalive,
            inflater,
        };
        handover.old = Some((predecessor, overlap.unwrap_or_default()));
        return SessionEnd::Rotated(handover);
    }
    // No user send may wait for this connection any more.
    rt.shared.outbox.shut();
    // A peer that broke the protocol is told how (1002, 1007, 1009) before
    // the socket closes; otherwise the sink's close sends a bare Close.
    if let SessionEnd::Lost(DisconnectReason::Error(error)) = &end
        && let Some(code) = error.close_code()
    {
        let message = WsMessage::close(code, "");
        let _ = writer.try_send(Outgoing::new(message));
    }
    // Closing the keepalive queue makes the writer refuse what users still
    // queued and close the sink (a Close frame).
    drop(writer);
    // A user's close is bounded by its deadline, even with the writer
    // stuck on a peer that stopped reading; otherwise the writer gets its
    // write timeout to fail and the Close frame's time.
    let writer_deadline = match (&end, close_deadline) {
        (SessionEnd::Closed(_), Some(deadline)) => deadline,
        _ => Instant::now() + timeouts.close + timeouts.write,
    };
    let mut writer_task = writer_task;
    if timeout_at(writer_deadline, &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    end
}

impl<R: MessageRouter> Session<'_, R> {
    async fn drive(&mut self) -> SessionEnd {
        if let Err(end) = self.log_in().await {
            return end;
        }
        loop {
            // Messages the socket has already buffered are handled without
            // creating a future for each: only an empty socket, a full
            // `Block` lane or a control step awaits.
            let step = match self.step_at_hand() {
                Some(step) => step,
                None => self.wait_step().await,
            };
            let flow = match step {
                Step::Message(message) => self.on_message(message),
                Step::Ended(reason) => Flow::End(SessionEnd::Lost(reason)),
                Step::Command(command) => self.on_command(command).await,
                Step::Keepalive(due) => self.on_keepalive(due),
                Step::Subscription(due) => self.on_subscription_due(due),
                Step::Restored(Ok(())) => {
                    self.announce_live();
                    self.retire_if_settled(Flow::Continue)
                }
                Step::Restored(Err(error)) => Flow::End(SessionEnd::from_error(error)),
                Step::Old(item) => self.on_old(item),
                Step::Successor(step) => self.on_successor(step),
                Step::OverlapOver if self.predecessor.is_some() => {
                    tracing::debug!("overlap over: the old connection is closed");
                    self.retire_predecessor()
                }
                Step::OverlapOver => {
                    self.finish_rotation();
                    Flow::Continue
                }
                Step::Fetched(fetched) => self.on_fetched(fetched),
                Step::Resync(requests) => self.on_resync_requests(requests),
                Step::AuthTimedOut => {
                    let error = HyperSocketError::timeout("auth", self.rt.config.timeouts.auth);
                    self.rt.shared.emit(ClientEvent::AuthFailed {
                        reason: error.to_string(),
                        fatal: false,
                    });
                    Flow::End(SessionEnd::from_error(error))
                }
            };
            let end = match flow {
                Flow::Continue => None,
                Flow::Authenticated => self.go_live().err(),
                Flow::Blocked => self.wait_for_lane().await,
                Flow::End(end) => Some(end),
            };
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Sends the auth provider's messages; goes live at once unless the
    /// provider waits for the server's verdict.
    async fn log_in(&mut self) -> Result<(), SessionEnd> {
        let Some(auth) = self.rt.config.auth.clone() else {
            return self.go_live();
        };
        let Some(messages) = self
            .login_messages(&*auth)
            .await
            .map_err(SessionEnd::Closed)?
        else {
            return Err(auth_panicked());
        };
        let messages = messages.map_err(|source| {
            let reason = source.to_string();
            self.rt.shared.emit(ClientEvent::AuthFailed {
                reason: reason.clone(),
                fatal: false,
            });
            SessionEnd::from_error(HyperSocketError::Auth {
                reason,
                fatal: false,
            })
        })?;
        for message in messages {
            self.write(message).await?;
        }
        let Some(awaits_response) = self
            .rt
            .shared
            .caught("auth provider", || auth.awaits_response())
        else {
            return Err(auth_panicked());
        };
        if !awaits_response {
            return self.go_live();
        }
        self.phase = Phase::Authenticating {
            auth,
            deadline: Instant::now() + self.rt.config.timeouts.auth,
        };
        Ok(())
    }

    /// Asks the auth provider for its login, answering commands meanwhile
    /// (the provider may wait on a REST call): `Err` when the client is to
    /// close.
    async fn login_messages(
        &mut self,
        auth: &dyn AuthProvider,
    ) -> std::result::Result<Option<std::result::Result<Vec<WsMessage>, BoxError>>, ShutdownMode>
    {
        let shared = Arc::clone(&self.rt.shared);
        let mut login = std::pin::pin!(shared.caught_async("auth provider", auth.login_messages()));
        loop {
            let command = tokio::select! {
                messages = &mut login => return Ok(messages),
                command = self.rt.commands.recv() => command,
            };
            if let Some(mode) = answer_offline(command.as_ref()) {
                return Err(mode);
            }
        }
    }

    /// Queues every subscription to be restored, topics in batches as
    /// large as the venue takes; the connection is announced once they are
    /// on the wire (`announce_live`), reading on meanwhile: pacing may
    /// spread a large restore over seconds.
    fn go_live(&mut self) -> Result<(), SessionEnd> {
        let batches = self.batches(self.rt.shared.subscriptions.snapshot());
        let Some((last, rest)) = batches.split_last() else {
            self.announce_live();
            return Ok(());
        };
        for batch in rest {
            self.subscribe(batch, None)?;
        }
        let (done, written) = oneshot::channel();
        self.subscribe(last, Some(done))?;
        self.phase = Phase::Restoring { written };
        Ok(())
    }

    /// `subscriptions` grouped into requests: each of its own, but runs of
    /// topics in batches within the venue's topic and length caps.
    fn batches(&mut self, subscriptions: Vec<Subscription>) -> Vec<Vec<Subscription>> {
        let Some(topics) = self.rt.config.topics.clone() else {
            return subscriptions.into_iter().map(|s| vec![s]).collect();
        };
        let max_topics = topics.max_topics().max(1);
        let max_len = topics.max_request_len();
        let mut batches: Vec<Vec<Subscription>> = Vec::new();
        // Topic batches with room, by index: each topic joins the first
        // that takes it (same channel, under the caps), else opens one.
        let mut open: Vec<usize> = Vec::new();
        for subscription in subscriptions {
            if !subscription.is_topic() {
                batches.push(vec![subscription]);
                continue;
            }
            let joins = open.iter().position(|&at| {
                let batch = &batches[at];
                topics.batches_with(batch[0].id(), subscription.id())
                    && max_len.is_none_or(|max| {
                        let mut names: Vec<&str> = batch.iter().map(Subscription::id).collect();
                        names.push(subscription.id());
                        topics.subscribe(&names, u64::MAX).len() <= max
                    })
            });
            match joins {
                Some(slot) => {
                    let at = open[slot];
                    batches[at].push(subscription);
                    if batches[at].len() >= max_topics {
                        open.swap_remove(slot);
                    }
                }
                None => {
                    batches.push(vec![subscription]);
                    if max_topics > 1 {
                        open.push(batches.len() - 1);
                    }
                }
            }
        }
        batches
    }

    /// The restore is on the wire: user sends open, the connection is
    /// announced.
    fn announce_live(&mut self) {
        self.phase = Phase::Live;
        let shared = &self.rt.shared;
        // A successor takes the user sends over from its predecessor here.
        if let Some(user_sends) = self.user_sends.take() {
            shared.outbox.open(user_sends);
        }
        if !self.sent.is_empty() {
            shared.emit(ClientEvent::SubscriptionsRestored {
                count: self.sent.len(),
            });
        }
        if self.predecessor.is_some() {
            // Still connected, as far as the user can tell: the rotation
            // is announced when it is over.
            self.overlap_deadline = Instant::now().checked_add(self.rt.config.rotation.max_overlap);
            return;
        }
        shared.enter(Transition::Connected {
            reconnect: self.reconnect,
        });
    }

    /// Queues the request for `batch` (one subscription, or topics),
    /// tracked for the venue's answer when the client reads them; `done`
    /// hears when it is written.
    fn subscribe(
        &mut self,
        batch: &[Subscription],
        done: Option<oneshot::Sender<Result<()>>>,
    ) -> Result<(), SessionEnd> {
        let Some((message, alone)) = self.subscribe_request(batch) else {
            if let Some(done) = done {
                let _ = done.send(Ok(()));
            }
            return Ok(());
        };
        for subscription in batch {
            self.sent.insert(subscription.id().to_owned());
        }
        let tracked = self.confirmations.as_mut().and_then(|confirmations| {
            let carried = batch
                .iter()
                .zip(&alone)
                .map(|(s, alone)| (s.clone(), alone.as_ref().unwrap_or(&message)))
                .collect();
            confirmations.track(&message, carried)
        });
        self.request(Outgoing {
            message,
            done,
            tracked,
        })
    }

    /// The request subscribing to `batch`, and for a batch of several
    /// topics the request each would be alone (its answers' keys). `None`
    /// for topics without a format (refused before they get here).
    fn subscribe_request(
        &mut self,
        batch: &[Subscription],
    ) -> Option<(WsMessage, Vec<Option<WsMessage>>)> {
        if let [subscription] = batch
            && let Some(message) = subscription.subscribe()
        {
            return Some((message.clone(), vec![None]));
        }
        let topics = self.rt.config.topics.clone()?;
        self.request_id += 1;
        let id = self.request_id;
        let names: Vec<&str> = batch.iter().map(Subscription::id).collect();
        let message = topics.subscribe(&names, id);
        let alone = if names.len() == 1 || self.confirmations.is_none() {
            vec![None; names.len()]
        } else {
            names
                .iter()
                .map(|name| Some(topics.subscribe(&[name], id)))
                .collect()
        };
        Some((message, alone))
    }

    /// The request unsubscribing from `subscription`, if it has one.
    fn unsubscribe_request(&mut self, subscription: &Subscription) -> Option<WsMessage> {
        if let Some(message) = subscription.unsubscribe() {
            return Some(message.clone());
        }
        if !subscription.is_topic() {
            return None;
        }
        let topics = self.rt.config.topics.clone()?;
        self.request_id += 1;
        topics.unsubscribe(&[subscription.id()], self.request_id)
    }

    /// Queues a request (login, subscription change) for the writer, which
    /// paces it.
    fn request(&mut self, outgoing: Outgoing) -> Result<(), SessionEnd> {
        self.requests
            .send(outgoing)
            .map_err(|_| SessionEnd::from_error(HyperSocketError::ConnectionClosed))
    }

    /// Writes and waits until it is on the wire.
    async fn write(&mut self, message: WsMessage) -> Result<(), SessionEnd> {
        let (done, written) = oneshot::channel();
        self.request(Outgoing::with_done(message, done))?;
        match written.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(SessionEnd::from_error(error)),
            Err(_) => Err(SessionEnd::from_error(HyperSocketError::ConnectionClosed)),
        }
    }

    /// Queues a control message of the client's own (a pong, a heartbeat,
    /// a Ping, the Close) without waiting. User sends and requests have
    /// queues of their own, so a full keepalive queue means the writer is
    /// stuck: the connection is dropped.
    fn write_now(&mut self, message: WsMessage) -> Flow {
        match self.writer.try_send(Outgoing::new(message)) {
            Ok(()) => Flow::Continue,
            Err(_) => Flow::End(SessionEnd::from_error(HyperSocketError::WriteQueueFull)),
        }
    }

    /// The outcome of queueing a request (paced with the others; the
    /// reader never waits for it), as a step's flow.
    fn queued(result: Result<(), SessionEnd>) -> Flow {
        match result {
            Ok(()) => Flow::Continue,
            Err(end) => Flow::End(end),
        }
    }

    /// Waits for the next step when nothing is at hand.
    async fn wait_step(&mut self) -> Step {
        // Nothing more at hand: hand the lanes what they got. (While more is
        // at hand, the dispatcher releases busy lanes by itself, in bigger
        // chunks.)
        self.rt.dispatcher.flush();
        self.burst = 0;
        let Self {
            rt,
            stream,
            writer_failed,
            keepalive,
            phase,
            confirmations,
            successor,
            predecessor,
            overlap_deadline,
            ..
        } = self;
        let control = control_step(
            writer_failed,
            rt,
            keepalive,
            phase,
            confirmations,
            successor,
            *overlap_deadline,
        );
        let old = async {
            match predecessor {
                Some(predecessor) => predecessor.next().await,
                None => std::future::pending().await,
            }
        };
        let step = tokio::select! {
            biased;
            step = control => step,
            item = old => Step::Old(item),
            item = stream.next() => step_from(item),
        };
        if let Step::Message(_) | Step::Old(_) = step {
            self.received_at = std::time::Instant::now();
        }
        step
    }

    /// A message the socket has already buffered, read without going
    /// through `select!`; a noop waker is fine because, when nothing is
    /// ready, the stream is polled again with the real one.
    fn step_at_hand(&mut self) -> Option<Step> {
        let mut cx = Context::from_waker(Waker::noop());
        if self.burst >= BURST {
            // A full burst: let the writer's failure, commands and timers
            // in, without waiting for them, then read on.
            self.burst = 0;
            let control = control_step(
                &mut self.writer_failed,
                self.rt,
                &mut self.keepalive,
                &mut self.phase,
                &mut self.confirmations,
                &mut self.successor,
                self.overlap_deadline,
            );
            if let Some(step) = control.now_or_never() {
                return Some(step);
            }
        }
        // The old connection first: it is the one each stream is read
        // from until the new one has caught up.
        if let Some(predecessor) = &mut self.predecessor
            && let Poll::Ready(item) = predecessor.stream.poll_next_unpin(&mut cx)
        {
            self.next_in_burst();
            return Some(Step::Old(item));
        }
        match self.stream.poll_next_unpin(&mut cx) {
            Poll::Ready(item) => {
                self.next_in_burst();
                Some(step_from(item))
            }
            Poll::Pending => None,
        }
    }

    /// Counts a message read at hand; a burst's first is stamped afresh.
    #[inline]
    fn next_in_burst(&mut self) {
        if self.burst == 0 {
            self.received_at = std::time::Instant::now();
        }
        self.burst += 1;
    }

    /// Receive → keepalive → auth verdict → dispatch, without awaiting.
    #[inline]
    fn on_message(&mut self, message: WsMessage) -> Flow {
        self.keepalive.heard();
        match message {
            WsMessage::Text(_) | WsMessage::Binary(_) => {}
            WsMessage::Ping(payload) => {
                // The transport answers protocol Pings itself (RFC 6455
                // requires it; tungstenite does it at once); we count it.
                tracing::debug!(len = payload.len(), "protocol ping answered");
                self.rt.shared.counters.inc_pings_answered();
                return Flow::Continue;
            }
            WsMessage::Pong(payload) => {
                tracing::debug!(len = payload.len(), "pong received");
                return Flow::Continue;
            }
            WsMessage::Close(frame) => {
                tracing::info!(frame = ?frame, "server closed the connection");
                return Flow::End(SessionEnd::Lost(DisconnectReason::ServerClosed(frame)));
            }
        }
        self.rt.shared.counters.record_received(message.len());
        let context = MessageContext::new(self.connection, self.received_at);
        let message = match &mut self.inflater {
            Some(inflater) => match inflater.inflate(message) {
                Ok(message) => message,
                Err(error) => return Flow::End(SessionEnd::from_error(error)),
            },
            None => message,
        };
        match self.keepalive.answer(&message, &self.rt.shared) {
            Some(Answer::Reply(_)) if self.closing => {
                // Kept from the handlers as when live, but not answered:
                // no data frame may follow our Close frame (RFC 6455 §5.5.1).
                tracing::debug!("application ping while closing: not answered");
                return Flow::Continue;
            }
            Some(Answer::Reply(reply)) => {
                tracing::debug!("application ping answered");
                self.rt.shared.counters.inc_pings_answered();
                return self.write_now(reply);
            }
            Some(Answer::Consumed) => {
                tracing::trace!("heartbeat answered");
                return Flow::Continue;
            }
            None => {}
        }
        if let Some(confirmations) = &mut self.confirmations
            && confirmations.is_waiting()
        {
            let mut verdicts = Vec::new();
            if confirmations.answer(&message, &mut verdicts) {
                for verdict in verdicts {
                    if let Err(end) = self.on_verdict(verdict) {
                        return Flow::End(end);
                    }
                }
                return Flow::Continue;
            }
        }
        if let Phase::Authenticating { auth, .. } = &self.phase {
            let Some(verdict) = self
                .rt
                .shared
                .caught("auth provider", || auth.verdict(&message))
            else {
                return Flow::End(auth_panicked());
            };
            match verdict {
                AuthVerdict::Accepted => {
                    tracing::info!("authenticated");
                    self.rt.shared.emit(ClientEvent::Authenticated);
                    return Flow::Authenticated;
                }
                AuthVerdict::Rejected { reason, fatal } => {
                    tracing::warn!(%reason, fatal, "authentication rejected");
                    self.rt.shared.emit(ClientEvent::AuthFailed {
                        reason: reason.clone(),
                        fatal,
                    });
                    return Flow::End(SessionEnd::from_error(HyperSocketError::Auth {
                        reason,
                        fatal,
                    }));
                }
                _ => {}
            }
        }
        if self.rt.config.rotation.notice.is_some()
            && self.may_rotate()
            && self
                .rt
                .shared
                .caught("shutdown notice", || {
                    self.rt.config.rotation.is_notice(&message)
                })
                .unwrap_or(false)
        {
            self.start_rotation(RotationCause::Notice);
        }
        tracing::trace!(len = message.len(), "message received");
        let source = match self.predecessor {
            Some(_) => Source::New,
            None => Source::Old,
        };
        self.deliver(source, message, context)
    }

    /// Hands a message to its lane; during a rotation, through the
    /// overlap, which lets each numbered message through once.
    #[inline]
    fn deliver(&mut self, source: Source, message: WsMessage, context: MessageContext) -> Flow {
        let Some(overlap) = &mut self.overlap else {
            return self.dispatch(message, context);
        };
        let at = self.rt.config.sequence.as_ref().and_then(|reader| {
            self.rt
                .shared
                .caught("sequence reader", || reader.sequence(&message))
                .flatten()
        });
        overlap.admit(source, at, (message, context), &mut self.release);
        let flow = self.dispatch_released();
        if self.predecessor.is_some() {
            return self.retire_if_settled(flow);
        }
        if self.overlap.as_ref().is_some_and(Overlap::is_done) {
            self.finish_rotation();
        }
        flow
    }

    /// Dispatches what the overlap let through, in order.
    fn dispatch_released(&mut self) -> Flow {
        let mut flow = Flow::Continue;
        while let Some((message, context)) = self.release.pop_front() {
            match self.dispatch(message, context) {
                // A held message keeps the ones after it behind it.
                Flow::Blocked => flow = Flow::Blocked,
                Flow::End(end) => return Flow::End(end),
                _ => {}
            }
        }
        flow
    }

    /// Hands a message to its lane, through its stream's tracking when it
    /// is numbered.
    #[inline]
    fn dispatch(&mut self, message: WsMessage, context: MessageContext) -> Flow {
        let Runtime {
            config,
            shared,
            dispatcher,
            streams,
            ..
        } = &mut *self.rt;
        if !config.integrity.enabled {
            return dispatched(dispatcher.dispatch(message, context));
        }
        let reader = config.sequence.as_deref();
        let mut numbered = None;
        // Parsed and routed, a numbered message that follows on from its
        // stream's last goes on to its lane where it is made, as do
        // unnumbered ones; the rest are kept back for the tracker.
        let routing = dispatcher.dispatch_unless(message, context, |router, parsed, raw| {
            numbered = sequence_of(shared, router, reader, parsed, raw)
                .filter(StreamTracker::<()>::tracks);
            numbered.is_some_and(|at| !streams.tracker.advance(at))
        });
        match (routing, numbered) {
            (Routing::Dispatched(outcome), _) => dispatched(outcome),
            (Routing::Kept(routed), Some(at)) => self.track(at, routed),
            (Routing::Kept(routed), None) => dispatched(self.rt.dispatcher.queue(routed)),
        }
    }

    /// A numbered message, delivered, dropped or held as its stream says.
    fn track(&mut self, at: StreamSequence, routed: Routed<R>) -> Flow {
        let counters = &self.rt.shared.counters;
        match self.rt.streams.tracker.admit(at, routed) {
            Admitted::Deliver(routed) => dispatched(self.rt.dispatcher.queue(routed)),
            Admitted::Healed {
                message: routed,
                cause,
            } => {
                self.healed_gap(at.stream, cause);
                dispatched(self.rt.dispatcher.queue(routed))
            }
            Admitted::Duplicate => {
                tracing::debug!(
                    stream = at.stream.get(),
                    number = at.number,
                    "duplicate dropped"
                );
                counters.add_stream_duplicates(1);
                Flow::Continue
            }
            Admitted::Held { dropped } => {
                counters.add_stream_stale_dropped(u64::from(dropped));
                Flow::Continue
            }
            Admitted::Stale { cause, dropped } => {
                counters.add_stream_stale_dropped(u64::from(dropped));
                self.went_stale(at.stream, cause)
            }
            Admitted::Resynced {
                message: routed,
                dropped,
            } => {
                counters.add_stream_stale_dropped(dropped);
                self.resynced(at.stream, 0);
                dispatched(self.rt.dispatcher.queue(routed))
            }
            // `Admitted` has no other kind: one added must be handled here.
            _ => Flow::Continue,
        }
    }

    /// `stream` went stale: say so, and resynchronise it.
    fn went_stale(&mut self, stream: StreamId, cause: StaleCause) -> Flow {
        if let StaleCause::Gap { .. } = cause {
            self.rt.shared.counters.inc_stream_gaps();
        }
        match cause {
            StaleCause::Start => {
                tracing::debug!(stream = stream.get(), "stream waits for its first snapshot");
            }
            _ => tracing::warn!(
                stream = stream.get(),
                ?cause,
                "stream stale: resynchronising it"
            ),
        }
        self.rt
            .shared
            .emit(ClientEvent::StreamStale { stream, cause });
        self.resync(stream, Duration::ZERO)
    }

    /// A venue's snapshot jumped over numbers (after a reconnection,
    /// typically): reported as the gap it already resynchronised.
    fn healed_gap(&mut self, stream: StreamId, cause: StaleCause) {
        tracing::info!(stream = stream.get(), ?cause, "a snapshot covered a gap");
        self.rt.shared.counters.inc_stream_gaps();
        self.rt
            .shared
            .emit(ClientEvent::StreamStale { stream, cause });
        self.resynced(stream, 0);
    }

    /// A stale stream is valid again.
    fn resynced(&mut self, stream: StreamId, replayed: u64) {
        tracing::info!(stream = stream.get(), replayed, "stream resynchronised");
        self.rt.shared.counters.inc_stream_resyncs();
        self.rt
            .shared
            .emit(ClientEvent::StreamResynced { stream, replayed });
    }

    /// Resynchronises `stream` (after `delay`, for a snapshot tried
    /// again): a snapshot fetched, or the stream resubscribed, for the
    /// venue to send its snapshot.
    fn resync(&mut self, stream: StreamId, delay: Duration) -> Flow {
        let subscription = self.rt.shared.subscriptions.naming(stream);
        let integrity = &self.rt.config.integrity;
        if integrity.enabled && integrity.snapshots.is_some() {
            if self.rt.streams.tracker.request_snapshot(stream) {
                let topic = subscription.map(|subscription| subscription.id().to_owned());
                let streams = &self.rt.streams;
                streams.fetch(&self.rt.config.integrity, stream, topic, delay);
            }
            return Flow::Continue;
        }
        let Some(subscription) = subscription else {
            tracing::warn!(
                stream = stream.get(),
                "no subscription names the stale stream: it waits for the venue's snapshot"
            );
            return Flow::Continue;
        };
        if !matches!(self.phase, Phase::Live) {
            // The restore under way subscribes it afresh.
            return Flow::Continue;
        }
        // A venue that sends no snapshot on subscribe (Binance's, KuCoin's
        // and HTX's books) never ends this: say what does.
        tracing::warn!(
            id = subscription.id(),
            "resubscribing a stale stream: it stays stale until the venue sends a snapshot \
             (a venue that sends none needs Integrity::snapshots)"
        );
        if let Some(confirmations) = &mut self.confirmations {
            confirmations.forget(subscription.id());
        }
        if self.sent.remove(subscription.id())
            && let Some(message) = self.unsubscribe_request(&subscription)
            && let Err(end) = self.request(Outgoing::new(message))
        {
            return Flow::End(end);
        }
        Self::queued(self.subscribe(std::slice::from_ref(&subscription), None))
    }

    /// A snapshot fetch ended: on success, the snapshot and the buffered
    /// messages after it are delivered; on failure it is tried again.
    fn on_fetched(&mut self, fetched: Fetched) -> Flow {
        let Fetched { stream, result } = fetched;
        let snapshot = match result {
            Ok(snapshot) => snapshot,
            Err(reason) => {
                tracing::warn!(stream = stream.get(), %reason, "snapshot fetch failed; trying again");
                self.rt.shared.counters.inc_snapshot_failures();
                self.rt.streams.tracker.snapshot_failed(stream);
                return self.resync(stream, SNAPSHOT_RETRY);
            }
        };
        let Some(resolved) = self
            .rt
            .streams
            .tracker
            .apply_snapshot(stream, snapshot.number)
        else {
            tracing::debug!(stream = stream.get(), "snapshot no longer needed");
            return Flow::Continue;
        };
        self.rt
            .shared
            .counters
            .add_stream_duplicates(resolved.dropped);
        let context = MessageContext::now(self.connection);
        let mut flow = dispatched(self.rt.dispatcher.dispatch(snapshot.message, context));
        let replayed = resolved.replay.len() as u64;
        for (_, routed) in resolved.replay {
            let next = dispatched(self.rt.dispatcher.queue(routed));
            flow = worse(flow, next);
        }
        let next = match resolved.gap {
            Some(cause) => self.went_stale(stream, cause),
            None => {
                self.resynced(stream, replayed);
                Flow::Continue
            }
        };
        worse(flow, next)
    }

    /// Handlers asked for these streams to be resynchronised.
    fn on_resync_requests(&mut self, requests: Vec<(StreamId, StaleCause)>) -> Flow {
        let mut flow = Flow::Continue;
        // Without tracking nothing would end a stale mark: each request
        // just resubscribes its stream.
        let tracking = self.rt.config.integrity.enabled;
        for (stream, cause) in requests {
            if !tracking || self.rt.streams.tracker.make_stale(stream) {
                let next = self.went_stale(stream, cause);
                flow = worse(flow, next);
            }
        }
        flow
    }

    /// Whether a rotation may start now: live, with none under way.
    fn may_rotate(&self) -> bool {
        matches!(self.phase, Phase::Live) && self.predecessor.is_none() && self.successor.is_idle()
    }

    /// Starts connecting the successor; the streams are tracked from now
    /// on, so that the successor can tell what was delivered.
    fn start_rotation(&mut self, cause: RotationCause) {
        tracing::info!(?cause, "rotating to a new connection");
        self.rt.shared.emit(ClientEvent::Rotating { cause });
        self.overlap = Some(Overlap::default());
        // A venue's notice reaches all of its connections at once (and
        // connections opened together age together): up to a second of
        // jitter keeps their replacements within its connection rate.
        let jitter = Duration::from_millis(fastrand::u64(0..=1_000));
        self.successor = Successor::Backoff {
            until: Instant::now() + jitter,
            attempt: 0,
            cause,
        };
    }

    /// The successor's progress.
    fn on_successor(&mut self, step: SuccessorStep) -> Flow {
        let attempt = match &self.successor {
            Successor::Connecting { attempt, .. } | Successor::Backoff { attempt, .. } => *attempt,
            _ => 0,
        };
        let cause = match &self.successor {
            Successor::Connecting { cause, .. } | Successor::Backoff { cause, .. } => *cause,
            _ => RotationCause::Age,
        };
        match step {
            SuccessorStep::Due if self.may_rotate() => self.start_rotation(RotationCause::Age),
            SuccessorStep::Due => {
                // Not live yet, or still closing a predecessor: ask again later.
                self.successor = Successor::idle(Some(self.rt.config.rotation.max_overlap));
            }
            SuccessorStep::Connected(Ok(connection)) => {
                tracing::debug!("replacement connected: handing over");
                return Flow::End(SessionEnd::Rotated(Box::new(Handover {
                    connection,
                    cause,
                    old: None,
                })));
            }
            SuccessorStep::Connected(Err(error)) => {
                tracing::warn!(%error, attempt, "replacement connection failed");
                let strategy = &self.rt.config.reconnect;
                let delay = self.rt.shared.caught("reconnection strategy", || {
                    strategy.delay_after(attempt, Some(&error))
                });
                let until = delay
                    .flatten()
                    .and_then(|delay| Instant::now().checked_add(delay));
                self.successor = match until {
                    Some(until) => Successor::Backoff {
                        until,
                        attempt,
                        cause,
                    },
                    None => {
                        tracing::warn!("rotation given up: this connection lives until it ends");
                        self.overlap = None;
                        Successor::Off
                    }
                };
            }
            SuccessorStep::Retry => {
                self.successor =
                    Successor::connect(&self.rt.config, &self.rt.shared, attempt + 1, cause);
            }
        }
        Flow::Continue
    }

    /// A frame (or the end) of the connection being replaced: keepalive
    /// answered, data through the overlap.
    fn on_old(&mut self, item: Option<Result<WsMessage>>) -> Flow {
        let Some(predecessor) = &mut self.predecessor else {
            return Flow::Continue;
        };
        let shared = &self.rt.shared;
        let message = match item {
            Some(Ok(WsMessage::Ping(_))) => {
                shared.counters.inc_pings_answered();
                return Flow::Continue;
            }
            Some(Ok(WsMessage::Pong(_))) => return Flow::Continue,
            Some(Ok(WsMessage::Close(frame))) => {
                tracing::info!(frame = ?frame, "server closed the old connection");
                return self.retire_predecessor();
            }
            Some(Ok(message)) => message,
            Some(Err(error)) => {
                tracing::debug!(%error, "old connection failed");
                return self.retire_predecessor();
            }
            None => return self.retire_predecessor(),
        };
        shared.counters.record_received(message.len());
        let context = MessageContext::new(predecessor.connection, self.received_at);
        let message = match &mut predecessor.inflater {
            Some(inflater) => match inflater.inflate(message) {
                Ok(message) => message,
                Err(error) => {
                    tracing::warn!(%error, "old connection sent a bad frame");
                    return self.retire_predecessor();
                }
            },
            None => message,
        };
        match predecessor.keepalive.answer(&message, shared) {
            Some(Answer::Reply(reply)) => {
                shared.counters.inc_pings_answered();
                let _ = predecessor.writer.try_send(Outgoing::new(reply));
                Flow::Continue
            }
            Some(Answer::Consumed) => Flow::Continue,
            None => self.deliver(Source::Old, message, context),
        }
    }

    /// Closes the predecessor once every stream it delivered has switched
    /// and this connection is live.
    fn retire_if_settled(&mut self, flow: Flow) -> Flow {
        let settled = self.predecessor.is_some()
            && matches!(self.phase, Phase::Live)
            && self.overlap.as_ref().is_none_or(Overlap::settled);
        if !settled {
            return flow;
        }
        match (flow, self.retire_predecessor()) {
            (Flow::End(end), _) | (_, Flow::End(end)) => Flow::End(end),
            (Flow::Blocked, _) | (_, Flow::Blocked) => Flow::Blocked,
            _ => Flow::Continue,
        }
    }

    /// Closes the connection being replaced; what this one held goes out.
    fn retire_predecessor(&mut self) -> Flow {
        let Some(predecessor) = self.predecessor.take() else {
            return Flow::Continue;
        };
        let timeouts = self.rt.config.timeouts;
        predecessor.close((timeouts.write, timeouts.close));
        tracing::debug!("old connection closed");
        if let Some(overlap) = &mut self.overlap {
            overlap.old_closed(&mut self.release);
        }
        let flow = self.dispatch_released();
        if self.overlap.as_ref().is_none_or(Overlap::is_done) {
            self.finish_rotation();
        } else {
            // Streams the new connection switched to while behind: its
            // copies are dropped until it catches up, for a while.
            self.overlap_deadline = Instant::now().checked_add(self.rt.config.rotation.max_overlap);
        }
        flow
    }

    /// The rotation is over: every stream reads from the new connection,
    /// unfiltered.
    fn finish_rotation(&mut self) {
        self.overlap_deadline = None;
        let duplicates = self
            .overlap
            .take()
            .map_or(0, |overlap| overlap.duplicates());
        let shared = &self.rt.shared;
        shared.counters.inc_rotations();
        shared.counters.add_rotation_duplicates(duplicates);
        tracing::info!(duplicates, "rotated");
        shared.emit(ClientEvent::Rotated { duplicates });
    }

    /// Waits for room in a full `Block` lane or under the memory budget:
    /// backpressure reaches the socket. Commands are still answered, so a
    /// `close` is heard even while a handler is stuck, and a failed writer
    /// ends the connection at once. (Silence is not judged meanwhile: the
    /// client is the one not reading.)
    #[cold]
    async fn wait_for_lane(&mut self) -> Option<SessionEnd> {
        loop {
            let Runtime {
                dispatcher,
                commands,
                ..
            } = &mut *self.rt;
            let writer_failed = &mut self.writer_failed;
            // `ready` is cancel safe: what is held stays held.
            let command = tokio::select! {
                ready = Box::pin(dispatcher.ready()) => {
                    return (ready == Dispatch::Closed).then(lanes_shut_down);
                }
                failed = &mut *writer_failed, if !writer_failed.is_terminated() => {
                    let error = failed.unwrap_or(HyperSocketError::ConnectionClosed);
                    return Some(SessionEnd::Lost(DisconnectReason::Error(Arc::new(error))));
                }
                command = commands.recv() => command,
            };
            if let Flow::End(end) = Box::pin(self.on_command(command)).await {
                return Some(end);
            }
        }
    }

    /// The venue answered a subscription request.
    fn on_verdict(&mut self, verdict: Verdict) -> Result<(), SessionEnd> {
        let shared = &self.rt.shared;
        match verdict {
            Verdict::Active(id) => {
                tracing::debug!(%id, "subscription accepted");
                shared.counters.inc_subscriptions_accepted();
                shared.emit(ClientEvent::SubscriptionActive { id });
            }
            Verdict::Rejected(subscription, reason) => {
                let id = subscription.id().to_owned();
                tracing::warn!(%id, %reason, "subscription rejected; it is removed");
                shared.counters.inc_subscriptions_rejected();
                shared.subscriptions.remove_if_same(&subscription);
                self.sent.remove(&id);
                shared.emit(ClientEvent::SubscriptionRejected { id, reason });
            }
            Verdict::Split(batch, reason) => {
                tracing::debug!(
                    count = batch.len(),
                    %reason,
                    "batch refused; each of its topics asked for alone"
                );
                for subscription in batch {
                    self.subscribe(std::slice::from_ref(&subscription), None)?;
                }
            }
        }
        Ok(())
    }

    /// A subscription request's timer.
    fn on_subscription_due(&mut self, due: confirmations::Due) -> Flow {
        let shared = &self.rt.shared;
        match due {
            confirmations::Due::Written => Flow::Continue,
            confirmations::Due::Retry {
                ids,
                attempt,
                message,
                tracked,
            } => {
                for id in ids {
                    tracing::warn!(%id, attempt, "subscription unanswered; sent again");
                    shared.counters.inc_subscription_timeouts();
                    shared.emit(ClientEvent::SubscriptionTimedOut {
                        id,
                        attempt,
                        retrying: true,
                    });
                }
                Self::queued(self.request(Outgoing {
                    message,
                    done: None,
                    tracked: Some(tracked),
                }))
            }
            confirmations::Due::Split { batch, attempt } => {
                tracing::warn!(
                    count = batch.len(),
                    "batch unanswered; each of its topics asked for alone"
                );
                for subscription in &batch {
                    shared.counters.inc_subscription_timeouts();
                    shared.emit(ClientEvent::SubscriptionTimedOut {
                        id: subscription.id().to_owned(),
                        attempt,
                        retrying: true,
                    });
                }
                for subscription in batch {
                    if let Err(end) = self.subscribe(std::slice::from_ref(&subscription), None) {
                        return Flow::End(end);
                    }
                }
                Flow::Continue
            }
            confirmations::Due::GaveUp { ids, attempt } => {
                for id in ids {
                    tracing::warn!(%id, attempt, "subscription unanswered; left for the next connection");
                    shared.counters.inc_subscription_timeouts();
                    shared.emit(ClientEvent::SubscriptionTimedOut {
                        id,
                        attempt,
                        retrying: false,
                    });
                }
                Flow::Continue
            }
        }
    }

    fn on_keepalive(&mut self, due: Due) -> Flow {
        match due {
            Due::Heartbeat(message) => {
                tracing::debug!("heartbeat sent");
                self.write_now(message)
            }
            Due::Ping => {
                tracing::debug!("silent for the ping interval: protocol ping sent");
                self.write_now(WsMessage::ping(Vec::new()))
            }
            Due::Dead(after) => {
                tracing::warn!(?after, "nothing received: connection is dead");
                Flow::End(SessionEnd::Lost(DisconnectReason::LivenessTimeout(after)))
            }
        }
    }

    async fn on_command(&mut self, command: Option<Command>) -> Flow {
        // Restoring: the restore took its list already, so a change is sent
        // now as when live.
        let live = matches!(self.phase, Phase::Live | Phase::Restoring { .. });
        match command {
            // Every handle is gone: nobody can use the feed any more.
            None => Flow::End(SessionEnd::Closed(ShutdownMode::Graceful)),
            Some(Command::Close(mode)) => match self.close_politely().await {
                Some(end) => Flow::End(end),
                None => Flow::End(SessionEnd::Closed(mode)),
            },
            Some(Command::Subscribe(subscription)) => {
                // Before going live the restore sends it; after, send it
                // now, even when it replaces one this connection has: the
                // new request is what the user wants on the wire.
                if live {
                    return Self::queued(
                        self.subscribe(std::slice::from_ref(&*subscription), None),
                    );
                }
                Flow::Continue
            }
            Some(Command::Unsubscribe(subscription)) => {
                if let Some(confirmations) = &mut self.confirmations {
                    confirmations.forget(subscription.id());
                }
                // A stale period of its stream ends with it: nothing stays
                // buffered, no snapshot is awaited.
                let stream = StreamId::of(&[subscription.id()]);
                let dropped = self.rt.streams.tracker.drop_stale(stream);
                self.rt
                    .shared
                    .counters
                    .add_stream_stale_dropped(dropped as u64);
                if self.sent.remove(subscription.id())
                    && let Some(message) = self.unsubscribe_request(&subscription)
                {
                    return Self::queued(self.request(Outgoing::new(message)));
                }
                Flow::Continue
            }
        }
    }

    /// Sends a Close frame and waits (within the close timeout) for the
    /// server's answer. What arrives meanwhile takes the live path
    /// (`on_message`: keepalive, heartbeat replies, router), except that
    /// an application ping is not answered. `Some` only if the lanes shut
    /// down under it.
    async fn close_politely(&mut self) -> Option<SessionEnd> {
        let deadline = Instant::now() + self.rt.config.timeouts.close;
        self.close_deadline = Some(deadline);
        // Closing: user sends are refused from now on.
        self.rt.shared.outbox.shut();
        self.closing = true;
        if let Flow::End(_) = self.write_now(WsMessage::close(1000u16, "")) {
            return None;
        }
        loop {
            let item = tokio::select! {
                item = self.stream.next() => item,
                () = tokio::time::sleep_until(deadline) => return None,
            };
            let Some(Ok(message)) = item else {
                return None;
            };
            match self.on_message(message) {
                Flow::Continue | Flow::Authenticated => {}
                // Room for it within the deadline, or the lanes' share of
                // the close begins (what is held is theirs to finish).
                Flow::Blocked => {
                    match timeout_at(deadline, Box::pin(self.rt.dispatcher.ready())).await {
                        Ok(Dispatch::Closed) => return Some(lanes_shut_down()),
                        Ok(_) => {}
                        Err(_) => return None,
                    }
                }
                // The server's Close (or a failure): done.
                Flow::End(_) => return None,
            }
        }
    }
}

/// Waits for the writer's failure, a command, a keepalive timer, the auth
/// deadline or the restore's end, in that order of priority (then the
/// rotation's and the streams' resyncs).
async fn control_step<R: MessageRouter>(
    writer_failed: &mut oneshot::Receiver<HyperSocketError>,
    rt: &mut Runtime<R>,
    keepalive: &mut Keepalive,
    phase: &mut Phase,
    confirmations: &mut Option<Confirmations>,
    successor: &mut Successor,
    overlap_deadline: Option<Instant>,
) -> Step {
    let Runtime {
        commands,
        streams,
        config,
        ..
    } = rt;
    let (fetched, resync) = (&mut streams.fetched, &config.integrity.requests);
    let (auth_deadline, restore) = match phase {
        Phase::Authenticating { deadline, .. } => (Some(*deadline), None),
        Phase::Restoring { written } => (None, Some(written)),
        Phase::Live => (None, None),
    };
    let restored = async move {
        match restore {
            Some(written) => written
                .await
                .unwrap_or(Err(HyperSocketError::ConnectionClosed)),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        failed = &mut *writer_failed, if !writer_failed.is_terminated() => {
            Step::Ended(DisconnectReason::Error(Arc::new(
                failed.unwrap_or(HyperSocketError::ConnectionClosed),
            )))
        }
        command = commands.recv() => Step::Command(command),
        due = keepalive.due() => Step::Keepalive(due),
        due = subscription_due(confirmations) => Step::Subscription(due),
        step = successor.next() => Step::Successor(step),
        () = sleep_until(overlap_deadline) => Step::OverlapOver,
        Some(fetched) = fetched.recv() => Step::Fetched(fetched),
        requests = resync.requested() => Step::Resync(requests),
        () = sleep_until(auth_deadline) => Step::AuthTimedOut,
        written = restored => Step::Restored(written),
    }
}

/// The next of the subscription requests' timers, or never without acks.
async fn subscription_due(confirmations: &mut Option<Confirmations>) -> confirmations::Due {
    match confirmations {
        Some(confirmations) => confirmations.due().await,
        None => std::future::pending().await,
    }
}

/// Sleeps until `deadline`, or forever without one.
pub(super) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Nothing can log in without the auth provider: the client shuts down.
fn auth_panicked() -> SessionEnd {
    SessionEnd::Fatal(HyperSocketError::Panicked {
        what: "auth provider",
    })
}

/// The flow of two steps taken together: an end wins, then a wait.
/// A message's stream and number: from the router's parse
/// (`MessageRouter::sequence`), else from the raw bytes (the venue
/// profile's reader).
#[inline]
fn sequence_of<R: MessageRouter>(
    shared: &Shared,
    router: &R,
    reader: Option<&dyn SequenceReader>,
    parsed: Option<&R::Message>,
    raw: &WsMessage,
) -> Option<StreamSequence> {
    if let Some(parsed) = parsed {
        let typed = shared.caught("router sequence", || router.sequence(parsed));
        if let Some(at) = typed.flatten() {
            return Some(at);
        }
    }
    shared
        .caught("sequence reader", || reader?.sequence(raw))
        .flatten()
}

fn worse(first: Flow, second: Flow) -> Flow {
    match (first, second) {
        (Flow::End(end), _) | (_, Flow::End(end)) => Flow::End(end),
        (Flow::Blocked, _) | (_, Flow::Blocked) => Flow::Blocked,
        (Flow::Authenticated, _) | (_, Flow::Authenticated) => Flow::Authenticated,
        _ => Flow::Continue,
    }
}

/// A dispatch's outcome as a step's flow.
#[inline]
fn dispatched(dispatch: Dispatch) -> Flow {
    match dispatch {
        Dispatch::Closed => Flow::End(lanes_shut_down()),
        Dispatch::Blocked => Flow::Blocked,
        _ => Flow::Continue,
    }
}

/// The lanes end only when the client does.
fn lanes_shut_down() -> SessionEnd {
    SessionEnd::from_error(HyperSocketError::ShutDown)
}

fn step_from(item: Option<Result<WsMessage>>) -> Step {
    match item {
        Some(Ok(message)) => Step::Message(message),
        Some(Err(error)) => {
            tracing::warn!(%error, "connection failed");
            Step::Ended(DisconnectReason::Error(Arc::new(error)))
        }
        None => Step::Ended(DisconnectReason::StreamEnded),
    }
}
