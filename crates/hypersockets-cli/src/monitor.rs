//! Showing a client: sampling its figures every second, collecting its
//! events, and handing both to the full-screen view or the plain output,
//! until the user quits, the duration is up or the client stops. Any
//! command that has a [`WebSocketClient`] shows it this way.

use std::io::IsTerminal;
use std::time::Duration;

use hypersockets::{
    BoxError, ClientEvent, ConnectionState, EventStream, EventStreamError, WebSocketClient,
};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use crate::counts::StreamCounts;
use crate::events::{EventLine, RecentEvents, StreamNames, describe};
use crate::figures::{Figures, Sample};
use crate::plain::{self, Plain};
use crate::view::{FullScreen, Request, Screen};

/// How often the figures are sampled (and the rates measured over).
const EVERY: Duration = Duration::from_secs(1);

/// How to show a client.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    /// What is watched, for the view's title.
    pub(crate) title: String,
    /// Lines on stdout rather than the full-screen view (which is also
    /// what a stdout that is not a terminal gets).
    pub(crate) plain: bool,
    /// How long to show it; `None`: until the user quits.
    pub(crate) duration: Option<Duration>,
}

/// Why the showing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The user quit (`q`, Ctrl-C).
    Quit,
    /// The process was asked to end (SIGTERM, SIGHUP).
    Terminated,
    /// The duration was up.
    Duration,
    /// The client stopped by itself: it gave up, or was closed.
    ClientStopped,
    /// The output went away (a closed pipe, a lost terminal).
    OutputClosed,
}

impl Ended {
    /// Why, in a few words.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Self::Quit => "quit",
            Self::Terminated => "terminated",
            Self::Duration => "duration reached",
            Self::ClientStopped => "client stopped",
            Self::OutputClosed => "output closed",
        }
    }
}

/// How the showing ended, and the last figures.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    /// Why it ended.
    pub(crate) ended: Ended,
    /// The figures at the end.
    pub(crate) last: Figures,
    /// The last events, oldest first.
    pub(crate) events: Vec<EventLine>,
}

impl Outcome {
    /// One line saying how it went, for after the view.
    pub(crate) fn summary(&self) -> String {
        let last = &self.last;
        format!(
            "hypersockets: {} after {:.1}s: {} messages, {} reconnect(s), {} stream(s)",
            self.ended.reason(),
            last.at.as_secs_f64(),
            last.messages,
            last.reconnects,
            last.rows
                .iter()
                .filter(|row| !row.name.starts_with('('))
                .count(),
        )
    }
}

/// Where the figures go.
enum Output {
    Full(FullScreen),
    Plain(Plain),
}

impl Output {
    async fn start(
        plain: bool,
        requests: mpsc::UnboundedSender<Request>,
    ) -> Result<Self, BoxError> {
        if plain || !std::io::stdout().is_terminal() {
            return Ok(Self::Plain(Plain::start(requests)?));
        }
        FullScreen::start(requests)
            .await
            .map(Self::Full)
            .map_err(|error| {
                format!("cannot use the terminal for the full-screen view ({error}); try --plain")
                    .into()
            })
    }

    fn figures(&self, title: &str, figures: &Figures, events: &RecentEvents) {
        match self {
            Self::Full(view) => view.show(Screen {
                title: title.to_owned(),
                figures: figures.clone(),
                events: events.lines(),
            }),
            Self::Plain(out) => out.write(plain::figures_line(figures)),
        }
    }

    fn event(&self, title: &str, figures: &Figures, events: &RecentEvents, line: &EventLine) {
        match self {
            Self::Full(_) => self.figures(title, figures, events),
            Self::Plain(out) => out.write(plain::event_line(line)),
        }
    }

    /// Ends the output thread (restoring the terminal), off the workers.
    async fn finish(self) -> Result<(), BoxError> {
        tokio::task::spawn_blocking(move || match self {
            Self::Full(view) => view.finish(),
            Self::Plain(out) => {
                out.finish();
                Ok(())
            }
        })
        .await?
        .map_err(|error| format!("restoring the terminal: {error}").into())
    }
}

