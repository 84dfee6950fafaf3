//! TLS for `wss://`: which roots to trust, and the client handshake with
//! tokio-rustls over an open TCP stream.

use std::fmt;
use std::sync::Arc;
#[cfg(any(feature = "rustls-webpki-roots", feature = "rustls-native-roots"))]
use std::sync::OnceLock;

use hypersockets_core::{HyperSocketError, Result};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Which server certificates a [`TungsteniteTransport`] trusts on `wss://`.
///
/// Every configuration built here uses rustls with the *ring* crypto provider
/// set explicitly, so none depends on a process-wide default provider being
/// installed. Cloning is cheap: the rustls configuration is shared.
///
/// | constructor | trusts | feature |
/// | --- | --- | --- |
/// | `webpki_roots` | Mozilla's root certificates, compiled in | `rustls-webpki-roots` (default) |
/// | `native_roots` | the operating system's certificate store, read once | `rustls-native-roots` |
/// | [`with_root_certificates`](Self::with_root_certificates) | exactly the given roots (a private CA, a test CA) | |
/// | [`custom`](Self::custom) | whatever the given rustls configuration says | |
///
/// A transport given none uses Mozilla's roots with `rustls-webpki-roots`,
/// else the OS store with `rustls-native-roots` (read on the first `wss://`
/// connect), else refuses `wss://` with
/// [`HyperSocketError::InvalidConfiguration`] for the setting `tls`.
///
/// ```
/// use hypersockets_transport::{TlsConfig, TungsteniteTransport};
///
/// // A private CA, given as DER bytes.
/// # fn ca_der() -> Vec<u8> { Vec::new() }
/// let private = TlsConfig::with_root_certificates([ca_der()]);
/// assert!(private.is_err(), "an empty buffer is no certificate");
///
/// // Mozilla's roots: what `TungsteniteTransport::new()` uses anyway.
/// # #[cfg(feature = "rustls-webpki-roots")]
/// let transport = TungsteniteTransport::new().tls(TlsConfig::webpki_roots());
/// ```
///
/// [`TungsteniteTransport`]: crate::TungsteniteTransport
#[derive(Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    roots: Roots,
}

/// Where the roots came from, for `Debug`.
#[derive(Clone, Copy)]
enum Roots {
    #[cfg(feature = "rustls-webpki-roots")]
    Webpki,
    #[cfg(feature = "rustls-native-roots")]
    Native(usize),
    Certificates(usize),
    Custom,
}

