//! Real proxies for the tests: Debian's `tinyproxy` (HTTP CONNECT) and
//! `danted` (Dante, SOCKS5), each started on a random free `127.0.0.1`
//! port with its configuration in a temporary directory, and killed when
//! its guard is dropped.
//!
//! Without the binaries (`apt-get install tinyproxy dante-server`) the
//! starters print why and return `None`, and the test returns early;
//! unless `CI` is `true`, where they fail the test.
//!
//! Shared with the facade's tests (`#[path]`), so both use one copy.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a proxy may take to accept connections once started.
const START_WAIT: Duration = Duration::from_secs(10);

/// The system user that Dante's `username` method checks (RFC 1929
/// against the system's password database), created by
/// [`socks_user`] when it may.
pub(crate) const SOCKS_USER: &str = "hsproxytest";
/// Its password.
pub(crate) const SOCKS_PASSWORD: &str = "Wonder-42-Proxy";

/// Whether this run must have the proxies (CI), rather than skip.
fn required() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true")
}

/// `None` with the reason printed, or a panic in CI.
#[allow(clippy::print_stderr)]
fn skip<T>(why: &str) -> Option<T> {
    assert!(!required(), "CI=true, but {why}");
    eprintln!("skipped: {why}");
    None
}

/// The path of `name` in `PATH` or the usual system directories.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Whether this process runs as root.
fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// A port that refuses connections for as long as this lives: bound, not
/// listening, so no other test (or proxy) can take it meanwhile.
#[derive(Debug)]
pub(crate) struct RefusingPort {
    socket: tokio::net::TcpSocket,
}

impl RefusingPort {
    pub(crate) fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 1], 0).into()).unwrap();
        Self { socket }
    }

    pub(crate) fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }
}

/// A port nothing listens on right now: bound, then released.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "hypersockets-{name}-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        fastrand_suffix(),
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A few random-enough digits (the clock's nanoseconds), so that two test
/// binaries with a reused process id do not share a directory.
fn fastrand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}

/// A running proxy process; terminated (and its directory removed) when
/// dropped.
#[derive(Debug)]
pub(crate) struct ProxyProcess {
    child: Child,
    port: u16,
    dir: PathBuf,
    log: PathBuf,
}

