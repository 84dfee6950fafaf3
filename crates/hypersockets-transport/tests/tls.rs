//! The transport suite `suite/tls.rs` on `TungsteniteTransport`; the
//! other transport crates run the same file on theirs.

mod support;

use hypersockets_transport::TungsteniteTransport as TransportUnderTest;

include!("suite/tls.rs");
