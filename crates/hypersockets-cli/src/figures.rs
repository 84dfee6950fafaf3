//! What the view shows, computed from two samples of a client a second
//! apart: rates from the counters' differences, queues and latency
//! percentiles as they are now. Pure: no clock, no client, so that it is
//! tested on made-up samples and reused by any command that shows a
//! client (watch, demo, and later record and replay).

use std::collections::BTreeMap;
use std::time::Duration;

use hypersockets::{ClientMetrics, ConnectionState, LaneMetricsSnapshot, Percentiles};

/// A client's figures at one moment.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// Time since the view started.
    pub(crate) at: Duration,
    /// The connection state.
    pub(crate) state: ConnectionState,
    /// The client's counters and every lane.
    pub(crate) metrics: ClientMetrics,
    /// Messages handled per stream (see [`StreamCounts`](crate::counts::StreamCounts)).
    pub(crate) streams: BTreeMap<String, u64>,
}

/// A lane's queue and latency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LaneFigures {
    /// Messages waiting in its queue now.
    pub(crate) queued: u64,
    /// The deepest its queue has been.
    pub(crate) high_water: u64,
    /// Messages it dropped (overflow policy or an abort).
    pub(crate) dropped: u64,
    /// Socket read → handler done, over its timed messages since it began.
    pub(crate) latency: Percentiles,
}

impl LaneFigures {
    fn of(lane: &LaneMetricsSnapshot) -> Self {
        Self {
            queued: lane.depth,
            high_water: lane.high_water,
            dropped: lane.dropped,
            latency: lane.latency.read_to_done,
        }
    }
}

/// One row of the streams table: a stream (with its lane's figures when
/// the lane is its alone), or a lane that is no single stream's (the
/// fallback, a router's single lane).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Row {
    /// The stream's name, or the lane's in brackets: `(other)`, `(all)`.
    pub(crate) name: String,
    /// Messages per second over the last interval; `None` at the first sample.
    pub(crate) rate: Option<f64>,
    /// Messages since the start.
    pub(crate) total: u64,
    /// Its lane's figures, when the row has a lane of its own.
    pub(crate) lane: Option<LaneFigures>,
}

/// Everything the view shows besides the events.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Figures {
    /// Time since the view started.
    pub(crate) at: Duration,
    /// The connection state.
    pub(crate) state: ConnectionState,
    /// Messages received on every connection so far.
    pub(crate) messages: u64,
    /// Messages received per second over the last interval.
    pub(crate) rate: Option<f64>,
    /// Bytes received so far.
    pub(crate) bytes: u64,
    /// Successful reconnections so far.
    pub(crate) reconnects: u64,
    /// Messages waiting in every lane's queue now.
    pub(crate) queued: u64,
    /// Bytes waiting in the queues now (as the memory budget counts them).
    pub(crate) queued_bytes: u64,
    /// Socket read → handler done, every lane together, since the start.
    pub(crate) latency: Percentiles,
    /// Parse errors and failed handler calls.
    pub(crate) errors: u64,
    /// Messages dropped by lanes.
    pub(crate) dropped: u64,
    /// Gaps found in numbered streams.
    pub(crate) gaps: u64,
    /// The streams, by name, then the lanes that are no single stream's.
    pub(crate) rows: Vec<Row>,
}

impl Figures {
    /// The figures at `now`, with rates over the time since `previous`
    /// (none without it, or when no time passed).
    pub(crate) fn between(previous: Option<&Sample>, now: &Sample) -> Self {
        let seconds = previous
            .map(|previous| now.at.saturating_sub(previous.at).as_secs_f64())
            .filter(|seconds| *seconds > 0.0);
        let rate = |before: Option<u64>, after: u64| {
            seconds.map(|seconds| after.saturating_sub(before.unwrap_or(0)) as f64 / seconds)
        };
        let connection = &now.metrics.connection;
        let router = &now.metrics.router;
        let lane_before = |key: &str| {
            previous
                .and_then(|previous| previous.metrics.router.lane(key))
                .map(|lane| lane.delivered)
        };

        // Streams first, each with its own lane's figures if it has one.
        let mut lanes_left: Vec<&LaneMetricsSnapshot> = router.lanes.iter().collect();
        let mut rows = Vec::with_capacity(now.streams.len() + lanes_left.len());
        for (name, &total) in &now.streams {
            let own = lanes_left
                .iter()
                .position(|lane| lane_name(&lane.key) == *name)
                .map(|index| lanes_left.remove(index));
            let before = previous.map(|previous| previous.streams.get(name).copied().unwrap_or(0));
            rows.push(Row {
                name: name.clone(),
                rate: rate(before, total),
                total,
                lane: own.map(LaneFigures::of),
            });
        }
        // Then the lanes no stream has to itself.
        for lane in lanes_left {
            rows.push(Row {
                name: lane_name(&lane.key),
                rate: rate(lane_before(&lane.key), lane.delivered),
                total: lane.delivered,
                lane: Some(LaneFigures::of(lane)),
            });
        }

        let messages_before =
            previous.map(|previous| previous.metrics.connection.messages_received);
        Self {
            at: now.at,
            state: now.state,
            messages: connection.messages_received,
            rate: rate(messages_before, connection.messages_received),
            bytes: connection.bytes_received,
            reconnects: connection.reconnects,
            queued: router.lanes.iter().map(|lane| lane.depth).sum(),
            queued_bytes: router.queued_bytes,
            latency: router.latency.read_to_done,
            errors: router
                .all_parse_errors()
                .saturating_add(router.handler_failures()),
            dropped: router.lanes.iter().map(|lane| lane.dropped).sum(),
            gaps: connection.stream_gaps,
            rows,
        }
    }
}

