//! Reading a route key from raw JSON without parsing the message: the
//! building block of a `classify` that lets the parse run in the lanes.

/// The string value at `path` in a JSON object, borrowed from `json`,
/// without parsing the rest of the message.
///
/// `path` names keys of nested objects from the top level: `&["e"]` reads
/// Binance's event type from `{"e":"trade",…}`, `&["arg", "channel"]`
/// reads OKX's channel from `{"arg":{"channel":"books",…},"data":[…]}`.
/// The scan stops at the value it looks for, so a key near the start of a
/// message costs a few dozen byte comparisons however long the message is.
/// That makes it the natural body of
/// [`MessageRouter::classify`](hypersockets_core::MessageRouter::classify):
/// the reader only peeks the key, and the full parse runs in the key's lane.
///
/// Returns `None` when `json` is not an object, a key on the path is
/// missing or its value is not an object (or, at the end, not a string),
/// when the string holds escape sequences (route keys never need them; the
/// raw text would not be the string's value), or when the text up to the
/// value is not made of an object's members (values skipped on the way are
/// checked for closed strings and balanced brackets only). Keys are
/// compared as they are written
/// (a key spelled with escapes does not match), and the first occurrence of
/// a repeated key wins. What comes after the value is not looked at: the
/// lane's parse validates the message.
///
/// Never panics, whatever the input.
///
/// ```
/// use hypersockets_router::peek_json_str;
///
/// let trade = r#"{"e":"trade","E":1700000000000,"s":"BTCUSDT","p":"43251.12"}"#;
/// assert_eq!(peek_json_str(trade, &["e"]), Some("trade"));
/// assert_eq!(peek_json_str(trade, &["s"]), Some("BTCUSDT"));
/// assert_eq!(peek_json_str(trade, &["E"]), None); // a number, not a string
///
/// let okx = r#"{ "arg": {"channel": "books", "instId": "BTC-USDT"}, "data": [] }"#;
/// assert_eq!(peek_json_str(okx, &["arg", "channel"]), Some("books"));
/// assert_eq!(peek_json_str(okx, &["arg", "missing"]), None);
/// assert_eq!(peek_json_str("[1, 2]", &["e"]), None);
/// ```
pub fn peek_json_str<'a>(json: &'a str, path: &[&str]) -> Option<&'a str> {
    let bytes = json.as_bytes();
    let (last, parents) = path.split_last()?;
    let mut at = skip_whitespace(bytes, 0);
    for key in parents {
        at = value_of(bytes, at, key)?;
        if bytes.get(at) != Some(&b'{') {
            return None;
        }
    }
    let at = value_of(bytes, at, last)?;
    let (start, end, escaped) = scan_string(bytes, at)?;
    if escaped {
        return None;
    }
    // `start..end` lies between two ASCII quotes, so on char boundaries.
    json.get(start..end)
}

/// Where the value of `key` starts, in the object that starts at `at`.
fn value_of(bytes: &[u8], at: usize, key: &str) -> Option<usize> {
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    let mut at = skip_whitespace(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return None;
    }
    loop {
        let (start, end, escaped) = scan_string(bytes, at)?;
        at = skip_whitespace(bytes, end + 1);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_whitespace(bytes, at + 1);
        // A key spelled with escapes never matches: its raw text is not its
        // value (`"\\"` is one backslash), so comparing it could match the
        // wrong key.
        if !escaped && bytes.get(start..end) == Some(key.as_bytes()) {
            return Some(at);
        }
        at = skip_whitespace(bytes, skip_value(bytes, at)?);
        match bytes.get(at) {
            Some(b',') => at = skip_whitespace(bytes, at + 1),
            _ => return None,
        }
    }
}

/// The string that starts at `at` (a quote): its contents' range (quotes
/// excluded) and whether it holds escape sequences. The closing quote is at
/// the range's end.
fn scan_string(bytes: &[u8], at: usize) -> Option<(usize, usize, bool)> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let start = at + 1;
    let mut escaped = false;
    let mut i = start;
    loop {
        match *bytes.get(i)? {
            b'"' => return Some((start, i, escaped)),
            b'\\' => {
                escaped = true;
                // The escaped character, whatever it is, cannot end the string.
                i += 2;
            }
            // Control characters must be escaped in JSON strings.
            0x00..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// The index just past the value that starts at `at`: a string, an object
/// or array (skipped by counting brackets outside strings, without
/// recursion), or a number or literal.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => scan_string(bytes, at).map(|(_, end, _)| end + 1),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match *bytes.get(i)? {
                    b'"' => {
                        i = scan_string(bytes, i)?.1 + 1;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let len = bytes[at..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(bytes.len() - at);
            Some(at + len)
        }
        _ => None,
    }
}

fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = bytes.get(at) {
        at += 1;
    }
    at
}
