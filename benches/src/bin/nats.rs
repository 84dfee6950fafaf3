//! What `hypersockets-nats` costs over a hand-written async-nats loop: both
//! publish the same Binance trades to a JetStream stream of the same
//! settings on a local `nats-server`, and a pull consumer reads them back
//! in the same process.
//!
//! - `hypersockets-nats`: a `PublishHandler` driven as a lane drives it
//!   (one task awaiting `handle` per message), read by a `FeedConsumer`;
//! - `baseline`: `send_publish` with a message id and a window of 4096
//!   acks outstanding, read by a raw pull consumer acking each message.
//!
//! Each message carries its send stamp (nanoseconds on an in-process
//! monotonic clock, taken just before the handler is called), so the
//! consumer reports the latency from "handler called" to "consumer
//! received". Unpaced (the default), that is mostly the backlog waiting in
//! the stream, as publishing outruns consuming; `--rate` paces the
//! publisher to see the latency of a feed's own rate. Throughput is N over
//! the time from the first publish to the last message received; CPU per
//! message is given for this process and the server, which share the
//! machine's cores. Each contender must receive exactly N messages, in
//! order; else the bench exits non-zero.
//!
//! ```sh
//! cargo run --release -p hypersockets-bench --bin nats -- [--n N] [--runs R] [--rate M]
//! ```
//!
//! Needs `nats-server` (Debian's package); without it, says so and exits 0.
//! Linux only for the CPU figures (reads `/proc`).

#![allow(clippy::print_stdout, clippy::print_stderr)] // a bench's output is its point

use std::process::ExitCode;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{self, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use futures_util::StreamExt as _;
use futures_util::stream::FuturesOrdered;
use hypersockets::{MessageHandler, Venue, WsMessage};
use hypersockets_bench::procfs::cpu_time;
use hypersockets_nats::{Bus, BusConfig, ConsumerConfig, PublisherConfig, StartAt};
use hypersockets_testkit::NatsServer;

const USAGE: &str = "\
usage: nats [--n N] [--runs R] [--rate M] [--only hypersockets-nats|baseline]

Publish throughput and handler-to-consumer latency of hypersockets-nats
against a hand-written async-nats loop, on a local nats-server (JetStream,
memory storage), alternating contenders within one process.

  --n N      messages a run (default 200000)
  --runs R   runs per contender (default 3)
  --rate M   publish M messages a second, in 1 ms bursts (default 0: as fast
             as they go; then the latency is mostly the backlog waiting in the
             stream for the consumer)
  --only C   run one contender (to profile it)";

/// The stream every message is on, as Binance names it.
const TOPIC: &str = "btcusdt@trade";

/// Publishes awaiting their ack at once: the baseline's window, and
/// `PublisherConfig`'s default.
const WINDOW: usize = 4096;

/// Both streams' settings (the library's defaults, set on both so that
/// they stay the same).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
const MAX_BYTES: u64 = 10 << 30;

/// How long the consumer waits after the N-th message for one too many.
const EXTRA_WAIT: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Contender {
    Ours,
    Baseline,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Self::Ours => "hypersockets-nats",
            Self::Baseline => "baseline",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Options {
    n: u64,
    runs: usize,
    /// Messages a second; 0: no pacing.
    rate: u64,
    only: Option<Contender>,
}

/// One run's figures (latencies in nanoseconds).
#[derive(Clone, Copy, Debug)]
struct Figures {
    rate: f64,
    /// Messages a second from the first publish until every ack was in:
    /// whether the publisher or the consumer set `rate`.
    acked: f64,
    p50: u64,
    p99: u64,
    max: u64,
    /// CPU time a message, in µs, of this process (publisher and
    /// consumer) and of the server: on 2 cores they share, a client that
    /// burns more slows the server down too.
    client_cpu: f64,
    server_cpu: f64,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let us = |ns: u64| ns as f64 / 1e3;
        write!(
            f,
            "msg/s={:<7.0} p50={:.1}µs p99={:.1}µs max={:.1}µs  \
             (acks all in at {:.0} msg/s; CPU a msg: client {:.1}µs, server {:.1}µs)",
            self.rate,
            us(self.p50),
            us(self.p99),
            us(self.max),
            self.acked,
            self.client_cpu,
            self.server_cpu,
        )
    }
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("nats: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Two workers, as many as this bench's machine has cores; the server
    // shares them.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("nats: runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(bench(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("nats: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The options; `None` for `--help`.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
        value
            .and_then(|v| v.replace('_', "").parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))
    }
    let mut options = Options {
        n: 200_000,
        runs: 3,
        rate: 0,
        only: None,
    };
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--n" => options.n = number(&flag, args.next())?,
            "--runs" => options.runs = number(&flag, args.next())?,
            "--rate" => options.rate = number(&flag, args.next())?,
            "--only" => {
                let name = args.next().unwrap_or_default();
                options.only = Some(
                    [Contender::Ours, Contender::Baseline]
                        .into_iter()
                        .find(|c| c.name() == name)
                        .ok_or(format!("unknown contender {name:?}"))?,
                );
            }
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if options.n == 0 || options.runs == 0 {
        return Err("--n and --runs must be at least 1".to_owned());
    }
    Ok(Some(options))
}

