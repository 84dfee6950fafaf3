//! The stream tracker: in sequence delivered, duplicates dropped, a gap
//! stales its stream alone, a snapshot resolves it Binance's way.

use hypersockets_core::{Admitted, StaleCause, StreamId, StreamSequence, StreamTracker, WsMessage};

fn stream() -> StreamId {
    StreamId::of(&["btcusdt@depth"])
}

fn delta(first: u64, last: u64) -> StreamSequence {
    StreamSequence::new(stream(), last).previous(first - 1)
}

fn text(n: u64) -> WsMessage {
    WsMessage::text(n.to_string())
}

fn admit(tracker: &mut StreamTracker<WsMessage>, at: StreamSequence) -> Admitted<WsMessage> {
    tracker.admit(at, text(at.number))
}

#[test]
fn in_sequence_is_delivered_duplicates_dropped_a_gap_stales() {
    let mut tracker = StreamTracker::new();
    assert!(matches!(
        admit(&mut tracker, delta(1, 3)),
        Admitted::Deliver(_)
    ));
    assert!(matches!(
        admit(&mut tracker, delta(4, 6)),
        Admitted::Deliver(_)
    ));
    assert!(matches!(
        admit(&mut tracker, delta(4, 6)),
        Admitted::Duplicate
    ));
    assert!(matches!(
        admit(&mut tracker, delta(2, 5)),
        Admitted::Duplicate
    ));
    // Overlapping the last delivered: follows on.
    assert!(matches!(
        admit(&mut tracker, delta(5, 8)),
        Admitted::Deliver(_)
    ));
    match admit(&mut tracker, delta(12, 13)) {
        Admitted::Stale { cause, dropped } => {
            assert_eq!(cause, StaleCause::Gap { last: 8, next: 12 });
            assert_eq!(cause.missed(), 3);
            assert!(dropped, "without snapshots, stale messages are dropped");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        admit(&mut tracker, delta(14, 14)),
        Admitted::Held { dropped: true }
    ));
    let reset = StreamSequence::new(stream(), 20).reset();
    assert!(matches!(
        admit(&mut tracker, reset),
        Admitted::Resynced { dropped: 0, .. }
    ));
    assert!(matches!(
        admit(&mut tracker, delta(21, 21)),
        Admitted::Deliver(_)
    ));
}

#[test]
fn other_streams_are_untouched_by_a_gap() {
    let mut tracker = StreamTracker::new();
    let other = |n: u64| StreamSequence::new(StreamId::of(&["ethusdt@depth"]), n).previous(n - 1);
    assert!(matches!(
        admit(&mut tracker, delta(1, 1)),
        Admitted::Deliver(_)
    ));
    assert!(matches!(
        admit(&mut tracker, other(1)),
        Admitted::Deliver(_)
    ));
    assert!(matches!(
        admit(&mut tracker, delta(5, 5)),
        Admitted::Stale { .. }
    ));
    assert!(matches!(
        admit(&mut tracker, other(2)),
        Admitted::Deliver(_)
    ));
}

#[test]
fn a_snapshot_replays_what_follows_it_binance_style() {
    let mut tracker = StreamTracker::buffering(100);
    // The first message waits for the first snapshot.
    match admit(&mut tracker, delta(100, 105)) {
        Admitted::Stale { cause, dropped } => {
            assert_eq!(cause, StaleCause::Start);
            assert!(!dropped);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        admit(&mut tracker, delta(106, 110)),
        Admitted::Held { dropped: false }
    ));
    assert!(matches!(
        admit(&mut tracker, delta(111, 111)),
        Admitted::Held { dropped: false }
    ));
    assert!(tracker.request_snapshot(stream()));
    assert!(!tracker.request_snapshot(stream()), "one fetch at a time");
    // lastUpdateId 108: 100..105 dropped, 106..110 straddles it, 111 follows.
    let resolved = tracker.apply_snapshot(stream(), 108).unwrap();
    assert_eq!(resolved.dropped, 1);
    assert!(resolved.gap.is_none());
    let replayed: Vec<u64> = resolved.replay.iter().map(|(at, _)| at.number).collect();
    assert_eq!(replayed, [110, 111]);
    assert!(matches!(
        admit(&mut tracker, delta(112, 112)),
        Admitted::Deliver(_)
    ));
}

