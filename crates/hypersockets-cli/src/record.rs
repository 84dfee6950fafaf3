//! `hypersockets record`: the watch client, recording everything it
//! receives to a file (`Recorder`), with a progress line a second
//! (messages, bytes written, elapsed) until Ctrl-C, SIGTERM or the
//! duration; then the file is finished and the totals printed.

use std::path::Path;
use std::time::Duration;

use hypersockets::{BoxError, ConnectionState, Recorder, RecordingStats};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::figures::{bytes_text, count_text, state_name};
use crate::monitor::stopped;
use crate::plain::Plain;
use crate::watch::{self, Build, Target};

/// How a recording ended.
#[derive(Debug)]
pub(crate) struct Recorded {
    /// Why it stopped.
    pub(crate) reason: &'static str,
    /// What the file holds.
    pub(crate) stats: RecordingStats,
    /// How long it recorded.
    pub(crate) elapsed: Duration,
}

impl Recorded {
    /// The closing line.
    pub(crate) fn summary(&self, out: &Path) -> String {
        format!(
            "hypersockets: recorded {} frames over {} connection(s), {} to {} in {:.1}s ({}); {} lost",
            count_text(self.stats.frames),
            self.stats.connections,
            bytes_text(self.stats.bytes),
            out.display(),
            self.elapsed.as_secs_f64(),
            self.reason,
            self.stats.lost,
        )
    }
}

/// The progress line.
fn progress(
    elapsed: Duration,
    state: ConnectionState,
    messages: u64,
    stats: RecordingStats,
) -> String {
    format!(
        "recording t={}s state={} msgs={} frames={} bytes={} lost={}",
        elapsed.as_secs(),
        state_name(state),
        messages,
        stats.frames,
        stats.bytes,
        stats.lost,
    )
}

/// Records `target` to `out` until stopped.
///
/// # Errors
///
/// When the file cannot be created or written, the client cannot be
/// built or gives up (a handshake refused for good).
pub(crate) async fn run(
    target: &Target,
    out: &Path,
    duration: Option<Duration>,
) -> Result<Recorded, BoxError> {
    let recorder = Recorder::create(out)
        .map_err(|error| format!("cannot record to {}: {error}", out.display()))?;
    let watched = watch::build(target, Build::Record(&recorder))?;
    let client = watched.client;
    let connecting = tokio::spawn({
        let client = client.clone();
        async move { client.connect().await }
    });
    let (failed, mut output_failed) = mpsc::unbounded_channel();
    let lines = Plain::start(failed)?;
    let start = Instant::now();
    let mut ticks =
        tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stop = stopped(duration);
    tokio::pin!(stop);
    let reason = loop {
        tokio::select! {
            _ = ticks.tick() => {
                let state = client.state();
                let messages = client.metrics().connection.messages_received;
                lines.write(progress(start.elapsed(), state, messages, recorder.stats()));
                if state == ConnectionState::ShuttingDown {
                    break "client stopped";
                }
            }
            reason = &mut stop => break reason,
            _ = output_failed.recv() => break "output closed",
        }
    };
    let elapsed = start.elapsed();
    let gave_up = if connecting.is_finished() {
        connecting.await.ok().and_then(Result::err)
    } else {
        connecting.abort();
        None
    };
    client.close().await?;
    // The recorder finishes once the client and every handle to it are gone.
    drop(client);
    let stats = recorder.finish().await?;
    tokio::task::spawn_blocking(move || lines.finish()).await?;
    if let Some(error) = gave_up {
        return Err(error.into());
    }
    Ok(Recorded {
        reason,
        stats,
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_has_messages_bytes_and_time() {
        let mut stats = RecordingStats::default();
        stats.frames = 1_200;
        stats.bytes = 345_678;
        let line = progress(
            Duration::from_millis(12_300),
            ConnectionState::Connected,
            1_180,
            stats,
        );
        assert_eq!(
            line,
            "recording t=12s state=connected msgs=1180 frames=1200 bytes=345678 lost=0"
        );
    }
}
