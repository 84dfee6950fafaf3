//! Compressed frames, as HTX and others send them.

use std::io::Write;

use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

/// How a [`MockExchange`](crate::MockExchange) compresses what it sends.
/// Default: [`None`](Self::None).
///
/// Every data message the exchange writes (market data, answers to
/// requests, application pings) goes out as a binary frame holding the
/// compressed text, as HTX (gzip), BingX (gzip) or OKX's former v3 API
/// (raw deflate) do. Protocol control frames are never compressed, and the
/// exchange's records ([`Control::written`](crate::Control::written),
/// [`Control::sent`](crate::Control::sent)) keep the text as it was before
/// compression. What the client sends is read as it comes (these venues
/// take plain-text answers).
///
/// ```
/// use hypersockets_testkit::{Compression, ExchangeConfig};
///
/// let htx_like = ExchangeConfig::new().compression(Compression::Gzip);
/// # drop(htx_like);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Frames go out as they are: text as text.
    #[default]
    None,
    /// One gzip member per frame (RFC 1952).
    Gzip,
    /// One zlib stream per frame (RFC 1950).
    Zlib,
    /// Raw deflate per frame (RFC 1951).
    Deflate,
}

impl Compression {
    /// `data` compressed this way; `None` for [`Compression::None`].
    ///
    /// ```
    /// use hypersockets_testkit::Compression;
    ///
    /// let gzip = Compression::Gzip.compress(b"{\"ping\":1}").unwrap();
    /// assert_eq!(&gzip[..2], &[0x1f, 0x8b]);
    /// assert_eq!(Compression::None.compress(b"x"), None);
    /// ```
    pub fn compress(self, data: &[u8]) -> Option<Vec<u8>> {
        // Writing to a `Vec` cannot fail.
        let level = flate2::Compression::fast();
        let out = Vec::with_capacity(data.len() / 2 + 32);
        match self {
            Self::None => None,
            Self::Gzip => finish(GzEncoder::new(out, level), data, GzEncoder::finish),
            Self::Zlib => finish(ZlibEncoder::new(out, level), data, ZlibEncoder::finish),
            Self::Deflate => finish(
                DeflateEncoder::new(out, level),
                data,
                DeflateEncoder::finish,
            ),
        }
    }
}

fn finish<W: Write>(
    mut encoder: W,
    data: &[u8],
    end: impl FnOnce(W) -> std::io::Result<Vec<u8>>,
) -> Option<Vec<u8>> {
    encoder.write_all(data).ok()?;
    end(encoder).ok()
}
