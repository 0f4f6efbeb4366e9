//! TLS for `--tls-cert` / `--tls-key`: the same HTTP and WebSocket code then serves https://
//! and wss://. A connection is either a plain TCP stream or a TLS stream over one; everything
//! above reads and writes through [`Sock`] and its halves without knowing which.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A client that connects and never finishes the TLS handshake is dropped after this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the acceptor from a PEM certificate chain (leaf first) and a PEM private key; with
/// `client_ca`, clients must present a certificate signed by one of its CAs.
pub fn acceptor(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("--tls-cert {}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let bad = |e: String| format!("--tls-client-ca {}: {e}", path.display());
            let mut roots = rustls::RootCertStore::empty();
            for ca in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
                roots.add(ca.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder.with_single_cert(certs, key).map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Completes the server side of the TLS handshake within a bounded time.
pub async fn accept(acceptor: &TlsAcceptor, sock: TcpStream) -> io::Result<Sock> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(sock).into_fallible()).await {
        Ok(Ok(tls)) => Ok(Sock::Tls(Box::new(tls))),
        Ok(Err((e, sock))) => {
            linger(sock).await;
            Err(e)
        }
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "no TLS handshake")),
    }
}

/// Closes a connection whose handshake failed without losing the alert already sent: a TLS
/// 1.3 client sends its request right after its Finished, and closing with that request
/// unread would answer with a reset, which the client may see before the alert (say, that a
/// client certificate is required). So: no more writes, read what comes for a moment, close.
async fn linger(mut sock: TcpStream) {
    use tokio::io::AsyncReadExt;
    let _ = sock.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        while matches!(sock.read(&mut buf).await, Ok(n) if n > 0) {}
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// One accepted connection, plain or TLS.
pub enum Sock {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Sock {
    /// Separate reader and writer halves, each usable from its own task. A plain stream keeps
    /// tokio's lock-free split.
    pub fn into_split(self) -> (ReadHalf, WriteHalf) {
        match self {
            Sock::Plain(s) => {
                let (r, w) = s.into_split();
                (ReadHalf::Plain(r), WriteHalf::Plain(w))
            }
            Sock::Tls(s) => {
                let (r, w) = tokio::io::split(*s);
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        }
    }
}

pub enum ReadHalf {
    Plain(OwnedReadHalf),
    Tls(tokio::io::ReadHalf<TlsStream<TcpStream>>),
}

pub enum WriteHalf {
    Plain(OwnedWriteHalf),
    Tls(tokio::io::WriteHalf<TlsStream<TcpStream>>),
}

/// Writes all of `buf` and pushes it onto the wire. A TLS stream may keep encrypted records
/// buffered after `write_all` returns, so every complete answer is flushed; on plain TCP the
/// flush costs nothing.
pub async fn send<W: AsyncWrite + Unpin>(w: &mut W, buf: &[u8]) -> io::Result<()> {
    w.write_all(buf).await?;
    w.flush().await
}

macro_rules! delegate_read {
    ($t:ty, $($variant:ident),+) => {
        impl AsyncRead for $t {
            fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_read(cx, buf),)+
                }
            }
        }
    };
}

macro_rules! delegate_write {
    ($t:ty, $($variant:ident),+) => {
        impl AsyncWrite for $t {
            fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_write(cx, buf),)+
                }
            }
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_flush(cx),)+
                }
            }
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                match self.get_mut() {
                    $(Self::$variant(s) => Pin::new(s).poll_shutdown(cx),)+
                }
            }
        }
    };
}

delegate_read!(Sock, Plain, Tls);
delegate_write!(Sock, Plain, Tls);
delegate_read!(ReadHalf, Plain, Tls);
delegate_write!(WriteHalf, Plain, Tls);
