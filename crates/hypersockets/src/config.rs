//! The client's settings: filled in by the builder, validated by `build`,
//! then read by the connection task. One type from start to end.

use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{
    AuthProvider, ConnectRequest, ExponentialBackoff, HeaderProvider, HyperSocketError, Proxy,
    ReconnectionStrategy, Result, SequenceReader, SubscriptionAcks, TcpKeepalive, TopicRequests,
    Transport, TransportLimits,
};
use hypersockets_transport::TungsteniteTransport;

use crate::runtime::KeepaliveConfig;
use crate::subscription::Subscription;
use crate::{Decompression, Pacing, Rotation};

/// The longest any duration setting may be: a year. Beyond it, deadlines
/// computed as `now + setting` could overflow `Instant`, and no feed needs
/// to wait that long for anything.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The most messages the writer queue, and events the event stream, may
/// hold: the event stream allocates its buffer up front, and tokio's
/// channels panic beyond their own limits (`usize::MAX >> 3` permits, half
/// of `usize::MAX` broadcast slots).
pub(crate) const MAX_QUEUE: usize = 1 << 20;

/// Every setting of a client. The URL is empty until the builder has one.
pub(crate) struct ClientConfig {
    pub(crate) url: String,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) headers: Option<Arc<dyn HeaderProvider>>,
    pub(crate) auth: Option<Arc<dyn AuthProvider>>,
    pub(crate) keepalive: KeepaliveConfig,
    pub(crate) reconnect: Arc<dyn ReconnectionStrategy>,
    pub(crate) limits: TransportLimits,
    /// Which binary frames are inflated before anything sees them.
    pub(crate) decompression: Decompression,
    /// OS TCP keepalive on the socket; on by default.
    pub(crate) tcp_keepalive: Option<TcpKeepalive>,
    /// The proxy every connect goes through; none by default.
    pub(crate) proxy: Option<Proxy>,
    /// Whether `build` takes the proxy from the environment (replacing
    /// `proxy`); off by default.
    pub(crate) proxy_from_env: bool,
    pub(crate) timeouts: Timeouts,
    /// A connection that stayed up this long resets the attempt count.
    pub(crate) stable_after: Duration,
    /// Outgoing messages waiting for the writer, per connection.
    pub(crate) writer_queue: usize,
    /// Events a slow event stream may fall behind by.
    pub(crate) event_capacity: usize,
    /// Subscriptions given to the builder; moved to the registry by `build`.
    pub(crate) subscriptions: Vec<Subscription>,
    /// How fast each connection is written to.
    pub(crate) pacing: Pacing,
    /// Reads the venue's answers to subscriptions; none by default.
    pub(crate) acks: Option<Arc<dyn SubscriptionAcks>>,
    /// How long a subscription request waits for its answer once written.
    pub(crate) subscribe_timeout: Duration,
    /// How many times a subscription request is sent on one connection.
    pub(crate) subscribe_attempts: u32,
    /// Writes topics' requests; none by default (topics are refused).
    pub(crate) topics: Option<Arc<dyn TopicRequests>>,
    /// When the connection is replaced before the venue ends it; off by
    /// default.
    pub(crate) rotation: Rotation,
    /// Reads messages' stream numbers, for rotations; none by default.
    pub(crate) sequence: Option<Arc<dyn SequenceReader>>,
    /// What is done about gaps and duplicates in numbered streams; on.
    pub(crate) integrity: crate::Integrity,
    /// The recorder given to the builder; `build` attaches it as
    /// `recording`.
    pub(crate) recorder: Option<crate::Recorder>,
    /// Where every connect and connection is recorded; none by default.
    pub(crate) recording: Option<crate::recording::RecordTap>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            transport: Arc::new(TungsteniteTransport::new()),
            headers: None,
            auth: None,
            keepalive: KeepaliveConfig::default(),
            reconnect: Arc::new(ExponentialBackoff::default()),
            limits: TransportLimits::default(),
            decompression: Decompression::Off,
            tcp_keepalive: Some(TcpKeepalive::default()),
            proxy: None,
            proxy_from_env: false,
            timeouts: Timeouts::default(),
            stable_after: Duration::from_secs(30),
            writer_queue: 1024,
            event_capacity: 1024,
            subscriptions: Vec::new(),
            pacing: Pacing::default(),
            acks: None,
            subscribe_timeout: Duration::from_secs(10),
            subscribe_attempts: 3,
            topics: None,
            rotation: Rotation::default(),
            sequence: None,
            integrity: crate::Integrity::default(),
            recorder: None,
            recording: None,
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL itself: its query may carry a listen key or token.
        f.debug_struct("ClientConfig")
            .field("host", &self.host())
            .field("transport", &self.transport)
            .field("auth", &self.auth.is_some())
            .field("headers", &self.headers.is_some())
            .field("keepalive", &self.keepalive)
            .field("reconnect", &self.reconnect)
            .field("limits", &self.limits)
            .field("tcp_keepalive", &self.tcp_keepalive)
            // Address and kind only: its Debug shows no credentials.
            .field("proxy", &self.proxy)
            .field("timeouts", &self.timeouts)
            .field("subscriptions", &self.subscriptions.len())
            .field("pacing", &self.pacing)
            .field("acks", &self.acks.is_some())
            .field("subscribe_timeout", &self.subscribe_timeout)
            .field("subscribe_attempts", &self.subscribe_attempts)
            .field("topics", &self.topics.is_some())
            .field("rotation", &self.rotation)
            .field("sequence", &self.sequence.is_some())
            .field("integrity", &self.integrity)
            .field(
                "recording",
                &(self.recorder.is_some() || self.recording.is_some()),
            )
            .finish_non_exhaustive()
    }
}

