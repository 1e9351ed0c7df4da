//! One connection to one server: a transport, reused buffers, the opaque
//! counter and a `broken` flag — and the driver that runs exchanges on it.
//!
//! The connection moves bytes and never interprets them: requests come from
//! an [`Exchange`](crate::command::Exchange), reply frames go back to it.
//! Any I/O error, timeout, undecodable reply, or a reply left half read
//! sets the flag, and a broken connection is never used again, so a caller
//! can never read a reply meant for somebody else.

mod driver;
mod read_buffer;
mod shared;
#[cfg(feature = "tokio")]
mod shared_async;
mod text;
mod thread_wake;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use driver::{Deadline, Driver, Failure, Lane, Stepped, drive};
use read_buffer::ReadBuffer;
pub(crate) use shared::{Job, SharedConnection, SharedDriver};
#[cfg(feature = "tokio")]
pub(crate) use shared_async::AsyncDriver;
pub(crate) use text::text_command;

use crate::command::{Command, Noop, SaslPlain, Single};
use crate::transport::{self, ConnectError, Idle, TlsSession, Transport, TransportOptions, fork};
use crate::{Address, Error, Result};

/// SASL PLAIN credentials.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// How connections are made.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionOptions {
    pub(crate) transport: TransportOptions,
    /// How long one operation's reply may take; `None` waits forever.
    pub(crate) io_timeout: Option<Duration>,
    /// The largest value accepted from the network: a reply declaring more
    /// is refused from its header alone.
    pub(crate) max_value: u32,
    pub(crate) credentials: Option<Credentials>,
}

/// A connection to one memcached server.
pub(crate) struct Connection {
    transport: Box<dyn Transport>,
    server: Arc<str>,
    write: Vec<u8>,
    read: ReadBuffer,
    next_opaque: u32,
    broken: bool,
    /// The fork generation it was made in (a forked child must not shut
    /// down the parent's socket or TLS session).
    forks: u64,
    max_value: u32,
    io_timeout: Option<Duration>,
    /// Whether an exchange ever completed on this connection.
    proven: bool,
    created: Instant,
    /// When the last exchange completed (or the connection was made).
    answered: Instant,
    generation: u64,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

/// A connection that completed an exchange this recently is used without
/// the idle check's look (a syscall, about 3% of a single get on
/// loopback). The look is for what comes between uses — a server restart,
/// an idle close, a late duplicate reply — which take longer than this to
/// happen unseen; and what it would catch is still caught without it: a
/// late duplicate is skipped by its opaque (the connection then retires),
/// and a connection found closed fails the operation the way a close
/// right after the look does.
const FRESH_FOR: Duration = Duration::from_millis(1);

/// The error an I/O failure on `server` means (timeouts are their own kind).
pub(crate) fn io_error(server: &Arc<str>, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
            server: server.clone(),
        },
        _ => Error::Io {
            server: server.clone(),
            source: Arc::new(e),
        },
    }
}

/// The error a failed connect means.
pub(crate) fn connect_error(server: &Arc<str>, error: ConnectError) -> Error {
    match error {
        ConnectError::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Error::Timeout {
                server: server.clone(),
            }
        }
        ConnectError::Io(e) => Error::Connect {
            server: server.clone(),
            source: Arc::new(e),
        },
        ConnectError::Lookup(e) => Error::HostLookup {
            server: server.clone(),
            source: Arc::new(e),
        },
        ConnectError::Tls(reason) => Error::Tls {
            server: server.clone(),
            reason,
        },
    }
}

/// The error a peer closing the connection means.
pub(crate) fn closed(server: &Arc<str>) -> Error {
    io_error(
        server,
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ),
    )
}

impl Drop for Connection {
    fn drop(&mut self) {
        // A TLS connection says goodbye (close_notify); a socket is shut
        // down. Not in a forked child: the socket and session are the
        // parent's too (the child only closes its descriptor).
        if !fork::forked_since(self.forks) {
            self.transport.shutdown();
        }
    }
}

impl Connection {
    /// Connects to `address` (and authenticates when credentials are set).
    /// A TLS connection completes one round trip before it is handed out
    /// (SASL when set, else a Noop): some handshake failures — a client
    /// certificate the server refused — show only as the connection closing
    /// at its first read, and belong to the connect.
    pub(crate) fn connect(
        address: &Address,
        options: &ConnectionOptions,
        server: Arc<str>,
    ) -> Result<Connection> {
        let transport = transport::connect(address, &options.transport)
            .map_err(|e| connect_error(&server, e))?;
        let tls = transport.tls_session().is_some();
        let mut conn = Connection {
            transport,
            server,
            write: Vec::with_capacity(4096),
            read: ReadBuffer::default(),
            next_opaque: 1,
            broken: false,
            forks: fork::generation(),
            max_value: options.max_value,
            io_timeout: options.io_timeout,
            proven: false,
            created: Instant::now(),
            answered: Instant::now(),
            generation: 0,
        };
        // SASL, when set, is the first round trip (memcached answers
        // nothing else before it).
        let first = match &options.credentials {
            Some(credentials) => conn.call(&mut SaslPlain::new(
                &credentials.username,
                &credentials.password,
            )),
            None if tls => conn.call(&mut Noop),
            None => return Ok(conn),
        };
        match first {
            Ok(()) => Ok(conn),
            Err(Error::Io { .. } | Error::Connect { .. }) if tls => Err(Error::Tls {
                server: conn.server.clone(),
                reason: "the server closed the connection after the handshake: it refused \
                         the client certificate, or requires one"
                    .into(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Runs one command to its outcome, within the I/O timeout for the
    /// whole reply. A failure that broke the connection is returned with
    /// what had happened (for the retry rule); a status error is an outcome.
    pub(crate) fn run<C: Command>(
        &mut self,
        command: &mut C,
    ) -> std::result::Result<Result<C::Output>, Failure> {
        let deadline = Deadline::reply(self.io_timeout);
        let mut exchange = Single::new(command);
        let result = {
            let mut lanes = [Lane::new(self, &mut exchange)];
            drive(&mut lanes, &deadline);
            lanes[0].take_result()
        };
        result?;
        match exchange.into_outcome() {
            Some(outcome) => Ok(outcome),
            None => Err(Failure::unwritten(Error::Protocol {
                server: self.server.clone(),
                error: crate::ProtocolError::Unexpected("an exchange ended without an answer"),
            })),
        }
    }

    /// [`run`](Connection::run), with the failure's error (for connection
    /// set-up, where there is nothing to retry).
    pub(crate) fn call<C: Command>(&mut self, command: &mut C) -> Result<C::Output> {
        self.run(command).map_err(|f| f.error)?
    }

    /// Whether the connection can no longer be used.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection unusable (it is discarded when returned).
    pub(crate) fn mark_broken(&mut self) {
        self.broken = true;
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    /// When the connection was made.
    pub(crate) fn created(&self) -> Instant {
        self.created
    }

    /// The negotiated TLS session, on a TLS connection.
    pub(crate) fn tls_session(&self) -> Option<TlsSession> {
        self.transport.tls_session()
    }

    /// The idle check through the transport: has the peer closed, or sent
    /// bytes nobody asked for? One non-blocking look, no waiting — except
    /// on a connection that completed an exchange within [`FRESH_FOR`],
    /// which counts as quiet (`now` is the caller's clock reading).
    pub(crate) fn idle_state(&mut self, now: Instant) -> Idle {
        if !self.read.is_empty() {
            return Idle::Stray;
        }
        if now.saturating_duration_since(self.answered) < FRESH_FOR {
            return Idle::Quiet;
        }
        self.transport.idle()
    }
}
