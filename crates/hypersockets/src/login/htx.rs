//! HTX's (Huobi's) v2 login: `{"action":"req","ch":"auth","params":{…}}`,
//! signature version 2.1.

use std::fmt::Write as _;

use base64::Engine;
use hypersockets_core::{AuthProvider, AuthVerdict, BoxError, BoxFuture, WsMessage};
use serde_json::{Value, json};

use super::{Secret, hmac_sha256, unix_millis};

/// The host signed unless [`HtxLogin::host`] says otherwise.
const DEFAULT_HOST: &str = "api.huobi.pro";

/// The path of the v2 endpoint, part of what is signed.
const PATH: &str = "/ws/v2";

/// HTX's (Huobi's) WebSocket v2 login, for the asset and order endpoint
/// (`wss://api.huobi.pro/ws/v2`, see [`Venue::htx_private`](crate::Venue::htx_private)):
/// on every connection an `auth` request whose `signature` is the Base64
/// HMAC-SHA256, under the secret key, of
///
/// ```text
/// GET\n<host>\n/ws/v2\naccessKey=…&signatureMethod=HmacSHA256&signatureVersion=2.1&timestamp=…
/// ```
///
/// the parameters sorted by name and URL-encoded, the timestamp the UTC
/// time as `YYYY-MM-DDThh:mm:ss`, as HTX's "Websocket Asset and Order:
/// Authentication" documentation gives it (the JSON request carries the
/// values unencoded). The host is `api.huobi.pro` unless
/// [`host`](Self::host) changes it.
///
/// The client waits for `{"action":"req","code":200,"ch":"auth",…}`. A
/// refusal with one of HTX's codes for an invalid IP, request or
/// authentication (2000, 2001, 2002: a wrong key or signature does not heal
/// by retrying) is fatal, unless its message speaks of the timestamp or an
/// expiry (signing anew fixes those); any other code (system error, too
/// many requests or connections) is retried. The secret never appears in
/// `Debug` output.
///
/// ```
/// use hypersockets::prelude::*;
/// use hypersockets::{HtxLogin, Venue};
///
/// let login = HtxLogin::new("access-key", "secret-key");
/// assert!(!format!("{login:?}").contains("secret-key"));
/// let client = WebSocketClient::builder()
///     .venue(Venue::htx_private())
///     .router(PassThrough)
///     .auth(login)
///     .build()?;
/// # Ok::<(), HyperSocketError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HtxLogin {
    access_key: String,
    secret: Secret,
    host: String,
}

impl HtxLogin {
    /// A login with these credentials, signed for host `api.huobi.pro`.
    ///
    /// ```
    /// let login = hypersockets::HtxLogin::new("access-key", "secret-key");
    /// # drop(login);
    /// ```
    pub fn new(access_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            access_key: access_key.into(),
            secret: Secret(secret.into()),
            host: DEFAULT_HOST.to_owned(),
        }
    }

    /// Signs for `host` instead: the host of the URL connected to, such as
    /// `api-aws.huobi.pro` (HTX checks the signature against it). Default:
    /// `api.huobi.pro`.
    ///
    /// ```
    /// use hypersockets::{HtxLogin, Venue};
    ///
    /// let venue = Venue::htx_private().url("wss://api-aws.huobi.pro/ws/v2");
    /// let login = HtxLogin::new("access-key", "secret-key").host("api-aws.huobi.pro");
    /// # drop((venue, login));
    /// ```
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The text signed at `timestamp` (`YYYY-MM-DDThh:mm:ss`, UTC).
    fn prehash(&self, timestamp: &str) -> String {
        // Already in the sorted order HTX asks for.
        let parameters = format!(
            "accessKey={}&signatureMethod=HmacSHA256&signatureVersion=2.1&timestamp={}",
            url_encode(&self.access_key),
            url_encode(timestamp),
        );
        format!(
            "GET\n{}\n{PATH}\n{parameters}",
            self.host.to_ascii_lowercase()
        )
    }

    /// The login message at `timestamp` (`YYYY-MM-DDThh:mm:ss`, UTC).
    fn message(&self, timestamp: &str) -> WsMessage {
        let signature = base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256(&self.secret.0, &self.prehash(timestamp)).as_ref());
        let auth = json!({
            "action": "req",
            "ch": "auth",
            "params": {
                "authType": "api",
                "accessKey": self.access_key,
                "signatureMethod": "HmacSHA256",
                "signatureVersion": "2.1",
                "timestamp": timestamp,
                "signature": signature,
            },
        });
        WsMessage::text(auth.to_string())
    }
}

impl AuthProvider for HtxLogin {
    fn login_messages(&self) -> BoxFuture<'_, Result<Vec<WsMessage>, BoxError>> {
        Box::pin(async move {
            let seconds = u64::try_from(unix_millis()? / 1000)?;
            let timestamp = utc_timestamp(seconds).ok_or("the clock is past the calendar")?;
            Ok(vec![self.message(&timestamp)])
        })
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
        let field = |name: &str| answer.get(name).and_then(Value::as_str);
        // Some refusals come without `action`.
        if field("ch") != Some("auth") || field("action").is_some_and(|a| a != "req") {
            return AuthVerdict::Unrelated;
        }
        let Some(code) = answer.get("code").and_then(Value::as_i64) else {
            return AuthVerdict::Unrelated;
        };
        if code == 200 {
            return AuthVerdict::Accepted;
        }
        let said = field("message").unwrap_or("refused");
        let lower = said.to_ascii_lowercase();
        let clock = lower.contains("timestamp") || lower.contains("expire");
        AuthVerdict::Rejected {
            reason: format!("code {code}: {said}"),
            fatal: matches!(code, 2000..=2002) && !clock,
        }
    }
}

