//! What a lane does next: handle a message, end, or park. The same for
//! thread and task lanes; only how they park differs.

use crossbeam_channel::TryRecvError;

use crate::lane::channel::LaneReceiver;
use crate::lane::envelope::Envelope;
use crate::lane::shared::LaneShared;

/// The lane's next step, as [`LaneReceiver::next`] found it.
pub(crate) enum Next<M, K> {
    /// A message to handle.
    Envelope(Envelope<M, K>),
    /// The reader is gone and everything queued has been taken: the lane ends.
    Closed,
    /// Nothing queued, and the lane has announced that it sleeps: it parks
    /// until [`LaneShared::still_sleeping`] turns false, then asks again.
    Park,
}

impl<M, K> LaneReceiver<M, K> {
    /// Takes the next message; when there is none, announces that the lane
    /// is about to park and looks once more (see `shared.rs`), so that a
    /// message queued in between is never missed.
    #[inline]
    pub(crate) fn next(&mut self, shared: &LaneShared) -> Next<M, K> {
        match self.try_recv() {
            Ok(envelope) => Next::Envelope(envelope),
            Err(TryRecvError::Disconnected) => Next::Closed,
            Err(TryRecvError::Empty) => {
                shared.announce_sleep();
                match self.try_recv() {
                    Ok(envelope) => {
                        shared.cancel_sleep();
                        Next::Envelope(envelope)
                    }
                    Err(TryRecvError::Disconnected) => {
                        shared.cancel_sleep();
                        Next::Closed
                    }
                    Err(TryRecvError::Empty) => Next::Park,
                }
            }
        }
    }
}
