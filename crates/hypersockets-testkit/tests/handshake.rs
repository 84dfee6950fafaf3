//! Handshakes: headers recorded, HTTP error answers, stalls.

mod support;

use std::time::Duration;

use hypersockets_testkit::{ExchangeConfig, HandshakeResponse};
use support::{WAIT, connect, start, try_connect};
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn request_headers_and_path_are_recorded() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    let mut request = format!("{}?streams=a/b", exchange.url())
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("x-mbx-apikey", "key-123".parse().unwrap());
    let (_client, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
        .await
        .unwrap()
        .unwrap();

    let conn = control.wait_for_connections(1, WAIT).await.unwrap();
    let info = control.connection(conn).unwrap();
    assert_eq!(info.path, "/ws?streams=a/b");
    assert_eq!(info.header("X-MBX-APIKEY"), Some("key-123"));
    assert_eq!(info.header("upgrade"), Some("websocket"));
    let handshakes = control.handshakes();
    assert_eq!(handshakes.len(), 1);
    assert_eq!(handshakes[0].connection, Some(conn));
    assert_eq!(handshakes[0].response, HandshakeResponse::Accept);
}

async fn rejected_status(url: &str) -> (u16, Option<String>) {
    match try_connect(url).await {
        Err(WsError::Http(response)) => (
            response.status().as_u16(),
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned()),
        ),
        other => panic!("expected an http error, got {other:?}"),
    }
}

#[tokio::test]
async fn handshakes_can_be_rejected_with_a_status() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    control.respond_next(1, HandshakeResponse::unauthorized());
    control.respond_next(1, HandshakeResponse::too_many_requests());
    control.respond_next(1, HandshakeResponse::service_unavailable());

    assert_eq!(rejected_status(&exchange.url()).await, (401, None));
    assert_eq!(
        rejected_status(&exchange.url()).await,
        (429, Some("1".to_owned()))
    );
    assert_eq!(
        rejected_status(&exchange.url()).await,
        (503, Some("1".to_owned()))
    );
    // Back to the default.
    let _client = connect(&exchange.url()).await;

    let handshakes = control.handshakes();
    assert_eq!(handshakes.len(), 4);
    assert_eq!(handshakes[0].response, HandshakeResponse::reject(401));
    assert!(handshakes[..3].iter().all(|h| h.connection.is_none()));
    assert!(
        handshakes[..3]
            .iter()
            .all(|h| h.header("sec-websocket-key").is_some())
    );
    assert_eq!(control.connection_count(), 1);

    // A standing answer.
    control.set_handshake_response(HandshakeResponse::reject(403));
    assert_eq!(rejected_status(&exchange.url()).await.0, 403);
    assert_eq!(rejected_status(&exchange.url()).await.0, 403);
}

#[tokio::test]
async fn stalled_handshakes_never_answer() {
    let exchange = start(ExchangeConfig::new()).await;
    let control = exchange.control();
    control.respond_next(1, HandshakeResponse::Stall);

    let url = exchange.url();
    let attempt = tokio::spawn(async move { tokio_tungstenite::connect_async(url).await });
    // The request was read and recorded ...
    control
        .wait_until("the stalled request", WAIT, |c| c.handshakes().len() == 1)
        .await
        .unwrap();
    assert_eq!(control.handshakes()[0].response, HandshakeResponse::Stall);
    // ... but never answered: the client is still waiting well after that.
    let waited = tokio::time::timeout(Duration::from_millis(300), attempt).await;
    assert!(waited.is_err(), "the handshake should still be pending");
    assert_eq!(control.connection_count(), 0);

    // The next connection is served normally.
    let client = connect(&exchange.url()).await;
    control.wait_for_connections(1, WAIT).await.unwrap();
    drop(client);
    // Shutting down ends the stalled handshake too.
    exchange.shutdown().await;
}
