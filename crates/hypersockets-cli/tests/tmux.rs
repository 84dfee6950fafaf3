//! The full-screen view in a real terminal: `hypersockets demo` in a
//! detached tmux session (120×40), read with `capture-pane` until it shows
//! its title and streams flowing; then `q`, and the terminal must be as it
//! was (the alternate screen left, canonical mode back) and the session
//! gone. And a terminal that hangs up under the view (its tmux server
//! killed) ends the process rather than leaving it behind.
//!
//! Needs tmux (`apt-get install tmux`): skipped with a note without it,
//! except with `CI=true`, where it fails.

#![allow(clippy::print_stderr)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// How long the view may take to show its streams flowing (the demo's
/// mock exchange starts, the client connects, a second of rates).
const SHOWN_WITHIN: Duration = Duration::from_secs(60);
/// How long the binary may take to end after `q`.
const GONE_WITHIN: Duration = Duration::from_secs(30);
/// Between two looks at the pane.
const POLL: Duration = Duration::from_millis(100);

/// A tmux server of this test's own (`tmux -L NAME`), killed when dropped,
/// however the test ends.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        Self {
            socket: format!("hypersockets-cli-{}-{nanos}", std::process::id()),
        }
    }

    /// Runs `tmux -L socket -f /dev/null ARGS`.
    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// The pane's visible text, `None` once the session is gone.
    fn capture(&self) -> Option<String> {
        let output = self.run(&["capture-pane", "-p", "-t", "view"]);
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn session_exists(&self) -> bool {
        self.run(&["has-session", "-t", "view"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Whether tmux is here; without it, a note (or, in CI, a failure).
fn tmux_available() -> bool {
    let found = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tmux is required with CI=true (apt-get install tmux)"
        );
        eprintln!("skipped: tmux is not installed (apt-get install tmux)");
    }
    found
}

/// The rate in a stream's row of the table: the word after its name.
fn row_rate<'a>(pane: &'a str, stream: &str) -> Option<&'a str> {
    pane.lines().find_map(|line| {
        let mut words = line
            .split(|c: char| c.is_whitespace() || c == '│')
            .filter(|word| !word.is_empty());
        words.find(|word| *word == stream)?;
        words.next()
    })
}

/// Whether a rate's text (`412/s`, `1.2k/s`) is above zero.
fn flowing(rate: Option<&str>) -> bool {
    rate.and_then(|rate| rate.strip_suffix("/s"))
        .and_then(|number| number.trim_end_matches(['k', 'M']).parse::<f64>().ok())
        .is_some_and(|number| number > 0.0)
}

