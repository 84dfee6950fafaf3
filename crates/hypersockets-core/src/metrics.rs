//! Lock-free connection counters and their plain snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! metrics {
    ($( $(#[$doc:meta])* $name:ident $(, $inc:ident)?; )*) => {
        /// Connection-level counters, updated with `Relaxed` atomics.
        ///
        /// Each counter is independent; a [`snapshot`](Self::snapshot) reads
        /// them one by one, so it is consistent per counter, not across them.
        ///
        /// ```
        /// use hypersockets_core::AtomicMetrics;
        ///
        /// let metrics = AtomicMetrics::new();
        /// metrics.record_received(120);
        /// metrics.inc_parse_errors();
        /// let snap = metrics.snapshot();
        /// assert_eq!(snap.messages_received, 1);
        /// assert_eq!(snap.bytes_received, 120);
        /// assert_eq!(snap.parse_errors, 1);
        /// ```
        #[derive(Debug, Default)]
        pub struct AtomicMetrics {
            $( $name: AtomicU64, )*
        }

        /// A plain copy of every counter in [`AtomicMetrics`] at one moment.
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct MetricsSnapshot {
            $( $(#[$doc])* pub $name: u64, )*
        }

        impl AtomicMetrics {
            /// All counters at zero.
            pub const fn new() -> Self {
                Self { $( $name: AtomicU64::new(0), )* }
            }

            $($(
                #[doc = concat!("Adds one to `", stringify!($name), "`.")]
                #[inline]
                pub fn $inc(&self) {
                    self.$name.fetch_add(1, Ordering::Relaxed);
                }
            )?)*

            /// Reads every counter.
            pub fn snapshot(&self) -> MetricsSnapshot {
                MetricsSnapshot { $( $name: self.$name.load(Ordering::Relaxed), )* }
            }
        }

        impl MetricsSnapshot {
            /// The counters added up field by field (for aggregating many clients).
            pub fn saturating_add(self, other: Self) -> Self {
                Self { $( $name: self.$name.saturating_add(other.$name), )* }
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
    /// Messages the router could not parse.
    parse_errors, inc_parse_errors;
    /// Errors returned (or panics raised) by handlers.
    handler_errors, inc_handler_errors;
    /// Messages whose route key had no handler (and no fallback).
    unrouted_messages, inc_unrouted_messages;
    /// Successful reconnections (not counting the first connection).
    reconnects, inc_reconnects;
    /// Connection attempts, first and re-, successful or not.
    connect_attempts, inc_connect_attempts;
}

impl AtomicMetrics {
    /// Counts one received data message of `bytes` payload bytes.
    #[inline]
    pub fn record_received(&self, bytes: usize) {
        self.messages_received.fetch_add(1, Ordering::Relaxed);
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts one sent message of `bytes` payload bytes.
    #[inline]
    pub fn record_sent(&self, bytes: usize) {
        self.messages_sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}
