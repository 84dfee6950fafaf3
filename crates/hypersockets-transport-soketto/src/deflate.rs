//! Inflating received messages and deflating ours (RFC 7692 §7.2).
//!
//! A message is raw deflate ending in a sync flush whose last four bytes
//! (`00 00 ff ff`) the sender removed. With context takeover the window
//! carries over from message to message, so one inflater and one deflater
//! live as long as the connection.

use std::sync::Arc;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use hypersockets_core::{BoxError, HyperSocketError};

use crate::negotiate::Negotiated;

/// What a sync flush ends with; removed by the sender, put back here.
const TRAILER: [u8; 4] = [0, 0, 0xff, 0xff];

/// Room zlib-rs's fast inflate loop wants past the output (the longest
/// match); without it the slow loop runs to the end.
const SPARE: usize = 258;

/// The scratch buffer's largest capacity kept between messages.
const SCRATCH_KEPT: usize = 1 << 20;

/// Inflates the server's compressed messages.
pub(crate) struct Inflater {
    /// Always a 32 KiB window: enough for whatever window the server uses.
    decompress: Decompress,
    /// The server resets its window per message: so do we, which keeps
    /// nothing of the last message alive for longer than needed.
    reset_each: bool,
    /// Where messages are inflated before they are copied out exactly.
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("reset_each", &self.reset_each)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    pub(crate) fn new(negotiated: &Negotiated) -> Self {
        Self {
            decompress: Decompress::new_with_window_bits(false, 15),
            reset_each: negotiated.server_no_context_takeover,
            scratch: Vec::new(),
        }
    }

    /// One message's payload inflated, at most `limit` bytes of it: past
    /// that, inflating stops.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::MessageTooLarge`] past `limit`,
    /// [`HyperSocketError::Decompression`] for data that does not inflate.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        limit: usize,
    ) -> Result<Vec<u8>, HyperSocketError> {
        let scratch = &mut self.scratch;
        scratch.clear();
        // A guess of 4× the input, never room past one byte over the limit
        // (which tells a message over it).
        let most = limit.saturating_add(1);
        let first = input.len().saturating_mul(4).max(256).saturating_add(SPARE);
        if scratch.capacity() < first.min(most) {
            scratch.reserve_exact(first.min(most));
        }
        let mut ended = false;
        for (index, mut chunk) in [input, &TRAILER[..]].into_iter().enumerate() {
            while !ended {
                if scratch.len() == scratch.capacity() {
                    let target = (scratch.len() + scratch.len().max(256))
                        .saturating_add(SPARE)
                        .min(most);
                    scratch.reserve_exact(target - scratch.len());
                }
                let (in_before, out_before) = (self.decompress.total_in(), scratch.len());
                let status = self
                    .decompress
                    .decompress_vec(chunk, scratch, FlushDecompress::Sync)
                    .map_err(|error| HyperSocketError::Decompression(Arc::new(error)))?;
                if scratch.len() > limit {
                    return Err(HyperSocketError::MessageTooLarge {
                        size: scratch.len(),
                        limit,
                    });
                }
                let used =
                    usize::try_from(self.decompress.total_in() - in_before).unwrap_or(chunk.len());
                chunk = chunk.get(used..).unwrap_or_default();
                let room = scratch.len() < scratch.capacity();
                match status {
                    // What follows a final block would be lost (the trailer
                    // put back after one is not).
                    Status::StreamEnd if index == 0 && !chunk.is_empty() => {
                        return Err(corrupt("bytes after the final deflate block"));
                    }
                    Status::StreamEnd => ended = true,
                    // All taken and all given out: on to the next chunk.
                    _ if chunk.is_empty() && room => break,
                    // Input and room left, and nothing moved.
                    _ if room && used == 0 && scratch.len() == out_before => {
                        return Err(corrupt("compressed message stuck"));
                    }
                    _ => {}
                }
            }
        }
        if ended {
            // A final block (allowed, rare): the stream is over, and the
            // next message starts a new one.
            self.decompress.reset(false);
        } else if self.reset_each {
            self.decompress.reset(false);
        }
        let inflated = scratch.clone();
        // A rare huge message does not keep its room for the connection's
        // whole life.
        if scratch.capacity() > SCRATCH_KEPT {
            scratch.clear();
            scratch.shrink_to(SCRATCH_KEPT);
        }
        Ok(inflated)
    }
}

/// Deflates the messages we send.
pub(crate) struct Deflater {
    /// Made on the first message: sends are few, and a compressor is
    /// about 256 KiB.
    compress: Option<Compress>,
    /// The window we may use; `None`: the server allows less than zlib can
    /// do (8 bits), so nothing is compressed.
    window_bits: Option<u8>,
    reset_each: bool,
    out: Vec<u8>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("window_bits", &self.window_bits)
            .field("reset_each", &self.reset_each)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    pub(crate) fn new(negotiated: &Negotiated) -> Self {
        Self {
            compress: None,
            window_bits: (negotiated.client_max_window_bits >= 9)
                .then_some(negotiated.client_max_window_bits),
            reset_each: negotiated.client_no_context_takeover,
            out: Vec::new(),
        }
    }

