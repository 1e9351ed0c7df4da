//! The single-request commands: one request, one reply.

use super::{Command, Idempotence, Step, status_error};
use crate::ProtocolError;
use crate::protocol::{Extras, NO_CREATE, Opcode, Request, Response, Status};

/// A stored value as it came off the wire: flags, CAS id and bytes (still
/// compressed if the flags say so; the value layer reads it).
///
/// ```
/// let hit = quickmc::command::Hit { flags: 16, cas: 9, value: b"hi".to_vec() };
/// assert_eq!(hit.value, b"hi");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The item's flags.
    pub flags: u32,
    /// The item's CAS id.
    pub cas: u64,
    /// The stored bytes.
    pub value: Vec<u8>,
}

impl Hit {
    /// The hit in a Get-style reply (flags in the first four extras bytes).
    pub(crate) fn from_reply(reply: &Response<'_>) -> Result<Hit, ProtocolError> {
        let flags = reply
            .flags()
            .ok_or(ProtocolError::Unexpected("a hit without flags"))?;
        Ok(Hit {
            flags,
            cas: reply.cas,
            value: reply.value.to_vec(),
        })
    }
}

/// `get` (or get-and-touch with [`Get::touching`]): a miss is `None`.
///
/// ```
/// use quickmc::command::{Command, Get};
/// use quickmc::protocol::{Extras, Opcode};
/// assert_eq!(Get::new(b"k").request().opcode, Opcode::Get);
/// let gat = Get::touching(b"k", 60);
/// assert_eq!((gat.request().opcode, gat.request().extras), (Opcode::Gat, Extras::Expiration(60)));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Get<'a> {
    key: &'a [u8],
    touch: Option<u32>,
}

impl<'a> Get<'a> {
    /// Fetches `key`.
    ///
    /// ```
    /// let get = quickmc::command::Get::new(b"user:1");
    /// ```
    pub fn new(key: &'a [u8]) -> Get<'a> {
        Get { key, touch: None }
    }

    /// Fetches `key` and sets its expiration in the same round trip (GAT).
    ///
    /// ```
    /// let gat = quickmc::command::Get::touching(b"session", 3600);
    /// ```
    pub fn touching(key: &'a [u8], expiration: u32) -> Get<'a> {
        Get {
            key,
            touch: Some(expiration),
        }
    }
}

impl Command for Get<'_> {
    type Output = Option<Hit>;

    fn request(&self) -> Request<'_> {
        match self.touch {
            None => Request::new(Opcode::Get, self.key),
            Some(expiration) => {
                Request::new(Opcode::Gat, self.key).extras(Extras::Expiration(expiration))
            }
        }
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<Option<Hit>>, ProtocolError> {
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(Some(Hit::from_reply(reply)?)),
            Status::KeyNotFound => Ok(None),
            other => Err(status_error(other, reply.value)),
        }))
    }
}

/// Which store command: set (always), add (only if missing), replace (only if present).
///
/// ```
/// use quickmc::command::{Idempotence, StoreMode};
/// assert_eq!(StoreMode::Add.idempotence(), Idempotence::Once);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// Store unconditionally.
    Set,
    /// Store only if the key is missing.
    Add,
    /// Store only if the key exists.
    Replace,
}

impl StoreMode {
    /// Whether repeating the store leaves the same state (set, replace) or not (add).
    ///
    /// ```
    /// use quickmc::command::{Idempotence, StoreMode};
    /// assert_eq!(StoreMode::Replace.idempotence(), Idempotence::Repeatable);
    /// ```
    pub fn idempotence(self) -> Idempotence {
        match self {
            StoreMode::Set | StoreMode::Replace => Idempotence::Repeatable,
            StoreMode::Add => Idempotence::Once,
        }
    }

    pub(crate) fn opcode(self, quiet: bool) -> Opcode {
        match (self, quiet) {
            (StoreMode::Set, false) => Opcode::Set,
            (StoreMode::Add, false) => Opcode::Add,
            (StoreMode::Replace, false) => Opcode::Replace,
            (StoreMode::Set, true) => Opcode::SetQ,
            (StoreMode::Add, true) => Opcode::AddQ,
            (StoreMode::Replace, true) => Opcode::ReplaceQ,
        }
    }
}

