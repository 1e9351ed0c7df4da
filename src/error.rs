//! The one error type every quickmc operation returns, and the small
//! [`ErrorKind`] to match it by.

use std::io;
use std::sync::Arc;

use crate::protocol::{BatchError, DecodeError, EncodeError, Status, TextError};

/// Shorthand for `Result<T, quickmc::Error>`.
///
/// ```
/// fn lookup() -> quickmc::Result<Option<String>> { Ok(None) }
/// assert!(lookup().unwrap().is_none());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a key was refused before any I/O.
///
/// ```
/// use quickmc::KeyError;
/// assert_eq!(KeyError::TooLong(251).to_string(), "key is 251 bytes; the limit is 250");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is empty.
    #[error("key is empty")]
    Empty,
    /// The key (with its prefix) is longer than 250 bytes.
    #[error("key is {0} bytes; the limit is 250")]
    TooLong(usize),
    /// Strict key checking is on and the key has a byte libmemcached's
    /// `verify_key` refuses (anything but printable ASCII).
    #[error("key has byte {0:#04x}, refused by strict key checking")]
    Unsafe(u8),
}

/// A reply the client cannot make sense of. The connection it came from is
/// discarded.
///
/// ```
/// use quickmc::{ProtocolError, protocol::DecodeError};
/// let e = ProtocolError::from(DecodeError::BadMagic(0));
/// assert!(e.to_string().contains("magic"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The bytes are not a valid frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A batch reply does not belong to the batch.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A text-protocol reply that cannot be decoded.
    #[error(transparent)]
    Text(#[from] TextError),
    /// A reply that does not answer the request sent.
    #[error("unexpected reply: {0}")]
    Unexpected(&'static str),
    /// A statistics reply longer than the client accepts (entries or bytes).
    #[error("statistics reply exceeds {limit} {what}")]
    StatsTooLarge {
        /// What was counted: "entries" or "bytes".
        what: &'static str,
        /// The limit that was passed.
        limit: usize,
    },
}

/// What kind of failure an [`Error`] is: a small set to match on without
/// listing every variant (retry logic, metrics, a CLI's summary).
///
/// ```
/// use quickmc::{Error, ErrorKind};
/// assert_eq!(Error::NotFound.kind(), ErrorKind::NotFound);
/// assert_eq!(Error::Timeout { server: "a:1".into() }.kind(), ErrorKind::Timeout);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The key is not in the cache.
    NotFound,
    /// The item is not in the state the write asked for (exists, not stored).
    Conflict,
    /// A value too large: for the server's item size, or for the client's
    /// `max_value_size` on the way back.
    TooLarge,
    /// Increment or decrement of a value that is not a number.
    NonNumeric,
    /// Refused before any I/O: a bad key, a bad option, a value that cannot
    /// be serialized or that pylibmc could not read.
    InvalidInput,
    /// Stored bytes that cannot be read as the requested type.
    Value,
    /// No server could be asked: marked down, none configured, connect failed.
    Unavailable,
    /// A server took longer than allowed.
    Timeout,
    /// The connection failed or the server broke the protocol mid-operation.
    Connection,
    /// The server answered with an error of its own.
    Server,
    /// Authentication (SASL) was refused.
    Auth,
    /// The client is at capacity: no pooled connection became free in time.
    Overloaded,
}

