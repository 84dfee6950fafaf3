//! The twelve clients (nine on the plain feed, three on the gzip feed), and
//! what a client run (a child process, `e2e client`) measures and reports.

mod baseline;
mod baseline_gzip;
mod job;
mod library;
mod meter;
mod routers;

pub(crate) use job::{Job, Lanes};
use meter::Meter;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::alloc_count::Allocations;
use crate::dataset::Expected;
use crate::feed::Feed;
use crate::stats::Percentiles;
use crate::tally::Merged;
use hypersockets_bench::procfs;
use library::Handlers;

/// The clients compared, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum ClientKind {
    /// A hand-written tokio-tungstenite loop, the tagged parse, inline.
    Baseline,
    /// HyperSockets with a `parse` + `route_key` router: the reader parses.
    SeedStyle,
    /// HyperSockets with `classify`: the same tagged parse, in the lanes.
    Classified,
    /// HyperSockets with every speed option: peeked kind, concrete
    /// borrowed parse, in the lanes.
    Best,
    /// HyperSockets with `inline_handler`s: parse and handler on the reader.
    Inline,
    /// The gzip feed: the baseline loop with flate2's `GzDecoder` per
    /// message.
    BaselineGzip,
    /// The gzip feed: `classified` with `Decompression::Gzip`.
    ClassifiedGzip,
    /// The gzip feed: `inline` with `Decompression::Gzip`.
    InlineGzip,
    /// `best` on `TokioWebsocketsTransport`.
    BestTokioWebsockets,
    /// `inline` on `TokioWebsocketsTransport`.
    InlineTokioWebsockets,
    /// `best` on `SokettoTransport`.
    BestSoketto,
    /// `inline` on `SokettoTransport`.
    InlineSoketto,
}

/// The transport a HyperSockets client runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransportKind {
    /// The default, `TungsteniteTransport`.
    Tungstenite,
    /// `TokioWebsocketsTransport`.
    TokioWebsockets,
    /// `SokettoTransport` (permessage-deflate not offered).
    Soketto,
}

impl ClientKind {
    /// The clients of the plain feed, in run order (the paced runs').
    pub(crate) const PLAIN: [Self; 9] = [
        Self::Baseline,
        Self::SeedStyle,
        Self::Classified,
        Self::Best,
        Self::Inline,
        Self::BestTokioWebsockets,
        Self::InlineTokioWebsockets,
        Self::BestSoketto,
        Self::InlineSoketto,
    ];

    /// Every client, in run order: the plain feed's, then the gzip feed's.
    pub(crate) const ALL: [Self; 12] = [
        Self::Baseline,
        Self::SeedStyle,
        Self::Classified,
        Self::Best,
        Self::Inline,
        Self::BestTokioWebsockets,
        Self::InlineTokioWebsockets,
        Self::BestSoketto,
        Self::InlineSoketto,
        Self::BaselineGzip,
        Self::ClassifiedGzip,
        Self::InlineGzip,
    ];

    /// The name on the command line and in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::SeedStyle => "seed-style",
            Self::Classified => "classified",
            Self::Best => "best",
            Self::Inline => "inline",
            Self::BaselineGzip => "baseline-gzip",
            Self::ClassifiedGzip => "classified-gzip",
            Self::InlineGzip => "inline-gzip",
            Self::BestTokioWebsockets => "best-tws",
            Self::InlineTokioWebsockets => "inline-tws",
            Self::BestSoketto => "best-soketto",
            Self::InlineSoketto => "inline-soketto",
        }
    }

    /// The transport it runs on (the baselines: tokio-tungstenite by hand).
    pub(crate) fn transport(self) -> TransportKind {
        match self {
            Self::BestTokioWebsockets | Self::InlineTokioWebsockets => {
                TransportKind::TokioWebsockets
            }
            Self::BestSoketto | Self::InlineSoketto => TransportKind::Soketto,
            _ => TransportKind::Tungstenite,
        }
    }

    /// The feed it reads.
    pub(crate) fn feed(self) -> Feed {
        match self {
            Self::BaselineGzip | Self::ClassifiedGzip | Self::InlineGzip => Feed::Gzip,
            _ => Feed::Plain,
        }
    }

    /// The baseline of its feed, which its ratio is against.
    pub(crate) fn baseline(self) -> Self {
        match self.feed() {
            Feed::Plain => Self::Baseline,
            Feed::Gzip => Self::BaselineGzip,
        }
    }

    /// The client called `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// What one client run is asked to do.
#[derive(Debug)]
pub(crate) struct Setup {
    /// The server's URL, with the feed's size and rate in the query.
    pub(crate) url: String,
    /// What the server will send.
    pub(crate) expected: Expected,
    /// Record latencies (a paced feed).
    pub(crate) paced: bool,
    /// The lanes' settings.
    pub(crate) lanes: hypersockets::LaneConfig,
    /// What the HyperSockets clients inflate: gzip on the gzip feed.
    pub(crate) decompression: hypersockets::Decompression,
    /// The transport the HyperSockets clients run on.
    pub(crate) transport: TransportKind,
}

