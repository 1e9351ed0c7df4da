//! The memcached binary protocol, sans I/O.
//!
//! Bytes in, frames out: this module encodes requests into a buffer the
//! caller owns and decodes responses from a byte slice the caller filled. It
//! never touches a socket or a clock, allocates nothing of its own, and never
//! panics on any input — which is why the fuzz targets drive it directly.
//!
//! ```
//! use quickmc::protocol::{decode_response, Decoded, Opcode, Request};
//! let mut out = Vec::with_capacity(64);
//! Request::new(Opcode::Noop, b"").opaque(1).encode(&mut out)?;
//! // ... write `out` to a socket, read the reply into `input` ...
//! let input = [0x81, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
//! let Decoded::Complete { frame, len } = decode_response(&input, 1 << 20)? else { unreachable!() };
//! assert_eq!((frame.opcode, frame.opaque, len), (Opcode::Noop, 1, 24));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod decode;
mod encode;
mod frame;
mod opcode;
mod status;
mod text;

pub use batch::{BatchError, BatchMatcher, Matched};
pub use decode::{DecodeError, Decoded, decode_request, decode_response};
pub use encode::EncodeError;
pub use frame::{Extras, HEADER_LEN, MAX_KEY_LEN, NO_CREATE, Request, Response};
pub use opcode::{ExtrasKind, KeyRule, Magic, Opcode};
pub use status::Status;
pub use text::{
    MetadumpEntry, TextError, TextLine, decode_text_line, encode_metadump, encode_text_stats,
};
