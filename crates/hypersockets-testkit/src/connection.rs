//! One connection: the handshakes, then a single task that reads the
//! client, publishes the subscribed streams, keeps the connection alive and
//! carries out faults, recording everything.
//!
//! This file is the per-connection loop and the writing it shares; each
//! concern it composes is in its own file: the handshakes in
//! `handshake.rs`, faults in `fault.rs`, keepalive in `keepalive.rs`,
//! subscriptions in `subscribe.rs` and logins in `auth.rs`.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use hypersockets_core::{CloseFrame, Utf8Bytes, WsMessage};
use hypersockets_transport::convert::to_tungstenite;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::handshake::{self, Seen};
use crate::io::ServerIo;
use crate::keepalive::PingTimer;
use crate::protocol::Request;
use crate::state::{Command, Shared};
use crate::stream::Cursor;
use crate::{CloseCause, ConnectionId, Fault, HandshakeResponse, SentRecord, StreamFault};

/// Continue, or stop the connection for this cause.
pub(crate) type Flow = ControlFlow<CloseCause>;

/// Go on with the connection.
pub(crate) const CONTINUE: Flow = ControlFlow::Continue(());

/// Resolves once the exchange is shutting down. Holds no lock when it
/// returns.
pub(crate) async fn shut_down(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|down| *down).await;
}

/// Resolves at `deadline`, or never.
async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Ours from what the client sent; `None` for raw frames (never read) and
/// for text that is somehow not UTF-8 (tungstenite checked it already).
fn from_client(message: Message) -> Option<WsMessage> {
    hypersockets_transport::convert::from_tungstenite(message)
        .ok()
        .flatten()
}

/// Serves one accepted TCP connection to its end.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    plan: HandshakeResponse,
    tls: Option<TlsAcceptor>,
) {
    let _ = tcp.set_nodelay(true);
    let mut shutdown = shared.shutdown.subscribe();

    let io = match tls {
        Some(acceptor) => match handshake::tls(&shared, acceptor, tcp, peer, &mut shutdown).await {
            Some(tls) => ServerIo::tls(tls),
            None => return,
        },
        None => ServerIo::plain(tcp),
    };
    let Some((ws, seen)) = handshake::websocket(&shared, io, peer, &plan, &mut shutdown).await
    else {
        return;
    };
    let Seen {
        index,
        path,
        headers,
    } = seen;

    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (id, faults) = shared.update(|s| s.register(Some(index), peer, path, headers, commands_tx));
    tracing::debug!(%id, %peer, "connection open");
    let now = Instant::now();
    let keepalive = &shared.config.keepalive;
    let end = shared
        .config
        .connection_lifetime
        .and_then(|lifetime| now.checked_add(lifetime));
    let connection = Connection {
        end,
        notice: end.map(|end| {
            end.checked_sub(shared.config.shutdown_notice)
                .map_or(now, |at| at.max(now))
        }),
        ping: keepalive
            .server_ping
            .clone()
            .map(|ping| PingTimer::new(ping, now)),
        idle: keepalive.idle_timeout,
        tag: format!("{:08x}", id.get().wrapping_mul(0x9e37_79b9) & 0xffff_ffff),
        shared: Arc::clone(&shared),
        id,
        ws,
        commands,
        shutdown,
        cursors: Vec::new(),
        waiting_faults: Vec::new(),
        next_fast: 0,
        last_heard: now,
        authenticated: false,
        heard: std::collections::VecDeque::new(),
        requests_heard: std::collections::VecDeque::new(),
    };
    let mut open = Registered {
        shared: Arc::clone(&shared),
        id,
        cause: None,
    };
    let cause = connection.run(faults).await;
    tracing::debug!(%id, ?cause, "connection closed");
    open.cause = Some(cause);
}

/// Marks the connection closed when dropped: normally after it ended, or
/// when its task is aborted (the exchange was dropped).
struct Registered {
    shared: Arc<Shared>,
    id: ConnectionId,
    cause: Option<CloseCause>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let cause = self.cause.take().unwrap_or(CloseCause::Shutdown);
        let id = self.id;
        self.shared.update(|s| s.close(id, cause));
    }
}

