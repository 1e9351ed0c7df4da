//! One connection to one server: a socket, a reused write buffer, a reused
//! read buffer, timeouts, and a `broken` flag.
//!
//! Any I/O error, timeout, end of stream or undecodable reply sets the flag;
//! a broken connection refuses further use and the pool discards it, so a
//! caller can never read a reply meant for somebody else.

mod batch;
mod read_buffer;
mod stream;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use batch::{BatchHandler, Lane, run_batch};
use read_buffer::ReadBuffer;
use stream::Stream;

use crate::protocol::{Decoded, EncodeError, Opcode, Request, Response, Status, decode_response};
use crate::{Address, Error, KeyError, ProtocolError, Result};

/// SASL PLAIN credentials.
///
/// ```
/// let c = quickmc::Credentials::new("alice", "secret");
/// assert_eq!(c.username(), "alice");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Credentials for SASL PLAIN.
    ///
    /// ```
    /// let c = quickmc::Credentials::new("alice", "secret");
    /// assert_eq!(format!("{c:?}"), "Credentials { username: \"alice\", password: \"***\" }");
    /// ```
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    ///
    /// ```
    /// assert_eq!(quickmc::Credentials::new("u", "p").username(), "u");
    /// ```
    pub fn username(&self) -> &str {
        &self.username
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// How connections are made. The defaults suit memcached on a LAN.
///
/// ```
/// use std::time::Duration;
/// let options = quickmc::ConnectionOptions {
///     io_timeout: Some(Duration::from_millis(250)),
///     ..Default::default()
/// };
/// assert!(options.tcp_nodelay);
/// ```
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// How long a TCP connect may take (per resolved address). Default 1 s.
    pub connect_timeout: Duration,
    /// How long any one read or write may block; `None` blocks forever.
    /// Default 1 s: a cache slower than that is worse than a miss.
    pub io_timeout: Option<Duration>,
    /// TCP_NODELAY (default on: requests are written whole, so Nagle only adds latency).
    pub tcp_nodelay: bool,
    /// SO_KEEPALIVE (default off).
    pub tcp_keepalive: bool,
    /// The largest reply body accepted; a larger declared length is a
    /// protocol error before anything is allocated. Default 64 MiB.
    pub max_body: u32,
    /// SASL PLAIN credentials, if the server requires them.
    pub credentials: Option<Credentials>,
}

impl Default for ConnectionOptions {
    fn default() -> ConnectionOptions {
        ConnectionOptions {
            connect_timeout: Duration::from_secs(1),
            io_timeout: Some(Duration::from_secs(1)),
            tcp_nodelay: true,
            tcp_keepalive: false,
            max_body: 64 << 20,
            credentials: None,
        }
    }
}

/// A connection to one memcached server.
///
/// Most users never touch this type: [`Client`](crate::Client) checks
/// connections out of per-server pools. It is public for the pool's
/// [`r2d2::ManageConnection`] and for low-level use.
///
/// ```no_run
/// use quickmc::connection::Connection;
/// use quickmc::protocol::{Opcode, Request};
/// let mut conn = Connection::connect(&"127.0.0.1:11211".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
/// let reply = conn.request(Request::new(Opcode::Get, b"greeting"))?;
/// println!("{:?} {:?}", reply.status, reply.value);
/// # Ok::<(), quickmc::Error>(())
/// ```
pub struct Connection {
    stream: Stream,
    server: Arc<str>,
    write: Vec<u8>,
    read: ReadBuffer,
    /// Bytes of the last reply handed out, consumed before the next request.
    pending: usize,
    broken: bool,
    max_body: u32,
    io_timeout: Option<Duration>,
    next_opaque: u32,
    generation: u64,
    uses: u64,
    last_used: std::time::Instant,
    created: std::time::Instant,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("server", &self.server)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

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

pub(crate) fn closed(server: &Arc<str>) -> Error {
    io_error(
        server,
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ),
    )
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Error {
        match e {
            EncodeError::EmptyKey => Error::BadKey(KeyError::Empty),
            EncodeError::KeyTooLong(n) => Error::BadKey(KeyError::TooLong(n)),
            EncodeError::BodyTooLong => Error::TooLarge,
            other => Error::Config(other.to_string()),
        }
    }
}

