//! How the server answers WebSocket handshakes.

use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request};
use tokio_tungstenite::tungstenite::http::{self, HeaderValue, StatusCode};

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
pub(crate) fn describe(request: &Request) -> (String, Vec<(String, String)>) {
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
pub(crate) fn rejection(status: u16, body: &str) -> ErrorResponse {
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
