//! The passive ping detectors on any frame: never a panic, and an answer
//! only to a message that really is the ping.
#![no_main]

use hypersockets_core::{JsonPing, PassivePingDetector, TextPing, WsMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, payload)) = data.split_first() else {
        return;
    };
    let message = if kind & 1 == 0 {
        match std::str::from_utf8(payload) {
            Ok(text) => WsMessage::text(text.to_owned()),
            Err(_) => return,
        }
    } else {
        WsMessage::binary(payload.to_vec())
    };

    let text_ping = TextPing::default();
    if let Some(reply) = text_ping.detect(&message) {
        assert_eq!(message.as_bytes(), b"ping", "only the ping is answered");
        assert_eq!(reply.as_bytes(), b"pong");
    }

    for (ping, pong) in [("ping", "pong"), ("op", "pong"), ("", "x")] {
        let Some(reply) = JsonPing::new(ping, pong).detect(&message) else {
            continue;
        };
        // What was answered is a JSON object whose only member is the ping
        // key with an integer; the answer carries the same digits (serde_json
        // with `arbitrary_precision`, so integers of any length compare).
        let Ok(asked) = serde_json::from_slice::<serde_json::Value>(payload) else {
            // Only leading zeros (`{"ping":007}`) are answered though not
            // JSON: the digits are echoed as sent.
            let reply = std::str::from_utf8(reply.as_bytes()).expect("an ASCII answer");
            let digits = reply
                .strip_prefix(&format!(r#"{{"{pong}":"#))
                .and_then(|rest| rest.strip_suffix('}'))
                .expect("the pong key and a number");
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            assert!(unsigned.starts_with('0') && unsigned.len() > 1, "{reply}");
            continue;
        };
        let object = asked.as_object().expect("an answered ping is an object");
        assert_eq!(object.len(), 1);
        let value = object.get(ping).expect("the ping key");
        assert!(value.is_number(), "an integer");
        let answer: serde_json::Value =
            serde_json::from_slice(reply.as_bytes()).expect("JSON answer");
        assert_eq!(answer.get(pong), Some(value), "same value, pong key");
        assert_eq!(reply.is_text(), message.is_text(), "answered in kind");
    }
});