    /// `data` compressed, without the sync flush's trailer; `None`: send
    /// it as it is (empty, the window too small, or the compressor
    /// failed; each is allowed, RFC 7692 §6).
    pub(crate) fn deflate(&mut self, data: &[u8]) -> Option<&[u8]> {
        let bits = self.window_bits?;
        if data.is_empty() {
            return None;
        }
        let compress = self.compress.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::fast(), false, bits)
        });
        self.out.clear();
        self.out.reserve(data.len() / 2 + 64);
        let ok = compress_all(compress, data, &mut self.out);
        if !ok || self.reset_each {
            // After a failure the window may hold what the server never
            // saw: start afresh, which is always allowed.
            compress.reset();
        }
        if !ok {
            return None;
        }
        let len = self.out.len() - TRAILER.len();
        self.out.truncate(len);
        Some(&self.out)
    }
}

/// Feeds all of `data` and a sync flush; whether the output ends with the
/// flush's trailer, as it must.
fn compress_all(compress: &mut Compress, data: &[u8], out: &mut Vec<u8>) -> bool {
    let start = compress.total_in();
    loop {
        let used = usize::try_from(compress.total_in() - start).unwrap_or(data.len());
        let rest = data.get(used..).unwrap_or_default();
        if out.len() == out.capacity() {
            out.reserve(out.len().max(64));
        }
        if compress
            .compress_vec(rest, out, FlushCompress::Sync)
            .is_err()
        {
            return false;
        }
        let used = usize::try_from(compress.total_in() - start).unwrap_or(data.len());
        // The flush is complete once the input is taken and room is left.
        if used >= data.len() && out.len() < out.capacity() {
            return out.ends_with(&TRAILER);
        }
    }
}

fn corrupt(why: &'static str) -> HyperSocketError {
    HyperSocketError::Decompression(Arc::from(BoxError::from(why)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiated(server_reset: bool, client_reset: bool, client_bits: u8) -> Negotiated {
        Negotiated {
            server_no_context_takeover: server_reset,
            client_no_context_takeover: client_reset,
            server_max_window_bits: 15,
            client_max_window_bits: client_bits,
        }
    }

    #[test]
    fn round_trips_with_and_without_context_takeover() {
        for reset in [false, true] {
            let agreed = negotiated(reset, reset, 15);
            let mut deflater = Deflater::new(&agreed);
            let mut inflater = Inflater::new(&agreed);
            let message = br#"{"e":"trade","s":"BTCUSDT","p":"43000.10","q":"0.5"}"#;
            let mut sizes = Vec::new();
            for _ in 0..5 {
                let compressed = deflater.deflate(message).expect("compressed").to_vec();
                sizes.push(compressed.len());
                assert_eq!(inflater.inflate(&compressed, 1 << 20).unwrap(), message);
            }
            // With context takeover the repeats cost a few bytes each.
            assert_eq!(sizes[1] < sizes[0] / 2, !reset, "{sizes:?}");
        }
    }

    #[test]
    fn stops_at_the_limit() {
        let agreed = negotiated(false, true, 15);
        let zeros = vec![0u8; 8 << 20];
        let compressed = Deflater::new(&agreed).deflate(&zeros).unwrap().to_vec();
        let mut inflater = Inflater::new(&agreed);
        match inflater.inflate(&compressed, 1 << 20) {
            Err(HyperSocketError::MessageTooLarge { size, limit }) => {
                assert_eq!(limit, 1 << 20);
                assert!(size > limit && size <= limit + 1, "{size}");
            }
            other => panic!("expected too large, got {other:?}"),
        }
        assert!(inflater.scratch.capacity() <= SCRATCH_KEPT + SPARE);
        // Exactly at the limit is fine.
        let mut inflater = Inflater::new(&agreed);
        assert_eq!(
            inflater.inflate(&compressed, 8 << 20).unwrap().len(),
            8 << 20
        );
    }

    #[test]
    fn garbage_is_a_decompression_error() {
        let agreed = negotiated(false, true, 15);
        let mut inflater = Inflater::new(&agreed);
        let error = inflater.inflate(&[0xff; 16], 1 << 20).unwrap_err();
        assert!(
            matches!(error, HyperSocketError::Decompression(_)),
            "{error:?}"
        );
    }

    #[test]
    fn a_window_of_8_bits_sends_uncompressed() {
        let mut deflater = Deflater::new(&negotiated(false, false, 8));
        assert!(deflater.deflate(b"hello hello hello").is_none());
        let mut deflater = Deflater::new(&negotiated(false, false, 9));
        assert!(deflater.deflate(b"hello hello hello").is_some());
        assert!(deflater.deflate(b"").is_none());
    }
}
