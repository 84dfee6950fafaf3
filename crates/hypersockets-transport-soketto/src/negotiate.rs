//! permessage-deflate's negotiation (RFC 7692 §5, §7.1): the offer we
//! send, and the checks on the server's answer.
//!
//! tungstenite, which runs the upgrade, does not look at
//! `Sec-WebSocket-Extensions`; everything about it is here. An answer that
//! names an extension we did not offer, or parameters we cannot honour,
//! fails the connection (RFC 6455 §4.1, RFC 7692 §7.1).

use std::sync::Arc;

use hypersockets_core::{HyperSocketError, Result};

use crate::config::PerMessageDeflate;

/// The extension's name in offers and answers.
const NAME: &str = "permessage-deflate";
const SERVER_NO_CONTEXT_TAKEOVER: &str = "server_no_context_takeover";
const CLIENT_NO_CONTEXT_TAKEOVER: &str = "client_no_context_takeover";
const SERVER_MAX_WINDOW_BITS: &str = "server_max_window_bits";
const CLIENT_MAX_WINDOW_BITS: &str = "client_max_window_bits";

/// What both sides agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// The server resets its window after each message.
    pub(crate) server_no_context_takeover: bool,
    /// We must reset ours after each message.
    pub(crate) client_no_context_takeover: bool,
    /// The server's window is at most 2^this bytes.
    pub(crate) server_max_window_bits: u8,
    /// Ours must be at most 2^this bytes.
    pub(crate) client_max_window_bits: u8,
}

