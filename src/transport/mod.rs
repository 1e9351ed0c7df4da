//! Bytes to and from one server: the transport under a connection.
//!
//! A [`Transport`] reads into a buffer, writes from one, says whether it
//! already holds input or still holds output (an encrypting transport
//! buffers both), and answers the idle check — has the peer closed, or sent
//! something nobody asked for? — itself, because only it knows which bytes
//! on the socket are replies (TLS sends session tickets unasked).
//! Connections and drivers speak to this interface only.

mod socket;

use std::fmt;
use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

pub(crate) use socket::Socket;

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
    /// How long a TCP connect (per resolved address) may take.
    pub(crate) connect_timeout: Duration,
    /// How long a blocking read may wait; `None` forever.
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) tcp_nodelay: bool,
    pub(crate) tcp_keepalive: bool,
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
    /// The idle check, without blocking.
    fn idle(&mut self) -> Idle;
    /// Closes the stream for writing and reading.
    fn shutdown(&mut self);
}

/// Connects a plain socket to `address`.
pub(crate) fn connect(
    address: &Address,
    options: &TransportOptions,
) -> io::Result<Box<dyn Transport>> {
    Ok(Box::new(Socket::connect(address, options)?))
}
