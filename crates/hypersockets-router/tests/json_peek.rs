//! `peek_json_str` against serde_json: the same answer on well-formed
//! objects, and no panic on anything.

use hypersockets_router::peek_json_str;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings without characters that need escaping, and some that do or
/// that look like JSON structure.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9_@ .:-]{0,12}",
        1 => "[a-z\"\\\\/{}\\[\\],:\u{e9}\u{1F600}\n\t]{0,6}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(text(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(text(), value(), 0..8)
        .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>()))
}

/// Every path of keys from the top to a value, with the value.
fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    if let Value::Object(map) = value {
        for (key, child) in map {
            prefix.push(key.clone());
            out.push((prefix.clone(), child.clone()));
            paths(child, prefix, out);
            prefix.pop();
        }
    }
}

/// What `peek_json_str` must answer for `path` in a document serialized by
/// serde_json: the string, if it is one and is written without escapes.
fn expected(value: &Value, text: &str) -> Option<String> {
    let Value::String(string) = value else {
        return None;
    };
    let written = serde_json::to_string(string).expect("serialize");
    debug_assert!(text.contains(&written));
    (!written.contains('\\')).then(|| string.clone())
}

fn check_all_paths(document: &Value, text: &str) -> Result<(), TestCaseError> {
    let mut all = Vec::new();
    paths(document, &mut Vec::new(), &mut all);
    for (path, value) in &all {
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        let escaped_key = path
            .iter()
            .any(|key| serde_json::to_string(key).expect("key").contains('\\'));
        let peeked = peek_json_str(text, &keys);
        if escaped_key {
            // A key written with escapes is not matched.
            prop_assert_eq!(peeked, None, "path {:?}", path);
        } else {
            prop_assert_eq!(
                peeked.map(str::to_owned),
                expected(value, text),
                "path {:?} in {}",
                path,
                text
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn agrees_with_serde_json_compact(document in object()) {
        let text = serde_json::to_string(&document).expect("serialize");
        check_all_paths(&document, &text)?;
    }

    #[test]
    fn agrees_with_serde_json_pretty(document in object()) {
        let text = serde_json::to_string_pretty(&document).expect("serialize");
        check_all_paths(&document, &text)?;
    }

    #[test]
    fn missing_keys_are_none(document in object(), key in "[A-Z]{13}") {
        // Generated keys are at most 12 characters: this one is never there.
        let text = serde_json::to_string(&document).expect("serialize");
        prop_assert_eq!(peek_json_str(&text, &[key.as_str()]), None);
    }

    #[test]
    fn never_panics_on_any_text(text in "\\PC{0,64}", path in proptest::collection::vec("[a-z\"]{0,3}", 0..3)) {
        let keys: Vec<&str> = path.iter().map(String::as_str).collect();
        let _ = peek_json_str(&text, &keys);
    }

    #[test]
    fn never_panics_on_cut_or_damaged_objects(
        document in object(),
        cut in any::<prop::sample::Index>(),
        damage in any::<prop::sample::Index>(),
        byte in prop::sample::select(vec![b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b' ', b'x']),
    ) {
        let text = serde_json::to_string(&document).expect("serialize");
        let mut paths_found = Vec::new();
        paths(&document, &mut Vec::new(), &mut paths_found);
        let mut bytes = text.into_bytes();
        if !bytes.is_empty() {
            let at = damage.index(bytes.len());
            if bytes[at].is_ascii() {
                bytes[at] = byte;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        // Truncating may split a multi-byte character: keep the valid prefix.
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                let valid = error.utf8_error().valid_up_to();
                String::from_utf8(error.into_bytes()[..valid].to_vec()).expect("valid prefix")
            }
        };
        for (path, _) in &paths_found {
            let keys: Vec<&str> = path.iter().map(String::as_str).collect();
            if let Some(found) = peek_json_str(&text, &keys) {
                // Whatever it finds is a piece of the text between quotes.
                let quoted = format!("\"{found}\"");
                prop_assert!(text.contains(&quoted), "{} not in {}", quoted, text);
            }
        }
    }
}

#[test]
fn exchange_shapes() {
    let binance =
        r#"{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[["1.0","2.0"]],"a":[]}"#;
    assert_eq!(peek_json_str(binance, &["e"]), Some("depthUpdate"));
    assert_eq!(peek_json_str(binance, &["a"]), None);
    let combined = r#"{"stream":"btcusdt@trade","data":{"e":"trade","s":"BTCUSDT"}}"#;
    assert_eq!(peek_json_str(combined, &["stream"]), Some("btcusdt@trade"));
    assert_eq!(peek_json_str(combined, &["data", "e"]), Some("trade"));
    let okx = "{\n  \"arg\" : { \"channel\" : \"books5\" , \"instId\" : \"BTC-USDT\" },\n  \"data\" : [ {\"asks\": [[\"1\", \"2\"]]} ]\n}";
    assert_eq!(peek_json_str(okx, &["arg", "channel"]), Some("books5"));
    assert_eq!(peek_json_str(okx, &["arg", "instId"]), Some("BTC-USDT"));
    let bybit = r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT"}}"#;
    assert_eq!(peek_json_str(bybit, &["type"]), Some("delta"));
    // Keys inside nested values or strings are not top-level keys.
    let nested = r#"{"x":{"e":"inner"},"y":"\"e\":\"fake\"","e":"outer"}"#;
    assert_eq!(peek_json_str(nested, &["e"]), Some("outer"));
    // The first of repeated keys wins; an escaped value is not returned.
    assert_eq!(peek_json_str(r#"{"e":"a","e":"b"}"#, &["e"]), Some("a"));
    assert_eq!(peek_json_str(r#"{"e":"a\"b"}"#, &["e"]), None);
    // Not an object, or nothing to look for.
    assert_eq!(peek_json_str(r#""e""#, &["e"]), None);
    assert_eq!(peek_json_str("", &["e"]), None);
    assert_eq!(peek_json_str(r#"{"e":"a"}"#, &[]), None);
    assert_eq!(peek_json_str(r#"{"e":{"f":"g"}}"#, &["e"]), None);
    assert_eq!(peek_json_str(r#"{"e":"a"}"#, &["e", "f"]), None);
    // Deep nesting on the way is skipped without recursion.
    let deep = format!(
        r#"{{"x":{}{},"e":"found"}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(peek_json_str(&deep, &["e"]), Some("found"));
}
