//! Bytes to and from one server: the transport under a connection.
//!
//! A [`Transport`] reads into a buffer, writes from one, says whether it
//! already holds input or still holds output (an encrypting transport
//! buffers both), and answers the idle check — has the peer closed, or sent
//! something nobody asked for? — itself, because only it knows which bytes
//! on the socket are replies (TLS sends session tickets unasked).
//! Connections and drivers speak to this interface only.

pub(crate) mod fork;
mod socket;
#[cfg(feature = "tls")]
mod tls;

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

pub(crate) use socket::{Socket, recv as recv_socket, send as send_socket};
#[cfg(feature = "tls")]
pub use tls::TlsConfig;
#[cfg(feature = "tls")]
pub(crate) use tls::TlsSetup;

use crate::Address;

/// Whether a read may wait for data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Wait up to the transport's read timeout.
    Block,
    /// Return `WouldBlock` at once if nothing is there.
    NonBlock,
}

/// What an idle connection's transport finds when asked without blocking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idle {
    /// Nothing to read: the connection is usable.
    Quiet,
    /// The peer closed the connection (or it failed).
    Closed,
    /// The peer sent bytes nobody asked for.
    Stray,
}

/// How a connection's transport is made.
#[derive(Debug, Clone)]
pub(crate) struct TransportOptions {
    /// How long a TCP connect (per resolved address), and a TLS handshake
    /// after it, may take.
    pub(crate) connect_timeout: Duration,
    /// How long a blocking read may wait; `None` forever.
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) tcp_nodelay: bool,
    pub(crate) tcp_keepalive: bool,
    /// Speak TLS over the TCP connection.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<TlsSetup>,
}

impl TransportOptions {
    /// Whether connections speak TLS.
    pub(crate) fn has_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        return self.tls.is_some();
        #[cfg(not(feature = "tls"))]
        return false;
    }
}

impl Default for TransportOptions {
    /// A 1 s connect timeout, no read timeout, `TCP_NODELAY`, no keepalive,
    /// plain TCP.
    fn default() -> TransportOptions {
        TransportOptions {
            connect_timeout: Duration::from_secs(1),
            read_timeout: None,
            tcp_nodelay: true,
            tcp_keepalive: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

/// The negotiated TLS session of a connection.
///
/// ```
/// let s = quickmc::TlsSession { version: "TLSv1_3".into(), cipher: "TLS13_AES_256_GCM_SHA384".into() };
/// assert!(s.version.contains("1_3"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSession {
    /// The protocol version (`TLSv1_3`, `TLSv1_2`).
    pub version: String,
    /// The cipher suite.
    pub cipher: String,
}

/// Why a transport could not be made.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// The socket could not connect (or timed out).
    Io(io::Error),
    /// The server's host name could not be resolved.
    Lookup(io::Error),
    /// The TLS handshake failed, and why.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Tls(String),
}

/// One peer's byte stream. Writes never block: a driver waits for
/// writability itself (see [`Transport::fd`]), so it can read replies while
/// its requests are still going out.
pub(crate) trait Transport: Send + fmt::Debug {
    /// The socket, for readiness polling.
    fn fd(&self) -> BorrowedFd<'_>;
    /// Reads into `buf`; `Ok(0)` means the peer closed.
    fn recv(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize>;
    /// Writes what the socket takes now; `WouldBlock` if nothing.
    fn send(&mut self, bytes: &[u8]) -> io::Result<usize>;
    /// Pushes output the transport itself still holds, without blocking.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Whether the transport holds output the socket has not taken yet.
    fn has_pending_output(&self) -> bool {
        false
    }
    /// Whether input can be read without waiting on the socket.
    fn has_buffered_input(&self) -> bool {
        false
    }
    /// Whether the bytes on the socket are the replies themselves, so a
    /// read straight from its descriptor may stand for [`recv`](Transport::recv)
    /// (not so when the transport decrypts them).
    fn is_plain(&self) -> bool {
        false
    }
    /// The idle check, without blocking.
    fn idle(&mut self) -> Idle;
    /// Closes the stream for writing and reading.
    fn shutdown(&mut self);
    /// The TLS session, for a TLS transport.
    fn tls_session(&self) -> Option<TlsSession> {
        None
    }
}

/// Connects to `address`: a plain socket, or TLS over TCP when configured.
pub(crate) fn connect(
    address: &Address,
    options: &TransportOptions,
) -> Result<Box<dyn Transport>, ConnectError> {
    #[cfg(feature = "tls")]
    if let Some(setup) = &options.tls {
        return Ok(Box::new(tls::TlsStream::connect(address, options, setup)?));
    }
    Ok(Box::new(Socket::connect(address, options)?))
}
