//! The socket under a connection: TCP or a Unix domain socket.

use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use crate::Address;

#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl Stream {
    /// Connects within `connect_timeout` (per resolved address), then sets
    /// TCP_NODELAY and the I/O timeouts.
    pub(crate) fn connect(
        address: &Address,
        connect_timeout: Duration,
        io_timeout: Option<Duration>,
        tcp_nodelay: bool,
        tcp_keepalive: bool,
    ) -> io::Result<Stream> {
        let stream = match address {
            Address::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
            Address::Tcp { host, port } => {
                let mut last =
                    io::Error::new(io::ErrorKind::NotFound, "host resolved to no address");
                let mut connected = None;
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect_timeout(&addr, connect_timeout) {
                        Ok(s) => {
                            connected = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let tcp = connected.ok_or(last)?;
                tcp.set_nodelay(tcp_nodelay)?;
                if tcp_keepalive {
                    rustix::net::sockopt::set_socket_keepalive(&tcp, true)?;
                }
                Stream::Tcp(tcp)
            }
        };
        stream.set_timeouts(io_timeout)?;
        Ok(stream)
    }

    pub(crate) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero duration means "block forever" to the OS; refuse it as std does.
        let timeout = timeout.filter(|t| !t.is_zero());
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
        }
    }

    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(bytes),
            Stream::Unix(s) => s.write_all(bytes),
        }
    }
}
