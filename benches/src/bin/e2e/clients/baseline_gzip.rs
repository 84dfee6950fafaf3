//! `baseline-gzip`: the baseline on the gzip feed, inflating each message
//! the way exchange adapters in the wild do for HTX, BingX or Bitmart:
//! `flate2::read::GzDecoder::new(&payload[..])` per message, then
//! `read_to_string` into a `String` kept across messages, then the same
//! serde parse as `baseline`.
//!
//! That is flate2's documented gzip reader (it checks the CRC) used the
//! obvious way, and what such adapters show: a decoder per message, since
//! the decoder borrows that message's payload (`GzDecoder::reset` exists,
//! but keeping one decoder across messages means an owned reader and a copy
//! of each payload, which adapters do not write). Reusing the `String` is
//! the one economy a careful hand adds; a fresh one per message would only
//! make the baseline slower. The decoder's allocations (its inflate state
//! and 32 KiB read buffer, per message) count as this client's own, not as
//! the user's parse.

use std::io::Read as _;

use flate2::read::GzDecoder;
use tokio_tungstenite::tungstenite::Message;

use crate::clients::baseline::{Payload, read_loop};
use crate::clients::{Finished, Meter, Setup};

/// The gzip feed: a binary frame is one gzip member of the JSON.
#[derive(Debug, Default)]
struct Gunzip {
    /// The inflated text, reused from message to message.
    text: String,
}

impl Payload for Gunzip {
    #[inline]
    fn json<'a>(&'a mut self, message: &'a Message) -> Result<Option<&'a str>, String> {
        let Message::Binary(payload) = message else {
            return Ok(None);
        };
        self.text.clear();
        GzDecoder::new(&payload[..])
            .read_to_string(&mut self.text)
            .map_err(|e| format!("gunzip: {e}"))?;
        Ok(Some(&self.text))
    }
}

/// Connects, reads until the server's Close frame, inflates and checks every
/// message.
pub(crate) async fn run(setup: &Setup, meter: &mut Meter) -> Result<Finished, String> {
    read_loop(setup, meter, Gunzip::default()).await
}