impl TlsConfig {
    /// Trusts Mozilla's root certificates (the `webpki-roots` crate, compiled
    /// in): the same answer on every machine, no file read. The default.
    ///
    /// The configuration is built once per process and shared.
    #[cfg(feature = "rustls-webpki-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls-webpki-roots")))]
    pub fn webpki_roots() -> Self {
        static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        let config = CONFIG.get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            Arc::new(client_config(roots))
        });
        Self {
            config: Arc::clone(config),
            roots: Roots::Webpki,
        }
    }

    /// Trusts the operating system's certificate store (through
    /// `rustls-native-certs`; honours `SSL_CERT_FILE` and `SSL_CERT_DIR`).
    ///
    /// Reads the store now, once, blocking: call it at start-up, not inside a
    /// hot async task. Certificates that fail to load or parse are skipped
    /// with a warning.
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::Tls`] when not a single usable root certificate
    /// was found; its source is the first error met while loading, if any.
    #[cfg(feature = "rustls-native-roots")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls-native-roots")))]
    pub fn native_roots() -> Result<Self> {
        let loaded = rustls_native_certs::load_native_certs();
        for error in &loaded.errors {
            tracing::warn!(%error, "could not load some native root certificates");
        }
        let mut roots = RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(loaded.certs);
        if ignored > 0 {
            tracing::warn!(ignored, "skipped unparsable native root certificates");
        }
        if added == 0 {
            let source: Box<dyn std::error::Error + Send + Sync> =
                match loaded.errors.into_iter().next() {
                    Some(error) => Box::new(error),
                    None => "no usable root certificate in the native certificate store".into(),
                };
            return Err(HyperSocketError::Tls(source.into()));
        }
        Ok(Self {
            config: Arc::new(client_config(roots)),
            roots: Roots::Native(added),
        })
    }

    /// Trusts exactly the given root certificates, and nothing else: for a
    /// private certificate authority, or a test server's generated one.
    ///
    /// Takes DER: `Vec<u8>`, `&'static [u8]` or rustls'
    /// [`CertificateDer`](rustls::pki_types::CertificateDer).
    ///
    /// # Errors
    ///
    /// [`HyperSocketError::Tls`] when a certificate does not parse, or when
    /// none is given.
    pub fn with_root_certificates<I, C>(certificates: I) -> Result<Self>
    where
        I: IntoIterator<Item = C>,
        C: Into<CertificateDer<'static>>,
    {
        let mut roots = RootCertStore::empty();
        for certificate in certificates {
            roots
                .add(certificate.into())
                .map_err(|error| HyperSocketError::Tls(Arc::new(error)))?;
        }
        if roots.is_empty() {
            return Err(HyperSocketError::Tls(
                hypersockets_core::BoxError::from("no root certificate given").into(),
            ));
        }
        let count = roots.len();
        Ok(Self {
            config: Arc::new(client_config(roots)),
            roots: Roots::Certificates(count),
        })
    }

    /// Uses a complete rustls client configuration as it is: its roots, its
    /// certificate verifier, client certificates, protocol versions and crypto
    /// provider.
    ///
    /// Build it with `ClientConfig::builder_with_provider` (for example
    /// `rustls::crypto::ring::default_provider()`) unless the process installs
    /// a default provider. Leave its ALPN protocols empty (or `http/1.1`):
    /// the WebSocket handshake is HTTP/1.1.
    pub fn custom(config: Arc<ClientConfig>) -> Self {
        Self {
            config,
            roots: Roots::Custom,
        }
    }

    /// The rustls client configuration used for every `wss://` connect.
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// What a transport given no [`TlsConfig`] trusts: Mozilla's roots.
    #[cfg(feature = "rustls-webpki-roots")]
    pub(crate) fn from_features() -> Result<Self> {
        Ok(Self::webpki_roots())
    }

    /// What a transport given no [`TlsConfig`] trusts: the OS store, read on
    /// first use and kept for the process (a store with no usable root is
    /// read again next time).
    #[cfg(all(feature = "rustls-native-roots", not(feature = "rustls-webpki-roots")))]
    pub(crate) fn from_features() -> Result<Self> {
        static NATIVE: OnceLock<TlsConfig> = OnceLock::new();
        if let Some(config) = NATIVE.get() {
            return Ok(config.clone());
        }
        let config = Self::native_roots()?;
        Ok(NATIVE.get_or_init(|| config).clone())
    }

    /// What a transport given no [`TlsConfig`] trusts: nothing, without a
    /// root feature; `wss://` needs a configuration.
    #[cfg(not(any(feature = "rustls-webpki-roots", feature = "rustls-native-roots")))]
    pub(crate) fn from_features() -> Result<Self> {
        Err(no_roots())
    }
}

/// The error of a `wss://` connect with no roots to trust: a configuration
/// error, so no reconnect retries it.
#[cfg(any(
    test,
    not(any(feature = "rustls-webpki-roots", feature = "rustls-native-roots"))
))]
fn no_roots() -> HyperSocketError {
    HyperSocketError::invalid_config(
        "tls",
        "no trusted roots for wss://: enable the `rustls-webpki-roots` or \
         `rustls-native-roots` feature, or give the transport a TlsConfig",
    )
}

#[cfg(feature = "rustls-webpki-roots")]
impl Default for TlsConfig {
    /// [`TlsConfig::webpki_roots`].
    fn default() -> Self {
        Self::webpki_roots()
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TlsConfig");
        match self.roots {
            #[cfg(feature = "rustls-webpki-roots")]
            Roots::Webpki => out.field("roots", &"webpki"),
            #[cfg(feature = "rustls-native-roots")]
            Roots::Native(count) => out.field("roots", &"native").field("count", &count),
            Roots::Certificates(count) => {
                out.field("roots", &"certificates").field("count", &count)
            }
            Roots::Custom => out.field("roots", &"custom"),
        };
        out.finish_non_exhaustive()
    }
}

