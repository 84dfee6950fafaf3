//! The lane hand-off, per message: route key + queue + handler receive.
//!
//! Our lanes (thread and task kinds) against the obvious alternative a user
//! would write: one `tokio::sync::mpsc::unbounded_channel` per key, drained
//! by a tokio task each. The same router parses and routes in every case;
//! its parse is trivial so that the figure is the hand-off itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hypersockets::{MessageContext, MessageRouter, ParseError, WsMessage, handler_fn};
use hypersockets_router::{Dispatch, LaneConfig, LaneKind, RouterBuilder, ShutdownMode};
use tokio::sync::Notify;

const BATCH: u64 = 20_000;

#[derive(Debug)]
struct Msg {
    key: u8,
    seq: u64,
}

/// Reads `[key, seq as 8 bytes]`.
struct BinRouter;

impl MessageRouter for BinRouter {
    type Message = Msg;
    type RouteKey = u8;

    #[inline]
    fn parse(&self, message: &WsMessage) -> Result<Msg, ParseError> {
        let bytes = message.as_bytes();
        let seq = bytes
            .get(1..9)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .ok_or_else(|| ParseError::new("short"))?;
        Ok(Msg {
            key: bytes[0],
            seq: u64::from_le_bytes(seq),
        })
    }

    #[inline]
    fn route_key(&self, message: &Msg) -> u8 {
        message.key
    }
}

fn messages(keys: u8) -> Vec<WsMessage> {
    (0..BATCH)
        .map(|seq| {
            let mut bytes = vec![(seq % u64::from(keys)) as u8];
            bytes.extend_from_slice(&seq.to_le_bytes());
            WsMessage::binary(bytes)
        })
        .collect()
}

/// Counts handled messages and wakes the bench when a batch is done.
#[derive(Default)]
struct Done {
    count: AtomicU64,
    target: AtomicU64,
    notify: Notify,
}

impl Done {
    #[inline]
    fn one(&self, seq: u64) {
        std::hint::black_box(seq);
        let now = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if now == self.target.load(Ordering::Acquire) {
            self.notify.notify_one();
        }
    }

    async fn wait(&self, target: u64) {
        while self.count.load(Ordering::Acquire) < target {
            self.notify.notified().await;
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn bench_lanes(config: &LaneConfig, name: &str, group: &mut Group<'_>) {
    for keys in [1u8, 4, 16] {
        let rt = runtime();
        let done = Arc::new(Done::default());
        let msgs = messages(keys);
        let mut dispatcher = rt.block_on(async {
            let mut builder = RouterBuilder::new(BinRouter).lane_defaults(config.clone());
            for key in 0..keys {
                let done = Arc::clone(&done);
                builder = builder.handler(
                    key,
                    handler_fn(move |m: Msg| {
                        done.one(m.seq);
                        Ok::<_, std::convert::Infallible>(())
                    }),
                );
            }
            builder.build().expect("router")
        });
        group.bench_function(BenchmarkId::new(name, keys), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let base = done.count.load(Ordering::Acquire);
                        done.target.store(base + BATCH, Ordering::Release);
                        for message in &msgs {
                            if dispatcher.dispatch(message.clone(), MessageContext::now(1))
                                == Dispatch::Blocked
                            {
                                dispatcher.ready().await;
                            }
                        }
                        dispatcher.flush();
                        done.wait(base + BATCH).await;
                    }
                    start.elapsed()
                })
            })
        });
        rt.block_on(dispatcher.shutdown(ShutdownMode::Graceful));
    }
}

fn bench_tokio_mpsc(group: &mut Group<'_>) {
    for keys in [1u8, 4, 16] {
        let rt = runtime();
        let done = Arc::new(Done::default());
        let msgs = messages(keys);
        let senders: Vec<_> = rt.block_on(async {
            (0..keys)
                .map(|_| {
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
                    let done = Arc::clone(&done);
                    tokio::spawn(async move {
                        while let Some(m) = rx.recv().await {
                            done.one(m.seq);
                        }
                    });
                    tx
                })
                .collect()
        });
        let router = BinRouter;
        group.bench_function(BenchmarkId::new("tokio_mpsc_tasks", keys), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let base = done.count.load(Ordering::Acquire);
                        done.target.store(base + BATCH, Ordering::Release);
                        for message in &msgs {
                            let message = message.clone();
                            if let Ok(parsed) = router.parse(&message) {
                                let key = router.route_key(&parsed);
                                let _ = senders[usize::from(key)].send(parsed);
                            }
                        }
                        done.wait(base + BATCH).await;
                    }
                    start.elapsed()
                })
            })
        });
        drop(senders);
    }
}

fn dispatch(c: &mut Criterion) {
    let mut group = c.benchmark_group("dispatch");
    group.throughput(Throughput::Elements(BATCH));
    group.measurement_time(Duration::from_secs(4));
    group.sample_size(20);
    bench_tokio_mpsc(&mut group);
    bench_lanes(
        &LaneConfig::default().kind(LaneKind::Thread),
        "lanes_thread",
        &mut group,
    );
    bench_lanes(
        &LaneConfig::default().kind(LaneKind::Task),
        "lanes_task",
        &mut group,
    );
    // Bounded (crossbeam's array flavour) with room for a whole batch.
    let bounded = LaneConfig::default().capacity(BATCH as usize);
    bench_lanes(
        &bounded.clone().kind(LaneKind::Thread),
        "lanes_thread_bounded",
        &mut group,
    );
    bench_lanes(
        &bounded.kind(LaneKind::Task),
        "lanes_task_bounded",
        &mut group,
    );
    group.finish();
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