async fn bench(options: Options) -> Result<(), String> {
    let Options {
        n,
        runs,
        rate,
        only,
    } = options;
    let Some(server) = NatsServer::start()
        .await
        .map_err(|error| format!("nats-server: {error}"))?
    else {
        println!("nats: skipped, nats-server is not installed");
        return Ok(());
    };
    // Deletes each run's stream afterwards: memory streams reserve their
    // max_bytes (10 GiB) on the server, so two at once may not fit.
    let admin = async_nats::connect(server.url())
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let admin_js = jetstream::new(admin.clone());
    let sample = payload(n, u64::MAX / 2);
    println!(
        "== hypersockets-nats vs async-nats: {n} msgs a run, {runs} runs each (alternating), {} ==",
        if rate == 0 {
            "unpaced".to_owned()
        } else {
            format!("paced at {rate} msg/s")
        }
    );
    println!(
        "machine: nproc {}, {}; load {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model(),
        hypersockets_bench::procfs::load_average(),
    );
    println!(
        "server: nats-server {} on 127.0.0.1; stream: memory storage, subjects <prefix>.>, \
         duplicate window {} s, max age 24 h, max bytes 10 GiB, discard old; \
         {WINDOW} acks in flight at most; payload ~{} bytes, message id binance-spot.{TOPIC}.<t>",
        admin.server_info().version,
        DUPLICATE_WINDOW.as_secs(),
        sample.len(),
    );
    let expected = if rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(n as f64 / rate as f64)
    };
    let limit = Duration::from_secs(60)
        + expected
        + Duration::from_micros(100) * u32::try_from(n).unwrap_or(u32::MAX);
    let mut results: Vec<(Contender, Figures)> = Vec::new();
    for run in 0..runs {
        // Alternating which goes first, so neither always gets the
        // warmer (or the busier) machine.
        let order = if run.is_multiple_of(2) {
            [Contender::Ours, Contender::Baseline]
        } else {
            [Contender::Baseline, Contender::Ours]
        };
        for contender in order {
            if only.is_some_and(|only| only != contender) {
                continue;
            }
            let tag = if contender == Contender::Ours {
                "h"
            } else {
                "a"
            };
            let prefix = format!("b{run}{tag}");
            let name = prefix.to_uppercase();
            let cpu_before = (cpu_time(), server_cpu());
            let figures = tokio::time::timeout(limit, async {
                match contender {
                    Contender::Ours => ours(server.url(), &prefix, &name, n, rate).await,
                    Contender::Baseline => baseline(server.url(), &prefix, &name, n, rate).await,
                }
            })
            .await
            .map_err(|_| {
                format!(
                    "{} run {}: not done within {limit:?}",
                    contender.name(),
                    run + 1
                )
            })?
            .map_err(|error| format!("{} run {}: {error}", contender.name(), run + 1))?;
            let per_message = |spent: Duration| spent.as_secs_f64() * 1e6 / n as f64;
            let figures = Figures {
                client_cpu: per_message(cpu_time().saturating_sub(cpu_before.0)),
                server_cpu: per_message(server_cpu().saturating_sub(cpu_before.1)),
                ..figures
            };
            admin_js
                .delete_stream(&name)
                .await
                .map_err(|error| format!("deleting stream {name}: {error}"))?;
            println!(
                "run {}/{runs}  {:<17}  {figures}",
                run + 1,
                contender.name()
            );
            results.push((contender, figures));
        }
    }
    if only.is_none() {
        report(&results, runs);
    }
    Ok(())
}

