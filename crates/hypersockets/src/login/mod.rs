//! Ready logins for venues that sign one: the signature computed afresh on
//! every connection (Coinbase's token on every request), the secret never
//! shown.

mod binance;
mod bybit;
mod coinbase;
mod htx;
mod okx;

pub use binance::BinanceLogon;
pub use bybit::BybitLogin;
pub use coinbase::CoinbaseJwt;
pub use htx::HtxLogin;
pub use okx::OkxLogin;

use std::time::{SystemTime, UNIX_EPOCH};

use hypersockets_core::BoxError;
use ring::hmac;

/// A secret kept out of `Debug` output.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// HMAC-SHA256 of `message` under `key`.
fn hmac_sha256(key: &str, message: &str) -> hmac::Tag {
    hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes()),
        message.as_bytes(),
    )
}

/// Milliseconds since the Unix epoch.
fn unix_millis() -> Result<u128, BoxError> {
    Ok(SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis())
}

/// `bytes` as lowercase hexadecimal.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        let tag = hmac_sha256("Jefe", "what do ya want for nothing?");
        assert_eq!(
            hex(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(format!("{:?}", Secret("s3cret".into())), "<redacted>");
    }
}