/// A lane's name for a row, from its `Debug`-formatted route key: a
/// string key unquoted (the stream it is named after), the fallback
/// `(other)`, `()` (a router's only lane) `(all)`.
pub(crate) fn lane_name(key: &str) -> String {
    match key {
        "fallback" => "(other)".to_owned(),
        "()" => "(all)".to_owned(),
        "\"\"" => "(control)".to_owned(),
        quoted if quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"') => quoted
            [1..quoted.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\"),
        other => format!("({other})"),
    }
}

/// A connection state in one lowercase word.
pub(crate) fn state_name(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Disconnected => "disconnected",
        ConnectionState::Connecting => "connecting",
        ConnectionState::Connected => "connected",
        ConnectionState::Reconnecting => "reconnecting",
        ConnectionState::ShuttingDown => "shut down",
    }
}

/// A rate for people: `0/s`, `412/s`, `12.3k/s`, `1.25M/s`; `-` when unknown.
pub(crate) fn rate_text(rate: Option<f64>) -> String {
    match rate {
        None => "-".to_owned(),
        Some(rate) if rate < 9_999.5 => format!("{rate:.0}/s"),
        Some(rate) if rate < 999_950.0 => format!("{:.1}k/s", rate / 1e3),
        Some(rate) => format!("{:.2}M/s", rate / 1e6),
    }
}

