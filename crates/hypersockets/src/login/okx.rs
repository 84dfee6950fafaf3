//! OKX v5's login: `{"op":"login","args":[{"apiKey","passphrase","timestamp","sign"}]}`.

use base64::Engine;
use hypersockets_core::{AuthProvider, AuthVerdict, BoxError, BoxFuture, WsMessage};
use serde_json::{Value, json};

use super::{Secret, hmac_sha256, unix_millis};

/// OKX v5's WebSocket login (private channels, `/ws/v5/private`): on every
/// connection, `sign` is the Base64 HMAC-SHA256 of
/// `timestamp + "GET" + "/users/self/verify"` under the secret key, with
/// the timestamp in Unix seconds, as OKX's "Login" documentation gives it.
/// The client waits for `{"event":"login","code":"0"}`; an error is fatal
/// for a wrong key or passphrase (60005, 60024) and retried otherwise (a
/// timestamp off by more than 30 s, 60006, is fixed by signing anew). The
/// secret and passphrase never appear in `Debug` output.
///
/// ```
/// use hypersockets::prelude::*;
/// use hypersockets::{OkxLogin, Venue};
///
/// let login = OkxLogin::new("api-key", "secret-key", "passphrase");
/// assert!(!format!("{login:?}").contains("secret-key"));
/// let client = WebSocketClient::builder()
///     .venue(Venue::okx().url("wss://ws.okx.com:8443/ws/v5/private"))
///     .router(PassThrough)
///     .auth(login)
///     .build()?;
/// # Ok::<(), HyperSocketError>(())
/// ```
#[derive(Clone, Debug)]
pub struct OkxLogin {
    api_key: String,
    secret: Secret,
    passphrase: Secret,
}

impl OkxLogin {
    /// A login with these credentials.
    ///
    /// ```
    /// let login = hypersockets::OkxLogin::new("api-key", "secret-key", "passphrase");
    /// # drop(login);
    /// ```
    pub fn new(
        api_key: impl Into<String>,
        secret: impl Into<String>,
        passphrase: impl Into<String>,
    ) -> Self {
        Self {
            api_key: api_key.into(),
            secret: Secret(secret.into()),
            passphrase: Secret(passphrase.into()),
        }
    }

    /// The login message for `timestamp` (Unix seconds).
    fn message(&self, timestamp: &str) -> WsMessage {
        let prehash = format!("{timestamp}GET/users/self/verify");
        let sign = base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256(&self.secret.0, &prehash).as_ref());
        let login = json!({
            "op": "login",
            "args": [{
                "apiKey": self.api_key,
                "passphrase": self.passphrase.0,
                "timestamp": timestamp,
                "sign": sign,
            }],
        });
        WsMessage::text(login.to_string())
    }
}

impl AuthProvider for OkxLogin {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(async move {
            let seconds = unix_millis()? / 1000;
            Ok(vec![self.message(&seconds.to_string())])
        })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        let Some(text) = message.as_text() else {
            return AuthVerdict::Unrelated;
        };
        if !text.contains(r#""event""#) {
            return AuthVerdict::Unrelated;
        }
        let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(text) else {
            return AuthVerdict::Unrelated;
        };
        let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or("");
        match field("event") {
            "login" if field("code") == "0" => AuthVerdict::Accepted,
            "login" | "error" => AuthVerdict::Rejected {
                reason: format!("code {}: {}", field("code"), field("msg")),
                fatal: matches!(field("code"), "60005" | "60024"),
            },
            _ => AuthVerdict::Unrelated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_timestamp_get_users_self_verify() {
        let login = OkxLogin::new("k", "Jefe", "p");
        let text = login.message("1538054050").as_text().unwrap().to_owned();
        let value: Value = serde_json::from_str(&text).unwrap();
        let arg = &value["args"][0];
        assert_eq!(arg["timestamp"], "1538054050");
        assert_eq!(arg["passphrase"], "p");
        let expected = base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256("Jefe", "1538054050GET/users/self/verify").as_ref());
        assert_eq!(arg["sign"], expected.as_str());
    }

    #[test]
    fn reads_the_answers() {
        let login = OkxLogin::new("k", "s", "p");
        assert_eq!(
            login.verdict(&WsMessage::text(
                r#"{"event":"login","code":"0","msg":"","connId":"a"}"#
            )),
            AuthVerdict::Accepted
        );
        assert!(matches!(
            login.verdict(&WsMessage::text(
                r#"{"event":"error","code":"60024","msg":"Wrong passphrase","connId":"a"}"#
            )),
            AuthVerdict::Rejected { fatal: true, .. }
        ));
        assert!(matches!(
            login.verdict(&WsMessage::text(
                r#"{"event":"error","code":"60006","msg":"Timestamp request expired","connId":"a"}"#
            )),
            AuthVerdict::Rejected { fatal: false, .. }
        ));
        assert_eq!(
            login.verdict(&WsMessage::text("pong")),
            AuthVerdict::Unrelated
        );
    }
}