impl ProxyProcess {
    /// The port it listens on, on `127.0.0.1`.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// What it logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts `program` with `args`, its output in `log`, and waits until
    /// `port` answers as `kind` does. `Err` with its log when the process
    /// exits first: another listener took the port after [`free_port`]
    /// released it (the check then spoke to that one), or the proxy failed.
    async fn spawn(
        program: &Path,
        args: &[&str],
        kind: Kind,
        port: u16,
        dir: PathBuf,
    ) -> Result<Self, String> {
        let log = dir.join("out.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", program.display()));
        let mut proxy = Self {
            child,
            port,
            dir,
            log,
        };
        proxy.wait_until_listening(kind).await?;
        Ok(proxy)
    }

    /// Polls the port until the proxy answers its own protocol there,
    /// within [`START_WAIT`]; `Err` with the proxy's log if the process
    /// exits; fails if the time passes.
    async fn wait_until_listening(&mut self, kind: Kind) -> Result<(), String> {
        let deadline = Instant::now() + START_WAIT;
        loop {
            if kind.answers(self.port).await {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(format!("the proxy exited ({status}): {}", self.log()));
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not listen within {START_WAIT:?}: {}",
                self.log()
            );
            // A poll of the port's state, bounded above; nothing waits
            // on this delay for its own sake.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Which proxy a port should answer as.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// tinyproxy: an HTTP answer naming itself.
    Tinyproxy,
    /// A SOCKS5 server: a method selection (RFC 1928 §3).
    Socks5,
}

impl Kind {
    /// Whether what listens on `port` answers as this proxy does (a test's
    /// own server on a port taken from under us does not).
    async fn answers(self, port: u16) -> bool {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
            return false;
        };
        let probe: &[u8] = match self {
            // Port 1 is refused: tinyproxy answers with an error page.
            Self::Tinyproxy => b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n",
            // Version 5, one method: "no authentication" or "username".
            Self::Socks5 => &[5, 2, 0, 2],
        };
        let answer = tokio::time::timeout(START_WAIT, async {
            stream.write_all(probe).await.ok()?;
            let mut answer = vec![0u8; 1024];
            let n = stream.read(&mut answer).await.ok()?;
            answer.truncate(n);
            Some(answer)
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
        match self {
            Self::Tinyproxy => String::from_utf8_lossy(&answer)
                .to_ascii_lowercase()
                .contains("tinyproxy"),
            Self::Socks5 => answer.first() == Some(&5),
        }
    }
}

/// Starts a proxy on a free port with the configuration `start` writes for
/// it, on another port when one was taken from under it.
async fn start_on_free_port<F, Fut>(start: F) -> ProxyProcess
where
    F: Fn(u16) -> Fut,
    Fut: Future<Output = Result<ProxyProcess, String>>,
{
    let mut failures = Vec::new();
    for _ in 0..5 {
        match start(free_port()).await {
            Ok(proxy) => return proxy,
            Err(log) => failures.push(log),
        }
    }
    panic!("the proxy would not start: {failures:#?}");
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        // SIGTERM first: Dante's mother then takes its children down with
        // it; SIGKILL if it is still there after a while.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `tinyproxy` (HTTP CONNECT) on a random free port, with Basic
/// `credentials` required when given.
pub(crate) async fn tinyproxy(credentials: Option<(&str, &str)>) -> Option<ProxyProcess> {
    let Some(binary) = find_binary("tinyproxy") else {
        return skip("tinyproxy is not installed (apt-get install tinyproxy)");
    };
    Some(start_on_free_port(|port| start_tinyproxy(&binary, port, credentials)).await)
}

/// `tinyproxy` on `port`, which the test chose.
pub(crate) async fn tinyproxy_on(
    port: u16,
    credentials: Option<(&str, &str)>,
) -> Option<ProxyProcess> {
    let Some(binary) = find_binary("tinyproxy") else {
        return skip("tinyproxy is not installed (apt-get install tinyproxy)");
    };
    let started = start_tinyproxy(&binary, port, credentials).await;
    Some(started.unwrap_or_else(|log| panic!("{log}")))
}

async fn start_tinyproxy(
    binary: &Path,
    port: u16,
    credentials: Option<(&str, &str)>,
) -> Result<ProxyProcess, String> {
    let dir = temp_dir("tinyproxy");
    let mut conf = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 100\nAllow 127.0.0.1\n\
         LogLevel Connect\nDisableViaHeader Yes\n"
    );
    if is_root() {
        conf.push_str("User nobody\nGroup nogroup\n");
    }
    if let Some((user, password)) = credentials {
        conf.push_str(&format!("BasicAuth {user} {password}\n"));
    }
    let path = dir.join("tinyproxy.conf");
    std::fs::write(&path, conf).unwrap();
    let path = path.to_str().unwrap().to_owned();
    ProxyProcess::spawn(binary, &["-d", "-c", &path], Kind::Tinyproxy, port, dir).await
}

/// `danted` (SOCKS5) on a random free port: without authentication, or
/// with RFC 1929 username/password checked against the system's users
/// (see [`socks_user`]) when `username` is true.
pub(crate) async fn danted(username: bool) -> Option<ProxyProcess> {
    let Some(binary) = find_binary("danted") else {
        return skip("danted is not installed (apt-get install dante-server)");
    };
    Some(
        start_on_free_port(|port| {
            let dir = temp_dir("danted");
            let method = if username { "username" } else { "none" };
            let mut conf = format!(
                "logoutput: stderr\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 socksmethod: {method}\nclientmethod: none\n"
            );
            if is_root() {
                conf.push_str("user.privileged: root\nuser.unprivileged: nobody\n");
            }
            conf.push_str(
                "client pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n}\n\
                 socks pass {\n  from: 127.0.0.0/8 to: 0.0.0.0/0\n  command: connect\n  log: connect error\n}\n",
            );
            let path = dir.join("danted.conf");
            std::fs::write(&path, conf).unwrap();
            let pid = dir.join("danted.pid");
            let (path, pid) = (
                path.to_str().unwrap().to_owned(),
                pid.to_str().unwrap().to_owned(),
            );
            let binary = binary.clone();
            async move {
                let args = ["-f", path.as_str(), "-p", pid.as_str()];
                ProxyProcess::spawn(&binary, &args, Kind::Socks5, port, dir).await
            }
        })
        .await,
    )
}

/// The user and password Dante accepts, when this run may make sure the
/// system user exists: as root in CI only (it adds a system user,
/// `hsproxytest`, without a home or a login shell). Elsewhere `None`,
/// with the reason printed: SOCKS5 credentials can then only be checked
/// for rejection.
pub(crate) fn socks_user() -> Option<(&'static str, &'static str)> {
    static MADE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !(required() && is_root()) {
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipped: accepted SOCKS5 credentials need a system user for Dante, \
                 created only as root with CI=true"
            );
        }
        return None;
    }
    let made = *MADE.get_or_init(|| {
        let exists = Command::new("id")
            .arg(SOCKS_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            // Another test binary may be adding it at the same time: then
            // `useradd` fails, and the user is there all the same.
            let _ = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(SOCKS_USER)
                .status();
        }
        let Ok(mut chpasswd) = Command::new("chpasswd").stdin(Stdio::piped()).spawn() else {
            return false;
        };
        let written = std::io::Write::write_all(
            chpasswd.stdin.as_mut().unwrap(),
            format!("{SOCKS_USER}:{SOCKS_PASSWORD}\n").as_bytes(),
        );
        drop(chpasswd.stdin.take());
        written.is_ok() && chpasswd.wait().is_ok_and(|s| s.success())
    });
    assert!(
        made,
        "could not set up the system user {SOCKS_USER} for Dante"
    );
    Some((SOCKS_USER, SOCKS_PASSWORD))
}
