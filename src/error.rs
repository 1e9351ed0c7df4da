//! The one error type every quickmc operation returns.

use std::io;
use std::sync::Arc;

use crate::protocol::{BatchError, DecodeError, Status};

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
    /// Strict key checking is on and the key has a byte an ASCII client could
    /// not send (a control character, space or DEL).
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
pub enum ProtocolError {
    /// The bytes are not a valid frame.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A batch reply does not belong to the batch.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A reply that does not answer the request sent.
    #[error("unexpected reply: {0}")]
    Unexpected(&'static str),
}

/// Every way a quickmc operation can fail. Match on the variant.
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
    /// Increment or decrement of a value that is not a decimal number.
    #[error("incr/decr on a non-numeric value")]
    NonNumeric,
    /// The key was refused before any I/O.
    #[error("bad key: {0}")]
    BadKey(#[from] KeyError),
    /// The server is marked down after a failure and is skipped until its
    /// retry timeout passes.
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
    /// Reading from or writing to a server failed, or it closed the connection.
    #[error("I/O with {server} failed: {source}")]
    Io {
        /// The server's spec.
        server: Arc<str>,
        /// What the OS said.
        #[source]
        source: Arc<io::Error>,
    },
    /// A connect, read or write, or a batch's deadline, took longer than allowed.
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
    /// A value could not be turned into bytes.
    #[error("serialization failed: {0}")]
    Serialize(String),
    /// Stored bytes could not be turned into the requested type.
    #[error("deserialization failed: {0}")]
    Deserialize(String),
    /// A value could not be compressed or decompressed, or decompresses past the limit.
    #[error("compression failed: {0}")]
    Compression(String),
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
}

impl Error {
    /// Whether the error means the connection it happened on can no longer
    /// be trusted (it is then discarded, never returned to the pool).
    ///
    /// ```
    /// assert!(!quickmc::Error::NotFound.breaks_connection());
    /// assert!(quickmc::Error::Timeout { server: "a:1".into() }.breaks_connection());
    /// ```
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Error::Io { .. } | Error::Timeout { .. } | Error::Protocol { .. } | Error::Auth(_)
        )
    }

    /// Whether the error says the server could not be reached or did not
    /// answer (the failures that count towards marking it down). Pool
    /// exhaustion is not one: it is local load, not a server fault.
    ///
    /// ```
    /// assert!(quickmc::Error::ServerDown { server: "a:1".into() }.is_server_failure());
    /// assert!(!quickmc::Error::Exists.is_server_failure());
    /// ```
    pub fn is_server_failure(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. }
                | Error::Io { .. }
                | Error::Timeout { .. }
                | Error::ServerDown { .. }
                | Error::Protocol { .. }
        )
    }
}
