//! Keepalive: server pings with deadlines, answers to client pings, and the
//! idle cutoff, and how a connection keeps them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hypersockets_core::{CloseFrame, WsMessage};
use serde_json::Value;
use tokio::time::Instant;

use crate::CloseCause;
use crate::connection::{CONTINUE, Connection, Flow};

/// How the server pings its clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PingStyle {
    /// A protocol Ping frame whose payload is `ping-<n>` (n = 1, 2, …); only
    /// a Pong frame with exactly that payload answers it.
    Protocol,
    /// The text `ping`; the text `pong` answers it.
    Text,
    /// HTX style: `{"ping":<ms>}` with the current Unix time in
    /// milliseconds (strictly increasing on a connection); only
    /// `{"pong":<the same number>}` answers it.
    Json,
}

/// Server-sent pings with a deadline: after `max_missed` pings in a row go
/// unanswered by their deadline the server closes the connection (code
/// 1008, reason `ping timeout`).
///
/// ```
/// use std::time::Duration;
/// use hypersockets_testkit::ServerPing;
///
/// // HTX: {"ping":ts} every 5 s; two misses in a row and you are out.
/// let htx = ServerPing::json(Duration::from_secs(5)).max_missed(2);
/// # drop(htx);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerPing {
    style: PingStyle,
    interval: Duration,
    deadline: Option<Duration>,
    max_missed: u32,
}

impl Default for ServerPing {
    /// Protocol pings every 20 s (Binance's rhythm), each due within its
    /// interval, closing after 2 misses in a row.
    fn default() -> Self {
        Self::new(PingStyle::Protocol, Duration::from_secs(20))
    }
}

impl ServerPing {
    /// Pings of this style every `interval`, the first one `interval` after
    /// the handshake. Default deadline: the interval; default misses allowed:
    /// 2 in a row.
    pub fn new(style: PingStyle, interval: Duration) -> Self {
        Self {
            style,
            interval,
            deadline: None,
            max_missed: 2,
        }
    }

    /// Protocol Ping frames every `interval`.
    pub fn protocol(interval: Duration) -> Self {
        Self::new(PingStyle::Protocol, interval)
    }

    /// Text `ping` every `interval`.
    pub fn text(interval: Duration) -> Self {
        Self::new(PingStyle::Text, interval)
    }

    /// `{"ping":<ms>}` every `interval`.
    pub fn json(interval: Duration) -> Self {
        Self::new(PingStyle::Json, interval)
    }

    /// How long after a ping its answer may come. Default: the interval;
    /// longer values are cut to the interval.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// How many pings in a row may go unanswered before the server closes
    /// the connection. Default: 2. At least 1.
    pub fn max_missed(mut self, max_missed: u32) -> Self {
        self.max_missed = max_missed.max(1);
        self
    }

    /// The style.
    pub fn style(&self) -> PingStyle {
        self.style
    }

    /// The interval between pings.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    fn effective_deadline(&self) -> Duration {
        self.deadline.unwrap_or(self.interval).min(self.interval)
    }
}

/// Which application-level pings from clients the server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ClientPings {
    text: bool,
    json_op: bool,
    json_ping: bool,
}

impl Default for ClientPings {
    /// All of them.
    fn default() -> Self {
        Self {
            text: true,
            json_op: true,
            json_ping: true,
        }
    }
}

impl ClientPings {
    /// None of them: client pings are treated like any other request.
    pub fn none() -> Self {
        Self {
            text: false,
            json_op: false,
            json_ping: false,
        }
    }

    /// Whether text `ping` is answered with text `pong` (OKX). Default: true.
    pub fn text(mut self, on: bool) -> Self {
        self.text = on;
        self
    }

    /// Whether `{"op":"ping"}` is answered with
    /// `{"success":true,"ret_msg":"pong","op":"ping"}` (Bybit). Default: true.
    pub fn json_op(mut self, on: bool) -> Self {
        self.json_op = on;
        self
    }

    /// Whether `{"ping":N}` is answered with `{"pong":N}` (HTX). Default: true.
    pub fn json_ping(mut self, on: bool) -> Self {
        self.json_ping = on;
        self
    }
}

/// How the exchange keeps connections alive and finds dead ones.
///
/// Protocol Pings from clients are always answered with a Pong of the same
/// payload (by the WebSocket library; these automatic Pongs are not listed
/// in [`Control::written`](crate::Control::written)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepaliveConfig {
    pub(crate) server_ping: Option<ServerPing>,
    pub(crate) client_pings: ClientPings,
    pub(crate) idle_timeout: Option<Duration>,
}

impl KeepaliveConfig {
    /// The defaults: no server pings, every client ping answered, no idle
    /// cutoff.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pings the server sends. Default: none.
    pub fn server_ping(mut self, ping: ServerPing) -> Self {
        self.server_ping = Some(ping);
        self
    }

