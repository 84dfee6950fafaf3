//! The overlap of a rotation: two connections carry the same streams for a
//! while, and each numbered message must reach the handlers once, in its
//! stream's order, with nothing lost.
//!
//! Each stream is read from the old connection until the new one proves
//! it has caught up: it carries a message the old one already delivered,
//! or one whose previous number is the last delivered. Until then the new
//! connection's messages of that stream are held (they may be ahead of the
//! old connection, which can still deliver what lies between); from then
//! on the stream is read from the new one and the old one's copies are
//! dropped. Numbers only grow along a stream, so "already delivered" is
//! "at most the last delivered number".
//!
//! A new connection that switched while behind still repeats what was
//! delivered: the overlap filters it until it delivers past the last
//! number, even after the old connection is closed.

use std::collections::{HashMap, VecDeque};

use hypersockets_core::{StreamId, StreamSequence};

/// Which connection a message came on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// The connection being replaced.
    Old,
    /// Its replacement.
    New,
}

/// One stream during the overlap; `T` is a message (with its context).
#[derive(Debug)]
struct Track<T> {
    /// The last number delivered.
    last: Option<u64>,
    /// Read from the new connection from now on.
    switched: bool,
    /// The new connection has delivered past what the old one did: no
    /// copy can follow.
    caught_up: bool,
    /// The old connection delivered some of it during the overlap: the
    /// rotation waits for this stream to switch.
    on_old: bool,
    /// The new connection's messages not yet known to follow `last`.
    held: VecDeque<(u64, T)>,
}

impl<T> Default for Track<T> {
    fn default() -> Self {
        Self {
            last: None,
            switched: false,
            caught_up: false,
            on_old: false,
            held: VecDeque::new(),
        }
    }
}

/// The streams of a rotation, from its start until the old connection is
/// closed.
#[derive(Debug)]
pub(crate) struct Overlap<T> {
    streams: HashMap<StreamId, Track<T>>,
    /// Messages that came on both connections and were dropped once.
    duplicates: u64,
    /// The old connection is closed: every stream reads from the new one.
    old_closed: bool,
}

impl<T> Default for Overlap<T> {
    fn default() -> Self {
        Self {
            streams: HashMap::new(),
            duplicates: 0,
            old_closed: false,
        }
    }
}

impl<T> Overlap<T> {
    /// Takes `message` from `source`; what is to be delivered now, in
    /// order, goes to `out` (the message itself, or nothing, or messages
    /// held before it).
    pub(crate) fn admit(
        &mut self,
        source: Source,
        at: Option<StreamSequence>,
        message: T,
        out: &mut VecDeque<T>,
    ) {
        // A message without a number cannot be matched: delivered as it
        // comes, from either connection.
        let Some(at) = at else {
            out.push_back(message);
            return;
        };
        let old_closed = self.old_closed;
        let track = self.streams.entry(at.stream).or_insert_with(|| Track {
            switched: old_closed,
            ..Track::default()
        });
        let seen = track.last.is_some_and(|last| at.number <= last);
        match source {
            Source::Old if track.switched || seen => self.duplicates += 1,
            Source::Old => {
                track.on_old = true;
                track.last = Some(at.number);
                out.push_back(message);
                // Held copies the old connection has now delivered prove
                // the new one caught up: it takes the stream over.
                let before = track.held.len();
                track.held.retain(|&(number, _)| number > at.number);
                let dropped = before - track.held.len();
                if dropped > 0 {
                    self.duplicates += dropped as u64;
                    Self::switch(track, out);
                }
            }
            Source::New if track.switched => {
                if seen {
                    self.duplicates += 1;
                } else {
                    track.last = Some(at.number);
                    track.caught_up = true;
                    out.push_back(message);
                }
            }
            Source::New if seen => {
                // Already delivered by the old connection: the new one
                // has caught up.
                self.duplicates += 1;
                Self::switch(track, out);
            }
            Source::New if track.last.is_some() && at.previous == track.last => {
                Self::switch(track, out);
                track.last = Some(at.number);
                track.caught_up = true;
                out.push_back(message);
            }
            Source::New => track.held.push_back((at.number, message)),
        }
    }

    /// The stream is read from the new connection: what it held goes out.
    fn switch(track: &mut Track<T>, out: &mut VecDeque<T>) {
        track.switched = true;
        for (number, message) in track.held.drain(..) {
            track.last = Some(number);
            track.caught_up = true;
            out.push_back(message);
        }
    }

