//! The part of a lane that is the same for threads and tasks: parse what
//! arrived raw, call the handler, count and time it, survive panics.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Instant;

use hypersockets_core::{
    BoxError, ClientEvent, MessageContext, MessageHandler, MessageRouter, WsMessage,
};

use crate::clock::{now_ns, ns_since, wall_ns_since};
use crate::events::EventSink;
use crate::excerpt::{log_parse_failure, panic_message};
use crate::lane::envelope::{Envelope, Payload};
use crate::lane::shared::LaneShared;
use crate::latency::{Stage, StageHistograms, StreamIndex, record};
use crate::metrics::{bump, raise};

/// A handler's result, or the panic it raised.
pub(crate) type HandlerResult = Result<Result<(), BoxError>, Box<dyn Any + Send>>;

pub(crate) struct LaneWorker<R: MessageRouter, H> {
    pub(crate) router: Arc<R>,
    /// `None` for the fallback lane, which parses with the key each message carries.
    pub(crate) key: Option<R::RouteKey>,
    pub(crate) handler: H,
    pub(crate) shared: Arc<LaneShared>,
    pub(crate) events: EventSink,
    /// Whether a reader may be waiting for room (bounded `Block` lanes).
    pub(crate) signal_room: bool,
    /// The lane's own index of its streams' histograms.
    pub(crate) streams: StreamIndex,
}

/// A message ready for the handler; `started` ([`now_ns`]) is not 0 for
/// timed messages, and `stream` holds a timed message's stream's
/// histograms when the lane keeps its stream apart.
struct Opened<M> {
    message: M,
    context: MessageContext,
    started: u64,
    stream: Option<Arc<StageHistograms>>,
}

impl<R: MessageRouter, H: MessageHandler<R::Message>> LaneWorker<R, H> {
    /// Handles one envelope: opens it, runs the handler on it with its
    /// panics caught, records the outcome. A task lane awaits this; a
    /// thread lane calls [`handle_blocking`](Self::handle_blocking).
    #[inline]
    pub(crate) async fn handle(&mut self, envelope: Envelope<R::Message, R::RouteKey>) {
        let Some(Opened {
            message,
            context,
            started,
            stream,
        }) = self.open(envelope)
        else {
            return;
        };
        let received = context.received_at;
        let result = {
            let mut future = pin!(self.handler.handle_in_context(message, context));
            poll_fn(|cx| poll_caught(future.as_mut(), cx)).await
        };
        self.finish(result, started, stream.as_deref(), received);
    }

    /// [`handle`](Self::handle) for a thread lane: parks the thread while
    /// the handler is pending (its waker unparks it; a spurious unpark only
    /// costs a re-poll). Not `handle` polled in a loop: that async wrapper
    /// cost thread lanes 7–10 % of the dispatch bench at 16 keys.
    #[inline]
    pub(crate) fn handle_blocking(
        &mut self,
        envelope: Envelope<R::Message, R::RouteKey>,
        cx: &mut Context<'_>,
    ) {
        let Some(Opened {
            message,
            context,
            started,
            stream,
        }) = self.open(envelope)
        else {
            return;
        };
        let received = context.received_at;
        let result = {
            let mut future = pin!(self.handler.handle_in_context(message, context));
            loop {
                match poll_caught(future.as_mut(), cx) {
                    Poll::Ready(result) => break result,
                    Poll::Pending => std::thread::park(),
                }
            }
        };
        self.finish(result, started, stream.as_deref(), received);
    }
}

/// Polls a handler's future once, catching a panic as its result.
#[inline]
fn poll_caught<F>(future: Pin<&mut F>, cx: &mut Context<'_>) -> Poll<HandlerResult>
where
    F: Future<Output = Result<(), BoxError>>,
{
    match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(panic) => Poll::Ready(Err(panic)),
    }
}

impl<R: MessageRouter, H> LaneWorker<R, H> {
    /// Takes an envelope off the queue: counts it, drops it on abort,
    /// parses a raw payload, finds a timed message's stream. `None` when
    /// there is nothing to hand on.
    #[inline]
    fn open(&mut self, envelope: Envelope<R::Message, R::RouteKey>) -> Option<Opened<R::Message>> {
        let counters = &self.shared.counters;
        bump(&counters.lane.dequeued, 1);
        if self.signal_room {
            self.shared.signal_room();
        }
        if self.shared.abort.load(Relaxed) {
            bump(&counters.lane.dropped_abort, 1);
            return None;
        }
        let queued_at = envelope.queued_at;
        let timed = queued_at != 0;
        let dequeued_at = if timed {
            let now = now_ns();
            let wait = now.saturating_sub(queued_at);
            bump(&counters.lane.wait_ns, wait);
            raise(&counters.lane.max_wait_ns, wait);
            now
        } else {
            0
        };
        let context = envelope.context;
        let (message, parsed_here) = match envelope.payload {
            Payload::Parsed(message) => (message, false),
            Payload::Raw(raw) => (self.parse(self.key.as_ref()?, &raw, &context)?, true),
            Payload::RawKeyed(raw, key) => (self.parse(&key, &raw, &context)?, true),
        };
        if !timed {
            return Some(Opened {
                message,
                context,
                started: 0,
                stream: None,
            });
        }
        // Only for timed messages: the others never ask for their stream.
        let stream = stream_histograms(&*self.router, &message, &mut self.streams, &self.shared);
        let (lane, stream_latency) = (&counters.latency, stream.as_deref());
        let started = if parsed_here {
            let now = now_ns();
            bump(&counters.lane.parse_ns, now.saturating_sub(dequeued_at));
            let read_to_parsed = ns_since(context.received_at, now);
            record(lane, stream_latency, Stage::ReadToParsed, read_to_parsed);
            now
        } else {
            // Parsed on the reader just before it was queued.
            let read_to_parsed = ns_since(context.received_at, queued_at);
            record(lane, stream_latency, Stage::ReadToParsed, read_to_parsed);
            let waited = dequeued_at.saturating_sub(queued_at);
            record(lane, stream_latency, Stage::ParsedToStart, waited);
            dequeued_at
        };
        if let Some(sent) = self.router.exchange_time(&message) {
            let delay = wall_ns_since(sent, context.received_at);
            record(lane, stream_latency, Stage::ExchangeToRead, delay);
        }
        Some(Opened {
            message,
            context,
            started,
            stream,
        })
    }

