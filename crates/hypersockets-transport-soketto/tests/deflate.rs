//! The soketto transport against an independent server, Python's
//! `websockets`: permessage-deflate negotiated, compressed messages both
//! ways, its parameters, a server that declines, control frames, limits.

mod support;

use futures_util::SinkExt;
use hypersockets::{CloseCode, HyperSocketError, PerMessageDeflate, TransportLimits, WsMessage};
use serde_json::json;
use support::{
    PythonServer, WAIT, command, connect_with, content, json, next, next_item, open, send, stats,
};

const MIB: usize = 1 << 20;

/// Sends `message` and expects it back.
async fn echoes(connection: &mut hypersockets::Connection, message: WsMessage) {
    send(connection, message.clone()).await;
    let back = next(connection).await;
    assert!(
        back == message,
        "echo differs ({} bytes sent)",
        message.len()
    );
}

#[tokio::test]
async fn negotiates_and_compresses_both_ways() {
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let (mut connection, negotiation) = open(&server, Some(PerMessageDeflate::new())).await;
    assert_eq!(
        negotiation.offer.as_deref(),
        Some("permessage-deflate; client_no_context_takeover; client_max_window_bits")
    );
    assert_eq!(
        negotiation.answer.as_deref(),
        Some("permessage-deflate; client_no_context_takeover")
    );

    let sent = [
        WsMessage::text("héllo {\"e\":\"trade\"}"),
        WsMessage::binary(vec![0u8, 1, 2, 255]),
        WsMessage::text(content("text", 7, MIB)),
        WsMessage::binary(content("binary", 9, MIB).into_bytes()),
    ];
    for message in &sent {
        echoes(&mut connection, message.clone()).await;
    }

    // Many messages from the server, text and binary, small and large.
    for (kind, size, count) in [("text", 300, 200), ("binary", 300, 50), ("text", MIB, 2)] {
        command(
            &mut connection,
            json!({"cmd": "send", "kind": kind, "size": size, "count": count}),
        )
        .await;
        for index in 0..count {
            let message = next(&mut connection).await;
            let expected = content(kind, index, size);
            match (kind, &message) {
                ("text", WsMessage::Text(text)) => assert!(text.as_str() == expected),
                ("binary", WsMessage::Binary(data)) => assert!(data[..] == *expected.as_bytes()),
                _ => panic!("message {index}: expected {kind}, got {message:?}"),
            }
        }
    }

    let stats = stats(&mut connection).await;
    // Every data message we sent went compressed (the echoed ones, three
    // commands, this one), and every one the server sent (its first
    // message, the echoes, 252) came compressed.
    assert_eq!(stats["compressed_in"], sent.len() + 4, "{stats}");
    assert_eq!(stats["messages_in"], sent.len(), "{stats}");
    assert!(
        stats["compressed_out"].as_u64() >= Some(1 + 4 + 252),
        "{stats}"
    );
    // 2 MiB of text went out as a few KiB.
    assert!(stats["wire_in"].as_u64() < Some(64 << 10), "{stats}");
}

/// How many similar 300-byte messages [`wire_per_message`] sends.
const FEED: usize = 200;

/// The server's answer to `deflate`, and the compressed bytes per message
/// on the wire for a feed of similar 300-byte messages: the server's
/// (`ours` false) or ours, echoed (`ours` true).
async fn wire_per_message(deflate: PerMessageDeflate, ours: bool) -> Option<(String, u64)> {
    let server = PythonServer::start(&json!({}))?;
    let (mut connection, negotiation) = open(&server, Some(deflate)).await;
    let counter = if ours { "wire_in" } else { "wire_out" };
    let before = stats(&mut connection).await[counter].as_u64().unwrap();
    if ours {
        for index in 0..FEED {
            echoes(
                &mut connection,
                WsMessage::text(content("ours", index, 300)),
            )
            .await;
        }
    } else {
        command(
            &mut connection,
            json!({"cmd": "send", "kind": "text", "size": 300, "count": FEED}),
        )
        .await;
        for index in 0..FEED {
            let message = next(&mut connection).await;
            assert!(message.as_text() == Some(content("text", index, 300).as_str()));
        }
    }
    // Less the commands in between (a few dozen bytes).
    let after = stats(&mut connection).await[counter].as_u64().unwrap();
    Some((
        negotiation.answer.unwrap_or_default(),
        (after - before) / FEED as u64,
    ))
}

