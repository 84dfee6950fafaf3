//! Pool lanes share a few threads: a lane woken while one pool thread is
//! running it is polled again by that thread afterwards, never taken by a
//! second thread that would wait for the first. Synchronised with channels
//! only.

mod support;

use std::future::poll_fn;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use hypersockets_core::{BoxError, MessageHandler};
use hypersockets_router::{LaneKind, RouterBuilder, ShutdownMode};
use support::{Msg, TestRouter, dispatch, lane, text, within};

const A: u32 = 1;
const B: u32 = 2;

/// Wakes its own lane, then blocks its pool thread until B's handler has
/// run (or a deadline passes): were the woken lane handed to the other
/// pool thread, that thread would wait for this one and B could not run.
struct WakesThenBlocks {
    entered: tokio::sync::mpsc::UnboundedSender<()>,
    b_ran: mpsc::Receiver<()>,
    outcome: tokio::sync::mpsc::UnboundedSender<bool>,
}

impl MessageHandler<Msg> for WakesThenBlocks {
    async fn handle(&mut self, _message: Msg) -> Result<(), BoxError> {
        poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::Ready(())
        })
        .await;
        // Only now is B dispatched: its lane is queued behind A's wake-up.
        let _ = self.entered.send(());
        let b_ran = self.b_ran.recv_timeout(Duration::from_secs(3)).is_ok();
        let _ = self.outcome.send(b_ran);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr, reason = "says why the test did not run")]
async fn a_lane_woken_while_it_runs_holds_no_second_pool_thread() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipped: the lane pool has a single thread on this machine");
        return;
    }
    let (b_ran_tx, b_ran) = mpsc::channel();
    let (outcome, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
    let (entered, mut a_entered) = tokio::sync::mpsc::unbounded_channel();
    let mut dispatcher = RouterBuilder::new(TestRouter::parsing())
        .handler_with_config(
            A,
            WakesThenBlocks {
                entered,
                b_ran,
                outcome,
            },
            lane(LaneKind::Pool),
        )
        .handler_with_config(
            B,
            hypersockets_core::handler_fn(move |_: Msg| {
                let _ = b_ran_tx.send(());
                Ok::<_, BoxError>(())
            }),
            lane(LaneKind::Pool),
        )
        .build()
        .expect("build");
    dispatch(&mut dispatcher, text(A, 0)).await;
    dispatcher.flush();
    within("A's handler to start", a_entered.recv()).await;
    dispatch(&mut dispatcher, text(B, 1)).await;
    dispatcher.flush();
    let b_ran_while_a_blocked = within("A's handler", outcomes.recv()).await;
    assert_eq!(b_ran_while_a_blocked, Some(true));
    within("shutdown", dispatcher.shutdown(ShutdownMode::Graceful)).await;
}
