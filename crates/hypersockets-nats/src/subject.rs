//! Subjects: `<prefix>.<venue>.<stream>`, each venue and stream name
//! written as one subject token.
//!
//! A NATS subject token cannot hold `.` (the separator), `*` or `>`
//! (wildcards) or whitespace, and HTX's streams are dotted
//! (`market.btcusdt.trade.detail`): such bytes, and `%` itself, are
//! written `%XX`. The encoding is one-to-one, so the consumer gets the
//! venue's own names back, and common names (`btcusdt@trade`,
//! `trades:BTC-USDT`) stay as they are.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::NatsError;

/// A feed's subject, split into its parts.
///
/// ```
/// use hypersockets_nats::FeedSubject;
///
/// let subject = FeedSubject::new("md", "htx", "market.btcusdt.trade.detail").unwrap();
/// assert_eq!(subject.as_str(), "md.htx.market%2Ebtcusdt%2Etrade%2Edetail");
/// let parsed = FeedSubject::parse("md", subject.as_str()).unwrap();
/// assert_eq!(parsed.stream(), "market.btcusdt.trade.detail");
/// assert_eq!(parsed.venue(), "htx");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FeedSubject {
    subject: String,
    venue: String,
    stream: String,
}

impl FeedSubject {
    /// The subject of `stream` of `venue` under `prefix` (itself one or
    /// more tokens, such as `md` or `prod.md`).
    ///
    /// # Errors
    ///
    /// An empty venue or stream name, or a prefix that is not a valid
    /// literal subject.
    pub fn new(prefix: &str, venue: &str, stream: &str) -> Result<Self, NatsError> {
        check_prefix(prefix)?;
        if venue.is_empty() {
            return Err(NatsError::invalid("venue", "an empty name"));
        }
        if stream.is_empty() {
            return Err(NatsError::invalid("stream", "an empty name"));
        }
        Ok(Self {
            subject: format!("{prefix}.{}.{}", token(venue), token(stream)),
            venue: venue.to_owned(),
            stream: stream.to_owned(),
        })
    }

    /// Splits a subject under `prefix` back into its venue and stream.
    ///
    /// # Errors
    ///
    /// When the subject is not `<prefix>.<venue>.<stream>` with tokens
    /// this crate writes.
    pub fn parse(prefix: &str, subject: &str) -> Result<Self, NatsError> {
        let invalid = || {
            NatsError::invalid(
                "subject",
                format!("{subject:?} is not {prefix}.<venue>.<stream>"),
            )
        };
        let rest = subject
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or_else(invalid)?;
        let (venue, stream) = rest.split_once('.').ok_or_else(invalid)?;
        if stream.contains('.') {
            return Err(invalid());
        }
        let venue = untoken(venue).ok_or_else(invalid)?;
        let stream = untoken(stream).ok_or_else(invalid)?;
        if venue.is_empty() || stream.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            subject: subject.to_owned(),
            venue,
            stream,
        })
    }

    /// The whole subject.
    pub fn as_str(&self) -> &str {
        &self.subject
    }

    /// The venue's name, as given.
    pub fn venue(&self) -> &str {
        &self.venue
    }

    /// The stream's name, as given.
    pub fn stream(&self) -> &str {
        &self.stream
    }
}

/// Checks a subject prefix: dot-separated non-empty tokens, no wildcards
/// or whitespace.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), NatsError> {
    let valid = !prefix.is_empty()
        && prefix.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|byte| byte.is_ascii_graphic() && byte != b'*' && byte != b'>')
        });
    if valid {
        Ok(())
    } else {
        Err(NatsError::invalid(
            "prefix",
            format!("{prefix:?} is not a literal subject (dot-separated tokens, no wildcards)"),
        ))
    }
}

/// Whether `byte` stands for itself in a token.
fn plain(byte: u8) -> bool {
    byte.is_ascii_graphic() && !matches!(byte, b'.' | b'*' | b'>' | b'%')
}

/// `name` as one subject token.
pub(crate) fn token(name: &str) -> Cow<'_, str> {
    if name.bytes().all(plain) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for byte in name.bytes() {
        if plain(byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    Cow::Owned(out)
}

/// A token back into its name; `None` if it is not one [`token`] writes.
fn untoken(token: &str) -> Option<String> {
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'%' {
            let hex = token.get(at + 1..at + 3)?;
            let value = u8::from_str_radix(hex, 16).ok()?;
            if plain(value) {
                return None;
            }
            out.push(value);
            at += 3;
        } else if plain(byte) {
            out.push(byte);
            at += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "btcusdt@trade",
            "trades:BTC-USDT",
            "market.btcusdt.trade.detail",
            "book:BTC/USD",
            "l2 book*>%",
            "naïve",
        ] {
            let subject = FeedSubject::new("md.prod", "venue.x", name).unwrap();
            assert_eq!(
                subject.as_str().matches('.').count(),
                3,
                "{}",
                subject.as_str()
            );
            let parsed = FeedSubject::parse("md.prod", subject.as_str()).unwrap();
            assert_eq!((parsed.venue(), parsed.stream()), ("venue.x", name));
        }
    }

    #[test]
    fn foreign_subjects_are_refused() {
        for subject in [
            "md",
            "md.binance",
            "other.binance.x",
            "md.binance.a.b",
            "md.binance.%2",
            "md.binance.%41",
            "md..x",
        ] {
            assert!(FeedSubject::parse("md", subject).is_err(), "{subject}");
        }
        assert!(FeedSubject::new("md.*", "binance", "x").is_err());
        assert!(FeedSubject::new("md", "", "x").is_err());
        assert!(FeedSubject::new("md", "binance", "").is_err());
    }
}
