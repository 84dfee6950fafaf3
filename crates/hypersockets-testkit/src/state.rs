//! The state shared by the accept loop, the connections and the control
//! handles: what was observed, and the commands waiting to be carried out.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hypersockets_core::WsMessage;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::recording::Records;
use crate::scenario::ScenarioRun;
use crate::{
    CloseCause, ConnectionId, ConnectionInfo, ConnectionStatus, ExchangeConfig, Fault,
    HandshakeRecord, HandshakeResponse, KeepaliveStats, Result, SentRecord, StreamConfig,
    StreamFault, Target, TestkitError,
};

/// A command to one connection's task.
#[derive(Debug)]
pub(crate) enum Command {
    Fault(Fault),
    Send(WsMessage),
    /// A fault for the next messages of this stream.
    StreamFault(Arc<str>, StreamFault),
}

/// Everything the exchange's tasks and handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ExchangeConfig,
    pub(crate) streams: HashMap<String, Arc<StreamConfig>>,
    /// When the exchange started, on tokio's clock: the origin of global
    /// streams' schedules and of the times in shutdown notices.
    pub(crate) started: Instant,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
    pub(crate) shutdown: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn new(config: ExchangeConfig) -> Self {
        let streams = config
            .streams
            .iter()
            .map(|s| (s.name().to_owned(), Arc::new(s.clone())))
            .collect();
        let state = State {
            keep: config.recording.limit(),
            ..State::default()
        };
        Self {
            config,
            streams,
            started: Instant::now(),
            state: Mutex::new(state),
            changed: watch::Sender::new(0),
            shutdown: watch::Sender::new(false),
        }
    }

    /// The state, locked. Never held across an `.await`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state, then wakes everyone waiting for a change.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
        result
    }

    /// A receiver that sees every later change.
    pub(crate) fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

/// One connection's records.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) info: ConnectionInfo,
    /// Counts, checksums and the ring (or all) of its messages.
    pub(crate) records: Records,
    /// `None` once the connection has ended.
    pub(crate) commands: Option<mpsc::UnboundedSender<Command>>,
    /// A fault that ends it has been given to it: scenario steps look past it.
    pub(crate) doomed: bool,
    /// The scenario step waiting on it fires when this many data messages
    /// have been written.
    pub(crate) arm: Option<u64>,
    /// The last number produced on each book stream numbered per
    /// connection, for `Control::book_snapshot`.
    pub(crate) produced: HashMap<Arc<str>, u64>,
}

/// The mutable state.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// How many messages each way a connection's ring keeps (`None`: all).
    pub(crate) keep: Option<usize>,
    pub(crate) conns: Vec<Slot>,
    pub(crate) handshakes: Vec<HandshakeRecord>,
    pub(crate) attempts: u64,
    pub(crate) refused: u64,
    pub(crate) refuse_next: u64,
    pub(crate) refuse_until: Option<Instant>,
    pub(crate) handshake_default: HandshakeResponse,
    pub(crate) handshake_queue: VecDeque<HandshakeResponse>,
    pub(crate) next_faults: Vec<Fault>,
    pub(crate) scenario: Option<ScenarioRun>,
}

impl State {
    pub(crate) fn slot(&self, id: ConnectionId) -> Option<&Slot> {
        self.conns.get(id.index())
    }

    pub(crate) fn slot_mut(&mut self, id: ConnectionId) -> Option<&mut Slot> {
        self.conns.get_mut(id.index())
    }

    /// A TCP connection was accepted: how to answer its handshake, or `None`
    /// to refuse it (close it at once).
    pub(crate) fn admit(&mut self, now: Instant) -> Option<HandshakeResponse> {
        self.attempts += 1;
        if self.refuse_next > 0 {
            self.refuse_next -= 1;
            self.refused += 1;
            return None;
        }
        if self.refuse_until.is_some_and(|until| now < until) {
            self.refused += 1;
            return None;
        }
        Some(
            self.handshake_queue
                .pop_front()
                .unwrap_or_else(|| self.handshake_default.clone()),
        )
    }