#[test]
fn a_snapshot_older_than_the_buffer_is_fetched_again() {
    let mut tracker = StreamTracker::buffering(100);
    assert!(matches!(
        admit(&mut tracker, delta(100, 105)),
        Admitted::Stale { .. }
    ));
    assert!(tracker.request_snapshot(stream()));
    let resolved = tracker.apply_snapshot(stream(), 90).unwrap();
    assert_eq!(
        resolved.gap,
        Some(StaleCause::Gap {
            last: 90,
            next: 100
        })
    );
    assert!(resolved.replay.is_empty());
    // Still stale, its message still buffered: a newer snapshot resolves it.
    assert!(matches!(
        admit(&mut tracker, delta(106, 106)),
        Admitted::Held { dropped: false }
    ));
    assert!(tracker.request_snapshot(stream()));
    let resolved = tracker.apply_snapshot(stream(), 102).unwrap();
    let replayed: Vec<u64> = resolved.replay.iter().map(|(at, _)| at.number).collect();
    assert_eq!(replayed, [105, 106]);
}

#[test]
fn a_full_buffer_drops_its_oldest_and_a_late_snapshot_is_ignored() {
    let mut tracker = StreamTracker::buffering(2);
    assert!(matches!(
        admit(&mut tracker, delta(1, 1)),
        Admitted::Stale { .. }
    ));
    assert!(matches!(
        admit(&mut tracker, delta(2, 2)),
        Admitted::Held { dropped: false }
    ));
    assert!(matches!(
        admit(&mut tracker, delta(3, 3)),
        Admitted::Held { dropped: true }
    ));
    // A venue's snapshot resolves it before the fetched one arrives.
    let reset = StreamSequence::new(stream(), 3).reset();
    assert!(matches!(
        admit(&mut tracker, reset),
        Admitted::Resynced { dropped: 2, .. }
    ));
    assert!(tracker.apply_snapshot(stream(), 2).is_none());
}

#[test]
fn a_handler_can_make_a_stream_stale() {
    let mut tracker = StreamTracker::new();
    assert!(matches!(
        admit(&mut tracker, delta(1, 1)),
        Admitted::Deliver(_)
    ));
    assert!(tracker.make_stale(stream()));
    assert!(!tracker.make_stale(stream()));
    assert!(matches!(
        admit(&mut tracker, delta(2, 2)),
        Admitted::Held { dropped: true }
    ));
}

