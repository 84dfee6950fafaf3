//! What the library logs, read by a subscriber of the test's own: every
//! event of a client comes from inside its span, which names the host and,
//! under a `ClientManager`, the key; and a secret in the URL never reaches
//! a span, an event, an error or a `Debug` print.

mod support;

use hypersockets::{
    BoxError, ClientManager, MemoryTransport, PassThrough, WebSocketClient, WsMessage, handler_fn,
};
use support::recorder::{Logged, Recorder};
use support::within;

const SECRET: &str = "LISTENKEYabc123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_in_the_client_span_and_no_secret_is_logged() {
    // Global: lane threads and runtime workers must see it too. The only
    // test in this binary.
    let recorder = Recorder::install();

    let (transport, server) = MemoryTransport::new();
    let (handled, mut messages) = tokio::sync::mpsc::unbounded_channel();
    let client = WebSocketClient::builder()
        .url(format!(
            "wss://exchange.test:9443/ws/{SECRET}?listenKey={SECRET}"
        ))
        .transport(transport)
        .router(PassThrough)
        .handler(
            (),
            handler_fn(move |message: WsMessage| {
                let failed = message.as_text() == Some("fail");
                handled.send(message)?;
                if failed {
                    return Err(BoxError::from("the handler refused it"));
                }
                Ok::<_, BoxError>(())
            }),
        )
        .build()
        .unwrap();
    let manager: ClientManager<&str> = ClientManager::new();
    manager.add("venue-a", client.clone()).unwrap();
    within("connect", client.connect()).await.unwrap();
    let peer = within("accept", server.accept()).await;
    peer.send(WsMessage::text("fail")).await.unwrap();
    assert_eq!(
        within("handled", messages.recv()).await,
        Some(WsMessage::text("fail"))
    );
    // A lost connection and a reconnect log at info and warn.
    peer.close(None).await.unwrap();
    let again = within("reconnect", server.accept()).await;
    again.send(WsMessage::text("after")).await.unwrap();
    assert_eq!(
        within("handled", messages.recv()).await,
        Some(WsMessage::text("after"))
    );
    let debug = format!("{client:?} {:?}", client.metrics());
    within("close", manager.shutdown()).await;

    let logged = recorder.logged();
    let ours: Vec<&Logged> = logged
        .iter()
        .filter(|logged| logged.target.starts_with("hypersockets"))
        .collect();
    assert!(ours.len() >= 4, "{logged:#?}");
    for logged in &ours {
        let client_span = logged
            .spans
            .iter()
            .find(|span| span.starts_with("client: "))
            .unwrap_or_else(|| panic!("outside the client span: {logged:?}"));
        assert!(
            client_span.contains("host=exchange.test:9443")
                && client_span.contains("key=\"\\\"venue-a\\\"\""),
            "{client_span}"
        );
    }
    // The handler's failure was logged from its lane, in the span.
    assert!(
        ours.iter()
            .any(|logged| logged.fields.contains("the handler refused it")),
        "{ours:#?}"
    );
    for text in logged
        .iter()
        .map(|logged| format!("{logged:?}"))
        .chain([debug])
    {
        assert!(!text.contains(SECRET), "a secret was logged: {text}");
    }
}