/// Prints the median and the best of each contender's runs, and ours over
/// the baseline's.
fn report(results: &[(Contender, Figures)], runs: usize) {
    let of = |contender: Contender| -> Vec<Figures> {
        results
            .iter()
            .filter(|(c, _)| *c == contender)
            .map(|(_, figures)| *figures)
            .collect()
    };
    let (ours, baseline) = (of(Contender::Ours), of(Contender::Baseline));
    for (label, pick) in [
        ("median", median as fn(&[Figures]) -> Figures),
        ("best", best),
    ] {
        let (a, b) = (pick(&ours), pick(&baseline));
        println!("\n{label} of {runs} runs:");
        println!("{:<17}  {a}", Contender::Ours.name());
        println!("{:<17}  {b}", Contender::Baseline.name());
        let ratio = |x: f64, y: f64| x / y;
        println!(
            "ratio (hypersockets-nats / baseline): throughput {:.2}x, p50 {:.2}x, p99 {:.2}x, \
             max {:.2}x, client CPU {:.2}x, server CPU {:.2}x ({label}s)",
            ratio(a.rate, b.rate),
            ratio(a.p50 as f64, b.p50 as f64),
            ratio(a.p99 as f64, b.p99 as f64),
            ratio(a.max as f64, b.max as f64),
            ratio(a.client_cpu, b.client_cpu),
            ratio(a.server_cpu, b.server_cpu),
        );
    }
}

/// Each figure's median over the runs.
fn median(runs: &[Figures]) -> Figures {
    fn middle(mut values: Vec<f64>) -> f64 {
        values.sort_by(f64::total_cmp);
        let half = values.len() / 2;
        if values.len().is_multiple_of(2) {
            f64::midpoint(values[half - 1], values[half])
        } else {
            values[half]
        }
    }
    let of = |figure: fn(&Figures) -> f64| middle(runs.iter().map(figure).collect());
    Figures {
        rate: of(|r| r.rate),
        acked: of(|r| r.acked),
        p50: of(|r| r.p50 as f64) as u64,
        p99: of(|r| r.p99 as f64) as u64,
        max: of(|r| r.max as f64) as u64,
        client_cpu: of(|r| r.client_cpu),
        server_cpu: of(|r| r.server_cpu),
    }
}

/// Each figure's best over the runs (highest rate, lowest latencies and
/// CPU).
fn best(runs: &[Figures]) -> Figures {
    Figures {
        rate: runs.iter().map(|r| r.rate).fold(0.0, f64::max),
        acked: runs.iter().map(|r| r.acked).fold(0.0, f64::max),
        p50: runs.iter().map(|r| r.p50).min().unwrap_or(0),
        p99: runs.iter().map(|r| r.p99).min().unwrap_or(0),
        max: runs.iter().map(|r| r.max).min().unwrap_or(0),
        client_cpu: runs
            .iter()
            .map(|r| r.client_cpu)
            .fold(f64::INFINITY, f64::min),
        server_cpu: runs
            .iter()
            .map(|r| r.server_cpu)
            .fold(f64::INFINITY, f64::min),
    }
}

/// The library: a venue publisher's handler driven as a lane drives it,
/// and a `FeedConsumer` reading from new messages on.
async fn ours(url: &str, prefix: &str, name: &str, n: u64, rate: u64) -> Result<Figures, String> {
    let bus = Bus::connect(
        url,
        BusConfig::default()
            .prefix(prefix)
            .stream(name)
            .memory(true)
            .duplicate_window(DUPLICATE_WINDOW)
            .max_age(MAX_AGE)
            .max_bytes(Some(MAX_BYTES)),
    )
    .await
    .map_err(|error| format!("bus: {error}"))?;
    let publisher = bus
        .venue_publisher(&Venue::binance_spot(), PublisherConfig::default())
        .map_err(|error| format!("publisher: {error}"))?;
    let mut handler = publisher
        .handler(TOPIC)
        .map_err(|error| format!("handler: {error}"))?;
    // Created before the first publish: it starts at new messages.
    let mut consumer = bus
        .consumer(ConsumerConfig::default().start_at(StartAt::New))
        .await
        .map_err(|error| format!("consumer: {error}"))?;
    let base = Instant::now();
    let consume = tokio::spawn(async move {
        let mut tally = Tally::new(base, n);
        while !tally.done() {
            let Some(delivery) = consumer.next().await else {
                break;
            };
            let delivery = delivery.map_err(|error| format!("consumer: {error}"))?;
            let text = delivery.message.as_text().ok_or("a binary message")?;
            let t = tally.record(text)?;
            if delivery.sequence.map(|at| at.number) != Some(t) || delivery.gap.is_some() {
                return Err(format!(
                    "t={t}: sequence {:?}, gap {:?}",
                    delivery.sequence, delivery.gap
                ));
            }
        }
        if let Ok(Some(extra)) = tokio::time::timeout(EXTRA_WAIT, consumer.next()).await {
            return Err(format!("a message after the last: {extra:?}"));
        }
        consumer
            .close()
            .await
            .map_err(|error| format!("close: {error}"))?;
        tally.figures()
    });
    let acks = publisher.clone();
    let produce = tokio::spawn(async move {
        let started = now_ns(base);
        let pace = Pace::new(rate);
        for t in 1..=n {
            pace.wait(t).await;
            let stamp = now_ns(base);
            handler
                .handle(WsMessage::text(payload(t, stamp)))
                .await
                .map_err(|error| format!("handle t={t}: {error}"))?;
        }
        acks.flush().await;
        Ok::<_, String>(per_second(n, started, now_ns(base)))
    });
    let acked = joined(produce.await)?;
    let figures = joined(consume.await)?;
    let stats = publisher.stats();
    if stats.stored != n || stats.duplicates + stats.failed + stats.refused != 0 {
        return Err(format!("publisher: {stats:?}"));
    }
    Ok(Figures { acked, ..figures })
}