    /// Whether the new connection has caught up on every stream the old
    /// one delivered during the overlap: the old one can go.
    pub(crate) fn settled(&self) -> bool {
        self.streams
            .values()
            .all(|track| track.caught_up || !track.on_old)
    }

    /// The old connection is gone: what the new one held goes out, each
    /// stream in order; its copies of what was delivered are still
    /// dropped until it catches up.
    pub(crate) fn old_closed(&mut self, out: &mut VecDeque<T>) {
        self.old_closed = true;
        for track in self.streams.values_mut() {
            Self::switch(track, out);
        }
    }

    /// Whether nothing is left to filter: the old connection is closed
    /// and every stream has caught up (or never delivered anything).
    pub(crate) fn is_done(&self) -> bool {
        self.old_closed
            && self
                .streams
                .values()
                .all(|track| track.caught_up || track.last.is_none())
    }

    /// Messages that came on both connections and were dropped once.
    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hypersockets_core::WsMessage;

    fn message(stream: &str, number: u64) -> (Option<StreamSequence>, WsMessage) {
        (
            Some(StreamSequence::new(StreamId::of(&[stream]), number)),
            WsMessage::text(format!("{stream}:{number}")),
        )
    }

    fn feed(
        overlap: &mut Overlap<WsMessage>,
        source: Source,
        stream: &str,
        number: u64,
    ) -> Vec<String> {
        let (at, message) = message(stream, number);
        let mut out = VecDeque::new();
        overlap.admit(source, at, message, &mut out);
        out.into_iter()
            .map(|m| m.as_text().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_new_connection_behind_the_old_takes_over_at_its_first_copy() {
        let mut overlap = Overlap::default();
        assert_eq!(feed(&mut overlap, Source::Old, "a", 5), ["a:5"]);
        assert_eq!(feed(&mut overlap, Source::Old, "a", 6), ["a:6"]);
        assert!(!overlap.settled());
        assert!(feed(&mut overlap, Source::New, "a", 6).is_empty());
        // Switched, but still behind: the old one goes only once the new
        // one delivers past 6.
        assert!(!overlap.settled());
        assert!(feed(&mut overlap, Source::Old, "a", 7).is_empty());
        assert_eq!(feed(&mut overlap, Source::New, "a", 7), ["a:7"]);
        assert!(overlap.settled());
        assert!(!overlap.is_done(), "the old connection is still open");
        overlap.old_closed(&mut VecDeque::new());
        assert!(overlap.is_done());
        assert_eq!(overlap.duplicates(), 2);
    }

    #[test]
    fn a_new_connection_ahead_of_the_old_is_held_until_the_old_catches_up() {
        let mut overlap = Overlap::default();
        assert_eq!(feed(&mut overlap, Source::Old, "a", 5), ["a:5"]);
        assert!(feed(&mut overlap, Source::New, "a", 7).is_empty());
        assert!(feed(&mut overlap, Source::New, "a", 8).is_empty());
        assert_eq!(feed(&mut overlap, Source::Old, "a", 6), ["a:6"]);
        // The old one delivers 7, which the new one held: 8 follows.
        assert_eq!(feed(&mut overlap, Source::Old, "a", 7), ["a:7", "a:8"]);
        assert!(overlap.settled());
        assert!(feed(&mut overlap, Source::Old, "a", 8).is_empty());
        assert_eq!(feed(&mut overlap, Source::New, "a", 9), ["a:9"]);
    }

    #[test]
    fn a_previous_number_proves_the_new_connection_follows_on() {
        let mut overlap = Overlap::default();
        feed(&mut overlap, Source::Old, "a", 10);
        let mut out = VecDeque::new();
        let at = StreamSequence::new(StreamId::of(&["a"]), 14).previous(10);
        overlap.admit(Source::New, Some(at), WsMessage::text("a:14"), &mut out);
        assert_eq!(out, [WsMessage::text("a:14")]);
        assert!(overlap.settled());
    }

    #[test]
    fn what_is_still_held_goes_out_when_the_old_connection_ends() {
        let mut overlap = Overlap::default();
        feed(&mut overlap, Source::Old, "a", 1);
        feed(&mut overlap, Source::New, "a", 3);
        feed(&mut overlap, Source::New, "b", 9);
        assert!(!overlap.settled());
        let mut out = VecDeque::new();
        overlap.old_closed(&mut out);
        assert_eq!(overlap.duplicates(), 0);
        let mut out: Vec<_> = out.iter().map(|m| m.as_text().unwrap()).collect();
        out.sort_unstable();
        assert_eq!(out, ["a:3", "b:9"]);
        assert!(overlap.is_done());
    }

    #[test]
    fn messages_without_a_number_pass_from_both() {
        let mut overlap = Overlap::default();
        let mut out = VecDeque::new();
        overlap.admit(Source::Old, None, WsMessage::text("x"), &mut out);
        overlap.admit(Source::New, None, WsMessage::text("x"), &mut out);
        assert_eq!(out.len(), 2);
        assert!(overlap.settled());
    }

    /// A new connection that switched while behind is filtered after the
    /// old one is closed, until it delivers past the last number.
    #[test]
    fn a_new_connection_behind_is_filtered_after_the_old_one_closes() {
        let mut overlap = Overlap::default();
        feed(&mut overlap, Source::Old, "a", 8);
        feed(&mut overlap, Source::Old, "a", 9);
        assert!(feed(&mut overlap, Source::New, "a", 7).is_empty());
        overlap.old_closed(&mut VecDeque::new());
        assert!(!overlap.is_done());
        assert!(feed(&mut overlap, Source::New, "a", 8).is_empty());
        assert!(feed(&mut overlap, Source::New, "a", 9).is_empty());
        assert_eq!(feed(&mut overlap, Source::New, "a", 10), ["a:10"]);
        assert!(overlap.is_done());
    }

    /// Any interleaving of two in-order copies of a stream (the old one
    /// from anywhere and cut anywhere, as it is closed; the new one from
    /// anywhere and on past the old one's end) delivers every number the
    /// old one carried and every later one, once, in order.
    #[test]
    fn any_interleaving_delivers_each_number_once_in_order() {
        use proptest::prelude::*;
        proptest!(|(old_from in 1u64..20, old_len in 1u64..30, new_from in 1u64..40,
                    new_extra in 1u64..30, cut in 0u64..40,
                    order in proptest::collection::vec(any::<bool>(), 0..80))| {
            // What the old connection carries before it is closed.
            let old: Vec<u64> = (old_from..old_from + old_len.min(cut)).collect();
            let old_end = old_from + old_len;
            let new: Vec<u64> = (new_from..old_end.max(new_from) + new_extra).collect();
            let (mut i, mut j) = (0, 0);
            let mut overlap = Overlap::default();
            let mut delivered = Vec::new();
            let take = |out: VecDeque<WsMessage>, delivered: &mut Vec<u64>| {
                for m in out {
                    delivered.push(m.as_text().unwrap()[2..].parse::<u64>().unwrap());
                }
            };
            let mut choices = order.into_iter();
            let mut closed = false;
            while i < old.len() || j < new.len() {
                if i == old.len() && !closed {
                    closed = true;
                    let mut out = VecDeque::new();
                    overlap.old_closed(&mut out);
                    take(out, &mut delivered);
                }
                let from_old = j >= new.len() || (i < old.len() && choices.next().unwrap_or(true));
                let mut out = VecDeque::new();
                if from_old {
                    let (at, m) = message("a", old[i]);
                    overlap.admit(Source::Old, at, m, &mut out);
                    i += 1;
                } else {
                    let (at, m) = message("a", new[j]);
                    overlap.admit(Source::New, at, m, &mut out);
                    j += 1;
                }
                take(out, &mut delivered);
            }
            if !closed {
                let mut out = VecDeque::new();
                overlap.old_closed(&mut out);
                take(out, &mut delivered);
            }
            prop_assert!(delivered.windows(2).all(|w| w[0] < w[1]), "{delivered:?}");
            // Everything the old one carried is delivered, and what the
            // new one carried past it.
            let mut expected: Vec<u64> = old.clone();
            let old_last = old.last().copied().unwrap_or(0);
            expected.extend(new.iter().filter(|&&n| n > old_last));
            let union: std::collections::BTreeSet<u64> = expected.into_iter().collect();
            let got: std::collections::BTreeSet<u64> = delivered.iter().copied().collect();
            prop_assert!(union.is_subset(&got), "lost: {:?}", union.difference(&got).collect::<Vec<_>>());
        });
    }
}
