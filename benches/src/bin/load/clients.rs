//! The child: every client in one `ClientManager`, each with a checking
//! handler, through four phases the exchange's process paces over stdin:
//! connect, traffic (until `DRAIN`), drain, idle.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hypersockets::{ClientManager, LaneConfig, Subscription, WebSocketClient};
use hypersockets_bench::child::forward_lines;
use hypersockets_bench::procfs;
use tokio::sync::mpsc;

use crate::checker::{self, Feed, Tally};
use crate::cli::Options;

/// The stream every client subscribes to.
pub(crate) const STREAM: &str = "btcusdt@trade";
/// How long the idle phase measures CPU.
const IDLE: Duration = Duration::from_secs(5);

/// Runs the clients and prints `CONNECTED`, then after `DRAIN` a `REPORT`
/// line; exits once stdin closes.
pub(crate) fn run(options: &Options) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let commands = stdin_lines();
    runtime.block_on(phases(options, commands))
}

/// The lines of stdin, read on a thread of their own (stdin blocks).
fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    forward_lines(std::io::stdin(), move |line| tx.send(line).is_ok());
    rx
}

async fn phases(
    options: &Options,
    mut commands: mpsc::UnboundedReceiver<String>,
) -> Result<(), String> {
    let baseline_kib = procfs::status_kib("VmRSS:");
    let baseline_threads = procfs::status_kib("Threads:");
    let manager = ClientManager::<String>::new();
    let mut tallies = Vec::with_capacity(options.clients);
    let subscribe = format!(r#"{{"method":"SUBSCRIBE","params":["{STREAM}"],"id":1}}"#);
    for index in 0..options.clients {
        let tally = Arc::new(Tally::default());
        let client = WebSocketClient::builder()
            .url(options.url.as_str())
            .router(Feed)
            .lane_defaults(LaneConfig::default().kind(options.lanes))
            .subscribe(Subscription::new(STREAM, subscribe.as_str()))
            .handler((), checker::handler(Arc::clone(&tally)))
            .build()
            .map_err(|e| format!("build: {e}"))?;
        manager
            .add(format!("c{index}"), client)
            .map_err(|e| format!("add: {e}"))?;
        tallies.push(tally);
    }
    let built_kib = procfs::status_kib("VmRSS:");
    let started = Instant::now();
    let failed = manager
        .connect_all()
        .await
        .into_iter()
        .filter(|(_, result)| result.is_err())
        .count();
    if failed > 0 {
        return Err(format!("{failed} clients failed to connect"));
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let connected_kib = procfs::status_kib("VmRSS:");
    say("CONNECTED");

    // Traffic, with faults, until the exchange's process says it is over.
    let (traffic_cpu, traffic_wall) = (procfs::cpu_time(), Instant::now());
    let traffic_switches = procfs::context_switches();
    match commands.recv().await.as_deref() {
        Some("DRAIN") => {}
        other => return Err(format!("expected DRAIN, got {other:?}")),
    }
    // Drain: every client's latest connection delivers its whole stream. A
    // late half-open fault is found by the default liveness check (~40 s),
    // then the new connection streams for `secs`.
    let full = options.per_connection();
    let deadline = Instant::now() + Duration::from_secs(options.secs + 120);
    let incomplete = loop {
        let incomplete: Vec<u64> = tallies
            .iter()
            .map(|t| full.saturating_sub(t.last_seq.load(Ordering::Acquire)))
            .filter(|&missing| missing > 0)
            .collect();
        if incomplete.is_empty() || Instant::now() >= deadline {
            break incomplete;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let active_cpu = procfs::cpu_time().saturating_sub(traffic_cpu);
    let active_switches = procfs::context_switches().saturating_sub(traffic_switches);
    let active_secs = traffic_wall.elapsed().as_secs_f64();

    // Idle: every connection open, nothing to read but keepalive.
    let received_before = manager.metrics().total.messages_received;
    let idle_cpu = procfs::cpu_time();
    tokio::time::sleep(IDLE).await;
    let idle_cpu = procfs::cpu_time().saturating_sub(idle_cpu);
    let metrics = manager.metrics();
    let idle_messages = metrics.total.messages_received - received_before;
    let idle_kib = procfs::status_kib("VmRSS:");

    let sum = |f: fn(&Tally) -> u64| tallies.iter().map(|t| f(t)).sum::<u64>();
    let parse_errors: u64 = metrics
        .clients
        .iter()
        .map(|(_, m)| m.router.all_parse_errors())
        .sum();
    let peak_kib = procfs::peak_rss_kib();
    say(&format!(
        "REPORT delivered={} violations={} incomplete_clients={} missing={} reconnects={} \
         connect_attempts={} parse_errors={parse_errors} connect_secs={connect_secs:.2} \
         active_secs={active_secs:.1} active_cpu_ms={} idle_secs={} idle_cpu_ms={} \
         idle_messages={idle_messages} baseline_kib={baseline_kib} built_kib={built_kib} \
         connected_kib={connected_kib} idle_kib={idle_kib} peak_kib={peak_kib} threads={} \
         baseline_threads={baseline_threads} active_switches={active_switches}",
        sum(|t| t.delivered.load(Ordering::Relaxed)),
        sum(|t| t.violations.load(Ordering::Relaxed)),
        incomplete.len(),
        incomplete.iter().sum::<u64>(),
        metrics.total.reconnects,
        metrics.total.connect_attempts,
        active_cpu.as_millis(),
        IDLE.as_secs(),
        idle_cpu.as_millis(),
        procfs::status_kib("Threads:"),
    ));
    // Stay connected while the exchange's process checks its side.
    match commands.recv().await.as_deref() {
        Some("SHUTDOWN") => {}
        other => return Err(format!("expected SHUTDOWN, got {other:?}")),
    }
    let (started, cpu_before) = (Instant::now(), procfs::cpu_time());
    manager.shutdown().await;
    let shutdown_ms = started.elapsed().as_secs_f64() * 1000.0;
    // The clients' own share of it (the rest is the exchange answering).
    let shutdown_cpu_ms = procfs::cpu_time().saturating_sub(cpu_before).as_millis();
    // What is left once every client is gone: the runtime's workers, the
    // lane pool's threads, the stdin reader.
    say(&format!(
        "SHUTDOWN shutdown_ms={shutdown_ms:.1} shutdown_cpu_ms={shutdown_cpu_ms} threads_after={}",
        procfs::status_kib("Threads:")
    ));
    while commands.recv().await.is_some() {}
    Ok(())
}

/// One line to the exchange's process.
fn say(line: &str) {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe means the parent is gone; its stdin closing ends us.
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}
