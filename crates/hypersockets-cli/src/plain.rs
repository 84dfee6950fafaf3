//! The plain output: one line of figures a second and one line per event,
//! on stdout, for logs and pipes:
//!
//! ```text
//! t=3s state=connected msgs=1234 rate=410/s p50=0.085ms p99=1.250ms max=3.000ms reconnects=0 queued=0 streams: btcusdt@trade=400/s ethusdt@trade=10/s
//! t=4.2s event: disconnected: stream ended
//! ```
//!
//! Written by a thread of its own, so that a pipe that is slow to read
//! never blocks a tokio worker.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use crate::events::EventLine;
use crate::figures::{Figures, state_name};
use crate::view::Request;

/// The line of figures.
pub(crate) fn figures_line(figures: &Figures) -> String {
    let latency = &figures.latency;
    let ms = |duration: Duration| {
        if latency.samples == 0 {
            "-".to_owned()
        } else {
            format!("{:.3}ms", duration.as_secs_f64() * 1e3)
        }
    };
    let rate =
        |rate: Option<f64>| rate.map_or_else(|| "-".to_owned(), |rate| format!("{rate:.0}/s"));
    let mut line = format!(
        "t={}s state={} msgs={} rate={} p50={} p99={} max={} reconnects={} queued={}",
        figures.at.as_secs_f64().round(),
        state_name(figures.state).replace(' ', "-"),
        figures.messages,
        rate(figures.rate),
        ms(latency.p50),
        ms(latency.p99),
        ms(latency.max),
        figures.reconnects,
        figures.queued,
    );
    if !figures.rows.is_empty() {
        line.push_str(" streams:");
        for row in &figures.rows {
            let _ = write!(line, " {}={}", row.name.replace(' ', "_"), rate(row.rate));
        }
    }
    line
}

/// The line of an event.
pub(crate) fn event_line(event: &EventLine) -> String {
    format!("t={:.1}s event: {}", event.at.as_secs_f64(), event.text)
}

/// The thread that writes the lines.
#[derive(Debug)]
pub(crate) struct Plain {
    lines: mpsc::Sender<String>,
    thread: JoinHandle<()>,
}

impl Plain {
    /// Starts the writer; `requests` gets [`Request::Failed`] when stdout
    /// is closed (a pipe's reader went away).
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub(crate) fn start(requests: UnboundedSender<Request>) -> io::Result<Self> {
        let (lines, receiver) = mpsc::channel::<String>();
        let thread = std::thread::Builder::new()
            .name("hypersockets-plain".to_owned())
            .spawn(move || {
                let stdout = io::stdout();
                for line in receiver {
                    let mut out = stdout.lock();
                    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                        let _ = requests.send(Request::Failed);
                        return;
                    }
                }
            })?;
        Ok(Self { lines, thread })
    }

    /// Writes `line` as soon as the thread gets to it.
    pub(crate) fn write(&self, line: String) {
        // A thread that ended has said why through its requests.
        let _ = self.lines.send(line);
    }

    /// Writes what is left and ends the thread.
    pub(crate) fn finish(self) {
        drop(self.lines);
        let _ = self.thread.join();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hypersockets::{ClientMetrics, ConnectionState};

    use super::*;
    use crate::figures::Sample;

    #[test]
    fn one_line_of_figures() {
        let mut metrics = ClientMetrics::default();
        metrics.connection.messages_received = 1_234;
        metrics.router.latency.read_to_done.samples = 10;
        metrics.router.latency.read_to_done.p50 = Duration::from_micros(85);
        metrics.router.latency.read_to_done.p99 = Duration::from_micros(1_250);
        metrics.router.latency.read_to_done.max = Duration::from_millis(3);
        let before = Sample {
            at: Duration::from_secs(2),
            state: ConnectionState::Connected,
            metrics: ClientMetrics::default(),
            streams: BTreeMap::new(),
        };
        let now = Sample {
            at: Duration::from_millis(3_002),
            state: ConnectionState::Connected,
            metrics,
            streams: BTreeMap::from([("btcusdt@trade".to_owned(), 1_000)]),
        };
        let line = figures_line(&Figures::between(Some(&before), &now));
        assert!(
            line.starts_with(
                "t=3s state=connected msgs=1234 rate=1232/s p50=0.085ms p99=1.250ms max=3.000ms \
                 reconnects=0 queued=0 streams: btcusdt@trade=998/s"
            ),
            "{line}"
        );
        let first = figures_line(&Figures::between(None, &before));
        assert!(
            first.starts_with("t=2s state=connected msgs=0 rate=- p50=- "),
            "{first}"
        );
    }

    #[test]
    fn one_line_per_event() {
        let line = event_line(&EventLine {
            at: Duration::from_millis(4_240),
            text: "disconnected: stream ended".to_owned(),
        });
        assert_eq!(line, "t=4.2s event: disconnected: stream ended");
    }
}
