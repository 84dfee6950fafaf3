//! The ClientManager: clients of different routers under one roof.

mod support;

use hypersockets::{
    BoxError, ClientEvent, ClientManager, CloseCode, ConnectionState, HyperSocketError,
    MessageRouter, ParseError, WebSocketClient, WsMessage, handler_fn,
};
use hypersockets_testkit::{CloseCause, ExchangeConfig, MockExchange, Rate, StreamConfig};
use support::{Collected, WAIT, client_for, within};

/// A second router type: raw text lines on one lane.
struct Lines;

impl MessageRouter for Lines {
    type Message = String;
    type RouteKey = ();

    fn parse(&self, message: &WsMessage) -> Result<String, ParseError> {
        message
            .as_text()
            .map(str::to_owned)
            .ok_or_else(|| ParseError::new("not text"))
    }

    fn route_key(&self, _: &String) {}
}

async fn exchange() -> MockExchange {
    MockExchange::start(
        ExchangeConfig::new().stream(
            StreamConfig::trades("btcusdt@trade")
                .rate(Rate::AsFastAsPossible)
                .limit(50),
        ),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manages_clients_of_different_routers() {
    let (first, second) = (exchange().await, exchange().await);
    let (data, control) = (Collected::default(), Collected::default());
    let manager: ClientManager = ClientManager::new();
    let mut events = manager.events();

    let feed = client_for(&first, &["btcusdt@trade"], &data, &control)
        .build()
        .unwrap();
    manager.add("feed", feed).unwrap();
    let lines = WebSocketClient::builder()
        .url(second.url())
        .router(Lines)
        .handler((), handler_fn(|_: String| Ok::<_, BoxError>(())))
        .build()
        .unwrap();
    manager.add("lines", lines).unwrap();

    // Keys are unique.
    let again = WebSocketClient::builder()
        .url(second.url())
        .router(Lines)
        .build()
        .unwrap();
    assert!(matches!(
        manager.add("lines", again),
        Err(HyperSocketError::InvalidConfiguration { setting: "key", .. })
    ));
    assert_eq!(manager.len(), 2);

    // Typed access: the right router type only.
    assert!(manager.get(&"feed".to_owned()).is_some());
    assert!(manager.get(&"nothing".to_owned()).is_none());

    let outcomes = within("connect all", manager.connect_all()).await;
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|(_, outcome)| outcome.is_ok()),
        "{outcomes:?}"
    );
    let mut states = manager.states();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        states,
        [
            ("feed".to_owned(), ConnectionState::Connected),
            ("lines".to_owned(), ConnectionState::Connected)
        ]
    );

    // Events arrive tagged with their client's key.
    let mut connected = Vec::new();
    while connected.len() < 2 {
        let tagged = within("connected events", events.recv()).await.unwrap();
        if matches!(tagged.event, ClientEvent::Connected { .. }) {
            connected.push(tagged.key);
        }
    }
    connected.sort();
    assert_eq!(connected, ["feed", "lines"]);

    // Send to one, then to all.
    manager
        .send(&"lines".to_owned(), WsMessage::text("to lines"))
        .await
        .unwrap();
    let outcomes = manager.broadcast(WsMessage::text("to all")).await;
    assert!(
        outcomes.iter().all(|(_, outcome)| outcome.is_ok()),
        "{outcomes:?}"
    );
    let conn = second
        .control()
        .wait_for_connections(1, WAIT)
        .await
        .unwrap();
    second
        .control()
        .wait_for_received(conn, 2, WAIT)
        .await
        .unwrap();
    assert_eq!(
        second.control().received_text(conn).unwrap(),
        ["to lines", "to all"]
    );
    assert!(matches!(
        manager.send(&"nothing".to_owned(), "x").await,
        Err(HyperSocketError::UnknownClient { .. })
    ));

    // Figures per client and summed.
    data.wait_for(50).await;
    let metrics = manager.metrics();
    assert_eq!(metrics.clients.len(), 2);
    let sent: u64 = metrics
        .clients
        .iter()
        .map(|(_, m)| m.connection.messages_sent)
        .sum();
    assert_eq!(metrics.total.messages_sent, sent);
    assert!(metrics.total.messages_received >= 50);
    assert_eq!(
        manager
            .client_metrics(&"lines".to_owned())
            .unwrap()
            .connection
            .messages_sent,
        2
    );

    // Removing closes the client politely.
    assert!(manager.remove(&"lines".to_owned()).await);
    assert!(!manager.remove(&"lines".to_owned()).await);
    match second.control().wait_for_close(conn, WAIT).await.unwrap() {
        CloseCause::ClientClosed(Some(frame)) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("expected a Close frame, got {other:?}"),
    }
    assert!(matches!(
        manager.state(&"lines".to_owned()),
        Err(HyperSocketError::UnknownClient { .. })
    ));

    // Shutting down closes the rest; the last event of each is ShutDown.
    let feed = manager.get(&"feed".to_owned()).unwrap();
    manager.shutdown().await;
    assert!(manager.is_empty());
    assert_eq!(feed.state(), ConnectionState::ShuttingDown);
    let mut shut_down = Vec::new();
    while shut_down.len() < 2 {
        let tagged = within("shut down events", events.recv()).await.unwrap();
        if matches!(tagged.event, ClientEvent::ShutDown) {
            shut_down.push(tagged.key);
        }
    }
    shut_down.sort();
    assert_eq!(shut_down, ["feed", "lines"]);
    first.shutdown().await;
    second.shutdown().await;
}

#[test]
fn adding_needs_a_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime.block_on(async {
        WebSocketClient::builder()
            .url("ws://127.0.0.1:9/ws")
            .router(Lines)
            .build()
            .unwrap()
    });
    let manager: ClientManager<u32> = ClientManager::new();
    assert!(matches!(
        manager.add(1u32, client),
        Err(HyperSocketError::InvalidConfiguration {
            setting: "runtime",
            ..
        })
    ));
    assert!(manager.is_empty());
}
