//! The baseline: what a user writes without HyperSockets. A tokio-tungstenite
//! read loop, the tagged serde parse, a match, handled inline.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::alloc_count::user_scope;
use crate::clients::{Finished, Meter, Setup};
use crate::tagged::Event;
use crate::tally::{Merged, Tally};

/// How the loop gets a message's JSON text out of a frame: the one thing
/// the plain and the gzip baselines do differently.
pub(super) trait Payload {
    /// The JSON text of `message`, or `None` for a frame that carries none.
    fn json<'a>(&'a mut self, message: &'a Message) -> Result<Option<&'a str>, String>;
}

/// The plain feed: text frames are the JSON.
#[derive(Debug)]
struct Text;

impl Payload for Text {
    #[inline]
    fn json<'a>(&'a mut self, message: &'a Message) -> Result<Option<&'a str>, String> {
        Ok(match message {
            Message::Text(text) => Some(text.as_str()),
            _ => None,
        })
    }
}

/// Connects, reads until the server's Close frame, checks every message.
pub(crate) async fn run(setup: &Setup, meter: &mut Meter) -> Result<Finished, String> {
    read_loop(setup, meter, Text).await
}

/// The baseline's loop, with `payload` getting the JSON out of each frame.
pub(super) async fn read_loop(
    setup: &Setup,
    meter: &mut Meter,
    mut payload: impl Payload,
) -> Result<Finished, String> {
    let mut tally = Tally::new(setup.expected.messages, setup.paced);
    meter.start();
    let (mut socket, _) = tokio_tungstenite::connect_async(setup.url.as_str())
        .await
        .map_err(|e| format!("connect: {e}"))?;
    while let Some(message) = socket.next().await {
        let message = message.map_err(|e| format!("read: {e}"))?;
        if let Message::Close(_) = message {
            break;
        }
        if let Some(json) = payload.json(&message)? {
            let event: Event =
                user_scope(|| serde_json::from_str(json)).map_err(|e| format!("parse: {e}"))?;
            // The handler, inline: `observation` is the match on the kind.
            let arrived = tally.arrival();
            tally.record(arrived, event.observation());
        }
    }
    meter.stop();
    Ok(Finished {
        merged: Merged::of(vec![tally]),
        high_water: 0,
        queued_peak: 0,
    })
}
