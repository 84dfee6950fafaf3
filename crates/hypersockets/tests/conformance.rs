//! The transport conformance suite: every test in `conformance/` runs once
//! per transport, through the client, against the testkit's mock exchange
//! (`ws://` and `wss://`, its faults and handshake refusals) and against
//! hand-written raw servers (frames no conforming server would send).
//!
//! Adding a transport is one line in the `conformance!` call at the bottom:
//! a name and a function from the TLS roots to trust (`None`: the
//! transport's defaults) to the transport. Each test is then named after it,
//! e.g. `tungstenite::close_codes::server_code_4000_reaches_the_events`.
//!
//! Areas, one module each:
//! - `delivery`: `wss://` with a reconnect, TLS refusals, framing (one byte
//!   at a time, fragments, every length form);
//! - `faults`: every `Fault` the testkit injects, and its scripted refusals,
//!   each through the recovery drill (`recovery/mod.rs`);
//! - `limits`: message and frame size limits;
//! - `close_codes`: the server's Close frames, valid and not, and the
//!   client's own close;
//! - `control_frames`: pings, pongs, and control frames that break the rules;
//! - `bad_frames`: frames that break RFC 6455 otherwise;
//! - `handshake`: refused and broken handshakes;
//! - `socket`: what the transport sets on its socket.

mod recovery;
mod support;

use hypersockets::{
    PerMessageDeflate, SokettoTransport, TlsConfig, TokioWebsocketsTransport, TungsteniteTransport,
};

/// One module per transport, named `$name`, holding every area of
/// `conformance/` with `transport(tls)` built by `$make`: an expression
/// that can be called with an `Option<TlsConfig>` and returns the transport
/// (trusting those roots for `wss://` when given). Attributes (`#[cfg]`)
/// apply to the transport's module.
macro_rules! conformance {
    ($($(#[$attr:meta])* $name:ident => $make:expr),+ $(,)?) => {$(
        $(#[$attr])*
        #[path = "conformance"]
        // The same files in every transport's module: that is the point.
        #[allow(clippy::duplicate_mod)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            /// The transport under test; `tls`: the roots `wss://` trusts,
            /// `None` for the transport's defaults.
            pub(crate) fn transport(
                tls: Option<hypersockets::TlsConfig>,
            ) -> impl hypersockets::Transport {
                let make = $make;
                make(tls)
            }

            /// The transport under test with its default TLS roots.
            pub(crate) fn plain() -> impl hypersockets::Transport {
                transport(None)
            }

            mod bad_frames;
            mod close_codes;
            mod control_frames;
            mod delivery;
            mod faults;
            mod handshake;
            mod limits;
            mod socket;
        }
    )+};
}

conformance! {
    tungstenite => |tls: Option<TlsConfig>| match tls {
        Some(tls) => TungsteniteTransport::new().tls(tls),
        None => TungsteniteTransport::new(),
    },
    tokio_websockets => |tls: Option<TlsConfig>| match tls {
        Some(tls) => TokioWebsocketsTransport::new().tls(tls),
        None => TokioWebsocketsTransport::new(),
    },
    // With permessage-deflate offered: the mock and the raw servers decline
    // it, and everything else must hold as without it.
    soketto => |tls: Option<TlsConfig>| {
        let transport = SokettoTransport::new().permessage_deflate(Some(PerMessageDeflate::new()));
        match tls {
            Some(tls) => transport.tls(tls),
            None => transport,
        }
    },
}
