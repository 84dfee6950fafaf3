//! A client's figures: connection counters and every lane.

use hypersockets_core::MetricsSnapshot;
use hypersockets_router::RouterMetricsSnapshot;

/// Everything [`WebSocketClient::metrics`](crate::WebSocketClient::metrics) reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// Connection-level counters (messages, bytes, pings, reconnects, …).
    pub connection: MetricsSnapshot,
    /// The router's counters and each lane's queue, drops, errors and timings.
    pub router: RouterMetricsSnapshot,
}
