//! One client run as the bench asks for it: which client, how many
//! messages, at what rate, with which lanes. The bench turns it into the
//! child's command line, the child parses it back.

use hypersockets::{LaneConfig, LaneKind};

use crate::cli::Options;
use crate::clients::ClientKind;

/// Which lane kind the HyperSockets clients use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Lanes {
    /// Whatever `LaneConfig::default()` says (what a user gets).
    #[default]
    Default,
    /// `LaneKind::Task`: tokio tasks on the client's runtime.
    Task,
    /// `LaneKind::Thread`: an OS thread per lane.
    Thread,
    /// `LaneKind::Pool`: the process's shared lane threads.
    Pool,
}

impl Lanes {
    /// The name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Task => "task",
            Self::Thread => "thread",
            Self::Pool => "pool",
        }
    }

    /// The choice called `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [Self::Default, Self::Task, Self::Thread, Self::Pool]
            .into_iter()
            .find(|lanes| lanes.name() == name)
    }

    /// The lane settings for this choice, an optional bound (overflow
    /// policy: the default, `Block`) and an optional timing sample rate.
    pub(crate) fn config(self, bounded: Option<usize>, timing: Option<u32>) -> LaneConfig {
        let config = match self {
            Self::Default => LaneConfig::default(),
            Self::Task => LaneConfig::default().kind(LaneKind::Task),
            Self::Thread => LaneConfig::default().kind(LaneKind::Thread),
            Self::Pool => LaneConfig::default().kind(LaneKind::Pool),
        };
        let config = match bounded {
            Some(capacity) => config.capacity(capacity),
            None => config,
        };
        match timing {
            Some(every) => config.timing_sample_every(every),
            None => config,
        }
    }
}

/// One client run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    /// The client.
    pub(crate) kind: ClientKind,
    /// Messages the server sends.
    pub(crate) messages: u64,
    /// Paced rate in msg/s; 0 is a blast.
    pub(crate) rate: u64,
    /// Bounded lanes of this capacity (default unbounded).
    pub(crate) bounded: Option<usize>,
    /// The lane kind.
    pub(crate) lanes: Lanes,
    /// The lanes' timing sample rate (`None`: the library's default).
    pub(crate) timing: Option<u32>,
    /// Count allocations.
    pub(crate) count_allocs: bool,
}

impl Job {
    /// A blast of `messages` for `kind` on the bench's lanes, unbounded,
    /// nothing counted.
    pub(crate) fn blast(kind: ClientKind, messages: u64, options: &Options) -> Self {
        Self {
            kind,
            messages,
            rate: 0,
            bounded: None,
            lanes: options.lanes,
            timing: options.timing,
            count_allocs: false,
        }
    }

    /// The child's command line (`client …`) against the server on `port`.
    pub(crate) fn args(&self, port: u16) -> Vec<String> {
        let mut args: Vec<String> = [
            "client",
            "--kind",
            self.kind.name(),
            "--lanes",
            self.lanes.name(),
        ]
        .map(str::to_owned)
        .into();
        args.extend([
            "--port".to_owned(),
            port.to_string(),
            "--n".to_owned(),
            self.messages.to_string(),
            "--rate".to_owned(),
            self.rate.to_string(),
        ]);
        if let Some(every) = self.timing {
            args.extend(["--timing".to_owned(), every.to_string()]);
        }
        if let Some(capacity) = self.bounded {
            args.extend(["--bounded".to_owned(), capacity.to_string()]);
        }
        if self.count_allocs {
            args.push("--count-allocs".to_owned());
        }
        args
    }
}
