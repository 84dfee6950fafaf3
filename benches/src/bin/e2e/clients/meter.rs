//! Measuring one client run: wall time from just before connecting, the
//! process's CPU time, and (when asked) allocations.

use std::time::{Duration, Instant};

use crate::alloc_count::{self, Allocations};
use hypersockets_bench::procfs;

/// Measures a run: started just before connecting, stopped once the client
/// is done. CPU is the whole process's (server excluded: it is another
/// process); allocations are counted only when `count_allocs` was asked.
#[derive(Debug)]
pub(crate) struct Meter {
    count_allocs: bool,
    /// When it started.
    pub(crate) started: Option<Instant>,
    cpu_at_start: Duration,
    /// CPU time between start and stop.
    pub(crate) cpu: Duration,
    /// Allocations between start and stop, when counted.
    pub(crate) allocations: Option<Allocations>,
}

impl Meter {
    /// A meter that counts allocations too if `count_allocs`.
    pub(crate) fn new(count_allocs: bool) -> Self {
        Self {
            count_allocs,
            started: None,
            cpu_at_start: Duration::ZERO,
            cpu: Duration::ZERO,
            allocations: None,
        }
    }

    /// Starts measuring (call just before connecting).
    pub(crate) fn start(&mut self) {
        self.cpu_at_start = procfs::cpu_time();
        if self.count_allocs {
            alloc_count::start();
        }
        self.started = Some(Instant::now());
    }

    /// Stops measuring (call once the client is done).
    pub(crate) fn stop(&mut self) {
        if self.count_allocs {
            self.allocations = Some(alloc_count::stop());
        }
        self.cpu = procfs::cpu_time().saturating_sub(self.cpu_at_start);
    }
}
