//! The bench's own process: the mock exchange, the child running the
//! clients, the faults, the exchange-side check and the report.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use hypersockets_bench::child::{ChildGuard, forward_lines};
use hypersockets_testkit::{
    ConnectionId, ConnectionStatus, Control, ExchangeConfig, Fault, MockExchange, Rate, Recording,
    StreamConfig,
};

use crate::cli::Options;
use crate::clients::STREAM;

/// Faults injected, by kind: dropped TCP, server close 1012, half-open.
#[derive(Debug, Default)]
struct Faults([u64; 3]);

/// Runs the bench and prints its report; an error if anything was lost.
pub(crate) fn run(options: &Options) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let full = options.per_connection();
    let exchange = runtime
        .block_on(MockExchange::start(
            ExchangeConfig::new()
                // Counts only (the child checks every message): the exchange's
                // memory stays flat however long the run.
                .recording(Recording::Recent(0))
                .stream(
                    StreamConfig::trades(STREAM)
                        .rate(Rate::PerSecond(options.rate))
                        .limit(full),
                ),
        ))
        .map_err(|e| format!("exchange: {e}"))?;
    let control = exchange.control();

    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(options.child_args(&exchange.url()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("start the clients: {e}"))?;
    let stdout = child.stdout.take().ok_or("child stdout")?;
    let mut stdin = child.stdin.take().ok_or("child stdin")?;
    let guard = ChildGuard(child);
    let (tx, lines) = mpsc::channel();
    forward_lines(stdout, move |line| tx.send(line).is_ok());
    let expect = |prefix: &str, within: Duration| -> Result<String, String> {
        let line = lines
            .recv_timeout(within)
            .map_err(|_| format!("no {prefix} from the clients"))?;
        line.strip_prefix(prefix)
            .map(str::to_owned)
            .ok_or_else(|| format!("expected {prefix}, got {line:?}"))
    };

    expect("CONNECTED", Duration::from_secs(300))?;
    println!(
        "{} clients connected ({} lanes); {} s of traffic at {}/s each, faults every {} s",
        options.clients,
        lane_name(options),
        options.secs,
        options.rate,
        options.fault_every
    );
    let faults = runtime.block_on(inject_faults(&control, options));
    writeln!(stdin, "DRAIN").map_err(|e| format!("to the clients: {e}"))?;
    let report = expect("REPORT ", Duration::from_secs(options.secs + 300))?;
    let (open, short) = exchange_side(&control, full);
    let storm = runtime.block_on(reconnect_storm(&control, options.clients))?;
    println!(
        "reconnect storm: every connection dropped at once; all {} back in {:.2} s, \
         listen queue overflows {} (drops {})",
        options.clients, storm.secs, storm.overflows, storm.drops
    );
    writeln!(stdin, "SHUTDOWN").map_err(|e| format!("to the clients: {e}"))?;
    let shutdown = expect("SHUTDOWN ", Duration::from_secs(60))?;
    let storm = format!(
        "storm_secs={:.2} listen_overflows={} listen_drops={} exchange_peak_kib={}",
        storm.secs,
        storm.overflows,
        storm.drops,
        hypersockets_bench::procfs::peak_rss_kib()
    );
    let figures: HashMap<&str, &str> = report
        .split_whitespace()
        .chain(shutdown.split_whitespace())
        .chain(storm.split_whitespace())
        .filter_map(|pair| pair.split_once('='))
        .collect();
    drop(stdin);
    drop(guard);
    runtime.block_on(exchange.shutdown());
    report_figures(options, &figures, &faults, open, short)
}

fn lane_name(options: &Options) -> &'static str {
    crate::cli::lane_name(options.lanes)
}

