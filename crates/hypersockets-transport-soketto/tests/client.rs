//! The facade's client on the soketto transport, with permessage-deflate,
//! receiving a compressed feed from Python's `websockets`.

mod support;

use std::time::Duration;

use hypersockets::{
    BoxError, PassThrough, PerMessageDeflate, SokettoTransport, WebSocketClient, WsMessage,
    handler_fn,
};
use serde_json::json;
use support::{PythonServer, WAIT, content};
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_receives_a_compressed_feed() {
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let client = WebSocketClient::builder()
        .url(server.url())
        .router(PassThrough)
        .transport(SokettoTransport::new().permessage_deflate(Some(PerMessageDeflate::new())))
        .close_timeout(Duration::from_secs(2))
        .handler(
            (),
            handler_fn(move |message: WsMessage| {
                let _ = tx.send(message.as_text().map(str::to_owned).unwrap_or_default());
                Ok::<_, BoxError>(())
            }),
        )
        .build()
        .expect("built");
    tokio::time::timeout(WAIT, client.connect())
        .await
        .expect("connected within the wait")
        .expect("connected");
    let recv = async |rx: &mut mpsc::UnboundedReceiver<String>| {
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("a message within the wait")
            .expect("the handler is alive")
    };

    // The server's first message says what it answered to our offer.
    let hello: serde_json::Value = serde_json::from_str(&recv(&mut rx).await).unwrap();
    let answer = hello["extensions"].as_str().unwrap_or_default();
    assert!(answer.starts_with("permessage-deflate"), "{hello}");

    let count = 300;
    client
        .send(WsMessage::text(
            json!({"cmd": "send", "kind": "text", "size": 300, "count": count}).to_string(),
        ))
        .await
        .expect("sent");
    for index in 0..count {
        assert_eq!(recv(&mut rx).await, content("text", index, 300));
    }
    client
        .send(WsMessage::text(json!({"cmd": "stats"}).to_string()))
        .await
        .expect("sent");
    let stats: serde_json::Value = serde_json::from_str(&recv(&mut rx).await).unwrap();
    // Our two commands went compressed, and the feed came compressed.
    assert_eq!(stats["compressed_in"], 2, "{stats}");
    assert!(
        stats["compressed_out"].as_u64() >= Some(1 + count as u64),
        "{stats}"
    );
    tokio::time::timeout(WAIT, client.close())
        .await
        .expect("closed within the wait")
        .expect("closed");
}
