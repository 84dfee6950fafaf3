//! Binance's WebSocket API logon: `session.logon`, signed with Ed25519.

use base64::Engine;
use hypersockets_core::{
    AuthProvider, AuthVerdict, BoxError, BoxFuture, HyperSocketError, WsMessage,
};
use ring::signature::Ed25519KeyPair;
use serde_json::{Value, json};

use super::unix_millis;

/// Binance's WebSocket API logon (`wss://ws-api.binance.com:443/ws-api/v3`,
/// for user data and orders): on every connection a `session.logon`
/// request whose `signature` is the Base64 Ed25519 signature of
/// `apiKey=<key>&timestamp=<ms>` (the parameters sorted, as Binance's
/// "Session authentication" documentation gives it; the API accepts only
/// Ed25519 keys for it). The client waits for the answer with status 200;
/// an invalid key or signature (-2014, -2015, -1022) is fatal, anything
/// else (a timestamp out of the receive window, -1021) retried. The key
/// pair never appears in `Debug` output.
///
/// ```
/// use hypersockets::BinanceLogon;
///
/// let pem = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
/// assert!(BinanceLogon::from_pem("api-key", pem).is_err()); // refused, typed
/// ```
pub struct BinanceLogon {
    api_key: String,
    key: Ed25519KeyPair,
}

impl std::fmt::Debug for BinanceLogon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinanceLogon")
            .field("api_key", &self.api_key)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl BinanceLogon {
    /// A logon with the API key and its Ed25519 private key, PKCS#8 PEM
    /// (`-----BEGIN PRIVATE KEY-----`, as `openssl genpkey -algorithm
    /// ed25519` writes it).
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] (setting `auth`) when the
    /// PEM holds no Ed25519 private key.
    ///
    /// ```
    /// # fn main() -> Result<(), hypersockets::HyperSocketError> {
    /// // A key generated for this example (never use it).
    /// let pem = "-----BEGIN PRIVATE KEY-----\n\
    ///            MC4CAQAwBQYDK2VwBCIEIAl5PaCC13D5HX8RSXzNxT3GXCb7Egp1FiKoYLe7DP+r\n\
    ///            -----END PRIVATE KEY-----\n";
    /// let logon = hypersockets::BinanceLogon::from_pem("api-key", pem)?;
    /// assert!(!format!("{logon:?}").contains("MC4C"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_pem(api_key: impl Into<String>, pem: &str) -> Result<Self, HyperSocketError> {
        let body: String = pem
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| HyperSocketError::invalid_config("auth", "the PEM is not Base64"))?;
        Self::from_pkcs8(api_key, &der)
    }

    /// A logon with the API key and its Ed25519 private key, PKCS#8 DER.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] (setting `auth`) when the
    /// bytes are no Ed25519 private key.
    ///
    /// ```
    /// assert!(hypersockets::BinanceLogon::from_pkcs8("api-key", b"not a key").is_err());
    /// ```
    pub fn from_pkcs8(api_key: impl Into<String>, der: &[u8]) -> Result<Self, HyperSocketError> {
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| {
            HyperSocketError::invalid_config("auth", "not an Ed25519 private key (PKCS#8)")
        })?;
        Ok(Self {
            api_key: api_key.into(),
            key,
        })
    }

    /// The logon request at `timestamp` (Unix milliseconds).
    fn message(&self, timestamp: u128) -> WsMessage {
        let payload = format!("apiKey={}&timestamp={timestamp}", self.api_key);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(self.key.sign(payload.as_bytes()));
        let logon = json!({
            "id": "session.logon",
            "method": "session.logon",
            "params": {
                "apiKey": self.api_key,
                "signature": signature,
                "timestamp": timestamp as u64,
            },
        });
        WsMessage::text(logon.to_string())
    }
}

impl AuthProvider for BinanceLogon {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(async move { Ok(vec![self.message(unix_millis()?)]) })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        let Some(text) = message.as_text() else {
            return AuthVerdict::Unrelated;
        };
        if !text.contains("session.logon") {
            return AuthVerdict::Unrelated;
        }
        let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(text) else {
            return AuthVerdict::Unrelated;
        };
        if answer.get("id").and_then(Value::as_str) != Some("session.logon") {
            return AuthVerdict::Unrelated;
        }
        if answer.get("status").and_then(Value::as_u64) == Some(200) {
            return AuthVerdict::Accepted;
        }
        let error = answer.get("error");
        let code = error
            .and_then(|e| e.get("code"))
            .and_then(Value::as_i64)
            .unwrap_or_default();
        let msg = error
            .and_then(|e| e.get("msg"))
            .and_then(Value::as_str)
            .unwrap_or("refused");
        AuthVerdict::Rejected {
            reason: format!("code {code}: {msg}"),
            fatal: matches!(code, -2014 | -2015 | -1022),
        }
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{ED25519, KeyPair, UnparsedPublicKey};

    use super::*;

    #[test]
    fn signs_the_sorted_parameters_with_ed25519() {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let logon = BinanceLogon::from_pkcs8("k", der.as_ref()).unwrap();
        let text = logon
            .message(1_700_000_000_000)
            .as_text()
            .unwrap()
            .to_owned();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["method"], "session.logon");
        assert_eq!(value["params"]["timestamp"], 1_700_000_000_000u64);
        let signature = base64::engine::general_purpose::STANDARD
            .decode(value["params"]["signature"].as_str().unwrap())
            .unwrap();
        let public = UnparsedPublicKey::new(&ED25519, logon.key.public_key().as_ref().to_vec());
        public
            .verify(b"apiKey=k&timestamp=1700000000000", &signature)
            .unwrap();
    }

    #[test]
    fn reads_the_answers() {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let logon = BinanceLogon::from_pkcs8("k", der.as_ref()).unwrap();
        assert_eq!(
            logon.verdict(&WsMessage::text(
                r#"{"id":"session.logon","status":200,"result":{}}"#
            )),
            AuthVerdict::Accepted
        );
        assert!(matches!(
            logon.verdict(&WsMessage::text(
                r#"{"id":"session.logon","status":401,"error":{"code":-1022,"msg":"Signature for this request is not valid."}}"#
            )),
            AuthVerdict::Rejected { fatal: true, .. }
        ));
        assert!(matches!(
            logon.verdict(&WsMessage::text(
                r#"{"id":"session.logon","status":400,"error":{"code":-1021,"msg":"Timestamp outside recvWindow"}}"#
            )),
            AuthVerdict::Rejected { fatal: false, .. }
        ));
    }
}
