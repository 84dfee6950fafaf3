//! `hypersockets`, the command-line tool of HyperSockets.
//!
//! - `hypersockets watch URL [--profile NAME] [--subscribe STREAM|JSON]...`
//!   connects to a feed and shows, live, each stream's message rate, its
//!   lane's queue and latency percentiles, the connection's state and
//!   reconnects, and the last events;
//! - `hypersockets record URL ... --out FILE` records everything the feed
//!   sends to a file, with a progress line a second;
//! - `hypersockets replay FILE` plays a recording through the same client
//!   and shows it as `watch` does;
//! - `hypersockets serve --config FEEDS.toml --nats URL` runs a feed node:
//!   it shares the file's feeds with the other nodes on that NATS server
//!   through leases, and publishes what it runs to JetStream;
//! - `hypersockets demo` shows the view against an embedded mock exchange
//!   (no internet) that drops the connection every few seconds.
//!
//! `watch`, `replay` and `demo` take `--plain` (one line a second on
//! stdout, for logs and pipes; also what a stdout that is not a terminal
//! gets); all take `--duration SECS`.

mod counts;
mod demo;
mod events;
mod figures;
mod keys;
mod monitor;
mod plain;
mod record;
mod replay;
mod serve;
mod view;
mod watch;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hypersockets::{BoxError, ExponentialBackoff, Integrity};

use crate::events::error_chain;
use crate::monitor::{Ended, Outcome};

/// A live view of an exchange feed through HyperSockets: message rates
/// per stream, latency percentiles, queues, reconnects and events.
#[derive(Debug, Parser)]
#[command(name = "hypersockets", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Connect to a feed and show it live.
    ///
    /// With --profile, the venue's profile sets the keepalive, request
    /// formats and pacing, --subscribe takes stream names in the venue's
    /// syntax, and each stream gets a lane of its own (its own rate, queue
    /// and latency). Without one, --subscribe takes the JSON requests to
    /// send, and messages are counted by the stream they name.
    ///
    /// Examples:
    ///   hypersockets watch --profile binance --subscribe btcusdt@trade --subscribe ethusdt@trade
    ///   hypersockets watch wss://ws.okx.com:8443/ws/v5/public --profile okx --subscribe trades:BTC-USDT
    ///   hypersockets watch wss://example.test/ws --subscribe '{"op":"subscribe","args":["trades"]}'
    #[command(verbatim_doc_comment)]
    Watch(WatchArgs),
    /// Record everything a feed sends to a file, for `replay` (or for
    /// reading with the library's `Recording`), with a progress line a
    /// second; until Ctrl-C or --duration.
    ///
    /// Examples:
    ///   hypersockets record --profile binance --subscribe btcusdt@trade --out trades.hsr
    ///   hypersockets record wss://example.test/ws --subscribe '{"op":"subscribe","args":["trades"]}' --out feed.hsr --duration 60
    #[command(verbatim_doc_comment)]
    Record(RecordArgs),
    /// Play a recording through the client and show it as `watch` does,
    /// at the pace it was recorded (or --fast).
    Replay(ReplayArgs),
    /// Run a feed node: share the feeds of a file with the other nodes on
    /// one NATS server (JetStream on) through leases, run those this node
    /// holds, and publish their messages to JetStream subjects
    /// <prefix>.<venue>.<stream>; a line a second with the leases and
    /// rates, and one per lease taken or lost; until Ctrl-C, SIGTERM or
    /// --duration.
    ///
    /// Example:
    ///   hypersockets serve --config feeds.toml --nats nats://127.0.0.1:4222 --node node-a
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
    /// Show the view against an embedded mock exchange, no internet needed:
    /// Binance-style streams, and a fault every few seconds (a dropped
    /// connection, a refused reconnect, a close for a restart).
    Demo(ViewArgs),
}

#[derive(Debug, Args)]
struct WatchArgs {
    #[command(flatten)]
    feed: FeedArgs,
    #[command(flatten)]
    view: ViewArgs,
}

/// Which feed, and what of it.
#[derive(Debug, Args)]
struct FeedArgs {
    /// The WebSocket endpoint (ws:// or wss://); with --profile, defaults
    /// to the venue's public endpoint.
    url: Option<String>,
    /// The venue's profile: binance-spot (binance), binance-usdm, okx,
    /// bybit-spot (bybit), bybit-linear, kraken, htx, hyperliquid, kucoin,
    /// coinbase.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// A stream to subscribe to (a topic in the profile's syntax), or a
    /// raw JSON subscribe request; repeatable.
    #[arg(long, value_name = "STREAM|JSON")]
    subscribe: Vec<String>,
}

