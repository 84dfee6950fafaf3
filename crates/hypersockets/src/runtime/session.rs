//! One connection, from the handshake's end to its loss: auth, restoring
//! subscriptions, then receive → ping check → dispatch, with the
//! heartbeat, the liveness check and the user's commands interleaved.

use std::collections::HashSet;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use hypersockets_core::{
    AuthVerdict, ClientEvent, Connection, ConnectionState, DisconnectReason, HyperSocketError,
    MessageRouter, MessageStream, Result, WsMessage,
};
use hypersockets_router::{BlockedDispatch, DispatchOutcome, ShutdownMode};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at, timeout};

use crate::runtime::writer::{self, Outgoing};
use crate::runtime::{Command, Runtime};

/// Messages read straight from the socket's buffer before commands and
/// timers get a look in.
const BURST: u32 = 64;

/// How a session ended.
#[derive(Debug)]
pub(crate) enum SessionEnd {
    /// The connection was lost: reconnect per the strategy.
    Lost(DisconnectReason),
    /// The user closed the client.
    Closed(ShutdownMode),
    /// Reconnecting cannot help (fatal auth rejection).
    Fatal(HyperSocketError),
}

/// One step of the read loop.
enum Step {
    Message(WsMessage),
    Ended(DisconnectReason),
    Command(Option<Command>),
    Heartbeat,
    LivenessCheck,
}

struct Session<'a, R: MessageRouter> {
    rt: &'a mut Runtime<R>,
    stream: MessageStream,
    writer: mpsc::Sender<Outgoing>,
    writer_failed: oneshot::Receiver<HyperSocketError>,
    heartbeat: Option<Interval>,
    liveness: Option<Liveness>,
    /// Subscriptions sent on this connection.
    sent: HashSet<String>,
    burst: u32,
}

/// Dead when nothing arrives for `timeout`: checked every quarter of it, so
/// there is no clock read per message, only a flag.
struct Liveness {
    timeout: Duration,
    ticker: Interval,
    heard: bool,
    quiet_ticks: u8,
}

