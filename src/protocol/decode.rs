//! Incremental decoding of frames from a byte slice.
//!
//! The decoder never allocates and never panics: a frame that is not all
//! there yet is [`Decoded::Partial`]; a header that cannot be right is a
//! [`DecodeError`]; a declared body above the caller's maximum is refused
//! as soon as the header is read, before anything waits for or allocates it.

use byteorder::{BigEndian, ByteOrder};

use super::frame::HEADER_LEN;
use super::{Extras, Magic, Opcode, Request, Response, Status};

/// The outcome of decoding the start of a buffer.
///
/// ```
/// use quickmc::protocol::{decode_response, Decoded};
/// assert_eq!(decode_response(&[0x81, 0x0a], 1024), Ok(Decoded::Partial { needed: 24 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A whole frame, and how many bytes of the input it used.
    Complete {
        /// The frame, borrowing from the input.
        frame: T,
        /// Bytes consumed; the next frame starts here.
        len: usize,
    },
    /// The frame is not complete: the input must grow to at least `needed` bytes.
    Partial {
        /// Total input length needed to make progress (never above 24 + the maximum body).
        needed: usize,
    },
}

/// Why bytes are not a valid frame. The connection they came from cannot be trusted after this.
///
/// ```
/// use quickmc::protocol::{decode_response, DecodeError};
/// let mut header = [0u8; 24];
/// header[0] = 0x42;
/// assert_eq!(decode_response(&header, 1024), Err(DecodeError::BadMagic(0x42)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The first byte is not the expected magic.
    #[error("bad magic byte {0:#04x}")]
    BadMagic(u8),
    /// The opcode is not one memcached implements.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// The data type is not 0 (raw bytes), the only one memcached uses.
    #[error("unsupported data type {0:#04x}")]
    BadDataType(u8),
    /// Extras and key are longer than the whole body.
    #[error("extras ({extras}) and key ({key}) exceed the body length ({body})")]
    BadLengths {
        /// Declared extras length.
        extras: u8,
        /// Declared key length.
        key: u16,
        /// Declared body length.
        body: u32,
    },
    /// The declared body is above the configured maximum.
    #[error("body of {len} bytes exceeds the maximum of {max}")]
    BodyTooLarge {
        /// Declared body length.
        len: u32,
        /// The configured maximum.
        max: u32,
        /// The frame's opaque, so a client can say which request it answers.
        opaque: u32,
        /// The value's length: the body less its extras and key (0 if they
        /// claim more than the body).
        value: u32,
    },
    /// Request extras whose length fits no known shape.
    #[error("request extras of {0} bytes fit no known shape")]
    BadExtras(u8),
}

struct Header {
    opcode: Opcode,
    key_len: usize,
    extras_len: usize,
    status_or_vbucket: u16,
    body_len: usize,
    opaque: u32,
    cas: u64,
}

struct Body<'a> {
    extras: &'a [u8],
    key: &'a [u8],
    value: &'a [u8],
}

/// Splits one frame off `input`: the header parsed and the body's three parts.
fn split_frame(
    input: &[u8],
    magic: Magic,
    max_body: u32,
) -> Result<Decoded<(Header, Body<'_>)>, DecodeError> {
    let Some(head) = input.first_chunk::<HEADER_LEN>() else {
        // Reject a wrong magic byte at once rather than waiting for 24 bytes.
        return match input.first() {
            Some(&byte) if byte != magic as u8 => Err(DecodeError::BadMagic(byte)),
            _ => Ok(Decoded::Partial { needed: HEADER_LEN }),
        };
    };
    if head[0] != magic as u8 {
        return Err(DecodeError::BadMagic(head[0]));
    }
    let opcode = Opcode::from_u8(head[1]).ok_or(DecodeError::UnknownOpcode(head[1]))?;
    let key_len = BigEndian::read_u16(&head[2..4]);
    let extras_len = head[4];
    if head[5] != 0 {
        return Err(DecodeError::BadDataType(head[5]));
    }
    let body_len = BigEndian::read_u32(&head[8..12]);
    if body_len > max_body {
        return Err(DecodeError::BodyTooLarge {
            len: body_len,
            max: max_body,
            opaque: BigEndian::read_u32(&head[12..16]),
            value: body_len
                .saturating_sub(u32::from(extras_len))
                .saturating_sub(u32::from(key_len)),
        });
    }
    if u32::from(extras_len) + u32::from(key_len) > body_len {
        return Err(DecodeError::BadLengths {
            extras: extras_len,
            key: key_len,
            body: body_len,
        });
    }
    // body_len <= max_body <= u32::MAX; usize is at least 32 bits on every
    // platform quickmc builds for, so this cannot truncate.
    let body_len = body_len as usize;
    let total = HEADER_LEN + body_len;
    let Some(body) = input.get(HEADER_LEN..total) else {
        return Ok(Decoded::Partial { needed: total });
    };
    let (extras, rest) = body.split_at(usize::from(extras_len));
    let (key, value) = rest.split_at(usize::from(key_len));
    Ok(Decoded::Complete {
        frame: (
            Header {
                opcode,
                key_len: usize::from(key_len),
                extras_len: usize::from(extras_len),
                status_or_vbucket: BigEndian::read_u16(&head[6..8]),
                body_len,
                opaque: BigEndian::read_u32(&head[12..16]),
                cas: BigEndian::read_u64(&head[16..24]),
            },
            Body { extras, key, value },
        ),
        len: total,
    })
}

