//! Structured fuzz input: [`Reader`] reads values off the raw bytes (so the
//! replay test reads a file exactly as the fuzzer did, without quickmc
//! depending on `arbitrary`), [`Writer`] is its inverse and builds seeds,
//! and the frame readers and writers the protocol targets share.

use quickmc::protocol::{Extras, Opcode, Request, Response, Status};

/// Reads structured values off the front of fuzz input. Running out is not
/// an error: missing bytes read as zero and byte strings come out short.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = N.min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        out
    }

    /// One byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    /// Four bytes, little-endian.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    /// A byte string of at most `max` (≤ 65535) bytes: a u16 length, then the bytes.
    pub fn bytes(&mut self, max: u16) -> &'a [u8] {
        let len = usize::from(self.u16()) % (usize::from(max) + 1);
        let (taken, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// The inverse of [`Reader`]: builds inputs (seeds) field by field.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    /// The input built so far.
    pub out: Vec<u8>,
}

impl Writer {
    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> &mut Writer {
        self.out.push(v);
        self
    }

    /// Appends two bytes, little-endian.
    pub fn u16(&mut self, v: u16) -> &mut Writer {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends four bytes, little-endian.
    pub fn u32(&mut self, v: u32) -> &mut Writer {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends eight bytes, little-endian.
    pub fn u64(&mut self, v: u64) -> &mut Writer {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a byte string as [`Reader::bytes`] reads it (at most 65535 bytes).
    pub fn bytes(&mut self, v: &[u8]) -> &mut Writer {
        let len = u16::try_from(v.len()).expect("a byte string of at most 65535 bytes");
        self.u16(len);
        self.out.extend_from_slice(v);
        self
    }

    /// Appends raw bytes (what [`Reader::rest`] returns).
    pub fn raw(&mut self, v: &[u8]) -> &mut Writer {
        self.out.extend_from_slice(v);
        self
    }
}

/// The opcode at `index` (modulo) in [`Opcode::ALL`].
pub fn opcode_at(index: u8) -> Opcode {
    Opcode::ALL[usize::from(index) % Opcode::ALL.len()]
}

/// The index of `opcode` in [`Opcode::ALL`].
pub fn opcode_index(opcode: Opcode) -> u8 {
    let index = Opcode::ALL
        .iter()
        .position(|&o| o == opcode)
        .expect("every opcode is in ALL");
    u8::try_from(index).expect("fewer than 256 opcodes")
}

pub fn read_extras(r: &mut Reader<'_>) -> Extras {
    match r.u8() % 4 {
        0 => Extras::None,
        1 => Extras::Store {
            flags: r.u32(),
            expiration: r.u32(),
        },
        2 => Extras::Counter {
            delta: r.u64(),
            initial: r.u64(),
            expiration: r.u32(),
        },
        _ => Extras::Expiration(r.u32()),
    }
}

pub fn write_extras(w: &mut Writer, extras: &Extras) {
    match *extras {
        Extras::None => {
            w.u8(0);
        }
        Extras::Store { flags, expiration } => {
            w.u8(1).u32(flags).u32(expiration);
        }
        Extras::Counter {
            delta,
            initial,
            expiration,
        } => {
            w.u8(2).u64(delta).u64(initial).u32(expiration);
        }
        Extras::Expiration(expiration) => {
            w.u8(3).u32(expiration);
        }
    }
}

/// A request as fuzz input: any opcode, any extras, keys up to 300 bytes
/// (so over-long ones occur), values up to 64 KiB.
pub fn read_request<'a>(r: &mut Reader<'a>) -> Request<'a> {
    let opcode = opcode_at(r.u8());
    let extras = read_extras(r);
    let key = r.bytes(300);
    let value = r.bytes(u16::MAX);
    Request {
        opcode,
        extras,
        key,
        value,
        opaque: r.u32(),
        cas: r.u64(),
    }
}

/// The inverse of [`read_request`].
pub fn write_request(w: &mut Writer, request: &Request<'_>) {
    w.u8(opcode_index(request.opcode));
    write_extras(w, &request.extras);
    w.bytes(request.key)
        .bytes(request.value)
        .u32(request.opaque)
        .u64(request.cas);
}

/// A response as fuzz input: any opcode, any status code, extras up to 300
/// bytes (so unencodable ones occur), keys up to 1 KiB, values up to 64 KiB.
pub fn read_response<'a>(r: &mut Reader<'a>) -> Response<'a> {
    let opcode = opcode_at(r.u8());
    let status = Status::from_u16(r.u16());
    let opaque = r.u32();
    let cas = r.u64();
    Response {
        opcode,
        status,
        opaque,
        cas,
        extras: r.bytes(300),
        key: r.bytes(1024),
        value: r.bytes(u16::MAX),
    }
}

/// The inverse of [`read_response`].
pub fn write_response(w: &mut Writer, response: &Response<'_>) {
    w.u8(opcode_index(response.opcode))
        .u16(response.status.to_u16())
        .u32(response.opaque)
        .u64(response.cas)
        .bytes(response.extras)
        .bytes(response.key)
        .bytes(response.value);
}

/// Where `part` starts within `whole`, if it lies entirely inside it.
pub fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = part.as_ptr().addr().checked_sub(whole.as_ptr().addr())?;
    (start + part.len() <= whole.len()).then_some(start)
}
