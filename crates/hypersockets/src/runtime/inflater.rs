//! The decompression stage: one per connection, so that the inflate state
//! (tens of KiB) is allocated once and reset per message. It inflates into
//! a scratch buffer of its own, with the room to spare zlib-rs's fast loop
//! needs (an exact-size buffer never takes that loop), then copies the
//! message out exactly: the message's buffer is the only allocation per
//! message.
//!
//! Gzip (RFC 1952) is a small header and trailer around raw deflate: both
//! are read here, so that one raw inflater serves gzip and deflate alike
//! (flate2's gzip decoder is a reader that allocates per member).

use std::sync::Arc;

use flate2::{Crc, Decompress, FlushDecompress, Status};
use hypersockets_core::{BoxError, HyperSocketError, WsMessage};

use crate::Decompression;

/// Inflates the binary frames of one connection.
pub struct Inflater {
    mode: Decompression,
    /// For raw deflate and gzip's body.
    raw: Decompress,
    /// For zlib; created on the first zlib frame.
    zlib: Option<Decompress>,
    /// Where messages are inflated before they are copied out.
    scratch: Vec<u8>,
    /// The most bytes a message may inflate to.
    limit: usize,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("mode", &self.mode)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// What a frame is, by the configured mode and its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Gzip,
    Zlib,
    Deflate,
    Plain,
}

impl Inflater {
    /// `None` when decompression is off.
    pub fn new(mode: Decompression, limit: usize) -> Option<Self> {
        (mode != Decompression::Off).then(|| Self {
            mode,
            raw: Decompress::new(false),
            zlib: None,
            scratch: Vec::new(),
            limit,
        })
    }

    /// The message as the venue meant it: binary frames inflated, text
    /// frames and control frames as they are.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::MessageTooLarge`] past the limit (inflating
    /// stops there), [`HyperSocketError::Decompression`] for a frame that
    /// does not inflate.
    pub fn inflate(&mut self, message: WsMessage) -> Result<WsMessage, HyperSocketError> {
        let WsMessage::Binary(data) = &message else {
            return Ok(message);
        };
        let format = self.format(data);
        let scratch = &mut self.scratch;
        match format {
            Format::Plain => return Ok(message),
            Format::Gzip => gzip(&mut self.raw, data, self.limit, scratch)?,
            Format::Zlib => {
                let zlib = self.zlib.get_or_insert_with(|| Decompress::new(true));
                let used = inflate(zlib, Stream::Zlib, data, 0, self.limit, scratch)?;
                whole(used, data)?;
            }
            Format::Deflate => {
                let used = inflate(&mut self.raw, Stream::Deflate, data, 0, self.limit, scratch)?;
                whole(used, data)?;
            }
        }
        let inflated = scratch.to_vec();
        // A rare huge message does not keep its room for the connection's
        // whole life.
        if scratch.capacity() > SCRATCH_KEPT {
            scratch.clear();
            scratch.shrink_to(SCRATCH_KEPT);
        }
        Ok(match String::from_utf8(inflated) {
            Ok(text) => WsMessage::text(text),
            Err(not_text) => WsMessage::binary(not_text.into_bytes()),
        })
    }

    fn format(&self, data: &[u8]) -> Format {
        match self.mode {
            Decompression::Gzip => Format::Gzip,
            Decompression::Zlib => Format::Zlib,
            Decompression::Deflate => Format::Deflate,
            Decompression::Off => Format::Plain,
            _ if data.starts_with(&GZIP_MAGIC) => Format::Gzip,
            _ if is_zlib_header(data) => Format::Zlib,
            _ => Format::Plain,
        }
    }
}

/// One gzip member (header, raw deflate, then CRC-32 and length), inflated
/// into `out`.
fn gzip(
    raw: &mut Decompress,
    data: &[u8],
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), HyperSocketError> {
    {
        let body = gzip_body(data).map_err(corrupt)?;
        // The trailer's length (modulo 2^32) sizes the buffer in one go
        // when it is honest; the limit bounds it when it is not.
        let size_hint = data
            .len()
            .checked_sub(4)
            .and_then(|at| data.get(at..))
            .map_or(0, |isize| u32_le(isize) as usize);
        let used = inflate(raw, Stream::GzipBody, &data[body..], size_hint, limit, out)?;
        let trailer = &data[body + used..];
        let [c0, c1, c2, c3, l0, l1, l2, l3] = *trailer else {
            return Err(corrupt(if trailer.len() < 8 {
                "gzip trailer cut short"
            } else {
                "bytes after the gzip member"
            }));
        };
        let mut crc = Crc::new();
        crc.update(out);
        if crc.sum() != u32::from_le_bytes([c0, c1, c2, c3]) {
            return Err(corrupt("gzip crc-32 mismatch"));
        }
        if u32::from_le_bytes([l0, l1, l2, l3]) != out.len() as u32 {
            return Err(corrupt("gzip length mismatch"));
        }
        Ok(())
    }
}

