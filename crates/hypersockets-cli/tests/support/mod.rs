//! Running the built binary in tests, and reading its plain lines.

#![allow(dead_code)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A generous bound on a run of a few seconds, for a loaded machine.
const BOUND: Duration = Duration::from_secs(90);

/// The value of `key=` in a line of figures, as far as the next space.
pub(crate) fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

/// A rate field's number: `412/s` → 412; `-` → none.
pub(crate) fn rate(value: &str) -> Option<u64> {
    value.strip_suffix("/s")?.parse().ok()
}

/// Runs the binary with `args`, up to [`BOUND`]: its exit status's
/// success, stdout and stderr.
pub(crate) fn run(args: &[&str]) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hypersockets"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + BOUND;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting on the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {BOUND:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.success(),
        out.join().expect("stdout read"),
        err.join().expect("stderr read"),
    )
}