/// Every `fault_every` seconds for `secs`, 1 % of the open connections that
/// still have at least a second of stream left (at least one) get a fault.
/// Finished streams are spared: a fault there would start a new stream after
/// the drain had counted the old one as complete.
async fn inject_faults(control: &Control, options: &Options) -> Faults {
    let mut faults = Faults::default();
    let end = Instant::now() + Duration::from_secs(options.secs);
    if options.fault_every == 0 {
        tokio::time::sleep_until(end.into()).await;
        return faults;
    }
    let mut random = Random::seeded();
    let spare = u64::from(options.rate);
    let full = options.per_connection();
    let every = Duration::from_secs(options.fault_every);
    while Instant::now() + every < end {
        tokio::time::sleep(every).await;
        let open = open_connections(control);
        let count = (open.len() / 100).max(1);
        let mut hit = Vec::with_capacity(count);
        for _ in 0..count {
            let Some(&conn) = open.get(random.below(open.len())) else {
                break;
            };
            // One fault per connection: a second would not be a second reconnect.
            if hit.contains(&conn) || written(control, conn) + spare >= full {
                continue;
            }
            hit.push(conn);
            let kind = random.below(3);
            let fault = match kind {
                0 => Fault::DropTcp,
                1 => Fault::close(1012, "service restart"),
                _ => Fault::HalfOpen,
            };
            if control.inject(conn, fault).is_ok() {
                faults.0[kind] += 1;
            }
        }
    }
    tokio::time::sleep_until(end.into()).await;
    faults
}

/// What a reconnect storm showed.
struct Storm {
    /// From the drop of every connection until as many are open again.
    secs: f64,
    /// The kernel's `ListenOverflows` and `ListenDrops` over the storm
    /// (this network namespace: the bench's server is its only listener).
    overflows: u64,
    drops: u64,
}

/// Drops every open connection at once (as a server restart would) and
/// waits until the clients have all reconnected.
async fn reconnect_storm(control: &Control, clients: usize) -> Result<Storm, String> {
    let before = listen_counters();
    let dropped: std::collections::HashSet<ConnectionId> =
        open_connections(control).into_iter().collect();
    let started = Instant::now();
    for &conn in &dropped {
        let _ = control.inject(conn, Fault::DropTcp);
    }
    let deadline = started + Duration::from_secs(120);
    loop {
        let back = open_connections(control)
            .into_iter()
            .filter(|conn| !dropped.contains(conn))
            .count();
        if back >= clients {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!("{back} of {clients} clients back after the storm"));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let after = listen_counters();
    Ok(Storm {
        secs,
        overflows: after.0.saturating_sub(before.0),
        drops: after.1.saturating_sub(before.1),
    })
}

/// `ListenOverflows` and `ListenDrops` from `/proc/net/netstat` (0 where
/// they cannot be read).
fn listen_counters() -> (u64, u64) {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return (0, 0);
    };
    let figures: HashMap<&str, u64> = names
        .split_whitespace()
        .zip(values.split_whitespace())
        .filter_map(|(name, value)| Some((name, value.parse().ok()?)))
        .collect();
    let get = |name| figures.get(name).copied().unwrap_or(0);
    (get("ListenOverflows"), get("ListenDrops"))
}

fn open_connections(control: &Control) -> Vec<ConnectionId> {
    control
        .connections()
        .into_iter()
        .filter(|&c| matches!(control.status(c), Some(ConnectionStatus::Open)))
        .collect()
}

/// How many messages of the stream the exchange fully wrote to `conn`.
fn written(control: &Control, conn: ConnectionId) -> u64 {
    control
        .summary(conn)
        .map_or(0, |s| s.data_messages_written_on(STREAM))
}

/// The exchange's side once the clients have drained: how many connections
/// are open, and how many of them wrote other than `full` messages.
fn exchange_side(control: &Control, full: u64) -> (usize, usize) {
    let open = open_connections(control);
    let short = open
        .iter()
        .filter(|&&c| written(control, c) != full)
        .count();
    (open.len(), short)
}