/// What a user writes with async-nats alone: `send_publish` with a message
/// id, a window of acks outstanding, and a pull consumer acking each
/// message.
async fn baseline(
    url: &str,
    prefix: &str,
    name: &str,
    n: u64,
    rate: u64,
) -> Result<Figures, String> {
    let client = async_nats::connect(url)
        .await
        .map_err(|error| format!("connect: {error}"))?;
    let js = jetstream::new(client);
    // The same settings as the library's stream.
    let stream = js
        .create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![format!("{prefix}.>")],
            duplicate_window: DUPLICATE_WINDOW,
            max_age: MAX_AGE,
            max_bytes: MAX_BYTES as i64,
            storage: stream::StorageType::Memory,
            discard: stream::DiscardPolicy::Old,
            ..Default::default()
        })
        .await
        .map_err(|error| format!("stream: {error}"))?;
    let consumer = stream
        .create_consumer(pull::Config {
            deliver_policy: consumer::DeliverPolicy::New,
            ack_policy: consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .map_err(|error| format!("consumer: {error}"))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|error| format!("messages: {error}"))?;
    let base = Instant::now();
    let consume = tokio::spawn(async move {
        let mut tally = Tally::new(base, n);
        while !tally.done() {
            let Some(message) = messages.next().await else {
                break;
            };
            let message = message.map_err(|error| format!("consumer: {error}"))?;
            let text = std::str::from_utf8(&message.payload).map_err(|error| error.to_string())?;
            tally.record(text)?;
            message
                .ack()
                .await
                .map_err(|error| format!("ack: {error}"))?;
        }
        if let Ok(Some(extra)) = tokio::time::timeout(EXTRA_WAIT, messages.next()).await {
            return Err(format!("a message after the last: {extra:?}"));
        }
        tally.figures()
    });
    let subject = async_nats::Subject::from(format!("{prefix}.binance-spot.{TOPIC}"));
    let produce = tokio::spawn(async move {
        let started = now_ns(base);
        let pace = Pace::new(rate);
        let mut acks = FuturesOrdered::new();
        let mut stored = 0;
        let mut check = |ack: Result<jetstream::publish::PublishAck, _>| match ack {
            Ok(ack) if !ack.duplicate => {
                stored += 1;
                Ok(())
            }
            Ok(_) => Err("a duplicate".to_owned()),
            Err(error) => Err(format!("ack: {error}")),
        };
        for t in 1..=n {
            pace.wait(t).await;
            let stamp = now_ns(base);
            let publish = PublishMessage::build()
                .payload(payload(t, stamp).into())
                .message_id(format!("binance-spot.{TOPIC}.{t}"));
            let ack = js
                .send_publish(subject.clone(), publish)
                .await
                .map_err(|error| format!("publish t={t}: {error}"))?;
            if acks.len() == WINDOW
                && let Some(ack) = acks.next().await
            {
                check(ack)?;
            }
            acks.push_back(ack.into_future());
        }
        while let Some(ack) = acks.next().await {
            check(ack)?;
        }
        if stored != n {
            return Err(format!("{stored} of {n} publishes stored"));
        }
        Ok::<_, String>(per_second(n, started, now_ns(base)))
    });
    let acked = joined(produce.await)?;
    let figures = joined(consume.await)?;
    Ok(Figures { acked, ..figures })
}

/// What a spawned task gave back, a panic as an error.
fn joined<T>(outcome: Result<Result<T, String>, tokio::task::JoinError>) -> Result<T, String> {
    outcome.map_err(|error| format!("task: {error}"))?
}