/// Decodes one response frame from the start of `input`.
///
/// `max_body` bounds the declared body length (extras + key + value); a
/// larger declaration is an error before any of the body is waited for.
///
/// ```
/// use quickmc::protocol::{decode_response, Decoded, Opcode, Response, Status};
/// let mut wire = Vec::new();
/// Response::new(Opcode::Get, Status::Ok).extras(&[0, 0, 0, 0]).value(b"hi").encode(&mut wire)?;
/// match decode_response(&wire, 1 << 20)? {
///     Decoded::Complete { frame, len } => {
///         assert_eq!(frame.value, b"hi");
///         assert_eq!(len, wire.len());
///     }
///     Decoded::Partial { .. } => unreachable!(),
/// }
/// // Every proper prefix is partial.
/// assert!(matches!(decode_response(&wire[..25], 1 << 20)?, Decoded::Partial { needed: 30 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode_response(input: &[u8], max_body: u32) -> Result<Decoded<Response<'_>>, DecodeError> {
    Ok(match split_frame(input, Magic::Response, max_body)? {
        Decoded::Partial { needed } => Decoded::Partial { needed },
        Decoded::Complete {
            frame: (header, body),
            len,
        } => Decoded::Complete {
            frame: Response {
                opcode: header.opcode,
                status: Status::from_u16(header.status_or_vbucket),
                opaque: header.opaque,
                cas: header.cas,
                extras: body.extras,
                key: body.key,
                value: body.value,
            },
            len,
        },
    })
}

/// Decodes one request frame from the start of `input` (for test servers,
/// proxies and fuzzing). Extras are parsed by length: 0, 4, 8 or 20 bytes.
///
/// ```
/// use quickmc::protocol::{decode_request, Decoded, Opcode, Request};
/// let mut wire = Vec::new();
/// Request::new(Opcode::GetKQ, b"k").opaque(5).encode(&mut wire)?;
/// let Decoded::Complete { frame, .. } = decode_request(&wire, 1024)? else { unreachable!() };
/// assert_eq!(frame, Request::new(Opcode::GetKQ, b"k").opaque(5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode_request(input: &[u8], max_body: u32) -> Result<Decoded<Request<'_>>, DecodeError> {
    Ok(match split_frame(input, Magic::Request, max_body)? {
        Decoded::Partial { needed } => Decoded::Partial { needed },
        Decoded::Complete {
            frame: (header, body),
            len,
        } => {
            let extras = parse_request_extras(body.extras)?;
            debug_assert_eq!(
                header.extras_len + header.key_len + body.value.len(),
                header.body_len
            );
            Decoded::Complete {
                frame: Request {
                    opcode: header.opcode,
                    extras,
                    key: body.key,
                    value: body.value,
                    opaque: header.opaque,
                    cas: header.cas,
                },
                len,
            }
        }
    })
}