/// A latency for people, three significant digits: `850ns`, `12.3µs`,
/// `1.25ms`, `2.00s`; `-` when nothing was timed.
pub(crate) fn latency_text(latency: Duration, samples: u64) -> String {
    if samples == 0 {
        return "-".to_owned();
    }
    let ns = latency.as_nanos() as f64;
    let (value, unit) = if ns < 1e3 {
        return format!("{ns:.0}ns");
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if value < 10.0 {
        format!("{value:.2}{unit}")
    } else if value < 100.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

/// A count for people, with thousands separators: `1,234,567`.
pub(crate) fn count_text(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Bytes for people: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`.
pub(crate) fn bytes_text(bytes: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(key: &str, delivered: u64, depth: u64, p50_us: u64) -> LaneMetricsSnapshot {
        let mut lane = LaneMetricsSnapshot::default();
        lane.key = key.to_owned();
        lane.delivered = delivered;
        lane.enqueued = delivered + depth;
        lane.depth = depth;
        lane.high_water = depth + 1;
        lane.latency.read_to_done.samples = delivered;
        lane.latency.read_to_done.p50 = Duration::from_micros(p50_us);
        lane.latency.read_to_done.p99 = Duration::from_micros(p50_us * 10);
        lane.latency.read_to_done.max = Duration::from_micros(p50_us * 20);
        lane
    }

    fn sample(
        at_ms: u64,
        received: u64,
        streams: &[(&str, u64)],
        lanes: Vec<LaneMetricsSnapshot>,
    ) -> Sample {
        let mut metrics = ClientMetrics::default();
        metrics.connection.messages_received = received;
        metrics.connection.reconnects = at_ms / 1000;
        metrics.router.queued_bytes = 4096;
        metrics.router.lanes = lanes;
        Sample {
            at: Duration::from_millis(at_ms),
            state: ConnectionState::Connected,
            metrics,
            streams: streams
                .iter()
                .map(|(name, count)| ((*name).to_owned(), *count))
                .collect(),
        }
    }

    #[test]
    fn rates_are_differences_over_the_time_between_samples() {
        let before = sample(
            1_000,
            1_000,
            &[("btcusdt@trade", 600), ("ethusdt@trade", 300)],
            vec![
                lane("\"btcusdt@trade\"", 600, 0, 100),
                lane("\"ethusdt@trade\"", 300, 0, 100),
                lane("fallback", 100, 0, 50),
            ],
        );
        let now = sample(
            3_000,
            2_000,
            &[
                ("btcusdt@trade", 1_400),
                ("ethusdt@trade", 400),
                ("solusdt@trade", 20),
            ],
            vec![
                lane("\"btcusdt@trade\"", 1_400, 3, 120),
                lane("\"ethusdt@trade\"", 400, 0, 110),
                lane("fallback", 180, 1, 60),
            ],
        );
        let figures = Figures::between(Some(&before), &now);
        assert_eq!(figures.messages, 2_000);
        assert_eq!(figures.rate, Some(500.0)); // 1,000 in 2 s
        assert_eq!(figures.reconnects, 3);
        assert_eq!(figures.queued, 4);
        assert_eq!(figures.queued_bytes, 4096);

        let names: Vec<&str> = figures.rows.iter().map(|row| row.name.as_str()).collect();
        assert_eq!(
            names,
            ["btcusdt@trade", "ethusdt@trade", "solusdt@trade", "(other)"]
        );
        let btc = &figures.rows[0];
        assert_eq!(btc.rate, Some(400.0));
        assert_eq!(btc.total, 1_400);
        let btc_lane = btc.lane.expect("its own lane");
        assert_eq!(btc_lane.queued, 3);
        assert_eq!(btc_lane.latency.p50, Duration::from_micros(120));
        assert_eq!(btc_lane.latency.p99, Duration::from_micros(1_200));
        assert_eq!(figures.rows[1].rate, Some(50.0));
        // A stream first seen since the last sample: from zero; it shares
        // the fallback lane, so no lane figures of its own.
        assert_eq!(figures.rows[2].rate, Some(10.0));
        assert_eq!(figures.rows[2].lane, None);
        // The fallback lane: its deliveries' rate, its queue.
        assert_eq!(figures.rows[3].rate, Some(40.0));
        assert_eq!(figures.rows[3].lane.map(|lane| lane.queued), Some(1));
    }

    #[test]
    fn no_rates_without_a_previous_sample_or_elapsed_time() {
        let now = sample(0, 10, &[("a", 10)], vec![lane("()", 10, 0, 5)]);
        let figures = Figures::between(None, &now);
        assert_eq!(figures.rate, None);
        assert!(figures.rows.iter().all(|row| row.rate.is_none()));
        let same_instant = Figures::between(Some(&now), &now);
        assert_eq!(same_instant.rate, None);
        assert_eq!(figures.rows[1].name, "(all)");
    }

    #[test]
    fn counters_that_went_down_give_zero_not_a_wrap() {
        let before = sample(1_000, 500, &[("a", 500)], Vec::new());
        let now = sample(2_000, 400, &[("a", 400)], Vec::new());
        let figures = Figures::between(Some(&before), &now);
        assert_eq!(figures.rate, Some(0.0));
        assert_eq!(figures.rows[0].rate, Some(0.0));
    }

    #[test]
    fn lane_names_unquote_string_keys() {
        assert_eq!(lane_name("\"btcusdt@trade\""), "btcusdt@trade");
        assert_eq!(lane_name("\"say \\\"hi\\\"\""), "say \"hi\"");
        assert_eq!(lane_name("fallback"), "(other)");
        assert_eq!(lane_name("()"), "(all)");
        assert_eq!(lane_name("\"\""), "(control)");
        assert_eq!(lane_name("Trades"), "(Trades)");
    }

    #[test]
    fn texts_for_people() {
        assert_eq!(rate_text(None), "-");
        assert_eq!(rate_text(Some(0.2)), "0/s");
        assert_eq!(rate_text(Some(412.4)), "412/s");
        assert_eq!(rate_text(Some(12_345.0)), "12.3k/s");
        assert_eq!(rate_text(Some(1_250_000.0)), "1.25M/s");
        assert_eq!(latency_text(Duration::from_micros(5), 0), "-");
        assert_eq!(latency_text(Duration::from_nanos(850), 1), "850ns");
        assert_eq!(latency_text(Duration::from_nanos(12_345), 1), "12.3µs");
        assert_eq!(latency_text(Duration::from_micros(1_250), 1), "1.25ms");
        assert_eq!(latency_text(Duration::from_millis(250), 1), "250ms");
        assert_eq!(latency_text(Duration::from_secs(2), 1), "2.00s");
        assert_eq!(count_text(0), "0");
        assert_eq!(count_text(999), "999");
        assert_eq!(count_text(1_234_567), "1,234,567");
        assert_eq!(bytes_text(512), "512 B");
        assert_eq!(bytes_text(1536), "1.5 KiB");
        assert_eq!(bytes_text(3 * 1024 * 1024), "3.0 MiB");
    }
}