    /// Which client pings are answered. Default: all
    /// ([`ClientPings::default`]).
    pub fn client_pings(mut self, pings: ClientPings) -> Self {
        self.client_pings = pings;
        self
    }

    /// Closes a connection (code 1008, reason `idle timeout`) when the
    /// client sends nothing at all (no frame of any kind) for this long.
    /// Default: never.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
}

/// Keepalive counters of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeepaliveStats {
    /// Server pings sent.
    pub pings_sent: u64,
    /// Answers that matched the outstanding ping exactly, in time.
    pub pongs_matched: u64,
    /// Answers that did not match (wrong payload or number, or none
    /// outstanding).
    pub pongs_mismatched: u64,
    /// Pings not answered by their deadline, in total.
    pub pings_missed: u64,
    /// Application-level client pings answered.
    pub client_pings_answered: u64,
}

/// The token of the outstanding ping.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Payload(Bytes),
    Text,
    Json(u64),
}

/// What a timer firing asks the connection to do.
#[derive(Debug)]
pub(crate) enum PingAction {
    /// Send this ping.
    Send(WsMessage),
    /// A ping was missed; `close` when that was one too many.
    Missed { close: bool },
}

/// What a client's message meant to the keepalive.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PongVerdict {
    /// Not a pong of our style.
    NotPong,
    /// The outstanding ping's exact answer.
    Matched,
    /// A pong, but not the answer expected.
    Mismatched,
}

