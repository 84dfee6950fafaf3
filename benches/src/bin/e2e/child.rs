//! Child processes: the server and each client run. A child is killed and
//! reaped when its guard is dropped, on success, error or panic alike.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hypersockets_bench::child::{ChildGuard, forward_lines};

/// This program, run again with `args`.
fn this_program(args: &[String]) -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let mut command = Command::new(exe);
    command.args(args);
    Ok(command)
}

/// The blast server process and the lines it prints.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    _guard: ChildGuard,
    /// The port it listens on, on 127.0.0.1.
    pub(crate) port: u16,
    /// Mean payload bytes of each message kind, as the server printed them.
    pub(crate) sizes: String,
    lines: mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts `e2e serve`, its gzip feed encoded for up to `gzip_messages`
    /// messages a connection, and waits for its port. It gets a pipe as
    /// stdin and exits when that closes, so it dies with this process
    /// however this process ends.
    pub(crate) fn start(gzip_messages: u64) -> Result<Self, String> {
        let args = [
            "serve".to_owned(),
            "--n".to_owned(),
            gzip_messages.to_string(),
        ];
        let mut child = this_program(&args)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start server: {e}"))?;
        let stdout = child.stdout.take().ok_or("server stdout")?;
        let guard = ChildGuard(child);
        let (tx, lines) = mpsc::channel();
        forward_lines(stdout, move |line| tx.send(line).is_ok());
        // Encoding the gzip feed takes a few seconds per million messages.
        let first = lines
            .recv_timeout(Duration::from_secs(60 + gzip_messages / 50_000))
            .map_err(|_| "the server did not start")?;
        let (port, sizes) = first
            .strip_prefix("LISTENING ")
            .and_then(|rest| {
                let (port, sizes) = rest.split_once(' ').unwrap_or((rest, ""));
                Some((port.parse().ok()?, sizes.to_owned()))
            })
            .ok_or_else(|| format!("unexpected server line {first:?}"))?;
        Ok(Self {
            _guard: guard,
            port,
            sizes,
            lines,
        })
    }

    /// The server's record of the connection that just ended: messages and
    /// checksum it wrote.
    pub(crate) fn sent(&self) -> Result<(u64, u64), String> {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "the server reported nothing for the connection")?;
        let rest = line
            .strip_prefix("SENT ")
            .ok_or_else(|| format!("server: {line}"))?;
        let mut messages = None;
        let mut checksum = None;
        for field in rest.split_whitespace() {
            match field.split_once('=') {
                Some(("n", n)) => messages = n.parse().ok(),
                Some(("checksum", c)) => {
                    checksum = u64::from_str_radix(c.trim_start_matches("0x"), 16).ok();
                }
                _ => {}
            }
        }
        messages
            .zip(checksum)
            .ok_or_else(|| format!("unreadable server line {line:?}"))
    }
}

/// Runs this program with `args` to completion, killing it after `limit`;
/// returns its exit status and standard output (its standard error goes
/// straight to ours).
pub(crate) fn run_to_end(args: &[String], limit: Duration) -> Result<(ExitStatus, String), String> {
    let mut command = this_program(args)?;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("start client: {e}"))?;
    let mut guard = ChildGuard(child);
    let mut stdout = guard.child().stdout.take().ok_or("client stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = guard.child().try_wait().map_err(|e| format!("wait: {e}"))? {
            break status;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "client {args:?} still running after {limit:?}; killed"
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = reader.join().unwrap_or_default();
    Ok((status, out))
}
