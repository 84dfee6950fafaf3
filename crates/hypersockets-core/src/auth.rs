//! Logging in after every connect.

use std::future::Future;
use std::pin::Pin;

use crate::{BoxError, WsMessage};

/// A boxed, `Send` future: what provider methods return (cold path only).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the server's answer to a login says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthVerdict {
    /// The message is not an answer to the login; keep waiting.
    Unrelated,
    /// Logged in.
    Accepted,
    /// Refused.
    Rejected {
        /// Why, as the server put it.
        reason: String,
        /// Whether retrying with the same credentials is pointless
        /// (bad key: fatal; clock skew or rate limit: retryable).
        fatal: bool,
    },
}

/// Produces the login messages sent after every connect and reconnect, and
/// optionally recognises the server's answer.
///
/// The messages are asked for afresh on each connection, so timestamps,
/// nonces and signatures are always new. When
/// [`awaits_response`](Self::awaits_response) is true the client waits for
/// an answer that [`verdict`](Self::verdict) accepts before it restores
/// subscriptions.
///
/// ```
/// use hypersockets_core::{AuthProvider, AuthVerdict, BoxError, BoxFuture, WsMessage};
///
/// struct OkxLogin { key: String }
///
/// impl AuthProvider for OkxLogin {
///     fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
///         Box::pin(async move {
///             let ts = std::time::SystemTime::now()
///                 .duration_since(std::time::UNIX_EPOCH)?
///                 .as_secs();
///             let sign = format!("signature-of-{ts}"); // HMAC in real code
///             Ok(vec![WsMessage::text(format!(
///                 r#"{{"op":"login","args":[{{"apiKey":"{}","timestamp":"{ts}","sign":"{sign}"}}]}}"#,
///                 self.key
///             ))])
///         })
///     }
///
///     fn awaits_response(&self) -> bool {
///         true
///     }
///
///     fn verdict(&self, message: &WsMessage) -> AuthVerdict {
///         match message.as_text() {
///             Some(t) if t.contains(r#""event":"login""#) && t.contains(r#""code":"0""#) => {
///                 AuthVerdict::Accepted
///             }
///             Some(t) if t.contains(r#""event":"error""#) => AuthVerdict::Rejected {
///                 reason: t.to_owned(),
///                 fatal: true,
///             },
///             _ => AuthVerdict::Unrelated,
///         }
///     }
/// }
/// ```
pub trait AuthProvider: Send + Sync + 'static {
    /// The messages to send right after the handshake, in order.
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>>;

    /// Whether the client should wait for an answer that
    /// [`verdict`](Self::verdict) accepts before going on. Default: false.
    fn awaits_response(&self) -> bool {
        false
    }

    /// Judges a message received while the client waits for the answer.
    /// Default: [`AuthVerdict::Unrelated`].
    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        let _ = message;
        AuthVerdict::Unrelated
    }
}
