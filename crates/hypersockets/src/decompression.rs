//! Which compressed frames the client inflates.

/// How the client inflates compressed frames, before the passive ping
/// detector, the heartbeat filter, the auth provider and the router see
/// them. Default: [`Off`](Self::Off).
///
/// Venues such as HTX, BingX and Bitmart send every message, their pings
/// included, as a binary frame holding one gzip member; others use zlib or
/// raw deflate. The inflated message is a text message when it is valid
/// UTF-8 (JSON always is), a binary one otherwise. Text frames are never
/// compressed and pass as they are.
///
/// An inflated message is held to the client's maximum message size
/// ([`TransportLimits::max_message_size`](crate::TransportLimits::max_message_size)):
/// inflating stops at the limit, so a "zip bomb" costs at most that much
/// memory, and the connection is closed with 1009
/// ([`HyperSocketError::MessageTooLarge`](crate::HyperSocketError::MessageTooLarge)).
/// A frame that does not inflate (another format, corrupt, truncated, a
/// wrong checksum) closes it with 1007
/// ([`HyperSocketError::Decompression`](crate::HyperSocketError::Decompression)).
/// Either way the client reconnects: no message is skipped silently.
///
/// Answers to the venue's pings ([`JsonPing`](crate::JsonPing) for HTX's
/// `{"ping":N}`) and everything the client sends go out uncompressed, as
/// these venues expect.
///
/// ```
/// # use hypersockets::prelude::*;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// use hypersockets::{Decompression, JsonPing};
///
/// let client = WebSocketClient::builder()
///     .url("wss://api.huobi.pro/ws")
///     .router(PassThrough)
///     .handler((), handler_fn(|_message: WsMessage| Ok::<_, BoxError>(())))
///     .decompression(Decompression::Gzip)
///     .ping_detector(JsonPing::new("ping", "pong"))
///     .build()?;
/// # client.close().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Decompression {
    /// Frames go on as they arrive.
    #[default]
    Off,
    /// Every binary frame is one gzip member (RFC 1952), its CRC-32
    /// checked: HTX, BingX, Bitmart.
    Gzip,
    /// Every binary frame is a zlib stream (RFC 1950), its Adler-32
    /// checked.
    Zlib,
    /// Every binary frame is raw deflate (RFC 1951), no header, no
    /// checksum: OKX's former v3 API, among others.
    Deflate,
    /// Binary frames that start with a gzip or zlib header are inflated as
    /// such; other binary frames pass as they are. Raw deflate has no
    /// header to recognise: ask for [`Deflate`](Self::Deflate) by name.
    Auto,
}
