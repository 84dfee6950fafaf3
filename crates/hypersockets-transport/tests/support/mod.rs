//! Test servers on `127.0.0.1` with a random free port: a scripted
//! WebSocket server that records the handshake headers it received, and raw
//! TCP servers for handshakes that go wrong.

// Each test file uses a different part of this module.
#![allow(dead_code)]

pub(crate) mod proxies;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// The bound on every wait in these tests: generous, but a hung test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(5);

/// The server side of one WebSocket connection.
pub(crate) type ServerSocket = WebSocketStream<TcpStream>;

/// Headers of the handshake requests received, as lowercase name/value pairs.
pub(crate) type SeenHeaders = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A server running in the background; stopped when dropped.
#[derive(Debug)]
pub(crate) struct TestServer {
    addr: SocketAddr,
    headers: SeenHeaders,
    task: JoinHandle<()>,
}

impl TestServer {
    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ws://127.0.0.1:<port>/ws`.
    pub(crate) fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The headers of every handshake so far, one list per connection.
    pub(crate) fn seen_headers(&self) -> Vec<Vec<(String, String)>> {
        self.headers.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bind() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A WebSocket server that runs `session` on every connection it accepts,
/// after recording the handshake's headers.
pub(crate) async fn script_server<F, Fut>(session: F) -> TestServer
where
    F: Fn(ServerSocket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = bind().await;
    let headers = SeenHeaders::default();
    let seen = Arc::clone(&headers);
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            // The error type is tungstenite's `ErrorResponse`, not ours to shrink.
            #[allow(clippy::result_large_err)]
            let record = move |request: &Request, response: Response| {
                let pairs = request
                    .headers()
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_owned(),
                            value.to_str().unwrap_or("<not ascii>").to_owned(),
                        )
                    })
                    .collect();
                seen.lock().unwrap().push(pairs);
                Ok(response)
            };
            if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, record).await {
                tokio::spawn(session(ws));
            }
        }
    });
    TestServer {
        addr,
        headers,
        task,
    }
}

/// Echoes text and binary messages back until the client closes.
///
/// Pings are answered with pongs by tungstenite itself.
pub(crate) async fn echo_server() -> TestServer {
    script_server(|mut ws| async move {
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    })
    .await
}

/// Reads until the client's handshake request is complete; what was read,
/// or `None` at EOF or on an error.
pub(crate) async fn read_request(tcp: &mut TcpStream) -> Option<Vec<u8>> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    Some(request)
}

/// A plain TCP server that reads each request and answers `response`
/// verbatim, then closes.
pub(crate) async fn raw_http_server(response: &'static [u8]) -> TestServer {
    let (listener, addr) = bind().await;
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = read_request(&mut tcp).await;
                let _ = tcp.write_all(response).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    TestServer {
        addr,
        headers: SeenHeaders::default(),
        task,
    }
}

/// A plain TCP server that writes `response` as soon as it accepts, without
/// reading first (a TLS ClientHello never ends a request), and holds the
/// connection.
pub(crate) async fn eager_server(response: &'static [u8]) -> TestServer {
    let (listener, addr) = bind().await;
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut tcp, _)) = listener.accept().await {
            let _ = tcp.write_all(response).await;
            held.push(tcp);
        }
    });
    TestServer {
        addr,
        headers: SeenHeaders::default(),
        task,
    }
}

/// A WebSocket server written by hand: it answers each upgrade request with
/// a `101` response whose lines end with `line_end`, and writes `after`
/// (pre-encoded server frames) in the same `write`, so the frames reach the
/// client together with the response. Then it waits for the client to go.
pub(crate) async fn raw_upgrade_server(line_end: &'static str, after: Vec<u8>) -> TestServer {
    let (listener, addr) = bind().await;
    let after = Arc::new(after);
    let task = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let after = Arc::clone(&after);
            tokio::spawn(async move {
                let Some(request) = read_request(&mut tcp).await else {
                    return;
                };
                let request = String::from_utf8_lossy(&request).into_owned();
                let Some(key) = request.lines().find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("sec-websocket-key")
                        .then(|| value.trim().to_owned())
                }) else {
                    return;
                };
                let accept = derive_accept_key(key.as_bytes());
                let mut out = format!(
                    "HTTP/1.1 101 Switching Protocols{line_end}Upgrade: websocket{line_end}\
                     Connection: Upgrade{line_end}Sec-WebSocket-Accept: {accept}{line_end}{line_end}"
                )
                .into_bytes();
                out.extend_from_slice(&after);
                if tcp.write_all(&out).await.is_err() {
                    return;
                }
                // Hold the connection until the client goes.
                let mut buf = [0u8; 1024];
                while let Ok(n) = tcp.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            });
        }
    });
    TestServer {
        addr,
        headers: SeenHeaders::default(),
        task,
    }
}

/// An unmasked server text frame (FIN set) carrying `payload`.
pub(crate) fn server_text_frame(payload: &str) -> Vec<u8> {
    let len = payload.len();
    let mut frame = vec![0x81];
    if len < 126 {
        frame.push(len as u8);
    } else if len <= usize::from(u16::MAX) {
        frame.push(126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(payload.as_bytes());
    frame
}

/// A TCP server that accepts connections and never says a word.
pub(crate) async fn silent_server() -> TestServer {
    let (listener, addr) = bind().await;
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    TestServer {
        addr,
        headers: SeenHeaders::default(),
        task,
    }
}

/// A port nothing listens on: bound, then released.
pub(crate) async fn refused_port() -> u16 {
    let (listener, addr) = bind().await;
    drop(listener);
    addr.port()
}

/// Waits for a server-side message, or fails after [`WAIT`].
pub(crate) async fn next_server_message(ws: &mut ServerSocket) -> Option<Message> {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("the server waited too long")
        .and_then(Result::ok)
}
