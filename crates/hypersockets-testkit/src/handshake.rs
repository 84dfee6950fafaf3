//! The handshakes of a connection: TLS when the exchange serves `wss://`,
//! then the WebSocket handshake, recorded and answered as planned.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::http::{self, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::connection::shut_down;
use crate::io::ServerIo;
use crate::state::Shared;

/// How the server answers a WebSocket handshake request.
///
/// The request's headers are recorded whatever the answer (see
/// [`Control::handshakes`](crate::Control::handshakes)).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeResponse {
    /// Upgrade to WebSocket (101).
    #[default]
    Accept,
    /// Answer with this HTTP status and body, then close. 429 and 503 carry
    /// `Retry-After: 1`.
    Reject {
        /// The HTTP status code (100 to 999; others become 500).
        status: u16,
        /// The response body.
        body: String,
    },
    /// Read the request, then never answer (until the exchange shuts down).
    Stall,
}

impl HandshakeResponse {
    /// Rejects with this status and a short body.
    pub fn reject(status: u16) -> Self {
        HandshakeResponse::Reject {
            status,
            body: format!("mock exchange rejected the handshake with {status}"),
        }
    }

    /// 401 Unauthorized.
    pub fn unauthorized() -> Self {
        Self::reject(401)
    }

    /// 429 Too Many Requests, with `Retry-After: 1`.
    pub fn too_many_requests() -> Self {
        Self::reject(429)
    }

    /// 503 Service Unavailable, with `Retry-After: 1`.
    pub fn service_unavailable() -> Self {
        Self::reject(503)
    }
}

/// The request's path and query, and its headers as strings.
fn describe(request: &Request) -> (String, Vec<(String, String)>) {
    let path = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("<binary>").to_owned(),
            )
        })
        .collect();
    (path, headers)
}

/// The HTTP answer of a rejection.
fn rejection(status: u16, body: &str) -> ErrorResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = http::Response::new(Some(body.to_owned()));
    *response.status_mut() = status;
    if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from_static("1"));
    }
    response
}

/// The TLS handshake over `tcp`, within the exchange's handshake timeout;
/// `None` when it failed, timed out or the exchange shut down.
pub(crate) async fn tls(
    shared: &Shared,
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<TlsStream<TcpStream>> {
    let accepted = tokio::select! {
        accepted = timeout(shared.config.handshake_timeout, acceptor.accept(tcp)) => accepted,
        () = shut_down(shutdown) => return None,
    };
    match accepted {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "tls handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "tls handshake timed out");
            None
        }
    }
}

/// What the handshake callback saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// The handshake's index in the exchange's record.
    pub(crate) index: usize,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
}

/// The handshake callback: records the request, then answers as planned.
struct Recorder<'a> {
    shared: &'a Shared,
    plan: &'a HandshakeResponse,
    stall: Arc<AtomicBool>,
    seen: &'a OnceLock<Seen>,
}

impl Callback for Recorder<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        let (path, headers) = describe(request);
        let index = self
            .shared
            .update(|s| s.record_handshake(path.clone(), headers.clone(), self.plan.clone()));
        let _ = self.seen.set(Seen {
            index,
            path,
            headers,
        });
        match self.plan {
            HandshakeResponse::Reject { status, body } => Err(rejection(*status, body)),
            HandshakeResponse::Stall => {
                self.stall.store(true, Ordering::Release);
                Ok(response)
            }
            HandshakeResponse::Accept => Ok(response),
        }
    }
}

/// The WebSocket handshake over `io`, recorded and answered as `plan` says,
/// within the exchange's handshake timeout (a planned stall waits for the
/// shutdown only). The connection and what the request was, or `None` when
/// the handshake was refused, failed, timed out or the exchange shut down.
pub(crate) async fn websocket(
    shared: &Shared,
    io: ServerIo,
    peer: SocketAddr,
    plan: &HandshakeResponse,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<(WebSocketStream<ServerIo>, Seen)> {
    let seen = OnceLock::new();
    let callback = Recorder {
        shared,
        plan,
        stall: io.stall_flag(),
        seen: &seen,
    };
    let accept = tokio_tungstenite::accept_hdr_async_with_config(
        io,
        callback,
        Some(WebSocketConfig::default()),
    );
    let accepted = if *plan == HandshakeResponse::Stall {
        tokio::select! {
            accepted = accept => accepted,
            () = shut_down(shutdown) => return None,
        }
    } else {
        tokio::select! {
            accepted = timeout(shared.config.handshake_timeout, accept) => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    tracing::debug!(%peer, "websocket handshake timed out");
                    return None;
                }
            },
            () = shut_down(shutdown) => return None,
        }
    };
    match accepted {
        Ok(ws) => Some((ws, seen.into_inner().unwrap_or_default())),
        Err(error) => {
            tracing::debug!(%peer, %error, "websocket handshake ended without a connection");
            None
        }
    }
}