impl Connection {
    /// Connects to `address` (and authenticates when credentials are set).
    ///
    /// ```no_run
    /// use quickmc::{connection::Connection, Address};
    /// let conn = Connection::connect(&Address::Unix("/run/memcached/memcached.sock".into()), &Default::default())?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn connect(address: &Address, options: &ConnectionOptions) -> Result<Connection> {
        let server: Arc<str> = address.to_string().into();
        let stream = Stream::connect(
            address,
            options.connect_timeout,
            options.io_timeout,
            options.tcp_nodelay,
            options.tcp_keepalive,
        )
        .map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
                server: server.clone(),
            },
            _ => Error::Connect {
                server: server.clone(),
                source: Arc::new(e),
            },
        })?;
        let mut conn = Connection {
            stream,
            server,
            write: Vec::with_capacity(4096),
            read: ReadBuffer::with_capacity(16 * 1024),
            pending: 0,
            broken: false,
            max_body: options.max_body,
            io_timeout: options.io_timeout,
            next_opaque: 1,
            generation: 0,
            uses: 0,
            last_used: std::time::Instant::now(),
            created: std::time::Instant::now(),
        };
        if let Some(credentials) = &options.credentials {
            conn.authenticate(credentials)?;
            conn.uses = 0;
        }
        Ok(conn)
    }

    /// The server this connection talks to, as `host:port` or a socket path.
    ///
    /// ```no_run
    /// # let conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// assert_eq!(conn.server(), "127.0.0.1:11211");
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn server(&self) -> &str {
        &self.server
    }

    pub(crate) fn server_name(&self) -> &Arc<str> {
        &self.server
    }

    /// Whether an error has made the connection unusable.
    ///
    /// ```no_run
    /// # let conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// assert!(!conn.is_broken());
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the connection unusable.
    ///
    /// ```no_run
    /// # let mut conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// conn.mark_broken();
    /// assert!(conn.noop().is_err());
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
    }

    pub(crate) fn io_timeout(&self) -> Option<Duration> {
        self.io_timeout
    }

    pub(crate) fn max_body(&self) -> u32 {
        self.max_body
    }

    /// Allocates `n` consecutive opaques and returns the first.
    pub(crate) fn take_opaques(&mut self, n: u32) -> u32 {
        let first = self.next_opaque;
        self.next_opaque = self.next_opaque.wrapping_add(n);
        first
    }

    /// Fails fast on a broken connection and drops the previous reply.
    fn begin(&mut self) -> Result<()> {
        if self.broken {
            return Err(Error::Io {
                server: self.server.clone(),
                source: Arc::new(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "connection is broken",
                )),
            });
        }
        self.read.consume(self.pending);
        self.pending = 0;
        if !self.read.is_empty() {
            // Bytes nobody asked for (a duplicated reply, say): the stream
            // can no longer be trusted to line up with our requests.
            let error = Error::Protocol {
                server: self.server.clone(),
                error: ProtocolError::Unexpected("unsolicited bytes from the server"),
            };
            return self.fail(error);
        }
        self.uses += 1;
        self.last_used = std::time::Instant::now();
        // A large value or batch grew the buffer: do not keep megabytes
        // in every idle pooled connection.
        if self.write.capacity() > 256 * 1024 {
            self.write = Vec::with_capacity(4096);
        }
        Ok(())
    }

    /// Whether any request has been sent on this connection.
    pub(crate) fn has_been_used(&self) -> bool {
        self.uses > 0
    }

    /// How long since the connection was made.
    pub(crate) fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// How long since the last request (or since connecting).
    pub(crate) fn idle_for(&self) -> Duration {
        self.last_used.elapsed()
    }

    /// Whether the server has closed the connection (or sent something
    /// nobody asked for), seen without blocking: one zero-timeout poll.
    ///
    /// ```no_run
    /// # let conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// if conn.peer_closed() { /* reconnect */ }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn peer_closed(&self) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec};
        let mut fds = [PollFd::new(&self.stream, PollFlags::IN | PollFlags::RDHUP)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(0) => false,
            Ok(_) => true,
            Err(_) => true,
        }
    }

    fn fail<T>(&mut self, error: Error) -> Result<T> {
        if error.breaks_connection() {
            self.broken = true;
        }
        Err(error)
    }

    /// Writes the whole write buffer.
    fn flush(&mut self) -> Result<()> {
        if let Err(e) = self.stream.write_all(&self.write) {
            let error = io_error(&self.server, e);
            return self.fail(error);
        }
        Ok(())
    }

    /// Reads until a whole reply is buffered; returns its length.
    fn fill_frame(&mut self) -> Result<usize> {
        loop {
            let needed = match decode_response(self.read.data(), self.max_body) {
                Ok(Decoded::Complete { len, .. }) => return Ok(len),
                Ok(Decoded::Partial { needed }) => needed,
                Err(e) => {
                    let error = Error::Protocol {
                        server: self.server.clone(),
                        error: e.into(),
                    };
                    return self.fail(error);
                }
            };
            match self.read.recv(&self.stream, needed, false) {
                Ok(0) => {
                    let error = closed(&self.server);
                    return self.fail(error);
                }
                Ok(_) => {}
                Err(e) => {
                    let error = io_error(&self.server, e);
                    return self.fail(error);
                }
            }
        }
    }

    /// Reads the next reply; it stays valid until the next call.
    fn next_response(&mut self) -> Result<Response<'_>> {
        self.read.consume(self.pending);
        self.pending = 0;
        let len = self.fill_frame()?;
        self.pending = len;
        match decode_response(self.read.data(), self.max_body) {
            Ok(Decoded::Complete { frame, .. }) => Ok(frame),
            _ => Err(Error::Protocol {
                server: self.server.clone(),
                error: ProtocolError::Unexpected("frame changed between decodes"),
            }),
        }
    }

    /// Sends one request and returns its reply, whatever its status.
    ///
    /// The opaque is set by the connection. The reply must answer the
    /// request (same opcode and opaque), or the connection breaks. For quiet
    /// opcodes, which may not answer, use a batch instead; they are refused.
    ///
    /// ```no_run
    /// use quickmc::protocol::{Extras, Opcode, Request, Status};
    /// # let mut conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// let set = Request::new(Opcode::Set, b"k").extras(Extras::Store { flags: 0, expiration: 0 }).value(b"v");
    /// assert_eq!(conn.request(set)?.status, Status::Ok);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn request(&mut self, request: Request<'_>) -> Result<Response<'_>> {
        self.begin()?;
        if request.opcode.is_quiet() {
            return Err(Error::Config(format!(
                "{:?} is quiet; send it in a batch",
                request.opcode
            )));
        }
        let opaque = self.take_opaques(1);
        self.write.clear();
        request.opaque(opaque).encode(&mut self.write)?;
        self.flush()?;
        self.read_reply(request.opcode, opaque)
    }

    fn read_reply(&mut self, opcode: Opcode, opaque: u32) -> Result<Response<'_>> {
        let (got_opcode, got_opaque) = {
            let r = self.next_response()?;
            (r.opcode, r.opaque)
        };
        if got_opcode != opcode || got_opaque != opaque {
            let error = Error::Protocol {
                server: self.server.clone(),
                error: ProtocolError::Unexpected("reply does not answer the request sent"),
            };
            return self.fail(error);
        }
        self.current()
    }

    /// The reply already buffered by `next_response`.
    fn current(&self) -> Result<Response<'_>> {
        match decode_response(self.read.data(), self.max_body) {
            Ok(Decoded::Complete { frame, .. }) => Ok(frame),
            _ => Err(Error::Protocol {
                server: self.server.clone(),
                error: ProtocolError::Unexpected("no reply buffered"),
            }),
        }
    }

    /// A round trip with a Noop: the cheapest proof the connection works.
    ///
    /// ```no_run
    /// # let mut conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// conn.noop()?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn noop(&mut self) -> Result<()> {
        let status = self.request(Request::new(Opcode::Noop, b""))?.status;
        expect_ok(status, &[])
    }

    /// The server's version string.
    ///
    /// ```no_run
    /// # let mut conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// println!("memcached {}", conn.version()?);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn version(&mut self) -> Result<String> {
        let reply = self.request(Request::new(Opcode::Version, b""))?;
        expect_ok(reply.status, reply.value)?;
        Ok(String::from_utf8_lossy(reply.value).into_owned())
    }

    /// Statistics: `group` empty for the general ones, else e.g. `"slabs"`.
    /// An unknown group is [`Error::NotFound`].
    ///
    /// ```no_run
    /// # let mut conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// let stats = conn.stats("")?;
    /// assert!(stats.iter().any(|(name, _)| name == "curr_connections"));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn stats(&mut self, group: &str) -> Result<Vec<(String, String)>> {
        let opaque = {
            let reply = self.request(Request::new(Opcode::Stat, group.as_bytes()))?;
            expect_ok(reply.status, reply.value)?;
            if reply.key.is_empty() {
                return Ok(Vec::new());
            }
            reply.opaque
        };
        let mut stats = Vec::new();
        let mut reply = self.current()?;
        loop {
            stats.push((
                String::from_utf8_lossy(reply.key).into_owned(),
                String::from_utf8_lossy(reply.value).into_owned(),
            ));
            reply = self.read_reply(Opcode::Stat, opaque)?;
            expect_ok(reply.status, reply.value)?;
            if reply.key.is_empty() {
                return Ok(stats);
            }
        }
    }

    /// SASL PLAIN authentication. A refusal is [`Error::Auth`] and breaks
    /// the connection (memcached closes it).
    ///
    /// ```no_run
    /// # let mut conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// conn.authenticate(&quickmc::Credentials::new("alice", "secret"))?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn authenticate(&mut self, credentials: &Credentials) -> Result<()> {
        let mut token =
            Vec::with_capacity(credentials.username.len() + credentials.password.len() + 2);
        token.push(0);
        token.extend_from_slice(credentials.username.as_bytes());
        token.push(0);
        token.extend_from_slice(credentials.password.as_bytes());
        let reply = self.request(Request::new(Opcode::SaslAuth, b"PLAIN").value(&token))?;
        let (status, message) = (
            reply.status,
            String::from_utf8_lossy(reply.value).into_owned(),
        );
        match status {
            Status::Ok => Ok(()),
            Status::AuthError | Status::AuthContinue => self.fail(Error::Auth(message)),
            other => self.fail(Error::Auth(format!("{other}: {message}"))),
        }
    }

    /// Sends `Quit` and drops the connection.
    ///
    /// ```no_run
    /// # let conn = quickmc::connection::Connection::connect(&"127.0.0.1".parse::<quickmc::ServerSpec>()?.address, &Default::default())?;
    /// conn.quit();
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn quit(mut self) {
        if self.begin().is_ok() {
            self.write.clear();
            if Request::new(Opcode::QuitQ, b"")
                .encode(&mut self.write)
                .is_ok()
            {
                let _ = self.stream.write_all(&self.write);
            }
        }
    }

    pub(crate) fn parts(&mut self) -> ConnectionParts<'_> {
        if self.pending > 0 {
            self.read.consume(self.pending);
            self.pending = 0;
        }
        ConnectionParts {
            stream: &self.stream,
            server: &self.server,
            write: &mut self.write,
            read: &mut self.read,
        }
    }
}

/// Borrowed insides for the batch driver.
pub(crate) struct ConnectionParts<'c> {
    stream: &'c Stream,
    server: &'c Arc<str>,
    write: &'c mut Vec<u8>,
    read: &'c mut ReadBuffer,
}

/// Turns a reply status into the matching error kind.
pub(crate) fn status_error(status: Status, message: &[u8]) -> Error {
    match status {
        Status::KeyNotFound => Error::NotFound,
        Status::KeyExists => Error::Exists,
        Status::NotStored => Error::NotStored,
        Status::ValueTooLarge => Error::TooLarge,
        Status::NonNumeric => Error::NonNumeric,
        Status::AuthError | Status::AuthContinue => {
            Error::Auth(String::from_utf8_lossy(message).into_owned())
        }
        other => Error::Server {
            status: other,
            message: String::from_utf8_lossy(message).into_owned(),
        },
    }
}

pub(crate) fn expect_ok(status: Status, message: &[u8]) -> Result<()> {
    match status {
        Status::Ok => Ok(()),
        other => Err(status_error(other, message)),
    }
}
