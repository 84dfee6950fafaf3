//! An independent server for the tests: Python's `websockets`, run from
//! `deflate_server.py` beside this file, on a random loopback port.
//!
//! Where no Python interpreter can import `websockets`, `PythonServer::start`
//! prints one line saying so and returns `None` (the test returns), except
//! with `CI=true`, where it panics: CI installs `python3-websockets`.

#![allow(dead_code, unreachable_pub, reason = "each test binary uses a part")]
#![allow(clippy::print_stderr, reason = "says why a test did not run")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hypersockets::{
    ConnectRequest, Connection, PerMessageDeflate, Result, SokettoTransport, Transport,
    TransportLimits, WsMessage,
};

/// The longest any step of a test waits.
pub const WAIT: Duration = Duration::from_secs(20);

/// The Python server, killed when dropped.
#[derive(Debug)]
pub struct PythonServer {
    child: Child,
    port: u16,
}

impl PythonServer {
    /// Starts `deflate_server.py` with `config`; `None` where no Python has
    /// `websockets` (a panic with `CI=true`).
    pub fn start(config: &serde_json::Value) -> Option<Self> {
        let python = python()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/deflate_server.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python starts");
        let stdout = child.stdout.take().expect("piped stdout");
        // The port line, read on a thread so that the wait is bounded.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut server = Self { child, port: 0 };
        let line = rx.recv_timeout(WAIT).expect("the server prints its port");
        server.port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("not a port: {line:?}"));
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An interpreter that imports `websockets`: `HYPERSOCKETS_PYTHON`, then
/// Debian's `/usr/bin/python3` (a `python3` on the path may be a pyenv
/// shim without Debian's packages), then `python3`.
fn python() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let candidates = std::env::var_os("HYPERSOCKETS_PYTHON")
            .map(PathBuf::from)
            .into_iter()
            .chain(["/usr/bin/python3", "python3"].map(PathBuf::from));
        for candidate in candidates {
            let imports = Command::new(&candidate)
                .args(["-c", "import websockets"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if imports {
                return Some(candidate);
            }
        }
        None
    });
    if found.is_none() {
        let why = "no python3 with `websockets` (apt-get install python3-websockets)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{why}: required with CI=true"
        );
        eprintln!("skipped: {why}");
    }
    found.as_deref()
}

/// Message `index` of `size` bytes, as the server's `content()` makes it.
pub fn content(kind: &str, index: usize, size: usize) -> String {
    const ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    let head = format!("{kind}{index}:");
    let mut body = head;
    while body.len() < size {
        body.push_str(ALPHABET);
    }
    body.truncate(size);
    body
}

/// Connects with `deflate` offered (`None`: nothing) and the given limits.
pub async fn connect_with(
    server: &PythonServer,
    deflate: Option<PerMessageDeflate>,
    limits: TransportLimits,
) -> Result<Connection> {
    let transport = SokettoTransport::new().permessage_deflate(deflate);
    let request = ConnectRequest::new(server.url()).limits(limits);
    tokio::time::timeout(WAIT, transport.connect(request))
        .await
        .expect("connect within the wait")
}

/// Connects as [`connect_with`] with default limits, and reads the
/// server's first message: what it answered to the offer, and the offer.
pub async fn open(
    server: &PythonServer,
    deflate: Option<PerMessageDeflate>,
) -> (Connection, Negotiation) {
    let mut connection = connect_with(server, deflate, TransportLimits::default())
        .await
        .expect("connected");
    let hello = json(&next(&mut connection).await);
    let negotiation = Negotiation {
        answer: hello["extensions"].as_str().map(str::to_owned),
        offer: hello["offer"].as_str().map(str::to_owned),
    };
    (connection, negotiation)
}

/// The handshake as the server saw it.
#[derive(Debug)]
pub struct Negotiation {
    /// Its `Sec-WebSocket-Extensions` answer.
    pub answer: Option<String>,
    /// Our offer.
    pub offer: Option<String>,
}

/// The next item, within the wait.
pub async fn next_item(connection: &mut Connection) -> Option<Result<WsMessage>> {
    tokio::time::timeout(WAIT, connection.stream.next())
        .await
        .expect("an item within the wait")
}

/// The next message, which must come.
pub async fn next(connection: &mut Connection) -> WsMessage {
    match next_item(connection).await {
        Some(Ok(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next message parsed as JSON.
pub fn json(message: &WsMessage) -> serde_json::Value {
    let text = message.as_text().expect("a text message");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

pub async fn send(connection: &mut Connection, message: WsMessage) {
    tokio::time::timeout(WAIT, connection.sink.send(message))
        .await
        .expect("sent within the wait")
        .expect("sent");
}

/// Sends a command to the server.
pub async fn command(connection: &mut Connection, command: serde_json::Value) {
    send(connection, WsMessage::text(command.to_string())).await;
}

/// The server's counters: compressed frames and their wire bytes.
pub async fn stats(connection: &mut Connection) -> serde_json::Value {
    command(connection, serde_json::json!({"cmd": "stats"})).await;
    json(&next(connection).await)
}
