//! Keepalive, in one place: answering the server's application pings
//! (the passive detector), consuming the answers to our heartbeat, sending
//! the heartbeat, and judging the connection dead when nothing arrives.
//! Protocol Pings need nothing here: the transport answers them.

use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{PassivePingDetector, WsMessage};
use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at};

use crate::Heartbeat;

/// The client's keepalive settings (the builder's `ping_detector`,
/// `heartbeat` and `liveness_timeout`).
#[derive(Clone, Default)]
pub(crate) struct KeepaliveConfig {
    pub(crate) ping_detector: Option<Arc<dyn PassivePingDetector>>,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) liveness_timeout: Option<Duration>,
}

impl std::fmt::Debug for KeepaliveConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeepaliveConfig")
            .field("ping_detector", &self.ping_detector.is_some())
            .field("heartbeat", &self.heartbeat)
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
    /// Nothing arrived for this long: the connection is dead.
    Dead(Duration),
}

/// One connection's keepalive.
pub(crate) struct Keepalive {
    config: KeepaliveConfig,
    heartbeat: Option<Interval>,
    liveness: Option<Liveness>,
}

/// Dead when nothing arrives for `timeout`: checked every quarter of it, so
/// a received frame costs a flag, not a clock read.
struct Liveness {
    timeout: Duration,
    ticker: Interval,
    heard: bool,
    quiet_ticks: u8,
}

impl Keepalive {
    /// Starts the timers of a fresh connection.
    pub(crate) fn start(config: &KeepaliveConfig) -> Self {
        let heartbeat = config
            .heartbeat
            .as_ref()
            .map(|heartbeat| ticker(heartbeat.interval));
        let liveness = config.liveness_timeout.map(|timeout| Liveness {
            timeout,
            ticker: ticker(timeout / 4),
            heard: false,
            quiet_ticks: 0,
        });
        Self {
            config: config.clone(),
            heartbeat,
            liveness,
        }
    }

    /// Any frame arrived: the connection is alive.
    #[inline]
    pub(crate) fn heard(&mut self) {
        if let Some(liveness) = &mut self.liveness {
            liveness.heard = true;
        }
    }

    /// Whether a received data message is keepalive traffic, and what to do
    /// with it; `None` for a message to route.
    #[inline]
    pub(crate) fn answer(&self, message: &WsMessage) -> Option<Answer> {
        if let Some(detector) = &self.config.ping_detector
            && let Some(reply) = detector.detect(message)
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

    /// Waits until a heartbeat is due or the connection is found dead;
    /// never returns when neither is configured.
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
                _ = tick(self.liveness.as_mut().map(|l| &mut l.ticker)) => {
                    if let Some(liveness) = &mut self.liveness
                        && liveness.quiet_tick()
                    {
                        return Due::Dead(liveness.timeout);
                    }
                }
            }
        }
    }
}

impl Liveness {
    /// One check: true when four checks in a row heard nothing.
    fn quiet_tick(&mut self) -> bool {
        if std::mem::take(&mut self.heard) {
            self.quiet_ticks = 0;
            return false;
        }
        self.quiet_ticks += 1;
        self.quiet_ticks >= 4
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
