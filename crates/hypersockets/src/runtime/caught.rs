//! Running user callbacks on the connection task with their panics caught:
//! a panic there would otherwise end the task and leave the client dead
//! without a word. Each caught panic is logged (without its message, which
//! could carry a secret), counted and reported as an event; the caller
//! decides whether the client goes on.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};

use futures_util::FutureExt;
use hypersockets_core::ClientEvent;

use crate::runtime::Shared;

impl Shared {
    /// Reports a panic caught in `callback`.
    pub(crate) fn callback_panicked(&self, callback: &'static str) {
        tracing::error!(callback, "callback panicked");
        self.counters.inc_callback_panics();
        self.emit(ClientEvent::CallbackPanicked { callback });
    }

    /// Runs `f`; `None` (reported) if it panicked.
    #[inline]
    pub(crate) fn caught<T>(&self, callback: &'static str, f: impl FnOnce() -> T) -> Option<T> {
        // Unwind safety: on a panic the callback's result is dropped and
        // the state it could have left half-changed is the user's own.
        catch_unwind(AssertUnwindSafe(f))
            .map_err(|_| self.callback_panicked(callback))
            .ok()
    }

    /// Awaits `future`; `None` (reported) if it panicked.
    pub(crate) async fn caught_async<T>(
        &self,
        callback: &'static str,
        future: impl Future<Output = T>,
    ) -> Option<T> {
        AssertUnwindSafe(future)
            .catch_unwind()
            .await
            .map_err(|_| self.callback_panicked(callback))
            .ok()
    }
}
