//! The exchange: a listener on `127.0.0.1` with a random free port, and the
//! loop that accepts (or refuses) connections.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout};
use tokio_rustls::TlsAcceptor;

use crate::connection::{serve, shut_down};
use crate::state::Shared;
use crate::tls::{self, TlsMaterial};
use crate::{Control, ExchangeConfig, Result, TestkitError};

/// A mock exchange: a real WebSocket server on `127.0.0.1` with a random free
/// port, serving market data streams and misbehaving on command.
///
/// Dropping it stops it at once (connections are dropped without a Close
/// frame); [`shutdown`](Self::shutdown) stops it cleanly. Handles from
/// [`control`](Self::control) keep the records readable after either.
#[derive(Debug)]
pub struct MockExchange {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: Option<TlsMaterial>,
    task: Option<JoinHandle<()>>,
}

impl MockExchange {
    /// Binds `127.0.0.1:0`, makes the TLS certificate when asked to, and
    /// starts serving in the background on the current tokio runtime.
    ///
    /// Must be called within a tokio runtime. Fails if the configuration is
    /// invalid (a zero rate or interval), or the listener or the TLS set-up
    /// fails.
    ///
    /// Cancel safe: if the future is dropped, nothing keeps running.
    pub async fn start(config: ExchangeConfig) -> Result<Self> {
        config.check().map_err(TestkitError::InvalidConfig)?;
        let tls = if config.tls {
            Some(tls::generate()?)
        } else {
            None
        };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(TestkitError::Bind)?;
        let addr = listener.local_addr().map_err(TestkitError::Bind)?;
        let shared = Arc::new(Shared::new(config));
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let task = tokio::spawn(accept_loop(Arc::clone(&shared), listener, acceptor));
        tracing::debug!(%addr, tls = tls.is_some(), "mock exchange started");
        Ok(Self {
            shared,
            addr,
            tls,
            task: Some(task),
        })
    }

    /// The URL clients connect to: `ws://127.0.0.1:PORT/ws`, or with TLS
    /// `wss://localhost:PORT/ws` (the certificate is valid for `localhost`
    /// and `127.0.0.1`). The path is the configured one.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!(
                "wss://localhost:{}{}",
                self.addr.port(),
                self.shared.config.path
            ),
            None => format!("ws://{}{}", self.addr, self.shared.config.path),
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The DER encoding of the root certificate a client must trust, with
    /// TLS; `None` without.
    pub fn root_certificate_der(&self) -> Option<&[u8]> {
        self.tls.as_ref().map(|t| t.root_der.as_slice())
    }

    /// The PEM encoding of the root certificate a client must trust, with
    /// TLS; `None` without.
    pub fn root_certificate_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.root_pem.as_str())
    }

    /// A handle to observe and command the exchange.
    pub fn control(&self) -> Control {
        Control::new(Arc::clone(&self.shared))
    }

    /// Stops accepting connections, closes every open connection with a
    /// Close frame (1001, `server shutdown`) and waits for them to end,
    /// dropping any still open after the close grace (default 1 s) and half
    /// a second more. Half-open and stalled connections are dropped.
    ///
    /// Cancel safe in effect: if the future is dropped, the exchange is
    /// stopped at once as if dropped.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockExchange {
    fn drop(&mut self) {
        // No shutdown signal: connections must not get the chance to send a
        // Close frame. Aborting the accept loop drops its connection tasks.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: Option<TlsAcceptor>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shut_down(&mut shutdown) => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => match shared.update(|s| s.admit(Instant::now())) {
                    Some(plan) => {
                        connections.spawn(serve(Arc::clone(&shared), tcp, peer, plan, tls.clone()));
                    }
                    None => {
                        tracing::debug!(%peer, "connection refused");
                        drop(tcp);
                    }
                },
                Err(error) => {
                    // Out of file descriptors and the like: let it pass.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
    drop(listener);
    let grace = shared.config.close_grace + Duration::from_millis(500);
    let _ = timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.shutdown().await;
}
