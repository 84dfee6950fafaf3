//! Short, printable excerpts of payloads for log lines, and the one place
//! parse failures are logged.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hypersockets_core::{ParseError, WsMessage};

const EXCERPT_BYTES: usize = 96;

/// The first bytes of a payload, lossily decoded, for logging a message that
/// could not be parsed without flooding the log.
pub(crate) fn excerpt(message: &WsMessage) -> Cow<'_, str> {
    let bytes = message.as_bytes();
    let cut = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let text = String::from_utf8_lossy(cut);
    if bytes.len() > EXCERPT_BYTES {
        Cow::Owned(format!("{text}…"))
    } else {
        text
    }
}

/// The message of a caught panic, when it carried a string.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

/// Logs a parse failure (`lane` is `None` on the reader): at most one line
/// per second per process, with how many were left out since; the WARN
/// line never carries the payload (a private channel's data, a flood of
/// lines), its excerpt goes to DEBUG only. Every failure is counted in the
/// metrics all the same.
pub(crate) fn log_parse_failure(lane: Option<&str>, error: &ParseError, message: &WsMessage) {
    static LIMIT: LogLimit = LogLimit::new();
    let Some(left_out) = LIMIT.allow() else {
        return;
    };
    let lane = lane.unwrap_or("(reader)");
    tracing::warn!(lane, %error, left_out, "parse failed");
    tracing::debug!(lane, payload = %excerpt(message), "payload that failed to parse");
}

/// Lets one log line through per interval, and counts the others.
struct LogLimit {
    /// Milliseconds since `START` before which lines are left out.
    next: AtomicU64,
    left_out: AtomicU64,
}

impl LogLimit {
    const INTERVAL_MS: u64 = 1_000;

    const fn new() -> Self {
        Self {
            next: AtomicU64::new(0),
            left_out: AtomicU64::new(0),
        }
    }

    /// `Some(lines left out since the last one)` when a line may go out now.
    fn allow(&self) -> Option<u64> {
        static START: OnceLock<Instant> = OnceLock::new();
        let now = u64::try_from(START.get_or_init(Instant::now).elapsed().as_millis())
            .unwrap_or(u64::MAX);
        let next = self.next.load(Ordering::Relaxed);
        if now >= next
            && self
                .next
                .compare_exchange(
                    next,
                    now.saturating_add(Self::INTERVAL_MS),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            Some(self.left_out.swap(0, Ordering::Relaxed))
        } else {
            self.left_out.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_interval_and_a_count_of_the_rest() {
        let limit = LogLimit::new();
        assert_eq!(limit.allow(), Some(0));
        for _ in 0..1_000 {
            assert_eq!(limit.allow(), None);
        }
        // The next interval's line reports the thousand left out.
        limit.next.store(0, Ordering::Relaxed);
        assert_eq!(limit.allow(), Some(1_000));
    }
}
