//! The message types: `WsMessage` constructors and accessors, `Utf8Bytes`
//! validation and buffer sharing, close codes and close frames.

use bytes::Bytes;
use hypersockets_core::{CloseCode, CloseFrame, Utf8Bytes, WsMessage};

#[test]
fn text_message() {
    let msg = WsMessage::text("héllo");
    assert_eq!(msg, WsMessage::Text(Utf8Bytes::from("héllo")));
    assert_eq!(msg.as_text(), Some("héllo"));
    assert_eq!(msg.as_bytes(), "héllo".as_bytes());
    assert_eq!(msg.len(), 6);
    assert!(!msg.is_empty());
    assert!(msg.is_text() && msg.is_data());
    assert!(!msg.is_binary() && !msg.is_control() && !msg.is_close());

    assert_eq!(WsMessage::text(String::from("a")), WsMessage::from("a"));
    assert_eq!(WsMessage::from(String::from("a")), WsMessage::text("a"));
    assert_eq!(
        WsMessage::from(Utf8Bytes::from_static("a")),
        WsMessage::text("a")
    );
    assert!(WsMessage::text("").is_empty());
    assert_eq!(WsMessage::text("").as_text(), Some(""));
}

#[test]
fn binary_message() {
    let msg = WsMessage::binary(vec![0u8, 1, 255]);
    assert_eq!(msg, WsMessage::Binary(Bytes::from_static(&[0, 1, 255])));
    assert_eq!(msg.as_bytes(), &[0, 1, 255]);
    assert_eq!(msg.as_text(), None);
    assert_eq!(msg.len(), 3);
    assert!(msg.is_binary() && msg.is_data());
    assert!(!msg.is_text() && !msg.is_control() && !msg.is_close());

    assert_eq!(
        WsMessage::from(vec![1u8, 2]),
        WsMessage::binary(vec![1u8, 2])
    );
    assert_eq!(
        WsMessage::from(Bytes::from_static(b"xy")),
        WsMessage::binary(&b"xy"[..])
    );
    // Binary that happens to be valid UTF-8 is still not text.
    assert_eq!(WsMessage::binary(&b"ping"[..]).as_text(), None);
}

#[test]
fn ping_and_pong_messages() {
    let ping = WsMessage::ping(&b"1234"[..]);
    assert_eq!(ping, WsMessage::Ping(Bytes::from_static(b"1234")));
    assert_eq!(ping.as_bytes(), b"1234");
    assert_eq!(ping.as_text(), None);
    assert!(ping.is_control() && !ping.is_data() && !ping.is_close());

    let pong = WsMessage::pong(Vec::new());
    assert_eq!(pong, WsMessage::Pong(Bytes::new()));
    assert!(pong.is_empty());
    assert_eq!(pong.len(), 0);
    assert_eq!(pong.as_text(), None);
    assert!(pong.is_control() && !pong.is_text() && !pong.is_binary());

    assert_ne!(WsMessage::ping(&b"a"[..]), WsMessage::pong(&b"a"[..]));
}

