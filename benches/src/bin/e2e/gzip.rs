//! The gzip feed, HTX's way: the same catalog, each message one gzip
//! member (flate2, `Compression::default()`) in a binary frame.
//!
//! A sequence number cannot be overwritten inside compressed bytes, so the
//! members are encoded for each cycle of the catalog, as many cycles as the
//! largest run needs, once at the server's start (on every core, before it
//! listens): per message the server then only copies bytes, as it does for
//! the plain feed. The paced runs' send stamp cannot be patched in either,
//! which is why they use the plain feed only.

use std::ops::Range;

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

use crate::dataset::DISTINCT;
use crate::frames::{BINARY, Frames, frame_header};

/// One cycle of the catalog, encoded.
#[derive(Debug)]
pub(crate) struct GzipCycle {
    /// Every frame, back to back.
    pub(crate) bytes: Vec<u8>,
    /// Per catalog message: one past its frame's last byte.
    pub(crate) ends: Vec<usize>,
}

impl GzipCycle {
    /// Where frame `index` starts.
    pub(crate) fn start(&self, index: usize) -> usize {
        index.checked_sub(1).map_or(0, |prev| self.ends[prev])
    }
}

/// The gzip feed's frames, cycle after cycle.
#[derive(Debug)]
pub(crate) struct GzipFrames {
    /// Cycle `c` of the catalog, its sequence numbers those of cycle `c`.
    pub(crate) cycles: Vec<GzipCycle>,
}

impl GzipFrames {
    /// Encodes enough cycles of `frames`' catalog for `messages` messages.
    pub(crate) fn build(frames: &Frames, messages: u64) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let cycles = messages.div_ceil(DISTINCT as u64);
        Self {
            cycles: (0..cycles)
                .map(|cycle| encode_cycle(frames, cycle, threads))
                .collect(),
        }
    }

    /// The most messages a connection can ask for.
    pub(crate) fn capacity(&self) -> u64 {
        self.cycles.len() as u64 * DISTINCT as u64
    }

    /// The mean size of a frame's payload (one gzip member), for the report.
    pub(crate) fn mean_size(&self) -> usize {
        self.cycles.first().map_or(0, |cycle| {
            // A frame's header is 2 bytes, or 4 with a 16-bit length.
            let headers: usize = (0..cycle.ends.len())
                .map(|i| {
                    if cycle.bytes[cycle.start(i) + 1] == 126 {
                        4
                    } else {
                        2
                    }
                })
                .sum();
            (cycle.bytes.len() - headers) / cycle.ends.len().max(1)
        })
    }
}

/// The header flate2's `GzEncoder` writes at `Compression::default()`: no
/// name, no time, no extra flags, OS "unknown".
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Appends one gzip member holding `json` to `out`: the same bytes as
/// flate2's `GzEncoder` at `Compression::default()` (the test checks), but
/// with one deflate state reset per message instead of a new one, whose
/// allocation made the server's start several times slower.
fn member(deflate: &mut Compress, json: &[u8], out: &mut Vec<u8>) {
    deflate.reset();
    out.extend_from_slice(&GZIP_HEADER);
    loop {
        out.reserve(json.len() / 2 + 64);
        let done = usize::try_from(deflate.total_in()).unwrap_or(usize::MAX);
        let status = deflate
            .compress_vec(&json[done..], out, FlushCompress::Finish)
            .expect("deflating into a Vec cannot fail");
        if status == Status::StreamEnd {
            break;
        }
    }
    let mut crc = Crc::new();
    crc.update(json);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
}

/// Cycle `cycle`: the plain frames with that cycle's sequence numbers,
/// each payload compressed, the catalog split across `threads` threads.
fn encode_cycle(frames: &Frames, cycle: u64, threads: usize) -> GzipCycle {
    let mut plain = frames.bytes.clone();
    for index in 0..DISTINCT {
        frames.patch_seq(&mut plain, index, cycle);
    }
    let per_thread = DISTINCT.div_ceil(threads.max(1));
    let parts: Vec<GzipCycle> = std::thread::scope(|scope| {
        let plain = &plain;
        let workers: Vec<_> = (0..DISTINCT)
            .step_by(per_thread)
            .map(|first| {
                let range = first..(first + per_thread).min(DISTINCT);
                scope.spawn(move || encode_range(frames, plain, range))
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("an encoding thread panicked"))
            .collect()
    });
    let mut whole = GzipCycle {
        bytes: Vec::with_capacity(parts.iter().map(|part| part.bytes.len()).sum()),
        ends: Vec::with_capacity(DISTINCT),
    };
    for part in parts {
        let base = whole.bytes.len();
        whole.bytes.extend_from_slice(&part.bytes);
        whole.ends.extend(part.ends.iter().map(|end| base + end));
    }
    whole
}

/// The frames of catalog messages `range`, offsets relative to the first.
fn encode_range(frames: &Frames, plain: &[u8], range: Range<usize>) -> GzipCycle {
    let mut part = GzipCycle {
        bytes: Vec::with_capacity(range.len() * 200),
        ends: Vec::with_capacity(range.len()),
    };
    let mut deflate = Compress::new(Compression::default(), false);
    let mut gzipped = Vec::new();
    for index in range {
        gzipped.clear();
        member(&mut deflate, frames.payload(plain, index), &mut gzipped);
        frame_header(BINARY, gzipped.len(), &mut part.bytes);
        part.bytes.extend_from_slice(&gzipped);
        part.ends.push(part.bytes.len());
    }
    part
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};

    use super::*;

    #[test]
    fn members_are_what_gz_encoder_writes() {
        let frames = Frames::build();
        let mut deflate = Compress::new(Compression::default(), false);
        for index in [0, 1, 2, 3, 500, DISTINCT - 1] {
            let json = frames.payload(&frames.bytes, index);
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
            encoder.write_all(json).unwrap();
            let mut ours = Vec::new();
            member(&mut deflate, json, &mut ours);
            assert_eq!(ours, encoder.finish().unwrap());
        }
    }

    #[test]
    fn members_inflate_to_the_plain_frames() {
        let frames = Frames::build();
        let gzip = GzipFrames::build(&frames, DISTINCT as u64 + 1);
        assert_eq!(gzip.cycles.len(), 2);
        assert_eq!(gzip.capacity(), 2 * DISTINCT as u64);
        let mut plain = frames.bytes.clone();
        for (cycle, encoded) in gzip.cycles.iter().enumerate() {
            assert_eq!(encoded.ends.len(), DISTINCT);
            for index in [0, 1, DISTINCT / 2 - 1, DISTINCT / 2, DISTINCT - 1] {
                frames.patch_seq(&mut plain, index, cycle as u64);
                let frame = &encoded.bytes[encoded.start(index)..encoded.ends[index]];
                assert_eq!(frame[0], BINARY);
                let header = if frame[1] == 126 { 4 } else { 2 };
                let mut text = Vec::new();
                flate2::read::GzDecoder::new(&frame[header..])
                    .read_to_end(&mut text)
                    .unwrap();
                assert_eq!(text, frames.payload(&plain, index));
            }
        }
        assert!(gzip.mean_size() > 0);
    }
}