/// set / add / replace of bytes already in their stored form. `Ok(false)`
/// when the item was not in the state the mode asks for (pylibmc's False).
///
/// ```
/// use quickmc::command::{Command, Step, Store, StoreMode};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut add = Store::new(StoreMode::Add, b"k", b"v", 16, 0);
/// let exists = Response::new(Opcode::Add, Status::KeyExists);
/// assert!(matches!(add.outcome(&exists)?, Step::Done(Ok(false))));
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Store<'a> {
    mode: StoreMode,
    key: &'a [u8],
    value: &'a [u8],
    flags: u32,
    expiration: u32,
}

impl<'a> Store<'a> {
    /// Stores `value` with `flags` under `key`.
    ///
    /// ```
    /// use quickmc::command::{Store, StoreMode};
    /// let set = Store::new(StoreMode::Set, b"k", b"42", 4, 60);
    /// ```
    pub fn new(
        mode: StoreMode,
        key: &'a [u8],
        value: &'a [u8],
        flags: u32,
        expiration: u32,
    ) -> Store<'a> {
        Store {
            mode,
            key,
            value,
            flags,
            expiration,
        }
    }
}

impl Command for Store<'_> {
    type Output = bool;

    fn request(&self) -> Request<'_> {
        Request::new(self.mode.opcode(false), self.key)
            .extras(Extras::Store {
                flags: self.flags,
                expiration: self.expiration,
            })
            .value(self.value)
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<bool>, ProtocolError> {
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(true),
            Status::NotStored | Status::KeyExists | Status::KeyNotFound => Ok(false),
            other => Err(status_error(other, reply.value)),
        }))
    }
}

/// Compare-and-swap, as pylibmc does it: stores only if the item still has
/// CAS id `cas`. A mismatch is `Ok(false)`; a missing key is
/// [`Error::NotFound`](crate::Error::NotFound) for any id, 0 included, and
/// nothing is created (sent as a Replace carrying the CAS id: a binary Set
/// with CAS 0 would store unconditionally).
///
/// ```
/// use quickmc::command::{Cas, Command, Step};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut cas = Cas::new(b"k", b"v", 16, 0, 0);
/// assert_eq!(cas.request().opcode, Opcode::Replace);
/// let missing = Response::new(Opcode::Replace, Status::KeyNotFound);
/// assert!(matches!(cas.outcome(&missing)?, Step::Done(Err(quickmc::Error::NotFound))));
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Cas<'a> {
    store: Store<'a>,
    cas: u64,
}

impl<'a> Cas<'a> {
    /// Swaps in `value` if `key` still has CAS id `cas`.
    ///
    /// ```
    /// let cas = quickmc::command::Cas::new(b"k", b"v", 0, 0, 1234);
    /// ```
    pub fn new(key: &'a [u8], value: &'a [u8], flags: u32, expiration: u32, cas: u64) -> Cas<'a> {
        Cas {
            store: Store::new(StoreMode::Replace, key, value, flags, expiration),
            cas,
        }
    }
}

impl Command for Cas<'_> {
    type Output = bool;

    fn request(&self) -> Request<'_> {
        self.store.request().cas(self.cas)
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<bool>, ProtocolError> {
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(true),
            Status::KeyExists => Ok(false),
            other => Err(status_error(other, reply.value)),
        }))
    }
}

/// Append or prepend.
///
/// ```
/// use quickmc::command::ConcatMode;
/// assert_ne!(ConcatMode::Append, ConcatMode::Prepend);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConcatMode {
    /// Add bytes after the stored value.
    Append,
    /// Add bytes before the stored value.
    Prepend,
}

/// Append or prepend raw bytes to an existing value (the server keeps the
/// item's flags and expiration). `Ok(false)` if the key is missing.
///
/// ```
/// use quickmc::command::{Command, Concat, ConcatMode};
/// use quickmc::protocol::Opcode;
/// assert_eq!(Concat::new(ConcatMode::Prepend, b"k", b">").request().opcode, Opcode::Prepend);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Concat<'a> {
    mode: ConcatMode,
    key: &'a [u8],
    value: &'a [u8],
}