/// The server-ping timer of one connection.
#[derive(Debug)]
pub(crate) struct PingTimer {
    config: ServerPing,
    next_ping: Instant,
    pending: Option<(Token, Instant)>,
    missed_in_row: u32,
    counter: u64,
    last_ms: u64,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl PingTimer {
    pub(crate) fn new(config: ServerPing, now: Instant) -> Self {
        Self {
            next_ping: now + config.interval,
            config,
            pending: None,
            missed_in_row: 0,
            counter: 0,
            last_ms: 0,
        }
    }

    pub(crate) fn next_deadline(&self) -> Instant {
        match &self.pending {
            Some((_, deadline)) => (*deadline).min(self.next_ping),
            None => self.next_ping,
        }
    }

    /// What is due at `now`, if anything: a missed deadline first.
    pub(crate) fn fire(&mut self, now: Instant) -> Option<PingAction> {
        if let Some((_, deadline)) = &self.pending
            && *deadline <= now
        {
            self.pending = None;
            self.missed_in_row += 1;
            return Some(PingAction::Missed {
                close: self.missed_in_row >= self.config.max_missed,
            });
        }
        if self.next_ping > now {
            return None;
        }
        // A ping still outstanding at the next ping counts as missed first.
        if self.pending.is_some() {
            self.pending = None;
            self.missed_in_row += 1;
            return Some(PingAction::Missed {
                close: self.missed_in_row >= self.config.max_missed,
            });
        }
        self.counter += 1;
        self.next_ping += self.config.interval;
        if self.next_ping <= now {
            self.next_ping = now + self.config.interval;
        }
        let (token, message) = match self.config.style {
            PingStyle::Protocol => {
                let payload = Bytes::from(format!("ping-{}", self.counter));
                (Token::Payload(payload.clone()), WsMessage::Ping(payload))
            }
            PingStyle::Text => (Token::Text, WsMessage::text("ping")),
            PingStyle::Json => {
                let ms = unix_ms().max(self.last_ms + 1);
                self.last_ms = ms;
                (
                    Token::Json(ms),
                    WsMessage::text(format!(r#"{{"ping":{ms}}}"#)),
                )
            }
        };
        self.pending = Some((token, now + self.config.effective_deadline()));
        Some(PingAction::Send(message))
    }

    fn answer(&mut self, token: &Token) -> PongVerdict {
        match &self.pending {
            Some((expected, _)) if expected == token => {
                self.pending = None;
                self.missed_in_row = 0;
                PongVerdict::Matched
            }
            _ => PongVerdict::Mismatched,
        }
    }

    /// A Pong frame arrived.
    pub(crate) fn on_pong_frame(&mut self, payload: &Bytes) -> PongVerdict {
        if self.config.style != PingStyle::Protocol {
            return PongVerdict::NotPong;
        }
        self.answer(&Token::Payload(payload.clone()))
    }

    /// A text message arrived; `json` is its parse, if it is JSON.
    pub(crate) fn on_text(&mut self, text: &str, json: Option<&Value>) -> PongVerdict {
        match self.config.style {
            PingStyle::Protocol => PongVerdict::NotPong,
            PingStyle::Text if text == "pong" => self.answer(&Token::Text),
            PingStyle::Text => PongVerdict::NotPong,
            PingStyle::Json => match json.and_then(|v| v.get("pong")) {
                Some(value) => match value.as_u64() {
                    Some(ms) => self.answer(&Token::Json(ms)),
                    None => PongVerdict::Mismatched,
                },
                None => PongVerdict::NotPong,
            },
        }
    }
}

impl ClientPings {
    /// The answer to a client's application ping, if `text` is one that is
    /// answered.
    pub(crate) fn answer(&self, text: &str, json: Option<&Value>) -> Option<String> {
        if self.text && text == "ping" {
            return Some("pong".to_owned());
        }
        let object = json?.as_object()?;
        if self.json_op && object.get("op").and_then(Value::as_str) == Some("ping") {
            return Some(r#"{"success":true,"ret_msg":"pong","op":"ping"}"#.to_owned());
        }
        if self.json_ping
            && object.len() == 1
            && let Some(value) = object.get("ping").filter(|v| v.is_number())
        {
            return Some(format!(r#"{{"pong":{value}}}"#));
        }
        None
    }
}

impl Connection {
    /// The keepalive part of a timer: the idle cutoff, then the server pings
    /// due (and the misses that end the connection).
    pub(crate) async fn on_keepalive_timer(&mut self, now: Instant) -> Flow {
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
        CONTINUE
    }

    /// A Pong frame from the client, checked against the last server ping.
    pub(crate) fn on_pong_frame(&mut self, payload: &Bytes) {
        if let Some(timer) = self.ping.as_mut() {
            let verdict = timer.on_pong_frame(payload);
            self.count_pong(&verdict);
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

    /// A text from the client that is about keepalive: an application pong
    /// (counted, or ignored when unsolicited) or a ping (answered). `None`
    /// when the text is something else.
    pub(crate) async fn on_keepalive_text(
        &mut self,
        text: &str,
        json: Option<&Value>,
    ) -> Option<Flow> {
        if let Some(timer) = self.ping.as_mut() {
            let verdict = timer.on_text(text, json);
            if verdict != PongVerdict::NotPong {
                self.count_pong(&verdict);
                return Some(CONTINUE);
            }
        }
        // An unsolicited pong is not a request.
        if text == "pong" || json.and_then(|v| v.get("pong")).is_some() {
            return Some(CONTINUE);
        }
        let reply = self
            .shared
            .config
            .keepalive
            .client_pings
            .answer(text, json)?;
        let id = self.id;
        self.shared
            .update(|s| s.stats(id, |k| k.client_pings_answered += 1));
        Some(self.write_text(reply).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_ping_needs_exact_payload() {
        let start = Instant::now();
        let mut timer = PingTimer::new(ServerPing::protocol(Duration::from_millis(100)), start);
        assert!(timer.fire(start).is_none());
        let at = start + Duration::from_millis(100);
        let Some(PingAction::Send(WsMessage::Ping(payload))) = timer.fire(at) else {
            panic!("expected a ping");
        };
        assert_eq!(&payload[..], b"ping-1");
        assert_eq!(
            timer.on_pong_frame(&Bytes::from_static(b"ping-2")),
            PongVerdict::Mismatched
        );
        assert_eq!(timer.on_pong_frame(&payload), PongVerdict::Matched);
        assert_eq!(timer.on_pong_frame(&payload), PongVerdict::Mismatched);
    }

    #[test]
    fn misses_in_a_row_close() {
        let start = Instant::now();
        let interval = Duration::from_millis(100);
        let mut timer = PingTimer::new(ServerPing::text(interval).max_missed(2), start);
        let mut now = start;
        let mut closes = 0;
        let mut misses = 0;
        for _ in 0..10 {
            now = timer.next_deadline();
            while let Some(action) = timer.fire(now) {
                if let PingAction::Missed { close } = action {
                    misses += 1;
                    closes += usize::from(close);
                }
            }
            if closes > 0 {
                break;
            }
        }
        assert_eq!(misses, 2);
        assert!(now > start);
    }

    #[test]
    fn client_pings() {
        let pings = ClientPings::default();
        let json = |t: &str| serde_json::from_str::<Value>(t).ok();
        assert_eq!(pings.answer("ping", None).as_deref(), Some("pong"));
        assert_eq!(
            pings
                .answer(r#"{"ping":42}"#, json(r#"{"ping":42}"#).as_ref())
                .as_deref(),
            Some(r#"{"pong":42}"#)
        );
        assert!(
            pings
                .answer(r#"{"op":"ping"}"#, json(r#"{"op":"ping"}"#).as_ref())
                .is_some()
        );
        assert!(ClientPings::none().answer("ping", None).is_none());
    }
}
