//! While the client closes, what still arrives takes the live path: the
//! passive ping detector and the router see it as when live. An
//! application ping is kept from the handlers but not answered: no data
//! frame may follow our Close frame (RFC 6455 §5.5.1).

#[path = "support/raw_peer.rs"]
mod raw_peer;
mod support;

use hypersockets::JsonPing;
use raw_peer::RawServer;
use support::{Collected, WAIT, client_builder, within};

const MARKER: &str = r#"{"marker":true}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_arriving_during_close_take_the_live_path() {
    let server = RawServer::start().await;
    let (data, control) = (Collected::default(), Collected::default());
    let client = client_builder(server.url(), &[], &data, &control)
        .ping_detector(JsonPing::default())
        // The server's Close ends the wait, not this.
        .close_timeout(WAIT)
        .build()
        .unwrap();
    let (connected, peer) = tokio::join!(client.connect(), within("accept", server.accept()));
    connected.unwrap();
    let mut peer = peer;

    // Live: the ping is answered and never reaches a handler.
    peer.write_text(r#"{"ping":1}"#).await;
    let (opcode, payload) = within("pong", peer.read_frame()).await.unwrap();
    assert_eq!((opcode, &payload[..]), (0x1, &br#"{"pong":1}"#[..]));

    let closer = client.clone();
    let closing = tokio::spawn(async move { closer.close().await });
    let (opcode, payload) = within("close frame", peer.read_frame()).await.unwrap();
    assert_eq!((opcode, &payload[..]), (0x8, &1000u16.to_be_bytes()[..]));

    // Closing: a ping and a message, then the server's Close.
    peer.write_text(r#"{"ping":2}"#).await;
    peer.write_text(MARKER).await;
    peer.write_close(1000).await;
    within("close", closing).await.unwrap().unwrap();

    // Same path as live: the ping was taken by the detector (no handler
    // saw it), the message was routed.
    assert_eq!(control.texts(), [MARKER]);
    // Not answered: nothing followed our Close frame.
    assert_eq!(client.metrics().connection.pings_answered, 1);
    assert_eq!(within("end of stream", peer.read_frame()).await, None);
}