/// What woke the connection up.
enum Event {
    Shutdown,
    Command(Option<Command>),
    Client(Option<Result<Message, tungstenite::Error>>),
    Timer,
    Publish,
}

/// The state of one open connection. Its fields are the crate's so that
/// each concern's file can extend it with an `impl` block.
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: ConnectionId,
    /// The connection's id as OKX's `connId`.
    pub(crate) tag: String,
    pub(crate) ws: WebSocketStream<ServerIo>,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Every stream ever subscribed to, active or paused, in order.
    pub(crate) cursors: Vec<Cursor>,
    /// Stream faults for streams not subscribed to yet, in order: given to
    /// the stream's cursor when it is made.
    pub(crate) waiting_faults: Vec<(Arc<str>, StreamFault)>,
    /// Where the round robin of as-fast-as-possible streams goes on.
    pub(crate) next_fast: usize,
    pub(crate) ping: Option<PingTimer>,
    pub(crate) idle: Option<std::time::Duration>,
    pub(crate) last_heard: Instant,
    pub(crate) authenticated: bool,
    /// When the client's latest messages came, for the incoming limit.
    pub(crate) heard: std::collections::VecDeque<Instant>,
    /// When the client's recent subscribe, unsubscribe and login requests
    /// came, for the request limit.
    pub(crate) requests_heard: std::collections::VecDeque<Instant>,
    /// When the connection's lifetime ends, if it has one.
    pub(crate) end: Option<Instant>,
    /// When the shutdown notice is due; `None` once sent.
    pub(crate) notice: Option<Instant>,
}

