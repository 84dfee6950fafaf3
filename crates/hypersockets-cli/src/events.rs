//! The client's recent events, each described in one line.

use std::collections::{HashMap, VecDeque};
use std::error::Error;
use std::time::Duration;

use hypersockets::{ClientEvent, DisconnectReason, RotationCause, StaleCause, StreamId};

/// How many events the view keeps.
pub(crate) const KEEP: usize = 8;

/// One event, when it happened (since the view started) and what it was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EventLine {
    /// Time since the view started.
    pub(crate) at: Duration,
    /// The event in one line.
    pub(crate) text: String,
}

/// The last [`KEEP`] events, oldest first.
#[derive(Clone, Debug, Default)]
pub(crate) struct RecentEvents {
    lines: VecDeque<EventLine>,
}

/// Subscriptions confirmed together (a restore's) are listed in one line.
const SUBSCRIBED: &str = "subscribed: ";
/// How far apart confirmations still share a line, and its longest.
const SAME_BATCH: Duration = Duration::from_secs(1);
const LONGEST: usize = 160;

impl RecentEvents {
    /// Adds an event line, forgetting the oldest past [`KEEP`];
    /// subscriptions confirmed within a second of each other join the
    /// same line.
    pub(crate) fn push(&mut self, line: EventLine) {
        if let Some(topic) = line.text.strip_prefix(SUBSCRIBED)
            && let Some(last) = self.lines.back_mut()
            && last.text.starts_with(SUBSCRIBED)
            && line.at.saturating_sub(last.at) < SAME_BATCH
        {
            if last.text.len() < LONGEST {
                last.text.push_str(", ");
                last.text.push_str(topic);
            } else if !last.text.ends_with('…') {
                last.text.push_str(", …");
            }
            return;
        }
        if self.lines.len() == KEEP {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    /// The lines, oldest first.
    pub(crate) fn lines(&self) -> Vec<EventLine> {
        self.lines.iter().cloned().collect()
    }
}

/// Names streams in events (which carry only a [`StreamId`], a hash of
/// the topic) by the topics subscribed.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamNames {
    names: HashMap<StreamId, String>,
}

impl StreamNames {
    /// The names of these topics.
    pub(crate) fn of<'a>(topics: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            names: topics
                .into_iter()
                .map(|topic| (StreamId::of(&[topic]), topic.to_owned()))
                .collect(),
        }
    }

    fn name(&self, stream: StreamId) -> String {
        self.names
            .get(&stream)
            .cloned()
            .unwrap_or_else(|| format!("{:016x}", stream.get()))
    }
}

