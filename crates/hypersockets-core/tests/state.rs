//! The connection state machine: every transition, allowed or not, and the
//! lock-free atomic wrapper under contention.

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use hypersockets_core::{AtomicConnectionState, ConnectionState, InvalidTransition};

use ConnectionState::{Connected, Connecting, Disconnected, Reconnecting, ShuttingDown};

const ALL: [ConnectionState; 5] = [
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
    ShuttingDown,
];

/// The transition table, written out by hand from the state diagram.
/// Rows are the current state, columns the next one, both in the order of `ALL`.
const EXPECTED: [[bool; 5]; 5] = [
    //  Disc.  Conn'ing Conn'ed Reconn. ShutDown
    [false, true, false, false, true],   // Disconnected
    [true, false, true, true, true],     // Connecting
    [true, false, false, true, true],    // Connected
    [true, true, false, false, true],    // Reconnecting
    [false, false, false, false, false], // ShuttingDown
];

fn index(state: ConnectionState) -> usize {
    ALL.iter().position(|s| *s == state).unwrap()
}

fn expected(from: ConnectionState, to: ConnectionState) -> bool {
    EXPECTED[index(from)][index(to)]
}

/// An atomic state brought to `state` by allowed transitions only.
fn atomic_in(state: ConnectionState) -> AtomicConnectionState {
    let path: &[ConnectionState] = match state {
        Disconnected => &[],
        Connecting => &[Connecting],
        Connected => &[Connecting, Connected],
        Reconnecting => &[Connecting, Reconnecting],
        ShuttingDown => &[ShuttingDown],
    };
    let atomic = AtomicConnectionState::new();
    for next in path {
        atomic.transition(*next).unwrap();
    }
    assert_eq!(atomic.get(), state);
    atomic
}

#[test]
fn can_transition_to_matches_the_table_for_all_pairs() {
    for from in ALL {
        for to in ALL {
            assert_eq!(
                from.can_transition_to(to),
                expected(from, to),
                "{from:?} -> {to:?}"
            );
        }
    }
}

#[test]
fn the_table_follows_the_rules() {
    // Cross-check the hand-written table against the rules stated in words.
    for from in ALL {
        // Same state is never a transition.
        assert!(!expected(from, from), "{from:?} -> itself");
        // Every non-terminal state can shut down; nothing leaves ShuttingDown.
        assert_eq!(expected(from, ShuttingDown), from != ShuttingDown);
        for to in ALL {
            if from == ShuttingDown {
                assert!(!expected(from, to));
            }
        }
    }
    assert_eq!(
        EXPECTED
            .iter()
            .flatten()
            .filter(|allowed| **allowed)
            .count(),
        12
    );
}

#[test]
fn is_connected_and_is_terminal() {
    for state in ALL {
        assert_eq!(state.is_connected(), state == Connected);
        assert_eq!(state.is_terminal(), state == ShuttingDown);
    }
}

#[test]
fn display_is_lowercase() {
    let shown: Vec<String> = ALL.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "disconnected",
            "connecting",
            "connected",
            "reconnecting",
            "shutting down"
        ]
    );
}

#[test]
fn from_u8_round_trips_and_unknown_values_are_terminal() {
    for state in ALL {
        assert_eq!(ConnectionState::from_u8(state as u8), state);
    }
    assert_eq!(Disconnected as u8, 0);
    assert_eq!(ShuttingDown as u8, 4);
    for value in 5..=u8::MAX {
        assert_eq!(ConnectionState::from_u8(value), ShuttingDown, "{value}");
    }
}

#[test]
fn atomic_starts_disconnected() {
    assert_eq!(AtomicConnectionState::new().get(), Disconnected);
    assert_eq!(AtomicConnectionState::default().get(), Disconnected);
    assert!(!AtomicConnectionState::new().is_connected());
    assert_eq!(
        format!("{:?}", AtomicConnectionState::new()),
        "AtomicConnectionState(Disconnected)"
    );
}

