//! Passive application-level ping detection: `TextPing` and `JsonPing`,
//! their matches, their near misses, and a property test on arbitrary input.

use bytes::Bytes;
use hypersockets_core::{JsonPing, PassivePingDetector, TextPing, WsMessage};
use proptest::prelude::*;

fn text_reply(detector: &impl PassivePingDetector, input: &str) -> Option<String> {
    match detector.detect(&WsMessage::text(input))? {
        WsMessage::Text(text) => Some(text.to_string()),
        other => panic!("a text ping got a non-text reply: {other:?}"),
    }
}

// ---------------------------------------------------------------- TextPing

#[test]
fn text_ping_default_answers_pong() {
    let detector = TextPing::default();
    assert_eq!(
        detector.detect(&WsMessage::text("ping")),
        Some(WsMessage::text("pong"))
    );
}

#[test]
fn text_ping_custom_words() {
    let detector = TextPing::new("hb", "hb_ack");
    assert_eq!(text_reply(&detector, "hb").as_deref(), Some("hb_ack"));
    assert_eq!(text_reply(&detector, "ping"), None);
    let detector = TextPing::new(String::from("PING"), String::from("PONG"));
    assert_eq!(text_reply(&detector, "PING").as_deref(), Some("PONG"));
    assert_eq!(text_reply(&detector, "ping"), None);
}

#[test]
fn text_ping_requires_an_exact_match() {
    let detector = TextPing::default();
    for near_miss in [
        "pingx", "Ping", "PING", " ping", "ping ", "ping\n", "pin", "pong", "", "\"ping\"",
    ] {
        assert_eq!(text_reply(&detector, near_miss), None, "{near_miss:?}");
    }
}

#[test]
fn text_ping_ignores_binary_and_control_frames() {
    let detector = TextPing::default();
    for message in [
        WsMessage::binary(&b"ping"[..]),
        WsMessage::ping(&b"ping"[..]),
        WsMessage::pong(&b"ping"[..]),
        WsMessage::close(1000, "ping"),
        WsMessage::Close(None),
    ] {
        assert_eq!(detector.detect(&message), None, "{message:?}");
    }
}

// ---------------------------------------------------------------- JsonPing