/// An error followed by its sources: `error: cause: cause`.
pub(crate) fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for error in std::iter::successors(Some(error), |&error| error.source()) {
        let text = error.to_string();
        // Some errors repeat their source's words in their own.
        if !parts.last().is_some_and(|last| last.ends_with(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// One line for an event.
pub(crate) fn describe(event: &ClientEvent, names: &StreamNames) -> String {
    match event {
        ClientEvent::Connected { reconnect: false } => "connected".to_owned(),
        ClientEvent::Connected { reconnect: true } => "reconnected".to_owned(),
        ClientEvent::Disconnected {
            reason: DisconnectReason::Error(error),
        } => format!("disconnected: {}", error_chain(&**error)),
        ClientEvent::Disconnected { reason } => format!("disconnected: {reason}"),
        ClientEvent::Reconnecting { attempt, delay } => {
            format!("reconnecting: attempt {attempt} in {delay:.1?}")
        }
        ClientEvent::Authenticated => "logged in".to_owned(),
        ClientEvent::AuthFailed { reason, fatal } => {
            format!(
                "login refused{}: {reason}",
                if *fatal { " (fatal)" } else { "" }
            )
        }
        ClientEvent::SubscriptionsRestored { count } => {
            format!("subscriptions sent: {count}")
        }
        ClientEvent::SubscriptionActive { id } => format!("{SUBSCRIBED}{id}"),
        ClientEvent::SubscriptionRejected { id, reason } => {
            format!("subscription refused: {id}: {reason}")
        }
        ClientEvent::SubscriptionTimedOut {
            id,
            attempt,
            retrying,
        } => format!(
            "subscription unanswered: {id} (attempt {attempt}{})",
            if *retrying { ", retrying" } else { "" }
        ),
        ClientEvent::HandlerPanicked { lane, message } => {
            format!("handler panicked in lane {lane}: {message}")
        }
        ClientEvent::CallbackPanicked { callback } => format!("{callback} panicked"),
        ClientEvent::Error(error) => format!("error: {}", error_chain(&**error)),
        ClientEvent::ShutDown => "shut down".to_owned(),
        ClientEvent::Rotating { cause } => match cause {
            RotationCause::Notice => "rotating: the venue announced a close".to_owned(),
            RotationCause::Age => "rotating: the connection nears its maximum age".to_owned(),
            other => format!("rotating: {other:?}"),
        },
        ClientEvent::Rotated { duplicates } => {
            format!("rotated ({duplicates} duplicate(s) delivered once)")
        }
        ClientEvent::StreamStale { stream, cause } => {
            let stream = names.name(*stream);
            match cause {
                StaleCause::Gap { last, .. } => format!(
                    "stream {stream} stale: {} missed after {last}",
                    cause.missed()
                ),
                StaleCause::Start => format!("stream {stream} waits for its snapshot"),
                StaleCause::Checksum => format!("stream {stream} stale: checksum mismatch"),
                StaleCause::Requested => format!("stream {stream} stale: resync asked"),
                other => format!("stream {stream} stale: {other:?}"),
            }
        }
        ClientEvent::StreamResynced { stream, replayed } => format!(
            "stream {} resynced ({replayed} buffered replayed)",
            names.name(*stream)
        ),
        ClientEvent::MemoryBudgetReached {
            queued_bytes,
            limit,
        } => format!("reading paused: {queued_bytes} bytes queued, budget {limit}"),
        ClientEvent::LaneAbandoned { lane } => format!("lane {lane} abandoned at shutdown"),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_events() {
        let mut recent = RecentEvents::default();
        for i in 0..KEEP as u64 + 3 {
            recent.push(EventLine {
                at: Duration::from_secs(i),
                text: format!("event {i}"),
            });
        }
        let lines = recent.lines();
        assert_eq!(lines.len(), KEEP);
        assert_eq!(lines[0].text, "event 3");
        assert_eq!(lines[KEEP - 1].text, format!("event {}", KEEP + 2));
    }

    #[test]
    fn subscriptions_confirmed_together_share_a_line() {
        let mut recent = RecentEvents::default();
        let names = StreamNames::default();
        let at = |ms: u64, event: &ClientEvent| EventLine {
            at: Duration::from_millis(ms),
            text: describe(event, &names),
        };
        let active = |id: &str| ClientEvent::SubscriptionActive { id: id.to_owned() };
        recent.push(at(0, &ClientEvent::Connected { reconnect: false }));
        recent.push(at(10, &active("a")));
        recent.push(at(20, &active("b")));
        recent.push(at(2_000, &active("c")));
        let texts: Vec<String> = recent.lines().into_iter().map(|line| line.text).collect();
        assert_eq!(texts, ["connected", "subscribed: a, b", "subscribed: c"]);
    }

    #[test]
    fn names_streams_by_their_topics() {
        let names = StreamNames::of(["btcusdt@depth"]);
        let stale = ClientEvent::StreamStale {
            stream: StreamId::of(&["btcusdt@depth"]),
            cause: StaleCause::Gap { last: 10, next: 14 },
        };
        assert_eq!(
            describe(&stale, &names),
            "stream btcusdt@depth stale: 3 missed after 10"
        );
        let unknown = ClientEvent::StreamResynced {
            stream: StreamId::of(&["other"]),
            replayed: 2,
        };
        assert!(describe(&unknown, &names).ends_with("resynced (2 buffered replayed)"));
    }

    #[test]
    fn describes_the_connection_s_life() {
        let names = StreamNames::default();
        assert_eq!(
            describe(&ClientEvent::Connected { reconnect: true }, &names),
            "reconnected"
        );
        assert_eq!(
            describe(
                &ClientEvent::Disconnected {
                    reason: DisconnectReason::StreamEnded
                },
                &names
            ),
            "disconnected: stream ended"
        );
        assert_eq!(
            describe(
                &ClientEvent::Reconnecting {
                    attempt: 2,
                    delay: Duration::from_millis(400)
                },
                &names
            ),
            "reconnecting: attempt 2 in 400.0ms"
        );
    }
}