    fn parse(
        &self,
        key: &R::RouteKey,
        raw: &WsMessage,
        context: &MessageContext,
    ) -> Option<R::Message> {
        parse_in_lane(&*self.router, key, raw, context, &self.shared, &self.events)
    }

    /// Records the outcome of one handler call.
    #[inline]
    fn finish(
        &self,
        result: HandlerResult,
        started: u64,
        stream: Option<&StageHistograms>,
        received: Instant,
    ) {
        let counters = &self.shared.counters;
        if started != 0 {
            let done = now_ns();
            let handle = done.saturating_sub(started);
            bump(&counters.lane.handle_ns, handle);
            bump(&counters.lane.timed, 1);
            let lane = &counters.latency;
            record(lane, stream, Stage::Handle, handle);
            record(lane, stream, Stage::ReadToDone, ns_since(received, done));
        }
        record_result(&self.shared, &self.events, result);
    }
}

/// The histograms of a timed message's stream, when the router places it
/// in one ([`MessageRouter::sequence`]) and the lane keeps that stream
/// apart; otherwise (past the lane's bound, counted) it is timed for the
/// lane only. A panic in the router's `sequence` is caught: the message
/// is then timed for the lane only too (the reader, which asks the same
/// of messages it parses, reports such panics).
#[inline]
pub(crate) fn stream_histograms<R: MessageRouter>(
    router: &R,
    message: &R::Message,
    streams: &mut StreamIndex,
    shared: &LaneShared,
) -> Option<Arc<StageHistograms>> {
    let at = match catch_unwind(AssertUnwindSafe(|| router.sequence(message))) {
        Ok(at) => at?,
        Err(_) => {
            tracing::debug!(lane = %shared.key, "the router's sequence panicked on a timed message");
            return None;
        }
    };
    let counters = &shared.counters;
    let found = streams.find(at.stream, &counters.streams, &shared.key);
    if found.is_none() {
        bump(&counters.lane.untracked_stream_samples, 1);
    }
    found
}

/// Parses a classified message for a lane (on the lane, or on the reader for
/// an inline lane), counting failures against the lane. Panics in the
/// router's code are caught.
pub(crate) fn parse_in_lane<R: MessageRouter>(
    router: &R,
    key: &R::RouteKey,
    raw: &WsMessage,
    context: &MessageContext,
    shared: &LaneShared,
    events: &EventSink,
) -> Option<R::Message> {
    match catch_unwind(AssertUnwindSafe(|| {
        router.parse_in_context(Some(key), raw, context)
    })) {
        Ok(Ok(message)) => Some(message),
        Ok(Err(error)) => {
            bump(&shared.counters.lane.parse_errors, 1);
            log_parse_failure(Some(&shared.key), &error, raw);
            None
        }
        Err(panic) => {
            bump(&shared.counters.lane.parse_errors, 1);
            report_panic(shared, events, "parse", panic.as_ref());
            None
        }
    }
}

/// Counts one finished handler call: delivered, and an error or a panic.
pub(crate) fn record_result(shared: &LaneShared, events: &EventSink, result: HandlerResult) {
    let counters = &shared.counters;
    bump(&counters.lane.delivered, 1);
    match result {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            bump(&counters.lane.handler_errors, 1);
            tracing::warn!(lane = %shared.key, %error, "handler returned an error");
        }
        Err(panic) => {
            bump(&counters.lane.handler_panics, 1);
            report_panic(shared, events, "handler", panic.as_ref());
        }
    }
}

/// Logs a caught panic and reports it as an event. The panic's text is
/// logged at DEBUG only (it can quote a payload); the event carries it for
/// the user's own handler, not for the router's parse, whose panics can
/// quote what the venue sent (as on the reader).
pub(crate) fn report_panic(
    shared: &LaneShared,
    events: &EventSink,
    what: &str,
    panic: &(dyn Any + Send),
) {
    let message = panic_message(panic);
    tracing::error!(lane = %shared.key, "{what} panicked; the lane goes on");
    tracing::debug!(lane = %shared.key, %message, "{what} panic");
    let message = if what == "handler" {
        format!("{what} panicked: {message}")
    } else {
        format!("{what} panicked")
    };
    events(ClientEvent::HandlerPanicked {
        lane: shared.key.clone(),
        message,
    });
}
