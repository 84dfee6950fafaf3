//! Short, printable excerpts of payloads for log lines.

use std::borrow::Cow;

use hypersockets_core::WsMessage;

const EXCERPT_BYTES: usize = 96;

/// The first bytes of a payload, lossily decoded, for logging a message that
/// could not be parsed without flooding the log.
pub(crate) fn excerpt(message: &WsMessage) -> Cow<'_, str> {
    let bytes = message.as_bytes();
    let cut = &bytes[..bytes.len().min(EXCERPT_BYTES)];
    let text = String::from_utf8_lossy(cut);
    if bytes.len() > EXCERPT_BYTES {
        Cow::Owned(format!("{text}…"))
    } else {
        text
    }
}

/// The message of a caught panic, when it carried a string.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}