#[test]
fn close_messages() {
    let close = WsMessage::close(4001, "bye");
    assert_eq!(close, WsMessage::Close(Some(CloseFrame::new(4001, "bye"))));
    assert_eq!(close.as_bytes(), b"bye");
    assert_eq!(close.as_text(), None);
    assert_eq!(close.len(), 3);
    assert!(close.is_close() && close.is_control() && !close.is_data());

    let bare = WsMessage::Close(None);
    assert!(bare.is_close() && bare.is_control());
    assert_eq!(bare.as_bytes(), b"");
    assert!(bare.is_empty());
    assert_eq!(bare.as_text(), None);

    let by_const = WsMessage::close(CloseCode::AWAY, String::from("restart"));
    match by_const {
        WsMessage::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::AWAY);
            assert_eq!(frame.reason, "restart");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[test]
fn as_text_is_none_for_everything_but_text() {
    for msg in [
        WsMessage::binary(&b"x"[..]),
        WsMessage::ping(&b"x"[..]),
        WsMessage::pong(&b"x"[..]),
        WsMessage::close(1000, "x"),
        WsMessage::Close(None),
    ] {
        assert_eq!(msg.as_text(), None, "{msg:?}");
    }
}

#[test]
fn utf8_bytes_rejects_invalid_utf8() {
    for invalid in [
        &b"\xff\xfe"[..],
        b"\xff",
        b"abc\x80",
        b"\xc3",             // truncated two-byte sequence
        b"\xe2\x82",         // truncated three-byte sequence
        b"\xed\xa0\x80",     // a UTF-16 surrogate
        b"\xc0\xaf",         // overlong encoding
        b"\xf4\x90\x80\x80", // above U+10FFFF
    ] {
        assert!(
            Utf8Bytes::try_from(Bytes::copy_from_slice(invalid)).is_err(),
            "{invalid:?}"
        );
        assert!(
            Utf8Bytes::try_from(invalid.to_vec()).is_err(),
            "{invalid:?}"
        );
    }
}

#[test]
fn utf8_bytes_accepts_valid_multibyte_text() {
    for valid in [
        "",
        "ascii",
        "héllo",
        "€100",
        "日本語",
        "🦀 crab",
        "\u{10FFFF}",
        "a\0b",
    ] {
        let text = Utf8Bytes::try_from(Bytes::from(valid.as_bytes().to_vec())).unwrap();
        assert_eq!(text.as_str(), valid);
        assert_eq!(text.len(), valid.len());
        assert_eq!(text.is_empty(), valid.is_empty());
        assert_eq!(
            Utf8Bytes::try_from(valid.as_bytes().to_vec()).unwrap(),
            valid
        );
    }
}

#[test]
fn utf8_bytes_conversions_do_not_copy() {
    let bytes = Bytes::from("x".repeat(1024));
    let ptr = bytes.as_ptr();
    let text = Utf8Bytes::try_from(bytes).unwrap();
    assert_eq!(text.as_bytes().as_ptr(), ptr);
    assert_eq!(text.to_bytes().as_ptr(), ptr);
    assert_eq!(Bytes::from(text).as_ptr(), ptr);
}

#[test]
fn utf8_bytes_clone_shares_the_buffer() {
    let text = Utf8Bytes::from("a fairly long order book snapshot ".repeat(10));
    let copy = text.clone();
    assert_eq!(copy, text);
    assert_eq!(copy.as_bytes().as_ptr(), text.as_bytes().as_ptr());

    let msg = WsMessage::text(text.clone());
    let msg_copy = msg.clone();
    assert_eq!(msg_copy.as_bytes().as_ptr(), msg.as_bytes().as_ptr());
    assert_eq!(msg.as_bytes().as_ptr(), text.as_bytes().as_ptr());

    let binary = WsMessage::binary(vec![9u8; 512]);
    assert_eq!(
        binary.clone().as_bytes().as_ptr(),
        binary.as_bytes().as_ptr()
    );
}

#[test]
fn utf8_bytes_accessors_and_traits() {
    let text = Utf8Bytes::from_static("ping");
    assert_eq!(text.as_str(), "ping");
    assert_eq!(&*text, "ping"); // Deref
    assert!(text.starts_with("pi")); // str methods through Deref
    assert_eq!(AsRef::<str>::as_ref(&text), "ping");
    assert_eq!(AsRef::<[u8]>::as_ref(&text), b"ping");
    assert_eq!(text, "ping");
    assert!(text == *"ping");
    assert_eq!(text.to_string(), "ping");
    assert_eq!(format!("{text:?}"), "\"ping\"");
    assert_eq!(Utf8Bytes::default(), "");
    assert!(Utf8Bytes::default().is_empty());
    let (a, b) = (Utf8Bytes::from("a"), Utf8Bytes::from("b"));
    assert!(a < b);
    assert_eq!(Utf8Bytes::from(String::from("x")), Utf8Bytes::from("x"));
}

#[test]
fn close_code_constants() {
    let expected = [
        (CloseCode::NORMAL, 1000),
        (CloseCode::AWAY, 1001),
        (CloseCode::PROTOCOL, 1002),
        (CloseCode::UNSUPPORTED, 1003),
        (CloseCode::STATUS, 1005),
        (CloseCode::ABNORMAL, 1006),
        (CloseCode::INVALID, 1007),
        (CloseCode::POLICY, 1008),
        (CloseCode::SIZE, 1009),
        (CloseCode::ERROR, 1011),
        (CloseCode::RESTART, 1012),
        (CloseCode::AGAIN, 1013),
    ];
    for (code, number) in expected {
        assert_eq!(code.as_u16(), number);
        assert_eq!(u16::from(code), number);
        assert_eq!(CloseCode::from(number), code);
        assert_eq!(code.is_normal(), number == 1000, "{number}");
    }
}

#[test]
fn close_code_is_normal_only_for_1000() {
    assert!(CloseCode::from(1000).is_normal());
    for number in [0, 999, 1001, 1005, 3000, 4000, 4001, u16::MAX] {
        assert!(!CloseCode::from(number).is_normal(), "{number}");
    }
}

#[test]
fn close_code_formatting() {
    assert_eq!(CloseCode::from(4001).to_string(), "4001");
    assert_eq!(format!("{:?}", CloseCode::NORMAL), "CloseCode(1000)");
    assert!(CloseCode::NORMAL < CloseCode::AWAY);
}

#[test]
fn close_frame_display() {
    assert_eq!(CloseFrame::new(1000, "").to_string(), "1000");
    assert_eq!(CloseFrame::new(4001, "kicked").to_string(), "4001 (kicked)");
    assert_eq!(
        CloseFrame::new(CloseCode::AWAY, "server restart").to_string(),
        "1001 (server restart)"
    );
}

#[test]
fn close_frame_fields() {
    let frame = CloseFrame::new(CloseCode::POLICY, Utf8Bytes::from("rate limit"));
    assert_eq!(frame.code, CloseCode::POLICY);
    assert_eq!(frame.reason, "rate limit");
    assert_eq!(frame.clone(), frame);
    assert_ne!(frame, CloseFrame::new(1008, "other"));
}