impl<'a> Concat<'a> {
    /// Joins `value` to the value stored under `key`.
    ///
    /// ```
    /// let append = quickmc::command::Concat::new(quickmc::command::ConcatMode::Append, b"log", b"line\n");
    /// ```
    pub fn new(mode: ConcatMode, key: &'a [u8], value: &'a [u8]) -> Concat<'a> {
        Concat { mode, key, value }
    }
}

impl Command for Concat<'_> {
    type Output = bool;

    fn request(&self) -> Request<'_> {
        let opcode = match self.mode {
            ConcatMode::Append => Opcode::Append,
            ConcatMode::Prepend => Opcode::Prepend,
        };
        Request::new(opcode, self.key).value(self.value)
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<bool>, ProtocolError> {
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(true),
            Status::NotStored | Status::KeyNotFound => Ok(false),
            other => Err(status_error(other, reply.value)),
        }))
    }
}

/// Delete: `Ok(false)` if the key was missing.
///
/// ```
/// use quickmc::command::{Command, Delete};
/// assert_eq!(Delete::new(b"k").request().key, b"k");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Delete<'a> {
    key: &'a [u8],
}

impl<'a> Delete<'a> {
    /// Deletes `key`.
    ///
    /// ```
    /// let delete = quickmc::command::Delete::new(b"session:1");
    /// ```
    pub fn new(key: &'a [u8]) -> Delete<'a> {
        Delete { key }
    }
}

impl Command for Delete<'_> {
    type Output = bool;

    fn request(&self) -> Request<'_> {
        Request::new(Opcode::Delete, self.key)
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<bool>, ProtocolError> {
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(true),
            Status::KeyNotFound => Ok(false),
            other => Err(status_error(other, reply.value)),
        }))
    }
}

/// Increment or decrement.
///
/// ```
/// use quickmc::command::CounterOp;
/// assert_ne!(CounterOp::Incr, CounterOp::Decr);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterOp {
    /// Add the delta (wrapping at 2^64).
    Incr,
    /// Subtract the delta (stopping at 0).
    Decr,
}

impl CounterOp {
    pub(crate) fn opcode(self, quiet: bool) -> Opcode {
        match (self, quiet) {
            (CounterOp::Incr, false) => Opcode::Increment,
            (CounterOp::Decr, false) => Opcode::Decrement,
            (CounterOp::Incr, true) => Opcode::IncrementQ,
            (CounterOp::Decr, true) => Opcode::DecrementQ,
        }
    }
}

/// The extras of a counter request that never creates a missing key.
pub(crate) fn counter_extras(delta: u64) -> Extras {
    Extras::Counter {
        delta,
        initial: 0,
        expiration: NO_CREATE,
    }
}

/// incr/decr of a decimal counter; the new value. A missing key is
/// [`Error::NotFound`](crate::Error::NotFound) and is never created
/// (expiration 0xffffffff, as pylibmc).
///
/// ```
/// use quickmc::command::{Command, Counter, CounterOp, Step};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut incr = Counter::new(CounterOp::Incr, b"hits", 1);
/// let bytes = 5u64.to_be_bytes();
/// let reply = Response::new(Opcode::Increment, Status::Ok).value(&bytes);
/// assert!(matches!(incr.outcome(&reply)?, Step::Done(Ok(5))));
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Counter<'a> {
    op: CounterOp,
    key: &'a [u8],
    delta: u64,
}

impl<'a> Counter<'a> {
    /// Changes the counter under `key` by `delta`.
    ///
    /// ```
    /// let decr = quickmc::command::Counter::new(quickmc::command::CounterOp::Decr, b"stock", 2);
    /// ```
    pub fn new(op: CounterOp, key: &'a [u8], delta: u64) -> Counter<'a> {
        Counter { op, key, delta }
    }
}

impl Command for Counter<'_> {
    type Output = u64;

