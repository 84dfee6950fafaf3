//! The connection's own counters (lock-free) and their plain snapshot.
//!
//! Only what the connection counts lives here; parse errors, handler
//! errors and unrouted messages are the router's figures
//! ([`RouterMetricsSnapshot`](hypersockets_router::RouterMetricsSnapshot)).

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! metrics {
    ($( $(#[$doc:meta])* $name:ident $(, $inc:ident)?; )*) => {
        /// The connection's counters, updated with `Relaxed` atomics; a
        /// snapshot is consistent per counter, not across them.
        #[derive(Debug, Default)]
        pub(crate) struct ConnectionCounters {
            $( $name: AtomicU64, )*
        }

        /// A client's connection counters at one moment, summed over every
        /// connection it had.
        ///
        /// ```
        /// use hypersockets::MetricsSnapshot;
        ///
        /// let a = MetricsSnapshot::default();
        /// assert_eq!(a.saturating_add(a).messages_received, 0);
        /// ```
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl ConnectionCounters {
            $($(
                #[doc = concat!("Adds one to `", stringify!($name), "`.")]
                #[inline]
                pub(crate) fn $inc(&self) {
                    self.$name.fetch_add(1, Ordering::Relaxed);
                }
            )?)*

            /// Reads every counter.
            pub(crate) fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }

        impl MetricsSnapshot {
            /// The counters added up field by field (for aggregating many clients).
            pub fn saturating_add(self, other: Self) -> Self {
                Self { $( $name: self.$name.saturating_add(other.$name), )* }
            }

            /// Each counter with its field's name, in order (for exporters).
            #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
            pub(crate) fn each(&self, mut f: impl FnMut(&'static str, u64)) {
                $( f(stringify!($name), self.$name); )*
            }
        }
    };
}

metrics! {
    /// Data messages received (text and binary).
    messages_received;
    /// Messages sent (data and application pings/pongs, not protocol control frames).
    messages_sent;
    /// Payload bytes received.
    bytes_received;
    /// Payload bytes sent.
    bytes_sent;
    /// Pings answered: protocol Pings and passive application pings.
    pings_answered, inc_pings_answered;
    /// Connections that reached `Connected` after an earlier attempt,
    /// whether or not that attempt got as far (the first connection of a
    /// client is not a reconnect; every later one is).
    reconnects, inc_reconnects;
    /// Connection attempts, first and re-, successful or not.
    connect_attempts, inc_connect_attempts;
    /// Panics caught in user code run on the connection task: the passive
    /// ping detector, the router's code on the reader, the auth and header
    /// providers, the reconnection strategy (see
    /// [`ClientEvent::CallbackPanicked`](crate::ClientEvent::CallbackPanicked)).
    callback_panics, inc_callback_panics;
    /// Subscriptions the venue accepted (with `SubscriptionAcks`), counted
    /// on every connection.
    subscriptions_accepted, inc_subscriptions_accepted;
    /// Subscriptions the venue refused.
    subscriptions_rejected, inc_subscriptions_rejected;
    /// Subscription requests that got no answer in time.
    subscription_timeouts, inc_subscription_timeouts;
    /// Rotations completed: a replacement connection took over and the
    /// old one was closed.
    rotations, inc_rotations;
    /// Messages that came on both connections of a rotation and were
    /// delivered once.
    rotation_duplicates;
    /// Gaps found in numbered streams (each made its stream stale).
    stream_gaps, inc_stream_gaps;
    /// Numbered messages dropped as duplicates or stale deltas: already
    /// delivered, or covered by a snapshot.
    stream_duplicates;
    /// Messages of stale streams dropped while waiting for a snapshot (or
    /// pushed out of a full resync buffer).
    stream_stale_dropped;
    /// Streams resynchronised: a snapshot made a stale stream valid again.
    stream_resyncs, inc_stream_resyncs;
    /// Snapshot fetches that failed or timed out (each retried).
    snapshot_failures, inc_snapshot_failures;
}

impl ConnectionCounters {
    /// Counts one received data message of `bytes` payload bytes.
    ///
    /// Only the reader counts these, and one connection reads at a time:
    /// a plain load and store, no locked instruction on the hot path.
    /// Readers on other threads see each value whole, possibly a moment
    /// late.
    #[inline]
    pub(crate) fn record_received(&self, bytes: usize) {
        let add = |counter: &AtomicU64, value: u64| {
            counter.store(
                counter.load(Ordering::Relaxed).wrapping_add(value),
                Ordering::Relaxed,
            );
        };
        add(&self.messages_received, 1);
        add(&self.bytes_received, bytes as u64);
    }

    /// Counts a rotation's duplicates, dropped.
    pub(crate) fn add_rotation_duplicates(&self, duplicates: u64) {
        self.rotation_duplicates
            .fetch_add(duplicates, Ordering::Relaxed);
    }

    /// Counts duplicates and stale deltas dropped.
    pub(crate) fn add_stream_duplicates(&self, dropped: u64) {
        if dropped > 0 {
            self.stream_duplicates.fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Counts stale streams' messages dropped.
    pub(crate) fn add_stream_stale_dropped(&self, dropped: u64) {
        if dropped > 0 {
            self.stream_stale_dropped
                .fetch_add(dropped, Ordering::Relaxed);
        }
    }

    /// Counts one sent message of `bytes` payload bytes.
    #[inline]
    pub(crate) fn record_sent(&self, bytes: usize) {
        self.messages_sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}
