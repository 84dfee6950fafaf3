//! The decompression stage on any frame, in every mode: a message within
//! the limit, or a typed error; never a panic, never an allocation past the
//! limit. What it inflates is what flate2's own decoders make of the frame.
//!
//! Input: one control byte (bits 0–2: the mode; bits 3–7: the limit, 1 to
//! 32 KiB in steps of 1 KiB), then the frame.
#![no_main]

use std::io::Read;

use hypersockets::fuzzing::Inflater;
use hypersockets::{Decompression, HyperSocketError, WsMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&control, frame)) = data.split_first() else {
        return;
    };
    let mode = match control & 7 {
        0 => Decompression::Gzip,
        1 => Decompression::Zlib,
        2 => Decompression::Deflate,
        _ => Decompression::Auto,
    };
    let limit = (usize::from(control >> 3) + 1) * 1024;
    let mut inflater = Inflater::new(mode, limit).expect("a mode that inflates");
    // Twice on one inflater: its state is reset per message.
    for _ in 0..2 {
        match inflater.inflate(WsMessage::binary(frame.to_vec())) {
            Ok(message) => {
                assert!(message.len() <= limit.max(frame.len()), "past the limit");
                check_against_flate2(mode, frame, &message);
            }
            Err(HyperSocketError::MessageTooLarge { size, limit: at }) => {
                assert_eq!(at, limit);
                assert!(size > limit);
            }
            Err(HyperSocketError::Decompression(_)) => {}
            Err(other) => panic!("an untyped failure: {other:?}"),
        }
    }
});

/// Where flate2's reader agrees the frame is whole, the bytes are the same.
fn check_against_flate2(mode: Decompression, frame: &[u8], message: &WsMessage) {
    let mut expected = Vec::new();
    let decoded = match mode {
        Decompression::Gzip => flate2::read::GzDecoder::new(frame).read_to_end(&mut expected),
        Decompression::Zlib => flate2::read::ZlibDecoder::new(frame).read_to_end(&mut expected),
        Decompression::Deflate => {
            flate2::read::DeflateDecoder::new(frame).read_to_end(&mut expected)
        }
        // Auto: a frame without a header passes as it is.
        _ => return,
    };
    if decoded.is_ok() {
        assert_eq!(message.as_bytes(), &expected[..], "not what flate2 reads");
    }
}