impl ClientConfig {
    pub(crate) fn request(&self, headers: Vec<(String, String)>) -> ConnectRequest {
        ConnectRequest::new(self.url.clone())
            .headers(headers)
            .limits(self.limits)
            .connect_timeout(self.timeouts.connect)
            .handshake_timeout(self.timeouts.handshake)
            .tcp_keepalive(self.tcp_keepalive)
            .proxy(self.proxy.clone())
    }

    /// The URL's host (and port), for logs and spans: never the path or
    /// query, which can carry listen keys and tokens.
    pub(crate) fn host(&self) -> String {
        self.request(Vec::new()).host().to_owned()
    }

    /// Checks every setting; the error names the one at fault.
    pub(crate) fn validate(&self) -> Result<()> {
        let url = &self.url;
        let rest = url
            .strip_prefix("ws://")
            .or_else(|| url.strip_prefix("wss://"))
            .ok_or_else(|| invalid("url", "not a ws:// or wss:// URL"))?;
        // The authority ends at the path or query; a userinfo before its
        // last `@` is no host.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority.rsplit('@').next().unwrap_or_default();
        if host.is_empty() {
            return Err(invalid("url", "no host"));
        }
        if let Some(proxy) = &self.proxy {
            if proxy.host().is_empty() {
                return Err(invalid("proxy", "no host"));
            }
            if proxy.port() == 0 {
                return Err(invalid("proxy", "port 0"));
            }
        }
        let timeouts = &self.timeouts;
        for (name, value) in [
            ("connect_timeout", timeouts.connect),
            ("handshake_timeout", timeouts.handshake),
            ("auth_timeout", timeouts.auth),
            ("write_timeout", timeouts.write),
            ("close_timeout", timeouts.close),
            ("subscribe_timeout", self.subscribe_timeout),
        ] {
            if value.is_zero() {
                return Err(invalid(name, "must be more than zero"));
            }
            at_most_a_year(name, value)?;
        }
        at_most_a_year("stable_after", self.stable_after)?;
        let integrity = &self.integrity;
        if integrity.snapshot_timeout.is_zero() {
            return Err(invalid(
                "integrity.snapshot_timeout",
                "must be more than zero",
            ));
        }
        at_most_a_year("integrity.snapshot_timeout", integrity.snapshot_timeout)?;
        if integrity.max_buffered == 0 {
            return Err(invalid("integrity.max_buffered", "must be at least 1"));
        }
        let rotation = &self.rotation;
        if rotation.max_overlap.is_zero() {
            return Err(invalid("rotation.max_overlap", "must be more than zero"));
        }
        at_most_a_year("rotation.max_overlap", rotation.max_overlap)?;
        if let Some(age) = rotation.max_age {
            at_most_a_year("rotation.max_age", age)?;
            if rotation.margin >= age {
                return Err(invalid(
                    "rotation.margin",
                    format!(
                        "{:?} must be shorter than the maximum age {age:?}",
                        rotation.margin
                    ),
                ));
            }
        }
        if self.topics.is_none() && self.subscriptions.iter().any(Subscription::is_topic) {
            return Err(invalid(
                "subscribe",
                "a topic subscription needs the venue's request format (venue or topic_requests)",
            ));
        }
        if self.topics.as_ref().is_some_and(|t| t.max_topics() == 0) {
            return Err(invalid("topic_requests", "max_topics must be at least 1"));
        }
        if self.subscribe_attempts == 0 {
            return Err(invalid("subscribe_attempts", "must be at least 1"));
        }
        for (name, value) in [
            ("writer_queue", self.writer_queue),
            ("event_capacity", self.event_capacity),
        ] {
            if value == 0 {
                return Err(invalid(name, "must be at least 1"));
            }
            if value > MAX_QUEUE {
                return Err(invalid(name, format!("must be at most {MAX_QUEUE}")));
            }
        }
        if let Some(tcp) = &self.tcp_keepalive {
            // What the OS takes (Linux: whole seconds from 1 to 32767, at
            // most 127 probes); anything else would fail every connect.
            for (name, value) in [
                ("tcp_keepalive.idle", tcp.idle),
                ("tcp_keepalive.interval", tcp.interval),
            ] {
                if value < Duration::from_secs(1) || value > Duration::from_secs(32_767) {
                    return Err(invalid(name, "must be from 1 s to 32767 s"));
                }
            }
            if !(1..=127).contains(&tcp.retries) {
                return Err(invalid("tcp_keepalive.retries", "must be from 1 to 127"));
            }
        }
        let keepalive = &self.keepalive;
        if let Some(ping) = &keepalive.protocol_ping {
            for (name, value) in [
                ("protocol_ping.interval", ping.interval),
                ("protocol_ping.timeout", ping.timeout),
            ] {
                if value < Duration::from_millis(4) {
                    return Err(invalid(
                        name,
                        "must be at least 4 ms (silence is checked every quarter of it)",
                    ));
                }
                at_most_a_year(name, value)?;
            }
        }
        if let Some(heartbeat) = &keepalive.heartbeat {
            if heartbeat.interval.is_zero() {
                return Err(invalid("heartbeat.interval", "must be more than zero"));
            }
            at_most_a_year("heartbeat.interval", heartbeat.interval)?;
        }
        if let Some(timeout) = keepalive.liveness_timeout {
            at_most_a_year("liveness_timeout", timeout)?;
        }
        match (keepalive.liveness_timeout, &keepalive.heartbeat) {
            (Some(timeout), _) if timeout < Duration::from_millis(4) => Err(invalid(
                "liveness_timeout",
                "must be at least 4 ms (it is checked every quarter of it)",
            )),
            (Some(timeout), Some(heartbeat)) if timeout <= heartbeat.interval => Err(invalid(
                "liveness_timeout",
                format!(
                    "{timeout:?} must be longer than the heartbeat interval {:?}",
                    heartbeat.interval
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// A duration setting must not exceed [`MAX_DURATION`].
fn at_most_a_year(setting: &'static str, value: Duration) -> Result<()> {
    if value > MAX_DURATION {
        return Err(invalid(setting, "must be at most a year"));
    }
    Ok(())
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> HyperSocketError {
    HyperSocketError::invalid_config(setting, reason)
}

/// Every timeout of the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) handshake: Duration,
    pub(crate) auth: Duration,
    pub(crate) write: Duration,
    pub(crate) close: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            handshake: Duration::from_secs(10),
            auth: Duration::from_secs(10),
            write: Duration::from_secs(5),
            close: Duration::from_secs(2),
        }
    }
}
