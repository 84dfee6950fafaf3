//! Per-key order under random traffic: whatever the lane kind, bound,
//! handler speed and parse site, every key's handler sees exactly its
//! messages, in dispatch order, nothing lost and nothing duplicated.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use hypersockets_core::{MessageContext, WsMessage};
use hypersockets_router::{
    Dispatch, LaneConfig, LaneKind, RouterBuilder, RouterMetricsSnapshot, ShutdownMode,
};
use proptest::prelude::*;
use support::{Recorder, Seen, TestRouter, drain_seen, inline_recorder, seen_channel, text_with};

/// A whole case must finish within this (a deadlock fails, not hangs).
const CASE_WAIT: Duration = Duration::from_secs(20);

/// One message of a scenario.
#[derive(Clone, Debug)]
struct Step {
    key: u32,
    /// `yield_now` calls in the handler.
    yields: u32,
    /// `spin_loop` iterations in the handler.
    spins: u32,
    /// Whether the reader flushes after this message.
    flush: bool,
    /// With a classifying router: whether `classify` declines this message,
    /// so the reader parses it and its lane gets raw and parsed messages
    /// mixed.
    declined: bool,
    /// Whether the reader goes on dispatching after this message without
    /// awaiting `ready()` when messages are held (they are then held behind
    /// one another, across keys).
    ready_later: bool,
}

#[derive(Clone, Debug)]
struct Scenario {
    keys: u32,
    steps: Vec<Step>,
    /// Classify on the reader (parse in the lane) or parse on the reader.
    classify: bool,
    /// Run the reader as a task on a runtime worker, or in `block_on`.
    reader_on_worker: bool,
    /// Leave what is still held at the end to the graceful shutdown, instead
    /// of awaiting `ready()` first.
    held_at_shutdown: bool,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1u32..=8).prop_flat_map(|keys| {
        let step = (
            0..keys,
            prop_oneof![3 => Just(0u32), 1 => 1u32..16],
            prop_oneof![3 => Just(0u32), 1 => 1u32..2_000],
            proptest::bool::weighted(0.1),
            proptest::bool::weighted(0.3),
            proptest::bool::weighted(0.3),
        )
            .prop_map(|(key, yields, spins, flush, declined, ready_later)| Step {
                key,
                yields,
                spins,
                flush,
                declined,
                ready_later,
            });
        (
            proptest::collection::vec(step, 0..300),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                move |(steps, classify, reader_on_worker, held_at_shutdown)| Scenario {
                    keys,
                    steps,
                    classify,
                    reader_on_worker,
                    held_at_shutdown,
                },
            )
    })
}

/// How each key's lane is set up.
#[derive(Clone, Copy, Debug)]
enum Setup {
    Queued(LaneKind, Option<usize>),
    Inline,
}

impl Setup {
    fn config(self) -> Option<LaneConfig> {
        match self {
            Setup::Queued(kind, capacity) => {
                let config = LaneConfig::default().kind(kind);
                Some(match capacity {
                    Some(capacity) => config.capacity(capacity),
                    None => config,
                })
            }
            Setup::Inline => None,
        }
    }
}

fn message(seq: usize, step: &Step) -> WsMessage {
    let declined = if step.declined { ";classify=no" } else { "" };
    text_with(
        step.key,
        seq as u64,
        &format!("yield={};spin={}{declined}", step.yields, step.spins),
    )
}

/// Runs a scenario on its own two-worker runtime; returns what the handlers
/// saw and the figures after a graceful shutdown.
fn run(scenario: &Scenario, setups: &[Setup]) -> (Vec<Seen>, RouterMetricsSnapshot) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let scenario = scenario.clone();
    let setups = setups.to_vec();
    runtime.block_on(async move {
        let reader_on_worker = scenario.reader_on_worker;
        let case = async move {
            let (tx, mut rx) = seen_channel();
            let mut builder = RouterBuilder::new(TestRouter::new(scenario.classify));
            for (key, setup) in (0..scenario.keys).zip(setups) {
                builder = match setup.config() {
                    Some(config) => {
                        builder.handler_with_config(key, Recorder::new(Some(key), &tx), config)
                    }
                    None => builder.inline_handler(key, inline_recorder(key, &tx)),
                };
            }
            drop(tx);
            let mut dispatcher = builder.build().expect("build");
            let stats = dispatcher.stats();
            let mut holding = false;
            for (seq, step) in scenario.steps.iter().enumerate() {
                let outcome = dispatcher.dispatch(message(seq, step), MessageContext::now(1));
                assert!(
                    matches!(
                        outcome,
                        Dispatch::Queued | Dispatch::HandledInline | Dispatch::Blocked
                    ),
                    "message {seq}: {outcome:?}"
                );
                holding |= outcome == Dispatch::Blocked;
                if holding && !step.ready_later {
                    assert_eq!(dispatcher.ready().await, Dispatch::Queued, "message {seq}");
                    holding = false;
                }
                if step.flush {
                    dispatcher.flush();
                }
            }
            if !scenario.held_at_shutdown {
                assert_eq!(dispatcher.ready().await, Dispatch::Queued);
            }
            dispatcher.shutdown(ShutdownMode::Graceful).await;
            // Every handler has been dropped: the channel is closed and
            // holds all there is.
            let seen = drain_seen(&mut rx);
            assert!(rx.is_closed(), "a handler outlived the shutdown");
            (seen, stats.snapshot())
        };
        let case = async move {
            if reader_on_worker {
                tokio::spawn(case).await.expect("reader task")
            } else {
                case.await
            }
        };
        tokio::time::timeout(CASE_WAIT, case)
            .await
            .expect("the case hung")
    })
}

