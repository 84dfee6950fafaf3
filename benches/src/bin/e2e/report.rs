//! Turning run reports into the figures: progress lines, the final table,
//! the targets, and the machine-readable `RESULT` line (always last).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::cli::Options;
use crate::clients::{ClientKind, Lanes, RunReport};
use crate::machine::{Stalls, Wakeups};
use crate::orchestrator::BOUNDED_CAPACITY;
use crate::stats::Spread;

/// Everything measured in one invocation.
#[derive(Debug)]
pub(crate) struct Figures {
    messages: u64,
    runs: usize,
    rate: u64,
    lanes: Lanes,
    timing: Option<u32>,
    load_before: String,
    stalls_before: Stalls,
    wakeups_before: Wakeups,
    /// The 1/5/15-minute load average at the end.
    pub(crate) load_after: String,
    /// The stall probe at the end.
    pub(crate) stalls_after: Stalls,
    /// The wake-up probe at the end.
    pub(crate) wakeups_after: Wakeups,
    /// Blast runs, per client.
    pub(crate) throughput: BTreeMap<ClientKind, Vec<RunReport>>,
    /// Paced runs, per client.
    pub(crate) paced: BTreeMap<ClientKind, Vec<RunReport>>,
    /// Messages per paced run.
    pub(crate) paced_messages: u64,
    /// The allocation-counting run, per client.
    pub(crate) allocations: BTreeMap<ClientKind, RunReport>,
    /// Messages per memory run.
    pub(crate) memory_messages: u64,
    /// The memory run with bounded lanes.
    pub(crate) bounded: Option<RunReport>,
    /// The memory run with unbounded lanes (the default).
    pub(crate) unbounded: Option<RunReport>,
}

impl Figures {
    /// Empty figures for a bench run with `options`.
    pub(crate) fn new(
        options: &Options,
        load_before: String,
        stalls_before: Stalls,
        wakeups_before: Wakeups,
    ) -> Self {
        Self {
            messages: options.messages,
            runs: options.runs,
            rate: options.rate,
            lanes: options.lanes,
            timing: options.timing,
            load_before,
            stalls_before,
            wakeups_before,
            load_after: String::new(),
            stalls_after: Stalls::default(),
            wakeups_after: Wakeups::default(),
            throughput: BTreeMap::new(),
            paced: BTreeMap::new(),
            paced_messages: 0,
            allocations: BTreeMap::new(),
            memory_messages: 0,
            bounded: None,
            unbounded: None,
        }
    }
}

fn rate_of(report: &RunReport) -> f64 {
    report.messages as f64 / (report.elapsed_ns.max(1) as f64 / 1e9)
}

