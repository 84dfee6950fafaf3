//! Decompression bombs: a little gzip that inflates to a lot.

use std::io::Write;

use flate2::write::GzEncoder;

/// One gzip member of `size` zero bytes (about a thousandth of that).
pub fn gzip_zeros(size: usize) -> Vec<u8> {
    let chunk = vec![0u8; 1 << 20];
    let mut encoder = GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len());
        encoder.write_all(&chunk[..n]).expect("writing to a Vec");
        left -= n;
    }
    encoder.finish().expect("writing to a Vec")
}