    pub(crate) fn record_handshake(
        &mut self,
        path: String,
        headers: Vec<(String, String)>,
        response: HandshakeResponse,
    ) -> usize {
        self.handshakes.push(HandshakeRecord {
            path,
            headers,
            response,
            connection: None,
            at: std::time::Instant::now(),
        });
        self.handshakes.len() - 1
    }

    /// A handshake completed: the new connection's id, and the faults it must
    /// carry out before anything else.
    pub(crate) fn register(
        &mut self,
        handshake: Option<usize>,
        peer: SocketAddr,
        path: String,
        headers: Vec<(String, String)>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> (ConnectionId, Vec<Fault>) {
        let id = ConnectionId::new(self.conns.len() as u64);
        if let Some(record) = handshake.and_then(|i| self.handshakes.get_mut(i)) {
            record.connection = Some(id);
        }
        self.conns.push(Slot {
            info: ConnectionInfo {
                id,
                peer,
                path,
                headers,
                status: ConnectionStatus::Open,
                subscriptions: Vec::new(),
                authenticated: false,
                data_messages_written: 0,
                keepalive: KeepaliveStats::default(),
            },
            records: Records::default(),
            commands: Some(commands),
            doomed: false,
            arm: None,
            produced: HashMap::new(),
        });
        let mut faults = Vec::new();
        for fault in std::mem::take(&mut self.next_faults) {
            self.deliver(id, fault, Some(id), &mut faults);
        }
        self.scenario_on_connect(id, &mut faults);
        (id, faults)
    }

    /// Gives `fault` to connection `id`: into `out` when `id` is the caller,
    /// else through its command channel.
    pub(crate) fn deliver(
        &mut self,
        id: ConnectionId,
        fault: Fault,
        caller: Option<ConnectionId>,
        out: &mut Vec<Fault>,
    ) {
        let Some(slot) = self.slot_mut(id) else {
            return;
        };
        if fault.is_terminal() {
            slot.doomed = true;
        }
        if caller == Some(id) {
            out.push(fault);
        } else if let Some(commands) = &slot.commands {
            let _ = commands.send(Command::Fault(fault));
        }
    }

    /// The connection scenario steps act on: the newest one that is open
    /// and has no ending fault coming.
    pub(crate) fn newest_target(&self) -> Option<ConnectionId> {
        self.conns
            .iter()
            .rev()
            .find(|slot| {
                slot.commands.is_some()
                    && !slot.doomed
                    && slot.info.status == ConnectionStatus::Open
            })
            .map(|slot| slot.info.id)
    }

    pub(crate) fn inject(&mut self, target: Target, fault: Fault) -> Result<()> {
        match target {
            Target::Next => self.next_faults.push(fault),
            Target::All => {
                let open: Vec<_> = self
                    .conns
                    .iter()
                    .filter(|slot| slot.commands.is_some())
                    .map(|slot| slot.info.id)
                    .collect();
                for id in open {
                    self.deliver(id, fault.clone(), None, &mut Vec::new());
                }
            }
            Target::Connection(id) => {
                let slot = self.slot(id).ok_or(TestkitError::UnknownConnection(id))?;
                if slot.commands.is_none() {
                    return Err(TestkitError::ConnectionClosed(id));
                }
                self.deliver(id, fault, None, &mut Vec::new());
            }
        }
        Ok(())
    }

    /// Gives a stream fault to the target connection(s); `stream` has been
    /// checked.
    pub(crate) fn stream_fault(
        &mut self,
        target: Target,
        stream: &Arc<str>,
        fault: StreamFault,
    ) -> Result<()> {
        let senders = self.open_senders(
            target,
            "stream faults need open connections: Target::Connection or Target::All",
        )?;
        for commands in senders {
            let _ = commands.send(Command::StreamFault(Arc::clone(stream), fault));
        }
        Ok(())
    }

    /// Connection `id` produced number `seq` of `stream`.
    pub(crate) fn set_produced(&mut self, id: ConnectionId, stream: &Arc<str>, seq: u64) {
        if let Some(slot) = self.slot_mut(id) {
            match slot.produced.get_mut(&**stream) {
                Some(last) => *last = seq,
                None => {
                    slot.produced.insert(Arc::clone(stream), seq);
                }
            }
        }
    }

    /// The command queues of the open connections `target` names; `next`
    /// says why `Target::Next` cannot be one.
    fn open_senders(
        &self,
        target: Target,
        next: &'static str,
    ) -> Result<Vec<&mpsc::UnboundedSender<Command>>> {
        Ok(match target {
            Target::Next => return Err(TestkitError::InvalidTarget(next)),
            Target::All => self
                .conns
                .iter()
                .filter_map(|slot| slot.commands.as_ref())
                .collect(),
            Target::Connection(id) => {
                let slot = self.slot(id).ok_or(TestkitError::UnknownConnection(id))?;
                vec![
                    slot.commands
                        .as_ref()
                        .ok_or(TestkitError::ConnectionClosed(id))?,
                ]
            }
        })
    }

    pub(crate) fn send(&mut self, target: Target, message: WsMessage) -> Result<()> {
        let senders = self.open_senders(target, "messages can only be sent to open connections")?;
        if let Some((last, others)) = senders.split_last() {
            for commands in others {
                let _ = commands.send(Command::Send(message.clone()));
            }
            let _ = last.send(Command::Send(message));
        }
        Ok(())
    }

    pub(crate) fn record_received(&mut self, id: ConnectionId, message: WsMessage) {
        let keep = self.keep;
        if let Some(slot) = self.slot_mut(id) {
            slot.records.record_received(message, keep);
        }
    }

    pub(crate) fn record_written(&mut self, id: ConnectionId, message: WsMessage) {
        let keep = self.keep;
        if let Some(slot) = self.slot_mut(id) {
            slot.records.record_written(message, keep);
        }
    }

    /// A market data message was fully written: records it, and returns the
    /// faults that are now due on this connection.
    pub(crate) fn record_data(&mut self, id: ConnectionId, record: SentRecord) -> Vec<Fault> {
        let keep = self.keep;
        let Some(slot) = self.slot_mut(id) else {
            return Vec::new();
        };
        slot.records.record_data(record, keep);
        slot.info.data_messages_written += 1;
        let mut faults = Vec::new();
        if slot
            .arm
            .is_some_and(|at| slot.info.data_messages_written >= at)
        {
            slot.arm = None;
            self.scenario_on_threshold(id, &mut faults);
        }
        faults
    }

    pub(crate) fn stats(&mut self, id: ConnectionId, f: impl FnOnce(&mut KeepaliveStats)) {
        if let Some(slot) = self.slot_mut(id) {
            f(&mut slot.info.keepalive);
        }
    }

    pub(crate) fn set_subscriptions(&mut self, id: ConnectionId, streams: Vec<String>) {
        if let Some(slot) = self.slot_mut(id) {
            slot.info.subscriptions = streams;
        }
    }

    pub(crate) fn set_authenticated(&mut self, id: ConnectionId, authenticated: bool) {
        if let Some(slot) = self.slot_mut(id) {
            slot.info.authenticated = authenticated;
        }
    }

    pub(crate) fn set_silent(&mut self, id: ConnectionId) {
        if let Some(slot) = self.slot_mut(id) {
            slot.info.status = ConnectionStatus::Silent;
        }
    }

    /// The connection ended and its socket is closed.
    pub(crate) fn close(&mut self, id: ConnectionId, cause: CloseCause) {
        if let Some(slot) = self.slot_mut(id) {
            slot.info.status = ConnectionStatus::Closed(cause);
            slot.commands = None;
            slot.arm = None;
        }
        self.scenario_on_close(id);
    }
}
