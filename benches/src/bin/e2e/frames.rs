//! The catalog encoded once as WebSocket text frames, back to back in one
//! buffer, ready to be written to a socket as raw bytes.
//!
//! Numbers that change per send are fixed-width fields, right-aligned with
//! leading spaces (valid JSON whitespace), so they can be overwritten in
//! place: the stream sequence numbers (per cycle) and, in paced runs, the
//! `"E"` send stamp. Server frames are unmasked, so the payload bytes are the
//! frame bytes.

use std::fmt::Write as _;

use crate::dataset::{Body, Catalog, Spec};
use crate::feed::{Kind, SYMBOLS};

/// Width of a sequence number field.
const SEQ_WIDTH: usize = 10;
/// Width of the `"E"` field: ms since the epoch in a blast, ns of
/// `CLOCK_MONOTONIC` when paced (16 digits: 115 days of uptime).
const STAMP_WIDTH: usize = 16;

/// The encoded catalog.
#[derive(Debug)]
pub(crate) struct Frames {
    /// Every frame, back to back.
    pub(crate) bytes: Vec<u8>,
    /// Per catalog message: where its frame ends and where its fields are.
    pub(crate) layout: Vec<FrameLayout>,
    /// The catalog the frames encode.
    pub(crate) catalog: Catalog,
}

/// Where one frame's variable fields are, as offsets into [`Frames::bytes`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameLayout {
    /// One past the frame's last byte; it starts where the previous ends.
    pub(crate) end: usize,
    /// The sequence number field, and a second one (depth's `"U"`, equal
    /// to `"u"`) or the same again.
    pub(crate) seq_at: [usize; 2],
    /// The `"E"` field.
    pub(crate) stamp_at: usize,
}

/// Builds the JSON text of one message, noting where its fields are.
struct Json {
    text: String,
    seq_at: Vec<usize>,
    stamp_at: usize,
}

impl Json {
    fn raw(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    fn num(&mut self, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.text, "{value}");
        self
    }

    fn dec(&mut self, e8: u64) -> &mut Self {
        let _ = write!(
            self.text,
            "\"{}.{:08}\"",
            e8 / 100_000_000,
            e8 % 100_000_000
        );
        self
    }

    fn seq(&mut self) -> &mut Self {
        self.seq_at.push(self.text.len());
        let _ = write!(self.text, "{:>SEQ_WIDTH$}", 0);
        self
    }

    fn stamp(&mut self, event_ms: u64) -> &mut Self {
        self.stamp_at = self.text.len();
        let _ = write!(self.text, "{event_ms:>STAMP_WIDTH$}");
        self
    }

    fn levels(&mut self, levels: &[(u64, u64)]) -> &mut Self {
        self.raw("[");
        for (index, &(price, qty)) in levels.iter().enumerate() {
            if index > 0 {
                self.raw(",");
            }
            self.raw("[").dec(price).raw(",").dec(qty).raw("]");
        }
        self.raw("]")
    }
}

/// The JSON text of `spec`, with its fields' offsets.
fn encode(spec: &Spec) -> Json {
    let mut j = Json {
        text: String::with_capacity(320),
        seq_at: Vec::new(),
        stamp_at: 0,
    };
    let symbol = SYMBOLS[spec.symbol];
    j.raw("{\"e\":\"").raw(spec.kind.tag()).raw("\"");
    match &spec.body {
        Body::Trade { price, qty, maker } => {
            j.raw(",\"E\":").stamp(spec.event_ms);
            j.raw(",\"s\":\"").raw(symbol).raw("\",\"t\":").seq();
            j.raw(",\"p\":").dec(*price).raw(",\"q\":").dec(*qty);
            j.raw(",\"T\":").num(spec.event_ms - 1);
            j.raw(",\"m\":").num(maker).raw(",\"M\":true}");
        }
        Body::Depth { bids, asks } => {
            j.raw(",\"E\":").stamp(spec.event_ms);
            j.raw(",\"s\":\"").raw(symbol).raw("\",\"U\":").seq();
            j.raw(",\"u\":").seq();
            j.raw(",\"b\":")
                .levels(bids)
                .raw(",\"a\":")
                .levels(asks)
                .raw("}");
        }
        Body::BookTicker {
            bid,
            bid_qty,
            ask,
            ask_qty,
        } => {
            j.raw(",\"u\":").seq().raw(",\"E\":").stamp(spec.event_ms);
            j.raw(",\"T\":").num(spec.event_ms - 1);
            j.raw(",\"s\":\"").raw(symbol).raw("\"");
            j.raw(",\"b\":").dec(*bid).raw(",\"B\":").dec(*bid_qty);
            j.raw(",\"a\":")
                .dec(*ask)
                .raw(",\"A\":")
                .dec(*ask_qty)
                .raw("}");
        }
        Body::Kline {
            start_ms,
            first_trade,
            decimals: [open, close, high, low, volume, quote],
            trades,
            closed,
        } => {
            j.raw(",\"E\":").stamp(spec.event_ms);
            j.raw(",\"s\":\"").raw(symbol).raw("\",\"k\":{");
            j.raw("\"t\":")
                .num(start_ms)
                .raw(",\"T\":")
                .num(start_ms + 59_999);
            j.raw(",\"s\":\"").raw(symbol).raw("\",\"i\":\"1m\"");
            j.raw(",\"f\":").num(first_trade).raw(",\"L\":").seq();
            j.raw(",\"o\":").dec(*open).raw(",\"c\":").dec(*close);
            j.raw(",\"h\":").dec(*high).raw(",\"l\":").dec(*low);
            j.raw(",\"v\":").dec(*volume).raw(",\"n\":").num(trades);
            j.raw(",\"x\":").num(closed).raw(",\"q\":").dec(*quote);
            j.raw("}}");
        }
    }
    j
}