#[test]
fn json_ping_answers_pong_with_the_same_number() {
    let detector = JsonPing::default();
    assert_eq!(
        detector.detect(&WsMessage::text(r#"{"ping":123}"#)),
        Some(WsMessage::text(r#"{"pong":123}"#))
    );
}

#[test]
fn json_ping_allows_whitespace_between_tokens() {
    let detector = JsonPing::default();
    for input in [
        r#"{"ping": 123}"#,
        r#"{ "ping" : 123 }"#,
        "  {\"ping\":123}  ",
        "\n{\t\"ping\"\r\n:\n123\t}\r\n",
    ] {
        assert_eq!(
            text_reply(&detector, input).as_deref(),
            Some(r#"{"pong":123}"#),
            "{input:?}"
        );
    }
}

#[test]
fn json_ping_echoes_negative_and_big_numbers_exactly() {
    let detector = JsonPing::default();
    let cases = [
        ("-5", "-5"),
        ("-0", "-0"),
        ("0", "0"),
        ("1492420473027", "1492420473027"),
        // Wider than any integer type: the digits are copied, not parsed.
        (
            "123456789012345678901234567890123456789",
            "123456789012345678901234567890123456789",
        ),
        // Leading zeros (not valid JSON) are copied as they are, not re-formatted.
        ("00123", "00123"),
    ];
    for (sent, echoed) in cases {
        assert_eq!(
            text_reply(&detector, &format!(r#"{{"ping":{sent}}}"#)),
            Some(format!(r#"{{"pong":{echoed}}}"#)),
            "{sent}"
        );
    }
}

#[test]
fn json_ping_answers_a_binary_frame_with_a_binary_frame() {
    let detector = JsonPing::default();
    assert_eq!(
        detector.detect(&WsMessage::binary(&br#"{"ping": 42}"#[..])),
        Some(WsMessage::binary(&br#"{"pong":42}"#[..]))
    );
}

#[test]
fn json_ping_custom_keys() {
    let detector = JsonPing::new("heartbeat", "heartbeat_ack");
    assert_eq!(
        text_reply(&detector, r#"{"heartbeat": 7}"#).as_deref(),
        Some(r#"{"heartbeat_ack":7}"#)
    );
    // The default keys no longer match.
    assert_eq!(text_reply(&detector, r#"{"ping":7}"#), None);
    // Keys are matched byte for byte.
    assert_eq!(text_reply(&detector, r#"{"Heartbeat":7}"#), None);
    assert_eq!(text_reply(&detector, r#"{"heartbeatx":7}"#), None);
}

#[test]
fn json_ping_near_misses_do_not_match() {
    let detector = JsonPing::default();
    for near_miss in [
        "",
        " ",
        "{}",
        r#"{"ping":}"#,
        r#"{"ping":"12"}"#,
        r#"{"ping":12,"x":1}"#,
        r#"{"x":1,"ping":12}"#,
        r#"{"pingx":1}"#,
        r#"{"xping":1}"#,
        r#"{"Ping":1}"#,
        r#"{" ping":1}"#,
        r#"{"ping ":1}"#,
        r#"{"pong":1}"#,
        r#"{"ping":1.5}"#,
        r#"{"ping":1e5}"#,
        r#"{"ping":+1}"#,
        r#"{"ping":-}"#,
        r#"{"ping":--1}"#,
        r#"{"ping":null}"#,
        r#"{"ping":12,}"#,
        r#"{"ping":12}garbage"#,
        r#"{"ping":12}}"#,
        r#"{"ping":12"#,
        r#"{"ping" 12}"#,
        r#"{ping:12}"#,
        r#"[{"ping":12}]"#,
        r#"{"ping":1 2}"#,
        "ping",
    ] {
        assert_eq!(text_reply(&detector, near_miss), None, "{near_miss:?}");
    }
}

#[test]
fn json_ping_ignores_control_frames() {
    let detector = JsonPing::default();
    let payload = Bytes::from_static(br#"{"ping":1}"#);
    for message in [
        WsMessage::Ping(payload.clone()),
        WsMessage::Pong(payload),
        WsMessage::close(1000, r#"{"ping":1}"#),
        WsMessage::Close(None),
    ] {
        assert_eq!(detector.detect(&message), None, "{message:?}");
    }
}

proptest! {
    #[test]
    fn json_ping_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let detector = JsonPing::default();
        let _ = detector.detect(&WsMessage::binary(bytes.clone()));
        if let Ok(text) = String::from_utf8(bytes) {
            let _ = detector.detect(&WsMessage::text(text));
        }
    }

    #[test]
    fn json_ping_never_panics_on_ping_shaped_text(
        prefix in r#"[ {}":,ping0-9\-]{0,12}"#,
        suffix in r#"[ {}":,ping0-9\-.]{0,12}"#,
    ) {
        let detector = JsonPing::default();
        let _ = detector.detect(&WsMessage::text(format!("{prefix}{suffix}")));
        let _ = detector.detect(&WsMessage::text(format!(r#"{prefix}{{"ping":{suffix}"#)));
    }

    #[test]
    fn json_ping_echoes_any_u64(n in any::<u64>()) {
        let detector = JsonPing::default();
        prop_assert_eq!(
            detector.detect(&WsMessage::text(format!(r#"{{"ping":{n}}}"#))),
            Some(WsMessage::text(format!(r#"{{"pong":{n}}}"#)))
        );
        prop_assert_eq!(
            detector.detect(&WsMessage::binary(format!(r#"{{ "ping" : {n} }}"#).into_bytes())),
            Some(WsMessage::binary(format!(r#"{{"pong":{n}}}"#).into_bytes()))
        );
    }

    #[test]
    fn json_ping_echoes_any_i64(n in any::<i64>()) {
        let detector = JsonPing::default();
        prop_assert_eq!(
            detector.detect(&WsMessage::text(format!(r#"{{"ping":{n}}}"#))),
            Some(WsMessage::text(format!(r#"{{"pong":{n}}}"#)))
        );
    }
}