fn report_figures(
    options: &Options,
    figures: &HashMap<&str, &str>,
    faults: &Faults,
    open: usize,
    short: usize,
) -> Result<(), String> {
    let get = |key: &str| -> f64 { figures.get(key).and_then(|v| v.parse().ok()).unwrap_or(0.0) };
    let clients = options.clients as f64;
    let losses = get("violations") + get("missing") + short as f64;
    let [drops, closes, half_open] = faults.0;
    let peak_mib = get("peak_kib") / 1024.0;
    let per_client_kib = get("peak_kib") / clients;
    let added_per_client_kib = (get("peak_kib") - get("baseline_kib")) / clients;
    // Resident memory above the empty process, per client, at three points:
    // every client built (not connected), all connected, and after the idle
    // phase (every connection open, nothing to read).
    let above = |key: &str| (get(key) - get("baseline_kib")) / clients;
    let (built, connected, idle) = (
        above("built_kib"),
        above("connected_kib"),
        above("idle_kib"),
    );
    let active_cpu_pct = get("active_cpu_ms") / 10.0 / get("active_secs").max(0.001);
    let idle_cpu_pct = get("idle_cpu_ms") / 10.0 / get("idle_secs").max(0.001);
    let cpu_us_per_message = get("active_cpu_ms") * 1000.0 / get("delivered").max(1.0);
    let switches_per_message = get("active_switches") / get("delivered").max(1.0);
    println!("faults: {drops} dropped TCP, {closes} server closes 1012, {half_open} half-open");
    println!(
        "delivered {} messages in {:.1} s; reconnects {}; connect of all clients {:.2} s",
        get("delivered"),
        get("active_secs"),
        get("reconnects"),
        get("connect_secs"),
    );
    println!(
        "losses {losses} (out of turn {}, missing on final connections {}, exchange \
         connections short of {} messages {short}; {open} open for {} clients)",
        get("violations"),
        get("missing"),
        options.per_connection(),
        options.clients,
    );
    println!(
        "client process: peak RSS {peak_mib:.1} MiB = {per_client_kib:.1} KiB per client \
         ({added_per_client_kib:.1} KiB per client above the empty process), {} threads",
        get("threads"),
    );
    println!(
        "client RSS above the empty process, per client: {built:.1} KiB built, \
         {connected:.1} KiB connected, {idle:.1} KiB connected and idle"
    );
    println!(
        "client CPU: {active_cpu_pct:.1}% of one core while active ({:.1} ms per s, \
         {cpu_us_per_message:.1} us per message), {idle_cpu_pct:.2}% idle over {} s \
         ({} messages then)",
        get("active_cpu_ms") / get("active_secs").max(0.001),
        get("idle_secs"),
        get("idle_messages"),
    );
    println!(
        "context switches: {switches_per_message:.3} per message while active; shutdown of \
         every client {:.1} ms (client CPU {} ms), threads {} before the clients, {} after \
         the shutdown",
        get("shutdown_ms"),
        get("shutdown_cpu_ms"),
        get("baseline_threads"),
        get("threads_after"),
    );
    println!(
        "RESULT clients={} lanes={} secs={} rate={} fault_every={} faults={} delivered={} \
         reconnects={} losses={losses} parse_errors={} open={open} peak_rss_kib={} \
         rss_per_client_kib={per_client_kib:.1} built_kib_per_client={built:.1} \
         connected_kib_per_client={connected:.1} idle_kib_per_client={idle:.1} \
         active_cpu_pct={active_cpu_pct:.1} \
         cpu_us_per_msg={cpu_us_per_message:.1} idle_cpu_pct={idle_cpu_pct:.2} \
         switches_per_msg={switches_per_message:.3} shutdown_ms={} threads={} \
         threads_after_shutdown={} storm_secs={} listen_overflows={} \
         exchange_peak_rss_kib={}",
        options.clients,
        lane_name(options),
        options.secs,
        options.rate,
        options.fault_every,
        drops + closes + half_open,
        get("delivered"),
        get("reconnects"),
        get("parse_errors"),
        get("peak_kib"),
        get("shutdown_ms"),
        get("threads"),
        get("threads_after"),
        get("storm_secs"),
        get("listen_overflows") + get("listen_drops"),
        get("exchange_peak_kib"),
    );
    if losses > 0.0 || open != options.clients {
        return Err(format!(
            "{losses} messages lost, {open} connections open for {} clients",
            options.clients
        ));
    }
    Ok(())
}

/// A xorshift generator, seeded from the clock: which connections get
/// which fault differs from run to run, the checks do not.
struct Random(u64);

impl Random {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Self(nanos | 1)
    }

    /// A number in `0..bound` (0 when `bound` is 0).
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if bound == 0 {
            0
        } else {
            (self.0 % bound as u64) as usize
        }
    }
}
