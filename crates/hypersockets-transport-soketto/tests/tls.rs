//! The default transport's suite `tls.rs`, run on `SokettoTransport`
//! (permessage-deflate not offered, its default): the same tests, a
//! different crate.

#[path = "../../hypersockets-transport/tests/support/mod.rs"]
mod support;

use hypersockets_transport_soketto::SokettoTransport as TransportUnderTest;

include!("../../hypersockets-transport/tests/suite/tls.rs");