const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 8];

/// A zlib header (RFC 1950 §2.2): deflate, a window of at most 32 KiB, no
/// preset dictionary, and the check bits right.
fn is_zlib_header(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8
                && cmf >> 4 <= 7
                && flg & 0x20 == 0
                && ((u16::from(*cmf) << 8) | u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// Where the deflate body of a gzip member starts (RFC 1952 §2.3).
fn gzip_body(data: &[u8]) -> Result<usize, &'static str> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    const RESERVED: u8 = 0xe0;
    let cut = "gzip header cut short";
    if !data.starts_with(&GZIP_MAGIC) {
        return Err("not gzip (no gzip header)");
    }
    let flags = *data.get(3).ok_or(cut)?;
    if flags & RESERVED != 0 {
        return Err("gzip header with reserved flags");
    }
    // ID1 ID2 CM FLG MTIME(4) XFL OS
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = data.get(at..at + 2).ok_or(cut)?;
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let rest = data.get(at..).ok_or(cut)?;
            at += rest.iter().position(|&b| b == 0).ok_or(cut)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    if at > data.len() {
        return Err(cut);
    }
    Ok(at)
}

/// A stream that must take the whole frame did.
fn whole(used: usize, data: &[u8]) -> Result<(), HyperSocketError> {
    if used < data.len() {
        return Err(corrupt("bytes after the compressed stream"));
    }
    Ok(())
}

/// Room zlib-rs's fast inflate loop wants past the output (the longest
/// match); without it the slow loop runs to the end.
const SPARE: usize = 258;

/// The scratch buffer's largest capacity kept between messages.
const SCRATCH_KEPT: usize = 1 << 20;

/// What is being inflated, for where it may end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Zlib,
    /// Raw deflate: may also end with a sync flush (an empty stored block,
    /// `00 00 ff ff`) and no final block, as Python's `zlib` and RFC 7692
    /// senders leave it; nothing else tells such a stream from a cut one.
    Deflate,
    GzipBody,
}

/// The empty stored block a sync flush ends with.
const SYNC_FLUSH: [u8; 4] = [0, 0, 0xff, 0xff];

fn u32_le(bytes: &[u8]) -> u32 {
    match bytes {
        [a, b, c, d, ..] => u32::from_le_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Inflates one whole stream from `input` into `out` (emptied first), at
/// most `limit` bytes; returns how many input bytes the stream took.
/// `size_hint` is the expected size (0: unknown).
fn inflate(
    decompress: &mut Decompress,
    stream: Stream,
    input: &[u8],
    size_hint: usize,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<usize, HyperSocketError> {
    decompress.reset(stream == Stream::Zlib);
    out.clear();
    // A guess of 4× the input when no size is known; one more byte than
    // the limit tells a message over it.
    let first = if size_hint > 0 {
        size_hint
    } else {
        input.len().saturating_mul(4).max(256)
    };
    // Never room past one byte more than the limit.
    let most = limit.saturating_add(1);
    out.reserve_exact(first.saturating_add(SPARE).min(most));
    loop {
        let used = usize::try_from(decompress.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(used..).unwrap_or_default();
        let before = (used, out.len());
        let status = decompress
            .decompress_vec(rest, out, FlushDecompress::Finish)
            .map_err(|error| HyperSocketError::Decompression(Arc::new(error)))?;
        if out.len() > limit {
            return Err(HyperSocketError::MessageTooLarge {
                size: out.len(),
                limit,
            });
        }
        let used = usize::try_from(decompress.total_in()).unwrap_or(usize::MAX);
        match status {
            Status::StreamEnd => return Ok(used),
            _ if out.len() == out.capacity() => {
                // Full: grow (doubling, up to one past the limit).
                let target = (out.len() + out.len().max(256))
                    .saturating_add(SPARE)
                    .min(most);
                out.reserve_exact(target - out.len());
            }
            // Room left and the input all taken: it ended without a final
            // block, after a sync flush or cut short.
            _ if used >= input.len() => {
                if stream == Stream::Deflate && input.ends_with(&SYNC_FLUSH) {
                    return Ok(used);
                }
                return Err(corrupt("compressed stream cut short"));
            }
            // Room left, input left, and nothing moved.
            _ if (used, out.len()) == before => {
                return Err(corrupt("compressed stream stuck"));
            }
            _ => {}
        }
    }
}

fn corrupt(why: &'static str) -> HyperSocketError {
    HyperSocketError::Decompression(Arc::from(BoxError::from(why)))
}
