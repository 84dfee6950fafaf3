//! Each numbered stream's continuity: duplicates and stale deltas dropped,
//! a gap making its stream stale until a snapshot resynchronises it, every
//! other stream untouched.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use crate::{StaleCause, StreamId, StreamSequence};

/// Tracks numbered streams by the venue's own numbers: tells, for each
/// message, whether it follows on from the last one delivered on its
/// stream, repeats one, or reveals a gap, and keeps a stale stream's
/// messages back until a snapshot resynchronises it.
///
/// The client runs one over every connection it makes (see
/// `Integrity` in the `hypersockets` crate); a program that receives
/// numbered messages some other way (a message bus, a recording) can run
/// its own. `T` is what it keeps of a held message.
///
/// Only messages that prove what comes before them (a
/// [`previous`](StreamSequence::previous) number) or start their stream
/// afresh ([`reset`](StreamSequence::reset)) are tracked
/// ([`tracks`](Self::tracks)): a bare number (a trade id) may skip or run
/// unordered on some venues, so it proves nothing about a gap.
///
/// ```
/// use hypersockets_core::{Admitted, StaleCause, StreamId, StreamSequence, StreamTracker};
///
/// let book = StreamId::of(&["btcusdt@depth"]);
/// // Binance spot: update ids U..=u, so the previous one is U - 1.
/// let delta = |first: u64, last: u64| StreamSequence::new(book, last).previous(first - 1);
/// let mut tracker = StreamTracker::new();
/// assert!(matches!(tracker.admit(delta(1, 4), "a"), Admitted::Deliver("a")));
/// assert!(matches!(tracker.admit(delta(5, 9), "b"), Admitted::Deliver("b")));
/// assert!(matches!(tracker.admit(delta(5, 9), "b again"), Admitted::Duplicate));
/// match tracker.admit(delta(12, 15), "c") {
///     Admitted::Stale { cause, .. } => assert_eq!(cause, StaleCause::Gap { last: 9, next: 12 }),
///     other => panic!("{other:?}"),
/// }
/// assert!(tracker.is_stale(book));
/// // The venue's snapshot (a reset) makes it valid again.
/// let snapshot = StreamSequence::new(book, 20).reset();
/// assert!(matches!(tracker.admit(snapshot, "snapshot"), Admitted::Resynced { .. }));
/// assert_eq!(tracker.last(book), Some(20));
/// ```
pub struct StreamTracker<T> {
    streams: HashMap<StreamId, Track<T>, BuildHasherDefault<IdHasher>>,
    /// Stale messages are buffered for a snapshot's replay, and a
    /// stream's first message waits for its first snapshot.
    buffering: bool,
    max_buffered: usize,
}

/// What becomes of a tracked message ([`StreamTracker::admit`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Admitted<T> {
    /// In sequence: deliver it.
    Deliver(T),
    /// Already delivered, or older than its stream's last: drop it.
    Duplicate,
    /// Kept back: its stream is stale. `dropped`: it was not buffered (no
    /// buffering), or it pushed the oldest buffered message out.
    Held {
        /// Whether a message was let go.
        dropped: bool,
    },
    /// It made its stream stale; kept back as with `Held`.
    Stale {
        /// Why the stream went stale.
        cause: StaleCause,
        /// Whether a message was let go.
        dropped: bool,
    },
    /// A reset (a venue's snapshot) that jumps past the last number of a
    /// stream whose messages name their previous one (after a
    /// reconnection, typically): deliver it; the numbers between were
    /// missed, and the snapshot covers them.
    Healed {
        /// The reset message.
        message: T,
        /// The gap it covers: `next` is its number plus one.
        cause: StaleCause,
    },
    /// A reset (a venue's snapshot) ended its stream's staleness: deliver
    /// it; `dropped` buffered messages, older than it, were let go.
    Resynced {
        /// The reset message.
        message: T,
        /// Buffered messages let go.
        dropped: u64,
    },
}

/// What a snapshot resolved ([`StreamTracker::apply_snapshot`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Resolved<T> {
    /// The buffered messages after the snapshot, to deliver after it, in
    /// order.
    pub replay: Vec<(StreamSequence, T)>,
    /// Buffered messages the snapshot already covers, dropped.
    pub dropped: u64,
    /// The buffered messages do not follow on from the snapshot (it is
    /// older than the first of them, or they have a gap): the stream is
    /// still stale and needs a newer snapshot.
    pub gap: Option<StaleCause>,
}

struct Track<T> {
    /// The number of the last message delivered.
    last: Option<u64>,
    /// Its messages name their previous one: a reset past `last` skipped
    /// some (on a stream of resets alone, such as Bybit's books, whose
    /// diffs carry no previous number, it proves nothing).
    linked: bool,
    stale: Option<Stale<T>>,
}