#[tokio::test]
async fn context_takeover_shrinks_a_feed() {
    // The server's window kept from message to message (the default), or
    // reset after each when we ask.
    let Some((answer, kept)) = wire_per_message(PerMessageDeflate::new(), false).await else {
        return;
    };
    assert!(!answer.contains("server_no_context_takeover"), "{answer}");
    let asked = PerMessageDeflate::new().server_no_context_takeover(true);
    let Some((answer, reset)) = wire_per_message(asked, false).await else {
        return;
    };
    assert!(answer.contains("server_no_context_takeover"), "{answer}");
    assert!(
        kept * 2 < reset,
        "bytes per message: kept {kept}, reset {reset}"
    );
}

#[tokio::test]
async fn our_window_is_kept_when_asked() {
    // Ours: reset after each message by default, kept when asked.
    let Some((answer, reset)) = wire_per_message(PerMessageDeflate::new(), true).await else {
        return;
    };
    assert!(answer.contains("client_no_context_takeover"), "{answer}");
    let asked = PerMessageDeflate::new().client_no_context_takeover(false);
    let Some((answer, kept)) = wire_per_message(asked, true).await else {
        return;
    };
    assert!(!answer.contains("client_no_context_takeover"), "{answer}");
    assert!(
        kept * 2 < reset,
        "bytes per message: kept {kept}, reset {reset}"
    );
}

#[tokio::test]
async fn a_server_that_imposes_no_context_takeover_is_honoured() {
    let Some(server) = PythonServer::start(
        &json!({"server_no_context_takeover": true, "client_no_context_takeover": true}),
    ) else {
        return;
    };
    // Neither asked for: the server may add both (RFC 7692 §7.1.1).
    let deflate = PerMessageDeflate::new().client_no_context_takeover(false);
    let (mut connection, negotiation) = open(&server, Some(deflate)).await;
    assert_eq!(
        negotiation.answer.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    // Had we kept our window, the server (which resets its own) could not
    // inflate the repeats.
    for index in 0..20 {
        echoes(
            &mut connection,
            WsMessage::text(content("text", index % 2, 300)),
        )
        .await;
    }
    // And the stats command.
    assert_eq!(stats(&mut connection).await["compressed_in"], 21);
}

/// 64 KiB that compress only over long distances: a pseudo-random 4 KiB
/// block, repeated.
fn far_repeats() -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let block: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    block.repeat(16)
}

#[tokio::test]
async fn window_bits_are_offered_and_honoured() {
    // We ask the server for a 1 KiB window; it answers with it.
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let deflate = PerMessageDeflate::new().server_max_window_bits(Some(10));
    let (mut connection, negotiation) = open(&server, Some(deflate)).await;
    assert_eq!(
        negotiation.offer.as_deref(),
        Some(
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits"
        )
    );
    assert_eq!(
        negotiation.answer.as_deref(),
        Some("permessage-deflate; client_no_context_takeover; server_max_window_bits=10")
    );
    echoes(&mut connection, WsMessage::binary(far_repeats())).await;
    drop(connection);
    drop(server);

    // The server limits us to a 512-byte window (and itself, unasked): a
    // window any larger and its inflater would fail on our repeats 4 KiB
    // apart.
    let Some(server) =
        PythonServer::start(&json!({"client_max_window_bits": 9, "server_max_window_bits": 9}))
    else {
        return;
    };
    let (mut connection, negotiation) = open(&server, Some(PerMessageDeflate::new())).await;
    let answer = negotiation.answer.unwrap_or_default();
    assert!(answer.contains("client_max_window_bits=9"), "{answer}");
    assert!(answer.contains("server_max_window_bits=9"), "{answer}");
    for _ in 0..3 {
        echoes(&mut connection, WsMessage::binary(far_repeats())).await;
    }
    let stats = stats(&mut connection).await;
    // And the stats command.
    assert_eq!(stats["compressed_in"], 4, "{stats}");
    drop(connection);
    drop(server);

    // We promise 9 bits ourselves, and the server holds us to it.
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let deflate = PerMessageDeflate::new().client_max_window_bits(Some(9));
    let (mut connection, negotiation) = open(&server, Some(deflate)).await;
    let answer = negotiation.answer.unwrap_or_default();
    assert!(answer.contains("client_max_window_bits=9"), "{answer}");
    echoes(&mut connection, WsMessage::binary(far_repeats())).await;
}