/// A Binance trade with the send stamp in `T` (nanoseconds since the run's
/// clock base, not milliseconds since the epoch as Binance's).
fn payload(t: u64, stamp: u64) -> String {
    format!(
        r#"{{"stream":"{TOPIC}","data":{{"e":"trade","s":"BTCUSDT","t":{t},"p":"50000.00","q":"0.010","T":{stamp}}}}}"#
    )
}

/// Spaces publishes `rate` a second apart from the first on; in bursts,
/// as tokio's timers have 1 ms steps.
struct Pace {
    start: tokio::time::Instant,
    rate: u64,
}

impl Pace {
    fn new(rate: u64) -> Self {
        Self {
            start: tokio::time::Instant::now(),
            rate,
        }
    }

    /// Until message `t` (from 1) is due.
    async fn wait(&self, t: u64) {
        if self.rate == 0 {
            return;
        }
        let due = self.start + Duration::from_secs_f64((t - 1) as f64 / self.rate as f64);
        if due > tokio::time::Instant::now() {
            tokio::time::sleep_until(due).await;
        }
    }
}

/// Messages a second, `n` from `start` to `end` (nanoseconds).
fn per_second(n: u64, start: u64, end: u64) -> f64 {
    n as f64 * 1e9 / end.saturating_sub(start).max(1) as f64
}

/// Nanoseconds since `base`.
fn now_ns(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The number after `key` in `text` (a search, no JSON parse: this runs on
/// every message).
fn number_after(text: &str, key: &str) -> Option<u64> {
    let at = text.find(key)? + key.len();
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit);
    digits.fold(None, |value, digit| {
        Some(value.unwrap_or(0) * 10 + u64::from(digit - b'0'))
    })
}

/// What a consumer has received: the order check and the latencies.
struct Tally {
    base: Instant,
    n: u64,
    next: u64,
    first_stamp: u64,
    last_received: u64,
    latencies: Vec<u64>,
}

impl Tally {
    fn new(base: Instant, n: u64) -> Self {
        Self {
            base,
            n,
            next: 1,
            first_stamp: 0,
            last_received: 0,
            latencies: Vec::with_capacity(usize::try_from(n).unwrap_or(0)),
        }
    }

    fn done(&self) -> bool {
        self.next > self.n
    }

    /// Records a message just received; its `t`, which must be the next.
    fn record(&mut self, text: &str) -> Result<u64, String> {
        let now = now_ns(self.base);
        let (Some(t), Some(stamp)) = (number_after(text, r#""t":"#), number_after(text, r#""T":"#))
        else {
            return Err(format!("not a stamped trade: {text:?}"));
        };
        if t != self.next {
            return Err(format!("got t={t}, expected t={}", self.next));
        }
        if t == 1 {
            self.first_stamp = stamp;
        }
        self.latencies.push(now.saturating_sub(stamp));
        self.last_received = now;
        self.next += 1;
        Ok(t)
    }

    fn figures(mut self) -> Result<Figures, String> {
        if !self.done() {
            return Err(format!(
                "the consumer ended after {} of {} messages",
                self.next - 1,
                self.n
            ));
        }
        self.latencies.sort_unstable();
        let at = |q: f64| {
            self.latencies
                [((q * self.latencies.len() as f64) as usize).min(self.latencies.len() - 1)]
        };
        Ok(Figures {
            rate: per_second(self.n, self.first_stamp, self.last_received),
            acked: 0.0,
            client_cpu: 0.0,
            server_cpu: 0.0,
            p50: at(0.50),
            p99: at(0.99),
            max: self.latencies[self.latencies.len() - 1],
        })
    }
}

/// CPU time (user and system) of this process's `nats-server` child; zero
/// when it cannot be read.
fn server_cpu() -> Duration {
    let me = std::process::id().to_string();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return Duration::ZERO;
    };
    processes
        .filter_map(|process| std::fs::read_to_string(process.ok()?.path().join("stat")).ok())
        .find_map(|stat| {
            // `pid (comm) state ppid ...`: the name may hold spaces.
            let (head, rest) = stat.rsplit_once(')')?;
            if !head.ends_with("(nats-server") {
                return None;
            }
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(1) != Some(&me.as_str()) {
                return None;
            }
            let ticks = |at: usize| fields.get(at)?.parse::<u64>().ok();
            // utime and stime, in USER_HZ (100) ticks.
            Some(Duration::from_millis((ticks(11)? + ticks(12)?) * 10))
        })
        .unwrap_or_default()
}

/// The CPU model, from `/proc/cpuinfo`.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}
