//! What travels with each published message besides its payload: the
//! dedupe id JetStream checks, and the venue's numbers, so that a
//! consumer checks each stream's continuity without parsing payloads.

use async_nats::HeaderMap;
use hypersockets::{StreamId, StreamSequence};

/// The venue's number for the message.
pub(crate) const NUMBER: &str = "Hs-Number";
/// The number of the stream's message before it, when the venue says.
pub(crate) const PREVIOUS: &str = "Hs-Previous";
/// Present (`1`) on a message that starts its stream afresh (a snapshot).
pub(crate) const RESET: &str = "Hs-Reset";
/// Present (`1`) on a payload that came as a binary frame.
pub(crate) const BINARY: &str = "Hs-Binary";

/// How a message without a venue number gets its dedupe id.
///
/// ```
/// use hypersockets_nats::{PublisherConfig, UnnumberedIds};
///
/// let config = PublisherConfig::default().unnumbered(UnnumberedIds::None);
/// # drop(config);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnnumberedIds {
    /// From its stream and a hash of its payload (the default): two nodes
    /// publishing the same message store it once; a payload repeated
    /// byte for byte within the duplicate window is stored once too
    /// (venues stamp their messages with times, so a repeat is a copy).
    #[default]
    ByContent,
    /// No id: every copy is stored, so hot-hot nodes store such messages
    /// twice.
    None,
}

/// The dedupe id of a message of the stream whose subject tokens are
/// `venue` and `stream`: the venue's number where there is one (`r` marks
/// a reset, which may share its number with a delta), else as `unnumbered`
/// says. The same on every node.
pub(crate) fn message_id(
    base: &str,
    sequence: Option<&StreamSequence>,
    payload: &[u8],
    unnumbered: UnnumberedIds,
) -> Option<String> {
    match (sequence, unnumbered) {
        (Some(at), _) if at.reset => Some(format!("{base}.r{}", at.number)),
        (Some(at), _) => Some(format!("{base}.{}", at.number)),
        (None, UnnumberedIds::ByContent) => Some(format!("{base}.c{:016x}", fnv1a(payload))),
        (None, UnnumberedIds::None) => None,
    }
}

/// The headers of a message: its id and the venue's numbers.
pub(crate) fn write(
    id: Option<&str>,
    sequence: Option<&StreamSequence>,
    binary: bool,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(id) = id {
        headers.insert("Nats-Msg-Id", id);
    }
    if let Some(at) = sequence {
        headers.insert(NUMBER, at.number.to_string().as_str());
        if let Some(previous) = at.previous {
            headers.insert(PREVIOUS, previous.to_string().as_str());
        }
        if at.reset {
            headers.insert(RESET, "1");
        }
    }
    if binary {
        headers.insert(BINARY, "1");
    }
    headers
}

/// The venue's numbers in `headers`, for the stream `stream`; `None`
/// when there are none, or they are not numbers.
pub(crate) fn sequence(headers: Option<&HeaderMap>, stream: StreamId) -> Option<StreamSequence> {
    let headers = headers?;
    let number = |name: &str| headers.get(name)?.as_str().parse::<u64>().ok();
    let mut at = StreamSequence::new(stream, number(NUMBER)?);
    if let Some(previous) = number(PREVIOUS) {
        at = at.previous(previous);
    }
    if headers.get(RESET).is_some() {
        at = at.reset();
    }
    Some(at)
}

/// Whether the payload came as a binary frame.
pub(crate) fn is_binary(headers: Option<&HeaderMap>) -> bool {
    headers.is_some_and(|headers| headers.get(BINARY).is_some())
}

/// FNV-1a, 64 bits: the same on every node and run.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        let stream = StreamId::of(&["md.binance.btcusdt@depth"]);
        for at in [
            StreamSequence::new(stream, 9),
            StreamSequence::new(stream, 9).previous(4),
            StreamSequence::new(stream, 20).reset(),
        ] {
            let headers = write(Some("x"), Some(&at), false);
            assert_eq!(sequence(Some(&headers), stream), Some(at));
            assert!(!is_binary(Some(&headers)));
        }
        assert_eq!(sequence(Some(&write(None, None, true)), stream), None);
    }

    #[test]
    fn ids_are_the_same_for_the_same_message() {
        let stream = StreamId::of(&["s"]);
        let at = StreamSequence::new(stream, 7);
        assert_eq!(
            message_id("b.s", Some(&at), b"x", UnnumberedIds::None).unwrap(),
            "b.s.7"
        );
        assert_eq!(
            message_id("b.s", Some(&at.reset()), b"x", UnnumberedIds::None).unwrap(),
            "b.s.r7"
        );
        let first = message_id("b.s", None, b"payload", UnnumberedIds::ByContent);
        assert_eq!(
            first,
            message_id("b.s", None, b"payload", UnnumberedIds::ByContent)
        );
        assert_ne!(
            first,
            message_id("b.s", None, b"payload2", UnnumberedIds::ByContent)
        );
        assert_eq!(
            message_id("b.s", None, b"payload", UnnumberedIds::None),
            None
        );
    }
}
