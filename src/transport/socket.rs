//! TCP and Unix domain sockets.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;

use rustix::net::{RecvFlags, SendFlags};

use super::{ConnectError, Idle, Transport, TransportOptions, Wait};
use crate::Address;

/// A connected socket, TCP or Unix.
#[derive(Debug)]
pub(crate) enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Socket {
    /// Connects within the connect timeout (per resolved address), then sets
    /// TCP_NODELAY, keepalive and the read timeout.
    pub(crate) fn connect(
        address: &Address,
        options: &TransportOptions,
    ) -> Result<Socket, ConnectError> {
        let socket = match address {
            Address::Unix(path) => {
                Socket::Unix(UnixStream::connect(path).map_err(ConnectError::Io)?)
            }
            Address::Tcp { host, port } => {
                let addrs: Vec<SocketAddr> = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(ConnectError::Lookup)?
                    .collect();
                if addrs.is_empty() {
                    return Err(ConnectError::Lookup(io::Error::new(
                        io::ErrorKind::NotFound,
                        "host resolved to no address",
                    )));
                }
                Socket::Tcp(connect_tcp(addrs, options).map_err(ConnectError::Io)?)
            }
        };
        // A zero duration means "block forever" to the OS; the builder refuses it.
        let timeout = options.read_timeout.filter(|t| !t.is_zero());
        match &socket {
            Socket::Tcp(s) => s.set_read_timeout(timeout),
            Socket::Unix(s) => s.set_read_timeout(timeout),
        }
        .map_err(ConnectError::Io)?;
        Ok(socket)
    }
}

/// The first of `addrs` that accepts within the connect timeout, with
/// TCP_NODELAY and keepalive set as asked.
fn connect_tcp(addrs: Vec<SocketAddr>, options: &TransportOptions) -> io::Result<TcpStream> {
    let mut last = io::Error::from(io::ErrorKind::NotFound);
    let mut connected = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, options.connect_timeout) {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let tcp = connected.ok_or(last)?;
    tcp.set_nodelay(options.tcp_nodelay)?;
    if options.tcp_keepalive {
        rustix::net::sockopt::set_socket_keepalive(&tcp, true)?;
    }
    Ok(tcp)
}

impl AsFd for Socket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Socket::Tcp(s) => s.as_fd(),
            Socket::Unix(s) => s.as_fd(),
        }
    }
}

impl Transport for Socket {
    fn fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }

    fn recv(&mut self, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
        recv(&*self, buf, wait)
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<usize> {
        send(&*self, bytes)
    }

    fn is_plain(&self) -> bool {
        true
    }

    fn idle(&mut self) -> Idle {
        // One syscall: a non-blocking peek says quiet, closed or stray.
        let mut probe = [0u8; 1];
        match rustix::net::recv(&*self, &mut probe, RecvFlags::PEEK | RecvFlags::DONTWAIT) {
            Ok((0, _)) => Idle::Closed,
            Ok(_) => Idle::Stray,
            Err(rustix::io::Errno::AGAIN) => Idle::Quiet,
            Err(_) => Idle::Closed,
        }
    }

    fn shutdown(&mut self) {
        let _ = match self {
            Socket::Tcp(s) => s.shutdown(Shutdown::Both),
            Socket::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }
}

/// Reads a socket into `buf` (see [`Transport::recv`]); also for a shared
/// connection's reader, which reads a duplicate of the socket's
/// descriptor without holding the connection's lock.
pub(crate) fn recv(socket: impl AsFd, buf: &mut [u8], wait: Wait) -> io::Result<usize> {
    let flags = match wait {
        Wait::Block => RecvFlags::empty(),
        Wait::NonBlock => RecvFlags::DONTWAIT,
    };
    loop {
        match rustix::net::recv(&socket, &mut *buf, flags) {
            Err(rustix::io::Errno::INTR) => continue,
            Ok((n, _)) => return Ok(n),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes what a socket takes now of `bytes`, without blocking (see
/// [`Transport::send`]); also for a shared connection's writer, as
/// [`recv`] is for its reader.
pub(crate) fn send(socket: impl AsFd, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match rustix::net::send(&socket, bytes, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
            Err(rustix::io::Errno::INTR) => continue,
            other => return other.map_err(io::Error::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_idle_check_tells_quiet_stray_and_closed_apart() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut socket = Socket::Unix(b);
        assert_eq!(socket.idle(), Idle::Quiet);
        a.write_all(b"x").unwrap();
        assert_eq!(socket.idle(), Idle::Stray);
        let mut buf = [0u8; 4];
        assert_eq!(socket.recv(&mut buf, Wait::NonBlock).unwrap(), 1);
        drop(a);
        assert_eq!(socket.idle(), Idle::Closed);
    }

    #[test]
    fn a_nonblocking_read_with_nothing_there_would_block() {
        let (_a, b) = UnixStream::pair().unwrap();
        let mut socket = Socket::Unix(b);
        let err = socket.recv(&mut [0u8; 4], Wait::NonBlock).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }
}
