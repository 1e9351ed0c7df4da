//! The two frame types, requests and responses, borrowed from a buffer.

use super::{Opcode, Status};

/// Length of the fixed frame header.
///
/// ```
/// assert_eq!(quickmc::protocol::HEADER_LEN, 24);
/// ```
pub const HEADER_LEN: usize = 24;

/// The longest key memcached accepts.
///
/// ```
/// assert_eq!(quickmc::protocol::MAX_KEY_LEN, 250);
/// ```
pub const MAX_KEY_LEN: usize = 250;

/// The expiration that tells Increment/Decrement not to create a missing key.
///
/// ```
/// assert_eq!(quickmc::protocol::NO_CREATE, u32::MAX);
/// ```
pub const NO_CREATE: u32 = 0xffff_ffff;

/// The extras of a request, typed.
///
/// On the wire extras are only a length and bytes; each opcode expects one
/// shape (see [`Opcode::extras_kind`]).
///
/// ```
/// use quickmc::protocol::Extras;
/// let extras = Extras::Store { flags: 16, expiration: 60 };
/// assert_eq!(extras.len(), 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Extras {
    /// No extras.
    #[default]
    None,
    /// Set/Add/Replace: the value's flags and its expiration.
    Store {
        /// Opaque flags stored with the value.
        flags: u32,
        /// Expiration (0 never; relative seconds up to 30 days; else unix time).
        expiration: u32,
    },
    /// Increment/Decrement.
    Counter {
        /// Amount to add or subtract.
        delta: u64,
        /// Value a missing key is created with (unless `expiration` is [`NO_CREATE`]).
        initial: u64,
        /// Expiration of a created key, or [`NO_CREATE`].
        expiration: u32,
    },
    /// Touch/GAT: the new expiration; Flush: the delay in seconds.
    Expiration(u32),
}

impl Extras {
    /// Encoded length in bytes.
    ///
    /// ```
    /// use quickmc::protocol::Extras;
    /// assert_eq!(Extras::Expiration(0).len(), 4);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Extras::None => 0,
            Extras::Store { .. } => 8,
            Extras::Counter { .. } => 20,
            Extras::Expiration(_) => 4,
        }
    }

    /// Whether there are no extras.
    ///
    /// ```
    /// use quickmc::protocol::Extras;
    /// assert!(Extras::None.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        matches!(self, Extras::None)
    }

    /// Appends the encoded extras. Each shape is copied from an array of
    /// its own length: a copy of a known length compiles to a few moves,
    /// not a call to `memcpy` (this runs once per request of a batch).
    pub(crate) fn write(&self, buf: &mut Vec<u8>) {
        match *self {
            Extras::None => {}
            Extras::Store { flags, expiration } => {
                let mut bytes = [0u8; 8];
                bytes[..4].copy_from_slice(&flags.to_be_bytes());
                bytes[4..].copy_from_slice(&expiration.to_be_bytes());
                buf.extend_from_slice(&bytes);
            }
            Extras::Counter {
                delta,
                initial,
                expiration,
            } => {
                let mut bytes = [0u8; 20];
                bytes[..8].copy_from_slice(&delta.to_be_bytes());
                bytes[8..16].copy_from_slice(&initial.to_be_bytes());
                bytes[16..].copy_from_slice(&expiration.to_be_bytes());
                buf.extend_from_slice(&bytes);
            }
            Extras::Expiration(expiration) => buf.extend_from_slice(&expiration.to_be_bytes()),
        }
    }
}

/// A request frame: what a client sends.
///
/// Build one with [`Request::new`] and the setters, then
/// [`encode`](Request::encode) it into a buffer you own.
///
/// ```
/// use quickmc::protocol::{Opcode, Request};
/// let mut buf = Vec::new();
/// Request::new(Opcode::GetKQ, b"user:1").opaque(7).encode(&mut buf).unwrap();
/// assert_eq!(buf.len(), 24 + 6);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The command.
    pub opcode: Opcode,
    /// Typed extras; must fit the opcode.
    pub extras: Extras,
    /// The key (empty for commands without one).
    pub key: &'a [u8],
    /// The value (empty for commands without one).
    pub value: &'a [u8],
    /// Echoed back in the response; used to match replies to requests.
    pub opaque: u32,
    /// Compare-and-swap id (0 for none).
    pub cas: u64,
}

impl<'a> Request<'a> {
    /// A request with no extras, value, opaque or CAS.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Request};
    /// let request = Request::new(Opcode::Delete, b"k");
    /// assert_eq!(request.cas, 0);
    /// ```
    pub fn new(opcode: Opcode, key: &'a [u8]) -> Request<'a> {
        Request {
            opcode,
            extras: Extras::None,
            key,
            value: &[],
            opaque: 0,
            cas: 0,
        }
    }

    /// Sets the extras.
    ///
    /// ```
    /// use quickmc::protocol::{Extras, Opcode, Request};
    /// let r = Request::new(Opcode::Touch, b"k").extras(Extras::Expiration(30));
    /// assert_eq!(r.extras, Extras::Expiration(30));
    /// ```
    pub fn extras(mut self, extras: Extras) -> Request<'a> {
        self.extras = extras;
        self
    }

