//! Handshake headers, asked for afresh on every connect.

use crate::{BoxError, BoxFuture};

/// Supplies the HTTP headers of the WebSocket handshake.
///
/// Asked on every connect and reconnect, because tokens expire.
///
/// ```
/// use hypersockets_core::{BoxError, BoxFuture, HeaderProvider};
///
/// struct Bearer;
///
/// impl HeaderProvider for Bearer {
///     fn headers(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, BoxError>> {
///         Box::pin(async {
///             let token = "fresh-token"; // fetched or signed here
///             Ok(vec![("Authorization".to_owned(), format!("Bearer {token}"))])
///         })
///     }
/// }
/// ```
pub trait HeaderProvider: Send + Sync + 'static {
    /// The headers for the next handshake, as name/value pairs.
    fn headers(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, BoxError>>;
}

/// A [`HeaderProvider`] that always returns the same headers.
///
/// ```
/// use hypersockets_core::StaticHeaders;
///
/// let headers = StaticHeaders::new([("X-Api-Key", "abc")]);
/// assert_eq!(headers.pairs()[0].0, "X-Api-Key");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StaticHeaders(Vec<(String, String)>);

impl StaticHeaders {
    /// Headers from name/value pairs.
    pub fn new<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<String>,
        V: Into<String>,
    {
        Self(
            pairs
                .into_iter()
                .map(|(n, v)| (n.into(), v.into()))
                .collect(),
        )
    }

    /// The pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

impl HeaderProvider for StaticHeaders {
    fn headers(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, BoxError>> {
        let pairs = self.0.clone();
        Box::pin(async move { Ok(pairs) })
    }
}