struct Stale<T> {
    buffered: VecDeque<(StreamSequence, T)>,
    /// A snapshot has been asked for and not resolved.
    awaiting_snapshot: bool,
}

impl<T> Default for Track<T> {
    fn default() -> Self {
        Self {
            last: None,
            linked: false,
            stale: None,
        }
    }
}

impl<T> Track<T> {
    /// Moves on to `at` if it follows on from the last message: the
    /// stream is not stale, `at` is no reset, and it names (or, with a
    /// bare number, is) the number after the last; or it is the first,
    /// and first messages need no snapshot.
    #[inline]
    fn follow(&mut self, at: StreamSequence, buffering: bool) -> bool {
        if self.stale.is_some() || at.reset {
            return false;
        }
        let follows = match self.last {
            None => !buffering,
            Some(last) => {
                at.number > last && at.previous.unwrap_or(at.number.saturating_sub(1)) <= last
            }
        };
        if follows {
            self.last = Some(at.number);
            self.linked |= at.previous.is_some();
        }
        follows
    }
}

impl<T> Default for Stale<T> {
    fn default() -> Self {
        Self {
            buffered: VecDeque::new(),
            awaiting_snapshot: false,
        }
    }
}

/// Stream ids are hashes already.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl<T> Default for StreamTracker<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> StreamTracker<T> {
    /// A tracker that drops a stale stream's messages until a reset (the
    /// venue's snapshot, sent when the stream is subscribed again).
    ///
    /// ```
    /// let tracker = hypersockets_core::StreamTracker::<String>::new();
    /// # drop(tracker);
    /// ```
    pub fn new() -> Self {
        Self {
            streams: HashMap::default(),
            buffering: false,
            max_buffered: 0,
        }
    }

    /// A tracker for snapshots fetched apart (Binance's REST depth): a
    /// stale stream's messages are buffered, up to `max` (the oldest go
    /// past it), for [`apply_snapshot`](Self::apply_snapshot) to replay;
    /// and a stream's first message waits for its first snapshot
    /// ([`StaleCause::Start`]), since a book must start from one.
    ///
    /// ```
    /// use hypersockets_core::{Admitted, StaleCause, StreamId, StreamSequence, StreamTracker};
    ///
    /// let book = StreamId::of(&["btcusdt@depth"]);
    /// let delta = |first: u64, last: u64| StreamSequence::new(book, last).previous(first - 1);
    /// let mut tracker = StreamTracker::buffering(1_000);
    /// assert!(matches!(
    ///     tracker.admit(delta(100, 105), 'a'),
    ///     Admitted::Stale { cause: StaleCause::Start, dropped: false }
    /// ));
    /// assert!(matches!(tracker.admit(delta(106, 110), 'b'), Admitted::Held { dropped: false }));
    /// assert!(tracker.request_snapshot(book));
    /// // The snapshot's lastUpdateId is 107: 'a' is covered, 'b' straddles it.
    /// let resolved = tracker.apply_snapshot(book, 107).unwrap();
    /// assert_eq!(resolved.dropped, 1);
    /// assert_eq!(resolved.replay.iter().map(|(_, m)| *m).collect::<String>(), "b");
    /// assert!(resolved.gap.is_none());
    /// ```
    pub fn buffering(max: usize) -> Self {
        Self {
            streams: HashMap::default(),
            buffering: true,
            max_buffered: max.max(1),
        }
    }

    /// Whether a message numbered `at` is tracked: it names the number
    /// before it, or it is a reset.
    ///
    /// ```
    /// use hypersockets_core::{StreamId, StreamSequence, StreamTracker};
    ///
    /// let trades = StreamId::of(&["btcusdt@trade"]);
    /// assert!(!StreamTracker::<()>::tracks(&StreamSequence::new(trades, 7)));
    /// assert!(StreamTracker::<()>::tracks(&StreamSequence::new(trades, 7).previous(6)));
    /// ```
    #[inline]
    pub fn tracks(at: &StreamSequence) -> bool {
        at.previous.is_some() || at.reset
    }

    /// Checks a tracked message against its stream: deliver it, drop it,
    /// or keep it back (its stream is, or now goes, stale). A message that
    /// is not [tracked](Self::tracks) is taken at its number, with the
    /// number before it taken to be one less.
    pub fn admit(&mut self, at: StreamSequence, message: T) -> Admitted<T> {
        let (buffering, max) = (self.buffering, self.max_buffered);
        let track = self.streams.entry(at.stream).or_default();
        if let Some(stale) = &mut track.stale {
            if at.reset {
                // The venue's own snapshot: everything buffered is older.
                let dropped = stale.buffered.len() as u64;
                track.stale = None;
                track.last = Some(at.number);
                return Admitted::Resynced { message, dropped };
            }
            let dropped = stale.hold(buffering, max, at, message);
            return Admitted::Held { dropped };
        }
        if at.reset {
            let skipped = track.last.filter(|&last| track.linked && at.number > last);
            track.last = Some(at.number);
            return match skipped {
                Some(last) => Admitted::Healed {
                    message,
                    cause: StaleCause::Gap {
                        last,
                        next: at.number.saturating_add(1),
                    },
                },
                None => Admitted::Deliver(message),
            };
        }
        if track.follow(at, buffering) {
            return Admitted::Deliver(message);
        }
        track.linked |= at.previous.is_some();
        // Not in sequence: a first message waiting for its snapshot, a
        // repeat, or a gap.
        let cause = match track.last {
            None => StaleCause::Start,
            Some(last) if at.number <= last => return Admitted::Duplicate,
            Some(last) => StaleCause::Gap {
                last,
                next: at
                    .previous
                    .unwrap_or(at.number.saturating_sub(1))
                    .saturating_add(1),
            },
        };
        let dropped = track
            .stale
            .insert(Stale::default())
            .hold(buffering, max, at, message);
        Admitted::Stale { cause, dropped }
    }

    /// Takes a message that follows on from its stream's last (the common
    /// case, and [`admit`](Self::admit)'s [`Admitted::Deliver`]) without
    /// taking the message itself; `false`, with nothing changed, for any
    /// other: a reset, a repeat, a gap, a stale stream's message, or a
    /// first one that waits for a snapshot. A caller that would move a
    /// large message into `admit` and out again asks this first, and
    /// admits only what it refuses.
    ///
    /// ```
    /// use hypersockets_core::{Admitted, StreamId, StreamSequence, StreamTracker};
    ///
    /// let book = StreamId::of(&["btcusdt@depth"]);
    /// let delta = |first: u64, last: u64| StreamSequence::new(book, last).previous(first - 1);
    /// let mut tracker = StreamTracker::new();
    /// assert!(tracker.advance(delta(1, 4)));
    /// assert!(tracker.advance(delta(5, 9)));
    /// // A gap: refused, and admit says what it is.
    /// assert!(!tracker.advance(delta(12, 15)));
    /// assert!(matches!(tracker.admit(delta(12, 15), "c"), Admitted::Stale { .. }));
    /// ```
    #[inline]
    pub fn advance(&mut self, at: StreamSequence) -> bool {
        let buffering = self.buffering;
        self.streams
            .entry(at.stream)
            .or_default()
            .follow(at, buffering)
    }

    /// Makes `stream` stale from outside (a checksum mismatch); `false` if
    /// it already was.
    ///
    /// ```
    /// use hypersockets_core::{StreamId, StreamTracker};
    ///
    /// let book = StreamId::of(&["book:BTC/USD"]);
    /// let mut tracker = StreamTracker::<()>::new();
    /// assert!(tracker.make_stale(book));
    /// assert!(!tracker.make_stale(book));
    /// ```
    pub fn make_stale(&mut self, stream: StreamId) -> bool {
        let track = self.streams.entry(stream).or_default();
        if track.stale.is_some() {
            return false;
        }
        track.stale = Some(Stale::default());
        true
    }

    /// Notes that a snapshot of the stale `stream` is being fetched;
    /// `false` if one already is, or the stream is not stale.
    ///
    /// ```
    /// use hypersockets_core::{StreamId, StreamTracker};
    ///
    /// let book = StreamId::of(&["btcusdt@depth"]);
    /// let mut tracker = StreamTracker::<()>::buffering(100);
    /// assert!(!tracker.request_snapshot(book));
    /// tracker.make_stale(book);
    /// assert!(tracker.request_snapshot(book));
    /// assert!(!tracker.request_snapshot(book));
    /// tracker.snapshot_failed(book);
    /// assert!(tracker.request_snapshot(book));
    /// ```
    pub fn request_snapshot(&mut self, stream: StreamId) -> bool {
        match self.stale_mut(stream) {
            Some(stale) if !stale.awaiting_snapshot => {
                stale.awaiting_snapshot = true;
                true
            }
            _ => false,
        }
    }

    /// A snapshot fetch failed: another may be requested.
    pub fn snapshot_failed(&mut self, stream: StreamId) {
        if let Some(stale) = self.stale_mut(stream) {
            stale.awaiting_snapshot = false;
        }
    }

    /// Applies the snapshot of `stream` standing at `number`: `None` if
    /// none was [requested](Self::request_snapshot) or the stream is valid
    /// again (a venue's snapshot came first); otherwise what to replay
    /// after it, Binance's way: buffered messages the snapshot covers are
    /// dropped, and the first one kept must follow on from it, else the
    /// stream stays stale ([`Resolved::gap`]) for a newer snapshot.
    pub fn apply_snapshot(&mut self, stream: StreamId, number: u64) -> Option<Resolved<T>> {
        let track = self.streams.get_mut(&stream)?;
        if !track.stale.as_ref().is_some_and(|s| s.awaiting_snapshot) {
            return None;
        }
        let mut buffered = track.stale.take().map(|stale| stale.buffered)?;
        let mut last = number;
        let mut resolved = Resolved {
            replay: Vec::new(),
            dropped: 0,
            gap: None,
        };
        while let Some((at, message)) = buffered.pop_front() {
            let previous = at.previous.unwrap_or(at.number.saturating_sub(1));
            if at.reset {
                last = at.number;
                resolved.replay.push((at, message));
            } else if at.number <= last {
                resolved.dropped += 1;
            } else if previous > last {
                resolved.gap = Some(StaleCause::Gap {
                    last,
                    next: previous.saturating_add(1),
                });
                buffered.push_front((at, message));
                break;
            } else {
                last = at.number;
                resolved.replay.push((at, message));
            }
        }
        track.last = Some(last);
        if resolved.gap.is_some() {
            track.stale = Some(Stale {
                buffered,
                awaiting_snapshot: false,
            });
        }
        Some(resolved)
    }

    /// The number of the last message delivered on `stream`.
    ///
    /// ```
    /// use hypersockets_core::{StreamId, StreamSequence, StreamTracker};
    ///
    /// let book = StreamId::of(&["books:BTC-USDT"]);
    /// let mut tracker = StreamTracker::new();
    /// assert_eq!(tracker.last(book), None);
    /// tracker.admit(StreamSequence::new(book, 7).reset(), ());
    /// assert_eq!(tracker.last(book), Some(7));
    /// ```
    pub fn last(&self, stream: StreamId) -> Option<u64> {
        self.streams.get(&stream).and_then(|track| track.last)
    }

    /// Whether `stream` is stale.
    ///
    /// ```
    /// use hypersockets_core::{StreamId, StreamTracker};
    ///
    /// let book = StreamId::of(&["books:BTC-USDT"]);
    /// let mut tracker = StreamTracker::<()>::new();
    /// assert!(!tracker.is_stale(book));
    /// tracker.make_stale(book);
    /// assert!(tracker.is_stale(book));
    /// ```
    pub fn is_stale(&self, stream: StreamId) -> bool {
        self.streams
            .get(&stream)
            .is_some_and(|track| track.stale.is_some())
    }

    /// Ends `stream`'s stale period without a resync (it was
    /// unsubscribed): its buffered messages go, and a snapshot asked for
    /// is no longer wanted ([`apply_snapshot`](Self::apply_snapshot) gives
    /// `None`). Returns how many messages were buffered. Its last number
    /// stays: subscribed again, its first message is checked against it.
    ///
    /// ```
    /// use hypersockets_core::{StreamId, StreamSequence, StreamTracker};
    ///
    /// let book = StreamId::of(&["btcusdt@depth"]);
    /// let mut tracker = StreamTracker::buffering(100);
    /// tracker.admit(StreamSequence::new(book, 7).reset(), ());
    /// tracker.make_stale(book);
    /// tracker.admit(StreamSequence::new(book, 9).previous(8), ());
    /// assert_eq!(tracker.drop_stale(book), 1);
    /// assert!(!tracker.is_stale(book));
    /// assert_eq!(tracker.last(book), Some(7));
    /// ```
    pub fn drop_stale(&mut self, stream: StreamId) -> usize {
        self.streams
            .get_mut(&stream)
            .and_then(|track| track.stale.take())
            .map_or(0, |stale| stale.buffered.len())
    }

    fn stale_mut(&mut self, stream: StreamId) -> Option<&mut Stale<T>> {
        self.streams.get_mut(&stream)?.stale.as_mut()
    }
}

impl<T> Stale<T> {
    /// Keeps a message back; whether one was let go (this one, without
    /// buffering, or the oldest buffered, to make room).
    fn hold(&mut self, buffering: bool, max: usize, at: StreamSequence, message: T) -> bool {
        if !buffering {
            return true;
        }
        let full = self.buffered.len() >= max;
        if full {
            self.buffered.pop_front();
        }
        self.buffered.push_back((at, message));
        full
    }
}

impl<T> fmt::Debug for StreamTracker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stale = self.streams.values().filter(|t| t.stale.is_some()).count();
        f.debug_struct("StreamTracker")
            .field("streams", &self.streams.len())
            .field("stale", &stale)
            .field("buffering", &self.buffering)
            .finish_non_exhaustive()
    }
}
