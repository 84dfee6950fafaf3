//! Coinbase Advanced Trade's WebSocket JWT: ES256, signed with a CDP API
//! key, one per request.

use std::sync::Arc;

use base64::Engine;
use hypersockets_core::HyperSocketError;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

use super::{hex, unix_millis};

/// How long a token is valid: Coinbase's two minutes.
const LIFETIME_SECS: u64 = 120;

/// The bytes of a PKCS#8 `PrivateKeyInfo` before its key: version 0 and
/// the algorithm, `id-ecPublicKey` on `prime256v1` (P-256).
const PKCS8_P256_ALGORITHM: [u8; 24] = [
    0x02, 0x01, 0x00, // INTEGER 0
    0x30, 0x13, // SEQUENCE, 19 bytes
    0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, // 1.2.840.10045.2.1
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, // 1.2.840.10045.3.1.7
];

/// Coinbase Advanced Trade's WebSocket authentication: a JSON Web Token
/// signed ES256 (ECDSA on P-256 with SHA-256) with a CDP API key, which
/// the authenticated channels (`user`, `futures_balance_summary`) take in
/// each subscribe message's `jwt` member. Each token, as Coinbase's
/// "Advanced Trade WebSocket Authentication" documentation builds it, has
/// the header `{"alg":"ES256","kid":<key name>,"nonce":<random hex>,"typ":"JWT"}`
/// and the claims `{"iss":"cdp","nbf":<now>,"exp":<now + 120>,"sub":<key name>}`
/// (no `uri` claim: WebSocket tokens name no request); it expires after
/// two minutes, so a fresh one goes with every request.
///
/// Give it to [`Venue::coinbase_user`](crate::Venue::coinbase_user), which
/// puts a fresh token in every subscribe and unsubscribe request, or make
/// tokens with [`token`](Self::token) for requests of your own. The key
/// never appears in `Debug` output or in errors.
///
/// ```
/// use hypersockets::CoinbaseJwt;
///
/// let pem = "-----BEGIN EC PRIVATE KEY-----\nnot a key\n-----END EC PRIVATE KEY-----\n";
/// assert!(CoinbaseJwt::from_pem("organizations/o/apiKeys/k", pem).is_err()); // refused, typed
/// ```
#[derive(Clone)]
pub struct CoinbaseJwt {
    key_name: String,
    key: Arc<EcdsaKeyPair>,
    random: SystemRandom,
}

