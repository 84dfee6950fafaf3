//! The baseline: what a user writes without HyperSockets. A tokio-tungstenite
//! read loop, the tagged serde parse, a match, handled inline.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::alloc_count::user_scope;
use crate::clients::{Finished, Meter, Setup};
use crate::tagged::Event;
use crate::tally::{Merged, Tally};

/// Connects, reads until the server's Close frame, checks every message.
pub(crate) async fn run(setup: &Setup, meter: &mut Meter) -> Result<Finished, String> {
    let mut tally = Tally::new(setup.expected.messages, setup.paced);
    meter.start();
    let (mut socket, _) = tokio_tungstenite::connect_async(setup.url.as_str())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    while let Some(message) = socket.next().await {
        match message.map_err(|e| format!("read: {e}"))? {
            Message::Text(text) => {
                let event: Event = user_scope(|| serde_json::from_str(text.as_str()))
                    .map_err(|e| format!("parse: {e}"))?;
                // The handler, inline: `observation` is the match on the kind.
                let arrived = tally.arrival();
                tally.record(arrived, event.observation());
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    meter.stop();
    Ok(Finished {
        merged: Merged::of(vec![tally]),
        high_water: 0,
        queued_peak: 0,
    })
}
