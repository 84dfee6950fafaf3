//! Everything the runtime needs to know, fixed at build time.

use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::{
    AuthProvider, ConnectRequest, HeaderProvider, PassivePingDetector, ReconnectionStrategy,
    Transport, TransportLimits,
};

use crate::Heartbeat;

/// The client's settings after validation. Shared, read-only.
pub(crate) struct ClientConfig {
    pub(crate) url: String,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) headers: Option<Arc<dyn HeaderProvider>>,
    pub(crate) auth: Option<Arc<dyn AuthProvider>>,
    pub(crate) ping_detector: Option<Arc<dyn PassivePingDetector>>,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) liveness_timeout: Option<Duration>,
    pub(crate) reconnect: Arc<dyn ReconnectionStrategy>,
    pub(crate) limits: TransportLimits,
    pub(crate) timeouts: Timeouts,
    /// A connection that stayed up this long resets the attempt count.
    pub(crate) stable_after: Duration,
    /// Outgoing messages waiting for the writer, per connection.
    pub(crate) writer_queue: usize,
}

impl ClientConfig {
    pub(crate) fn request(&self, headers: Vec<(String, String)>) -> ConnectRequest {
        ConnectRequest::new(self.url.clone())
            .headers(headers)
            .limits(self.limits)
            .connect_timeout(self.timeouts.connect)
            .handshake_timeout(self.timeouts.handshake)
    }
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
