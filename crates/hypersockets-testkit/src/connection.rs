//! One connection: the TLS and WebSocket handshakes, then a single task that
//! reads the client, publishes the subscribed streams, keeps the connection
//! alive and carries out faults, recording everything.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::{SinkExt, StreamExt};
use hypersockets_core::{CloseFrame, Utf8Bytes, WsMessage};
use hypersockets_transport::convert::to_tungstenite;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::fault::{INVALID_UTF8, cut_text_frame, oversized_text, text_frame};
use crate::handshake;
use crate::io::ServerIo;
use crate::keepalive::{PingAction, PingTimer, PongVerdict};
use crate::state::{Command, Shared};
use crate::stream::Cursor;
use crate::subscribe::{Item, Refusal, Request as ClientRequest};
use crate::{
    CloseCause, ConnectionId, Fault, HandshakeResponse, SentRecord, StreamConfig,
    SubscriptionProtocol,
};

/// Continue, or stop the connection for this cause.
type Flow = ControlFlow<CloseCause>;

const CONTINUE: Flow = ControlFlow::Continue(());

/// Resolves once the exchange is shutting down. Holds no lock when it
/// returns.
pub(crate) async fn shut_down(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|down| *down).await;
}

/// Ours from what the client sent; `None` for raw frames (never read) and
/// for text that is somehow not UTF-8 (tungstenite checked it already).
fn from_client(message: Message) -> Option<WsMessage> {
    hypersockets_transport::convert::from_tungstenite(message)
        .ok()
        .flatten()
}

/// Resolves at `deadline`, or never.
async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// What the handshake callback saw.
#[derive(Debug, Default)]
struct Seen {
    index: usize,
    path: String,
    headers: Vec<(String, String)>,
}

/// The handshake callback: records the request, then answers as planned.
struct Recorder<'a> {
    shared: &'a Shared,
    plan: &'a HandshakeResponse,
    stall: Arc<AtomicBool>,
    seen: &'a OnceLock<Seen>,
}