/// An unsubscribed stream's stale period ends: its buffer goes, the
/// snapshot it waited for is not applied, and its last number stays for a
/// later subscription to be checked against.
#[test]
fn dropping_a_stale_stream_ends_its_wait() {
    let mut tracker = StreamTracker::buffering(100);
    assert!(matches!(
        tracker.admit(delta(1, 4), text(4)),
        Admitted::Stale {
            cause: StaleCause::Start,
            ..
        }
    ));
    assert!(tracker.request_snapshot(stream()));
    assert!(matches!(
        tracker.admit(delta(5, 9), text(9)),
        Admitted::Held { dropped: false }
    ));
    assert!(tracker.apply_snapshot(stream(), 3).is_some());
    assert_eq!(tracker.last(stream()), Some(9));
    assert!(tracker.make_stale(stream()));
    admit(&mut tracker, delta(10, 12));
    admit(&mut tracker, delta(13, 15));
    assert_eq!(tracker.drop_stale(stream()), 2);
    assert!(!tracker.is_stale(stream()));
    assert!(
        tracker.apply_snapshot(stream(), 20).is_none(),
        "no longer awaited"
    );
    assert!(!tracker.request_snapshot(stream()), "nothing to fetch");
    assert_eq!(tracker.drop_stale(stream()), 0);
    // Subscribed again: checked against the last delivered, 9.
    assert!(matches!(
        admit(&mut tracker, delta(16, 18)),
        Admitted::Stale {
            cause: StaleCause::Gap { last: 9, next: 16 },
            ..
        }
    ));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// What a faulty feed does to the next delta of a stream.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        Next,
        Skip(u64),
        Repeat,
        Swap,
        Snapshot,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => Just(Step::Next),
            1 => (1u64..4).prop_map(Step::Skip),
            1 => Just(Step::Repeat),
            1 => Just(Step::Swap),
            1 => Just(Step::Snapshot),
        ]
    }

    /// The wire: (stream, delta or snapshot) in the order a faulty feed
    /// sends them, two streams interleaved.
    fn wire(steps: &[(bool, Step)]) -> Vec<StreamSequence> {
        let streams = [StreamId::of(&["a"]), StreamId::of(&["b"])];
        let mut next = [1u64, 1];
        let mut out = Vec::new();
        for &(second, step) in steps {
            let i = usize::from(second);
            let delta = |n: u64| StreamSequence::new(streams[i], n).previous(n - 1);
            match step {
                Step::Next => {
                    out.push(delta(next[i]));
                    next[i] += 1;
                }
                Step::Skip(n) => {
                    next[i] += n;
                    out.push(delta(next[i]));
                    next[i] += 1;
                }
                Step::Repeat => {
                    out.push(delta(next[i]));
                    out.push(delta(next[i]));
                    next[i] += 1;
                }
                Step::Swap => {
                    out.push(delta(next[i] + 1));
                    out.push(delta(next[i]));
                    next[i] += 2;
                }
                Step::Snapshot => {
                    out.push(StreamSequence::new(streams[i], next[i] - 1).reset());
                }
            }
        }
        out
    }

    proptest! {
        /// Whatever the feed does, what is delivered per stream follows on
        /// (each delta's previous number is the last delivered), except a
        /// reset, and every gap is announced.
        #[test]
        fn delivered_never_crosses_an_unannounced_gap(
            steps in proptest::collection::vec((any::<bool>(), step()), 1..200)
        ) {
            let mut tracker = StreamTracker::new();
            let mut last: std::collections::HashMap<StreamId, u64> = Default::default();
            for at in wire(&steps) {
                let before = last.get(&at.stream).copied();
                match tracker.admit(at, ()) {
                    Admitted::Deliver(()) => {
                        if !at.reset && let Some(before) = before {
                            prop_assert_eq!(at.previous, Some(before));
                        }
                        last.insert(at.stream, at.number);
                    }
                    Admitted::Healed { cause: StaleCause::Gap { last: l, next }, .. } => {
                        prop_assert!(at.reset);
                        prop_assert_eq!(Some(l), before);
                        prop_assert_eq!(next, at.number + 1);
                        last.insert(at.stream, at.number);
                    }
                    Admitted::Resynced { .. } => {
                        prop_assert!(at.reset);
                        last.insert(at.stream, at.number);
                    }
                    Admitted::Stale { cause: StaleCause::Gap { last: l, next }, .. } => {
                        prop_assert_eq!(Some(l), before);
                        prop_assert!(next > l + 1);
                    }
                    Admitted::Duplicate => {
                        prop_assert!(before.is_some_and(|b| at.number <= b));
                    }
                    Admitted::Held { .. } => prop_assert!(tracker.is_stale(at.stream)),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
                prop_assert_eq!(tracker.last(at.stream), last.get(&at.stream).copied());
            }
        }

        /// `advance` takes exactly the messages `admit` would deliver as
        /// in sequence, and a tracker asked `advance` first (admitting
        /// only what it refuses) decides every message as one that only
        /// admits, buffering or not.
        #[test]
        fn advance_takes_what_admit_delivers_in_sequence(
            steps in proptest::collection::vec((any::<bool>(), step()), 1..200),
            buffering in any::<bool>(),
        ) {
            let tracker = || match buffering {
                true => StreamTracker::buffering(16),
                false => StreamTracker::new(),
            };
            let (mut admitting, mut advancing) = (tracker(), tracker());
            for at in wire(&steps) {
                let admitted = format!("{:?}", admitting.admit(at, ()));
                let advanced = advancing.advance(at);
                prop_assert_eq!(advanced, !at.reset && admitted == "Deliver(())");
                if !advanced {
                    prop_assert_eq!(format!("{:?}", advancing.admit(at, ())), admitted);
                }
                prop_assert_eq!(advancing.last(at.stream), admitting.last(at.stream));
                prop_assert_eq!(advancing.is_stale(at.stream), admitting.is_stale(at.stream));
            }
        }
    }
}

#[test]
fn a_snapshot_past_linked_messages_heals_a_gap_but_not_on_a_stream_of_resets() {
    let mut tracker = StreamTracker::new();
    assert!(matches!(
        admit(&mut tracker, delta(1, 5)),
        Admitted::Deliver(_)
    ));
    let snapshot = StreamSequence::new(stream(), 9).reset();
    match admit(&mut tracker, snapshot) {
        Admitted::Healed { cause, .. } => {
            assert_eq!(cause, StaleCause::Gap { last: 5, next: 10 });
            assert_eq!(cause.missed(), 4);
        }
        other => panic!("{other:?}"),
    }
    // The same snapshot again (Bybit re-sends unchanged ones): delivered.
    assert!(matches!(
        admit(&mut tracker, snapshot),
        Admitted::Deliver(_)
    ));
    // Bybit's books: snapshots numbered by `u`, diffs without a previous
    // number (untracked): a later snapshot proves nothing was missed.
    let bybit = StreamId::of(&["orderbook.50.BTCUSDT"]);
    assert!(matches!(
        tracker.admit(StreamSequence::new(bybit, 100).reset(), text(100)),
        Admitted::Deliver(_)
    ));
    assert!(matches!(
        tracker.admit(StreamSequence::new(bybit, 180).reset(), text(180)),
        Admitted::Deliver(_)
    ));
}
