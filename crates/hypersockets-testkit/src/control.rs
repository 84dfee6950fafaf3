//! The control handle: observe the exchange and command it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hypersockets_core::WsMessage;
use tokio::time::Instant;

use crate::recording::Records;
use crate::state::{Shared, State};
use crate::{
    CloseCause, ConnectionId, ConnectionInfo, ConnectionStatus, DeliveryError, DeliveryReport,
    Fault, HandshakeRecord, HandshakeResponse, RecordSummary, Recorded, Result, Scenario,
    ScenarioHandle, SentRecord, StreamDelivery, StreamFault, StreamKind, Target, TestkitError,
};

/// A handle on a running [`MockExchange`](crate::MockExchange): what it saw,
/// and commands. Cheap to clone; every clone sees the same exchange.
///
/// Records are kept for every connection, open or closed, until the
/// exchange and every handle are dropped: counts and checksums always, the
/// messages themselves as [`Recording`](crate::Recording) says (by default
/// the 1,024 most recent each way). Lists asked for whole fail with
/// [`TestkitError::Truncated`] rather than come back partial. Methods
/// taking a [`ConnectionId`] return empty records for an unknown id.
///
/// A message can reach the client a moment before the server records it as
/// written (the record is made once the write has completed). After reading
/// a message on the client, wait for the server's record with the
/// `wait_for_*` methods rather than reading it at once.
#[derive(Clone, Debug)]
pub struct Control {
    shared: Arc<Shared>,
}

