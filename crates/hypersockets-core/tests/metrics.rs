//! Connection metrics: every counter, byte totals, concurrent updates and
//! aggregation of snapshots.

use std::sync::Barrier;
use std::thread;

use hypersockets_core::{AtomicMetrics, MetricsSnapshot};

#[test]
fn new_and_default_start_at_zero() {
    assert_eq!(AtomicMetrics::new().snapshot(), MetricsSnapshot::default());
    assert_eq!(
        AtomicMetrics::default().snapshot(),
        MetricsSnapshot::default()
    );
}

#[test]
fn each_increment_moves_only_its_own_counter() {
    type Inc = fn(&AtomicMetrics);
    type Get = fn(&MetricsSnapshot) -> u64;
    let counters: [(&str, Inc, Get); 6] = [
        ("pings_answered", AtomicMetrics::inc_pings_answered, |s| {
            s.pings_answered
        }),
        ("parse_errors", AtomicMetrics::inc_parse_errors, |s| {
            s.parse_errors
        }),
        ("handler_errors", AtomicMetrics::inc_handler_errors, |s| {
            s.handler_errors
        }),
        (
            "unrouted_messages",
            AtomicMetrics::inc_unrouted_messages,
            |s| s.unrouted_messages,
        ),
        ("reconnects", AtomicMetrics::inc_reconnects, |s| {
            s.reconnects
        }),
        (
            "connect_attempts",
            AtomicMetrics::inc_connect_attempts,
            |s| s.connect_attempts,
        ),
    ];
    for (i, (name, inc, get)) in counters.iter().enumerate() {
        let metrics = AtomicMetrics::new();
        let times = i as u64 + 1;
        for _ in 0..times {
            inc(&metrics);
        }
        let snap = metrics.snapshot();
        assert_eq!(get(&snap), times, "{name}");
        // Every other counter is untouched.
        let mut expected = MetricsSnapshot::default();
        match *name {
            "pings_answered" => expected.pings_answered = times,
            "parse_errors" => expected.parse_errors = times,
            "handler_errors" => expected.handler_errors = times,
            "unrouted_messages" => expected.unrouted_messages = times,
            "reconnects" => expected.reconnects = times,
            "connect_attempts" => expected.connect_attempts = times,
            _ => unreachable!(),
        }
        assert_eq!(snap, expected, "{name}");
    }
}

#[test]
fn record_received_counts_messages_and_adds_bytes() {
    let metrics = AtomicMetrics::new();
    metrics.record_received(120);
    metrics.record_received(0);
    metrics.record_received(7);
    let snap = metrics.snapshot();
    assert_eq!(snap.messages_received, 3);
    assert_eq!(snap.bytes_received, 127);
    assert_eq!(snap.messages_sent, 0);
    assert_eq!(snap.bytes_sent, 0);
}

#[test]
fn record_sent_counts_messages_and_adds_bytes() {
    let metrics = AtomicMetrics::new();
    metrics.record_sent(10);
    metrics.record_sent(32);
    let snap = metrics.snapshot();
    assert_eq!(snap.messages_sent, 2);
    assert_eq!(snap.bytes_sent, 42);
    assert_eq!(snap.messages_received, 0);
    assert_eq!(snap.bytes_received, 0);
}

#[test]
fn snapshots_are_copies() {
    let metrics = AtomicMetrics::new();
    metrics.inc_reconnects();
    let before = metrics.snapshot();
    metrics.inc_reconnects();
    assert_eq!(before.reconnects, 1);
    assert_eq!(metrics.snapshot().reconnects, 2);
}

#[test]
fn concurrent_updates_sum_exactly() {
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 10_000;

    let metrics = AtomicMetrics::new();
    let barrier = Barrier::new(THREADS as usize);
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (metrics, barrier) = (&metrics, &barrier);
            scope.spawn(move || {
                barrier.wait();
                for _ in 0..PER_THREAD {
                    metrics.record_received(3);
                    metrics.record_sent(t as usize);
                    metrics.inc_pings_answered();
                    metrics.inc_parse_errors();
                    metrics.inc_handler_errors();
                    metrics.inc_unrouted_messages();
                    metrics.inc_reconnects();
                    metrics.inc_connect_attempts();
                }
            });
        }
    });
    let total = THREADS * PER_THREAD;
    let snap = metrics.snapshot();
    assert_eq!(snap.messages_received, total);
    assert_eq!(snap.bytes_received, 3 * total);
    assert_eq!(snap.messages_sent, total);
    // Thread t sent t bytes per message: (0 + 1 + 2 + 3) * PER_THREAD.
    assert_eq!(snap.bytes_sent, (0..THREADS).sum::<u64>() * PER_THREAD);
    assert_eq!(snap.pings_answered, total);
    assert_eq!(snap.parse_errors, total);
    assert_eq!(snap.handler_errors, total);
    assert_eq!(snap.unrouted_messages, total);
    assert_eq!(snap.reconnects, total);
    assert_eq!(snap.connect_attempts, total);
}

fn snapshot_with_all(value: u64) -> MetricsSnapshot {
    let mut snap = MetricsSnapshot::default();
    snap.messages_received = value;
    snap.messages_sent = value;
    snap.bytes_received = value;
    snap.bytes_sent = value;
    snap.pings_answered = value;
    snap.parse_errors = value;
    snap.handler_errors = value;
    snap.unrouted_messages = value;
    snap.reconnects = value;
    snap.connect_attempts = value;
    snap
}

#[test]
fn saturating_add_adds_field_by_field() {
    let a = AtomicMetrics::new();
    a.record_received(100);
    a.inc_parse_errors();
    a.inc_reconnects();
    let b = AtomicMetrics::new();
    b.record_received(50);
    b.record_sent(5);
    b.inc_reconnects();
    b.inc_connect_attempts();

    let sum = a.snapshot().saturating_add(b.snapshot());
    let mut expected = MetricsSnapshot::default();
    expected.messages_received = 2;
    expected.bytes_received = 150;
    expected.messages_sent = 1;
    expected.bytes_sent = 5;
    expected.parse_errors = 1;
    expected.reconnects = 2;
    expected.connect_attempts = 1;
    assert_eq!(sum, expected);

    // Adding zero changes nothing, and the order does not matter.
    assert_eq!(sum.saturating_add(MetricsSnapshot::default()), sum);
    assert_eq!(
        b.snapshot().saturating_add(a.snapshot()),
        a.snapshot().saturating_add(b.snapshot())
    );
    assert_eq!(
        snapshot_with_all(1).saturating_add(snapshot_with_all(2)),
        snapshot_with_all(3)
    );
}

#[test]
fn saturating_add_saturates_every_field() {
    let near_max = snapshot_with_all(u64::MAX - 1);
    assert_eq!(
        near_max.saturating_add(snapshot_with_all(5)),
        snapshot_with_all(u64::MAX)
    );
    assert_eq!(
        snapshot_with_all(u64::MAX).saturating_add(snapshot_with_all(u64::MAX)),
        snapshot_with_all(u64::MAX)
    );

    // A byte total at the limit, reached through the public recorder.
    let metrics = AtomicMetrics::new();
    metrics.record_received(usize::MAX);
    let snap = metrics.snapshot();
    assert_eq!(snap.bytes_received, usize::MAX as u64);
    let doubled = snap.saturating_add(snap);
    assert_eq!(doubled.bytes_received, u64::MAX);
    assert_eq!(doubled.messages_received, 2);
}
