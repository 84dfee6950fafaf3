//! The memory budget: with a handler stuck, the dispatcher queues until the
//! lanes hold more than the budget's bytes, then says `Blocked`; `ready()`
//! waits (reporting it once, as an event and a count) until the lanes have
//! drained to half the budget; nothing is lost or reordered. Unbounded only
//! when asked for by name.

mod support;

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use hypersockets_core::{ClientEvent, MessageContext};
use hypersockets_router::{
    Dispatch, LaneConfig, LaneKind, MemoryBudget, OverflowPolicy, RouterBuilder, ShutdownMode,
};
use support::{
    Gate, GateWait, KINDS, Recorder, TestRouter, dispatch, event_channel, lane, next_event,
    next_seen, seen_channel, seqs, text, text_with, until_closed, within,
};

/// The budget under test: about a hundred of the test's messages (each
/// counts its payload plus `MESSAGE_OVERHEAD`), so a chunk of 64 passes it.
const LIMIT: usize = 64 << 10;

/// Polls `future` once with the task's real waker: `true` if it is pending.
async fn pending_now<F: Future>(future: std::pin::Pin<&mut F>) -> bool {
    let mut future = future;
    poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx).is_pending())).await
}

/// The lanes under test: unbounded (chunked) and bounded (per message).
fn configs(kind: LaneKind) -> [LaneConfig; 2] {
    [
        lane(kind),
        lane(kind).capacity(100_000).overflow(OverflowPolicy::Block),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_handler_blocks_the_reader_at_the_budget_and_loses_nothing() {
    for kind in KINDS {
        for config in configs(kind) {
            let gate = Gate::new();
            let (tx, mut seen) = seen_channel();
            let (on_event, mut events) = event_channel();
            let mut dispatcher = RouterBuilder::new(TestRouter::classifying())
                .memory_budget(MemoryBudget::Bytes(LIMIT))
                .on_event(on_event)
                .handler_with_config(
                    1,
                    Recorder::new(Some(1), &tx).gated(&gate, GateWait::for_kind(kind)),
                    config.clone(),
                )
                .build()
                .expect("build");
            drop(tx);
            let stats = dispatcher.stats();
            assert_eq!(stats.snapshot().memory_budget, Some(LIMIT as u64));

            // The handler holds on message 0: nothing more leaves the queue.
            assert_eq!(
                dispatcher.dispatch(text_with(1, 0, "do=hold"), MessageContext::now(1)),
                Dispatch::Queued
            );
            dispatcher.flush();
            assert_eq!(next_seen(&mut seen).await.msg.seq, 0);

            let mut next = 1;
            let mut queued_bytes = 0;
            loop {
                let message = text(1, next);
                let bytes = message.len() + MemoryBudget::MESSAGE_OVERHEAD;
                next += 1;
                // Blocked, here, is queued too: the budget stops what comes next.
                let outcome = dispatcher.dispatch(message, MessageContext::now(1));
                queued_bytes += bytes;
                match outcome {
                    Dispatch::Queued => {}
                    Dispatch::Blocked => break,
                    other => panic!("{kind:?} {config:?}: unexpected {other:?}"),
                }
                assert!(
                    queued_bytes <= 2 * LIMIT,
                    "{kind:?} {config:?}: never blocked"
                );
            }
            assert!(
                queued_bytes > LIMIT,
                "{kind:?}: blocked early at {queued_bytes}"
            );
            let figures = stats.snapshot();
            assert!(figures.queued_bytes > LIMIT as u64, "{figures:?}");
            assert_eq!(figures.backpressure_waits, 0);

            // `ready` waits: the handler is stuck, so the queues cannot drain.
            {
                let mut ready = pin!(dispatcher.ready());
                assert!(
                    pending_now(ready.as_mut()).await,
                    "{kind:?}: ready at the budget"
                );
                match next_event(&mut events).await {
                    ClientEvent::MemoryBudgetReached {
                        queued_bytes,
                        limit,
                    } => {
                        assert_eq!(limit, LIMIT);
                        assert!(queued_bytes > LIMIT);
                    }
                    other => panic!("unexpected event {other:?}"),
                }
                assert_eq!(stats.snapshot().backpressure_waits, 1);
            }
            // Cancelled and called again (as the read loop does to answer a
            // command): the same wait, counted and reported once.
            {
                let mut ready = pin!(dispatcher.ready());
                assert!(
                    pending_now(ready.as_mut()).await,
                    "{kind:?}: still at the budget"
                );
                assert_eq!(stats.snapshot().backpressure_waits, 1);
                assert!(events.try_recv().is_err(), "reported once");

                gate.open();
                assert_eq!(within("room", ready).await, Dispatch::Queued);
            }
            assert!(stats.snapshot().queued_bytes <= LIMIT as u64 / 2 + 64);

            // The rest goes through, waiting whenever told to.
            let total = next + 500;
            while next < total {
                assert_eq!(
                    dispatch(&mut dispatcher, text(1, next)).await,
                    Dispatch::Queued
                );
                next += 1;
            }
            dispatcher.shutdown(ShutdownMode::Graceful).await;
            let mut all = vec![0];
            all.extend(seqs(&until_closed(&mut seen).await));
            assert_eq!(all, (0..total).collect::<Vec<_>>(), "{kind:?} {config:?}");
            let figures = stats.snapshot();
            assert_eq!(figures.queued_bytes, 0, "every byte released");
            assert_eq!(figures.lanes[0].dropped, 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_only_by_name() {
    for kind in KINDS {
        let gate = Gate::new();
        let (tx, mut seen) = seen_channel();
        let mut dispatcher = RouterBuilder::new(TestRouter::classifying())
            .memory_budget(MemoryBudget::Unbounded)
            .handler_with_config(
                1,
                Recorder::new(Some(1), &tx).gated(&gate, GateWait::for_kind(kind)),
                lane(kind),
            )
            .build()
            .expect("build");
        drop(tx);
        let stats = dispatcher.stats();
        dispatcher.dispatch(text_with(1, 0, "do=hold"), MessageContext::now(1));
        dispatcher.flush();
        assert_eq!(next_seen(&mut seen).await.msg.seq, 0);
        // Far past the default budget's share of these small messages.
        for seq in 1..20_000 {
            assert_eq!(
                dispatcher.dispatch(text(1, seq), MessageContext::now(1)),
                Dispatch::Queued
            );
        }
        dispatcher.flush();
        let figures = stats.snapshot();
        assert_eq!(figures.memory_budget, None);
        assert!(figures.queued_bytes > 100_000, "{figures:?}");
        gate.open();
        dispatcher.shutdown(ShutdownMode::Graceful).await;
        assert_eq!(until_closed(&mut seen).await.len(), 19_999);
    }
}

#[test]
fn the_default_budget_is_64_mib() {
    assert_eq!(MemoryBudget::default(), MemoryBudget::Bytes(64 << 20));
    let dispatcher = RouterBuilder::new(TestRouter::parsing())
        .build()
        .expect("build");
    assert_eq!(dispatcher.stats().snapshot().memory_budget, Some(64 << 20));
}
