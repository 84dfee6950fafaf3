//! Compressed feeds through a real socket: the mock exchange compresses
//! every data message and its `{"ping":N}` as HTX does (gzip, and zlib and
//! raw deflate as other venues do); the client inflates them before the
//! ping detector and the router, answers the pings in plain text, and
//! delivers every message. Frames that do not inflate close the connection
//! with 1007, inflated messages past the limit with 1009, and the client
//! reconnects.

mod support;

use std::time::Duration;

use hypersockets::{
    BoxError, ClientEvent, CloseCode, Decompression, HyperSocketError, JsonPing, MemoryPeer,
    MemoryTransport, PassThrough, WebSocketClient, WsMessage, handler_fn,
};
use hypersockets_testkit::{
    CloseCause, Compression, ExchangeConfig, KeepaliveConfig, MockExchange, Rate, ServerPing,
    StreamConfig,
};
use support::inflate::{gzip_zeros, inflating_client};
use support::{Collected, WAIT, client_for, disconnect_error, within};
use tokio::sync::mpsc::UnboundedReceiver;

const TRADES: &str = "btcusdt@trade";
const BOOK: &str = "btcusdt@depth";
/// Messages of each stream.
const MESSAGES: u64 = 300;
/// The server's ping interval; each is due within it, and one miss closes.
const SERVER_PING: Duration = Duration::from_millis(300);
/// Pings that must be answered on the one connection.
const ROUNDS: u64 = 2;

fn compressing_exchange(compression: Compression) -> ExchangeConfig {
    ExchangeConfig::new()
        .compression(compression)
        .keepalive(KeepaliveConfig::new().server_ping(ServerPing::json(SERVER_PING).max_missed(1)))
        .stream(
            StreamConfig::trades(TRADES)
                .rate(Rate::Every(Duration::from_millis(1)))
                .limit(MESSAGES),
        )
        .stream(
            StreamConfig::book_deltas(BOOK)
                .rate(Rate::AsFastAsPossible)
                .limit(MESSAGES),
        )
}