impl Callback for Recorder<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        let (path, headers) = handshake::describe(request);
        let index = self
            .shared
            .update(|s| s.record_handshake(path.clone(), headers.clone(), self.plan.clone()));
        let _ = self.seen.set(Seen {
            index,
            path,
            headers,
        });
        match self.plan {
            HandshakeResponse::Reject { status, body } => Err(handshake::rejection(*status, body)),
            HandshakeResponse::Stall => {
                self.stall.store(true, Ordering::Release);
                Ok(response)
            }
            HandshakeResponse::Accept => Ok(response),
        }
    }
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
    let handshake_timeout = shared.config.handshake_timeout;

    let io = match tls {
        Some(acceptor) => {
            let accepted = tokio::select! {
                accepted = timeout(handshake_timeout, acceptor.accept(tcp)) => accepted,
                () = shut_down(&mut shutdown) => return,
            };
            match accepted {
                Ok(Ok(tls)) => ServerIo::tls(tls),
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "tls handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "tls handshake timed out");
                    return;
                }
            }
        }
        None => ServerIo::plain(tcp),
    };

    let seen = OnceLock::new();
    let callback = Recorder {
        shared: &shared,
        plan: &plan,
        stall: io.stall_flag(),
        seen: &seen,
    };
    let accept = tokio_tungstenite::accept_hdr_async_with_config(
        io,
        callback,
        Some(WebSocketConfig::default()),
    );
    let accepted = if plan == HandshakeResponse::Stall {
        tokio::select! {
            accepted = accept => accepted,
            () = shut_down(&mut shutdown) => return,
        }
    } else {
        tokio::select! {
            accepted = timeout(handshake_timeout, accept) => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tracing::debug!(%peer, "websocket handshake timed out");
                    return;
                }
            },
            () = shut_down(&mut shutdown) => return,
        }
    };
    let ws = match accepted {
        Ok(ws) => ws,
        Err(error) => {
            tracing::debug!(%peer, %error, "websocket handshake ended without a connection");
            return;
        }
    };
    let Seen {
        index,
        path,
        headers,
    } = seen.into_inner().unwrap_or_default();

    let (commands_tx, commands) = mpsc::unbounded_channel();
    let (id, faults) = shared.update(|s| s.register(Some(index), peer, path, headers, commands_tx));
    tracing::debug!(%id, %peer, "connection open");
    let now = Instant::now();
    let keepalive = &shared.config.keepalive;
    let connection = Connection {
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
        next_fast: 0,
        last_heard: now,
        authenticated: false,
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

struct Connection {
    shared: Arc<Shared>,
    id: ConnectionId,
    /// The connection's id as OKX's `connId`.
    tag: String,
    ws: WebSocketStream<ServerIo>,
    commands: mpsc::UnboundedReceiver<Command>,
    shutdown: watch::Receiver<bool>,
    /// Every stream ever subscribed to, active or paused, in order.
    cursors: Vec<Cursor>,
    /// Where the round robin of as-fast-as-possible streams goes on.
    next_fast: usize,
    ping: Option<PingTimer>,
    idle: Option<std::time::Duration>,
    last_heard: Instant,
    authenticated: bool,
}

impl Connection {
    /// Runs until the connection ends; the socket is closed when this
    /// returns (the connection is consumed).
    async fn run(mut self, faults: Vec<Fault>) -> CloseCause {
        if let ControlFlow::Break(cause) = self.apply_faults(faults).await {
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
        [ping, idle, streams].into_iter().flatten().min()
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

    /// Writes and flushes one message; nothing is recorded.
    async fn send(&mut self, message: WsMessage) -> Flow {
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
    async fn write(&mut self, message: WsMessage) -> Flow {
        self.send(message.clone()).await?;
        let id = self.id;
        self.shared.update(|s| s.record_written(id, message));
        CONTINUE
    }

    async fn write_text(&mut self, text: String) -> Flow {
        self.write(WsMessage::text(text)).await
    }

    /// Writes the next message of stream `index`, records it, and carries
    /// out the faults that became due.
    async fn publish(&mut self, index: usize, now: Instant) -> Flow {
        let cursor = &mut self.cursors[index];
        let (seq, text) = cursor.take(now);
        let stream = Arc::clone(cursor.name());
        let text = Utf8Bytes::from(text);
        self.send(WsMessage::Text(text.clone())).await?;
        let id = self.id;
        let faults = self
            .shared
            .update(|s| s.record_data(id, SentRecord::new(id, stream, seq, text)));
        self.apply_faults(faults).await
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

    /// Sends a Close frame, waits a little for the client's, and stops.
    async fn close_with(&mut self, frame: Option<CloseFrame>, cause: CloseCause) -> Flow {
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

    // ---- faults ----

    async fn apply_faults(&mut self, faults: Vec<Fault>) -> Flow {
        for fault in faults {
            self.apply_fault(fault).await?;
        }
        CONTINUE
    }

    async fn apply_fault(&mut self, fault: Fault) -> Flow {
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

    // ---- timers ----

    async fn on_timer(&mut self) -> Flow {
        let now = Instant::now();
        if let Some(idle) = self.idle
            && now >= self.last_heard + idle
        {
            return self
                .close_with(
                    Some(CloseFrame::new(1008, "idle timeout")),
                    CloseCause::IdleTimeout,
                )
                .await;
        }
        let id = self.id;
        while let Some(action) = self.ping.as_mut().and_then(|timer| timer.fire(now)) {
            match action {
                PingAction::Send(ping) => {
                    self.shared.update(|s| s.stats(id, |k| k.pings_sent += 1));
                    self.write(ping).await?;
                }
                PingAction::Missed { close } => {
                    self.shared.update(|s| s.stats(id, |k| k.pings_missed += 1));
                    if close {
                        return self
                            .close_with(
                                Some(CloseFrame::new(1008, "ping timeout")),
                                CloseCause::PingTimeout,
                            )
                            .await;
                    }
                }
            }
        }
        for index in 0..self.cursors.len() {
            if self.cursors[index].due_at().is_some_and(|due| due <= now) {
                self.publish(index, now).await?;
            }
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
        match message {
            WsMessage::Text(text) => self.on_text(text.as_str()).await,
            WsMessage::Pong(payload) => {
                if let Some(timer) = self.ping.as_mut() {
                    let verdict = timer.on_pong_frame(&payload);
                    self.count_pong(&verdict);
                }
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

    fn count_pong(&self, verdict: &PongVerdict) {
        let id = self.id;
        match verdict {
            PongVerdict::Matched => self
                .shared
                .update(|s| s.stats(id, |k| k.pongs_matched += 1)),
            PongVerdict::Mismatched => self
                .shared
                .update(|s| s.stats(id, |k| k.pongs_mismatched += 1)),
            PongVerdict::NotPong => {}
        }
    }

    async fn on_text(&mut self, text: &str) -> Flow {
        let json: Option<Value> = serde_json::from_str(text).ok();
        if let Some(timer) = self.ping.as_mut() {
            let verdict = timer.on_text(text, json.as_ref());
            if verdict != PongVerdict::NotPong {
                self.count_pong(&verdict);
                return CONTINUE;
            }
        }
        // An unsolicited pong is not a request.
        if text == "pong" || json.as_ref().and_then(|v| v.get("pong")).is_some() {
            return CONTINUE;
        }
        if let Some(reply) = self
            .shared
            .config
            .keepalive
            .client_pings
            .answer(text, json.as_ref())
        {
            let id = self.id;
            self.shared
                .update(|s| s.stats(id, |k| k.client_pings_answered += 1));
            return self.write_text(reply).await;
        }
        let request = self.shared.config.protocol.parse(json.as_ref());
        self.on_request(request).await
    }

    async fn on_request(&mut self, request: ClientRequest) -> Flow {
        let protocol = self.shared.config.protocol;
        match request {
            ClientRequest::Subscribe { id, items } => self.subscribe(&id, items).await,
            ClientRequest::Unsubscribe { id, items } => {
                for item in &items {
                    if let Some(cursor) =
                        self.cursors.iter_mut().find(|c| **c.name() == *item.stream)
                    {
                        cursor.deactivate();
                    }
                }
                self.sync_subscriptions();
                for ack in protocol.acks(false, &id, &items, &self.tag) {
                    self.write_text(ack).await?;
                }
                CONTINUE
            }
            ClientRequest::List { id } => {
                let streams = self.active_streams();
                self.write_text(protocol.list(&id, &streams)).await
            }
            ClientRequest::Login { id, login } => {
                let ok = self
                    .shared
                    .config
                    .auth
                    .as_ref()
                    .is_some_and(|auth| auth.accepts(&login));
                if ok {
                    self.authenticated = true;
                    let conn = self.id;
                    self.shared.update(|s| s.set_authenticated(conn, true));
                }
                let answer = protocol.login_answer(&id, &login, ok, &self.tag);
                self.write_text(answer).await
            }
            ClientRequest::Invalid { id, reason } => {
                let answer = protocol.invalid(&id, &reason, &self.tag);
                self.write_text(answer).await
            }
        }
    }

    fn check(&self, item: &Item) -> Result<Arc<StreamConfig>, Refusal> {
        match self.shared.streams.get(&item.stream) {
            None => Err(Refusal::Unknown),
            Some(config) if config.is_private() && !self.authenticated => {
                Err(Refusal::LoginRequired)
            }
            Some(config) => Ok(Arc::clone(config)),
        }
    }

    fn add_stream(&mut self, config: Arc<StreamConfig>) {
        let now = Instant::now();
        match self
            .cursors
            .iter_mut()
            .find(|c| **c.name() == *config.name())
        {
            Some(cursor) => cursor.activate(now),
            None => self.cursors.push(Cursor::new(config, self.id, now)),
        }
    }

    fn active_streams(&self) -> Vec<String> {
        self.cursors
            .iter()
            .filter(|c| c.is_active())
            .map(|c| c.name().to_string())
            .collect()
    }

    fn sync_subscriptions(&self) {
        let streams = self.active_streams();
        let id = self.id;
        self.shared.update(|s| s.set_subscriptions(id, streams));
    }

    async fn subscribe(&mut self, id: &Value, items: Vec<Item>) -> Flow {
        let protocol = self.shared.config.protocol;
        match protocol {
            // All or nothing, one answer.
            SubscriptionProtocol::Binance => {
                let mut configs = Vec::with_capacity(items.len());
                for item in &items {
                    match self.check(item) {
                        Ok(config) => configs.push(config),
                        Err(refusal) => {
                            let answer = protocol.refusal(id, item, refusal, &self.tag);
                            return self.write_text(answer).await;
                        }
                    }
                }
                for config in configs {
                    self.add_stream(config);
                }
                self.sync_subscriptions();
                for ack in protocol.acks(true, id, &items, &self.tag) {
                    self.write_text(ack).await?;
                }
                CONTINUE
            }
            // One answer per argument.
            SubscriptionProtocol::Okx => {
                for item in items {
                    let answer = match self.check(&item) {
                        Ok(config) => {
                            self.add_stream(config);
                            self.sync_subscriptions();
                            protocol.acks(true, id, std::slice::from_ref(&item), &self.tag)
                        }
                        Err(refusal) => vec![protocol.refusal(id, &item, refusal, &self.tag)],
                    };
                    for text in answer {
                        self.write_text(text).await?;
                    }
                }
                CONTINUE
            }
        }
    }
}
