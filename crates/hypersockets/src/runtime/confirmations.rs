//! A connection's subscription requests waiting for the venue's answer
//! (with `SubscriptionAcks`): pending → active, or rejected; a request
//! unanswered within the subscribe timeout after it was written is sent
//! again, a few times. A request may carry several subscriptions (a batch
//! of topics): each is settled by the answers to its own keys, or all at
//! once by an answer about the whole request.

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

/// A request on its way to the wire: resolves to its number and sending
/// once written (`None` if it never will be).
type Writing = Pin<Box<dyn Future<Output = Option<(u64, u64)>> + Send>>;

/// What became of a subscription.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Every key of it was accepted.
    Active(String),
    /// Refused: the subscription and the venue's reason.
    Rejected(Subscription, String),
    /// A batch was refused as a whole: ask for each alone, to learn which
    /// the venue refuses.
    Split(Vec<Subscription>, String),
}

/// What a timer brought.
#[derive(Debug)]
pub(crate) enum Due {
    /// A request reached the wire: its timeout started.
    Written,
    /// Unanswered in time: send `message` again (attempt `attempt`), with
    /// `tracked` told when it is written.
    Retry {
        ids: Vec<String>,
        attempt: u32,
        message: WsMessage,
        tracked: oneshot::Sender<()>,
    },
    /// Unanswered after the last attempt: left for the next connection.
    GaveUp { ids: Vec<String>, attempt: u32 },
    /// A batch unanswered in time: ask for each of its subscriptions
    /// alone (a venue that refuses a batch without saying so, or whose
    /// refusal names no request, must not hold the good ones back).
    Split {
        batch: Vec<Subscription>,
        attempt: u32,
    },
}

/// One request waiting for answers.
struct Pending {
    message: WsMessage,
    /// Its subscriptions still unsettled.
    waiting: Vec<Waiting>,
    /// The key of answers about the whole request.
    request_id: Option<String>,
    attempt: u32,
    /// Which sending is the latest (an older one's written notice is
    /// stale).
    sending: u64,
    /// Set once the latest sending is written.
    deadline: Option<Instant>,
}

struct Waiting {
    subscription: Subscription,
    /// Keys still to be accepted.
    keys: Vec<String>,
}

pub(crate) struct Confirmations {
    acks: Arc<dyn SubscriptionAcks>,
    timeout: Duration,
    attempts: u32,
    /// Request number → the request.
    pending: HashMap<u64, Pending>,
    /// Answer key → request number.
    keys: HashMap<String, u64>,
    /// Subscription id → the request number it waits in.
    by_subscription: HashMap<String, u64>,
    writing: FuturesUnordered<Writing>,
    counter: u64,
}

impl Confirmations {
    pub(crate) fn new(acks: Arc<dyn SubscriptionAcks>, timeout: Duration, attempts: u32) -> Self {
        Self {
            acks,
            timeout,
            attempts: attempts.max(1),
            pending: HashMap::new(),
            keys: HashMap::new(),
            by_subscription: HashMap::new(),
            writing: FuturesUnordered::new(),
            counter: 0,
        }
    }

    /// Starts tracking `request`, which carries `subscriptions` (each with
    /// the request that would carry it alone, for its own keys), replacing
    /// earlier requests for them; the sender is to be told when it is
    /// written. `None`: the venue answers nothing to it.
    pub(crate) fn track(
        &mut self,
        request: &WsMessage,
        subscriptions: Vec<(Subscription, &WsMessage)>,
    ) -> Option<oneshot::Sender<()>> {
        let request_id = self.acks.request_id(request);
        let mut waiting = Vec::with_capacity(subscriptions.len());
        for (subscription, alone) in subscriptions {
            self.forget(subscription.id());
            let keys = self.acks.request_keys(alone);
            if !keys.is_empty() || request_id.is_some() {
                waiting.push(Waiting { subscription, keys });
            }
        }
        if waiting.is_empty() {
            return None;
        }
        let number = self.next();
        for waiting in &waiting {
            for key in &waiting.keys {
                self.keys.insert(key.clone(), number);
            }
            self.by_subscription
                .insert(waiting.subscription.id().to_owned(), number);
        }
        if let Some(id) = &request_id {
            self.keys.insert(id.clone(), number);
        }
        let (tracked, sending) = self.sending(number);
        self.pending.insert(
            number,
            Pending {
                message: request.clone(),
                waiting,
                request_id,
                attempt: 1,
                sending,
                deadline: None,
            },
        );
        Some(tracked)
    }

    /// Stops waiting for subscription `id` (unsubscribed or replaced).
    pub(crate) fn forget(&mut self, id: &str) {
        let Some(number) = self.by_subscription.remove(id) else {
            return;
        };
        let Some(pending) = self.pending.get_mut(&number) else {
            return;
        };
        if let Some(index) = pending
            .waiting
            .iter()
            .position(|w| w.subscription.id() == id)
        {
            let waiting = pending.waiting.swap_remove(index);
            for key in &waiting.keys {
                self.release_key(number, key);
            }
        }
        self.drop_if_settled(number);
    }

    /// Whether any request waits for an answer (else messages need no
    /// look).
    pub(crate) fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Reads `message` as an answer, adding what it settled to `verdicts`;
    /// false when it is not one to a pending request (it goes on to the
    /// router).
    pub(crate) fn answer(&mut self, message: &WsMessage, verdicts: &mut Vec<Verdict>) -> bool {
        match self.acks.answer(message) {
            SubscriptionAnswer::Accepted { key } => self.settle_key(&key, None, verdicts),
            SubscriptionAnswer::Rejected { key, reason } => {
                self.settle_key(&key, Some(reason), verdicts)
            }
            SubscriptionAnswer::AcceptedAll { keys } => {
                let mut any = false;
                for key in keys {
                    any |= self.settle_key(&key, None, verdicts);
                }
                any
            }
            _ => false,
        }
    }