/// Every message delivered in order, every ping answered in time, one
/// connection from start to end.
async fn feed_is_inflated(compression: Compression, decompression: Decompression) {
    let exchange = MockExchange::start(compressing_exchange(compression))
        .await
        .unwrap();
    let control = exchange.control();
    let (data, other) = (Collected::default(), Collected::default());
    let client = client_for(&exchange, &[TRADES, BOOK], &data, &other)
        .decompression(decompression)
        .ping_detector(JsonPing::default())
        .build()
        .unwrap();
    let mut events = client.events();
    within("connect", client.connect()).await.unwrap();
    let conn = control.wait_for_connections(1, WAIT).await.unwrap();

    data.wait_for(2 * MESSAGES as usize).await;
    control
        .wait_until("pings answered", WAIT, |c| {
            c.connection(conn)
                .is_some_and(|info| info.keepalive.pongs_matched >= ROUNDS)
        })
        .await
        .unwrap();
    let report = control.check_delivery(&data.texts()).unwrap();
    assert!(report.is_complete(), "{compression:?}: {report:?}");
    assert_eq!(report.delivered(), 2 * MESSAGES);
    let stats = control.connection(conn).unwrap().keepalive;
    assert_eq!(stats.pings_missed, 0, "{stats:?}");
    assert_eq!(stats.pongs_mismatched, 0, "{stats:?}");
    // The answers went out as plain text, the pings never reached a handler.
    let answers: Vec<WsMessage> = control
        .received(conn)
        .unwrap()
        .into_iter()
        .filter(|m| m.as_text().is_some_and(|t| t.starts_with(r#"{"pong":"#)))
        .collect();
    assert!(answers.len() as u64 >= ROUNDS, "{answers:?}");
    assert!(
        other.texts().iter().all(|t| !t.contains("ping")),
        "{:?}",
        other.texts()
    );
    assert_eq!(control.connection_count(), 1, "never reconnected");
    assert!(client.metrics().connection.pings_answered >= ROUNDS);
    while let Some(Ok(event)) = events.try_recv() {
        assert!(
            !matches!(event, ClientEvent::Disconnected { .. }),
            "{event:?}"
        );
    }
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_htx_style_gzip_feed_is_delivered_and_its_pings_answered() {
    feed_is_inflated(Compression::Gzip, Decompression::Gzip).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zlib_feed_is_delivered_and_its_pings_answered() {
    feed_is_inflated(Compression::Zlib, Decompression::Zlib).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_deflate_feed_is_delivered_and_its_pings_answered() {
    feed_is_inflated(Compression::Deflate, Decompression::Deflate).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_recognises_gzip_and_zlib_by_their_headers() {
    feed_is_inflated(Compression::Gzip, Decompression::Auto).await;
    feed_is_inflated(Compression::Zlib, Decompression::Auto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_frames_pass_as_they_are_when_decompressing() {
    feed_is_inflated(Compression::None, Decompression::Gzip).await;
}

/// The client's limit on messages, inflated or not, in the hostile tests.
const LIMIT: usize = 1 << 20;

fn gzip(data: &[u8]) -> Vec<u8> {
    Compression::Gzip.compress(data).unwrap()
}

/// Sends `frame` to a client inflating as `mode` says: the client answers
/// with `code` and a `Disconnected` whose error `matches`, then reconnects.
async fn frame_closes_with(
    mode: Decompression,
    frame: Vec<u8>,
    code: u16,
    matches: impl Fn(&HyperSocketError) -> bool,
) {
    let (exchange, control, client, conn) = inflating_client(mode, LIMIT).await;
    let mut events = client.events();
    control.send(conn, WsMessage::binary(frame)).unwrap();
    let cause = control.wait_for_close(conn, WAIT).await.unwrap();
    match &cause {
        CloseCause::ClientClosed(Some(frame)) => assert_eq!(frame.code, CloseCode::from(code)),
        other => panic!("expected the client's {code}, got {other:?}"),
    }
    let error = disconnect_error(&mut events).await;
    assert!(matches(&error), "{error:?}");
    // And it reconnects.
    control.wait_for_connections(2, WAIT).await.unwrap();
    client.close().await.unwrap();
    exchange.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_is_cut_at_the_limit_with_1009() {
    // 256 MiB of zeros in about 256 KiB: the frame itself is within the
    // limit, what it inflates to is not. Inflating stops one byte past it.
    let bomb = gzip_zeros(256 << 20);
    assert!(bomb.len() < LIMIT, "{}", bomb.len());
    frame_closes_with(Decompression::Gzip, bomb, 1009, |error| {
        matches!(
            error,
            HyperSocketError::MessageTooLarge { size, limit: LIMIT } if *size == LIMIT + 1
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_that_do_not_inflate_close_with_1007() {
    let text = br#"{"stream":"btcusdt@trade","seq":1}"#;
    let good = gzip(text);
    let mut bad_crc = good.clone();
    let at = bad_crc.len() - 8;
    bad_crc[at] ^= 1;
    let mut bad_length = good.clone();
    let at = bad_length.len() - 4;
    bad_length[at] ^= 1;
    let mut trailing = good.clone();
    trailing.push(0);
    let cut = good[..good.len() - 3].to_vec();
    let body_cut = good[..12].to_vec();
    let not_gzip = Compression::Zlib.compress(text).unwrap();
    let mut reserved_flags = good.clone();
    reserved_flags[3] = 0x20;
    let mut zlib_trailing = Compression::Zlib.compress(text).unwrap();
    zlib_trailing.push(0);
    let mut zlib_bad_adler = Compression::Zlib.compress(text).unwrap();
    *zlib_bad_adler.last_mut().unwrap() ^= 1;
    let mut deflate_trailing = Compression::Deflate.compress(text).unwrap();
    deflate_trailing.push(0);
    let deflate = Compression::Deflate.compress(text).unwrap();
    let deflate_cut = deflate[..deflate.len() - 2].to_vec();
    let cases = [
        (Decompression::Gzip, bad_crc),
        (Decompression::Gzip, bad_length),
        (Decompression::Gzip, trailing),
        (Decompression::Gzip, cut),
        (Decompression::Gzip, body_cut),
        (Decompression::Gzip, not_gzip),
        (Decompression::Gzip, reserved_flags),
        (Decompression::Gzip, b"plain binary".to_vec()),
        (Decompression::Gzip, Vec::new()),
        (Decompression::Zlib, zlib_trailing),
        (Decompression::Zlib, zlib_bad_adler),
        (Decompression::Deflate, deflate_trailing),
        (Decompression::Deflate, deflate_cut),
    ];
    for (mode, frame) in cases {
        frame_closes_with(mode, frame, 1007, |error| {
            matches!(error, HyperSocketError::Decompression(_))
        })
        .await;
    }
}

/// A connected client on the in-memory transport inflating as `mode`
/// says, its peer, and what its handler got.
async fn memory_client(
    mode: Decompression,
) -> (WebSocketClient, MemoryPeer, UnboundedReceiver<WsMessage>) {
    let (transport, server) = MemoryTransport::new();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let client = WebSocketClient::builder()
        .url("wss://exchange.test/ws")
        .transport(transport)
        .router(PassThrough)
        .handler(
            (),
            handler_fn(move |message: WsMessage| {
                tx.send(message)?;
                Ok::<_, BoxError>(())
            }),
        )
        .decompression(mode)
        .build()
        .unwrap();
    within("connect", client.connect()).await.unwrap();
    let peer = within("accept", server.accept()).await;
    (client, peer, rx)
}

/// Raw deflate as Python's `zlib` or an RFC 7692 sender leaves it: a sync
/// flush and no final block.
fn sync_flushed_deflate(text: &[u8]) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(text.len() + 64);
    compress
        .compress_vec(text, &mut out, flate2::FlushCompress::Sync)
        .unwrap();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "{out:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_deflate_may_end_with_a_sync_flush() {
    let (client, peer, mut rx) = memory_client(Decompression::Deflate).await;
    let sent = ["first, sync flushed", "second, finished"];
    peer.send(WsMessage::binary(sync_flushed_deflate(sent[0].as_bytes())))
        .await
        .unwrap();
    peer.send(WsMessage::binary(
        Compression::Deflate.compress(sent[1].as_bytes()).unwrap(),
    ))
    .await
    .unwrap();
    for text in sent {
        let got = within("a message", rx.recv()).await.unwrap();
        assert_eq!(got.as_text(), Some(text));
    }
    assert_eq!(client.metrics().connection.reconnects, 0);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_inflates_what_has_a_header_and_passes_the_rest() {
    let (client, peer, mut rx) = memory_client(Decompression::Auto).await;
    let plain_binary = WsMessage::binary(&b"\x00\x01 not compressed"[..]);
    // Binary that is not UTF-8 once inflated stays binary.
    let inflated_binary = vec![0xff, 0xfe, 0x00];
    let sent = [
        WsMessage::binary(gzip(b"from gzip")),
        WsMessage::binary(Compression::Zlib.compress(b"from zlib").unwrap()),
        plain_binary.clone(),
        WsMessage::text("text as it is"),
        WsMessage::binary(gzip(&inflated_binary)),
    ];
    for message in sent {
        peer.send(message).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(within("a message", rx.recv()).await.unwrap());
    }
    assert_eq!(
        got,
        [
            WsMessage::text("from gzip"),
            WsMessage::text("from zlib"),
            plain_binary,
            WsMessage::text("text as it is"),
            WsMessage::binary(inflated_binary),
        ]
    );
    client.close().await.unwrap();
}