/// A client configuration on the ring provider trusting `roots`.
fn client_config(roots: RootCertStore) -> ClientConfig {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        // The ring provider supports every safe default protocol version.
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// The TLS client handshake over `stream`, for the server name `host` (a DNS
/// name or an IP address, without brackets).
pub(crate) async fn handshake<S>(config: &TlsConfig, host: &str, stream: S) -> Result<TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let server_name = ServerName::try_from(host.to_owned()).map_err(|e| {
        HyperSocketError::invalid_config("url", format!("bad tls server name: {e}"))
    })?;
    TlsConnector::from(Arc::clone(&config.config))
        .connect(server_name, stream)
        .await
        .map_err(io_error)
}

/// Ours from an I/O error that may carry a rustls error: tokio-rustls (and
/// tungstenite reading through it) wrap every TLS failure in an
/// `io::Error`. Those become [`HyperSocketError::Tls`] with the rustls error
/// as the source; anything else stays an I/O error.
pub(crate) fn io_error(error: std::io::Error) -> HyperSocketError {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<rustls::Error>())
    {
        if let Some(inner) = error.into_inner() {
            return HyperSocketError::Tls(inner.into());
        }
        // Unreachable: `get_ref` just saw an inner error.
        return HyperSocketError::Tls(hypersockets_core::BoxError::from("tls error").into());
    }
    HyperSocketError::from(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "rustls-webpki-roots")]
    #[test]
    fn webpki_roots_are_built_once_and_shared() {
        let a = TlsConfig::webpki_roots();
        let b = TlsConfig::default();
        assert!(Arc::ptr_eq(a.client_config(), b.client_config()));
        assert!(format!("{a:?}").contains("webpki"));
    }

    #[test]
    fn garbage_certificates_are_tls_errors() {
        let err = TlsConfig::with_root_certificates([vec![1u8, 2, 3]]).unwrap_err();
        assert!(matches!(err, HyperSocketError::Tls(_)), "{err:?}");
        let err = TlsConfig::with_root_certificates(Vec::<Vec<u8>>::new()).unwrap_err();
        assert!(matches!(err, HyperSocketError::Tls(_)), "{err:?}");
    }

    #[test]
    fn io_errors_carrying_rustls_errors_become_tls_errors() {
        let wrapped =
            std::io::Error::new(std::io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        match io_error(wrapped) {
            HyperSocketError::Tls(source) => {
                assert!(source.downcast_ref::<rustls::Error>().is_some());
            }
            other => panic!("expected a tls error, got {other:?}"),
        }
        let plain = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(matches!(io_error(plain), HyperSocketError::Io(_)));
    }

    #[test]
    fn custom_configs_are_kept_as_given() {
        let config = Arc::new(client_config(RootCertStore::empty()));
        let custom = TlsConfig::custom(Arc::clone(&config));
        assert!(Arc::ptr_eq(custom.client_config(), &config));
        assert!(format!("{custom:?}").contains("custom"));
    }

    #[cfg(feature = "rustls-webpki-roots")]
    #[test]
    fn the_default_roots_are_mozillas_with_that_feature() {
        let config = TlsConfig::from_features().unwrap();
        assert!(Arc::ptr_eq(
            config.client_config(),
            TlsConfig::webpki_roots().client_config()
        ));
    }

    // This crate's tests run with every feature (see its dev-dependencies),
    // so the error is checked here, and its use without the features by
    // `cargo check --no-default-features`.
    #[test]
    fn without_a_root_feature_wss_is_a_configuration_error_naming_tls() {
        let err = no_roots();
        assert!(
            matches!(
                err,
                HyperSocketError::InvalidConfiguration { setting: "tls", .. }
            ),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("rustls-webpki-roots"), "{err}");
    }
}
