//! How fast a recording replays.
//!
//! A session of trades from the mock exchange (as fast as it sends them) is
//! recorded once; then:
//!
//! - `replay_fast`: the recording played through a client (the pass-through
//!   router, one lane, a handler that counts), as fast as possible, from
//!   opening the file to the last handler done: the replay's speed.
//! - `read_file`: the recording read record by record, nothing else: what
//!   the file alone allows.
//!
//! `cargo bench -p hypersockets-bench --bench replay`

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hypersockets::prelude::*;
use hypersockets::{HasUrl, Recorder, Recording, Replay, WebSocketClientBuilder, WithRouter};
use hypersockets_testkit::{ExchangeConfig, MockExchange, Rate, StreamConfig};

/// Messages recorded.
const MESSAGES: u64 = 100_000;

fn client(
    url: String,
    handled: &Arc<AtomicU64>,
) -> WebSocketClientBuilder<HasUrl, WithRouter<PassThrough>> {
    let handled = Arc::clone(handled);
    WebSocketClient::builder()
        .url(url)
        .router(PassThrough)
        .handler(
            (),
            handler_fn(move |message: WsMessage| {
                black_box(message);
                handled.fetch_add(1, Ordering::Relaxed);
                Ok::<_, BoxError>(())
            }),
        )
}

/// Records `MESSAGES` trades (and the subscription's answer) to `path`.
fn record(runtime: &tokio::runtime::Runtime, path: &Path) -> u64 {
    runtime.block_on(async {
        let config = ExchangeConfig::new()
            .stream(StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible));
        let exchange = MockExchange::start(config).await.expect("mock exchange");
        let recorder = Recorder::create(path).expect("recording file");
        let handled = Arc::new(AtomicU64::new(0));
        let client = client(exchange.url(), &handled)
            .subscribe(Subscription::new(
                "btcusdt@trade",
                WsMessage::text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#),
            ))
            .record(&recorder)
            .build()
            .expect("client");
        client.connect().await.expect("connected");
        // A bench's setup, not a test: polling the count is fine here.
        let deadline = Instant::now() + Duration::from_secs(120);
        while handled.load(Ordering::Relaxed) < MESSAGES {
            assert!(Instant::now() < deadline, "the mock exchange stalled");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        client.close().await.expect("closed");
        drop(client);
        let stats = recorder.finish().await.expect("recording written");
        assert_eq!(stats.lost, 0, "the recorder kept up");
        stats.frames
    })
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let path: PathBuf = std::env::temp_dir().join(format!(
        "hypersockets-bench-replay-{}.hsr",
        std::process::id()
    ));
    let frames = record(&runtime, &path);
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(frames));
    group.bench_function("replay_fast", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let handled = Arc::new(AtomicU64::new(0));
                let started = Instant::now();
                let summary = runtime.block_on(async {
                    Replay::open(&path)
                        .expect("recording")
                        .build(client("ws://replay.invalid/".to_owned(), &handled))
                        .expect("replay")
                        .run()
                        .await
                        .expect("replayed")
                });
                total += started.elapsed();
                assert_eq!(summary.frames, frames);
                // Every data frame reached the handler (control frames do not).
                assert!(handled.load(Ordering::Relaxed) >= MESSAGES);
            }
            total
        });
    });
    group.bench_function("read_file", |b| {
        b.iter(|| {
            let recording = Recording::open(&path).expect("recording");
            let mut read = 0;
            for record in recording {
                black_box(record.expect("record"));
                read += 1;
            }
            assert!(read as u64 >= frames);
        });
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bench);
criterion_main!(benches);
