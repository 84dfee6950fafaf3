//! The bench itself (the parent process): starts the server, runs every
//! client again and again, each in its own process, checks each run against
//! what the server says it sent, and hands the figures to the report. The
//! gzip feed's clients take part in the blast and allocation runs; the paced
//! runs are the plain feed's (see [`crate::gzip`]).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::child::{ServerProcess, run_to_end};
use crate::cli::Options;
use crate::clients::{ClientKind, Job, RunReport};
use crate::machine;
use crate::report::{self, Figures};

/// Capacity of each lane in the bounded memory run.
pub(crate) const BOUNDED_CAPACITY: usize = 1024;

/// Runs `job` and checks it against the server's own record.
fn run_job(server: &ServerProcess, job: Job) -> Result<RunReport, String> {
    let name = job.kind.name();
    let limit = Duration::from_secs(
        120 + job.messages / 20_000 + job.messages.checked_div(job.rate).unwrap_or(0),
    );
    let (status, out) = run_to_end(&job.args(server.port), limit)?;
    if !status.success() {
        // Its error is already on stderr; the server's line for the
        // connection (if it got that far) is stale now: skip it.
        let _ = server.sent();
        return Err(format!("client {name} failed ({status})"));
    }
    let report: RunReport = out
        .lines()
        .find_map(|line| line.strip_prefix("REPORT "))
        .ok_or_else(|| format!("client {name} printed no report"))
        .and_then(|json| serde_json::from_str(json).map_err(|e| format!("report: {e}")))?;
    let (sent, checksum) = server.sent()?;
    if sent != report.messages || checksum != report.checksum {
        return Err(format!(
            "client {name} handled {} messages (checksum {:#x}); the server sent {sent} \
             (checksum {checksum:#x})",
            report.messages, report.checksum
        ));
    }
    Ok(report)
}

/// Runs the whole bench and returns its figures.
pub(crate) fn run(options: &Options) -> Result<Figures, String> {
    let load = machine::load_average();
    let stalls = machine::probe_stalls(Duration::from_secs(1));
    let wakeups = machine::probe_wakeups(5_000);
    println!("machine: load {load}; {stalls}; {wakeups}");
    println!("allocator: {}", crate::alloc_count::ALLOCATOR);
    let server = ServerProcess::start(options.messages)?;
    let mut figures = Figures::new(options, load, stalls, wakeups);
    let paced_messages = options.messages.min(options.rate.saturating_mul(2));
    println!(
        "server on 127.0.0.1:{} (mean payload bytes: {}); {} clients, {} messages a run, \
         {} runs each, alternating (paced runs: the {} plain-feed clients)",
        server.port,
        server.sizes,
        ClientKind::ALL.len(),
        options.messages,
        options.runs,
        ClientKind::PLAIN.len()
    );

    let mut throughput: BTreeMap<ClientKind, Vec<RunReport>> = BTreeMap::new();
    for run in 1..=options.runs {
        for kind in ClientKind::ALL {
            let report = run_job(&server, Job::blast(kind, options.messages, options))?;
            println!("{}", report::blast_line(run, options.runs, &report));
            throughput.entry(kind).or_default().push(report);
        }
    }
    figures.throughput = throughput;

    if options.rate > 0 {
        let mut paced: BTreeMap<ClientKind, Vec<RunReport>> = BTreeMap::new();
        for run in 1..=options.runs {
            for kind in ClientKind::PLAIN {
                let job = Job {
                    rate: options.rate,
                    ..Job::blast(kind, paced_messages, options)
                };
                let report = run_job(&server, job)?;
                println!(
                    "{}",
                    report::paced_line(run, options.runs, options.rate, &report)
                );
                paced.entry(kind).or_default().push(report);
            }
        }
        figures.paced = paced;
        figures.paced_messages = paced_messages;
    }

    for kind in ClientKind::ALL {
        let job = Job {
            count_allocs: true,
            ..Job::blast(kind, options.messages, options)
        };
        let report = run_job(&server, job)?;
        println!("{}", report::alloc_line(&report));
        figures.allocations.insert(kind, report);
    }

    let memory_messages = options.messages.saturating_mul(2);
    for bounded in [Some(BOUNDED_CAPACITY), None] {
        let job = Job {
            bounded,
            ..Job::blast(ClientKind::Classified, memory_messages, options)
        };
        let report = run_job(&server, job)?;
        println!("{}", report::memory_line(bounded, &report));
        match bounded {
            Some(_) => figures.bounded = Some(report),
            None => figures.unbounded = Some(report),
        }
    }
    figures.memory_messages = memory_messages;
    figures.load_after = machine::load_average();
    figures.stalls_after = machine::probe_stalls(Duration::from_secs(1));
    figures.wakeups_after = machine::probe_wakeups(5_000);
    Ok(figures)
}
