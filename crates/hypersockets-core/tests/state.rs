//! The connection state machine: every transition, allowed or not.

use hypersockets_core::ConnectionState;

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