    /// Applies one answer, for `key`: accepted, or refused for `refusal`.
    fn settle_key(
        &mut self,
        key: &str,
        refusal: Option<String>,
        verdicts: &mut Vec<Verdict>,
    ) -> bool {
        let Some(&number) = self.keys.get(key) else {
            return false;
        };
        let Some(pending) = self.pending.get_mut(&number) else {
            return false;
        };
        if pending.request_id.as_deref() == Some(key) {
            // About the whole request: every subscription it still carries.
            let waiting = std::mem::take(&mut pending.waiting);
            self.drop_if_settled(number);
            let subscriptions: Vec<Subscription> = waiting
                .into_iter()
                .map(|w| {
                    self.by_subscription.remove(w.subscription.id());
                    w.subscription
                })
                .collect();
            settle(subscriptions, refusal, verdicts);
            return true;
        }
        let mut settled = Vec::new();
        let mut index = 0;
        while index < pending.waiting.len() {
            let waiting = &mut pending.waiting[index];
            let Some(at) = waiting.keys.iter().position(|k| *k == key) else {
                index += 1;
                continue;
            };
            waiting.keys.swap_remove(at);
            if refusal.is_some() || waiting.keys.is_empty() {
                let waiting = pending.waiting.swap_remove(index);
                for key in &waiting.keys {
                    if self.keys.get(key) == Some(&number) {
                        self.keys.remove(key);
                    }
                }
                settled.push(waiting.subscription);
            } else {
                index += 1;
            }
        }
        self.keys.remove(key);
        self.drop_if_settled(number);
        for subscription in &settled {
            self.by_subscription.remove(subscription.id());
        }
        settle(settled, refusal, verdicts);
        true
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
            if let Some((number, sending)) = written
                && let Some(pending) = self.pending.get_mut(&number)
                && pending.sending == sending
            {
                pending.deadline = Some(Instant::now() + self.timeout);
                return Due::Written;
            }
        }
    }

    /// The earliest overdue request: sent again, or given up.
    fn time_out(&mut self, now: Instant) -> Due {
        let Some(number) = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline.is_some_and(|d| d <= now))
            .min_by_key(|(_, p)| p.deadline)
            .map(|(number, _)| *number)
        else {
            return Due::Written;
        };
        let attempt = self.pending[&number].attempt;
        if self.pending[&number].waiting.len() > 1 {
            let batch = self.take(number);
            return Due::Split { batch, attempt };
        }
        if attempt >= self.attempts {
            let ids = self.remove(number);
            return Due::GaveUp { ids, attempt };
        }
        let (tracked, sending) = self.sending(number);
        let Some(pending) = self.pending.get_mut(&number) else {
            return Due::Written;
        };
        pending.attempt += 1;
        pending.sending = sending;
        pending.deadline = None;
        Due::Retry {
            ids: pending
                .waiting
                .iter()
                .map(|w| w.subscription.id().to_owned())
                .collect(),
            attempt,
            message: pending.message.clone(),
            tracked,
        }
    }

    /// Removes request `number` and its keys: the ids it carried.
    fn remove(&mut self, number: u64) -> Vec<String> {
        self.take(number)
            .iter()
            .map(|s| s.id().to_owned())
            .collect()
    }

    /// Removes request `number` and its keys: the subscriptions it carried.
    fn take(&mut self, number: u64) -> Vec<Subscription> {
        let Some(pending) = self.pending.remove(&number) else {
            return Vec::new();
        };
        self.keys.retain(|_, n| *n != number);
        pending
            .waiting
            .into_iter()
            .map(|w| {
                self.by_subscription.remove(w.subscription.id());
                w.subscription
            })
            .collect()
    }

    /// Removes request `number` once it carries nothing unsettled.
    fn drop_if_settled(&mut self, number: u64) {
        if self
            .pending
            .get(&number)
            .is_some_and(|p| p.waiting.is_empty())
        {
            self.remove(number);
        }
    }

    /// Frees `key` unless another subscription of request `number` still
    /// waits on it.
    fn release_key(&mut self, number: u64, key: &str) {
        let shared = self
            .pending
            .get(&number)
            .is_some_and(|p| p.waiting.iter().any(|w| w.keys.iter().any(|k| k == key)));
        if !shared && self.keys.get(key) == Some(&number) {
            self.keys.remove(key);
        }
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A new sending of request `number`, and the sender its writer tells.
    fn sending(&mut self, number: u64) -> (oneshot::Sender<()>, u64) {
        let sending = self.next();
        let (tracked, written) = oneshot::channel();
        self.writing.push(Box::pin(async move {
            written.await.ok().map(|()| (number, sending))
        }));
        (tracked, sending)
    }
}

/// The verdicts for `subscriptions` settled together: accepted, or
/// refused (one alone is rejected; several are split).
fn settle(subscriptions: Vec<Subscription>, refusal: Option<String>, out: &mut Vec<Verdict>) {
    match refusal {
        None => out.extend(
            subscriptions
                .into_iter()
                .map(|s| Verdict::Active(s.id().to_owned())),
        ),
        Some(reason) if subscriptions.len() > 1 => {
            out.push(Verdict::Split(subscriptions, reason));
        }
        Some(reason) => out.extend(
            subscriptions
                .into_iter()
                .map(|s| Verdict::Rejected(s, reason.clone())),
        ),
    }
}