#[test]
fn atomic_transition_follows_the_table_for_all_pairs() {
    for from in ALL {
        for to in ALL {
            let atomic = atomic_in(from);
            let result = atomic.transition(to);
            if expected(from, to) {
                assert_eq!(result, Ok(from), "{from:?} -> {to:?}");
                assert_eq!(atomic.get(), to);
                assert_eq!(atomic.is_connected(), to == Connected);
            } else {
                assert_eq!(
                    result,
                    Err(InvalidTransition { from, to }),
                    "{from:?} -> {to:?}"
                );
                assert_eq!(atomic.get(), from, "a refused transition changed the state");
            }
        }
    }
}

#[test]
fn atomic_compare_transition_follows_the_table_for_all_pairs() {
    for from in ALL {
        for to in ALL {
            let atomic = atomic_in(from);
            let result = atomic.compare_transition(from, to);
            if expected(from, to) {
                assert_eq!(result, Ok(()), "{from:?} -> {to:?}");
                assert_eq!(atomic.get(), to);
            } else {
                assert_eq!(
                    result,
                    Err(InvalidTransition { from, to }),
                    "{from:?} -> {to:?}"
                );
                assert_eq!(atomic.get(), from);
            }
        }
    }
}

#[test]
fn compare_transition_fails_when_the_current_state_differs() {
    for actual in ALL {
        for from in ALL {
            for to in ALL {
                if from == actual {
                    continue;
                }
                let atomic = atomic_in(actual);
                let err = atomic
                    .compare_transition(from, to)
                    .expect_err("the current state is not `from`");
                assert_eq!(err.to, to);
                if expected(from, to) {
                    // An allowed move from the wrong state reports the actual state.
                    assert_eq!(err.from, actual, "actual {actual:?}, {from:?} -> {to:?}");
                }
                assert_eq!(atomic.get(), actual, "a failed compare changed the state");
            }
        }
    }
}

#[test]
fn a_full_life_cycle() {
    let state = AtomicConnectionState::new();
    assert_eq!(state.transition(Connecting), Ok(Disconnected));
    assert_eq!(state.transition(Connected), Ok(Connecting));
    assert!(state.is_connected());
    assert_eq!(state.transition(Reconnecting), Ok(Connected));
    assert_eq!(state.transition(Connecting), Ok(Reconnecting));
    assert_eq!(state.transition(Reconnecting), Ok(Connecting));
    assert_eq!(state.transition(Disconnected), Ok(Reconnecting));
    assert_eq!(state.compare_transition(Disconnected, Connecting), Ok(()));
    assert_eq!(state.transition(ShuttingDown), Ok(Connecting));
    for next in ALL {
        assert!(state.transition(next).is_err());
    }
    assert_eq!(state.get(), ShuttingDown);
}

#[test]
fn invalid_transition_display() {
    let err = InvalidTransition {
        from: ShuttingDown,
        to: Connecting,
    };
    assert_eq!(
        err.to_string(),
        "invalid state transition from shutting down to connecting"
    );
}

const THREADS: usize = 8;
const ROUNDS: usize = 200;

fn race(attempt: impl Fn(&AtomicConnectionState) -> bool + Sync) {
    for round in 0..ROUNDS {
        let state = AtomicConnectionState::new();
        let barrier = Barrier::new(THREADS);
        let winners = AtomicUsize::new(0);
        thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    barrier.wait();
                    if attempt(&state) {
                        winners.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(winners.load(Ordering::Relaxed), 1, "round {round}");
        assert_eq!(state.get(), Connecting);
    }
}

#[test]
fn racing_transitions_have_exactly_one_winner() {
    race(|state| state.transition(Connecting).is_ok());
}

#[test]
fn racing_compare_transitions_have_exactly_one_winner() {
    race(|state| state.compare_transition(Disconnected, Connecting).is_ok());
}

#[test]
fn losers_of_a_race_see_the_winners_state() {
    let state = AtomicConnectionState::new();
    let barrier = Barrier::new(THREADS);
    let results: Vec<_> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    state.transition(Connecting)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| **r == Ok(Disconnected)).count(),
        1
    );
    for result in results.iter().filter(|r| r.is_err()) {
        assert_eq!(
            *result,
            Err(InvalidTransition {
                from: Connecting,
                to: Connecting
            })
        );
    }
}
