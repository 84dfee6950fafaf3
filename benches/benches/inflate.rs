//! Which inflate backend for compressed feeds (issue 13): flate2 on zlib-rs
//! (what the library uses) against miniz_oxide (flate2's default backend),
//! each with its state reused across messages as the library does, on
//! HTX-like frames: gzip members of 300–700-byte trade pushes, compressed
//! at zlib's default level as servers do.
//!
//! `cargo bench -p hypersockets-bench --bench inflate`; the figure is the
//! time per message (a batch of 1,000 distinct frames per iteration).

use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::{Decompress, FlushDecompress, Status};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

const FRAMES: usize = 1_000;
/// gzip's fixed header (no optional fields, as servers send it) and trailer.
const HEADER: usize = 10;
const TRAILER: usize = 8;

/// An HTX trade push with `trades` trades.
fn push(seq: usize, trades: usize) -> String {
    let data: Vec<String> = (0..trades)
        .map(|i| {
            let id = seq * 10 + i;
            format!(
                r#"{{"id":{id}{seq},"ts":{},"tradeId":{id},"amount":0.{:04},"price":{}.{:02},"direction":"{}"}}"#,
                1_700_000_000_000u64 + seq as u64,
                (id * 7919) % 10_000,
                60_000 + (id * 31) % 500,
                id % 100,
                if id.is_multiple_of(3) { "sell" } else { "buy" },
            )
        })
        .collect();
    format!(
        r#"{{"ch":"market.btcusdt.trade.detail","ts":{},"tick":{{"id":{seq},"ts":{},"data":[{}]}}}}"#,
        1_700_000_000_000u64 + seq as u64,
        1_700_000_000_000u64 + seq as u64,
        data.join(",")
    )
}

fn frames() -> (Vec<Vec<u8>>, usize) {
    let mut plain = 0;
    let frames = (0..FRAMES)
        .map(|seq| {
            let text = push(seq, 1 + seq % 4);
            plain += text.len();
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(text.as_bytes()).expect("a Vec");
            encoder.finish().expect("a Vec")
        })
        .collect();
    (frames, plain / FRAMES)
}

fn body(frame: &[u8]) -> &[u8] {
    &frame[HEADER..frame.len() - TRAILER]
}

fn expected_len(frame: &[u8]) -> usize {
    let at = frame.len() - 4;
    u32::from_le_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]]) as usize
}

fn zlib_rs(state: &mut Decompress, frame: &[u8]) -> Vec<u8> {
    state.reset(false);
    let mut out = Vec::with_capacity(expected_len(frame));
    let status = state
        .decompress_vec(body(frame), &mut out, FlushDecompress::Finish)
        .expect("a valid frame");
    assert_eq!(status, Status::StreamEnd);
    out
}

fn miniz(state: &mut DecompressorOxide, frame: &[u8]) -> Vec<u8> {
    state.init();
    let mut out = vec![0; expected_len(frame)];
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let (status, _, written) = decompress(state, body(frame), &mut out, 0, flags);
    assert_eq!(status, TINFLStatus::Done);
    out.truncate(written);
    out
}

fn inflate(c: &mut Criterion) {
    let (frames, plain) = frames();
    let compressed = frames.iter().map(Vec::len).sum::<usize>() / FRAMES;
    // Both backends agree on every frame.
    let (mut a, mut b) = (Decompress::new(false), DecompressorOxide::new());
    for frame in &frames {
        assert_eq!(zlib_rs(&mut a, frame), miniz(&mut b, frame));
    }
    let mut group = c.benchmark_group(format!(
        "inflate gzip, {plain} B pushes in {compressed} B frames"
    ));
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.bench_function("flate2 + zlib-rs", |bench| {
        let mut state = Decompress::new(false);
        bench.iter(|| {
            for frame in &frames {
                black_box(zlib_rs(&mut state, black_box(frame)));
            }
        });
    });
    group.bench_function("miniz_oxide", |bench| {
        let mut state = DecompressorOxide::new();
        bench.iter(|| {
            for frame in &frames {
                black_box(miniz(&mut state, black_box(frame)));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, inflate);
criterion_main!(benches);
