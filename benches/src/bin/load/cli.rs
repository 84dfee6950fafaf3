//! The command line: the bench's options, and the hidden `clients`
//! subcommand the bench runs its child with.

use hypersockets::LaneKind;

/// The bench's options (the child gets the same, plus the exchange's URL).
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// Clients in the manager (`--clients`, default 1000).
    pub(crate) clients: usize,
    /// Seconds of traffic with faults (`--secs`, default 30).
    pub(crate) secs: u64,
    /// Messages per second on each client's stream (`--rate`, default 20).
    pub(crate) rate: u32,
    /// Seconds between faults (`--fault-every`, default 2; 0: no faults).
    pub(crate) fault_every: u64,
    /// The clients' lane kind (`--lanes`, default: the library's, pool).
    pub(crate) lanes: LaneKind,
    /// The exchange's URL (the child only).
    pub(crate) url: String,
}

impl Options {
    /// Messages each connection's stream carries before it stops.
    pub(crate) fn per_connection(&self) -> u64 {
        u64::from(self.rate) * self.secs
    }

    /// The arguments that give the child these options.
    pub(crate) fn child_args(&self, url: &str) -> Vec<String> {
        let lanes = lane_name(self.lanes);
        [
            "clients",
            "--clients",
            &self.clients.to_string(),
            "--secs",
            &self.secs.to_string(),
            "--rate",
            &self.rate.to_string(),
            "--lanes",
            lanes,
            "--url",
            url,
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

/// What this invocation is.
#[derive(Debug)]
pub(crate) enum Invocation {
    /// The bench (the exchange's process).
    Bench(Options),
    /// The clients (the child).
    Clients(Options),
    /// `--help`.
    Help,
}

/// The usage text.
pub(crate) const USAGE: &str = "\
usage: load [--clients N] [--secs S] [--rate R] [--fault-every F] [--lanes task|thread|pool]

Load bench of HyperSockets: N clients in one ClientManager (in a child
process) against one mock exchange on 127.0.0.1, with faults on random
connections, then a drain and 5 s idle.

  --clients N      clients (default 1000)
  --secs S         seconds of traffic with faults (default 30); each
                   connection's stream stops after R x S messages, so the
                   drain takes up to S more seconds after a late reconnect,
                   plus ~40 s to find a late half-open connection
  --rate R         messages per second on each client's stream (default 20)
  --fault-every F  seconds between faults (default 2; 0: none); each hits
                   1% of the open connections (at least one) with a dropped
                   TCP connection, a server close 1012 or a half-open silence
  --lanes L        lane kind: pool (the library's default), task or thread;
                   1000 clients with thread lanes means 1000 threads, pool
                   lanes share one thread per core

The last line is machine-readable: RESULT key=value ...";

fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T, String> {
    value
        .and_then(|v| v.replace('_', "").parse().ok())
        .ok_or_else(|| format!("{flag} needs a number"))
}

/// Parses the arguments (without the program name).
pub(crate) fn parse(args: impl IntoIterator<Item = String>) -> Result<Invocation, String> {
    let mut args = args.into_iter().peekable();
    let child = args.next_if(|arg| arg == "clients").is_some();
    let mut options = Options {
        clients: 1000,
        secs: 30,
        rate: 20,
        fault_every: 2,
        lanes: hypersockets::LaneConfig::default().kind,
        url: String::new(),
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(Invocation::Help),
            "--clients" => options.clients = number(&flag, args.next())?,
            "--secs" => options.secs = number(&flag, args.next())?,
            "--rate" => options.rate = number(&flag, args.next())?,
            "--fault-every" => options.fault_every = number(&flag, args.next())?,
            "--lanes" => {
                options.lanes = match args.next().as_deref() {
                    Some("task") => LaneKind::Task,
                    Some("thread") => LaneKind::Thread,
                    Some("pool") => LaneKind::Pool,
                    _ => return Err("--lanes needs task, thread or pool".to_owned()),
                }
            }
            "--url" if child => options.url = args.next().ok_or("--url needs a URL")?,
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    if options.clients == 0 || options.secs == 0 || options.rate == 0 {
        return Err("--clients, --secs and --rate must be at least 1".to_owned());
    }
    Ok(if child {
        Invocation::Clients(options)
    } else {
        Invocation::Bench(options)
    })
}

/// The name of a lane kind on the command line and in the report.
pub(crate) fn lane_name(kind: LaneKind) -> &'static str {
    match kind {
        LaneKind::Thread => "thread",
        LaneKind::Pool => "pool",
        _ => "task",
    }
}
