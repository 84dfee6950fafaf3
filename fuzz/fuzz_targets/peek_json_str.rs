//! `peek_json_str` on any text and path: never a panic, and what it finds
//! is the unescaped string at that path, borrowed from the input.
#![no_main]

use hypersockets_router::peek_json_str;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first line is the path, keys separated by `.`; the rest the JSON.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, json) = text.split_once('\n').unwrap_or(("e", text));
    let path: Vec<&str> = path.split('.').take(4).collect();
    let Some(found) = peek_json_str(json, &path) else {
        return;
    };
    let start = found.as_ptr() as usize - json.as_ptr() as usize;
    assert!(start + found.len() <= json.len(), "borrowed from the input");
    let before = start.checked_sub(1).map(|at| json.as_bytes()[at]);
    assert_eq!(before, Some(b'"'), "a string's contents");
    assert!(!found.contains(['"', '\\']), "never an escaped string");
    // On valid JSON without repeated keys, it is what a parser reads.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(json) {
        let parsed = path.iter().try_fold(&value, |at, key| at.get(key));
        if let Some(serde_json::Value::String(parsed)) = parsed
            && !has_repeated_keys(json, &value)
            && !json.contains('\\')
        {
            assert_eq!(parsed, found);
        }
    }
});

/// Whether the raw text repeats a key somewhere: the parser keeps the
/// last, `peek_json_str` the first, so such inputs are not compared. Valid
/// JSON has one colon outside strings per member, and the parsed value
/// keeps one member per distinct key.
fn has_repeated_keys(json: &str, value: &serde_json::Value) -> bool {
    fn members(value: &serde_json::Value) -> usize {
        match value {
            serde_json::Value::Object(map) => map.len() + map.values().map(members).sum::<usize>(),
            serde_json::Value::Array(items) => items.iter().map(members).sum(),
            _ => 0,
        }
    }
    colons_outside_strings(json) != members(value)
}

fn colons_outside_strings(json: &str) -> usize {
    let (mut count, mut in_string, mut escaped) = (0, false, false);
    for byte in json.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (false, _, b'"') => in_string = true,
            (false, _, b':') => count += 1,
            _ => {}
        }
    }
    count
}
