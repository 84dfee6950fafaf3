//! The command line: the bench's three options, and the two hidden
//! subcommands the bench runs itself with (`serve`, `client`).

use crate::clients::{ClientKind, Job, Lanes};

/// The bench's options.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Messages per blast run (`--n`, default 1,000,000).
    pub(crate) messages: u64,
    /// Paced rate for the latency runs (`--rate`, default 100,000 msg/s;
    /// 0 skips them).
    pub(crate) rate: u64,
    /// Runs per client (`--runs`, default 5).
    pub(crate) runs: usize,
    /// The HyperSockets clients' lane kind (`--lanes`, default: the
    /// library's default).
    pub(crate) lanes: Lanes,
    /// One message in how many the lanes time (`--timing`, default: the
    /// library's default; 0 times none and records no latency).
    pub(crate) timing: Option<u32>,
}

/// What this invocation is.
#[derive(Debug)]
pub(crate) enum Invocation {
    /// The bench (the parent process).
    Bench(Options),
    /// The blast server (a child), its gzip feed encoded for up to
    /// `gzip_messages` messages a connection (`serve --n`).
    Serve { gzip_messages: u64 },
    /// One client run (a child) against the server on `port`.
    Client { job: Job, port: u16 },
    /// `--help`.
    Help,
}

/// The usage text.
pub(crate) const USAGE: &str = "\
usage: e2e [--n N] [--rate R] [--runs K] [--lanes default|task|thread|pool]
           [--timing T]

End-to-end bench of HyperSockets against a hand-written tokio-tungstenite
client, with a blast server in a separate process on 127.0.0.1. Two feeds of
the same messages: plain JSON text frames (baseline, seed-style, classified,
best, inline; best-tws, inline-tws on the tokio-websockets transport;
best-soketto, inline-soketto on the soketto one) and one gzip member per
binary frame, HTX's way
(baseline-gzip, classified-gzip, inline-gzip; blast and allocation runs,
not the paced ones, whose send stamp cannot be patched into compressed
bytes). Each -gzip client's ratio is against baseline-gzip.

  --n N      messages per blast run (default 1000000); memory runs send 2N;
             the server gzips ceil(N / 100000) cycles of the feed at start
  --rate R   msg/s of the paced latency runs (default 100000; 0 skips them);
             a paced run sends min(N, 2R) messages
  --runs K   runs per client, alternating clients (default 5)
  --lanes L  lane kind of the HyperSockets clients: the library's default
             (default), task, thread or pool
  --timing T the HyperSockets clients' lanes time one message in T (their
             latency histograms and means); 0 times none (default: the
             library's default, 64)

The last line is machine-readable: RESULT key=value ...";

fn number<T: std::str::FromStr>(flag: &str, value: Option<&str>) -> Result<T, String> {
    value
        .and_then(|v| v.replace('_', "").parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

/// Parses the arguments (without the program name).
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Invocation, String> {
    let mut args = args.into_iter().peekable();
    let subcommand = args.next_if(|arg| !arg.starts_with('-'));
    let mut options = Options {
        messages: 1_000_000,
        rate: 100_000,
        runs: 5,
        lanes: Lanes::Default,
        timing: None,
    };
    let mut kind = None;
    let mut port = None;
    let mut bounded = None;
    let mut count_allocs = false;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--n" => options.messages = number(&flag, args.next().as_deref())?,
            "--rate" => options.rate = number(&flag, args.next().as_deref())?,
            "--runs" => options.runs = number(&flag, args.next().as_deref())?,
            "--kind" => {
                let name = args.next().unwrap_or_default();
                kind =
                    Some(ClientKind::from_name(&name).ok_or(format!("unknown client {name:?}"))?);
            }
            "--lanes" => {
                let name = args.next().unwrap_or_default();
                options.lanes =
                    Lanes::from_name(&name).ok_or(format!("unknown lane kind {name:?}"))?;
            }
            "--timing" => options.timing = Some(number(&flag, args.next().as_deref())?),
            "--port" => port = Some(number(&flag, args.next().as_deref())?),
            "--bounded" => bounded = Some(number(&flag, args.next().as_deref())?),
            "--count-allocs" => count_allocs = true,
            "-h" | "--help" => return Ok(Invocation::Help),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    match subcommand.as_deref() {
        None => {
            if options.runs == 0 || options.messages == 0 {
                return Err("--n and --runs must be at least 1".to_owned());
            }
            Ok(Invocation::Bench(options))
        }
        Some("serve") => Ok(Invocation::Serve {
            gzip_messages: options.messages,
        }),
        Some("client") => Ok(Invocation::Client {
            job: Job {
                kind: kind.ok_or("client needs --kind")?,
                messages: options.messages,
                rate: options.rate,
                bounded,
                lanes: options.lanes,
                timing: options.timing,
                count_allocs,
            },
            port: port.ok_or("client needs --port")?,
        }),
        Some(other) => Err(format!("unknown subcommand {other:?}\n\n{USAGE}")),
    }
}
