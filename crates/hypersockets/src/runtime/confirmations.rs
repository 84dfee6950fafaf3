//! A connection's subscription requests waiting for the venue's answer
//! (with `SubscriptionAcks`): pending → active, or rejected; a request
//! unanswered within the subscribe timeout after it was written is sent
//! again, a few times.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hypersockets_core::{SubscriptionAcks, SubscriptionAnswer, WsMessage};
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::subscription::Subscription;

/// A request on its way to the wire: resolves to the subscription's id and
/// the request's number once written (`None` if it never will be).
type Writing = Pin<Box<dyn Future<Output = Option<(String, u64)>> + Send>>;

/// What became of a subscription.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Every key of its request was accepted.
    Active(String),
    /// Refused: the subscription and the venue's reason.
    Rejected(Subscription, String),
    /// An answer to it; it waits for more.
    Partial,
}

/// What a timer brought.
#[derive(Debug)]
pub(crate) enum Due {
    /// A request reached the wire: its timeout started.
    Written,
    /// Unanswered in time: send `message` again (attempt `attempt`), with
    /// `tracked` told when it is written.
    Retry {
        id: String,
        attempt: u32,
        message: WsMessage,
        tracked: oneshot::Sender<()>,
    },
    /// Unanswered after the last attempt: left for the next connection.
    GaveUp { id: String, attempt: u32 },
}

struct Pending {
    subscription: Subscription,
    /// Keys still to be accepted.
    keys: Vec<String>,
    attempt: u32,
    /// Which request is the latest (an older one's written notice is
    /// stale).
    request: u64,
    /// Set once the latest request is written.
    deadline: Option<Instant>,
}

pub(crate) struct Confirmations {
    acks: Arc<dyn SubscriptionAcks>,
    timeout: Duration,
    attempts: u32,
    /// Subscription id → its request waiting for answers.
    pending: HashMap<String, Pending>,
    /// Answer key → subscription id.
    keys: HashMap<String, String>,
    writing: FuturesUnordered<Writing>,
    requests: u64,
}

impl Confirmations {
    pub(crate) fn new(acks: Arc<dyn SubscriptionAcks>, timeout: Duration, attempts: u32) -> Self {
        Self {
            acks,
            timeout,
            attempts: attempts.max(1),
            pending: HashMap::new(),
            keys: HashMap::new(),
            writing: FuturesUnordered::new(),
            requests: 0,
        }
    }

    /// Starts tracking `subscription`'s request (replacing an earlier
    /// request of the same id); the sender is to be told when it is
    /// written. `None`: the venue answers nothing to it.
    pub(crate) fn track(&mut self, subscription: &Subscription) -> Option<oneshot::Sender<()>> {
        self.forget(subscription.id());
        let keys = self.acks.request_keys(subscription.subscribe());
        if keys.is_empty() {
            return None;
        }
        for key in &keys {
            self.keys.insert(key.clone(), subscription.id().to_owned());
        }
        let (tracked, request) = self.next_request(subscription.id());
        self.pending.insert(
            subscription.id().to_owned(),
            Pending {
                subscription: subscription.clone(),
                keys,
                attempt: 1,
                request,
                deadline: None,
            },
        );
        Some(tracked)
    }

    /// Stops waiting for `id` (unsubscribed or replaced).
    pub(crate) fn forget(&mut self, id: &str) {
        if let Some(pending) = self.pending.remove(id) {
            for key in pending.keys {
                self.keys.remove(&key);
            }
        }
    }

    /// Whether any request waits for an answer (else messages need no
    /// look).
    pub(crate) fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Reads `message` as an answer; `None` when it is not one to a
    /// pending request (it goes on to the router).
    pub(crate) fn answer(&mut self, message: &WsMessage) -> Option<Verdict> {
        let (key, refusal) = match self.acks.answer(message) {
            SubscriptionAnswer::Accepted { key } => (key, None),
            SubscriptionAnswer::Rejected { key, reason } => (key, Some(reason)),
            _ => return None,
        };
        let id = self.keys.remove(&key)?;
        if let Some(reason) = refusal {
            let pending = self.pending.remove(&id)?;
            for key in &pending.keys {
                self.keys.remove(key);
            }
            return Some(Verdict::Rejected(pending.subscription, reason));
        }
        let pending = self.pending.get_mut(&id)?;
        pending.keys.retain(|k| *k != key);
        if pending.keys.is_empty() {
            self.pending.remove(&id);
            return Some(Verdict::Active(id));
        }
        Some(Verdict::Partial)
    }

    /// Waits for a request to be written or to time out; never resolves
    /// while nothing is pending. Cancel safe.
    pub(crate) async fn due(&mut self) -> Due {
        loop {
            let deadline = self.pending.values().filter_map(|p| p.deadline).min();
            let writing = &mut self.writing;
            let written = tokio::select! {
                Some(written) = writing.next(), if !writing.is_empty() => Some(written),
                () = crate::runtime::session::sleep_until(deadline) => None,
            };
            let Some(written) = written else {
                return self.time_out(Instant::now());
            };
            if let Some((id, request)) = written
                && let Some(pending) = self.pending.get_mut(&id)
                && pending.request == request
            {
                pending.deadline = Some(Instant::now() + self.timeout);
                return Due::Written;
            }
        }
    }

    /// The earliest overdue request: sent again, or given up.
    fn time_out(&mut self, now: Instant) -> Due {
        let Some(id) = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .min_by_key(|(_, p)| p.deadline)
            .map(|(id, _)| id.clone())
        else {
            return Due::Written;
        };
        let attempt = self.pending[&id].attempt;
        if attempt >= self.attempts {
            self.forget(&id);
            return Due::GaveUp { id, attempt };
        }
        let (tracked, request) = self.next_request(&id);
        let Some(pending) = self.pending.get_mut(&id) else {
            return Due::Written;
        };
        pending.attempt += 1;
        pending.request = request;
        pending.deadline = None;
        Due::Retry {
            id,
            attempt,
            message: pending.subscription.subscribe().clone(),
            tracked,
        }
    }

    /// A new request number for `id`, and the sender its writer tells.
    fn next_request(&mut self, id: &str) -> (oneshot::Sender<()>, u64) {
        self.requests += 1;
        let request = self.requests;
        let (tracked, written) = oneshot::channel();
        let id = id.to_owned();
        self.writing.push(Box::pin(async move {
            written.await.ok().map(|()| (id, request))
        }));
        (tracked, request)
    }
}