#[tokio::test]
async fn a_window_zlib_cannot_make_means_plain_sends() {
    // 256 bytes (8 bits): zlib's smallest is 512, so our messages go out
    // uncompressed, which RFC 7692 allows; the server's still come
    // compressed.
    let Some(server) = PythonServer::start(&json!({"client_max_window_bits": 8})) else {
        return;
    };
    let (mut connection, negotiation) = open(&server, Some(PerMessageDeflate::new())).await;
    let answer = negotiation.answer.unwrap_or_default();
    assert!(answer.contains("client_max_window_bits=8"), "{answer}");
    echoes(&mut connection, WsMessage::text(content("text", 1, 5000))).await;
    let stats = stats(&mut connection).await;
    assert_eq!(stats["compressed_in"], 0, "{stats}");
    assert!(stats["compressed_out"].as_u64() >= Some(2), "{stats}");
}

#[tokio::test]
async fn a_server_without_deflate_gets_plain_frames() {
    let Some(server) = PythonServer::start(&json!({"compression": false})) else {
        return;
    };
    let (mut connection, negotiation) = open(&server, Some(PerMessageDeflate::new())).await;
    assert!(negotiation.offer.is_some());
    assert_eq!(negotiation.answer, None);
    echoes(&mut connection, WsMessage::text(content("text", 3, 300))).await;
    echoes(
        &mut connection,
        WsMessage::binary(content("binary", 3, MIB).into_bytes()),
    )
    .await;
    let stats = stats(&mut connection).await;
    assert_eq!(
        (
            stats["compressed_in"].as_u64(),
            stats["compressed_out"].as_u64()
        ),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn nothing_is_offered_by_default() {
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let (mut connection, negotiation) = open(&server, None).await;
    assert_eq!((negotiation.offer, negotiation.answer), (None, None));
    echoes(&mut connection, WsMessage::text(content("text", 0, 300))).await;
}

#[tokio::test]
async fn an_inflation_bomb_stops_at_the_limit() {
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let limits = TransportLimits::default().max_message_size(MIB);
    let mut connection = connect_with(&server, Some(PerMessageDeflate::new()), limits)
        .await
        .expect("connected");
    next(&mut connection).await;
    // 64 MiB of zeros: about 64 KiB on the wire, well under the limit.
    command(&mut connection, json!({"cmd": "bomb", "size": 64 * MIB})).await;
    match next_item(&mut connection).await {
        Some(Err(HyperSocketError::MessageTooLarge { size, limit })) => {
            assert_eq!(limit, MIB);
            // At most one byte past the limit was inflated.
            assert!(size > limit && size <= limit + 1, "inflated {size}");
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    // The error ends the stream.
    assert!(next_item(&mut connection).await.is_none());
}

#[tokio::test]
async fn close_codes_reach_us_and_end_the_stream() {
    for (code, reason) in [(1000, ""), (1001, "going away"), (4001, "bye")] {
        let Some(server) = PythonServer::start(&json!({})) else {
            return;
        };
        let (mut connection, _) = open(&server, Some(PerMessageDeflate::new())).await;
        command(
            &mut connection,
            json!({"cmd": "close", "code": code, "reason": reason}),
        )
        .await;
        match next(&mut connection).await {
            WsMessage::Close(Some(frame)) => {
                assert_eq!(frame.code, CloseCode::from(code));
                assert_eq!(frame.reason.as_str(), reason);
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
        // Then the stream ends, without an error.
        assert!(next_item(&mut connection).await.is_none());
    }
}

#[tokio::test]
async fn our_close_is_answered() {
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let (mut connection, _) = open(&server, Some(PerMessageDeflate::new())).await;
    send(&mut connection, WsMessage::close(4000, "done")).await;
    // The server echoes our code.
    match next(&mut connection).await {
        WsMessage::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::from(4000)),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(next_item(&mut connection).await.is_none());
    // Nothing may follow our Close; closing again is a no-op.
    let error = connection
        .sink
        .send(WsMessage::text("late"))
        .await
        .unwrap_err();
    assert!(matches!(error, HyperSocketError::WebSocket(_)), "{error:?}");
    send(&mut connection, WsMessage::close(1000, "")).await;
    tokio::time::timeout(WAIT, connection.sink.close())
        .await
        .expect("closed within the wait")
        .expect("closed");
}

#[tokio::test]
async fn pings_are_answered_and_handed_on() {
    let Some(server) = PythonServer::start(&json!({})) else {
        return;
    };
    let (mut connection, _) = open(&server, Some(PerMessageDeflate::new())).await;
    command(&mut connection, json!({"cmd": "ping", "data": "xyz"})).await;
    assert_eq!(
        next(&mut connection).await,
        WsMessage::ping(b"xyz".to_vec())
    );
    // The server saw our Pong (its waiter resolved) without us sending
    // anything.
    assert_eq!(json(&next(&mut connection).await), json!({"pong": "xyz"}));

    // Our Ping: the server's Pong comes back as it was.
    send(&mut connection, WsMessage::ping(b"abc".to_vec())).await;
    assert_eq!(
        next(&mut connection).await,
        WsMessage::pong(b"abc".to_vec())
    );
    let error = connection
        .sink
        .send(WsMessage::ping(vec![0u8; 126]))
        .await
        .unwrap_err();
    assert!(matches!(error, HyperSocketError::WebSocket(_)), "{error:?}");
}

#[tokio::test]
async fn answers_that_cannot_be_honoured_fail_the_connect() {
    let cases: [(Option<PerMessageDeflate>, &str, &str); 5] = [
        (None, "permessage-deflate", "was not offered"),
        (
            Some(PerMessageDeflate::new()),
            "x-webkit-deflate-frame",
            "was not offered",
        ),
        (
            Some(PerMessageDeflate::new()),
            "permessage-deflate; server_max_window_bits=16",
            "invalid value",
        ),
        (
            Some(PerMessageDeflate::new()),
            "permessage-deflate; mystery=1",
            "is unknown",
        ),
        (
            Some(PerMessageDeflate::new().server_max_window_bits(Some(10))),
            "permessage-deflate; server_max_window_bits=12",
            "over the 10 offered",
        ),
    ];
    for (deflate, answer, why) in cases {
        let Some(server) = PythonServer::start(&json!({"raw_answer": answer})) else {
            return;
        };
        let error = connect_with(&server, deflate, TransportLimits::default())
            .await
            .expect_err(answer);
        let HyperSocketError::Handshake {
            status: None,
            source: Some(source),
            ..
        } = &error
        else {
            panic!("{answer}: expected a handshake error, got {error:?}");
        };
        assert!(source.to_string().contains(why), "{answer}: {source}");
    }
}

#[tokio::test]
async fn bad_settings_fail_before_connecting() {
    // No server needed: nothing is dialled.
    let transport = hypersockets::SokettoTransport::new().permessage_deflate(Some(
        PerMessageDeflate::new().server_max_window_bits(Some(16)),
    ));
    let request = hypersockets::ConnectRequest::new("ws://127.0.0.1:9/");
    let error = hypersockets::Transport::connect(&transport, request)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            HyperSocketError::InvalidConfiguration {
                setting: "permessage_deflate.server_max_window_bits",
                ..
            }
        ),
        "{error:?}"
    );
    let request = hypersockets::ConnectRequest::new("ws://127.0.0.1:9/")
        .header("sec-websocket-extensions", "permessage-deflate");
    let error = hypersockets::Transport::connect(&hypersockets::SokettoTransport::new(), request)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            HyperSocketError::InvalidConfiguration {
                setting: "headers",
                ..
            }
        ),
        "{error:?}"
    );
}