impl Connection {
    /// Runs until the connection ends; the socket is closed when this
    /// returns (the connection is consumed).
    async fn run(mut self, faults: Vec<Fault>) -> CloseCause {
        if let ControlFlow::Break(cause) = self.apply_faults(faults).await {
            return cause;
        }
        if let Some(welcome) = self.shared.config.protocol.welcome(self.context(&[]))
            && let ControlFlow::Break(cause) = self.write_text(welcome).await
        {
            return cause;
        }
        loop {
            let flow = match self.next_event().await {
                Event::Shutdown | Event::Command(None) => {
                    self.close_with(
                        Some(CloseFrame::new(1001, "server shutdown")),
                        CloseCause::Shutdown,
                    )
                    .await
                }
                Event::Command(Some(Command::Fault(fault))) => self.apply_fault(fault).await,
                Event::Command(Some(Command::Send(WsMessage::Close(frame)))) => {
                    let cause = CloseCause::Fault(Fault::Close(
                        frame.clone().unwrap_or_else(|| CloseFrame::new(1005, "")),
                    ));
                    self.close_with(frame, cause).await
                }
                Event::Command(Some(Command::Send(message))) => self.write(message).await,
                Event::Command(Some(Command::StreamFault(stream, fault))) => {
                    self.queue_stream_fault(stream, fault);
                    CONTINUE
                }
                Event::Client(Some(Ok(message))) => self.on_client(message).await,
                Event::Client(Some(Err(error))) => {
                    ControlFlow::Break(CloseCause::ConnectionLost(error.to_string()))
                }
                Event::Client(None) => ControlFlow::Break(CloseCause::ConnectionLost(
                    "connection closed by the client".to_owned(),
                )),
                Event::Timer => self.on_timer().await,
                Event::Publish => match self.next_fast_stream() {
                    Some(index) => self.publish(index, Instant::now()).await,
                    None => CONTINUE,
                },
            };
            if let ControlFlow::Break(cause) = flow {
                return cause;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let ping = self.ping.as_ref().map(PingTimer::next_deadline);
        let idle = self.idle.map(|idle| self.last_heard + idle);
        let streams = self.cursors.iter().filter_map(Cursor::due_at).min();
        [ping, idle, streams, self.notice, self.end]
            .into_iter()
            .flatten()
            .min()
    }

    async fn next_event(&mut self) -> Event {
        let deadline = self.next_deadline();
        let fast = self.cursors.iter().any(Cursor::wants_fast);
        tokio::select! {
            biased;
            () = shut_down(&mut self.shutdown) => Event::Shutdown,
            command = self.commands.recv() => Event::Command(command),
            message = self.ws.next() => Event::Client(message),
            () = sleep_until_opt(deadline) => Event::Timer,
            () = std::future::ready(()), if fast => Event::Publish,
        }
    }

    fn next_fast_stream(&mut self) -> Option<usize> {
        let count = self.cursors.len();
        (0..count)
            .map(|k| (self.next_fast + k) % count)
            .find(|&i| self.cursors[i].wants_fast())
            .inspect(|&i| self.next_fast = i + 1)
    }

    // ---- writing ----

    /// Writes and flushes one message, compressed when the exchange
    /// compresses; nothing is recorded.
    async fn send(&mut self, message: WsMessage) -> Flow {
        let message = match &message {
            WsMessage::Text(_) | WsMessage::Binary(_) => self
                .shared
                .config
                .compression
                .compress(message.as_bytes())
                .map_or(message, WsMessage::binary),
            _ => message,
        };
        let message = to_tungstenite(message);
        let result = match self.shared.config.write_timeout {
            Some(limit) => match timeout(limit, self.ws.send(message)).await {
                Ok(result) => result,
                Err(_) => return ControlFlow::Break(CloseCause::WriteTimeout),
            },
            None => self.ws.send(message).await,
        };
        match result {
            Ok(()) => CONTINUE,
            Err(error) => ControlFlow::Break(CloseCause::ConnectionLost(error.to_string())),
        }
    }

    /// Writes a message that is not market data, and records it once written.
    pub(crate) async fn write(&mut self, message: WsMessage) -> Flow {
        self.send(message.clone()).await?;
        let id = self.id;
        self.shared.update(|s| s.record_written(id, message));
        CONTINUE
    }

    pub(crate) async fn write_text(&mut self, text: String) -> Flow {
        self.write(WsMessage::text(text)).await
    }

    /// Writes what stream `index` has to write now (its next message, as
    /// its stream faults say), records it, and carries out the faults that
    /// became due.
    async fn publish(&mut self, index: usize, now: Instant) -> Flow {
        let id = self.id;
        let cursor = &mut self.cursors[index];
        let writes = cursor.produce(now);
        let stream = Arc::clone(cursor.name());
        if cursor.tracks_produced() {
            // Recorded before the write: a client that has read message `k`
            // and asks for a snapshot gets one at `k` or later. No one waits
            // on this, so no wake-up.
            let last = cursor.last_produced();
            self.shared.lock().set_produced(id, &stream, last);
        }
        for write in writes.into_iter().flatten() {
            let text = Utf8Bytes::from(write.text);
            self.send(WsMessage::Text(text.clone())).await?;
            let record = SentRecord::new(id, Arc::clone(&stream), write.seq, text)
                .with_snapshot(write.snapshot);
            let faults = self.shared.update(|s| s.record_data(id, record));
            self.apply_faults(faults).await?;
        }
        CONTINUE
    }

    /// Gives a stream fault to the stream's cursor, or keeps it until the
    /// connection subscribes to the stream.
    fn queue_stream_fault(&mut self, stream: Arc<str>, fault: StreamFault) {
        match self.cursors.iter_mut().find(|c| *c.name() == stream) {
            Some(cursor) => cursor.push_fault(fault),
            None => self.waiting_faults.push((stream, fault)),
        }
    }

    /// Sends a Close frame, waits a little for the client's, and stops.
    pub(crate) async fn close_with(
        &mut self,
        frame: Option<CloseFrame>,
        cause: CloseCause,
    ) -> Flow {
        let message = WsMessage::Close(frame);
        if self.write(message).await.is_continue() {
            let shared = Arc::clone(&self.shared);
            let id = self.id;
            let ws = &mut self.ws;
            let drain = async move {
                while let Some(Ok(message)) = ws.next().await {
                    if let Some(message) = from_client(message) {
                        shared.update(|s| s.record_received(id, message));
                    }
                }
            };
            let _ = timeout(self.shared.config.close_grace, drain).await;
        }
        ControlFlow::Break(cause)
    }

    // ---- timers ----

    async fn on_timer(&mut self) -> Flow {
        let now = Instant::now();
        self.on_lifetime_timer(now).await?;
        self.on_keepalive_timer(now).await?;
        for index in 0..self.cursors.len() {
            if self.cursors[index].due_at().is_some_and(|due| due <= now) {
                self.publish(index, now).await?;
            }
        }
        CONTINUE
    }

    /// The shutdown notice when due, then the close at the end of the
    /// connection's lifetime.
    async fn on_lifetime_timer(&mut self, now: Instant) -> Flow {
        if self.notice.is_some_and(|at| at <= now) {
            self.notice = None;
            // The venue's clock: deterministic, like the data's times.
            let since_start = now.saturating_duration_since(self.shared.started);
            let time = u64::try_from(since_start.as_millis())
                .unwrap_or(u64::MAX)
                .saturating_add(crate::stream::EPOCH_MS);
            let protocol = self.shared.config.protocol;
            if let Some(notice) = protocol.shutdown_notice(self.context(&[]), time) {
                self.write_text(notice).await?;
            }
        }
        if self.end.is_some_and(|end| end <= now) {
            return self
                .close_with(
                    Some(CloseFrame::new(1001, "connection lifetime reached")),
                    CloseCause::Lifetime,
                )
                .await;
        }
        CONTINUE
    }

    // ---- reading ----

    async fn on_client(&mut self, message: Message) -> Flow {
        let Some(message) = from_client(message) else {
            return CONTINUE;
        };
        self.last_heard = Instant::now();
        let id = self.id;
        self.shared
            .update(|s| s.record_received(id, message.clone()));
        if !matches!(message, WsMessage::Close(_)) && self.over_incoming_limit() {
            return self
                .close_with(
                    Some(CloseFrame::new(1008, "Too many requests")),
                    CloseCause::TooManyMessages,
                )
                .await;
        }
        match message {
            WsMessage::Text(text) => self.on_text(text.as_str()).await,
            WsMessage::Pong(payload) => {
                self.on_pong_frame(&payload);
                CONTINUE
            }
            WsMessage::Close(frame) => {
                // The WebSocket layer answers the Close; drive it out.
                let _ = timeout(self.shared.config.close_grace, async {
                    while let Some(Ok(_)) = self.ws.next().await {}
                })
                .await;
                ControlFlow::Break(CloseCause::ClientClosed(frame))
            }
            WsMessage::Ping(_) | WsMessage::Binary(_) => CONTINUE,
        }
    }

    /// Counts a message from the client: whether it is one too many for
    /// the incoming limit.
    fn over_incoming_limit(&mut self) -> bool {
        let Some((count, per)) = self.shared.config.incoming_limit else {
            return false;
        };
        over_limit(&mut self.heard, self.last_heard, count, per)
    }

    /// Counts a subscribe, unsubscribe or login request: whether it is one
    /// too many for the request limit.
    fn over_request_limit(&mut self) -> bool {
        let Some((count, per)) = self.shared.config.request_limit else {
            return false;
        };
        over_limit(&mut self.requests_heard, self.last_heard, count, per)
    }

    /// A text from the client: a keepalive message, else a request.
    async fn on_text(&mut self, text: &str) -> Flow {
        let json: Option<Value> = serde_json::from_str(text).ok();
        if let Some(flow) = self.on_keepalive_text(text, json.as_ref()).await {
            return flow;
        }
        let protocol = self.shared.config.protocol;
        if protocol.is_pong(json.as_ref()) {
            return CONTINUE;
        }
        let request = protocol.parse(json.as_ref(), self.context(&[]));
        if matches!(
            request,
            Request::Subscribe { .. } | Request::Unsubscribe { .. } | Request::Login { .. }
        ) && self.over_request_limit()
        {
            return self
                .close_with(
                    Some(CloseFrame::new(1008, "Too many requests")),
                    CloseCause::TooManyMessages,
                )
                .await;
        }
        if protocol.authenticates_requests() && matches!(request, Request::Subscribe { .. }) {
            self.authenticate_request(json.as_ref());
        }
        self.on_request(request).await
    }
}

/// Records a message heard `now` in `heard` (the last `per` of them):
/// whether there are more than `count`.
fn over_limit(
    heard: &mut std::collections::VecDeque<Instant>,
    now: Instant,
    count: u32,
    per: std::time::Duration,
) -> bool {
    while heard
        .front()
        .is_some_and(|&at| now.duration_since(at) >= per)
    {
        heard.pop_front();
    }
    heard.push_back(now);
    heard.len() > count as usize
}
