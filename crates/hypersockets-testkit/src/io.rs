//! The server's socket: plain TCP or TLS over TCP, with a gate that can
//! stall writes (to stall a handshake after reading its request) and access
//! to the TCP socket underneath (for resets and raw bytes).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

#[derive(Debug)]
enum Inner {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One server-side socket.
#[derive(Debug)]
pub(crate) struct ServerIo {
    inner: Inner,
    stall_writes: Arc<AtomicBool>,
}

impl ServerIo {
    pub(crate) fn plain(tcp: TcpStream) -> Self {
        Self {
            inner: Inner::Plain(tcp),
            stall_writes: Arc::default(),
        }
    }

    pub(crate) fn tls(tls: TlsStream<TcpStream>) -> Self {
        Self {
            inner: Inner::Tls(Box::new(tls)),
            stall_writes: Arc::default(),
        }
    }

    /// Setting this flag makes every later write wait forever.
    pub(crate) fn stall_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stall_writes)
    }

    /// The TCP socket underneath.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match &self.inner {
            Inner::Plain(tcp) => tcp,
            Inner::Tls(tls) => tls.get_ref().0,
        }
    }

    fn stalled(&self) -> bool {
        self.stall_writes.load(Ordering::Acquire)
    }
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.stalled() {
            // Never woken: the owner stops waiting when the exchange shuts down.
            return Poll::Pending;
        }
        match &mut this.inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.stalled() {
            return Poll::Pending;
        }
        match &mut this.inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Inner::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