#[test]
fn the_view_shows_streams_and_quits_on_q() {
    if !tmux_available() {
        return;
    }
    let tmux = Tmux::new();
    let binary = env!("CARGO_BIN_EXE_hypersockets");
    // After the binary: its status, whether the terminal is back in
    // canonical mode (`icanon`, not `-icanon`), then a wait for a key, so
    // that the pane can be read before the session ends.
    let script = format!(
        "'{binary}' demo --duration 30; echo \"exit=$?\"; \
         echo \"mode=$(stty -a | tr ' ;' '\\n\\n' | grep icanon)\"; read _"
    );
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "view",
        "-x",
        "120",
        "-y",
        "40",
        "sh",
        "-c",
        &script,
    ]);
    assert!(
        started.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&started.stderr)
    );

    let streams = ["btcusdt@trade", "ethusdt@trade", "btcusdt@depth"];
    let deadline = Instant::now() + SHOWN_WITHIN;
    let pane = loop {
        let pane = tmux.capture().unwrap_or_default();
        let shown = pane.contains("HyperSockets")
            && streams
                .iter()
                .filter(|stream| flowing(row_rate(&pane, stream)))
                .count()
                >= 2;
        if shown {
            break pane;
        }
        assert!(
            Instant::now() < deadline,
            "no view with streams flowing within {SHOWN_WITHIN:?}; the pane:\n{pane}"
        );
        std::thread::sleep(POLL);
    };
    assert!(
        pane.contains("HyperSockets · demo: mock exchange, binance-spot ws://127.0.0.1:"),
        "the title:\n{pane}"
    );
    for expected in [
        "STREAM", "MSG/S", "TOTAL", "QUEUED", "P50", "P99", "MAX", "Events",
    ] {
        assert!(pane.contains(expected), "{expected:?} in the view:\n{pane}");
    }
    for stream in streams {
        assert!(pane.contains(stream), "{stream} in the table:\n{pane}");
    }
    assert!(pane.contains("connected"), "the state, the events:\n{pane}");
    assert_eq!(
        tmux.run(&["display-message", "-p", "-t", "view", "#{alternate_on}"])
            .stdout,
        b"1\n",
        "the view is on the alternate screen"
    );

    // Quit; the binary ends long before its 30 s.
    assert!(tmux.run(&["send-keys", "-t", "view", "q"]).status.success());
    let deadline = Instant::now() + GONE_WITHIN;
    let after = loop {
        let pane = tmux.capture().unwrap_or_default();
        if pane.contains("mode=") {
            break pane;
        }
        assert!(
            Instant::now() < deadline,
            "still running {GONE_WITHIN:?} after q; the pane:\n{pane}"
        );
        std::thread::sleep(POLL);
    };
    let lines: Vec<&str> = after.lines().map(str::trim).collect();
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("hypersockets: quit after ")),
        "the summary says it quit:\n{after}"
    );
    assert!(lines.contains(&"exit=0"), "exit status 0:\n{after}");
    assert!(
        lines.contains(&"mode=icanon"),
        "canonical mode restored (not raw):\n{after}"
    );
    assert!(
        !after.contains("STREAM"),
        "the view's screen is gone:\n{after}"
    );
    assert_eq!(
        tmux.run(&["display-message", "-p", "-t", "view", "#{alternate_on}"])
            .stdout,
        b"0\n",
        "the alternate screen is left"
    );

    // The key the script waits for: the session ends.
    assert!(
        tmux.run(&["send-keys", "-t", "view", "Enter"])
            .status
            .success()
    );
    let deadline = Instant::now() + GONE_WITHIN;
    while tmux.session_exists() {
        assert!(
            Instant::now() < deadline,
            "the session still exists {GONE_WITHIN:?} after its command ended"
        );
        std::thread::sleep(POLL);
    }
}

/// Kills process `pid` when dropped if it still runs: a test that fails
/// leaves nothing behind.
struct KillOnDrop<'a>(&'a str);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        if running(self.0) {
            let _ = Command::new("kill").args(["-KILL", self.0]).status();
        }
    }
}

/// Whether process `pid` is running (not gone, not a zombie), from /proc.
fn running(pid: &str) -> bool {
    pid.parse::<u32>().is_ok()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            // "pid (comm) S …": the state follows the command's closing bracket.
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with(['Z', 'X']))
        })
}

#[test]
fn a_terminal_that_hangs_up_ends_the_view() {
    if !tmux_available() || !std::path::Path::new("/proc/self/stat").exists() {
        return;
    }
    let tmux = Tmux::new();
    let binary = env!("CARGO_BIN_EXE_hypersockets");
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "view",
        "-x",
        "100",
        "-y",
        "30",
        binary,
        "demo",
        "--duration",
        "60",
    ]);
    assert!(started.status.success(), "tmux new-session");
    let pid = String::from_utf8_lossy(
        &tmux
            .run(&["display-message", "-p", "-t", "view", "#{pane_pid}"])
            .stdout,
    )
    .trim()
    .to_owned();
    assert!(pid.parse::<u32>().is_ok(), "the pane's process id: {pid:?}");
    let _kill = KillOnDrop(&pid);
    // Once the view runs (a second of rates, its key reader long started).
    let deadline = Instant::now() + SHOWN_WITHIN;
    while !flowing(row_rate(
        &tmux.capture().unwrap_or_default(),
        "btcusdt@trade",
    )) {
        assert!(Instant::now() < deadline, "no view within {SHOWN_WITHIN:?}");
        std::thread::sleep(POLL);
    }
    // Read once the view runs: tmux forks the pane's process, then execs.
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim(),
        "hypersockets",
        "the pane's process is the binary itself"
    );
    // The terminal goes away under the view (its window closed).
    let _ = tmux.run(&["kill-server"]);
    let deadline = Instant::now() + GONE_WITHIN;
    while running(&pid) {
        assert!(
            Instant::now() < deadline,
            "process {pid} still running {GONE_WITHIN:?} after its terminal hung up"
        );
        std::thread::sleep(POLL);
    }
}