    /// Sets the value.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Request};
    /// let r = Request::new(Opcode::Append, b"k").value(b"tail");
    /// assert_eq!(r.value, b"tail");
    /// ```
    pub fn value(mut self, value: &'a [u8]) -> Request<'a> {
        self.value = value;
        self
    }

    /// Sets the opaque.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Request};
    /// assert_eq!(Request::new(Opcode::Noop, b"").opaque(9).opaque, 9);
    /// ```
    pub fn opaque(mut self, opaque: u32) -> Request<'a> {
        self.opaque = opaque;
        self
    }

    /// Sets the CAS id.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Request};
    /// assert_eq!(Request::new(Opcode::Set, b"k").cas(5).cas, 5);
    /// ```
    pub fn cas(mut self, cas: u64) -> Request<'a> {
        self.cas = cas;
        self
    }

    /// The number of bytes [`encode`](Request::encode) appends.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Request};
    /// assert_eq!(Request::new(Opcode::Get, b"abc").encoded_len(), 27);
    /// ```
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.extras.len() + self.key.len() + self.value.len()
    }
}

/// A response frame: what a server sends, borrowed from the input buffer.
///
/// ```
/// use quickmc::protocol::{decode_response, Decoded, Opcode, Response, Status};
/// let mut buf = Vec::new();
/// Response::new(Opcode::Noop, Status::Ok).opaque(3).encode(&mut buf).unwrap();
/// let Ok(Decoded::Complete { frame, len }) = decode_response(&buf, 1024) else { panic!() };
/// assert_eq!((frame.opcode, frame.opaque, len), (Opcode::Noop, 3, 24));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// The opcode of the request this answers.
    pub opcode: Opcode,
    /// The outcome.
    pub status: Status,
    /// The request's opaque, echoed.
    pub opaque: u32,
    /// The item's CAS id (0 where none applies).
    pub cas: u64,
    /// Raw extras (flags for a Get hit, flags for a Touch).
    pub extras: &'a [u8],
    /// The key (GetK/GetKQ echo it; Stat names the statistic).
    pub key: &'a [u8],
    /// The value, a counter, a version, or an error message.
    pub value: &'a [u8],
}

impl<'a> Response<'a> {
    /// A response with an empty body.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// let r = Response::new(Opcode::Get, Status::KeyNotFound);
    /// assert!(r.value.is_empty());
    /// ```
    pub fn new(opcode: Opcode, status: Status) -> Response<'a> {
        Response {
            opcode,
            status,
            opaque: 0,
            cas: 0,
            extras: &[],
            key: &[],
            value: &[],
        }
    }

    /// Sets the opaque.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// assert_eq!(Response::new(Opcode::Noop, Status::Ok).opaque(4).opaque, 4);
    /// ```
    pub fn opaque(mut self, opaque: u32) -> Response<'a> {
        self.opaque = opaque;
        self
    }

    /// Sets the CAS id.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// assert_eq!(Response::new(Opcode::Get, Status::Ok).cas(8).cas, 8);
    /// ```
    pub fn cas(mut self, cas: u64) -> Response<'a> {
        self.cas = cas;
        self
    }

    /// Sets the raw extras.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// let r = Response::new(Opcode::Get, Status::Ok).extras(&[0, 0, 0, 16]);
    /// assert_eq!(r.flags(), Some(16));
    /// ```
    pub fn extras(mut self, extras: &'a [u8]) -> Response<'a> {
        self.extras = extras;
        self
    }

    /// Sets the key.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// assert_eq!(Response::new(Opcode::GetK, Status::Ok).key(b"k").key, b"k");
    /// ```
    pub fn key(mut self, key: &'a [u8]) -> Response<'a> {
        self.key = key;
        self
    }

    /// Sets the value.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// assert_eq!(Response::new(Opcode::Get, Status::Ok).value(b"v").value, b"v");
    /// ```
    pub fn value(mut self, value: &'a [u8]) -> Response<'a> {
        self.value = value;
        self
    }

    /// The item flags carried in the first four bytes of the extras, if any.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// assert_eq!(Response::new(Opcode::Get, Status::Ok).flags(), None);
    /// ```
    pub fn flags(&self) -> Option<u32> {
        let bytes: [u8; 4] = self.extras.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(bytes))
    }

    /// The new counter value of an Increment/Decrement reply (8 bytes, big-endian).
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// let bytes = 42u64.to_be_bytes();
    /// let r = Response::new(Opcode::Increment, Status::Ok).value(&bytes);
    /// assert_eq!(r.counter(), Some(42));
    /// ```
    pub fn counter(&self) -> Option<u64> {
        let bytes: [u8; 8] = self.value.try_into().ok()?;
        Some(u64::from_be_bytes(bytes))
    }

    /// The number of bytes [`encode`](Response::encode) appends.
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// assert_eq!(Response::new(Opcode::Noop, Status::Ok).encoded_len(), 24);
    /// ```
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.extras.len() + self.key.len() + self.value.len()
    }
}
