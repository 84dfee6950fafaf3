//! What idle lanes cost: builds 4 000 lanes (1 000 clients × 4 keys, as a
//! large `ClientManager` would hold) of each kind, and reports the memory
//! they take and the CPU they burn while idle.
//!
//! ```sh
//! cargo run --release -p hypersockets-bench --bin lane_footprint [-- LANES]
//! ```
//!
//! Linux only (reads `/proc/self`).

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use hypersockets::{LaneConfig, LaneKind, MessageRouter, ParseError, WsMessage, handler_fn};
use hypersockets_bench::procfs::{cpu_time, status_kib};
use hypersockets_router::{RouterBuilder, ShutdownMode};

/// Routes nothing: the lanes stay idle, which is what is measured.
struct IdleRouter;

impl MessageRouter for IdleRouter {
    type Message = u32;
    type RouteKey = u32;

    fn parse(&self, _: &WsMessage) -> Result<u32, ParseError> {
        Err(ParseError::new("idle"))
    }

    fn route_key(&self, message: &u32) -> u32 {
        *message
    }
}

fn measure(runtime: &tokio::runtime::Runtime, kind: LaneKind, lanes: u32) {
    let rss_before = status_kib("VmRSS:");
    let built = Instant::now();
    let dispatcher = runtime.block_on(async {
        let mut builder =
            RouterBuilder::new(IdleRouter).lane_defaults(LaneConfig::default().kind(kind));
        for key in 0..lanes {
            builder = builder.handler(key, handler_fn(|_: u32| Ok::<_, ParseError>(())));
        }
        builder.build().expect("lanes")
    });
    let build_time = built.elapsed();
    let rss_after = status_kib("VmRSS:");
    let threads = status_kib("Threads:");
    // Idle for a second: parked lanes must burn nothing.
    let cpu_before = cpu_time();
    std::thread::sleep(Duration::from_secs(1));
    let idle_cpu = cpu_time().saturating_sub(cpu_before);
    let stopped = Instant::now();
    runtime.block_on(dispatcher.shutdown(ShutdownMode::Graceful));
    let shutdown_time = stopped.elapsed();
    let per_lane = (rss_after.saturating_sub(rss_before) * 1024) / u64::from(lanes.max(1));
    println!(
        "{kind:?} lanes: {lanes}  RSS +{} KiB ({per_lane} B per lane)  threads {threads}  \
         build {build_time:.1?}  idle CPU over 1 s {idle_cpu:?}  shutdown {shutdown_time:.1?}",
        rss_after.saturating_sub(rss_before),
    );
}

fn main() {
    let lanes: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(4_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    measure(&runtime, LaneKind::Task, lanes);
    measure(&runtime, LaneKind::Thread, lanes);
}
