//! A fault-injecting TCP proxy for chaos tests: latency, bandwidth limits,
//! small segments, resets and black holes between a client and a server.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::{Result, TestkitError};

/// How much one read takes from a socket before toxics apply.
const CHUNK: usize = 16 * 1024;

/// Which way bytes flow through the [`ChaosProxy`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Direction {
    /// From the client to the server.
    Upstream,
    /// From the server to the client.
    Downstream,
}

/// The faults a [`ChaosProxy`] applies to every connection, open or new,
/// from the moment they are set. Default: none (bytes pass as they come).
///
/// Toxics delay bytes or hold them back; they never lose, reorder or alter
/// them. Only a reset ([`ChaosProxy::reset`]) loses bytes, and then the
/// connection ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Toxics {
    latency: Duration,
    jitter: Duration,
    bandwidth: Option<u64>,
    slice: Option<usize>,
    upstream_black_hole: bool,
    downstream_black_hole: bool,
}

impl Toxics {
    /// No toxics: the same as `Toxics::default()`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Delays every chunk read by `latency`, plus a random part of
    /// [`jitter`](Self::jitter), in both directions. Default: zero.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The most random delay added to the latency of a chunk. Default: zero.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.jitter = jitter;
        self
    }

    /// Limits each direction of each connection to `bytes_per_second` (at
    /// least 1). Default: no limit.
    pub fn bandwidth(mut self, bytes_per_second: u64) -> Self {
        self.bandwidth = Some(bytes_per_second.max(1));
        self
    }

    /// Writes every chunk in TCP segments of a random 1 to `max_bytes` bytes
    /// (at least 1), each written and flushed on its own (the proxy's
    /// sockets have `TCP_NODELAY`). Default: off (chunks are written whole).
    pub fn slice(mut self, max_bytes: usize) -> Self {
        self.slice = Some(max_bytes.max(1));
        self
    }

    /// Stops forwarding in `direction`: the proxy neither reads nor writes
    /// that way and keeps both sockets open, a half-open path (bytes queue
    /// up in the kernel's buffers, then the sender blocks). Clearing it with
    /// new toxics forwards what was held back. Default: off.
    pub fn black_hole(mut self, direction: Direction) -> Self {
        match direction {
            Direction::Upstream => self.upstream_black_hole = true,
            Direction::Downstream => self.downstream_black_hole = true,
        }
        self
    }

    fn holds(&self, direction: Direction) -> bool {
        match direction {
            Direction::Upstream => self.upstream_black_hole,
            Direction::Downstream => self.downstream_black_hole,
        }
    }
}

/// The id of one client connection through a [`ChaosProxy`], in the order
/// they were accepted, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProxyConnectionId(u64);

impl ProxyConnectionId {
    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ProxyConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "proxy#{}", self.0)
    }
}

struct Pair {
    id: ProxyConnectionId,
    /// Set to `true` to reset both sockets of the pair.
    cut: Arc<watch::Sender<bool>>,
    /// The proxy's end of its connection to the server, once connected.
    upstream: Option<SocketAddr>,
    /// Neither reset nor ended.
    open: bool,
}

impl Pair {
    /// Resets the pair; `false` when it was no longer open.
    fn cut(&mut self) -> bool {
        let was_open = std::mem::replace(&mut self.open, false);
        self.cut.send_replace(true);
        was_open
    }
}

struct ProxyShared {
    toxics: watch::Sender<Toxics>,
    pairs: Mutex<Vec<Pair>>,
    rng: Mutex<fastrand::Rng>,
    seed: u64,
}