/// Every way a quickmc operation can fail. Match on the variant, or on
/// [`Error::kind`] for the broad class.
///
/// Variants that say the item was not in the state asked for ([`NotFound`],
/// [`Exists`], [`NotStored`], [`TooLarge`], [`NonNumeric`]) leave the
/// connection in sync and in the pool; I/O, timeout and protocol errors
/// discard it.
///
/// [`NotFound`]: Error::NotFound
/// [`Exists`]: Error::Exists
/// [`NotStored`]: Error::NotStored
/// [`TooLarge`]: Error::TooLarge
/// [`NonNumeric`]: Error::NonNumeric
///
/// ```no_run
/// # fn main() -> quickmc::Result<()> {
/// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
/// match client.incr("hits", 1) {
///     Ok(n) => println!("{n} hits"),
///     Err(quickmc::Error::NotFound) => { client.set("hits", 1u64, 0)?; }
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key is not in the cache (incr/decr of a missing key, a fetch that
    /// requires a hit, a CAS on a missing key).
    #[error("key not found")]
    NotFound,
    /// The key exists (add of an existing key; a CAS id that no longer matches).
    #[error("key exists")]
    Exists,
    /// The server did not store the item (append/prepend to a missing key).
    #[error("item not stored")]
    NotStored,
    /// The value is larger than the server's item size limit.
    #[error("value too large for the server")]
    TooLarge,
    /// A stored value is larger than this client accepts (`max_value_size`).
    /// The server is not counted as failed. A pooled connection is then
    /// discarded (the value's bytes are never read); a shared one (the
    /// pipelined mode, the async client) reads past them and goes on.
    #[error("value of {key:?} is {size} bytes, above this client's max_value_size of {limit}")]
    ValueTooLarge {
        /// The key whose value it is.
        key: String,
        /// The value's size as the server declared it.
        size: u64,
        /// The client's limit.
        limit: u64,
    },
    /// Increment or decrement of a value that is not a decimal number.
    #[error("incr/decr on a non-numeric value")]
    NonNumeric,
    /// The key was refused before any I/O.
    #[error("bad key: {0}")]
    BadKey(#[from] KeyError),
    /// The server is marked down after a failure to connect to it and is
    /// skipped until its retry timeout passes.
    #[error("server {server} is down (retrying after the retry timeout)")]
    ServerDown {
        /// The server's spec.
        server: Arc<str>,
    },
    /// The client has no servers, or every server is ejected.
    #[error("no servers available")]
    NoServers,
    /// Connecting to a server failed.
    #[error("connecting to {server} failed: {source}")]
    Connect {
        /// The server's spec.
        server: Arc<str>,
        /// What the OS said.
        #[source]
        source: Arc<io::Error>,
    },
    /// A server's host name could not be resolved. Counts as a failed
    /// connect.
    ///
    /// ```
    /// # fn main() -> quickmc::Result<()> {
    /// // (A label longer than 63 bytes fails before any resolver is asked.)
    /// let client = quickmc::Client::new([format!("{}.invalid:11211", "a".repeat(64))])?;
    /// let failed = client.get::<String>("k");
    /// assert!(matches!(failed, Err(quickmc::Error::HostLookup { .. })));
    /// # Ok(())
    /// # }
    /// ```
    #[error("looking up {server} failed: {source}")]
    HostLookup {
        /// The server's spec.
        server: Arc<str>,
        /// What the resolver said.
        #[source]
        source: Arc<io::Error>,
    },
    /// The TLS handshake with a server failed (or the server refused the
    /// connection right after it, as memcached does when it wants a client
    /// certificate it did not get). Counts as a failed connect.
    #[error("TLS with {server} failed: {reason}")]
    Tls {
        /// The server's spec.
        server: Arc<str>,
        /// Why, as far as the client can tell.
        reason: String,
    },
    /// Reading from or writing to a server failed, or it closed the connection.
    #[error("I/O with {server} failed: {source}")]
    Io {
        /// The server's spec.
        server: Arc<str>,
        /// What the OS said.
        #[source]
        source: Arc<io::Error>,
    },
    /// A connect, a reply, or a batch took longer than allowed.
    #[error("timed out talking to {server}")]
    Timeout {
        /// The server's spec.
        server: Arc<str>,
    },
    /// The server sent something that is not a valid answer.
    #[error("protocol violation from {server}: {error}")]
    Protocol {
        /// The server's spec.
        server: Arc<str>,
        /// What was wrong.
        #[source]
        error: ProtocolError,
    },
    /// The server answered with an error status not covered by a kind above.
    #[error("server error {status}: {message}")]
    Server {
        /// The status code.
        status: Status,
        /// The server's message.
        message: String,
    },
    /// The server does not offer this statistics group over the binary
    /// protocol (memcached answers `conns` and `extstore` only as text).
    #[error("server {server} does not offer stats group `{group}` over the binary protocol")]
    UnsupportedStatsGroup {
        /// The server's spec.
        server: Arc<str>,
        /// The group asked for.
        group: String,
    },
    /// The server refused a command outright (a text-protocol `ERROR`, a
    /// crawler that is busy, a SASL server asked for a text command).
    #[error("{server} refused: {message}")]
    Refused {
        /// The server's spec.
        server: Arc<str>,
        /// Why, in the server's words or ours.
        message: String,
    },
    /// A value could not be turned into bytes.
    #[error("serialization failed: {0}")]
    Serialize(String),
    /// Stored bytes could not be turned into the requested type.
    #[error("deserialization failed{}: {message}", for_key(key))]
    Deserialize {
        /// The key whose value it was, where known.
        key: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// A value could not be compressed or decompressed, or decompresses past the limit.
    #[error("compression failed{}: {message}", for_key(key))]
    Compression {
        /// The key whose value it was, where known.
        key: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// The client shares its cluster with pylibmc
    /// ([`pylibmc_compatible`](crate::ClientBuilder::pylibmc_compatible)) and
    /// the value would be stored in a form pylibmc cannot read.
    #[error("pylibmc could not read this value: {0}")]
    Incompatible(String),
    /// No pooled connection became free within the checkout timeout.
    #[error("no connection to {server} within the checkout timeout")]
    PoolTimeout {
        /// The server's spec.
        server: Arc<str>,
    },
    /// SASL authentication was refused.
    #[error("authentication failed: {0}")]
    Auth(String),
    /// A server spec or option is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The client was built before this process forked: its connections
    /// are the parent's. Build a client in the child.
    #[error("this client was built before fork(): build a new one in the child process")]
    Forked,
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

fn for_key(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(" for key {k:?}"))
        .unwrap_or_default()
}

impl Error {
    /// The broad class of the error.
    ///
    /// ```
    /// use quickmc::{Error, ErrorKind};
    /// assert_eq!(Error::Exists.kind(), ErrorKind::Conflict);
    /// assert_eq!(Error::Config("x".into()).kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound => ErrorKind::NotFound,
            Error::Exists | Error::NotStored => ErrorKind::Conflict,
            Error::TooLarge | Error::ValueTooLarge { .. } => ErrorKind::TooLarge,
            Error::NonNumeric => ErrorKind::NonNumeric,
            Error::BadKey(_)
            | Error::Config(_)
            | Error::Serialize(_)
            | Error::Incompatible(_)
            | Error::Forked => ErrorKind::InvalidInput,
            Error::Deserialize { .. } | Error::Compression { .. } => ErrorKind::Value,
            Error::ServerDown { .. }
            | Error::NoServers
            | Error::Connect { .. }
            | Error::HostLookup { .. }
            | Error::Tls { .. } => ErrorKind::Unavailable,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Io { .. } | Error::Protocol { .. } => ErrorKind::Connection,
            Error::Server { .. } | Error::UnsupportedStatsGroup { .. } | Error::Refused { .. } => {
                ErrorKind::Server
            }
            Error::Auth(_) => ErrorKind::Auth,
            Error::PoolTimeout { .. } => ErrorKind::Overloaded,
        }
    }

    /// Whether the error means the connection it happened on can no longer
    /// be trusted (it is then discarded, never returned to the pool).
    /// [`ValueTooLarge`](Error::ValueTooLarge) is not one: whether its
    /// connection goes on depends on the driver (see that variant).
    ///
    /// ```
    /// assert!(!quickmc::Error::NotFound.breaks_connection());
    /// assert!(quickmc::Error::Timeout { server: "a:1".into() }.breaks_connection());
    /// ```
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Error::Io { .. }
                | Error::Timeout { .. }
                | Error::Protocol { .. }
                | Error::Auth(_)
                | Error::Tls { .. }
        )
    }

    /// Whether the error says the server could not be reached or did not
    /// answer properly (the failures that count towards ejecting it; a
    /// failed connect also skips it for the retry timeout).
    /// Pool exhaustion is not one (it is local load), and neither is a value
    /// above this client's own `max_value_size`.
    ///
    /// ```
    /// assert!(quickmc::Error::ServerDown { server: "a:1".into() }.is_server_failure());
    /// assert!(!quickmc::Error::Exists.is_server_failure());
    /// ```
    pub fn is_server_failure(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::HostLookup { .. }
                | Error::Tls { .. }
                | Error::Io { .. }
                | Error::Timeout { .. }
                | Error::ServerDown { .. }
                | Error::Protocol { .. }
        )
    }

    /// The same error, naming `key` where the variant has room for one and
    /// none is set yet (value errors found while reading a batch).
    pub(crate) fn for_key(mut self, key: &[u8]) -> Error {
        match &mut self {
            Error::Deserialize { key: slot, .. } | Error::Compression { key: slot, .. }
                if slot.is_none() =>
            {
                *slot = Some(String::from_utf8_lossy(key).into_owned());
            }
            _ => {}
        }
        self
    }

    /// A deserialization error without a key (the value layer's).
    pub(crate) fn deserialize(message: impl Into<String>) -> Error {
        Error::Deserialize {
            key: None,
            message: message.into(),
        }
    }

    /// A compression error without a key (the value layer's).
    pub(crate) fn compression(message: impl Into<String>) -> Error {
        Error::Compression {
            key: None,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_errors_name_their_key_once_it_is_known() {
        let e = Error::deserialize("not UTF-8").for_key(b"user:1");
        assert_eq!(
            e.to_string(),
            "deserialization failed for key \"user:1\": not UTF-8"
        );
        let e = e.for_key(b"other");
        assert!(e.to_string().contains("user:1"));
    }

    #[test]
    fn the_client_limit_is_not_a_server_failure_and_the_driver_decides_about_the_connection() {
        let e = Error::ValueTooLarge {
            key: "k".into(),
            size: 10,
            limit: 5,
        };
        assert!(!e.is_server_failure());
        // The pooled driver discards its connection itself; a shared one
        // skips the value and goes on.
        assert!(!e.breaks_connection());
        assert_eq!(e.kind(), ErrorKind::TooLarge);
    }
}