/// Why the server's answer cannot be honoured.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum NegotiationError {
    #[error("server accepted extension `{0}`, which was not offered")]
    NotOffered(String),
    #[error("server accepted more than one extension")]
    SeveralExtensions,
    #[error("malformed sec-websocket-extensions answer: {0:?}")]
    Malformed(String),
    #[error("permessage-deflate parameter `{0}` is unknown")]
    UnknownParameter(String),
    #[error("permessage-deflate parameter `{0}` appears twice")]
    Duplicate(String),
    #[error("permessage-deflate parameter `{0}` takes no value")]
    UnexpectedValue(&'static str),
    #[error("permessage-deflate parameter `{name}` has invalid value {value:?}")]
    InvalidValue { name: &'static str, value: String },
    #[error("server did not accept `{0}`, which was offered")]
    Missing(&'static str),
    #[error("{name} {answered} is over the {offered} offered")]
    WindowOverOffer {
        name: &'static str,
        answered: u8,
        offered: u8,
    },
}

/// A setting's window bits, checked: RFC 7692 allows 8 to 15.
pub(crate) fn check_window_bits(setting: &'static str, bits: Option<u8>) -> Result<()> {
    match bits {
        Some(bits) if !(8..=15).contains(&bits) => Err(HyperSocketError::invalid_config(
            setting,
            format!("window bits must be 8 to 15, not {bits}"),
        )),
        _ => Ok(()),
    }
}

/// The `Sec-WebSocket-Extensions` offer for `config`.
///
/// `client_max_window_bits` is always offered (bare when not set): it
/// tells the server we can use a smaller window if it asks.
pub(crate) fn offer(config: &PerMessageDeflate) -> String {
    let mut offer = String::from(NAME);
    if config.server_no_context_takeover {
        offer.push_str("; ");
        offer.push_str(SERVER_NO_CONTEXT_TAKEOVER);
    }
    if config.client_no_context_takeover {
        offer.push_str("; ");
        offer.push_str(CLIENT_NO_CONTEXT_TAKEOVER);
    }
    if let Some(bits) = config.server_max_window_bits {
        offer.push_str(&format!("; {SERVER_MAX_WINDOW_BITS}={bits}"));
    }
    offer.push_str("; ");
    offer.push_str(CLIENT_MAX_WINDOW_BITS);
    if let Some(bits) = config.client_max_window_bits {
        offer.push_str(&format!("={bits}"));
    }
    offer
}

/// The server's answer, checked against what was offered (`None`: nothing
/// was). `Ok(None)`: no extension in use.
///
/// # Errors
///
/// [`HyperSocketError::Handshake`] with a [`NegotiationError`] as its
/// source.
pub(crate) fn accept(
    offered: Option<&PerMessageDeflate>,
    answer: Option<&str>,
) -> Result<Option<Negotiated>> {
    check(offered, answer).map_err(|error| HyperSocketError::handshake(Arc::new(error)))
}

fn check(
    offered: Option<&PerMessageDeflate>,
    answer: Option<&str>,
) -> Result<Option<Negotiated>, NegotiationError> {
    let Some(answer) = answer else {
        return Ok(None);
    };
    let extensions = parse(answer)?;
    let mut extensions = extensions.into_iter();
    let Some((name, params)) = extensions.next() else {
        // An empty header: no extension.
        return Ok(None);
    };
    let Some(offered) = offered.filter(|_| name.eq_ignore_ascii_case(NAME)) else {
        return Err(NegotiationError::NotOffered(name));
    };
    if extensions.next().is_some() {
        return Err(NegotiationError::SeveralExtensions);
    }
    let mut negotiated = Negotiated {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: offered.client_max_window_bits.unwrap_or(15),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut server_window_answered = false;
    for (param, value) in params {
        let param = param.to_ascii_lowercase();
        if seen.contains(&param) {
            return Err(NegotiationError::Duplicate(param));
        }
        seen.push(param.clone());
        match param.as_str() {
            SERVER_NO_CONTEXT_TAKEOVER => {
                no_value(SERVER_NO_CONTEXT_TAKEOVER, value.as_deref())?;
                negotiated.server_no_context_takeover = true;
            }
            CLIENT_NO_CONTEXT_TAKEOVER => {
                no_value(CLIENT_NO_CONTEXT_TAKEOVER, value.as_deref())?;
                negotiated.client_no_context_takeover = true;
            }
            name @ (SERVER_MAX_WINDOW_BITS | CLIENT_MAX_WINDOW_BITS) => {
                // The server may name its window unasked, and ours since
                // we always offer it, never a larger one than offered
                // (§7.1.2).
                let server = name == SERVER_MAX_WINDOW_BITS;
                let (name, asked) = if server {
                    (SERVER_MAX_WINDOW_BITS, offered.server_max_window_bits)
                } else {
                    (CLIENT_MAX_WINDOW_BITS, offered.client_max_window_bits)
                };
                let bits = window_bits(name, value.as_deref())?;
                if let Some(asked) = asked
                    && bits > asked
                {
                    return Err(NegotiationError::WindowOverOffer {
                        name,
                        answered: bits,
                        offered: asked,
                    });
                }
                if server {
                    negotiated.server_max_window_bits = bits;
                    server_window_answered = true;
                } else {
                    negotiated.client_max_window_bits = bits;
                }
            }
            _ => return Err(NegotiationError::UnknownParameter(param)),
        }
    }
    // What the offer asked of the server, the server must say it does
    // (§7.1.1.1, §7.1.2.1).
    if offered.server_no_context_takeover && !negotiated.server_no_context_takeover {
        return Err(NegotiationError::Missing(SERVER_NO_CONTEXT_TAKEOVER));
    }
    if offered.server_max_window_bits.is_some() && !server_window_answered {
        return Err(NegotiationError::Missing(SERVER_MAX_WINDOW_BITS));
    }
    // Asked for, so honoured whether or not the server repeats it.
    negotiated.client_no_context_takeover |= offered.client_no_context_takeover;
    Ok(Some(negotiated))
}

fn no_value(name: &'static str, value: Option<&str>) -> Result<(), NegotiationError> {
    match value {
        None => Ok(()),
        Some(_) => Err(NegotiationError::UnexpectedValue(name)),
    }
}

/// A window size's bits: a decimal 8 to 15, no leading zero (§7.1.2).
fn window_bits(name: &'static str, value: Option<&str>) -> Result<u8, NegotiationError> {
    let invalid = || NegotiationError::InvalidValue {
        name,
        value: value.unwrap_or_default().to_owned(),
    };
    let value = value.ok_or_else(invalid)?;
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match value.parse::<u8>() {
        Ok(bits @ 8..=15) => Ok(bits),
        _ => Err(invalid()),
    }
}

/// One extension of a `Sec-WebSocket-Extensions` value: its name and
/// parameters (names and unquoted values).
type Extension = (String, Vec<(String, Option<String>)>);

/// Parses `1#extension` (RFC 6455 §9.1): `name *( ";" param )`, where a
/// param is `token [ "=" ( token | quoted-string ) ]`.
fn parse(value: &str) -> Result<Vec<Extension>, NegotiationError> {
    let malformed = || NegotiationError::Malformed(value.to_owned());
    let mut extensions = Vec::new();
    for extension in split_outside_quotes(value, ',') {
        let extension = extension.trim();
        if extension.is_empty() {
            // Empty list elements are allowed (RFC 9110 §5.6.1).
            continue;
        }
        let mut parts = split_outside_quotes(extension, ';').into_iter();
        let name = parts.next().unwrap_or_default().trim();
        if !is_token(name) {
            return Err(malformed());
        }
        let mut params = Vec::new();
        for part in parts {
            let (param, value) = match part.split_once('=') {
                Some((param, value)) => (
                    param.trim(),
                    Some(unquote(value.trim()).ok_or_else(malformed)?),
                ),
                None => (part.trim(), None),
            };
            if !is_token(param) || value.as_deref().is_some_and(|v| !is_token(v)) {
                return Err(malformed());
            }
            params.push((param.to_owned(), value));
        }
        extensions.push((name.to_owned(), params));
    }
    Ok(extensions)
}

/// Splits on `separator` except inside a quoted-string.
fn split_outside_quotes(value: &str, separator: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                pieces.push(&value[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    pieces.push(&value[start..]);
    pieces
}

/// A token as it is, or a quoted-string unescaped (`None`: not closed
/// right).
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Some(value.to_owned());
    };
    let inner = inner.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// An RFC 9110 token: visible ASCII but separators.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_offer() -> PerMessageDeflate {
        PerMessageDeflate::new()
    }

    fn accepted(offer: &PerMessageDeflate, answer: &str) -> Negotiated {
        check(Some(offer), Some(answer))
            .unwrap_or_else(|e| panic!("{answer:?} refused: {e}"))
            .expect("an extension")
    }

    fn refused(offer: Option<&PerMessageDeflate>, answer: &str) -> NegotiationError {
        match check(offer, Some(answer)) {
            Err(error) => error,
            Ok(negotiated) => panic!("{answer:?} accepted: {negotiated:?}"),
        }
    }

    #[test]
    fn offers_what_is_configured() {
        assert_eq!(
            offer(&default_offer()),
            "permessage-deflate; client_no_context_takeover; client_max_window_bits"
        );
        let all = PerMessageDeflate::new()
            .server_no_context_takeover(true)
            .client_no_context_takeover(false)
            .server_max_window_bits(Some(10))
            .client_max_window_bits(Some(9));
        assert_eq!(
            offer(&all),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9"
        );
    }

    #[test]
    fn accepts_what_servers_answer() {
        let offer = default_offer();
        let plain = accepted(&offer, "permessage-deflate");
        assert_eq!(
            plain,
            Negotiated {
                server_no_context_takeover: false,
                client_no_context_takeover: true,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            }
        );
        let all = accepted(
            &offer,
            "Permessage-Deflate ; Server_No_Context_Takeover; client_no_context_takeover; server_max_window_bits=\"9\"; client_max_window_bits=8",
        );
        assert!(all.server_no_context_takeover && all.client_no_context_takeover);
        assert_eq!(
            (all.server_max_window_bits, all.client_max_window_bits),
            (9, 8)
        );
        // No extension at all, or an empty list: plain frames.
        assert_eq!(check(Some(&offer), None), Ok(None));
        assert_eq!(check(Some(&offer), Some(" , ")), Ok(None));
        assert_eq!(check(None, None), Ok(None));
    }

    #[test]
    fn refuses_what_was_not_offered_or_cannot_be_honoured() {
        let offer = default_offer();
        assert_eq!(
            refused(None, "permessage-deflate"),
            NegotiationError::NotOffered("permessage-deflate".into())
        );
        assert!(matches!(
            refused(Some(&offer), "x-webkit-deflate-frame"),
            NegotiationError::NotOffered(_)
        ));
        assert_eq!(
            refused(Some(&offer), "permessage-deflate, permessage-deflate"),
            NegotiationError::SeveralExtensions
        );
        assert!(matches!(
            refused(Some(&offer), "permessage-deflate; mystery"),
            NegotiationError::UnknownParameter(_)
        ));
        assert!(matches!(
            refused(
                Some(&offer),
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
            ),
            NegotiationError::Duplicate(_)
        ));
        assert!(matches!(
            refused(
                Some(&offer),
                "permessage-deflate; server_no_context_takeover=1"
            ),
            NegotiationError::UnexpectedValue(_)
        ));
        for bad in ["7", "16", "09", "", "ten", "-9"] {
            let answer = format!("permessage-deflate; server_max_window_bits={bad}");
            assert!(
                matches!(
                    refused(Some(&offer), &answer),
                    NegotiationError::InvalidValue { .. } | NegotiationError::Malformed(_)
                ),
                "{answer}"
            );
        }
        assert!(matches!(
            refused(Some(&offer), "permessage-deflate; client_max_window_bits"),
            NegotiationError::InvalidValue { .. }
        ));
        assert!(matches!(
            refused(
                Some(&offer),
                "permessage-deflate; server_max_window_bits=\"9"
            ),
            NegotiationError::Malformed(_)
        ));

        let asking = PerMessageDeflate::new()
            .server_no_context_takeover(true)
            .server_max_window_bits(Some(10))
            .client_max_window_bits(Some(10));
        assert_eq!(
            refused(
                Some(&asking),
                "permessage-deflate; server_max_window_bits=10"
            ),
            NegotiationError::Missing(SERVER_NO_CONTEXT_TAKEOVER)
        );
        assert_eq!(
            refused(
                Some(&asking),
                "permessage-deflate; server_no_context_takeover"
            ),
            NegotiationError::Missing(SERVER_MAX_WINDOW_BITS)
        );
        assert_eq!(
            refused(
                Some(&asking),
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"
            ),
            NegotiationError::WindowOverOffer {
                name: SERVER_MAX_WINDOW_BITS,
                answered: 11,
                offered: 10
            }
        );
        assert_eq!(
            refused(
                Some(&asking),
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=12"
            ),
            NegotiationError::WindowOverOffer {
                name: CLIENT_MAX_WINDOW_BITS,
                answered: 12,
                offered: 10
            }
        );
    }

    #[test]
    fn a_refusal_is_a_handshake_error_that_says_why() {
        let error = accept(None, Some("permessage-deflate")).unwrap_err();
        assert_eq!(error.to_string(), "handshake failed");
        let source = std::error::Error::source(&error).expect("a source");
        assert_eq!(
            source.to_string(),
            "server accepted extension `permessage-deflate`, which was not offered"
        );
    }

    #[test]
    fn window_bits_settings_are_checked() {
        assert!(check_window_bits("s", None).is_ok());
        assert!(check_window_bits("s", Some(8)).is_ok());
        assert!(check_window_bits("s", Some(15)).is_ok());
        for bad in [0, 7, 16, 255] {
            let error = check_window_bits("s", Some(bad)).unwrap_err();
            assert!(matches!(
                error,
                HyperSocketError::InvalidConfiguration { .. }
            ));
        }
    }
}