/// `text` URL-encoded as HTX signs it: everything but RFC 3986's
/// unreserved characters as `%XX`, uppercase.
fn url_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// `seconds` since the Unix epoch as HTX's timestamps:
/// `YYYY-MM-DDThh:mm:ss`, UTC; `None` past the calendar's range.
fn utc_timestamp(seconds: u64) -> Option<String> {
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).ok()?).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_seconds() {
        assert_eq!(utc_timestamp(0).as_deref(), Some("1970-01-01T00:00:00"));
        assert_eq!(
            utc_timestamp(1_575_546_783).as_deref(),
            Some("2019-12-05T11:53:03")
        );
        assert_eq!(
            utc_timestamp(951_782_400).as_deref(),
            Some("2000-02-29T00:00:00")
        );
        assert_eq!(
            utc_timestamp(951_868_799).as_deref(),
            Some("2000-02-29T23:59:59")
        );
        assert_eq!(
            utc_timestamp(4_102_444_799).as_deref(),
            Some("2099-12-31T23:59:59")
        );
        assert_eq!(utc_timestamp(u64::MAX / 2), None);
    }

    #[test]
    fn url_encoding_keeps_only_unreserved_characters() {
        assert_eq!(url_encode("2019-12-05T11:53:03"), "2019-12-05T11%3A53%3A03");
        assert_eq!(url_encode("a b+c/é~_."), "a%20b%2Bc%2F%C3%A9~_.");
    }

    #[test]
    fn signs_the_documented_prehash() {
        // HTX's documented example of the signed text.
        let documented = "GET\napi.huobi.pro\n/ws/v2\naccessKey=0664b695-rfhfg2mkl3-abbf6c5d-49810&signatureMethod=HmacSHA256&signatureVersion=2.1&timestamp=2019-12-05T11%3A53%3A03";
        let login = HtxLogin::new("0664b695-rfhfg2mkl3-abbf6c5d-49810", "Jefe");
        assert_eq!(login.prehash("2019-12-05T11:53:03"), documented);

        let text = login
            .message("2019-12-05T11:53:03")
            .as_text()
            .unwrap()
            .to_owned();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["action"], "req");
        assert_eq!(value["ch"], "auth");
        let params = &value["params"];
        assert_eq!(params["authType"], "api");
        assert_eq!(params["signatureMethod"], "HmacSHA256");
        assert_eq!(params["signatureVersion"], "2.1");
        // Unencoded in the request.
        assert_eq!(params["timestamp"], "2019-12-05T11:53:03");
        let expected = base64::engine::general_purpose::STANDARD
            .encode(hmac_sha256("Jefe", documented).as_ref());
        assert_eq!(params["signature"], expected.as_str());
    }

    #[test]
    fn signs_for_the_host_set() {
        let login = HtxLogin::new("k", "s").host("API-AWS.huobi.pro");
        assert!(
            login
                .prehash("2019-12-05T11:53:03")
                .starts_with("GET\napi-aws.huobi.pro\n/ws/v2\n")
        );
    }

    #[test]
    fn reads_the_answers() {
        let login = HtxLogin::new("k", "s");
        assert_eq!(
            login.verdict(&WsMessage::text(
                r#"{"action":"req","code":200,"ch":"auth","data":{}}"#
            )),
            AuthVerdict::Accepted
        );
        for refusal in [
            r#"{"action":"req","code":2002,"ch":"auth","message":"auth.fail"}"#,
            r#"{"code":2002,"ch":"auth","message":"auth.fail"}"#,
            r#"{"action":"req","code":2001,"ch":"auth","message":"missing.param.auth"}"#,
        ] {
            assert!(
                matches!(
                    login.verdict(&WsMessage::text(refusal)),
                    AuthVerdict::Rejected { fatal: true, .. }
                ),
                "{refusal}"
            );
        }
        for retried in [
            r#"{"action":"req","code":2002,"ch":"auth","message":"timestamp expired"}"#,
            r#"{"action":"req","code":500,"ch":"auth","message":"system error"}"#,
            r#"{"action":"req","code":4000,"ch":"auth","message":"too.many.request"}"#,
        ] {
            assert!(
                matches!(
                    login.verdict(&WsMessage::text(retried)),
                    AuthVerdict::Rejected { fatal: false, .. }
                ),
                "{retried}"
            );
        }
        for unrelated in [
            r#"{"action":"sub","code":2002,"ch":"orders#btcusdt","message":"invalid.auth.state"}"#,
            r#"{"action":"ping","data":{"ts":1575537778295}}"#,
            r#"{"action":"push","ch":"auth","data":{}}"#,
            "not json \"auth\"",
        ] {
            assert_eq!(
                login.verdict(&WsMessage::text(unrelated)),
                AuthVerdict::Unrelated,
                "{unrelated}"
            );
        }
    }
}