/// Runs a session on a fresh connection; `reconnect` says whether it
/// replaces a lost one.
pub(crate) async fn run<R: MessageRouter>(
    rt: &mut Runtime<R>,
    connection: Connection,
    reconnect: bool,
) -> SessionEnd {
    let Connection { sink, stream, .. } = connection;
    let config = Arc::clone(&rt.config);
    let (writer_tx, writer_rx) = mpsc::channel(config.writer_queue);
    let (failed_tx, failed_rx) = oneshot::channel();
    let writer_task = tokio::spawn(writer::run(
        sink,
        writer_rx,
        config.timeouts.write,
        config.timeouts.close,
        Arc::clone(&rt.shared),
        failed_tx,
    ));
    let heartbeat = config.heartbeat.as_ref().map(|heartbeat| {
        let mut ticker = interval_at(Instant::now() + heartbeat.interval, heartbeat.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticker
    });
    let liveness = config.liveness_timeout.map(|timeout| {
        let quarter = timeout / 4;
        let mut ticker = interval_at(Instant::now() + quarter, quarter);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Liveness {
            timeout,
            ticker,
            heard: false,
            quiet_ticks: 0,
        }
    });
    let mut session = Session {
        rt,
        stream,
        writer: writer_tx,
        writer_failed: failed_rx,
        heartbeat,
        liveness,
        sent: HashSet::new(),
        burst: 0,
    };
    let end = session.drive(reconnect).await;
    let Session { writer, .. } = session;
    // Closing the queue makes the writer close the sink (a Close frame).
    drop(writer);
    let grace = config.timeouts.close + config.timeouts.write;
    let mut writer_task = writer_task;
    if timeout(grace, &mut writer_task).await.is_err() {
        writer_task.abort();
    }
    end
}

impl<R: MessageRouter> Session<'_, R> {
    async fn drive(&mut self, reconnect: bool) -> SessionEnd {
        if let Err(end) = self.authenticate().await {
            return end;
        }
        if let Err(end) = self.restore_subscriptions().await {
            return end;
        }
        let shared = &self.rt.shared;
        shared.set_state(ConnectionState::Connected);
        if reconnect {
            shared.metrics.inc_reconnects();
        }
        tracing::info!(url = %self.rt.config.url, reconnect, "connected");
        shared.emit(ClientEvent::Connected { reconnect });
        if !self.sent.is_empty() {
            shared.emit(ClientEvent::SubscriptionsRestored {
                count: self.sent.len(),
            });
        }
        loop {
            // Messages the socket has already buffered are handled without
            // creating a future for each: only an empty socket, a full
            // `Block` lane or a control step awaits.
            let step = match self.step_at_hand() {
                Some(step) => step,
                None => self.wait_step().await,
            };
            match step {
                Step::Message(message) => match self.on_message_now(message) {
                    Handled::Done => {}
                    Handled::End(end) => return end,
                    Handled::Blocked(blocked) => {
                        if let Some(end) = self.finish_dispatch(blocked).await {
                            return end;
                        }
                    }
                },
                Step::Ended(reason) => return SessionEnd::Lost(reason),
                Step::Command(command) => {
                    if let Some(end) = self.on_command(command).await {
                        return end;
                    }
                }
                Step::Heartbeat => {
                    if let Some(end) = self.send_heartbeat() {
                        return end;
                    }
                }
                Step::LivenessCheck => {
                    if let Some(end) = self.check_liveness() {
                        return end;
                    }
                }
            }
        }
    }

    /// Sends the auth provider's messages and, if it can recognise the
    /// answer, waits for it (within the auth timeout), handling whatever
    /// else arrives meanwhile.
    async fn authenticate(&mut self) -> Result<(), SessionEnd> {
        let Some(auth) = self.rt.config.auth.clone() else {
            return Ok(());
        };
        let messages = auth.login_messages().await.map_err(|source| {
            let reason = source.to_string();
            self.rt.shared.emit(ClientEvent::AuthFailed {
                reason: reason.clone(),
                fatal: false,
            });
            SessionEnd::Lost(DisconnectReason::Error(Arc::new(HyperSocketError::Auth {
                reason,
                fatal: false,
            })))
        })?;
        for message in messages {
            self.write(message).await?;
        }
        if !auth.awaits_response() {
            return Ok(());
        }
        let deadline = Instant::now() + self.rt.config.timeouts.auth;
        loop {
            let step = tokio::select! {
                step = self.next_step() => step,
                () = tokio::time::sleep_until(deadline) => {
                    let error = HyperSocketError::timeout("auth", self.rt.config.timeouts.auth);
                    self.rt.shared.emit(ClientEvent::AuthFailed { reason: error.to_string(), fatal: false });
                    return Err(SessionEnd::Lost(DisconnectReason::Error(Arc::new(error))));
                }
            };
            match step {
                Step::Message(message) => match auth.verdict(&message) {
                    AuthVerdict::Accepted => {
                        tracing::info!("authenticated");
                        self.rt.shared.emit(ClientEvent::Authenticated);
                        return Ok(());
                    }
                    AuthVerdict::Rejected { reason, fatal } => {
                        tracing::warn!(%reason, fatal, "authentication rejected");
                        self.rt.shared.emit(ClientEvent::AuthFailed {
                            reason: reason.clone(),
                            fatal,
                        });
                        let error = HyperSocketError::Auth { reason, fatal };
                        return Err(if fatal {
                            SessionEnd::Fatal(error)
                        } else {
                            SessionEnd::Lost(DisconnectReason::Error(Arc::new(error)))
                        });
                    }
                    _ => {
                        if let Some(end) = self.on_message(message).await {
                            return Err(end);
                        }
                    }
                },
                Step::Ended(reason) => return Err(SessionEnd::Lost(reason)),
                // Not connected yet: sends are refused, subscriptions wait
                // for the restore that follows.
                Step::Command(command) => {
                    if let Some(end) = self.on_command(command).await {
                        return Err(end);
                    }
                }
                Step::Heartbeat => {
                    if let Some(end) = self.send_heartbeat() {
                        return Err(end);
                    }
                }
                Step::LivenessCheck => {
                    if let Some(end) = self.check_liveness() {
                        return Err(end);
                    }
                }
            }
        }
    }

    async fn restore_subscriptions(&mut self) -> Result<(), SessionEnd> {
        for subscription in self.rt.shared.subscriptions.snapshot() {
            self.write(subscription.subscribe().clone()).await?;
            self.sent.insert(subscription.id().to_owned());
        }
        Ok(())
    }

    /// Writes and waits until it is on the wire.
    async fn write(&mut self, message: WsMessage) -> Result<(), SessionEnd> {
        let (done, written) = oneshot::channel();
        let lost =
            |error: HyperSocketError| SessionEnd::Lost(DisconnectReason::Error(Arc::new(error)));
        self.writer
            .send(Outgoing {
                message,
                done: Some(done),
            })
            .await
            .map_err(|_| lost(HyperSocketError::ConnectionClosed))?;
        match written.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(lost(error)),
            Err(_) => Err(lost(HyperSocketError::ConnectionClosed)),
        }
    }

    /// Queues a control answer without waiting. A writer so far behind
    /// that its queue is full is stuck: the connection is dropped.
    fn write_now(&mut self, message: WsMessage) -> Option<SessionEnd> {
        match self.writer.try_send(Outgoing {
            message,
            done: None,
        }) {
            Ok(()) => None,
            Err(_) => Some(SessionEnd::Lost(DisconnectReason::Error(Arc::new(
                HyperSocketError::ChannelSend("writer queue full"),
            )))),
        }
    }

    async fn next_step(&mut self) -> Step {
        match self.step_at_hand() {
            Some(step) => step,
            None => self.wait_step().await,
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
            heartbeat,
            liveness,
            ..
        } = self;
        let control = control_step(
            writer_failed,
            &mut rt.commands,
            heartbeat.as_mut(),
            liveness.as_mut().map(|l| &mut l.ticker),
        );
        tokio::select! {
            biased;
            step = control => step,
            item = stream.next() => step_from(item),
        }
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
            if let Some(step) = self.control_step().now_or_never() {
                return Some(step);
            }
        }
        match self.stream.poll_next_unpin(&mut cx) {
            Poll::Ready(item) => {
                self.burst += 1;
                Some(step_from(item))
            }
            Poll::Pending => None,
        }
    }

    /// The next step that is not a received message.
    fn control_step(&mut self) -> impl Future<Output = Step> + '_ {
        control_step(
            &mut self.writer_failed,
            &mut self.rt.commands,
            self.heartbeat.as_mut(),
            self.liveness.as_mut().map(|l| &mut l.ticker),
        )
    }

    /// Receive → passive ping check → dispatch. `Some` ends the session.
    async fn on_message(&mut self, message: WsMessage) -> Option<SessionEnd> {
        match self.on_message_now(message) {
            Handled::Done => None,
            Handled::End(end) => Some(end),
            Handled::Blocked(blocked) => self.finish_dispatch(blocked).await,
        }
    }

    /// [`on_message`](Self::on_message) up to a full `Block` lane, without
    /// awaiting.
    #[inline]
    fn on_message_now(&mut self, message: WsMessage) -> Handled<R> {
        if let Some(liveness) = &mut self.liveness {
            liveness.heard = true;
        }
        match message {
            WsMessage::Text(_) | WsMessage::Binary(_) => {}
            WsMessage::Ping(payload) => {
                // The transport answers protocol Pings itself (RFC 6455
                // requires it; tungstenite does it at once); we count it.
                tracing::debug!(len = payload.len(), "protocol ping answered");
                self.rt.shared.metrics.inc_pings_answered();
                return Handled::Done;
            }
            WsMessage::Pong(payload) => {
                tracing::debug!(len = payload.len(), "pong received");
                return Handled::Done;
            }
            WsMessage::Close(frame) => {
                tracing::info!(frame = ?frame, "server closed the connection");
                return Handled::End(SessionEnd::Lost(DisconnectReason::ServerClosed(frame)));
            }
        }
        let config = &self.rt.config;
        self.rt.shared.metrics.record_received(message.len());
        if let Some(detector) = &config.ping_detector
            && let Some(reply) = detector.detect(&message)
        {
            tracing::debug!("application ping answered");
            self.rt.shared.metrics.inc_pings_answered();
            return match self.write_now(reply) {
                Some(end) => Handled::End(end),
                None => Handled::Done,
            };
        }
        if let Some(heartbeat) = &config.heartbeat
            && heartbeat.reply.as_ref() == Some(&message)
        {
            tracing::trace!("heartbeat answered");
            return Handled::Done;
        }
        tracing::trace!(len = message.len(), "message received");
        match self.rt.dispatcher.try_dispatch(message) {
            Ok(outcome) => dispatched(&outcome),
            Err(blocked) => Handled::Blocked(blocked),
        }
    }

    /// Waits for room in a full `Block` lane: backpressure reaches the
    /// socket.
    #[cold]
    async fn finish_dispatch(&mut self, blocked: BlockedDispatch<R>) -> Option<SessionEnd> {
        match Box::pin(blocked.wait(&mut self.rt.dispatcher)).await {
            DispatchOutcome::Closed => Some(lanes_shut_down()),
            _ => None,
        }
    }

    async fn on_command(&mut self, command: Option<Command>) -> Option<SessionEnd> {
        let connected = self.rt.shared.state.get() == ConnectionState::Connected;
        match command {
            // Every handle is gone: nobody can use the feed any more.
            None => Some(SessionEnd::Closed(ShutdownMode::Graceful)),
            Some(Command::Close(mode)) => {
                self.close_politely().await;
                Some(SessionEnd::Closed(mode))
            }
            Some(Command::Send { message, done }) => {
                if !connected {
                    let _ = done.send(Err(HyperSocketError::NotConnected));
                    return None;
                }
                let outgoing = Outgoing {
                    message,
                    done: Some(done),
                };
                match self.writer.try_send(outgoing) {
                    Ok(()) => None,
                    Err(mpsc::error::TrySendError::Full(outgoing)) => {
                        // Backpressure for the user's sends only: wait.
                        match self.writer.send(outgoing).await {
                            Ok(()) => None,
                            Err(mpsc::error::SendError(outgoing)) => {
                                if let Some(done) = outgoing.done {
                                    let _ = done.send(Err(HyperSocketError::ConnectionClosed));
                                }
                                None
                            }
                        }
                    }
                    Err(mpsc::error::TrySendError::Closed(outgoing)) => {
                        if let Some(done) = outgoing.done {
                            let _ = done.send(Err(HyperSocketError::ConnectionClosed));
                        }
                        None
                    }
                }
            }
            Some(Command::Subscribe(subscription)) => {
                // Before Connected the restore sends it; after, send it now
                // unless this connection already has it.
                if connected && self.sent.insert(subscription.id().to_owned()) {
                    return self.write_now(subscription.subscribe().clone());
                }
                None
            }
            Some(Command::Unsubscribe(subscription)) => {
                if self.sent.remove(subscription.id())
                    && let Some(message) = subscription.unsubscribe()
                {
                    return self.write_now(message.clone());
                }
                None
            }
        }
    }

    fn send_heartbeat(&mut self) -> Option<SessionEnd> {
        let message = self.rt.config.heartbeat.as_ref()?.message.clone();
        tracing::debug!("heartbeat sent");
        self.write_now(message)
    }

    fn check_liveness(&mut self) -> Option<SessionEnd> {
        let liveness = self.liveness.as_mut()?;
        if std::mem::take(&mut liveness.heard) {
            liveness.quiet_ticks = 0;
            return None;
        }
        liveness.quiet_ticks += 1;
        if liveness.quiet_ticks < 4 {
            return None;
        }
        tracing::warn!(timeout = ?liveness.timeout, "nothing received: connection is dead");
        Some(SessionEnd::Lost(DisconnectReason::LivenessTimeout(
            liveness.timeout,
        )))
    }

    /// Sends a Close frame and waits (within the close timeout) for the
    /// server's answer, handing over what arrives meanwhile.
    async fn close_politely(&mut self) {
        if self.write_now(WsMessage::close(1000u16, "")).is_some() {
            return;
        }
        let deadline = Instant::now() + self.rt.config.timeouts.close;
        loop {
            let item = tokio::select! {
                item = self.stream.next() => item,
                () = tokio::time::sleep_until(deadline) => return,
            };
            match item {
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(message)) if message.is_data() => {
                    self.rt.shared.metrics.record_received(message.len());
                    let _ = self.rt.dispatcher.dispatch(message).await;
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

/// Waits for the writer's failure, a command or a timer, in that order of
/// priority.
async fn control_step(
    writer_failed: &mut oneshot::Receiver<HyperSocketError>,
    commands: &mut mpsc::Receiver<Command>,
    heartbeat: Option<&mut Interval>,
    liveness: Option<&mut Interval>,
) -> Step {
    tokio::select! {
        biased;
        failed = &mut *writer_failed, if !writer_failed.is_terminated() => match failed {
            Ok(error) => Step::Ended(DisconnectReason::Error(Arc::new(error))),
            Err(_) => Step::Ended(DisconnectReason::Error(Arc::new(HyperSocketError::ConnectionClosed))),
        },
        command = commands.recv() => Step::Command(command),
        _ = tick(heartbeat) => Step::Heartbeat,
        _ = tick(liveness) => Step::LivenessCheck,
    }
}

/// What became of a received message, short of waiting.
enum Handled<R: MessageRouter> {
    /// Handled, queued, answered, or counted and skipped.
    Done,
    /// The session ends.
    End(SessionEnd),
    /// Its lane is full (`Block`): wait for room.
    Blocked(BlockedDispatch<R>),
}

fn dispatched<R: MessageRouter>(outcome: &DispatchOutcome) -> Handled<R> {
    match outcome {
        DispatchOutcome::Closed => Handled::End(lanes_shut_down()),
        _ => Handled::Done,
    }
}

fn lanes_shut_down() -> SessionEnd {
    SessionEnd::Lost(DisconnectReason::Error(Arc::new(
        HyperSocketError::ChannelSend("lanes are shut down"),
    )))
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

/// Waits for the next tick, or forever when there is no ticker.
async fn tick(ticker: Option<&mut Interval>) {
    match ticker {
        Some(ticker) => {
            ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}
