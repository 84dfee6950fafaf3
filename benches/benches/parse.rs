//! Should `MessageRouter::parse` be `async`? Compares the same serde parse
//! called as a plain function, awaited as an `async fn`, and run in a task
//! spawned per message (the seed's design).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(tag = "e")]
#[allow(dead_code)] // fields are read by serde and black_box only
enum Event {
    #[serde(rename = "trade")]
    Trade {
        #[serde(rename = "s")]
        symbol: String,
        #[serde(rename = "p")]
        price: String,
        #[serde(rename = "q")]
        qty: String,
        #[serde(rename = "t")]
        id: u64,
    },
}

const TRADE: &str = r#"{"e":"trade","E":1700000000123,"s":"BTCUSDT","t":4242424242,"p":"43251.12000000","q":"0.01230000","T":1700000000120,"m":true,"M":true}"#;

fn parse_sync(text: &str) -> Result<Event, serde_json::Error> {
    serde_json::from_str(text)
}

async fn parse_async(text: &str) -> Result<Event, serde_json::Error> {
    serde_json::from_str(text)
}

/// Polls a future that is ready at once, as an executor would.
fn poll_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the parse future never waits"),
    }
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    group.bench_function("sync_fn", |b| {
        b.iter(|| black_box(parse_sync(black_box(TRADE)).is_ok()))
    });
    group.bench_function("async_fn_awaited", |b| {
        b.iter(|| black_box(poll_ready(parse_async(black_box(TRADE))).is_ok()))
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    // The seed spawned one parse task per message; spawn a batch from inside
    // the runtime and wait for all, so the figure is spawn + schedule + parse.
    const BATCH: u64 = 1_000;
    group.bench_function("task_per_message", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let rounds = iters.div_ceil(BATCH);
                let start = std::time::Instant::now();
                for _ in 0..rounds {
                    let handles: Vec<_> = (0..BATCH)
                        .map(|_| tokio::spawn(async { parse_async(TRADE).await.is_ok() }))
                        .collect();
                    for handle in handles {
                        black_box(handle.await.expect("task"));
                    }
                }
                // Scale to exactly `iters` messages.
                start
                    .elapsed()
                    .mul_f64(iters as f64 / (rounds * BATCH) as f64)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