fn cpu_per_million(report: &RunReport) -> f64 {
    report.cpu_ns as f64 / 1e9 / (report.messages.max(1) as f64 / 1e6)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Library-side allocations per message: all of them minus the user's parse.
fn library_allocs(report: &RunReport) -> Option<f64> {
    let allocations = report.allocations?;
    Some((allocations.total - allocations.user) as f64 / report.messages.max(1) as f64)
}

fn user_allocs(report: &RunReport) -> Option<f64> {
    let allocations = report.allocations?;
    Some(allocations.user as f64 / report.messages.max(1) as f64)
}

/// `1234567.8` → `"1,234,568"`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A progress line for a blast run.
pub(crate) fn blast_line(run: usize, runs: usize, report: &RunReport) -> String {
    format!(
        "run {run}/{runs} {:<15} {:>10} msg/s  cpu {:.2} s/M msgs  peak RSS {:.1} MiB",
        report.client,
        thousands(rate_of(report)),
        cpu_per_million(report),
        mib(report.peak_rss_kib)
    )
}

/// A progress line for a paced run.
pub(crate) fn paced_line(run: usize, runs: usize, rate: u64, report: &RunReport) -> String {
    let latency = report.latency.unwrap_or_default();
    format!(
        "paced {run}/{runs} {:<15} at {} msg/s: p50 {:.1} µs  p90 {:.1} µs  p99 {:.1} µs  \
         p99.9 {:.1} µs  max {:.1} µs",
        report.client,
        thousands(rate as f64),
        latency.p50 as f64 / 1e3,
        latency.p90 as f64 / 1e3,
        latency.p99 as f64 / 1e3,
        latency.p999 as f64 / 1e3,
        latency.max as f64 / 1e3,
    )
}

/// A progress line for an allocation-counting run.
pub(crate) fn alloc_line(report: &RunReport) -> String {
    format!(
        "allocations {:<15} library {:.3}/msg  user parse {:.2}/msg",
        report.client,
        library_allocs(report).unwrap_or(f64::NAN),
        user_allocs(report).unwrap_or(f64::NAN)
    )
}

/// A progress line for a memory run.
pub(crate) fn memory_line(bounded: Option<usize>, report: &RunReport) -> String {
    format!(
        "memory {:<22} {} msgs: peak RSS {:.1} MiB, lanes' high-water marks {} msgs \
         (deepest {}), {} msg/s",
        lanes_name(bounded),
        thousands(report.messages as f64),
        mib(report.peak_rss_kib),
        thousands(report.queued_peak as f64),
        thousands(report.high_water as f64),
        thousands(rate_of(report)),
    )
}

fn lanes_name(bounded: Option<usize>) -> String {
    match bounded {
        Some(capacity) => format!("bounded {capacity} (Block)"),
        None => "unbounded (default)".to_owned(),
    }
}

/// The median of one figure over a client's runs.
fn median_of(reports: Option<&Vec<RunReport>>, figure: impl Fn(&RunReport) -> f64) -> f64 {
    Spread::of(reports.into_iter().flatten().map(figure)).median
}

/// The closing figures: the table, the targets, and the `RESULT` line last.
pub(crate) fn summary(figures: &Figures) -> String {
    let mut out = String::new();
    // Each client against the baseline of its own feed.
    let ratio = |kind: ClientKind| {
        median_of(figures.throughput.get(&kind), rate_of)
            / median_of(figures.throughput.get(&kind.baseline()), rate_of)
    };
    let p99 = |kind: ClientKind| {
        median_of(figures.paced.get(&kind), |r| {
            r.latency.map_or(f64::NAN, |l| l.p99 as f64)
        })
    };
    let _ = writeln!(
        out,
        "\n== HyperSockets e2e: {} msgs a run, {} runs per client, lanes: {} ({:?}), \
         timing 1 in {}, {} CPUs ==",
        thousands(figures.messages as f64),
        figures.runs,
        figures.lanes.name(),
        figures.lanes.config(None, None).kind,
        figures
            .lanes
            .config(None, figures.timing)
            .timing_sample_every,
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    let _ = writeln!(
        out,
        "machine before: load {}; {};\n  {}\nmachine after:  load {}; {};\n  {}",
        figures.load_before,
        figures.stalls_before,
        figures.wakeups_before,
        figures.load_after,
        figures.stalls_after,
        figures.wakeups_after,
    );
    let _ = writeln!(
        out,
        "{:<15} {:>10} {:>10} {:>10} {:>7} {:>6} {:>9} {:>8} {:>9}",
        "client", "msg/s med", "min", "max", "ns/msg", "ratio", "cpu s/M", "RSS MiB", "lib al/m"
    );
    for kind in ClientKind::ALL {
        let runs = figures.throughput.get(&kind);
        let spread = Spread::of(runs.into_iter().flatten().map(rate_of));
        let allocs = figures
            .allocations
            .get(&kind)
            .and_then(library_allocs)
            .map_or("-".to_owned(), |a| format!("{a:.3}"));
        let _ = writeln!(
            out,
            "{:<15} {:>10} {:>10} {:>10} {:>7.0} {:>6.2} {:>9.2} {:>8.1} {:>9}",
            kind.name(),
            thousands(spread.median),
            thousands(spread.min),
            thousands(spread.max),
            1e9 / spread.median,
            ratio(kind),
            median_of(runs, cpu_per_million),
            median_of(runs, |r| mib(r.peak_rss_kib)),
            allocs,
        );
    }
    let _ = writeln!(
        out,
        "(ratio: against the baseline of the client's feed, baseline-gzip for the -gzip clients)"
    );
    if !figures.paced.is_empty() {
        let _ = writeln!(
            out,
            "\nlatency, server write to handler start, {} msgs a run at {} msg/s (median of {} runs)",
            thousands(figures.paced_messages as f64),
            thousands(figures.rate as f64),
            figures.runs
        );
        let _ = writeln!(
            out,
            "{:<15} {:>9} {:>9} {:>9} {:>16} {:>9} {:>9} {:>9}",
            "client",
            "p50 µs",
            "p90 µs",
            "p99 µs",
            "p99 runs min-max",
            "p99.9 µs",
            "max µs",
            "p99 ratio"
        );
        let base_p99 = p99(ClientKind::Baseline);
        for kind in ClientKind::PLAIN {
            let runs = figures.paced.get(&kind);
            let pick = |f: fn(&crate::stats::Percentiles) -> u64| {
                median_of(runs, |r| r.latency.map_or(f64::NAN, |l| f(&l) as f64)) / 1e3
            };
            let p99_runs = Spread::of(
                runs.into_iter()
                    .flatten()
                    .filter_map(|r| r.latency.map(|l| l.p99 as f64 / 1e3)),
            );
            let _ = writeln!(
                out,
                "{:<15} {:>9.1} {:>9.1} {:>9.1} {:>16} {:>9.1} {:>9.1} {:>9.2}",
                kind.name(),
                pick(|l| l.p50),
                pick(|l| l.p90),
                pick(|l| l.p99),
                format!("{:.0}-{:.0}", p99_runs.min, p99_runs.max),
                pick(|l| l.p999),
                pick(|l| l.max),
                p99(kind) / base_p99
            );
        }
    }
    let bounded_mib = figures.bounded.as_ref().map(|r| mib(r.peak_rss_kib));
    let unbounded_mib = figures.unbounded.as_ref().map(|r| mib(r.peak_rss_kib));
    let _ = writeln!(
        out,
        "\nmemory, classified client, {} msgs blast: bounded {} lanes {:.1} MiB peak RSS, unbounded {:.1} MiB",
        thousands(figures.memory_messages as f64),
        BOUNDED_CAPACITY,
        bounded_mib.unwrap_or(f64::NAN),
        unbounded_mib.unwrap_or(f64::NAN),
    );

    let lane_clients = [
        ClientKind::SeedStyle,
        ClientKind::Classified,
        ClientKind::Best,
    ];
    let lanes_p99_ratio = lane_clients
        .iter()
        .map(|&kind| p99(kind) / p99(ClientKind::Baseline))
        .fold(f64::NAN, f64::max);
    let inline_p99_ratio = p99(ClientKind::Inline) / p99(ClientKind::Baseline);
    let allocs = [
        ClientKind::SeedStyle,
        ClientKind::Classified,
        ClientKind::Best,
        ClientKind::Inline,
        ClientKind::BestTokioWebsockets,
        ClientKind::InlineTokioWebsockets,
        ClientKind::BestSoketto,
        ClientKind::InlineSoketto,
    ]
    .iter()
    .filter_map(|kind| figures.allocations.get(kind).and_then(library_allocs))
    .fold(f64::NAN, f64::max);
    let gzip_allocs = figures
        .allocations
        .get(&ClientKind::InlineGzip)
        .and_then(library_allocs)
        .unwrap_or(f64::NAN);
    let targets = [
        (
            "classified >= 1.2x baseline",
            ratio(ClientKind::Classified),
            1.2,
            true,
        ),
        ("best >= 1.7x baseline", ratio(ClientKind::Best), 1.7, true),
        (
            "inline >= 0.97x baseline",
            ratio(ClientKind::Inline),
            0.97,
            true,
        ),
        (
            "inline-tws >= 1.05x baseline",
            ratio(ClientKind::InlineTokioWebsockets),
            1.05,
            true,
        ),
        (
            "best-tws >= 2.0x baseline",
            ratio(ClientKind::BestTokioWebsockets),
            2.0,
            true,
        ),
        (
            "seed-style >= 0.7x baseline",
            ratio(ClientKind::SeedStyle),
            0.7,
            true,
        ),
        (
            "inline-gzip >= 1.0x baseline-gzip",
            ratio(ClientKind::InlineGzip),
            1.0,
            true,
        ),
        (
            "classified-gzip >= 1.3x baseline-gzip",
            ratio(ClientKind::ClassifiedGzip),
            1.3,
            true,
        ),
        (
            "lanes p99 <= 1.5x baseline p99 (worst lane client)",
            lanes_p99_ratio,
            1.5,
            false,
        ),
        (
            "inline p99 <= 1.1x baseline p99",
            inline_p99_ratio,
            1.1,
            false,
        ),
        (
            "library allocations <= 1 per message (worst plain-feed client)",
            allocs,
            1.0,
            false,
        ),
        (
            "bounded peak RSS <= 32 MiB",
            bounded_mib.unwrap_or(f64::NAN),
            32.0,
            false,
        ),
        (
            "unbounded peak RSS <= 256 MiB",
            unbounded_mib.unwrap_or(f64::NAN),
            256.0,
            false,
        ),
    ];
    let _ = writeln!(out, "\ntargets");
    for (name, value, bound, at_least) in targets {
        let holds = if at_least {
            value >= bound
        } else {
            value <= bound
        };
        let verdict = if value.is_nan() {
            "not measured"
        } else if holds {
            "holds"
        } else {
            "MISSED"
        };
        let _ = writeln!(out, "  {name:<62} {value:>8.2}  {verdict}");
    }
    let _ = write!(
        out,
        "RESULT classified_ratio={:.3} best_ratio={:.3} seed_style_ratio={:.3} inline_ratio={:.3} \
         p99_ratio={:.3} inline_p99_ratio={:.3} allocs_per_msg={:.3} bounded_peak_rss_mib={:.1} \
         unbounded_peak_rss_mib={:.1} gzip_ratio={:.3} gzip_lanes_ratio={:.3} \
         gzip_allocs_per_msg={:.3} inline_tws_ratio={:.3} best_tws_ratio={:.3} \
         inline_soketto_ratio={:.3} best_soketto_ratio={:.3}",
        ratio(ClientKind::Classified),
        ratio(ClientKind::Best),
        ratio(ClientKind::SeedStyle),
        ratio(ClientKind::Inline),
        lanes_p99_ratio,
        inline_p99_ratio,
        allocs,
        bounded_mib.unwrap_or(f64::NAN),
        unbounded_mib.unwrap_or(f64::NAN),
        ratio(ClientKind::InlineGzip),
        ratio(ClientKind::ClassifiedGzip),
        gzip_allocs,
        ratio(ClientKind::InlineTokioWebsockets),
        ratio(ClientKind::BestTokioWebsockets),
        ratio(ClientKind::InlineSoketto),
        ratio(ClientKind::BestSoketto),
    );
    out
}
