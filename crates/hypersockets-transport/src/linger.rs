//! A socket that closes gracefully: when the connection is dropped, its
//! sending side is shut (FIN) and what the peer still sends is read and
//! discarded, for a short while, in a task of its own.
//!
//! Dropping a TCP socket with unread bytes in its receive buffer makes the
//! kernel send a reset instead of a FIN, and a reset can destroy what the
//! peer has not read yet: the Close frame we just sent (with its 1002,
//! 1007 or 1009) would never reach the server. This is the "lingering
//! close" of HTTP servers (RFC 9112 §9.6).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How long a dropped connection keeps reading (and discarding) before the
/// socket is closed whatever the peer does.
const LINGER: Duration = Duration::from_secs(2);

/// `S`, closed gracefully when dropped (see the module docs).
#[derive(Debug)]
pub(crate) struct Linger<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    /// `None` only once dropped.
    inner: Option<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Linger<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner: Some(inner) }
    }

    fn inner(&mut self) -> &mut S {
        self.inner.as_mut().expect("taken only on drop")
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Linger<S> {
    fn drop(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            return;
        };
        // Outside a runtime (nothing to run the task on) the socket just closes.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(LINGER, async {
                if inner.shutdown().await.is_err() {
                    return;
                }
                let mut discard = [0u8; 4096];
                while let Ok(read) = inner.read(&mut discard).await {
                    if read == 0 {
                        break;
                    }
                }
            })
            .await;
        });
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncRead for Linger<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(self.inner()).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Linger<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.inner()).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self.inner()).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(S::is_write_vectored)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.inner()).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self.inner()).poll_shutdown(cx)
    }
}