/// The first byte of a whole (FIN) text frame.
const TEXT: u8 = 0x81;
/// The first byte of a whole (FIN) binary frame.
pub(crate) const BINARY: u8 = 0x82;

/// A frame's header (`first`: FIN and opcode) for a payload of `len` bytes
/// (server to client: no mask).
pub(crate) fn frame_header(first: u8, len: usize, out: &mut Vec<u8>) {
    out.push(first);
    if len < 126 {
        out.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// A Close frame with code 1000 (normal closure).
pub(crate) const CLOSE_FRAME: [u8; 4] = [0x88, 0x02, 0x03, 0xE8];

/// Writes `value` right-aligned into a fixed-width field.
#[inline]
pub(crate) fn write_field(field: &mut [u8], mut value: u64) {
    let mut at = field.len();
    loop {
        at -= 1;
        field[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    field[..at].fill(b' ');
}

impl Frames {
    /// Generates and encodes the catalog.
    pub(crate) fn build() -> Self {
        let mut bytes = Vec::with_capacity(crate::dataset::DISTINCT * 240);
        let mut layout = Vec::with_capacity(crate::dataset::DISTINCT);
        let catalog = Catalog::build(|spec, _| {
            let json = encode(spec);
            frame_header(TEXT, json.text.len(), &mut bytes);
            let base = bytes.len();
            bytes.extend_from_slice(json.text.as_bytes());
            let first = base + json.seq_at[0];
            let second = base + json.seq_at.get(1).copied().unwrap_or(json.seq_at[0]);
            layout.push(FrameLayout {
                end: bytes.len(),
                seq_at: [first, second],
                stamp_at: base + json.stamp_at,
            });
        });
        Self {
            bytes,
            layout,
            catalog,
        }
    }

    /// Where frame `index` starts.
    pub(crate) fn start(&self, index: usize) -> usize {
        index.checked_sub(1).map_or(0, |prev| self.layout[prev].end)
    }

    /// The JSON text of frame `index` in `buf` (a copy of
    /// [`bytes`](Self::bytes)): the frame without its header, which is 2
    /// bytes or, with a 16-bit length, 4 (no message is 64 KiB).
    pub(crate) fn payload<'b>(&self, buf: &'b [u8], index: usize) -> &'b [u8] {
        let start = self.start(index);
        let header = if buf[start + 1] == 126 { 4 } else { 2 };
        &buf[start + header..self.layout[index].end]
    }

    /// Writes the sequence number of frame `index` for `cycle` into `buf`
    /// (a copy of [`bytes`](Self::bytes)); returns it.
    #[inline]
    pub(crate) fn patch_seq(&self, buf: &mut [u8], index: usize, cycle: u64) -> u64 {
        let seq = self.catalog.entries[index].seq(&self.catalog, cycle);
        for at in self.layout[index].seq_at {
            write_field(&mut buf[at..at + SEQ_WIDTH], seq);
        }
        seq
    }

    /// Writes a send stamp into frame `index` of `buf`.
    #[inline]
    pub(crate) fn patch_stamp(&self, buf: &mut [u8], index: usize, stamp: u64) {
        let at = self.layout[index].stamp_at;
        write_field(&mut buf[at..at + STAMP_WIDTH], stamp);
    }

    /// The sizes of each kind's frames' payloads (mean bytes), for the report.
    pub(crate) fn mean_sizes(&self) -> [(Kind, usize); 4] {
        let mut sums = [(0usize, 0usize); 4];
        for (index, entry) in self.catalog.entries.iter().enumerate() {
            let kind = Kind::ALL[usize::from(entry.stream) / SYMBOLS.len()];
            let len = self.layout[index].end - self.start(index);
            sums[kind.index()].0 += len;
            sums[kind.index()].1 += 1;
        }
        Kind::ALL.map(|kind| {
            let (bytes, count) = sums[kind.index()];
            (kind, bytes / count.max(1))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::concrete::FastEvent;
    use crate::feed::Kind;
    use crate::tagged::Event;
    use hypersockets::peek_json_str;

    #[test]
    fn frames_parse_both_ways_and_agree() {
        let frames = Frames::build();
        let mut buf = frames.bytes.clone();
        for index in [0, 1, 2, 3, 500, 99_999] {
            let seq = frames.patch_seq(&mut buf, index, 3);
            frames.patch_stamp(&mut buf, index, 123_456_789);
            let text = std::str::from_utf8(frames.payload(&buf, index)).unwrap();
            let kind = Kind::from_tag(peek_json_str(text, &["e"]).unwrap()).unwrap();
            let tagged: Event = serde_json::from_str(text).unwrap();
            let fast = FastEvent::parse(kind, text).unwrap();
            let (a, b) = (tagged.observation(), fast.observation());
            assert_eq!(
                (a.kind, a.seq, a.stamp, a.value),
                (b.kind, b.seq, b.stamp, b.value)
            );
            assert_eq!((a.kind, a.seq, a.stamp), (kind, seq, 123_456_789));
            assert_eq!(a.symbol, b.symbol);
            assert_eq!(a.value, frames.catalog.entries[index].value);
        }
    }
}