fn parse_request_extras(bytes: &[u8]) -> Result<Extras, DecodeError> {
    // Lengths are checked by the match below before any read.
    let word = |at: usize| bytes.get(at..at + 4).map_or(0, BigEndian::read_u32);
    let dword = |at: usize| bytes.get(at..at + 8).map_or(0, BigEndian::read_u64);
    Ok(match bytes.len() {
        0 => Extras::None,
        4 => Extras::Expiration(word(0)),
        8 => Extras::Store {
            flags: word(0),
            expiration: word(4),
        },
        20 => Extras::Counter {
            delta: dword(0),
            initial: dword(8),
            expiration: word(16),
        },
        // The length came from a u8 header field.
        other => return Err(DecodeError::BadExtras(other as u8)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(response: Response<'_>) -> Vec<u8> {
        let mut buf = Vec::new();
        response.encode(&mut buf).unwrap();
        buf
    }

    #[test]
    fn every_proper_prefix_of_a_frame_is_partial() {
        let wire = encoded(
            Response::new(Opcode::GetK, Status::Ok)
                .extras(&[0, 0, 0, 4])
                .key(b"key")
                .value(b"value")
                .cas(99),
        );
        for cut in 0..wire.len() {
            assert!(
                matches!(
                    decode_response(&wire[..cut], 1024),
                    Ok(Decoded::Partial { .. })
                ),
                "prefix of {cut} bytes"
            );
        }
        let Ok(Decoded::Complete { frame, len }) = decode_response(&wire, 1024) else {
            panic!("whole frame must decode");
        };
        assert_eq!(len, wire.len());
        assert_eq!(frame.key, b"key");
        assert_eq!(frame.flags(), Some(4));
        assert_eq!(frame.cas, 99);
    }

    #[test]
    fn a_hostile_body_length_is_refused_from_the_header_alone() {
        let mut wire = encoded(Response::new(Opcode::Get, Status::Ok));
        wire[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            decode_response(&wire, 1 << 20),
            Err(DecodeError::BodyTooLarge {
                len: u32::MAX,
                max: 1 << 20,
                opaque: 0,
                value: u32::MAX
            })
        );
    }

    #[test]
    fn extras_and_key_longer_than_the_body_are_an_error() {
        let mut wire = encoded(Response::new(Opcode::Get, Status::Ok).value(b"abcd"));
        wire[4] = 3; // extras
        wire[2..4].copy_from_slice(&2u16.to_be_bytes()); // key
        assert!(matches!(
            decode_response(&wire, 1024),
            Err(DecodeError::BadLengths { .. })
        ));
    }

    #[test]
    fn a_request_magic_is_not_a_response() {
        let mut wire = Vec::new();
        Request::new(Opcode::Noop, b"").encode(&mut wire).unwrap();
        assert_eq!(decode_response(&wire, 0), Err(DecodeError::BadMagic(0x80)));
        assert_eq!(
            decode_response(&wire[..1], 0),
            Err(DecodeError::BadMagic(0x80))
        );
    }

    #[test]
    fn unknown_opcode_and_data_type_are_errors() {
        let mut wire = encoded(Response::new(Opcode::Noop, Status::Ok));
        wire[1] = 0x1b;
        assert_eq!(
            decode_response(&wire, 0),
            Err(DecodeError::UnknownOpcode(0x1b))
        );
        wire[1] = 0x0a;
        wire[5] = 1;
        assert_eq!(decode_response(&wire, 0), Err(DecodeError::BadDataType(1)));
    }

    #[test]
    fn unknown_status_codes_are_kept() {
        let mut wire = encoded(Response::new(Opcode::Get, Status::Ok));
        wire[6..8].copy_from_slice(&0x1234u16.to_be_bytes());
        let Ok(Decoded::Complete { frame, .. }) = decode_response(&wire, 0) else {
            panic!()
        };
        assert_eq!(frame.status, Status::Unknown(0x1234));
    }

    #[test]
    fn two_frames_in_one_buffer_decode_one_at_a_time() {
        let mut wire = encoded(Response::new(Opcode::GetKQ, Status::Ok).opaque(1));
        wire.extend(encoded(Response::new(Opcode::Noop, Status::Ok).opaque(2)));
        let Ok(Decoded::Complete { frame, len }) = decode_response(&wire, 0) else {
            panic!()
        };
        assert_eq!((frame.opaque, len), (1, 24));
        let Ok(Decoded::Complete { frame, .. }) = decode_response(&wire[len..], 0) else {
            panic!()
        };
        assert_eq!(frame.opcode, Opcode::Noop);
    }

    #[test]
    fn touch_reply_with_unrequested_flags_extras_is_accepted() {
        let wire = encoded(Response::new(Opcode::Touch, Status::Ok).extras(&[0, 0, 0, 16]));
        let Ok(Decoded::Complete { frame, .. }) = decode_response(&wire, 4) else {
            panic!()
        };
        assert_eq!(frame.flags(), Some(16));
    }

    #[test]
    fn request_extras_of_odd_length_are_refused() {
        let mut wire = Vec::new();
        Request::new(Opcode::Get, b"k").encode(&mut wire).unwrap();
        wire[4] = 1;
        wire[8..12].copy_from_slice(&2u32.to_be_bytes());
        wire.push(b'x');
        assert_eq!(decode_request(&wire, 1024), Err(DecodeError::BadExtras(1)));
    }
}
