//! Encoding frames into a caller-owned buffer.
//!
//! Encoders refuse what memcached would reject by closing the connection
//! (an empty or over-long key, extras that do not fit the opcode), so a
//! request that encodes is one the server can parse.

use super::frame::{HEADER_LEN, MAX_KEY_LEN};
use super::{Extras, ExtrasKind, KeyRule, Magic, Opcode, Request, Response};

/// Why a frame could not be encoded.
///
/// ```
/// use quickmc::protocol::{EncodeError, Opcode, Request};
/// let err = Request::new(Opcode::Get, b"").encode(&mut Vec::new()).unwrap_err();
/// assert_eq!(err, EncodeError::EmptyKey);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The opcode needs a key and none was given.
    #[error("the key is empty")]
    EmptyKey,
    /// The key is longer than memcached accepts.
    #[error("the key is {0} bytes; memcached accepts at most 250")]
    KeyTooLong(usize),
    /// The opcode takes no key but one was given.
    #[error("{0:?} takes no key")]
    UnexpectedKey(Opcode),
    /// The opcode takes no value but one was given.
    #[error("{0:?} takes no value")]
    UnexpectedValue(Opcode),
    /// The extras do not have the shape the opcode expects.
    #[error("{opcode:?} cannot carry {extras:?}")]
    ExtrasMismatch {
        /// The request's opcode.
        opcode: Opcode,
        /// The extras given.
        extras: Extras,
    },
    /// The body does not fit the 32-bit length field (or the raw extras the 8-bit one).
    #[error("the frame body is too long to encode")]
    BodyTooLong,
}

fn extras_fit(opcode: Opcode, extras: &Extras) -> bool {
    matches!(
        (opcode.extras_kind(), extras),
        (ExtrasKind::None, Extras::None)
            | (ExtrasKind::Store, Extras::Store { .. })
            | (ExtrasKind::Counter, Extras::Counter { .. })
            | (ExtrasKind::Expiration, Extras::Expiration(_))
            | (
                ExtrasKind::OptionalDelay,
                Extras::None | Extras::Expiration(_)
            )
    )
}

/// The fixed header fields of a frame.
struct Header {
    magic: Magic,
    opcode: Opcode,
    key_len: usize,
    extras_len: usize,
    status_or_vbucket: u16,
    body_len: usize,
    opaque: u32,
    cas: u64,
}

impl Header {
    /// Appends the 24 header bytes (one copy from a stack array) and
    /// reserves room for the body; `buf` is unchanged on error.
    fn write(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        let key_len =
            u16::try_from(self.key_len).map_err(|_| EncodeError::KeyTooLong(self.key_len))?;
        let extras_len = u8::try_from(self.extras_len).map_err(|_| EncodeError::BodyTooLong)?;
        let body_len = u32::try_from(self.body_len).map_err(|_| EncodeError::BodyTooLong)?;
        let mut header = [0u8; HEADER_LEN];
        header[0] = self.magic as u8;
        header[1] = self.opcode as u8;
        header[2..4].copy_from_slice(&key_len.to_be_bytes());
        header[4] = extras_len;
        // header[5]: data type 0, raw bytes.
        header[6..8].copy_from_slice(&self.status_or_vbucket.to_be_bytes());
        header[8..12].copy_from_slice(&body_len.to_be_bytes());
        header[12..16].copy_from_slice(&self.opaque.to_be_bytes());
        header[16..24].copy_from_slice(&self.cas.to_be_bytes());
        buf.reserve(HEADER_LEN + self.body_len);
        buf.extend_from_slice(&header);
        Ok(())
    }
}

impl Request<'_> {
    /// Checks the request against what memcached accepts, without encoding.
    ///
    /// ```
    /// use quickmc::protocol::{EncodeError, Opcode, Request};
    /// let long = [b'k'; 251];
    /// assert_eq!(Request::new(Opcode::Get, &long).validate(), Err(EncodeError::KeyTooLong(251)));
    /// ```
    pub fn validate(&self) -> Result<(), EncodeError> {
        match self.opcode.key_rule() {
            KeyRule::Required if self.key.is_empty() => return Err(EncodeError::EmptyKey),
            KeyRule::Forbidden if !self.key.is_empty() => {
                return Err(EncodeError::UnexpectedKey(self.opcode));
            }
            _ if self.key.len() > MAX_KEY_LEN => {
                return Err(EncodeError::KeyTooLong(self.key.len()));
            }
            _ => {}
        }
        if !self.value.is_empty() && !self.opcode.takes_value() {
            return Err(EncodeError::UnexpectedValue(self.opcode));
        }
        if !extras_fit(self.opcode, &self.extras) {
            return Err(EncodeError::ExtrasMismatch {
                opcode: self.opcode,
                extras: self.extras,
            });
        }
        Ok(())
    }

    /// Appends the encoded request to `buf`; on error `buf` is unchanged.
    ///
    /// Allocates only if `buf` lacks the capacity.
    ///
    /// ```
    /// use quickmc::protocol::{Extras, Opcode, Request};
    /// let mut buf = Vec::with_capacity(64);
    /// Request::new(Opcode::Set, b"k")
    ///     .extras(Extras::Store { flags: 0, expiration: 0 })
    ///     .value(b"v")
    ///     .encode(&mut buf)?;
    /// assert_eq!(buf[0], 0x80);
    /// assert_eq!(buf.len(), 24 + 8 + 1 + 1);
    /// # Ok::<(), quickmc::protocol::EncodeError>(())
    /// ```
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.validate()?;
        self.write(buf)
    }

    /// [`encode`](Request::encode) for a request whose opcode needs a key
    /// and whose extras and value fit that opcode, as the requests of a
    /// batch do (its operation picks the opcode and the extras; only store
    /// operations carry a value): only the key is checked here, as it is
    /// the one part a caller's [`KeyTable`](crate::command::KeyTable) may
    /// get wrong. A batch encodes a request per key, so the checks that
    /// cannot fail are left out of that loop.
    pub(crate) fn encode_keyed(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        debug_assert!(
            self.opcode.key_rule() == KeyRule::Required
                && (self.value.is_empty() || self.opcode.takes_value())
                && extras_fit(self.opcode, &self.extras),
            "{:?} is not a keyed request of a fitting shape",
            self.opcode
        );
        if self.key.is_empty() {
            return Err(EncodeError::EmptyKey);
        }
        if self.key.len() > MAX_KEY_LEN {
            return Err(EncodeError::KeyTooLong(self.key.len()));
        }
        self.write(buf)
    }

    /// Appends a checked request; `buf` is unchanged on error (a body too
    /// long for its length field).
    fn write(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        Header {
            magic: Magic::Request,
            opcode: self.opcode,
            key_len: self.key.len(),
            extras_len: self.extras.len(),
            status_or_vbucket: 0,
            body_len: self.extras.len() + self.key.len() + self.value.len(),
            opaque: self.opaque,
            cas: self.cas,
        }
        .write(buf)?;
        self.extras.write(buf);
        buf.extend_from_slice(self.key);
        buf.extend_from_slice(self.value);
        Ok(())
    }
}

