//! `hypersockets replay`: a recording played through the watch client
//! (with the venue profile it was recorded with, if any), shown in the
//! same view, at the original pace or as fast as it goes; then what went
//! through.

use std::path::Path;
use std::time::Duration;

use hypersockets::{BoxError, ExponentialBackoff, Integrity, Replay, ReplayPace, ReplaySummary};

use crate::figures::count_text;
use crate::monitor::{self, Outcome, Settings};
use crate::watch::{self, Build, Target};

/// The URL the replayed client is built with: never connected to.
const NOWHERE: &str = "ws://replay.invalid/";

/// How a replay went: the view's end, and what the replay says.
#[derive(Debug)]
pub(crate) struct Replayed {
    /// How the view ended.
    pub(crate) outcome: Outcome,
    /// What went through.
    pub(crate) summary: ReplaySummary,
}

impl Replayed {
    /// The closing line.
    pub(crate) fn summary(&self, file: &Path) -> String {
        let summary = &self.summary;
        let seconds = summary.elapsed.as_secs_f64();
        let rate = if seconds > 0.0 {
            summary.frames as f64 / seconds
        } else {
            0.0
        };
        let mut line = format!(
            "hypersockets: replayed {} frames over {} connection(s) from {} in {seconds:.1}s ({:.0}/s), {} messages handled",
            count_text(summary.frames),
            summary.connections,
            file.display(),
            rate,
            count_text(self.outcome.last.messages),
        );
        if summary.unrecorded > 0 {
            line.push_str(&format!(
                "; {} records lost when recording",
                summary.unrecorded
            ));
        }
        if let Some(error) = &summary.recording_error {
            line.push_str(&format!("; the file stops early: {error}"));
        }
        line
    }
}

/// Replays `file` through the client of `profile` (or a pass-through
/// one), shown as `watch` shows a feed.
///
/// # Errors
///
/// When the file is no recording, the client cannot be built, or the
/// view cannot be shown.
pub(crate) async fn run(
    file: &Path,
    profile: Option<String>,
    fast: bool,
    plain: bool,
    duration: Option<Duration>,
) -> Result<Replayed, BoxError> {
    let pace = if fast {
        ReplayPace::Fast
    } else {
        ReplayPace::Original
    };
    let replay = Replay::open(file)
        .map_err(|error| format!("cannot replay {}: {error}", file.display()))?
        .pace(pace);
    let target = Target {
        url: Some(NOWHERE.to_owned()),
        profile,
        subscribe: Vec::new(),
        reconnect: ExponentialBackoff::default(),
        integrity: Integrity::default(),
    };
    let mut watched = watch::build(&target, Build::Replay(replay))?;
    let run = watched
        .replay
        .take()
        .ok_or("the replay's client was built without its replay")?;
    let client = watched.client.clone();
    let events = client.events();
    let playing = tokio::spawn(run.run());
    let settings = Settings {
        title: format!("replay of {}", file.display()),
        plain,
        duration,
    };
    let outcome = monitor::show(&client, events, &watched.counts, &watched.names, &settings).await;
    // Stopped early (quit, the duration): the replay ends where it is.
    client.close().await?;
    let summary = playing.await??;
    Ok(Replayed {
        outcome: outcome?,
        summary,
    })
}
