//! `hypersockets demo --plain --duration 4`: the built binary against its
//! embedded mock exchange, its lines read: messages and rates growing,
//! the dropped connection the demo's first fault causes and the
//! reconnect after it, and a clean exit.

mod support;

use support::{field, rate, run};

#[test]
fn demo_lines_show_messages_rates_and_the_reconnect() {
    let (ok, stdout, stderr) = run(&["demo", "--plain", "--duration", "4"]);
    assert!(ok, "exit status; stderr:\n{stderr}\nstdout:\n{stdout}");
    let figures: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("t=") && line.contains(" msgs="))
        .collect();
    let events: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("t=") && line.contains(" event: "))
        .collect();
    assert!(figures.len() >= 3, "a line a second:\n{stdout}");

    // Messages never go down, and grow.
    let messages: Vec<u64> = figures
        .iter()
        .map(|line| {
            field(line, "msgs")
                .and_then(|count| count.parse().ok())
                .unwrap_or_else(|| panic!("msgs= in {line}"))
        })
        .collect();
    assert!(
        messages.windows(2).all(|pair| pair[0] <= pair[1]),
        "messages never go down: {messages:?}"
    );
    assert!(
        messages.last() > messages.first(),
        "messages grow: {messages:?}"
    );
    // Rates: the first line has none yet; later ones measure some, for the
    // connection and for each trade stream.
    assert_eq!(field(figures[0], "rate"), Some("-"), "{}", figures[0]);
    assert!(
        figures[1..]
            .iter()
            .any(|line| field(line, "rate").and_then(rate).is_some_and(|r| r > 0)),
        "a rate above zero:\n{stdout}"
    );
    for stream in ["btcusdt@trade", "ethusdt@trade", "btcusdt@depth"] {
        assert!(
            figures
                .iter()
                .any(|line| field(line, stream).and_then(rate).is_some_and(|r| r > 0)),
            "{stream} flows:\n{stdout}"
        );
    }
    // The demo's first fault drops the connection; the client comes back.
    assert!(
        events.iter().any(|line| line.contains("disconnected")),
        "the dropped connection:\n{stdout}"
    );
    assert!(
        events
            .iter()
            .any(|line| line.ends_with("event: reconnected")),
        "the reconnect:\n{stdout}"
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("hypersockets: duration reached after ")
            && !summary.contains(" 0 reconnect(s)"),
        "a summary with the reconnect: {summary}"
    );
}

#[test]
fn bad_arguments_fail_with_a_clear_error() {
    let (ok, _, stderr) = run(&[
        "watch",
        "ws://127.0.0.1:9/ws",
        "--subscribe",
        "btcusdt@trade",
    ]);
    assert!(!ok);
    assert!(
        stderr.starts_with(
            "hypersockets: error: --subscribe btcusdt@trade: a stream name needs --profile"
        ),
        "{stderr}"
    );
    let (ok, _, stderr) = run(&["watch", "--profile", "nasdaq"]);
    assert!(!ok);
    assert!(stderr.contains("unknown profile \"nasdaq\""), "{stderr}");
    let (ok, _, stderr) = run(&["watch", "ws://127.0.0.1:9/ws", "--subscribe", "{nope"]);
    assert!(!ok);
    assert!(stderr.contains("not valid JSON"), "{stderr}");
}
