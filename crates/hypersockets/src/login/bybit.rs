//! Bybit v5's login: `{"op":"auth","args":[apiKey, expires, signature]}`.

use hypersockets_core::{AuthProvider, AuthVerdict, BoxError, BoxFuture, WsMessage};
use serde_json::{Value, json};

use super::{Secret, hex, hmac_sha256, unix_millis};

/// How far ahead the signature's expiry is set.
const EXPIRES_IN_MS: u128 = 10_000;

/// Bybit v5's WebSocket login (private streams, `/v5/private`): on every
/// connection, the signature is the hex HMAC-SHA256 of
/// `"GET/realtime" + expires` under the secret, `expires` a Unix time in
/// milliseconds 10 s ahead, as Bybit's "WebSocket Connect" documentation
/// gives it. The client waits for `{"op":"auth","success":true}`; a
/// refusal is fatal (a wrong key or signature does not heal by retrying,
/// and Bybit gives no code to tell them apart). The secret never appears
/// in `Debug` output.
///
/// ```
/// use hypersockets::prelude::*;
/// use hypersockets::{BybitLogin, Venue};
///
/// let login = BybitLogin::new("api-key", "secret");
/// assert!(!format!("{login:?}").contains("\"secret\""));
/// let client = WebSocketClient::builder()
///     .venue(Venue::bybit_linear().url("wss://stream.bybit.com/v5/private"))
///     .router(PassThrough)
///     .auth(login)
///     .build()?;
/// # Ok::<(), HyperSocketError>(())
/// ```
#[derive(Clone, Debug)]
pub struct BybitLogin {
    api_key: String,
    secret: Secret,
}

impl BybitLogin {
    /// A login with these credentials.
    ///
    /// ```
    /// let login = hypersockets::BybitLogin::new("api-key", "secret");
    /// # drop(login);
    /// ```
    pub fn new(api_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            secret: Secret(secret.into()),
        }
    }

    /// The login message expiring at `expires` (Unix milliseconds).
    fn message(&self, expires: u128) -> WsMessage {
        let signature =
            hex(hmac_sha256(&self.secret.0, &format!("GET/realtime{expires}")).as_ref());
        let auth = json!({
            "req_id": "auth",
            "op": "auth",
            "args": [self.api_key, expires.to_string(), signature],
        });
        WsMessage::text(auth.to_string())
    }
}

impl AuthProvider for BybitLogin {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(async move { Ok(vec![self.message(unix_millis()? + EXPIRES_IN_MS)]) })
    }

    fn awaits_response(&self) -> bool {
        true
    }

    fn verdict(&self, message: &WsMessage) -> AuthVerdict {
        let Some(text) = message.as_text() else {
            return AuthVerdict::Unrelated;
        };
        if !text.contains(r#""auth""#) {
            return AuthVerdict::Unrelated;
        }
        let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(text) else {
            return AuthVerdict::Unrelated;
        };
        if answer.get("op").and_then(Value::as_str) != Some("auth") {
            return AuthVerdict::Unrelated;
        }
        match answer.get("success").and_then(Value::as_bool) {
            Some(true) => AuthVerdict::Accepted,
            _ => AuthVerdict::Rejected {
                reason: answer
                    .get("ret_msg")
                    .and_then(Value::as_str)
                    .unwrap_or("refused")
                    .to_owned(),
                fatal: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_get_realtime_and_the_expiry() {
        let login = BybitLogin::new("k", "Jefe");
        let text = login
            .message(1_662_350_400_000)
            .as_text()
            .unwrap()
            .to_owned();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["op"], "auth");
        assert_eq!(value["args"][0], "k");
        assert_eq!(value["args"][1], "1662350400000");
        let expected = hex(hmac_sha256("Jefe", "GET/realtime1662350400000").as_ref());
        assert_eq!(value["args"][2], expected.as_str());
    }

    #[test]
    fn reads_the_answers() {
        let login = BybitLogin::new("k", "s");
        assert_eq!(
            login.verdict(&WsMessage::text(
                r#"{"success":true,"ret_msg":"","op":"auth","conn_id":"c"}"#
            )),
            AuthVerdict::Accepted
        );
        assert!(matches!(
            login.verdict(&WsMessage::text(
                r#"{"success":false,"ret_msg":"error:USAGE_EXCEEDED","op":"auth","conn_id":"c"}"#
            )),
            AuthVerdict::Rejected { fatal: true, .. }
        ));
        assert_eq!(
            login.verdict(&WsMessage::text(
                r#"{"success":true,"ret_msg":"pong","op":"ping"}"#
            )),
            AuthVerdict::Unrelated
        );
    }
}
