//! Compile-time checks that the shared types can cross threads.

use hypersockets_core::{
    ClientEvent, CloseCode, CloseFrame, ConnectRequest, Connection, ConnectionState,
    DisconnectReason, ExponentialBackoff, FixedInterval, HyperSocketError, JsonPing,
    NeverReconnect, ParseError, PassThrough, StaticHeaders, TextPing, TransportLimits, Utf8Bytes,
    WsMessage,
};

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}
fn assert_static<T: 'static>() {}

#[test]
fn shared_types_are_send_and_sync() {
    assert_send_sync::<WsMessage>();
    assert_send_sync::<Utf8Bytes>();
    assert_send_sync::<CloseCode>();
    assert_send_sync::<CloseFrame>();
    assert_send_sync::<HyperSocketError>();
    assert_send_sync::<ParseError>();
    assert_send_sync::<ClientEvent>();
    assert_send_sync::<DisconnectReason>();
    assert_send_sync::<ConnectionState>();
    assert_send_sync::<ConnectRequest>();
    assert_send_sync::<TransportLimits>();
    assert_send_sync::<ExponentialBackoff>();
    assert_send_sync::<FixedInterval>();
    assert_send_sync::<NeverReconnect>();
    assert_send_sync::<TextPing>();
    assert_send_sync::<JsonPing>();
    assert_send_sync::<StaticHeaders>();
    assert_send_sync::<PassThrough>();
}

#[test]
fn connection_is_send() {
    assert_send::<Connection>();
    assert_static::<Connection>();
}

#[test]
fn errors_fit_in_a_box_error() {
    // `?` in handlers and providers needs `Into<BoxError>`.
    let _: hypersockets_core::BoxError = Box::new(HyperSocketError::NotConnected);
    let _: hypersockets_core::BoxError = Box::new(ParseError::new("x"));
}