    fn request(&self) -> Request<'_> {
        Request::new(self.op.opcode(false), self.key).extras(counter_extras(self.delta))
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<u64>, ProtocolError> {
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(reply.counter().ok_or(ProtocolError::Unexpected(
                "a counter reply that is not 8 bytes",
            ))?),
            other => Err(status_error(other, reply.value)),
        }))
    }
}

/// Touch: a new expiration; `Ok(false)` if the key is missing.
///
/// ```
/// use quickmc::command::{Command, Touch};
/// use quickmc::protocol::Extras;
/// assert_eq!(Touch::new(b"k", 30).request().extras, Extras::Expiration(30));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Touch<'a> {
    key: &'a [u8],
    expiration: u32,
}

impl<'a> Touch<'a> {
    /// Sets `key`'s expiration.
    ///
    /// ```
    /// let touch = quickmc::command::Touch::new(b"session", 3600);
    /// ```
    pub fn new(key: &'a [u8], expiration: u32) -> Touch<'a> {
        Touch { key, expiration }
    }
}

impl Command for Touch<'_> {
    type Output = bool;

    fn request(&self) -> Request<'_> {
        Request::new(Opcode::Touch, self.key).extras(Extras::Expiration(self.expiration))
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<bool>, ProtocolError> {
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(true),
            Status::KeyNotFound => Ok(false),
            other => Err(status_error(other, reply.value)),
        }))
    }
}

/// A reply that must be a plain success.
fn expect_ok(reply: &Response<'_>) -> Result<(), crate::Error> {
    match reply.status {
        Status::Ok => Ok(()),
        other => Err(status_error(other, reply.value)),
    }
}

/// Flush: invalidate every item, after `delay` seconds (0: now).
///
/// ```
/// use quickmc::command::{Command, Flush};
/// use quickmc::protocol::Extras;
/// assert_eq!(Flush::new(0).request().extras, Extras::None);
/// assert_eq!(Flush::new(5).request().extras, Extras::Expiration(5));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Flush {
    delay: u32,
}

impl Flush {
    /// Flushes after `delay` seconds.
    ///
    /// ```
    /// let now = quickmc::command::Flush::new(0);
    /// ```
    pub fn new(delay: u32) -> Flush {
        Flush { delay }
    }
}

impl Command for Flush {
    type Output = ();

    fn request(&self) -> Request<'_> {
        let extras = match self.delay {
            0 => Extras::None,
            delay => Extras::Expiration(delay),
        };
        Request::new(Opcode::Flush, b"").extras(extras)
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<()>, ProtocolError> {
        Ok(Step::Done(expect_ok(reply)))
    }
}

/// Version: the server's version string.
///
/// ```
/// use quickmc::command::{Command, Step, Version};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let reply = Response::new(Opcode::Version, Status::Ok).value(b"1.6.18");
/// assert!(matches!(Version.outcome(&reply)?, Step::Done(Ok(v)) if v == "1.6.18"));
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Version;

impl Command for Version {
    type Output = String;

    fn request(&self) -> Request<'_> {
        Request::new(Opcode::Version, b"")
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<String>, ProtocolError> {
        Ok(Step::Done(expect_ok(reply).map(|()| {
            String::from_utf8_lossy(reply.value).into_owned()
        })))
    }
}

/// Noop: the cheapest round trip.
///
/// ```
/// use quickmc::command::{Command, Noop};
/// assert_eq!(Noop.request().opcode, quickmc::protocol::Opcode::Noop);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

impl Command for Noop {
    type Output = ();

    fn request(&self) -> Request<'_> {
        Request::new(Opcode::Noop, b"")
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<()>, ProtocolError> {
        Ok(Step::Done(expect_ok(reply)))
    }
}

/// SASL PLAIN authentication: a refusal is
/// [`Error::Auth`](crate::Error::Auth) (memcached then closes the connection).
///
/// ```
/// use quickmc::command::{Command, SaslPlain};
/// let auth = SaslPlain::new("alice", "secret");
/// assert_eq!(auth.request().value, b"\0alice\0secret");
/// ```
#[derive(Clone)]
pub struct SaslPlain {
    token: Vec<u8>,
}

impl std::fmt::Debug for SaslPlain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SaslPlain { .. }")
    }
}