impl std::fmt::Debug for CoinbaseJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoinbaseJwt")
            .field("key_name", &self.key_name)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl CoinbaseJwt {
    /// Tokens for the CDP API key `key_name`
    /// (`organizations/{org_id}/apiKeys/{key_id}`) signed with its private
    /// key, a PEM as Coinbase hands it out: `-----BEGIN EC PRIVATE KEY-----`
    /// (SEC1, P-256), or `-----BEGIN PRIVATE KEY-----` (PKCS#8). Newlines
    /// written as `\n` (the two characters, as in Coinbase's key file pasted
    /// into one line) are read as newlines.
    ///
    /// The SEC1 key is wrapped in PKCS#8's `PrivateKeyInfo` (version 0,
    /// algorithm `id-ecPublicKey` on `prime256v1`) before it is read,
    /// since *ring* reads EC keys only in PKCS#8; either form must carry
    /// its public key, as openssl and Coinbase write it.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] (setting `auth`) when the
    /// PEM holds no P-256 private key.
    ///
    /// ```
    /// # fn main() -> Result<(), hypersockets::HyperSocketError> {
    /// // A key generated for this example (never use it).
    /// let pem = "-----BEGIN EC PRIVATE KEY-----\n\
    ///            MHcCAQEEIMooArC0ArYnhff5VfiqxlsHLAx4n9ZX2p6SX+M3lGQxoAoGCCqGSM49\n\
    ///            AwEHoUQDQgAERVGrl8v/9XVMjn5EccjkF+GlVqJFICgEc9YrVNHUI33P98ZYxqVG\n\
    ///            85Wzqr6f9rNLs15uX3vc6muZngc13pkKuA==\n\
    ///            -----END EC PRIVATE KEY-----\n";
    /// let jwt = hypersockets::CoinbaseJwt::from_pem("organizations/o/apiKeys/k", pem)?;
    /// assert!(!format!("{jwt:?}").contains("MHcC"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_pem(key_name: impl Into<String>, pem: &str) -> Result<Self, HyperSocketError> {
        let pem = pem.replace("\\n", "\n");
        let mut label = None;
        let mut body = String::new();
        for line in pem.lines().map(str::trim).filter(|line| !line.is_empty()) {
            match line.strip_prefix("-----BEGIN ") {
                Some(rest) => label = Some(rest.trim_end_matches('-').to_owned()),
                None if line.starts_with("-----") => {}
                None => body.push_str(line),
            }
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| HyperSocketError::invalid_config("auth", "the PEM is not Base64"))?;
        match label.as_deref() {
            Some("EC PRIVATE KEY") => {
                let pkcs8 = pkcs8_of_sec1(&der).ok_or_else(not_a_key)?;
                Self::from_pkcs8(key_name, &pkcs8)
            }
            Some("PRIVATE KEY") => Self::from_pkcs8(key_name, &der),
            _ => Err(HyperSocketError::invalid_config(
                "auth",
                "expected an EC PRIVATE KEY or PRIVATE KEY PEM",
            )),
        }
    }

    /// Tokens for the CDP API key `key_name` signed with its P-256 private
    /// key, PKCS#8 DER.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::InvalidConfiguration`] (setting `auth`) when the
    /// bytes are no P-256 private key.
    ///
    /// ```
    /// assert!(hypersockets::CoinbaseJwt::from_pkcs8("organizations/o/apiKeys/k", b"not a key").is_err());
    /// ```
    pub fn from_pkcs8(key_name: impl Into<String>, der: &[u8]) -> Result<Self, HyperSocketError> {
        let random = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &random)
            .map_err(|_| not_a_key())?;
        Ok(Self {
            key_name: key_name.into(),
            key: Arc::new(key),
            random,
        })
    }

    /// The API key's name, the tokens' `kid` and `sub`.
    ///
    /// ```
    /// # let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIMooArC0ArYnhff5VfiqxlsHLAx4n9ZX2p6SX+M3lGQxoAoGCCqGSM49\nAwEHoUQDQgAERVGrl8v/9XVMjn5EccjkF+GlVqJFICgEc9YrVNHUI33P98ZYxqVG\n85Wzqr6f9rNLs15uX3vc6muZngc13pkKuA==\n-----END EC PRIVATE KEY-----\n";
    /// let jwt = hypersockets::CoinbaseJwt::from_pem("organizations/o/apiKeys/k", pem)?;
    /// assert_eq!(jwt.key_name(), "organizations/o/apiKeys/k");
    /// # Ok::<(), hypersockets::HyperSocketError>(())
    /// ```
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    /// A fresh token, valid from now for two minutes.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::Auth`] (not fatal) when the clock or the random
    /// source fails.
    ///
    /// ```
    /// # let pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIMooArC0ArYnhff5VfiqxlsHLAx4n9ZX2p6SX+M3lGQxoAoGCCqGSM49\nAwEHoUQDQgAERVGrl8v/9XVMjn5EccjkF+GlVqJFICgEc9YrVNHUI33P98ZYxqVG\n85Wzqr6f9rNLs15uX3vc6muZngc13pkKuA==\n-----END EC PRIVATE KEY-----\n";
    /// let jwt = hypersockets::CoinbaseJwt::from_pem("organizations/o/apiKeys/k", pem)?;
    /// let token = jwt.token()?;
    /// assert_eq!(token.split('.').count(), 3); // header, claims, signature
    /// # Ok::<(), hypersockets::HyperSocketError>(())
    /// ```
    pub fn token(&self) -> Result<String, HyperSocketError> {
        let now = unix_millis()
            .ok()
            .and_then(|ms| u64::try_from(ms / 1000).ok())
            .ok_or_else(|| failed("the clock is before 1970"))?;
        self.token_at(now)
    }

    /// A token valid from `now` (Unix seconds) for two minutes.
    fn token_at(&self, now: u64) -> Result<String, HyperSocketError> {
        let mut nonce = [0u8; 16];
        self.random
            .fill(&mut nonce)
            .map_err(|_| failed("no random nonce"))?;
        let header = json!({
            "alg": "ES256",
            "kid": self.key_name,
            "nonce": hex(&nonce),
            "typ": "JWT",
        });
        let claims = json!({
            "iss": "cdp",
            "nbf": now,
            "exp": now.saturating_add(LIFETIME_SECS),
            "sub": self.key_name,
        });
        let base64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signed = format!(
            "{}.{}",
            base64url.encode(header.to_string()),
            base64url.encode(claims.to_string())
        );
        // JWS's ES256 is the fixed-size r ‖ s, not DER.
        let signature = self
            .key
            .sign(&self.random, signed.as_bytes())
            .map_err(|_| failed("signing failed"))?;
        Ok(format!("{signed}.{}", base64url.encode(signature.as_ref())))
    }
}

fn not_a_key() -> HyperSocketError {
    HyperSocketError::invalid_config("auth", "not a P-256 private key (SEC1 or PKCS#8)")
}

fn failed(why: &str) -> HyperSocketError {
    HyperSocketError::Auth {
        reason: format!("Coinbase JWT: {why}"),
        fatal: false,
    }
}

/// The SEC1 `ECPrivateKey` `sec1` wrapped in a PKCS#8 `PrivateKeyInfo`
/// for P-256; `None` if it is too long to be one.
fn pkcs8_of_sec1(sec1: &[u8]) -> Option<Vec<u8>> {
    // A P-256 key is about 121 bytes: two-byte lengths are plenty.
    let octets = [&[0x04][..], &der_length(sec1.len())?, sec1].concat();
    let body_len = PKCS8_P256_ALGORITHM.len() + octets.len();
    Some(
        [
            &[0x30][..],
            &der_length(body_len)?,
            &PKCS8_P256_ALGORITHM,
            &octets,
        ]
        .concat(),
    )
}

