//! Keepalive, in one place: answering the server's application pings
//! (the passive detector), consuming the answers to our heartbeat, sending
//! the heartbeat, sending a protocol Ping after a silence, and judging the
//! connection dead when nothing arrives. The server's protocol Pings need
//! nothing here: the transport answers them.

use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{PassivePingDetector, WsMessage};
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at};

use crate::runtime::Shared;
use crate::{Heartbeat, ProtocolPing};

/// The client's keepalive settings (the builder's `ping_detector`,
/// `heartbeat`, `protocol_ping` and `liveness_timeout`).
#[derive(Clone)]
pub(crate) struct KeepaliveConfig {
    pub(crate) ping_detector: Option<Arc<dyn PassivePingDetector>>,
    pub(crate) heartbeat: Option<Heartbeat>,
    /// On by default: a peer that vanished must not look open forever.
    pub(crate) protocol_ping: Option<ProtocolPing>,
    pub(crate) liveness_timeout: Option<Duration>,
}

impl Default for KeepaliveConfig {
    fn default() -> Self {
        Self {
            ping_detector: None,
            heartbeat: None,
            protocol_ping: Some(ProtocolPing::default()),
            liveness_timeout: None,
        }
    }
}

impl std::fmt::Debug for KeepaliveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepaliveConfig")
            .field("ping_detector", &self.ping_detector.is_some())
            .field("heartbeat", &self.heartbeat)
            .field("protocol_ping", &self.protocol_ping)
            .field("liveness_timeout", &self.liveness_timeout)
            .finish()
    }
}

/// What keepalive makes of a received data message.
pub(crate) enum Answer {
    /// An application ping: send this reply; the message goes no further.
    Reply(WsMessage),
    /// The answer to our heartbeat: consumed.
    Consumed,
}

/// Something keepalive needs done now.
pub(crate) enum Due {
    /// Send the heartbeat message.
    Heartbeat(WsMessage),
    /// Silent for the protocol ping interval: send a protocol Ping.
    Ping,
    /// Nothing arrived for this long: the connection is dead.
    Dead(Duration),
}

/// One connection's keepalive.
pub(crate) struct Keepalive {
    config: KeepaliveConfig,
    heartbeat: Option<Interval>,
    silence: Option<Silence>,
}

/// Watches for silence: a Ping after the protocol ping interval, dead
/// after its timeout more or after the liveness timeout, whichever comes
/// first. Checked on a ticker (a quarter of the shortest of those
/// durations), so a received frame costs a flag, not a clock read.
struct Silence {
    ticker: Interval,
    heard: bool,
    /// Ticks in a row without a frame. 64 bits: a year of 1 ms ticks does
    /// not saturate it, so a long interval and a short timeout keep their
    /// order.
    quiet: u64,
    /// Quiet ticks before the Ping, if there is one.
    ping_at: Option<u64>,
    pinged: bool,
    /// Quiet ticks before the connection is dead, and the silence that is.
    dead_at: u64,
    dead_after: Duration,
}

impl Keepalive {
    /// Starts the timers of a fresh connection.
    pub(crate) fn start(config: &KeepaliveConfig) -> Self {
        let heartbeat = config
            .heartbeat
            .as_ref()
            .map(|heartbeat| ticker(heartbeat.interval));
        Self {
            config: config.clone(),
            heartbeat,
            silence: Silence::new(config.protocol_ping, config.liveness_timeout),
        }
    }

    /// Any frame arrived: the connection is alive.
    #[inline]
    pub(crate) fn heard(&mut self) {
        if let Some(silence) = &mut self.silence {
            silence.heard = true;
        }
    }

    /// Whether a received data message is keepalive traffic, and what to do
    /// with it; `None` for a message to route. A panicking detector is
    /// reported and its message taken as no ping.
    #[inline]
    pub(crate) fn answer(&self, message: &WsMessage, shared: &Shared) -> Option<Answer> {
        if let Some(detector) = &self.config.ping_detector
            && let Some(Some(reply)) = shared.caught("ping detector", || detector.detect(message))
        {
            return Some(Answer::Reply(reply));
        }
        match &self.config.heartbeat {
            Some(Heartbeat {
                reply: Some(reply), ..
            }) if reply == message => Some(Answer::Consumed),
            _ => None,
        }
    }

    /// Waits until a heartbeat or a Ping is due or the connection is found
    /// dead; never returns when none is configured.
    ///
    /// Cancel safe: a tick's effect is recorded before the next await.
    pub(crate) async fn due(&mut self) -> Due {
        loop {
            tokio::select! {
                _ = tick(self.heartbeat.as_mut()) => {
                    if let Some(heartbeat) = &self.config.heartbeat {
                        return Due::Heartbeat(heartbeat.message.clone());
                    }
                }
                _ = tick(self.silence.as_mut().map(|s| &mut s.ticker)) => {
                    if let Some(due) = self.silence.as_mut().and_then(Silence::quiet_tick) {
                        return due;
                    }
                }
            }
        }
    }
}

impl Silence {
    fn new(ping: Option<ProtocolPing>, liveness: Option<Duration>) -> Option<Self> {
        let shortest = [ping.map(|p| p.interval), ping.map(|p| p.timeout), liveness]
            .into_iter()
            .flatten()
            .min()?;
        let period = (shortest / 4).max(Duration::from_nanos(1));
        let ticks = |after: Duration| {
            u64::try_from(after.as_nanos().div_ceil(period.as_nanos())).unwrap_or(u64::MAX)
        };
        let ping_at = ping.map(|p| ticks(p.interval));
        let by_ping = ping.map(|p| {
            let at = ticks(p.interval).saturating_add(ticks(p.timeout));
            (at, p.interval.saturating_add(p.timeout))
        });
        let by_liveness = liveness.map(|after| (ticks(after), after));
        let (dead_at, dead_after) = [by_ping, by_liveness]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)?;
        Some(Self {
            ticker: ticker(period),
            heard: false,
            quiet: 0,
            ping_at: ping_at.filter(|at| *at < dead_at),
            pinged: false,
            dead_at,
            dead_after,
        })
    }

    /// One check: a Ping once silent long enough, dead once silent longer.
    fn quiet_tick(&mut self) -> Option<Due> {
        if std::mem::take(&mut self.heard) {
            self.quiet = 0;
            self.pinged = false;
            return None;
        }
        self.quiet = self.quiet.saturating_add(1);
        if self.quiet >= self.dead_at {
            return Some(Due::Dead(self.dead_after));
        }
        match self.ping_at {
            Some(at) if !self.pinged && self.quiet >= at => {
                self.pinged = true;
                Some(Due::Ping)
            }
            _ => None,
        }
    }
}

fn ticker(period: Duration) -> Interval {
    let mut ticker = interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
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