impl ProxyShared {
    fn pairs(&self) -> std::sync::MutexGuard<'_, Vec<Pair>> {
        self.pairs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One rng for the whole proxy, seeded: a soak replays its choices (the
    /// interleaving of connections aside) from the seed it prints.
    fn rng(&self) -> fastrand::Rng {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        fastrand::Rng::with_seed(rng.u64(..))
    }
}

/// A TCP proxy on `127.0.0.1` (a random free port) that forwards every
/// connection to one server and injects faults on command: [`Toxics`]
/// (latency and jitter, a bandwidth limit, small segments, black holes) for
/// every connection, and resets of one or every connection.
///
/// Its random choices (jitter, segment sizes) come from a seeded generator:
/// print [`seed`](Self::seed) in a test so that a failure can be replayed.
/// Dropping the proxy stops accepting and resets every connection.
///
/// ```
/// use std::time::Duration;
///
/// use futures_util::{SinkExt, StreamExt};
/// use hypersockets_testkit::{
///     ChaosProxy, Direction, ExchangeConfig, MockExchange, Rate, StreamConfig, Toxics,
/// };
/// use tokio_tungstenite::tungstenite::Message;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// const WAIT: Duration = Duration::from_secs(5);
/// let exchange = MockExchange::start(ExchangeConfig::new().stream(
///     StreamConfig::trades("btcusdt@trade").rate(Rate::AsFastAsPossible).limit(3),
/// ))
/// .await?;
/// let proxy = ChaosProxy::start(exchange.local_addr(), 7).await?;
/// println!("chaos seed {}", proxy.seed()); // to replay a failure
/// proxy.set_toxics(Toxics::new().latency(Duration::from_millis(2)).slice(3));
///
/// // The handshake and the frames, 1 to 3 bytes at a time.
/// let (mut client, _) = tokio_tungstenite::connect_async(proxy.url("/ws")).await?;
/// client
///     .send(Message::text(r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#))
///     .await?;
/// let mut texts = 0;
/// while texts < 4 {
///     if let Message::Text(_) = tokio::time::timeout(WAIT, client.next()).await?.unwrap()? {
///         texts += 1;
///     }
/// }
///
/// // A half-open path, then a reset.
/// proxy.set_toxics(Toxics::new().black_hole(Direction::Downstream));
/// let [id] = proxy.connections()[..] else { panic!("one connection") };
/// assert!(proxy.reset(id));
/// let ended = tokio::time::timeout(WAIT, client.next()).await?;
/// assert!(matches!(ended, Some(Err(_)) | None));
/// # Ok(())
/// # }
/// ```
pub struct ChaosProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    task: JoinHandle<()>,
}

impl fmt::Debug for ChaosProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChaosProxy")
            .field("addr", &self.addr)
            .field("seed", &self.shared.seed)
            .field("toxics", &*self.shared.toxics.borrow())
            .finish_non_exhaustive()
    }
}

