//! Login: the credentials the exchange accepts, and how a connection
//! answers a login request.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::alg_id;
use serde_json::Value;

use crate::connection::{Connection, Flow};

/// A login request as a client sent it, in its protocol.
///
/// Binance style: `{"method":"session.logon","params":{"apiKey":…,"signature":…,"timestamp":…},"id":…}`.
/// OKX style: `{"op":"login","args":[{"apiKey":…,"passphrase":…,"timestamp":…,"sign":…}]}`.
/// Bybit: `{"op":"auth","args":[apiKey, expires, signature]}` (the expiry
/// as the timestamp). HTX v2: `{"action":"req","ch":"auth","params":{"accessKey":…,"timestamp":…,"signature":…,…}}`
/// (the timestamp as written, `YYYY-MM-DDThh:mm:ss`).
/// Missing fields are empty (or `None`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginRequest {
    /// The API key (HTX's `accessKey`).
    pub api_key: String,
    /// The signature (`signature` for Binance and HTX, `sign` for OKX).
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
/// Coinbase's JWTs, one per subscribe, are checked against
/// [`es256_public_key`](Self::es256_public_key).
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
    /// The P-256 public key JWTs are verified with.
    jwt_key: Option<Arc<[u8]>>,
}

impl AuthConfig {
    /// Accepts logins with exactly this key and signature.
    pub fn new(api_key: impl Into<String>, signature: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            signature: signature.into(),
            verifier: None,
            jwt_key: None,
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

    /// Accepts Coinbase Advanced Trade's JWTs signed with the P-256 key
    /// whose public key is `public_key` (the uncompressed point, 65 bytes
    /// starting `04`, as *ring*'s `KeyPair::public_key` gives it), as the
    /// Coinbase emulation checks the `"jwt"` of each subscribe to a private
    /// stream: three Base64url parts; header `alg` `ES256` and `kid` the
    /// [API key](Self::api_key); claims `iss` `cdp`, `sub` the API key, and
    /// `nbf` ≤ now < `exp` (Unix seconds, the system clock); the signature
    /// ES256's `r ‖ s` over the first two parts. A refused JWT leaves the
    /// request unauthenticated. Default: none (every JWT is refused).
    ///
    /// ```
    /// use hypersockets_testkit::AuthConfig;
    ///
    /// # let public_key = [4u8; 65];
    /// let auth = AuthConfig::new("organizations/o/apiKeys/k", "unused").es256_public_key(public_key);
    /// # drop(auth);
    /// ```
    pub fn es256_public_key(mut self, public_key: impl Into<Vec<u8>>) -> Self {
        self.jwt_key = Some(public_key.into().into());
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

    /// Why `jwt` is refused at `now` (Unix seconds), if it is.
    pub(crate) fn check_jwt(&self, jwt: &str, now: u64) -> Result<(), &'static str> {
        let key = self.jwt_key.as_deref().ok_or("no public key configured")?;
        let mut parts = jwt.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("not three parts");
        };
        let json = |part| {
            base64url(part)
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .ok_or("a part is not Base64url JSON")
        };
        let (header_json, claims_json) = (json(header)?, json(claims)?);
        fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
            value.get(name).and_then(Value::as_str)
        }
        if text(&header_json, "alg") != Some("ES256") {
            return Err("alg is not ES256");
        }
        let key_name = Some(self.api_key.as_str());
        if text(&header_json, "kid") != key_name || text(&claims_json, "sub") != key_name {
            return Err("kid or sub is not the API key");
        }
        if text(&claims_json, "iss") != Some("cdp") {
            return Err("iss is not cdp");
        }
        let time = |name| claims_json.get(name).and_then(Value::as_u64);
        let (Some(nbf), Some(exp)) = (time("nbf"), time("exp")) else {
            return Err("nbf or exp missing");
        };
        if now < nbf || now >= exp {
            return Err("outside nbf..exp");
        }
        let raw = base64url(signature).ok_or("the signature is not Base64url")?;
        let signed = &jwt[..header.len() + 1 + claims.len()];
        if es256_verifies(key, signed.as_bytes(), &raw) {
            Ok(())
        } else {
            Err("bad signature")
        }
    }
}

/// Base64url without padding, as JWT parts are written; `None` for
/// anything else.
fn base64url(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    let (mut pending, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let sextet = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        pending = (pending << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((pending >> bits) as u8);
            pending &= (1 << bits) - 1;
        }
    }
    // A lone sextet at the end, or stray bits, is no encoding.
    (bits < 6 && pending == 0).then_some(bytes)
}

/// Whether `raw`, ES256's 64-byte `r ‖ s`, signs `message` under the
/// uncompressed P-256 `public_key`.
fn es256_verifies(public_key: &[u8], message: &[u8], raw: &[u8]) -> bool {
    let Some(signature) = der_signature(raw) else {
        return false;
    };
    // rustls' verifiers (the testkit's TLS provider) take DER signatures.
    rustls::crypto::ring::default_provider()
        .signature_verification_algorithms
        .all
        .iter()
        .filter(|alg| {
            alg.public_key_alg_id() == alg_id::ECDSA_P256
                && alg.signature_alg_id() == alg_id::ECDSA_SHA256
        })
        .any(|alg| {
            alg.verify_signature(public_key, message, &signature)
                .is_ok()
        })
}

