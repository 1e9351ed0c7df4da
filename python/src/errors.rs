//! pylibmc's exception classes, and which one each quickmc error becomes.
//!
//! The classes carry pylibmc's names, hierarchy (every one a subclass of
//! `Error`) and `retcode` attributes (libmemcached's return codes), so
//! `except pylibmc.NotFound` keeps working after `import quickmc as pylibmc`.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyList;
use quickmc::KeyError;

create_exception!(
    quickmc,
    Error,
    PyException,
    "Base class of every quickmc error (pylibmc.Error)."
);
create_exception!(
    quickmc,
    CacheMiss,
    Error,
    "Raise it in `deserialize` to turn a key into a miss."
);

macro_rules! pylibmc_errors {
    ($($name:ident = $retcode:expr, $doc:expr;)*) => {
        $(create_exception!(quickmc, $name, Error, $doc);)*

        /// Adds `Error`, `CacheMiss`, every pylibmc class, `MemcachedError`
        /// (pylibmc's old name for `Error`), quickmc's own `Timeout`,
        /// `TLSError` and `TLSConfigError`, and the `exceptions` list of
        /// (name, class) pairs (pylibmc's classes only) to the module.
        pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            let list = PyList::empty(py);
            m.add("Error", py.get_type::<Error>())?;
            list.append(("Error", py.get_type::<Error>()))?;
            m.add("CacheMiss", py.get_type::<CacheMiss>())?;
            list.append(("CacheMiss", py.get_type::<CacheMiss>()))?;
            $(
                let class = py.get_type::<$name>();
                class.setattr("retcode", $retcode)?;
                m.add(stringify!($name), &class)?;
                list.append((stringify!($name), class))?;
            )*
            m.add("MemcachedError", py.get_type::<Error>())?;
            m.add("Timeout", py.get_type::<Timeout>())?;
            m.add("TLSError", py.get_type::<TLSError>())?;
            m.add("TLSConfigError", py.get_type::<TLSConfigError>())?;
            m.add("exceptions", list)?;
            Ok(())
        }
    };
}

pylibmc_errors! {
    Failure = 1, "libmemcached's MEMCACHED_FAILURE.";
    HostLookupError = 2, "A server's host name could not be resolved.";
    ConnectionError = 3, "Connecting to a server failed, or the connection broke mid-operation.";
    ConnectionBindError = 4, "libmemcached's MEMCACHED_CONNECTION_BIND_FAILURE (never raised by quickmc).";
    WriteError = 5, "Writing to a server failed.";
    ReadError = 6, "Reading from a server failed.";
    UnknownReadFailure = 7, "The server refused the operation (incr/decr of a value that is not a number).";
    ProtocolError = 8, "The server sent something that is not a valid answer.";
    ClientError = 9, "libmemcached's MEMCACHED_CLIENT_ERROR.";
    ServerError = 10, "The server answered with an error of its own.";
    SocketCreateError = 11, "libmemcached's MEMCACHED_CONNECTION_SOCKET_CREATE_FAILURE (never raised by quickmc).";
    DataExists = 12, "The key exists (the CAS id no longer matches).";
    DataDoesNotExist = 13, "libmemcached's MEMCACHED_DATA_DOES_NOT_EXIST.";
    NotFound = 16, "The key is not in the cache (incr/decr, cas, replace in binary mode).";
    AllocationError = 17, "libmemcached's MEMCACHED_MEMORY_ALLOCATION_FAILURE.";
    SomeErrors = 19, "One or more servers failed in an operation on every server (flush_all, get_stats).";
    NoServers = 20, "No server is available (none configured, or every one ejected).";
    UnixSocketError = 27, "libmemcached's MEMCACHED_UNIX_SOCKET error.";
    NotSupportedError = 28, "The behavior or option is not supported.";
    FetchNotFinished = 30, "libmemcached's MEMCACHED_FETCH_NOTFINISHED (never raised by quickmc).";
    BadKeyProvided = 33, "A key was refused (verify_keys, or a prefix making it too long).";
    InvalidHostProtocolError = 34, "A server spec names a transport quickmc does not speak (UDP).";
    ServerDead = 35, "libmemcached's MEMCACHED_SERVER_MARKED_DEAD.";
    ServerDown = 47, "Connecting to the server failed recently: it is skipped until retry_timeout passes.";
    TooBig = 37, "The value is larger than the server's item size limit.";
    UnknownStatKey = 36, "libmemcached's MEMCACHED_UNKNOWN_STAT_KEY.";
}

create_exception!(
    quickmc,
    Timeout,
    Error,
    "quickmc's own: a server did not answer in time (connect_timeout, \
     receive_timeout/_poll_timeout). pylibmc raises plain Error for \
     libmemcached's MEMCACHED_TIMEOUT; this subclass of Error is caught by \
     the same `except` clauses."
);

create_exception!(
    quickmc,
    TLSError,
    ConnectionError,
    "quickmc's own: the TLS handshake with a server failed (a certificate \
     not signed by the trusted CA, or not for the server's name, or \
     expired; a client certificate the server refused; a server that does \
     not speak TLS). A subclass of ConnectionError, as it counts as a failed \
     connect."
);
create_exception!(
    quickmc,
    TLSConfigError,
    Error,
    "quickmc's own: the TLS options cannot be used (a tls_ca, tls_cert or \
     tls_key file that is missing, unreadable or holds no PEM certificate \
     or key). Raised by the constructor, before any connection."
);

/// The Python exception for a quickmc error raised by operation `op`.
pub fn to_py(op: &str, error: quickmc::Error) -> PyErr {
    let message = format!("{op}: {error}");
    with_message(&error, message)
}

/// The Python exception class `error` maps to, with a message of the
/// caller's (a multi-key call says how many keys failed, as pylibmc).
pub fn with_message(error: &quickmc::Error, message: String) -> PyErr {
    use quickmc::Error as E;
    match error {
        E::NotFound => NotFound::new_err(message),
        E::Exists => DataExists::new_err(message),
        E::TooLarge | E::ValueTooLarge { .. } => TooBig::new_err(message),
        E::NonNumeric => UnknownReadFailure::new_err(message),
        E::BadKey(KeyError::TooLong(length)) => {
            PyValueError::new_err(format!("key length {length} too long, max is 250"))
        }
        E::BadKey(_) => BadKeyProvided::new_err(message),
        E::ServerDown { .. } => ServerDown::new_err(message),
        E::NoServers => NoServers::new_err(message),
        E::Tls { .. } => TLSError::new_err(message),
        E::HostLookup { .. } => HostLookupError::new_err(message),
        E::Connect { .. } | E::Io { .. } => ConnectionError::new_err(message),
        E::Timeout { .. } | E::PoolTimeout { .. } => Timeout::new_err(message),
        E::Protocol { .. } => ProtocolError::new_err(message),
        E::Server { .. } | E::Refused { .. } => ServerError::new_err(message),
        E::UnsupportedStatsGroup { .. } => NotSupportedError::new_err(message),
        _ => Error::new_err(message),
    }
}

/// An error from an operation on every server: pylibmc raises SomeErrors
/// whatever the cause (libmemcached's MEMCACHED_SOME_ERRORS).
pub fn some_errors(op: &str, error: quickmc::Error) -> PyErr {
    SomeErrors::new_err(format!("{op}: {error}"))
}