/// Shows `client` (its figures, the stream counts of its handlers, the
/// `events` from its [`events`](WebSocketClient::events) stream) until the
/// user quits, `settings.duration` is up or the client stops. The client
/// is left as it is: connecting it and closing it are the caller's.
///
/// # Errors
///
/// When the output cannot be set up (no terminal for the full-screen
/// view) or the terminal cannot be restored.
pub(crate) async fn show(
    client: &WebSocketClient,
    mut events: EventStream,
    counts: &StreamCounts,
    names: &StreamNames,
    settings: &Settings,
) -> Result<Outcome, BoxError> {
    let start = Instant::now();
    let sample = || Sample {
        at: start.elapsed(),
        state: client.state(),
        metrics: client.metrics(),
        streams: counts.snapshot(),
    };
    let (requests, mut requested) = mpsc::unbounded_channel();
    let output = Output::start(settings.plain, requests).await?;
    let title = settings.title.as_str();

    let mut recent = RecentEvents::default();
    let mut previous = sample();
    let mut figures = Figures::between(None, &previous);
    output.figures(title, &figures, &recent);

    let mut ticks = tokio::time::interval_at(start + EVERY, EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = settings.duration.map(|duration| start + duration);
    let until_deadline = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until_deadline);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let terminated = terminated();
    tokio::pin!(terminated);
    // Off when no handler for Ctrl-C could be installed.
    let mut ctrl_c_armed = true;
    let mut events_open = true;

    let ended = loop {
        tokio::select! {
            _ = ticks.tick() => {
                let now = sample();
                figures = Figures::between(Some(&previous), &now);
                previous = now;
                output.figures(title, &figures, &recent);
                if figures.state == ConnectionState::ShuttingDown {
                    break Ended::ClientStopped;
                }
            }
            event = events.recv(), if events_open => {
                let text = match &event {
                    Ok(event) => describe(event, names),
                    Err(EventStreamError::Lagged(skipped)) => format!("({skipped} events missed)"),
                    Err(_) => {
                        events_open = false;
                        continue;
                    }
                };
                let line = EventLine { at: start.elapsed(), text };
                recent.push(line.clone());
                output.event(title, &figures, &recent, &line);
                if matches!(event, Ok(ClientEvent::ShutDown)) {
                    break Ended::ClientStopped;
                }
            }
            request = requested.recv() => match request {
                Some(Request::Quit) => break Ended::Quit,
                Some(Request::Failed) | None => break Ended::OutputClosed,
            },
            signal = &mut ctrl_c, if ctrl_c_armed => {
                if signal.is_ok() {
                    break Ended::Quit;
                }
                ctrl_c_armed = false;
            }
            () = &mut terminated => break Ended::Terminated,
            () = &mut until_deadline => break Ended::Duration,
        }
    };
    // The last figures, up to the end: shown unless the last second's
    // are just as recent.
    let now = sample();
    let fresh = now.at.saturating_sub(previous.at) >= EVERY / 4;
    let last = if fresh {
        Figures::between(Some(&previous), &now)
    } else {
        figures
    };
    if fresh && ended != Ended::OutputClosed {
        output.figures(title, &last, &recent);
    }
    output.finish().await?;
    Ok(Outcome {
        ended,
        last,
        events: recent.lines(),
    })
}

/// Waits until Ctrl-C (`"quit"`), SIGTERM or SIGHUP (`"terminated"`), or
/// `duration` is up (`"duration reached"`): why a command that runs
/// until stopped stops.
pub(crate) async fn stopped(duration: Option<Duration>) -> &'static str {
    let until = async {
        match duration {
            Some(duration) => tokio::time::sleep(duration).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "quit",
        () = terminated() => "terminated",
        () = until => "duration reached",
    }
}

/// Resolves when the process is asked to end (SIGTERM, or SIGHUP: its
/// terminal closed), so that the terminal is restored then too; never
/// where there are no such signals, or they cannot be listened to.
pub(crate) async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let (Ok(mut term), Ok(mut hangup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            tokio::select! {
                _ = term.recv() => return,
                _ = hangup.recv() => return,
            }
        }
    }
    std::future::pending::<()>().await;
}
