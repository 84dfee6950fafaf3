//! Recording what a client receives, and replaying it through a client.

mod error;
mod format;
mod reading;
mod recorder;
mod replay;
mod replay_transport;

pub use error::RecordingError;
pub use format::{Record, RecordEvent};
pub use reading::Recording;
pub(crate) use recorder::RecordTap;
pub use recorder::{Recorder, RecordingStats};
pub use replay::{Replay, ReplayPace, ReplayRun, ReplaySummary};
