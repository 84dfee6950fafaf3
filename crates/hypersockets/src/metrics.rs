//! A client's figures: connection counters and every lane.

use crate::runtime::counters::MetricsSnapshot;
use hypersockets_router::RouterMetricsSnapshot;

/// Everything [`WebSocketClient::metrics`](crate::WebSocketClient::metrics) reports.
///
/// Connection counters are summed over every connection the client had;
/// lane figures live as long as the client (lanes outlive connections).
///
/// ```
/// use hypersockets::ClientMetrics;
///
/// fn report(metrics: &ClientMetrics) {
///     let connection = &metrics.connection;
///     println!(
///         "{} messages, {} reconnects, {} pings answered, {} parse errors",
///         connection.messages_received,
///         connection.reconnects,
///         connection.pings_answered,
///         metrics.router.all_parse_errors(),
///     );
///     for lane in &metrics.router.lanes {
///         println!(
///             "lane {}: {} queued (at most {}), {} handled, {} dropped, mean wait {:?}",
///             lane.key, lane.depth, lane.high_water, lane.delivered, lane.dropped, lane.mean_wait,
///         );
///     }
///     // How late the handlers finish with the data, all lanes together.
///     let late = &metrics.router.latency.read_to_done;
///     println!("read to handled: p50 {:?}, p99 {:?}, max {:?}", late.p50, late.p99, late.max);
/// }
/// # report(&ClientMetrics::default());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// Connection-level counters (messages, bytes, pings, reconnects, …).
    pub connection: MetricsSnapshot,
    /// The router's counters and each lane's queue, drops, errors and timings.
    pub router: RouterMetricsSnapshot,
}