/// A DER length of at most two bytes.
fn der_length(len: usize) -> Option<Vec<u8>> {
    match u16::try_from(len).ok()? {
        short @ 0..=0x7f => Some(vec![short as u8]),
        byte @ 0x80..=0xff => Some(vec![0x81, byte as u8]),
        long => Some([&[0x82][..], &long.to_be_bytes()].concat()),
    }
}

#[cfg(test)]
mod tests {
    use ring::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};
    use serde_json::Value;

    use super::*;

    /// A key generated for these tests with `openssl ecparam -name
    /// prime256v1 -genkey -noout`, and its PKCS#8 form (`openssl pkcs8
    /// -topk8 -nocrypt`).
    const SEC1: &str = "-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMooArC0ArYnhff5VfiqxlsHLAx4n9ZX2p6SX+M3lGQxoAoGCCqGSM49
AwEHoUQDQgAERVGrl8v/9XVMjn5EccjkF+GlVqJFICgEc9YrVNHUI33P98ZYxqVG
85Wzqr6f9rNLs15uX3vc6muZngc13pkKuA==
-----END EC PRIVATE KEY-----
";
    const PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgyigCsLQCtieF9/lV
+KrGWwcsDHif1lfanpJf4zeUZDGhRANCAARFUauXy//1dUyOfkRxyOQX4aVWokUg
KARz1itU0dQjfc/3xljGpUbzlbOqvp/2s0uzXm5fe9zqa5meBzXemQq4
-----END PRIVATE KEY-----
";
    /// Its public key, uncompressed (`openssl ec -pubout`).
    const PUBLIC: &str = "044551ab97cbfff5754c8e7e4471c8e417e1a556a24520280473d62b54d1d4237dcff7c658c6a546f395b3aabe9ff6b34bb35e6e5f7bdcea6b999e0735de990ab8";

    const NAME: &str = "organizations/o/apiKeys/k";

    fn decode(part: &str) -> Vec<u8> {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap()
    }

    #[test]
    fn sec1_and_pkcs8_pems_read_the_same_key() {
        for pem in [SEC1, PKCS8, &SEC1.replace('\n', "\\n")] {
            let jwt = CoinbaseJwt::from_pem(NAME, pem).unwrap();
            assert_eq!(hex(jwt.key.public_key().as_ref()), PUBLIC);
        }
    }

    #[test]
    fn bad_keys_are_refused_with_a_typed_error() {
        let bad = [
            "no pem at all".to_owned(),
            SEC1.replace("MHcC", "MHcD"),
            SEC1.replace("EC PRIVATE KEY", "RSA PRIVATE KEY"),
            // An Ed25519 key, PKCS#8.
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAl5PaCC13D5HX8RSXzNxT3GXCb7Egp1FiKoYLe7DP+r\n-----END PRIVATE KEY-----\n".to_owned(),
        ];
        for pem in bad {
            let error = CoinbaseJwt::from_pem(NAME, &pem).unwrap_err();
            assert!(
                matches!(error, HyperSocketError::InvalidConfiguration { .. }),
                "{error:?}"
            );
            assert!(!error.to_string().contains("MHc"));
        }
    }

    #[test]
    fn tokens_are_es256_with_coinbase_claims() {
        let jwt = CoinbaseJwt::from_pem(NAME, SEC1).unwrap();
        let token = jwt.token_at(1_700_000_000).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&decode(parts[0])).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], NAME);
        assert_eq!(header["nonce"].as_str().unwrap().len(), 32);
        let claims: Value = serde_json::from_slice(&decode(parts[1])).unwrap();
        assert_eq!(claims["iss"], "cdp");
        assert_eq!(claims["sub"], NAME);
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_120u64);
        assert!(claims.get("uri").is_none());

        let signature = decode(parts[2]);
        assert_eq!(signature.len(), 64, "r ‖ s");
        let public: Vec<u8> = (0..PUBLIC.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&PUBLIC[i..i + 2], 16).unwrap())
            .collect();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();
        // Each token has its own nonce.
        assert_ne!(jwt.token_at(1_700_000_000).unwrap(), token);
    }

    #[test]
    fn the_key_is_redacted() {
        let jwt = CoinbaseJwt::from_pem(NAME, SEC1).unwrap();
        let shown = format!("{jwt:?}");
        assert!(shown.contains(NAME));
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("MHc"));
    }

    #[test]
    fn der_lengths() {
        assert_eq!(der_length(0x7f), Some(vec![0x7f]));
        assert_eq!(der_length(0x80), Some(vec![0x81, 0x80]));
        assert_eq!(der_length(0x1234), Some(vec![0x82, 0x12, 0x34]));
        assert_eq!(der_length(0x1_0000), None);
    }
}