/// ES256's `r ‖ s` as the DER `SEQUENCE { INTEGER r, INTEGER s }`.
fn der_signature(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 64 {
        return None;
    }
    let integer = |half: &[u8]| {
        let zeros = half
            .iter()
            .take_while(|&&b| b == 0)
            .count()
            .min(half.len() - 1);
        let digits = &half[zeros..];
        // A set top bit would read as negative: a zero byte before it.
        let pad = digits[0] & 0x80 != 0;
        let mut encoded = vec![0x02, (digits.len() + usize::from(pad)) as u8];
        if pad {
            encoded.push(0);
        }
        encoded.extend_from_slice(digits);
        encoded
    };
    let (r, s) = (integer(&raw[..32]), integer(&raw[32..]));
    // At most 70 bytes: a one-byte length.
    Some([&[0x30, (r.len() + s.len()) as u8][..], &r, &s].concat())
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
            .field("es256_public_key", &self.jwt_key.is_some())
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

    /// Authenticates a subscribe request by its own `"jwt"` (Coinbase):
    /// the connection counts as logged in for this request only if the
    /// token is valid now, whatever came before.
    pub(crate) fn authenticate_request(&mut self, request: Option<&Value>) {
        let jwt = request.and_then(|r| r.get("jwt")).and_then(Value::as_str);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let ok = match (jwt, self.shared.config.auth.as_ref()) {
            (Some(jwt), Some(auth)) => match auth.check_jwt(jwt, now) {
                Ok(()) => true,
                Err(why) => {
                    tracing::debug!(conn = %self.id, why, "JWT refused");
                    false
                }
            },
            _ => false,
        };
        if self.authenticated != ok {
            self.authenticated = ok;
            let conn = self.id;
            self.shared.update(|s| s.set_authenticated(conn, ok));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut text = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                text.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            }
        }
        text
    }

    fn token(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.{}",
            encode(header.as_bytes()),
            encode(claims.as_bytes()),
            encode(&[1; 64])
        )
    }

    #[test]
    fn base64url_round_trips_and_refuses_other_text() {
        for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", &[0xff, 0xfe, 0xfd]] {
            assert_eq!(base64url(&encode(bytes)).as_deref(), Some(bytes));
        }
        assert_eq!(base64url("Zm9v"), Some(b"foo".to_vec()));
        assert_eq!(base64url("Zm9vYg=="), None, "no padding");
        assert_eq!(base64url("Zm9vY"), None, "a lone sextet");
        assert_eq!(base64url("Zh"), None, "stray bits");
        assert_eq!(base64url("+/"), None, "the standard alphabet");
    }

    #[test]
    fn der_signatures_are_minimal_positive_integers() {
        let mut raw = [0u8; 64];
        raw[31] = 5;
        raw[32] = 0x80;
        let der = der_signature(&raw).unwrap();
        assert_eq!(&der[..5], &[0x30, 3 + 35, 0x02, 1, 5]);
        assert_eq!(&der[5..9], &[0x02, 33, 0, 0x80]);
        assert_eq!(der.len(), 2 + 3 + 35);
        assert_eq!(der_signature(&raw[..63]), None);
    }

    #[test]
    fn jwt_claims_are_checked_before_the_signature() {
        let auth = AuthConfig::new("key", "unused").es256_public_key([4u8; 65]);
        let header = r#"{"alg":"ES256","kid":"key","nonce":"00","typ":"JWT"}"#;
        let claims = r#"{"iss":"cdp","nbf":100,"exp":220,"sub":"key"}"#;
        let cases = [
            (token(header, claims), 150, "bad signature"),
            (token(header, claims), 99, "outside nbf..exp"),
            (token(header, claims), 220, "outside nbf..exp"),
            (
                token(&header.replace("ES256", "HS256"), claims),
                150,
                "alg is not ES256",
            ),
            (
                token(&header.replace(r#""key""#, r#""other""#), claims),
                150,
                "kid or sub is not the API key",
            ),
            (
                token(header, &claims.replace("cdp", "coinbase-cloud")),
                150,
                "iss is not cdp",
            ),
            (
                token(header, r#"{"iss":"cdp","sub":"key"}"#),
                150,
                "nbf or exp missing",
            ),
            ("a.b".to_owned(), 150, "not three parts"),
            ("a.b.c.d".to_owned(), 150, "not three parts"),
            ("!.b.c".to_owned(), 150, "a part is not Base64url JSON"),
        ];
        for (jwt, now, why) in cases {
            assert_eq!(auth.check_jwt(&jwt, now), Err(why), "{jwt}");
        }
        assert_eq!(
            AuthConfig::new("key", "unused").check_jwt(&token(header, claims), 150),
            Err("no public key configured")
        );
    }
}
