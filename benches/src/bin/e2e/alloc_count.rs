//! Counts heap allocations, to report how many the library's path makes per
//! message.
//!
//! The process's global allocator is [`System`](std::alloc::System) (or, with the `mimalloc`
//! feature, mimalloc) wrapped in a counter. It
//! counts only while armed ([`start`] to [`stop`]), so the throughput runs,
//! which never arm it, pay one relaxed load per allocation and nothing more.
//! The user's own parse is excluded with [`user_scope`]: allocations made
//! inside it, on its thread, are counted apart.
//!
//! This is the only `unsafe` code of the crate: `GlobalAlloc` is an unsafe
//! trait, and no safe counting allocator is available offline. Every method
//! forwards to the inner allocator unchanged.
#![allow(unsafe_code)]

#[cfg(not(feature = "mimalloc"))]
use std::alloc::System as Inner;
use std::alloc::{GlobalAlloc, Layout};

#[cfg(feature = "mimalloc")]
use mimalloc::MiMalloc as Inner;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// The counting allocator; installed as the global allocator in `main.rs`.
#[derive(Debug)]
pub(crate) struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static TOTAL: AtomicU64 = AtomicU64::new(0);
static USER: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's allocations while armed (const-initialised, no
    /// destructor: safe to touch from inside the allocator).
    static MINE: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn count() {
    if ARMED.load(Relaxed) {
        TOTAL.fetch_add(1, Relaxed);
        let _ = MINE.try_with(|mine| mine.set(mine.get() + 1));
    }
}

// SAFETY: every method forwards to `Inner` (`System` or mimalloc) with the
// caller's arguments unchanged, so its guarantees are ours; counting touches only
// atomics and a const thread-local, and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `alloc`'s contract; passed on as is.
        unsafe { Inner.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { Inner.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` and `layout` come from this allocator, which is
        // `Inner`'s; the caller upholds `realloc`'s contract.
        unsafe { Inner.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `Inner` with `layout`.
        unsafe { Inner.dealloc(ptr, layout) }
    }
}

/// The allocator under the counter, for the report.
pub(crate) const ALLOCATOR: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "the system allocator (glibc malloc)"
};

/// Allocations counted between [`start`] and [`stop`].
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Allocations {
    /// Every allocation (and reallocation) of the process.
    pub(crate) total: u64,
    /// Those made inside [`user_scope`]: the user's own parse.
    pub(crate) user: u64,
}

/// Resets the counters and starts counting.
pub(crate) fn start() {
    TOTAL.store(0, Relaxed);
    USER.store(0, Relaxed);
    ARMED.store(true, Relaxed);
}

/// Stops counting and returns what was counted.
pub(crate) fn stop() -> Allocations {
    ARMED.store(false, Relaxed);
    Allocations {
        total: TOTAL.load(Relaxed),
        user: USER.load(Relaxed),
    }
}

/// Runs the user's own code (a parse), counting its allocations apart from
/// the library's.
#[inline]
pub(crate) fn user_scope<T>(f: impl FnOnce() -> T) -> T {
    if !ARMED.load(Relaxed) {
        return f();
    }
    let before = MINE.with(Cell::get);
    let out = f();
    USER.fetch_add(MINE.with(Cell::get) - before, Relaxed);
    out
}