impl Response<'_> {
    /// Appends the encoded response to `buf` (for test servers, proxies and fuzzing).
    ///
    /// ```
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// let mut buf = Vec::new();
    /// Response::new(Opcode::Get, Status::KeyNotFound).value(b"Not found").encode(&mut buf)?;
    /// assert_eq!(buf[0], 0x81);
    /// # Ok::<(), quickmc::protocol::EncodeError>(())
    /// ```
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        Header {
            magic: Magic::Response,
            opcode: self.opcode,
            key_len: self.key.len(),
            extras_len: self.extras.len(),
            status_or_vbucket: self.status.to_u16(),
            body_len: self.extras.len() + self.key.len() + self.value.len(),
            opaque: self.opaque,
            cas: self.cas,
        }
        .write(buf)?;
        buf.extend_from_slice(self.extras);
        buf.extend_from_slice(self.key);
        buf.extend_from_slice(self.value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_request_matches_the_documented_bytes() {
        let mut buf = Vec::new();
        Request::new(Opcode::Get, b"Hello")
            .opaque(0x01020304)
            .encode(&mut buf)
            .unwrap();
        let mut expected = vec![0x80, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00];
        expected.extend_from_slice(&[0, 0, 0, 5, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(b"Hello");
        assert_eq!(buf, expected);
    }

    #[test]
    fn counter_extras_are_delta_initial_expiration() {
        let mut buf = Vec::new();
        Request::new(Opcode::Increment, b"n")
            .extras(Extras::Counter {
                delta: 1,
                initial: 0,
                expiration: u32::MAX,
            })
            .encode(&mut buf)
            .unwrap();
        assert_eq!(buf[4], 20);
        assert_eq!(&buf[24..32], &1u64.to_be_bytes());
        assert_eq!(&buf[32..40], &0u64.to_be_bytes());
        assert_eq!(&buf[40..44], &[0xff; 4]);
        assert_eq!(&buf[44..], b"n");
    }

    #[test]
    fn delete_with_extras_is_refused_because_memcached_closes_the_connection() {
        let err = Request::new(Opcode::Delete, b"k")
            .extras(Extras::Expiration(1))
            .encode(&mut Vec::new())
            .unwrap_err();
        assert!(matches!(err, EncodeError::ExtrasMismatch { .. }));
    }

    #[test]
    fn keys_of_251_bytes_and_empty_keys_are_refused_and_buffer_untouched() {
        let mut buf = vec![1, 2, 3];
        let long = [b'a'; 251];
        assert_eq!(
            Request::new(Opcode::Set, &long)
                .extras(Extras::Store {
                    flags: 0,
                    expiration: 0
                })
                .encode(&mut buf),
            Err(EncodeError::KeyTooLong(251))
        );
        assert_eq!(
            Request::new(Opcode::GetKQ, b"").encode(&mut buf),
            Err(EncodeError::EmptyKey)
        );
        assert_eq!(buf, vec![1, 2, 3]);
    }

    #[test]
    fn noop_with_a_key_or_get_with_a_value_is_refused() {
        assert_eq!(
            Request::new(Opcode::Noop, b"x").encode(&mut Vec::new()),
            Err(EncodeError::UnexpectedKey(Opcode::Noop))
        );
        assert_eq!(
            Request::new(Opcode::Get, b"x")
                .value(b"v")
                .encode(&mut Vec::new()),
            Err(EncodeError::UnexpectedValue(Opcode::Get))
        );
    }

    #[test]
    fn flush_takes_no_extras_or_a_delay() {
        let mut buf = Vec::new();
        Request::new(Opcode::Flush, b"").encode(&mut buf).unwrap();
        Request::new(Opcode::FlushQ, b"")
            .extras(Extras::Expiration(10))
            .encode(&mut buf)
            .unwrap();
        assert_eq!(buf.len(), 24 + 28);
    }

    #[test]
    fn encoding_into_a_buffer_with_capacity_does_not_reallocate() {
        let mut buf = Vec::with_capacity(1024);
        let before = buf.as_ptr();
        for i in 0..10u32 {
            Request::new(Opcode::GetKQ, b"some:key")
                .opaque(i)
                .encode(&mut buf)
                .unwrap();
        }
        assert_eq!(buf.as_ptr(), before);
    }
}
