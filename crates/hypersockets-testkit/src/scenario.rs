//! Scenarios: a script of faults and refusals that runs by itself, step by
//! step, each step at an exact point (after so many messages, at the next
//! connection), so tests are deterministic.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::state::State;
use crate::{ConnectionId, Fault, HandshakeResponse, Result, TestkitError};

/// A script of faults and refusals, run in order by
/// [`Control::run`](crate::Control::run).
///
/// Steps that act on a connection act on *the current connection*: the
/// newest open connection that no earlier step has ended, or, when there is
/// none, the next connection to complete its handshake. Steps that wait
/// (for messages, for a connection) hold back every later step; steps that
/// do not wait run at once, in the same instant as the step before, so
/// nothing can slip in between (a client cannot reconnect between a drop and
/// the refusal that follows it).
///
/// "After 500 messages drop the connection; refuse the next 2 connects":
///
/// ```
/// use hypersockets_testkit::{Fault, Scenario};
///
/// let scenario = Scenario::new()
///     .after_messages(500, Fault::DropTcp)
///     .refuse_next(2);
/// # drop(scenario);
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a scenario does nothing until it is run"]
pub struct Scenario {
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
enum Step {
    AfterMessages(u64, Fault),
    RefuseNext(u64),
    RefuseFor(Duration),
    Respond(u32, HandshakeResponse),
    WaitForConnection,
}

impl Scenario {
    /// An empty scenario.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits until `count` more market data messages have been fully written
    /// to the current connection, then commits `fault` on it, before
    /// writing anything more. The count starts when the step is reached (for
    /// a connection that opens later: from its first message). If the
    /// connection ends first, the step moves on to the next connection and
    /// counts afresh.
    pub fn after_messages(mut self, count: u64, fault: Fault) -> Self {
        self.steps.push(Step::AfterMessages(count, fault));
        self
    }

    /// Commits `fault` on the current connection at once (or on the next
    /// connection, right after its handshake, when none is open).
    pub fn fault(self, fault: Fault) -> Self {
        self.after_messages(0, fault)
    }

    /// Refuses the next `count` TCP connections: accepts and closes them at
    /// once, before any handshake.
    pub fn refuse_next(mut self, count: u64) -> Self {
        self.steps.push(Step::RefuseNext(count));
        self
    }

    /// Refuses every TCP connection for `duration` from this step on.
    pub fn refuse_for(mut self, duration: Duration) -> Self {
        self.steps.push(Step::RefuseFor(duration));
        self
    }

    /// Answers the next `count` handshakes with `response`.
    pub fn respond_next(mut self, count: u32, response: HandshakeResponse) -> Self {
        self.steps.push(Step::Respond(count, response));
        self
    }