impl FeedArgs {
    fn target(self) -> watch::Target {
        watch::Target {
            url: self.url,
            profile: self.profile,
            subscribe: self.subscribe,
            reconnect: ExponentialBackoff::default(),
            integrity: Integrity::default(),
        }
    }
}

#[derive(Debug, Args)]
struct RecordArgs {
    #[command(flatten)]
    feed: FeedArgs,
    /// The file to write (created, or emptied).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
}

#[derive(Debug, Args)]
struct ReplayArgs {
    /// A file `record` (or the library's `Recorder`) wrote.
    file: PathBuf,
    /// The venue profile it was recorded with: a lane per stream, the
    /// venue's pings and answers told from data.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// As fast as it goes, rather than at the recorded pace.
    #[arg(long)]
    fast: bool,
    #[command(flatten)]
    view: ViewArgs,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// The feeds file (TOML): [[feed]] entries with name, profile,
    /// subscribe, and optionally url and replicas (1 or 2); optional [bus]
    /// (prefix, stream, duplicate_window_secs, max_age_secs, max_bytes)
    /// and [leases] (bucket, ttl_ms).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The NATS server (nats://host:port; several, comma-separated).
    #[arg(long, value_name = "URL")]
    nats: String,
    /// This node's name, unique among the nodes (letters, digits, - and
    /// _; default: the host name and process id).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
}

#[derive(Clone, Copy, Debug, Args)]
struct ViewArgs {
    /// One line of figures a second (and one per event) on stdout instead
    /// of the full-screen view.
    #[arg(long)]
    plain: bool,
    /// Stop after this many seconds (default: until q or Ctrl-C).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
}

impl ViewArgs {
    fn duration(self) -> Option<Duration> {
        self.duration.map(Duration::from_secs)
    }
}

/// What a command ends with: the line printed after it.
enum Done {
    /// The view's end (watch, demo).
    Shown(Outcome),
    /// A recording written.
    Recorded(record::Recorded, PathBuf),
    /// A recording played.
    Replayed(replay::Replayed, PathBuf),
    /// A feed node stopped.
    Served(serve::Served),
}

impl Done {
    /// The closing line; none when the output went away.
    fn summary(&self) -> Option<String> {
        match self {
            Self::Shown(outcome) if outcome.ended == Ended::OutputClosed => None,
            Self::Shown(outcome) => Some(outcome.summary()),
            Self::Recorded(recorded, out) => Some(recorded.summary(out)),
            Self::Replayed(replayed, _) if replayed.outcome.ended == Ended::OutputClosed => None,
            Self::Replayed(replayed, file) => Some(replayed.summary(file)),
            Self::Served(served) => Some(served.summary()),
        }
    }
}

async fn run(cli: Cli) -> Result<Done, BoxError> {
    match cli.command {
        Command::Watch(args) => {
            let target = args.feed.target();
            let outcome = watch::run(&target, args.view.plain, args.view.duration()).await?;
            Ok(Done::Shown(outcome))
        }
        Command::Record(args) => {
            let target = args.feed.target();
            let duration = args.duration.map(Duration::from_secs);
            let recorded = record::run(&target, &args.out, duration).await?;
            Ok(Done::Recorded(recorded, args.out))
        }
        Command::Replay(args) => {
            let replayed = replay::run(
                &args.file,
                args.profile,
                args.fast,
                args.view.plain,
                args.view.duration(),
            )
            .await?;
            Ok(Done::Replayed(replayed, args.file))
        }
        Command::Serve(args) => {
            let duration = args.duration.map(Duration::from_secs);
            let served = serve::run(&args.config, &args.nats, args.node, duration).await?;
            Ok(Done::Served(served))
        }
        Command::Demo(view) => Ok(Done::Shown(demo::run(view.plain, view.duration()).await?)),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("hypersockets-cli")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            print_error(&format!("cannot start the runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(cli));
    // Tasks still running (a connect being aborted) get a moment, not forever.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(done) => {
            // After the view, on the restored terminal (or as the last line).
            if let Some(summary) = done.summary() {
                let _ = writeln!(std::io::stdout(), "{summary}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            print_error(&error_chain(&*error));
            ExitCode::FAILURE
        }
    }
}

/// Prints an error on stderr, ignoring a closed stderr (a terminal that
/// hung up).
fn print_error(error: &str) {
    let _ = writeln!(std::io::stderr(), "hypersockets: error: {error}");
}
