//! User sends take their own queue: a flood towards a peer that stops
//! reading never freezes the reader, keepalive answers keep their own
//! path, and `try_send` reports the full queue.

mod event_log;
#[path = "support/raw_peer.rs"]
mod raw_peer;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hypersockets::{ConnectionState, HyperSocketError, JsonPing};
use raw_peer::RawServer;
use support::{Collected, client_builder, within};

/// Application pings the peer writes per round while the client's queue
/// is full.
const PINGS: u64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_flood_to_a_peer_that_stops_reading_never_freezes_the_reader() {
    let server = RawServer::start().await;
    let (data, control) = (Collected::default(), Collected::default());
    let client = client_builder(server.url(), &[], &data, &control)
        .ping_detector(JsonPing::default())
        .writer_queue(4)
        // Never reached here: the test ends the stuck write by resetting
        // the socket.
        .write_timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let mut events = client.events();
    let (connected, peer) = tokio::join!(client.connect(), within("accept", server.accept()));
    connected.unwrap();
    let mut peer = peer;

    // The peer never reads: flooders soon wait in `send` for room.
    let refused = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..4)
        .map(|_| {
            let (client, refused) = (client.clone(), Arc::clone(&refused));
            tokio::spawn(async move {
                let big = "x".repeat(64 << 10);
                let error = loop {
                    if let Err(error) = client.send(big.as_str()).await {
                        break error;
                    }
                };
                refused.store(true, Ordering::Relaxed);
                error
            })
        })
        .collect();
    within("try_send to report the full queue", async {
        loop {
            match client.try_send("small") {
                Err(HyperSocketError::WriteQueueFull) => break,
                Ok(()) => tokio::task::yield_now().await,
                Err(other) => panic!("expected a full queue, got {other}"),
            }
        }
    })
    .await;

    // The reader reads on and answers application pings meanwhile: rounds
    // of pings and a marker until one is read while no send completes, so
    // the writer is stuck then and the reader is not.
    let rounds = within("a round read while the writer is stuck", async {
        let mut rounds: u64 = 0;
        loop {
            let sent = client.metrics().connection.messages_sent;
            for n in 0..PINGS {
                peer.write_text(&format!(r#"{{"ping":{n}}}"#)).await;
            }
            peer.write_text(&format!(r#"{{"marker":{rounds}}}"#)).await;
            rounds += 1;
            control.wait_for(rounds as usize).await;
            if client.metrics().connection.messages_sent == sent {
                return rounds;
            }
        }
    })
    .await;
    let markers: Vec<String> = (0..rounds)
        .map(|n| format!(r#"{{"marker":{n}}}"#))
        .collect();
    assert_eq!(control.texts(), markers, "pings never reach handlers");
    assert_eq!(client.metrics().connection.pings_answered, rounds * PINGS);
    assert_eq!(client.state(), ConnectionState::Connected);
    assert!(
        event_log::events_so_far(&mut events)
            .iter()
            .all(|e| !matches!(e, hypersockets::ClientEvent::Disconnected { .. })),
        "answering pings never dropped the connection"
    );
    assert!(
        !refused.load(Ordering::Relaxed),
        "the flood is still waiting"
    );

    // A reset fails the stuck write: every waiting send learns it. (No
    // listener left: the reconnect is refused at once.)
    drop(server);
    peer.tcp.set_zero_linger().unwrap();
    drop(peer);
    // Waiting sends are refused, never carried over to a next connection.
    for flooder in flooders {
        let error = within("flooder refused", flooder).await.unwrap();
        assert!(
            matches!(
                error,
                HyperSocketError::ConnectionClosed | HyperSocketError::NotConnected
            ),
            "{error:?}"
        );
    }
    client.close().await.unwrap();
}

/// The reader is parked behind a stuck handler (a full `Block` lane) when
/// the writer fails on a peer that stopped reading: the connection is
/// given up at once, not once the handler lets go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_writer_is_noticed_while_the_reader_waits_for_a_stuck_handler() {
    use hypersockets::{
        BoxError, FixedInterval, LaneConfig, MemoryTransport, OverflowPolicy, PassThrough,
        WebSocketClient, WsMessage, async_handler_fn,
    };
    use tokio::sync::watch;

    // One message fits toward the peer, which never reads.
    let (transport, server) = MemoryTransport::with_capacity(1, 64);
    let (open, gate) = watch::channel(false);
    let client = WebSocketClient::builder()
        .url("wss://exchange.test/ws")
        .transport(transport)
        .router(PassThrough)
        .handler_with_config(
            (),
            async_handler_fn(move |_: WsMessage| {
                let mut gate = gate.clone();
                async move {
                    gate.wait_for(|open| *open).await?;
                    Ok::<_, BoxError>(())
                }
            }),
            LaneConfig::default()
                .capacity(1)
                .overflow(OverflowPolicy::Block),
        )
        .writer_queue(1)
        .write_timeout(Duration::from_millis(200))
        .reconnect(FixedInterval::new(Duration::from_secs(3600)))
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let peer = within("accept", server.accept()).await;
    // The handler holds the first, the lane the second, the dispatcher the
    // third: the reader waits for room.
    for n in 0..4 {
        peer.send(WsMessage::text(format!("tick {n}")))
            .await
            .unwrap();
    }
    // Sends pile up behind the peer that never reads; the write times out.
    let sender = client.clone();
    let sending = tokio::spawn(async move {
        for _ in 0..4 {
            if sender.send(WsMessage::text("order")).await.is_err() {
                break;
            }
        }
    });
    let error = support::disconnect_error(&mut events).await;
    assert!(
        matches!(error, HyperSocketError::Timeout { .. }),
        "{error:?}"
    );
    within("the sender", sending).await.unwrap();
    open.send(true).unwrap();
    within("close", client.close()).await.unwrap();
}