    /// Waits for a new connection (one that completes its handshake after
    /// this step is reached); it becomes the current connection.
    pub fn wait_for_connection(mut self) -> Self {
        self.steps.push(Step::WaitForConnection);
        self
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether it has no step.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// A scenario being run.
#[derive(Debug)]
pub(crate) struct ScenarioRun {
    steps: VecDeque<Step>,
    waiting: Option<Waiting>,
    done: watch::Sender<bool>,
}

#[derive(Debug)]
enum Waiting {
    /// For `count` messages on `conn` (armed there), or for a connection to
    /// count them on.
    Messages {
        count: u64,
        fault: Fault,
        conn: Option<ConnectionId>,
    },
    /// For a connection with an id at least this.
    Connection { from: u64 },
}

/// Follows a running scenario.
#[derive(Clone, Debug)]
pub struct ScenarioHandle {
    done: watch::Receiver<bool>,
}

impl ScenarioHandle {
    /// Whether every step has been carried out (faults for other connections
    /// have been handed to them, not necessarily carried out yet).
    pub fn is_finished(&self) -> bool {
        *self.done.borrow()
    }

    /// Waits until every step has been carried out.
    ///
    /// Fails with [`TestkitError::Timeout`] after `timeout`, or with
    /// [`TestkitError::ScenarioReplaced`] if another scenario was run before
    /// this one finished.
    ///
    /// Cancel safe: dropping the future has no effect on the scenario.
    pub async fn finished(&self, timeout: Duration) -> Result<()> {
        let mut done = self.done.clone();
        match tokio::time::timeout(timeout, done.wait_for(|done| *done)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(TestkitError::ScenarioReplaced),
            Err(_) => Err(TestkitError::Timeout {
                what: "the scenario to finish".to_owned(),
                after: timeout,
            }),
        }
    }
}

impl State {
    /// Starts `scenario`, replacing any running one; returns the faults for
    /// connections to carry out (all through their channels: the caller is
    /// not a connection).
    pub(crate) fn start_scenario(&mut self, scenario: Scenario) -> ScenarioHandle {
        let (done, receiver) = watch::channel(false);
        self.scenario = Some(ScenarioRun {
            steps: scenario.steps.into(),
            waiting: None,
            done,
        });
        for slot in &mut self.conns {
            slot.arm = None;
        }
        self.scenario_advance(None, &mut Vec::new());
        ScenarioHandle { done: receiver }
    }

    /// Runs steps until one waits or none is left.
    fn scenario_advance(&mut self, caller: Option<ConnectionId>, out: &mut Vec<Fault>) {
        loop {
            let Some(run) = self.scenario.as_mut() else {
                return;
            };
            if run.waiting.is_some() {
                return;
            }
            let Some(step) = run.steps.pop_front() else {
                run.done.send_replace(true);
                self.scenario = None;
                return;
            };
            tracing::debug!(?step, "scenario step");
            match step {
                Step::RefuseNext(count) => self.refuse_next += count,
                Step::RefuseFor(duration) => {
                    let until = Instant::now() + duration;
                    self.refuse_until = Some(self.refuse_until.map_or(until, |u| u.max(until)));
                }
                Step::Respond(count, response) => {
                    for _ in 0..count {
                        self.handshake_queue.push_back(response.clone());
                    }
                }
                Step::WaitForConnection => {
                    let from = self.conns.len() as u64;
                    if let Some(run) = self.scenario.as_mut() {
                        run.waiting = Some(Waiting::Connection { from });
                    }
                }
                Step::AfterMessages(count, fault) => {
                    let target = self.newest_target();
                    self.arm(target, count, fault, caller, out);
                }
            }
        }
    }

    /// Arms an after-messages step on `target` (or on the next connection).
    fn arm(
        &mut self,
        target: Option<ConnectionId>,
        count: u64,
        fault: Fault,
        caller: Option<ConnectionId>,
        out: &mut Vec<Fault>,
    ) {
        match target {
            Some(id) if count == 0 => self.deliver(id, fault, caller, out),
            Some(id) => {
                if let Some(slot) = self.slot_mut(id) {
                    slot.arm = Some(slot.info.data_messages_written + count);
                }
                if let Some(run) = self.scenario.as_mut() {
                    run.waiting = Some(Waiting::Messages {
                        count,
                        fault,
                        conn: Some(id),
                    });
                }
            }
            None => {
                if let Some(run) = self.scenario.as_mut() {
                    run.waiting = Some(Waiting::Messages {
                        count,
                        fault,
                        conn: None,
                    });
                }
            }
        }
    }

    /// Connection `id` completed its handshake; it is the caller.
    pub(crate) fn scenario_on_connect(&mut self, id: ConnectionId, out: &mut Vec<Fault>) {
        let Some(run) = self.scenario.as_mut() else {
            return;
        };
        match run.waiting.take() {
            Some(Waiting::Messages {
                count,
                fault,
                conn: None,
            }) => {
                self.arm(Some(id), count, fault, Some(id), out);
                self.scenario_advance(Some(id), out);
            }
            Some(Waiting::Connection { from }) if id.get() >= from => {
                self.scenario_advance(Some(id), out);
            }
            other => run.waiting = other,
        }
    }

    /// Connection `id` reached the message count armed on it; it is the
    /// caller.
    pub(crate) fn scenario_on_threshold(&mut self, id: ConnectionId, out: &mut Vec<Fault>) {
        let Some(run) = self.scenario.as_mut() else {
            return;
        };
        match run.waiting.take() {
            Some(Waiting::Messages {
                fault,
                conn: Some(conn),
                ..
            }) if conn == id => {
                self.deliver(id, fault, Some(id), out);
                self.scenario_advance(Some(id), out);
            }
            other => run.waiting = other,
        }
    }

    /// Connection `id` ended: a step waiting on it moves to the next one.
    pub(crate) fn scenario_on_close(&mut self, id: ConnectionId) {
        let Some(run) = self.scenario.as_mut() else {
            return;
        };
        match run.waiting.take() {
            Some(Waiting::Messages {
                count,
                fault,
                conn: Some(conn),
            }) if conn == id => {
                let target = self.newest_target();
                self.arm(target, count, fault, None, &mut Vec::new());
                self.scenario_advance(None, &mut Vec::new());
            }
            other => run.waiting = other,
        }
    }
}