impl ChaosProxy {
    /// Starts a proxy to `target` with no toxics, its random choices seeded
    /// with `seed`.
    ///
    /// Cancel safe: dropping the future before it ends starts nothing.
    pub async fn start(target: SocketAddr, seed: u64) -> Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(TestkitError::Bind)?;
        let addr = listener.local_addr().map_err(TestkitError::Bind)?;
        let shared = Arc::new(ProxyShared {
            toxics: watch::Sender::new(Toxics::default()),
            pairs: Mutex::new(Vec::new()),
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            seed,
        });
        let task = tokio::spawn(accept(listener, target, Arc::clone(&shared)));
        tracing::info!(%addr, %target, seed, "chaos proxy started");
        Ok(Self { addr, shared, task })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:PORT` followed by `path` (e.g. `/ws`).
    pub fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    /// The seed of its random choices.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// Applies `toxics` from now on to every connection, open or new.
    pub fn set_toxics(&self, toxics: Toxics) {
        tracing::debug!(?toxics, "chaos proxy toxics");
        self.shared.toxics.send_replace(toxics);
    }

    /// The toxics applied now.
    pub fn toxics(&self) -> Toxics {
        self.shared.toxics.borrow().clone()
    }

    /// How many client connections were accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.pairs().len()
    }

    /// The connections still open (neither reset nor ended), oldest first.
    pub fn connections(&self) -> Vec<ProxyConnectionId> {
        self.shared
            .pairs()
            .iter()
            .filter(|p| p.open)
            .map(|p| p.id)
            .collect()
    }

    /// The address the server sees connection `id` come from (the proxy's
    /// end of it), once the proxy is connected to the server: it tells
    /// which of the server's connections `id` is, e.g. with the mock
    /// exchange's [`ConnectionInfo::peer`](crate::ConnectionInfo::peer).
    pub fn upstream_addr(&self, id: ProxyConnectionId) -> Option<SocketAddr> {
        self.shared
            .pairs()
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.upstream)
    }

    /// Resets both sockets of one connection (an RST to the client and to
    /// the server; bytes the proxy still holds are lost). From this call on
    /// it is no longer among the [`connections`](Self::connections).
    /// Returns whether it was still open.
    pub fn reset(&self, id: ProxyConnectionId) -> bool {
        self.shared
            .pairs()
            .iter_mut()
            .find(|p| p.id == id)
            .is_some_and(Pair::cut)
    }

    /// Resets every open connection: each is no longer among the
    /// [`connections`](Self::connections) from this call on.
    pub fn reset_all(&self) {
        for pair in self.shared.pairs().iter_mut() {
            pair.cut();
        }
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.reset_all();
    }
}

/// How long a connect cut short is still awaited, to be reset: a
/// handshake the server finished completes at once.
const CONNECT_AFTER_CUT: Duration = Duration::from_secs(1);

async fn accept(listener: TcpListener, target: SocketAddr, shared: Arc<ProxyShared>) {
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, say: pace the retries.
                tracing::debug!(%error, "chaos proxy accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let cut = Arc::new(watch::Sender::new(false));
        let id = {
            let mut pairs = shared.pairs();
            let id = ProxyConnectionId(pairs.len() as u64);
            pairs.push(Pair {
                id,
                cut: Arc::clone(&cut),
                upstream: None,
                open: true,
            });
            id
        };
        tracing::debug!(%id, %peer, "chaos proxy accepted");
        tokio::spawn(forward(id, client, target, cut, Arc::clone(&shared)));
    }
}

/// Connects to the server and pumps both ways until both ends closed, or
/// a reset.
async fn forward(
    id: ProxyConnectionId,
    client: TcpStream,
    target: SocketAddr,
    cut: Arc<watch::Sender<bool>>,
    shared: Arc<ProxyShared>,
) {
    let mut cut_rx = cut.subscribe();
    let mut connect = std::pin::pin!(TcpStream::connect(target));
    let cut_while_connecting = tokio::select! {
        biased;
        server = &mut connect => Some(server),
        _ = cut_rx.wait_for(|cut| *cut) => None,
    };
    let server = match cut_while_connecting {
        Some(server) => server,
        None => {
            // Cut while connecting: the server may have accepted already
            // (its handshake done, our side not yet told). Dropping the
            // connect would close that connection cleanly; it is reset.
            if let Ok(Ok(server)) = tokio::time::timeout(CONNECT_AFTER_CUT, connect).await {
                let _ = server.set_zero_linger();
            }
            Err(std::io::ErrorKind::ConnectionAborted.into())
        }
    };
    let Ok(server) = server else {
        // The server is gone: the client gets a reset, as it would from it.
        let _ = client.set_zero_linger();
        return;
    };
    let upstream = server.local_addr().ok();
    if let Some(pair) = shared.pairs().iter_mut().find(|p| p.id == id) {
        pair.upstream = upstream;
    }
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pump(
        Direction::Upstream,
        client_read,
        server_write,
        &cut,
        &shared,
    );
    let down = pump(
        Direction::Downstream,
        server_read,
        client_write,
        &cut,
        &shared,
    );
    // A reset on one side resets the other: the pump that saw it cuts.
    let (up, down) = tokio::join!(up, down);
    for write in [up, down].into_iter().flatten() {
        let _ = write.as_ref().set_zero_linger();
        // Without the shutdown a drop would send first: the RST alone.
        write.forget();
    }
    tracing::debug!(%id, "chaos proxy connection ended");
    if let Some(pair) = shared.pairs().iter_mut().find(|p| p.id == id) {
        pair.open = false;
    }
}

/// Forwards one direction. Returns the write half to reset when the pair
/// was cut (or the read side failed), `None` after a clean end (FIN passed
/// on).
async fn pump(
    direction: Direction,
    mut read: OwnedReadHalf,
    mut write: OwnedWriteHalf,
    cut_pair: &watch::Sender<bool>,
    shared: &ProxyShared,
) -> Option<OwnedWriteHalf> {
    let mut cut = cut_pair.subscribe();
    let mut toxics = shared.toxics.subscribe();
    let mut rng = shared.rng();
    let mut buf = vec![0; CHUNK];
    // When the bytes written so far may be done, at the bandwidth limit.
    let mut paced_until = Instant::now();
    loop {
        // A black hole does not read either: nothing is lost when it lifts.
        if !wait_open(direction, &mut toxics, &mut cut).await {
            return Some(write);
        }
        let got = tokio::select! {
            got = read.read(&mut buf) => got,
            _ = cut.wait_for(|cut| *cut) => return Some(write),
        };
        let len = match got {
            Ok(0) => {
                let _ = write.shutdown().await;
                return None;
            }
            Ok(len) => len,
            Err(_) => {
                // Pass the failure on as a reset, both ways.
                cut_pair.send_replace(true);
                return Some(write);
            }
        };
        let mut rest = &buf[..len];
        let now = toxics.borrow_and_update().clone();
        let delay = now.latency + random_upto(&mut rng, now.jitter);
        if !delay.is_zero() && !pause(delay, &mut cut).await {
            return Some(write);
        }
        while !rest.is_empty() {
            if !wait_open(direction, &mut toxics, &mut cut).await {
                return Some(write);
            }
            let now = toxics.borrow_and_update().clone();
            let size = match now.slice {
                Some(max) => rng.usize(1..=max).min(rest.len()),
                None => rest.len(),
            };
            if let Some(rate) = now.bandwidth {
                // Timers tick in milliseconds: owe the time of small
                // segments and sleep once it adds up.
                let nanos = (size as u128 * 1_000_000_000) / u128::from(rate);
                let cost = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
                let start = Instant::now();
                paced_until = paced_until.max(start) + cost;
                if paced_until > start + Duration::from_millis(1)
                    && !pause(paced_until - start, &mut cut).await
                {
                    return Some(write);
                }
            }
            let written = tokio::select! {
                written = write.write_all(&rest[..size]) => written,
                _ = cut.wait_for(|cut| *cut) => return Some(write),
            };
            if written.is_err() {
                cut_pair.send_replace(true);
                return Some(write);
            }
            rest = &rest[size..];
        }
    }
}

/// Waits until `direction` is not black-holed; `false` when the pair is cut.
async fn wait_open(
    direction: Direction,
    toxics: &mut watch::Receiver<Toxics>,
    cut: &mut watch::Receiver<bool>,
) -> bool {
    loop {
        if *cut.borrow_and_update() {
            return false;
        }
        if !toxics.borrow_and_update().holds(direction) {
            return true;
        }
        tokio::select! {
            changed = toxics.changed() => {
                if changed.is_err() {
                    return false;
                }
            }
            _ = cut.changed() => {}
        }
    }
}

/// Sleeps for `duration` (pacing the bytes, not synchronising); `false` when
/// the pair is cut meanwhile.
async fn pause(duration: Duration, cut: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => true,
        _ = cut.wait_for(|cut| *cut) => false,
    }
}

fn random_upto(rng: &mut fastrand::Rng, max: Duration) -> Duration {
    if max.is_zero() {
        return Duration::ZERO;
    }
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(0..=nanos))
}