impl SaslPlain {
    /// PLAIN credentials: `\0user\0password`.
    ///
    /// ```
    /// let auth = quickmc::command::SaslPlain::new("u", "p");
    /// ```
    pub fn new(username: &str, password: &str) -> SaslPlain {
        let mut token = Vec::with_capacity(username.len() + password.len() + 2);
        token.push(0);
        token.extend_from_slice(username.as_bytes());
        token.push(0);
        token.extend_from_slice(password.as_bytes());
        SaslPlain { token }
    }
}

impl Command for SaslPlain {
    type Output = ();

    fn request(&self) -> Request<'_> {
        Request::new(Opcode::SaslAuth, b"PLAIN").value(&self.token)
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<()>, ProtocolError> {
        let message = || String::from_utf8_lossy(reply.value).into_owned();
        Ok(Step::Done(match reply.status {
            Status::Ok => Ok(()),
            Status::AuthError | Status::AuthContinue => Err(crate::Error::Auth(message())),
            other => Err(crate::Error::Auth(format!("{other}: {}", message()))),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn done<T: std::fmt::Debug>(step: Result<Step<T>, ProtocolError>) -> Result<T, Error> {
        match step {
            Ok(Step::Done(outcome)) => outcome,
            other => panic!("not done: {other:?}"),
        }
    }

    #[test]
    fn a_get_hit_without_flags_is_a_protocol_violation_and_a_miss_is_none() {
        let mut get = Get::new(b"k");
        let bare = Response::new(Opcode::Get, Status::Ok).value(b"v");
        assert!(get.outcome(&bare).is_err());
        let miss = Response::new(Opcode::Get, Status::KeyNotFound).value(b"Not found");
        assert_eq!(done(get.outcome(&miss)).unwrap(), None);
    }

    #[test]
    fn stores_answer_false_for_every_not_in_the_right_state_status_and_errors_otherwise() {
        for status in [Status::NotStored, Status::KeyExists, Status::KeyNotFound] {
            let mut set = Store::new(StoreMode::Set, b"k", b"v", 0, 0);
            let reply = Response::new(Opcode::Set, status);
            assert!(!done(set.outcome(&reply)).unwrap());
        }
        let mut set = Store::new(StoreMode::Set, b"k", b"v", 0, 0);
        let big = Response::new(Opcode::Set, Status::ValueTooLarge);
        assert!(matches!(done(set.outcome(&big)), Err(Error::TooLarge)));
    }

    #[test]
    fn cas_tells_a_mismatch_from_a_missing_key() {
        let mut cas = Cas::new(b"k", b"v", 0, 0, 12345);
        assert_eq!(cas.request().cas, 12345);
        let mismatch = Response::new(Opcode::Replace, Status::KeyExists);
        assert!(!done(cas.outcome(&mismatch)).unwrap());
        let missing = Response::new(Opcode::Replace, Status::KeyNotFound);
        assert!(matches!(done(cas.outcome(&missing)), Err(Error::NotFound)));
    }

    #[test]
    fn a_counter_reply_must_be_eight_bytes_and_never_creates_the_key() {
        let mut incr = Counter::new(CounterOp::Incr, b"n", 1);
        assert!(matches!(
            incr.request().extras,
            Extras::Counter {
                expiration: NO_CREATE,
                ..
            }
        ));
        let short = Response::new(Opcode::Increment, Status::Ok).value(b"12");
        assert!(incr.outcome(&short).is_err());
        let non_numeric = Response::new(Opcode::Increment, Status::NonNumeric);
        assert!(matches!(
            done(incr.outcome(&non_numeric)),
            Err(Error::NonNumeric)
        ));
    }

    #[test]
    fn sasl_refusal_is_an_authentication_error_with_the_servers_message() {
        let mut auth = SaslPlain::new("u", "p");
        let refused = Response::new(Opcode::SaslAuth, Status::AuthError).value(b"Auth failure.");
        assert!(
            matches!(done(auth.outcome(&refused)), Err(Error::Auth(m)) if m == "Auth failure.")
        );
        assert_eq!(format!("{auth:?}"), "SaslPlain { .. }");
    }
}