impl Control {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.shared.lock())
    }

    // ---- observing ----

    /// How many WebSocket connections have been established (handshake
    /// completed), open or not.
    pub fn connection_count(&self) -> usize {
        self.with(|s| s.conns.len())
    }

    /// How many connections are open now (half-open ones included).
    pub fn open_connection_count(&self) -> usize {
        self.with(|s| s.conns.iter().filter(|c| c.commands.is_some()).count())
    }

    /// The ids of every connection established so far, oldest first.
    pub fn connections(&self) -> Vec<ConnectionId> {
        self.with(|s| s.conns.iter().map(|c| c.info.id).collect())
    }

    /// The newest connection, if any.
    ///
    /// A connection is registered just after the server's side of the
    /// handshake ends, so a client can be connected (and even have sent)
    /// a moment before it is listed here: right after a client connects,
    /// wait with [`wait_for_connections`](Self::wait_for_connections).
    pub fn latest_connection(&self) -> Option<ConnectionId> {
        self.with(|s| s.conns.last().map(|c| c.info.id))
    }

    /// A snapshot of one connection.
    pub fn connection(&self, id: ConnectionId) -> Option<ConnectionInfo> {
        self.with(|s| s.slot(id).map(|c| c.info.clone()))
    }

    /// Where a connection stands, if it exists.
    pub fn status(&self, id: ConnectionId) -> Option<ConnectionStatus> {
        self.with(|s| s.slot(id).map(|c| c.info.status.clone()))
    }

    /// How many TCP connections were accepted, refused ones included.
    pub fn attempts(&self) -> u64 {
        self.with(|s| s.attempts)
    }

    /// How many TCP connections were refused.
    pub fn refused(&self) -> u64 {
        self.with(|s| s.refused)
    }

    /// Every handshake request read, in order, with the answer chosen.
    pub fn handshakes(&self) -> Vec<HandshakeRecord> {
        self.with(|s| s.handshakes.clone())
    }

    /// The records of connection `id`, or `default` for an unknown id.
    fn records<R>(&self, id: ConnectionId, default: R, f: impl FnOnce(&Records) -> R) -> R {
        self.with(|s| s.slot(id).map_or(default, |c| f(&c.records)))
    }

    /// Every message the connection received from its client, in order:
    /// text and binary messages, Pings, Pongs and the Close frame.
    ///
    /// Fails with [`TestkitError::Truncated`] once the connection's ring has
    /// dropped older messages (see [`Recording`](crate::Recording));
    /// [`recent_received`](Self::recent_received) returns what is left.
    pub fn received(&self, id: ConnectionId) -> Result<Vec<WsMessage>> {
        self.recent_received(id).complete(id, "messages received")
    }

    /// The text messages the connection received from its client, in order.
    ///
    /// Fails like [`received`](Self::received).
    pub fn received_text(&self, id: ConnectionId) -> Result<Vec<String>> {
        Ok(self
            .received(id)?
            .iter()
            .filter_map(|m| m.as_text().map(str::to_owned))
            .collect())
    }

    /// The market data messages fully written to the connection, in the
    /// order written: all streams together. See [`SentRecord`].
    ///
    /// Fails with [`TestkitError::Truncated`] once the connection's ring has
    /// dropped older messages (see [`Recording`](crate::Recording));
    /// [`recent_sent`](Self::recent_sent) returns what is left, and
    /// [`summary`](Self::summary) the counts and checksums.
    pub fn sent(&self, id: ConnectionId) -> Result<Vec<SentRecord>> {
        self.recent_sent(id)
            .complete(id, "market data messages written")
    }

    /// The market data messages of one stream fully written to the
    /// connection, in order (their sequence numbers are 1, 2, 3, …, or for
    /// a [global](crate::StreamConfig::global) stream the venue's, from the
    /// first due after the subscription), as written: without the numbers
    /// a [`StreamFault`] skipped, twice those it duplicated, swapped those
    /// it reordered, and with any book snapshots
    /// ([`SentRecord::is_snapshot`]).
    ///
    /// Fails like [`sent`](Self::sent), when messages of this stream were
    /// dropped.
    pub fn sent_on(&self, id: ConnectionId, stream: &str) -> Result<Vec<SentRecord>> {
        self.records(id, Recorded::new(Vec::new(), 0), |r| r.sent(Some(stream)))
            .complete(id, &format!("{stream} messages written"))
    }

    /// The most recent messages the connection received from its client
    /// (all of them with [`Recording::All`](crate::Recording::All)), and how
    /// many older ones were dropped. See [`Recorded`] for a complete example.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId) {
    /// let recent = control.recent_received(conn);
    /// let texts = recent.messages.iter().filter(|m| m.as_text().is_some()).count();
    /// println!("{texts} texts among the last {}", recent.messages.len());
    /// # }
    /// ```
    pub fn recent_received(&self, id: ConnectionId) -> Recorded<WsMessage> {
        self.records(id, Recorded::new(Vec::new(), 0), Records::received)
    }

    /// The most recent messages fully written to the connection, and how
    /// many older ones were dropped. See [`written`](Self::written) for what
    /// is included.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId) {
    /// let recent = control.recent_written(conn);
    /// // The last three, say, for a failure message.
    /// let last: Vec<_> = recent.messages.iter().rev().take(3).collect();
    /// println!("{} dropped, then … {last:?}", recent.dropped);
    /// # }
    /// ```
    pub fn recent_written(&self, id: ConnectionId) -> Recorded<WsMessage> {
        self.records(id, Recorded::new(Vec::new(), 0), Records::written)
    }

    /// The most recent market data messages fully written to the
    /// connection (those still in its ring of written messages), and how
    /// many older ones were dropped.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId) {
    /// let recent = control.recent_sent(conn);
    /// if let Some(last) = recent.messages.last() {
    ///     // Sequence numbers go on across the drop.
    ///     assert!(last.seq() >= recent.messages.len() as u64);
    /// }
    /// # }
    /// ```
    pub fn recent_sent(&self, id: ConnectionId) -> Recorded<SentRecord> {
        self.records(id, Recorded::new(Vec::new(), 0), |r| r.sent(None))
    }

    /// What the connection carried, counted whatever the
    /// [`Recording`](crate::Recording) mode: messages and bytes each way,
    /// and the count and [`Checksum`](crate::Checksum) of the market data
    /// written, overall and per stream. `None` for an unknown id. See
    /// [`RecordSummary`] for a complete example.
    ///
    /// ```
    /// # use hypersockets_testkit::{Checksum, Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId, texts: &[String]) {
    /// // What one connection's client got, checked without the messages.
    /// let summary = control.summary(conn).unwrap();
    /// assert_eq!(summary.data_messages_written, texts.len() as u64);
    /// assert_eq!(summary.data_checksum, Checksum::of(texts));
    /// # }
    /// ```
    pub fn summary(&self, id: ConnectionId) -> Option<RecordSummary> {
        self.with(|s| s.slot(id).map(|c| c.records.summary.clone()))
    }

    /// Checks that `delivered` (the market data texts a client got, in the
    /// order it got them, from any number of connections) is, for every
    /// connection and stream, an in-order prefix of what the server fully
    /// wrote there: nothing that was not written, no gap, no duplicate. The
    /// order across streams is free, since clients may handle streams in
    /// parallel. The report says how much of each stream was delivered:
    /// everything, after a graceful close, is
    /// [`DeliveryReport::is_complete`].
    ///
    /// Texts are matched exactly; built-in streams write a text only once
    /// (see [`StreamKind`](crate::StreamKind)). Non-data texts must be left
    /// out.
    ///
    /// Needs every market data message written, on every connection: fails
    /// with [`DeliveryError::Truncated`] once a connection's ring has
    /// dropped some (see [`Recording`](crate::Recording)). Without
    /// [`Recording::All`](crate::Recording::All), compare counts and
    /// checksums from [`summary`](Self::summary) instead.
    pub fn check_delivery<S: AsRef<str>>(
        &self,
        delivered: &[S],
    ) -> Result<DeliveryReport, DeliveryError> {
        let records: Vec<SentRecord> = self.with(|s| {
            let mut records = Vec::new();
            for c in &s.conns {
                let sent = c.records.sent(None);
                if !sent.is_complete() {
                    return Err(DeliveryError::Truncated {
                        connection: c.info.id,
                        dropped: sent.dropped,
                    });
                }
                records.extend(sent.messages);
            }
            Ok(records)
        })?;
        // Per (connection, stream), in the order first written: how many
        // were delivered, and the sequence numbers written, in order. A
        // delivered message must be the next written one, by position: a
        // global stream's numbers start anywhere and may skip.
        let mut keys: Vec<(ConnectionId, &str)> = Vec::new();
        let mut streams: HashMap<(ConnectionId, &str), (usize, Vec<u64>)> = HashMap::new();
        // Each text's record and its position in its stream.
        let mut by_text: HashMap<&str, (&SentRecord, usize)> =
            HashMap::with_capacity(records.len());
        for record in &records {
            let key = (record.connection(), record.stream());
            let written = &mut streams
                .entry(key)
                .or_insert_with(|| {
                    keys.push(key);
                    (0, Vec::new())
                })
                .1;
            by_text
                .entry(record.text())
                .or_insert((record, written.len()));
            written.push(record.seq());
        }
        for (index, text) in delivered.iter().enumerate() {
            let text = text.as_ref();
            let &(record, position) =
                by_text.get(text).ok_or_else(|| DeliveryError::NotWritten {
                    index,
                    text: text.to_owned(),
                })?;
            let key = (record.connection(), record.stream());
            let Some((next, written)) = streams.get_mut(&key) else {
                continue;
            };
            if position != *next {
                // Past the last one written, the number that would follow.
                let expected = written
                    .get(*next)
                    .copied()
                    .unwrap_or_else(|| written.last().map_or(1, |last| last.saturating_add(1)));
                return Err(DeliveryError::OutOfOrder {
                    index,
                    connection: record.connection(),
                    stream: record.stream().to_owned(),
                    expected,
                    got: record.seq(),
                });
            }
            *next += 1;
        }
        Ok(DeliveryReport {
            streams: keys
                .into_iter()
                .map(|key| {
                    let (delivered, written) = &streams[&key];
                    StreamDelivery {
                        connection: key.0,
                        stream: key.1.to_owned(),
                        delivered: *delivered as u64,
                        written: written.len() as u64,
                    }
                })
                .collect(),
        })
    }

    /// Every message fully written to the connection, in order: market
    /// data, answers, server pings, oversized messages and the Close frame.
    /// Not included: raw bytes of faults (garbage, invalid UTF-8, cut
    /// frames) and the Pongs and Close replies the WebSocket layer sends by
    /// itself.
    ///
    /// Fails with [`TestkitError::Truncated`] once the connection's ring has
    /// dropped older messages (see [`Recording`](crate::Recording));
    /// [`recent_written`](Self::recent_written) returns what is left.
    pub fn written(&self, id: ConnectionId) -> Result<Vec<WsMessage>> {
        self.recent_written(id).complete(id, "messages written")
    }

    /// The streams the connection is subscribed to now.
    pub fn subscriptions(&self, id: ConnectionId) -> Vec<String> {
        self.with(|s| {
            s.slot(id)
                .map(|c| c.info.subscriptions.clone())
                .unwrap_or_default()
        })
    }

    /// Whether the connection logged in successfully.
    pub fn is_authenticated(&self, id: ConnectionId) -> bool {
        self.with(|s| s.slot(id).is_some_and(|c| c.info.authenticated))
    }

    // ---- commanding ----

    /// Commits `fault` on the target connection(s). Faults run in order
    /// with everything else the connection does, after whatever it is
    /// writing now.
    ///
    /// Fails if the target connection is unknown or already closed.
    pub fn inject(&self, target: impl Into<Target>, fault: Fault) -> Result<()> {
        let target = target.into();
        self.shared.update(|s| s.inject(target, fault))
    }

    /// Commits `fault` on the next message(s) of `stream` on the target
    /// connection(s): [`Target::Connection`] or [`Target::All`] (the
    /// connections open now). On a connection not subscribed to the stream
    /// the fault waits for its subscription; faults queue in order. See
    /// [`StreamFault`].
    ///
    /// Fails with [`TestkitError::UnknownStream`] for a stream the exchange
    /// does not have, [`TestkitError::InvalidFault`] for
    /// [`StreamFault::WrongChecksum`] on a stream without
    /// [checksums](crate::StreamConfig::checksum),
    /// [`TestkitError::InvalidTarget`] for [`Target::Next`], and like
    /// [`inject`](Self::inject) for an unknown or closed connection.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId, StreamFault, Result};
    /// # fn show(control: &Control, conn: ConnectionId) -> Result<()> {
    /// // The client sees 1, 2, …, k, k + 4, …, and no record of k + 1 to k + 3.
    /// control.stream_fault(conn, "btcusdt@depth", StreamFault::Gap(3))?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream_fault(
        &self,
        target: impl Into<Target>,
        stream: &str,
        fault: StreamFault,
    ) -> Result<()> {
        let config = self
            .shared
            .streams
            .get(stream)
            .ok_or_else(|| TestkitError::UnknownStream(stream.to_owned()))?;
        if fault == StreamFault::WrongChecksum && !config.has_checksum() {
            return Err(TestkitError::InvalidFault(format!(
                "stream {stream} carries no checksum (StreamConfig::checksum)"
            )));
        }
        let target = target.into();
        let stream: Arc<str> = Arc::from(stream);
        self.shared
            .update(|s| s.stream_fault(target, &stream, fault))
    }

    /// The book of a [book delta](crate::StreamKind::BookDelta) stream at
    /// the last number the exchange has produced for it, in Binance's REST
    /// depth shape (see [`StreamConfig::book_snapshot`](crate::StreamConfig::book_snapshot)): what a client's
    /// "REST snapshot" fetches in a test.
    ///
    /// For a [global](crate::StreamConfig::global) stream, the venue's number
    /// reached now (`connection` is ignored): at least every number already
    /// written on any connection. For a stream numbered per connection,
    /// connection `connection`'s last number produced, skipped ones
    /// included and at least every number written to it (`0`, the empty
    /// book, before its subscription). `None` for an unknown stream, one of
    /// another kind, or a per-connection stream without a known
    /// connection.
    ///
    /// ```
    /// # use hypersockets_testkit::{Control, ConnectionId};
    /// # fn show(control: &Control, conn: ConnectionId) {
    /// let snapshot = control.book_snapshot("btcusdt@depth", Some(conn)).unwrap();
    /// let book: serde_json::Value = serde_json::from_str(&snapshot).unwrap();
    /// // Deltas up to `lastUpdateId` are in it: a client applies the later ones.
    /// let last = book["lastUpdateId"].as_u64().unwrap();
    /// # }
    /// ```
    pub fn book_snapshot(&self, stream: &str, connection: Option<ConnectionId>) -> Option<String> {
        let config = self.shared.streams.get(stream)?;
        if !matches!(config.kind(), StreamKind::BookDelta) {
            return None;
        }
        let seq = match config.global_period() {
            Some(period) => {
                // Message `k` is due at `start + k × period`, never written
                // before: the number due by now bounds every one written.
                let elapsed = Instant::now().saturating_duration_since(self.shared.started);
                let reached = elapsed.as_nanos() / period.as_nanos().max(1);
                let reached = u64::try_from(reached).unwrap_or(u64::MAX);
                config
                    .get_limit()
                    .map_or(reached, |limit| reached.min(limit))
            }
            None => {
                let id = connection?;
                self.with(|s| {
                    s.slot(id)
                        .map(|slot| slot.produced.get(stream).copied().unwrap_or(0))
                })?
            }
        };
        Some(config.book_snapshot(seq))
    }

    /// Sends any message to the target connection(s) (not
    /// [`Target::Next`]); it is recorded in [`written`](Self::written) once
    /// written. A Close message closes the connection like
    /// [`Fault::Close`].
    ///
    /// Fails if the target connection is unknown or already closed, or is
    /// [`Target::Next`].
    pub fn send(&self, target: impl Into<Target>, message: WsMessage) -> Result<()> {
        let target = target.into();
        self.shared.update(|s| s.send(target, message))
    }

    /// Refuses the next `count` TCP connections (accepted, then closed at
    /// once, before any handshake), on top of those already to be refused.
    pub fn refuse_connections(&self, count: u64) {
        self.shared.update(|s| s.refuse_next += count);
    }

    /// Refuses every TCP connection for `duration` from now.
    pub fn refuse_connections_for(&self, duration: Duration) {
        let until = Instant::now() + duration;
        self.shared.update(|s| s.refuse_until = Some(until));
    }

    /// Stops refusing connections.
    pub fn accept_connections(&self) {
        self.shared.update(|s| {
            s.refuse_next = 0;
            s.refuse_until = None;
        });
    }

    /// How handshakes are answered from now on, after any queued with
    /// [`respond_next`](Self::respond_next). Default:
    /// [`HandshakeResponse::Accept`].
    pub fn set_handshake_response(&self, response: HandshakeResponse) {
        self.shared.update(|s| s.handshake_default = response);
    }

    /// Answers the next `count` handshakes with `response`, then goes back
    /// to the default.
    pub fn respond_next(&self, count: u32, response: HandshakeResponse) {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        self.shared.update(|s| {
            s.handshake_queue
                .extend(std::iter::repeat_n(response, count));
        });
    }

    /// Starts a scenario, replacing any running one.
    pub fn run(&self, scenario: Scenario) -> ScenarioHandle {
        self.shared.update(|s| s.start_scenario(scenario))
    }

    // ---- waiting ----

    async fn wait_for_state<T>(
        &self,
        what: impl FnOnce() -> String,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
    ) -> Result<T> {
        let mut changes = self.shared.changes();
        let wait = async {
            loop {
                let found = check(&self.shared.lock());
                if let Some(value) = found {
                    return value;
                }
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| TestkitError::Timeout {
                what: what(),
                after: timeout,
            })
    }

    /// Waits until `condition` holds, checking it at once and after every
    /// change the exchange records. `what` names the condition in the
    /// timeout error.
    ///
    /// Cancel safe: dropping the future has no effect.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut condition: impl FnMut(&Control) -> bool,
    ) -> Result<()> {
        let mut changes = self.shared.changes();
        let wait = async {
            while !condition(self) {
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| TestkitError::Timeout {
                what: what.to_owned(),
                after: timeout,
            })
    }

    /// Waits until at least `count` connections have been established in
    /// total, and returns the id of the `count`-th (`ConnectionId(count - 1)`).
    /// `count` 0 is taken as 1.
    ///
    /// Cancel safe: dropping the future has no effect.
    pub async fn wait_for_connections(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Result<ConnectionId> {
        let count = count.max(1);
        self.wait_for_state(
            || format!("{count} connection(s)"),
            timeout,
            |s| s.conns.get(count - 1).map(|c| c.info.id),
        )
        .await
    }

    /// Waits until an open connection is subscribed to `stream`, and returns
    /// the newest such connection.
    ///
    /// Cancel safe: dropping the future has no effect.
    pub async fn wait_for_subscription(
        &self,
        stream: &str,
        timeout: Duration,
    ) -> Result<ConnectionId> {
        self.wait_for_state(
            || format!("a subscription to {stream}"),
            timeout,
            |s| {
                s.conns
                    .iter()
                    .rev()
                    .find(|c| {
                        c.commands.is_some() && c.info.subscriptions.iter().any(|n| n == stream)
                    })
                    .map(|c| c.info.id)
            },
        )
        .await
    }

    /// Waits until at least `count` market data messages have been fully
    /// written to connection `id`. Counted, so any
    /// [`Recording`](crate::Recording) mode will do.
    ///
    /// Cancel safe: dropping the future has no effect.
    pub async fn wait_for_sent(
        &self,
        id: ConnectionId,
        count: usize,
        timeout: Duration,
    ) -> Result<()> {
        self.wait_for_state(
            || format!("{count} message(s) written to connection {id}"),
            timeout,
            |s| {
                s.slot(id)
                    .filter(|c| c.records.summary.data_messages_written >= count as u64)
                    .map(|_| ())
            },
        )
        .await
    }

    /// Waits until connection `id` has received at least `count` messages
    /// from its client. Counted, so any [`Recording`](crate::Recording)
    /// mode will do.
    ///
    /// Cancel safe: dropping the future has no effect.
    pub async fn wait_for_received(
        &self,
        id: ConnectionId,
        count: usize,
        timeout: Duration,
    ) -> Result<()> {
        self.wait_for_state(
            || format!("{count} message(s) received on connection {id}"),
            timeout,
            |s| {
                s.slot(id)
                    .filter(|c| c.records.summary.messages_received >= count as u64)
                    .map(|_| ())
            },
        )
        .await
    }

    /// Waits until connection `id` has ended (its socket closed), and returns
    /// why.
    ///
    /// Cancel safe: dropping the future has no effect.
    pub async fn wait_for_close(&self, id: ConnectionId, timeout: Duration) -> Result<CloseCause> {
        self.wait_for_state(
            || format!("connection {id} to close"),
            timeout,
            |s| match &s.slot(id)?.info.status {
                ConnectionStatus::Closed(cause) => Some(cause.clone()),
                _ => None,
            },
        )
        .await
    }
}
