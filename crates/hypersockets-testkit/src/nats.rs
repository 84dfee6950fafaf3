//! A real NATS server with JetStream for tests: Debian's `nats-server`,
//! started on a random `127.0.0.1` port with its store in a temporary
//! directory, and killed (its directory removed) when dropped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{Result, TestkitError};

/// How long the server may take to say it listens.
const START_WAIT: Duration = Duration::from_secs(20);

/// What the server logs, once it listens, before the address.
const LISTENING: &str = "Listening for client connections on ";

/// A `nats-server` with JetStream on, on a random loopback port, for one
/// test. Dropping it kills the server and removes its store.
///
/// Without the binary (`apt-get install nats-server`),
/// [`start`](Self::start) prints one line saying so and gives `None`, and
/// the test returns early; when the environment variable `CI` is `true`
/// it fails instead, so CI never skips.
///
/// ```no_run
/// # async fn test() -> Result<(), hypersockets_testkit::TestkitError> {
/// let Some(server) = hypersockets_testkit::NatsServer::start().await? else {
///     return Ok(()); // no nats-server here: skipped, and said so
/// };
/// assert!(server.url().starts_with("nats://127.0.0.1:"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    url: String,
    store: PathBuf,
}

impl NatsServer {
    /// Starts a server, waiting until it listens; `None` (with one line
    /// printed) where `nats-server` is not installed, unless `CI` is
    /// `true`.
    ///
    /// # Errors
    ///
    /// When the server cannot be started, exits, or does not listen within
    /// 20 seconds; or, with `CI=true`, when it is not installed.
    ///
    /// # Cancel safety
    ///
    /// Cancelling it kills the server being started.
    pub async fn start() -> Result<Option<Self>> {
        let Some(binary) = find_binary("nats-server") else {
            if std::env::var("CI").is_ok_and(|ci| ci == "true") {
                return Err(TestkitError::InvalidConfig(
                    "CI=true, but nats-server is not installed (apt-get install nats-server)"
                        .into(),
                ));
            }
            #[allow(clippy::print_stderr)]
            {
                eprintln!(
                    "skipped: nats-server is not installed (apt-get install nats-server enables this test)"
                );
            }
            return Ok(None);
        };
        let store = temporary_directory()?;
        let mut child = Command::new(binary)
            // A random free port (-1), loopback only, JetStream on, with
            // its store in the directory.
            .args(["-a", "127.0.0.1", "-p", "-1", "-js", "-sd"])
            .arg(&store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(TestkitError::Process)?;
        let stderr = child.stderr.take().ok_or_else(|| {
            TestkitError::InvalidConfig("nats-server's standard error was not piped".into())
        })?;
        let mut lines = BufReader::new(stderr).lines();
        let address = tokio::time::timeout(START_WAIT, async {
            let mut seen = Vec::new();
            while let Some(line) = lines.next_line().await.map_err(TestkitError::Process)? {
                if let Some(at) = line.find(LISTENING) {
                    return Ok(line[at + LISTENING.len()..].trim().to_owned());
                }
                seen.push(line);
            }
            Err(TestkitError::InvalidConfig(format!(
                "nats-server exited before listening: {}",
                seen.join(" | ")
            )))
        })
        .await
        .map_err(|_| TestkitError::Timeout {
            what: "nats-server to listen".into(),
            after: START_WAIT,
        })??;
        // Keep reading what it logs, so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Some(Self {
            child,
            url: format!("nats://{address}"),
            store,
        }))
    }

    /// The URL clients connect to (`nats://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where the server keeps its JetStream store.
    pub fn store(&self) -> &Path {
        &self.store
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// The path of `name` in `PATH` or the usual system directories.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A new, empty directory of this process's own.
fn temporary_directory() -> Result<PathBuf> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "hypersockets-nats-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).map_err(TestkitError::Process)?;
    Ok(path)
}