/// What a client returns once the server has closed and every handler is done.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Every handler's tally, merged.
    pub(crate) merged: Merged,
    /// The deepest any lane's queue got.
    pub(crate) high_water: u64,
    /// The lanes' high-water marks added up (an upper bound of what was
    /// queued at once).
    pub(crate) queued_peak: u64,
}

/// What a client run reports to the parent (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RunReport {
    /// The client's name.
    pub(crate) client: String,
    /// Messages handled (checked).
    pub(crate) messages: u64,
    /// Their checksum, for the parent to compare with the server's.
    pub(crate) checksum: u64,
    /// From just before connecting to the last message's handler.
    pub(crate) elapsed_ns: u64,
    /// CPU time of the client process over the run.
    pub(crate) cpu_ns: u64,
    /// The client process's peak RSS (`VmHWM`), KiB.
    pub(crate) peak_rss_kib: u64,
    /// The deepest lane queue.
    pub(crate) high_water: u64,
    /// The lanes' high-water marks added up.
    pub(crate) queued_peak: u64,
    /// Allocations, when counted.
    pub(crate) allocations: Option<Allocations>,
    /// Latency from the server's write to the handler's start (paced runs).
    pub(crate) latency: Option<Percentiles>,
}

/// Runs `job` against the server on `port` (in this process, which is a
/// child of the bench) and checks everything it received.
pub(crate) fn run(job: &Job, port: u16) -> Result<RunReport, String> {
    let Job {
        kind,
        messages,
        rate,
        bounded,
        lanes,
        timing,
        count_allocs,
    } = *job;
    let feed = kind.feed();
    let setup = Setup {
        url: format!(
            "ws://127.0.0.1:{port}/feed?n={messages}&rate={rate}{}",
            feed.query()
        ),
        expected: Expected::of(messages),
        paced: rate > 0,
        lanes: lanes.config(bounded, timing),
        decompression: match feed {
            Feed::Plain => hypersockets::Decompression::Off,
            Feed::Gzip => hypersockets::Decompression::Gzip,
        },
        transport: kind.transport(),
    };
    // Generous: a blast takes about a second per million messages.
    let limit =
        Duration::from_secs(60 + messages / 50_000 + messages.checked_div(rate).unwrap_or(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let mut meter = Meter::new(count_allocs);
    let finished = runtime.block_on(async {
        let run = async {
            match kind {
                ClientKind::Baseline => baseline::run(&setup, &mut meter).await,
                ClientKind::SeedStyle => {
                    library::run(routers::SeedRouter, Handlers::Lanes, &setup, &mut meter).await
                }
                ClientKind::Classified | ClientKind::ClassifiedGzip => {
                    library::run(
                        routers::ClassifiedRouter,
                        Handlers::Lanes,
                        &setup,
                        &mut meter,
                    )
                    .await
                }
                ClientKind::Best | ClientKind::BestTokioWebsockets | ClientKind::BestSoketto => {
                    library::run(routers::FastRouter, Handlers::Lanes, &setup, &mut meter).await
                }
                ClientKind::Inline
                | ClientKind::InlineGzip
                | ClientKind::InlineTokioWebsockets
                | ClientKind::InlineSoketto => {
                    library::run(routers::SeedRouter, Handlers::Inline, &setup, &mut meter).await
                }
                ClientKind::BaselineGzip => baseline_gzip::run(&setup, &mut meter).await,
            }
        };
        tokio::time::timeout(limit, run)
            .await
            .map_err(|_| format!("{} did not finish within {limit:?}", kind.name()))?
    })?;
    // Read before anything else allocates.
    let peak_rss_kib = procfs::peak_rss_kib();
    drop(runtime);
    let Finished {
        mut merged,
        high_water,
        queued_peak,
    } = finished;
    merged
        .verify(&setup.expected)
        .map_err(|problems| format!("{}: wrong delivery: {problems}", kind.name()))?;
    let started = meter.started.ok_or("never started")?;
    let done_at = merged.done_at.ok_or("no message")?;
    let latency = setup.paced.then(|| Percentiles::of(&mut merged.latencies));
    Ok(RunReport {
        client: kind.name().to_owned(),
        messages: merged.messages,
        checksum: merged.checksum,
        elapsed_ns: done_at.saturating_duration_since(started).as_nanos() as u64,
        cpu_ns: meter.cpu.as_nanos() as u64,
        peak_rss_kib,
        high_water,
        queued_peak,
        allocations: meter.allocations,
        latency,
    })
}
