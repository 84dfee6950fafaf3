//! Login: the credentials the exchange accepts, and how a connection
//! answers a login request.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::connection::{Connection, Flow};

/// A login request as a client sent it, in either protocol.
///
/// Binance style: `{"method":"session.logon","params":{"apiKey":…,"signature":…,"timestamp":…},"id":…}`.
/// OKX style: `{"op":"login","args":[{"apiKey":…,"passphrase":…,"timestamp":…,"sign":…}]}`.
/// Missing fields are empty (or `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRequest {
    /// The API key.
    pub api_key: String,
    /// The signature (`signature` for Binance, `sign` for OKX).
    pub signature: String,
    /// The timestamp, as written (numbers are turned into their digits).
    pub timestamp: Option<String>,
    /// The passphrase (OKX only).
    pub passphrase: Option<String>,
}

type Verifier = Arc<dyn Fn(&LoginRequest) -> bool + Send + Sync + 'static>;

/// The credentials the exchange accepts.
///
/// By default a login succeeds when its API key and signature equal the
/// configured ones exactly. [`verify_with`](Self::verify_with) replaces that
/// check, e.g. to recompute an HMAC over the request's timestamp.
///
/// ```
/// use hypersockets_testkit::AuthConfig;
///
/// let auth = AuthConfig::new("my-key", "my-signature");
/// # drop(auth);
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct AuthConfig {
    api_key: String,
    signature: String,
    verifier: Option<Verifier>,
}

impl AuthConfig {
    /// Accepts logins with exactly this key and signature.
    pub fn new(api_key: impl Into<String>, signature: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            signature: signature.into(),
            verifier: None,
        }
    }

    /// Accepts the logins `verify` returns true for, instead of comparing the
    /// key and signature. Default: none (exact comparison).
    pub fn verify_with(
        mut self,
        verify: impl Fn(&LoginRequest) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.verifier = Some(Arc::new(verify));
        self
    }

    /// The accepted API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The accepted signature.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    pub(crate) fn accepts(&self, login: &LoginRequest) -> bool {
        match &self.verifier {
            Some(verify) => verify(login),
            None => login.api_key == self.api_key && login.signature == self.signature,
        }
    }
}

impl Default for AuthConfig {
    /// Key `test-key`, signature `test-signature`.
    fn default() -> Self {
        Self::new("test-key", "test-signature")
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("api_key", &self.api_key)
            .field("signature", &"<redacted>")
            .field("custom_verifier", &self.verifier.is_some())
            .finish()
    }
}

impl Connection {
    /// Checks a login request against the exchange's credentials, marks the
    /// connection logged in when they match, and answers.
    pub(crate) async fn login(&mut self, id: &Value, login: &LoginRequest) -> Flow {
        let ok = self
            .shared
            .config
            .auth
            .as_ref()
            .is_some_and(|auth| auth.accepts(login));
        if ok {
            self.authenticated = true;
            let conn = self.id;
            self.shared.update(|s| s.set_authenticated(conn, true));
        }
        let protocol = self.shared.config.protocol;
        let answer = protocol.login_answer(id, login, ok, self.context(&[]));
        self.write_text(answer).await
    }
}
