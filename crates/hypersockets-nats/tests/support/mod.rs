//! Shared by the NATS tests: a real `nats-server` (skipped, said in one
//! line, where it is not installed; failing with `CI=true`), buses on it
//! under a prefix of each test's own, and bounded waits.

#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hypersockets_nats::{Bus, BusConfig};
pub(crate) use hypersockets_testkit::NatsServer;

/// The longest any wait in these tests takes before failing.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// A server, or `None` where there is none (the test returns).
pub(crate) async fn server() -> Option<NatsServer> {
    NatsServer::start().await.expect("nats-server")
}

/// A bus config with a prefix and stream of this test's own.
pub(crate) fn config() -> BusConfig {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    BusConfig::default()
        .prefix(format!("t{n}"))
        .stream(format!("T{n}"))
        .memory(true)
}

/// A bus on `server` with `config`.
pub(crate) async fn bus(server: &NatsServer, config: &BusConfig) -> Bus {
    Bus::connect(server.url(), config.clone())
        .await
        .expect("bus")
}

/// Polls `condition` every 10 ms until it holds; panics after `WAIT`.
pub(crate) async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