/// Checks order, completeness and the figures.
fn check(
    scenario: &Scenario,
    setups: &[Setup],
    seen: &[Seen],
    figures: &RouterMetricsSnapshot,
) -> Result<(), TestCaseError> {
    let mut expected: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (seq, step) in scenario.steps.iter().enumerate() {
        expected.entry(step.key).or_default().push(seq as u64);
    }
    let mut actual: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let declined: Vec<bool> = scenario.steps.iter().map(|step| step.declined).collect();
    for one in seen {
        let lane = one.lane.expect("no fallback here");
        prop_assert_eq!(lane, one.msg.key, "a message reached the wrong handler");
        let inline = matches!(setups[lane as usize], Setup::Inline);
        let expected_classified =
            (scenario.classify && !declined[one.msg.seq as usize]).then_some(lane);
        prop_assert_eq!(
            one.msg.classified,
            expected_classified,
            "parsed by the wrong function (inline lane: {})",
            inline
        );
        actual.entry(lane).or_default().push(one.msg.seq);
    }
    prop_assert_eq!(&actual, &expected);
    prop_assert_eq!(figures.dispatched, scenario.steps.len() as u64);
    prop_assert_eq!(figures.parse_errors, 0);
    prop_assert_eq!(figures.unrouted, 0);
    prop_assert_eq!(figures.lanes.len(), scenario.keys as usize);
    for (key, lane) in (0..scenario.keys).zip(&figures.lanes) {
        let count = expected.get(&key).map_or(0, Vec::len) as u64;
        prop_assert_eq!(&lane.key, &key.to_string());
        prop_assert_eq!(lane.enqueued, count, "lane {}", key);
        prop_assert_eq!(lane.delivered, count, "lane {}", key);
        prop_assert_eq!(lane.dropped, 0, "lane {}", key);
        prop_assert_eq!(lane.depth, 0, "lane {}", key);
        prop_assert_eq!(lane.handler_errors + lane.handler_panics, 0);
        prop_assert_eq!(lane.parse_errors, 0, "lane {}", key);
    }
    Ok(())
}

fn run_and_check(scenario: &Scenario, setups: &[Setup]) -> Result<(), TestCaseError> {
    let (seen, figures) = run(scenario, setups);
    check(scenario, setups, &seen, &figures)
}

fn uniform(scenario: &Scenario, setup: Setup) -> Vec<Setup> {
    vec![setup; scenario.keys as usize]
}

fn any_setup() -> impl Strategy<Value = Setup> {
    prop_oneof![
        Just(Setup::Queued(LaneKind::Thread, None)),
        (1usize..=4).prop_map(|cap| Setup::Queued(LaneKind::Thread, Some(cap))),
        Just(Setup::Queued(LaneKind::Task, None)),
        (1usize..=4).prop_map(|cap| Setup::Queued(LaneKind::Task, Some(cap))),
        Just(Setup::Queued(LaneKind::Pool, None)),
        (1usize..=4).prop_map(|cap| Setup::Queued(LaneKind::Pool, Some(cap))),
        Just(Setup::Inline),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn thread_lanes_unbounded_keep_per_key_order(scenario in scenario()) {
        let setups = uniform(&scenario, Setup::Queued(LaneKind::Thread, None));
        run_and_check(&scenario, &setups)?;
    }

    #[test]
    fn thread_lanes_bounded_block_keep_per_key_order(scenario in scenario(), capacity in 1usize..=4) {
        let setups = uniform(&scenario, Setup::Queued(LaneKind::Thread, Some(capacity)));
        run_and_check(&scenario, &setups)?;
    }

    #[test]
    fn task_lanes_unbounded_keep_per_key_order(scenario in scenario()) {
        let setups = uniform(&scenario, Setup::Queued(LaneKind::Task, None));
        run_and_check(&scenario, &setups)?;
    }

    #[test]
    fn task_lanes_bounded_block_keep_per_key_order(scenario in scenario(), capacity in 1usize..=4) {
        let setups = uniform(&scenario, Setup::Queued(LaneKind::Task, Some(capacity)));
        run_and_check(&scenario, &setups)?;
    }

    #[test]
    fn pool_lanes_unbounded_keep_per_key_order(scenario in scenario()) {
        let setups = uniform(&scenario, Setup::Queued(LaneKind::Pool, None));
        run_and_check(&scenario, &setups)?;
    }

    #[test]
    fn pool_lanes_bounded_block_keep_per_key_order(scenario in scenario(), capacity in 1usize..=4) {
        let setups = uniform(&scenario, Setup::Queued(LaneKind::Pool, Some(capacity)));
        run_and_check(&scenario, &setups)?;
    }

    #[test]
    fn mixed_lanes_keep_per_key_order(
        scenario in scenario(),
        setups in proptest::collection::vec(any_setup(), 8),
    ) {
        run_and_check(&scenario, &setups[..scenario.keys as usize])?;
    }
}
