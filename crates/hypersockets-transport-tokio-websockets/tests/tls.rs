//! The default transport's suite `tls.rs`, run on
//! `TokioWebsocketsTransport`: the same tests, a different crate.

#[path = "../../hypersockets-transport/tests/support/mod.rs"]
mod support;

use hypersockets_transport_tokio_websockets::TokioWebsocketsTransport as TransportUnderTest;

include!("../../hypersockets-transport/tests/suite/tls.rs");
