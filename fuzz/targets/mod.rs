//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries
//! (`fuzz/fuzz_targets/*.rs`, through the `quickmc-fuzz` library) and by
//! `tests/fuzz_replay.rs`, which replays every seed and regression input
//! through exactly this code under a plain `cargo test`.
//!
//! Every target takes raw bytes. Structured inputs (a request, a batch of
//! replies, a value and its flags) are built from those bytes by the small
//! [`Reader`] below rather than by `arbitrary`, so that the replay test
//! reads an input exactly as the fuzzer did without quickmc depending on
//! `arbitrary`; [`Writer`] is its inverse, used to turn captured traffic
//! into seeds.
//!
//! Allocation is measured by [`CountingAlloc`] when a binary installs it as
//! its global allocator (the fuzz library and the replay test both do).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use quickmc::Error;
use quickmc::protocol::{
    BatchError, BatchMatcher, DecodeError, Decoded, EncodeError, Extras, ExtrasKind, HEADER_LEN,
    KeyRule, MAX_KEY_LEN, Matched, Opcode, Request, Response, Status, decode_request,
    decode_response,
};
use quickmc::value::{
    Compression, CompressionAlgorithm, DefaultTranscoder, FromValue, Item, Serde, ToValue,
    Transcoder, Value, flags,
};

/// The maximum body the decode and chunked targets allow (a connection's `max_body`).
pub const MAX_BODY: u32 = 1 << 20;

/// The decompression limit the value target gives the transcoder.
pub const VALUE_LIMIT: usize = 64 << 10;

/// Heap (Rust allocator) a transcoder decode may hold at its peak: the
/// output (at most twice the limit while a `Vec` doubles) plus the zlib
/// inflater's state. zstd's own context lives in C `malloc` and is bounded
/// by the window limit the transcoder sets, not counted here.
pub const DECODE_PEAK_BOUND: usize = 2 * (VALUE_LIMIT + 1) + (256 << 10);

// ---------------------------------------------------------------------------
// Allocation counting

/// A global allocator that counts, per thread, allocations and the peak of
/// live bytes, delegating everything to the system allocator.
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(bytes: usize) {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(bytes);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

// SAFETY: every call is passed unchanged to the system allocator; the
// bookkeeping on the side touches only const-initialised thread-locals of
// `Cell<usize>`, which neither allocate nor register destructors.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNTING.store(true, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        COUNTING.store(true, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            shrank(layout.size() - new_size);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What a closure allocated on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Allocations and reallocations.
    pub allocations: usize,
    /// The most bytes live at once beyond what was live before.
    pub peak: usize,
}

/// Runs `f` and reports its allocations; `None` when [`CountingAlloc`] is
/// not the global allocator (nothing can be measured then).
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Option<Usage>) {
    let count_before = ALLOCATIONS.with(Cell::get);
    let live_before = LIVE.with(Cell::get);
    let peak_before = PEAK.with(|peak| peak.replace(live_before));
    let result = f();
    let usage = Usage {
        allocations: ALLOCATIONS.with(Cell::get) - count_before,
        peak: PEAK.with(Cell::get).saturating_sub(live_before),
    };
    PEAK.with(|peak| peak.set(peak.get().max(peak_before)));
    let counting = COUNTING.load(Ordering::Relaxed);
    (result, counting.then_some(usage))
}

fn assert_allocates_nothing(usage: Option<Usage>, what: &str) {
    if let Some(usage) = usage {
        assert_eq!(usage.allocations, 0, "{what} allocated: {usage:?}");
    }
}

// ---------------------------------------------------------------------------
// Structured input

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

fn read_extras(r: &mut Reader<'_>) -> Extras {
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

fn write_extras(w: &mut Writer, extras: &Extras) {
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
fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
    let start = part.as_ptr().addr().checked_sub(whole.as_ptr().addr())?;
    (start + part.len() <= whole.len()).then_some(start)
}

// ---------------------------------------------------------------------------
// decode

/// Arbitrary bytes into the response and request decoders, frame after
/// frame, at three maximum body sizes.
pub fn decode(data: &[u8]) {
    for max in [MAX_BODY, 64, u32::MAX] {
        decode_responses(data, max);
        decode_requests(data, max);
    }
}

fn declared_body(header: &[u8]) -> usize {
    u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as usize
}

/// Checks a `Partial` answer: it asks for more than there is, exactly the
/// header or the whole declared frame, and never more than the maximum.
fn check_partial(rest: &[u8], needed: usize, max: u32) {
    assert!(
        needed > rest.len(),
        "partial with {} bytes asks for {needed}",
        rest.len()
    );
    assert!(
        needed <= HEADER_LEN + max as usize,
        "partial asks for {needed} bytes with max body {max}"
    );
    if rest.len() < HEADER_LEN {
        assert_eq!(needed, HEADER_LEN, "a short header asks for the header");
    } else {
        assert_eq!(
            needed,
            HEADER_LEN + declared_body(rest),
            "asks for the declared frame"
        );
    }
}

/// Checks a decode error against the header it blames.
fn check_error(rest: &[u8], error: DecodeError, magic: u8, max: u32) {
    match error {
        DecodeError::BadMagic(byte) => {
            assert_eq!(Some(&byte), rest.first());
            assert_ne!(byte, magic);
        }
        DecodeError::UnknownOpcode(byte) => {
            assert_eq!(byte, rest[1]);
            assert_eq!(Opcode::from_u8(byte), None);
        }
        DecodeError::BadDataType(byte) => {
            assert_eq!(byte, rest[5]);
            assert_ne!(byte, 0);
        }
        DecodeError::BadLengths { extras, key, body } => {
            assert_eq!((extras, body as usize), (rest[4], declared_body(rest)));
            assert_eq!(key, u16::from_be_bytes([rest[2], rest[3]]));
            assert!(u32::from(extras) + u32::from(key) > body);
        }
        DecodeError::BodyTooLarge {
            len, max: reported, ..
        } => {
            assert_eq!((len as usize, reported), (declared_body(rest), max));
            assert!(len > max);
        }
        DecodeError::BadExtras(len) => {
            assert_eq!(magic, 0x80, "only requests have typed extras");
            assert_eq!(len, rest[4]);
            assert!(![0, 4, 8, 20].contains(&len));
        }
    }
}

/// Checks a complete frame: it lies within the input, in order, its parts
/// add up to its length, and its body is within the maximum.
fn check_complete(rest: &[u8], len: usize, parts: [&[u8]; 3], max: u32) {
    assert!(
        len >= HEADER_LEN && len <= rest.len(),
        "frame of {len} bytes in {}",
        rest.len()
    );
    assert!(len - HEADER_LEN <= max as usize, "body above the maximum");
    let frame = &rest[..len];
    let mut at = HEADER_LEN;
    for part in parts {
        if part.is_empty() {
            continue;
        }
        assert_eq!(offset_in(frame, part), Some(at), "a part outside its frame");
        at += part.len();
    }
    assert_eq!(at, len, "parts do not add up to the frame");
}

/// If the header is all there, padding the input to `needed` completes the frame.
fn check_padding_completes(rest: &[u8], needed: usize, max: u32, request: bool) {
    if rest.len() < HEADER_LEN || needed > rest.len() + 4096 {
        return;
    }
    let mut padded = rest.to_vec();
    padded.resize(needed, 0);
    let len = if request {
        match decode_request(&padded, max) {
            Ok(Decoded::Complete { len, .. }) => len,
            // Padding may give request extras no known shape.
            Err(DecodeError::BadExtras(_)) => return,
            other => panic!("padded to {needed} bytes: {other:?}"),
        }
    } else {
        match decode_response(&padded, max) {
            Ok(Decoded::Complete { len, .. }) => len,
            other => panic!("padded to {needed} bytes: {other:?}"),
        }
    };
    assert_eq!(len, needed);
}

fn decode_responses(data: &[u8], max: u32) {
    let mut rest = data;
    loop {
        let (result, usage) = measure(|| decode_response(rest, max));
        assert_allocates_nothing(usage, "decode_response");
        match result {
            Ok(Decoded::Complete { frame, len }) => {
                check_complete(rest, len, [frame.extras, frame.key, frame.value], max);
                assert_eq!(frame.encoded_len(), len);
                // Decoding loses nothing: the frame re-encodes to its bytes.
                let mut again = Vec::with_capacity(len);
                frame
                    .encode(&mut again)
                    .expect("a decoded response re-encodes");
                assert_eq!(again, rest[..len], "decode then encode changed the frame");
                if frame.extras.len() >= 4 {
                    assert!(frame.flags().is_some());
                }
                rest = &rest[len..];
            }
            Ok(Decoded::Partial { needed }) => {
                check_partial(rest, needed, max);
                check_padding_completes(rest, needed, max, false);
                return;
            }
            Err(error) => {
                check_error(rest, error, 0x81, max);
                return;
            }
        }
    }
}

fn decode_requests(data: &[u8], max: u32) {
    let mut rest = data;
    loop {
        let (result, usage) = measure(|| decode_request(rest, max));
        assert_allocates_nothing(usage, "decode_request");
        match result {
            Ok(Decoded::Complete { frame, len }) => {
                assert!(len >= HEADER_LEN && len <= rest.len());
                assert_eq!(usize::from(rest[4]), frame.extras.len(), "extras length");
                check_complete(
                    rest,
                    len,
                    [&rest[24..24 + frame.extras.len()], frame.key, frame.value],
                    max,
                );
                assert_eq!(frame.encoded_len(), len);
                // A request the encoder accepts re-encodes to the same bytes,
                // but for the vbucket, which quickmc always sends as 0.
                if frame.validate().is_ok() {
                    let mut again = Vec::with_capacity(len);
                    frame.encode(&mut again).expect("validated");
                    let mut expected = rest[..len].to_vec();
                    expected[6..8].fill(0);
                    assert_eq!(again, expected, "decode then encode changed the request");
                }
                rest = &rest[len..];
            }
            Ok(Decoded::Partial { needed }) => {
                check_partial(rest, needed, max);
                check_padding_completes(rest, needed, max, true);
                return;
            }
            Err(error) => {
                check_error(rest, error, 0x80, max);
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------
// roundtrip

/// A sequence of arbitrary requests and responses, each encoded and decoded back.
pub fn roundtrip(data: &[u8]) {
    let mut r = Reader::new(data);
    while !r.is_empty() {
        if r.u8().is_multiple_of(2) {
            roundtrip_request(&read_request(&mut r));
        } else {
            roundtrip_response(&read_response(&mut r));
        }
    }
}

/// What memcached accepts, written independently of `Request::validate`.
fn acceptable(request: &Request<'_>) -> bool {
    let opcode = request.opcode;
    let key_ok = match opcode.key_rule() {
        KeyRule::Required => (1..=MAX_KEY_LEN).contains(&request.key.len()),
        KeyRule::Optional => request.key.len() <= MAX_KEY_LEN,
        KeyRule::Forbidden => request.key.is_empty(),
    };
    let value_ok = request.value.is_empty() || opcode.takes_value();
    let extras_ok = match opcode.extras_kind() {
        ExtrasKind::None => request.extras == Extras::None,
        ExtrasKind::Store => matches!(request.extras, Extras::Store { .. }),
        ExtrasKind::Counter => matches!(request.extras, Extras::Counter { .. }),
        ExtrasKind::Expiration => matches!(request.extras, Extras::Expiration(_)),
        ExtrasKind::OptionalDelay => {
            matches!(request.extras, Extras::None | Extras::Expiration(_))
        }
    };
    key_ok && value_ok && extras_ok
}

/// Proper prefixes worth checking: all of them for small frames, else the
/// header's and a few in the body.
fn prefixes(len: usize) -> impl Iterator<Item = usize> {
    let all = len <= 512;
    (0..len).filter(move |&cut| all || cut <= HEADER_LEN + 1 || cut == len / 2 || cut + 1 >= len)
}

/// One request: validation and encoding agree; a refused request leaves the
/// buffer as it was; an accepted one decodes back to itself.
pub fn roundtrip_request(request: &Request<'_>) {
    let mut buf = vec![0xa5; 3];
    let verdict = request.validate();
    assert_eq!(
        verdict.is_ok(),
        acceptable(request),
        "validate disagrees on {request:?}"
    );
    let encoded = request.encode(&mut buf);
    assert_eq!(encoded, verdict, "encode and validate disagree");
    if encoded.is_err() {
        assert_eq!(buf, [0xa5; 3], "a refused request changed the buffer");
        return;
    }
    let wire = &buf[3..];
    assert_eq!(wire.len(), request.encoded_len());
    assert_eq!(
        decode_request(wire, MAX_BODY),
        Ok(Decoded::Complete {
            frame: *request,
            len: wire.len()
        })
    );
    assert_eq!(
        decode_response(wire, MAX_BODY),
        Err(DecodeError::BadMagic(0x80))
    );
    for cut in prefixes(wire.len()) {
        let needed = if cut < HEADER_LEN {
            HEADER_LEN
        } else {
            wire.len()
        };
        assert_eq!(
            decode_request(&wire[..cut], MAX_BODY),
            Ok(Decoded::Partial { needed })
        );
    }
    let body = (wire.len() - HEADER_LEN) as u32;
    if body > 0 {
        assert_eq!(
            decode_request(wire, body - 1),
            Err(DecodeError::BodyTooLarge {
                len: body,
                max: body - 1,
                opaque: request.opaque
            })
        );
    }
}

/// One response: it encodes unless a length field cannot hold it (and then
/// leaves the buffer alone), and decodes back to itself.
pub fn roundtrip_response(response: &Response<'_>) {
    let mut buf = vec![0x5a; 2];
    match response.encode(&mut buf) {
        Err(error) => {
            assert_eq!(buf, [0x5a; 2], "a refused response changed the buffer");
            match error {
                EncodeError::BodyTooLong => assert!(response.extras.len() > 255),
                EncodeError::KeyTooLong(len) => assert!(len > usize::from(u16::MAX)),
                other => panic!("a response refused for {other:?}"),
            }
        }
        Ok(()) => {
            assert!(response.extras.len() <= 255);
            let wire = &buf[2..];
            assert_eq!(wire.len(), response.encoded_len());
            assert_eq!(
                decode_response(wire, MAX_BODY),
                Ok(Decoded::Complete {
                    frame: *response,
                    len: wire.len()
                })
            );
            assert_eq!(
                decode_request(wire, MAX_BODY),
                Err(DecodeError::BadMagic(0x81))
            );
            for cut in prefixes(wire.len()) {
                let needed = if cut < HEADER_LEN {
                    HEADER_LEN
                } else {
                    wire.len()
                };
                assert_eq!(
                    decode_response(&wire[..cut], MAX_BODY),
                    Ok(Decoded::Partial { needed })
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// chunked

/// Writes a chunked-target input: split points, buffer policy, then frames.
pub fn write_chunked(w: &mut Writer, cuts: &[u32], policy: u8, frames: &[Response<'_>]) {
    w.u8(u8::try_from(cuts.len()).expect("at most 255 cuts"));
    for &cut in cuts {
        w.u32(cut);
    }
    w.u8(policy);
    for frame in frames {
        write_response(w, frame);
    }
}

/// A valid stream of responses split at arbitrary points and fed chunk by
/// chunk through a read buffer the way a connection reads: the same frames
/// come out as from the whole stream, and every wait asks for exactly the
/// next header or frame.
pub fn chunked(data: &[u8]) {
    let mut r = Reader::new(data);
    let cut_count = usize::from(r.u8() % 32);
    let cut_points: Vec<u32> = (0..cut_count).map(|_| r.u32()).collect();
    let policy = r.u8();
    let mut frames = Vec::new();
    let mut stream = Vec::new();
    while !r.is_empty() && frames.len() < 64 {
        let response = read_response(&mut r);
        if response.encode(&mut stream).is_ok() {
            frames.push(response);
        }
    }

    // The whole stream at once.
    let mut rest = &stream[..];
    for expected in &frames {
        match decode_response(rest, MAX_BODY) {
            Ok(Decoded::Complete { frame, len }) => {
                assert_eq!(&frame, expected);
                rest = &rest[len..];
            }
            other => panic!("a valid stream did not decode: {other:?}"),
        }
    }
    assert!(rest.is_empty());

    // Chunk boundaries: the cut points scaled onto the stream, or every
    // byte when the policy asks and the stream is small.
    let mut cuts: Vec<usize> = if policy & 0x80 != 0 && stream.len() <= 4096 {
        (1..stream.len()).collect()
    } else {
        cut_points
            .iter()
            .map(|&c| ((u64::from(c) * (stream.len() as u64 + 1)) >> 32) as usize)
            .collect()
    };
    cuts.push(stream.len());
    cuts.sort_unstable();
    cuts.dedup();

    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut next = 0;
    let mut from = 0;
    for cut in cuts {
        buf.extend_from_slice(&stream[from..cut]);
        from = cut;
        loop {
            let available = &buf[start..];
            match decode_response(available, MAX_BODY) {
                Ok(Decoded::Complete { frame, len }) => {
                    let expected = frames.get(next).expect("more frames than were sent");
                    assert_eq!(&frame, expected, "frame {next} differs when chunked");
                    assert_eq!(len, expected.encoded_len());
                    next += 1;
                    start += len;
                }
                Ok(Decoded::Partial { needed }) => {
                    let want = if available.len() < HEADER_LEN {
                        HEADER_LEN
                    } else {
                        frames[next].encoded_len()
                    };
                    assert_eq!(
                        needed,
                        want,
                        "wrong wait with {} bytes buffered",
                        available.len()
                    );
                    break;
                }
                Err(error) => panic!("a valid stream cut at {cut} failed: {error}"),
            }
        }
        // Consume as the connection's read buffer does: reset when all is
        // read, else (by policy) move the rest to the front.
        if start == buf.len() {
            buf.clear();
            start = 0;
        } else if policy & 1 != 0 && start >= buf.len() / 2 {
            buf.drain(..start);
            start = 0;
        }
    }
    assert_eq!(next, frames.len(), "frames lost when chunked");
    assert_eq!(start, buf.len(), "bytes left over");
}

// ---------------------------------------------------------------------------
// batch

/// Writes a batch-target header: first opaque, request count, opcode, keys.
pub fn write_batch_header(w: &mut Writer, first: u32, opcode: Opcode, keys: &[&[u8]]) {
    let count = u8::try_from(keys.len()).expect("a short batch");
    assert!(count < 0x80);
    w.u32(first).u8(count).u8(opcode_index(opcode));
    for key in keys {
        w.bytes(key);
    }
}

/// Writes one reply to a batch exactly as received (raw opaque, opcode,
/// status and key).
pub fn write_batch_reply(w: &mut Writer, reply: &Response<'_>) {
    w.u8(0b0111_1011)
        .u32(reply.opaque)
        .u8(opcode_index(reply.opcode))
        .u16(reply.status.to_u16())
        .bytes(reply.key);
}

/// An arbitrary batch and an arbitrary sequence of replies fed to the
/// matcher, checked against an independent model of what may match.
pub fn batch(data: &[u8]) {
    let mut r = Reader::new(data);
    let first = r.u32();
    let selector = r.u8();
    let count: u64 = if selector & 0x80 == 0 {
        u64::from(selector)
    } else {
        r.u64()
    };
    let opcode = opcode_at(r.u8());
    let key_count = count.min(64) as usize;
    let keys: Vec<&[u8]> = (0..key_count).map(|_| r.bytes(250)).collect();
    let key_of = |i: usize| keys.get(i).copied();

    let mut matcher =
        BatchMatcher::new(first, usize::try_from(count).unwrap_or(usize::MAX), opcode);
    // The model: the matcher's count, the last index matched, whether done.
    let count = u32::try_from(count).unwrap_or(u32::MAX).min(u32::MAX - 1);
    assert_eq!(matcher.noop_opaque(), first.wrapping_add(count));
    let mut last: Option<u32> = None;
    let mut done = false;

    while !r.is_empty() {
        let shape = r.u8();
        let opaque = match shape & 0b11 {
            0 => first.wrapping_add(u32::from(r.u8())),
            1 => first
                .wrapping_add(count)
                .wrapping_add(u32::from(r.u8() % 4)),
            2 => first.wrapping_sub(1 + u32::from(r.u8() % 4)),
            _ => r.u32(),
        };
        let offset = opaque.wrapping_sub(first);
        let reply_opcode = match (shape >> 2) & 0b11 {
            0 => opcode,
            1 => Opcode::Noop,
            _ => opcode_at(r.u8()),
        };
        let status = if shape & 0x10 == 0 {
            Status::Ok
        } else {
            Status::from_u16(r.u16())
        };
        let key: &[u8] = match (shape >> 5) & 0b11 {
            0 => key_of(offset as usize).unwrap_or_default(),
            1 => keys
                .get(usize::from(r.u8()) % keys.len().max(1))
                .copied()
                .unwrap_or_default(),
            2 => r.bytes(250),
            _ => b"",
        };
        let reply = Response::new(reply_opcode, status)
            .opaque(opaque)
            .key(key)
            .value(b"v");

        let echoes = opcode.echoes_key() && status == Status::Ok;
        let model_reply = !done
            && offset < count
            && last.is_none_or(|l| offset > l)
            && reply_opcode == opcode
            && (!echoes || key_of(offset as usize) == Some(key));
        let model_end =
            !done && offset == count && reply_opcode == Opcode::Noop && status == Status::Ok;

        let got = matcher.accept(&reply, key_of);
        match got {
            Ok(Matched::Reply(index)) => {
                assert!(model_reply, "accepted {reply:?} as reply {index}");
                assert!(!done, "a reply after the end");
                assert_eq!(index as u64, u64::from(offset));
                assert_eq!(reply.opaque, first.wrapping_add(index as u32));
                assert_eq!(reply.opcode, opcode);
                assert!(
                    last.is_none_or(|l| index as u64 > u64::from(l)),
                    "index went back"
                );
                if echoes {
                    assert_eq!(key_of(index), Some(reply.key), "matched to the wrong key");
                }
                last = Some(offset);
            }
            Ok(Matched::End) => {
                assert!(model_end, "accepted {reply:?} as the end");
                done = true;
            }
            Err(error) => {
                assert!(
                    !model_reply && !model_end,
                    "refused a valid {reply:?}: {error}"
                );
                match error {
                    BatchError::AfterEnd => assert!(done),
                    BatchError::UnknownOpaque(o) => {
                        assert_eq!(o, opaque);
                        assert!(offset >= count);
                    }
                    BatchError::OutOfOrder(o) => {
                        assert_eq!(o, opaque);
                        assert!(last.is_some_and(|l| offset <= l));
                    }
                    BatchError::UnexpectedOpcode { expected, got } => {
                        assert_eq!((expected, got), (opcode, reply_opcode));
                        assert_ne!(expected, got);
                    }
                    BatchError::KeyMismatch => {
                        assert!(echoes);
                        assert_ne!(key_of(offset as usize), Some(key));
                    }
                    BatchError::NoopFailed(s) => {
                        assert_eq!(s, status);
                        assert_ne!(s, Status::Ok);
                        assert_eq!((offset, reply_opcode), (count, Opcode::Noop));
                    }
                }
            }
        }
        assert_eq!(matcher.is_done(), done);
    }
}

// ---------------------------------------------------------------------------
// value

/// Type flags the client reads, and compression flags.
const TYPE_FLAGS: [u32; 8] = [
    flags::BYTES,
    flags::PICKLE,
    flags::INTEGER,
    flags::LONG,
    flags::TEXT,
    flags::POSTCARD,
    3,
    1 << 20,
];
const COMPRESSION_FLAGS: [u32; 4] = [0, flags::ZLIB, flags::ZSTD, flags::ZLIB | flags::ZSTD];

/// Writes a value-target input: raw flags, then the stored bytes.
pub fn write_value(w: &mut Writer, flags: u32, data: &[u8]) {
    w.u8(1).u32(flags).raw(data);
}

/// A compression bomb: a small value that decompresses to far more than the limit.
#[derive(Debug)]
pub struct Bomb {
    /// What it is.
    pub name: &'static str,
    /// Its flags (a type flag and a compression flag).
    pub flags: u32,
    /// The compressed bytes.
    pub data: Vec<u8>,
    /// Whether the decoder may only refuse it after decompressing up to the
    /// limit (else its frame header alone gives it away).
    pub fills_limit: bool,
}

/// zstd-compressed zeros; `window_log` None is the level's default window.
fn zstd_zeros(zeros: &[u8], window_log: Option<u32>, declare_size: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = zstd::stream::write::Encoder::new(&mut out, 3).expect("zstd");
    if let Some(log) = window_log {
        encoder.window_log(log).expect("zstd window");
    }
    encoder.include_contentsize(declare_size).expect("zstd");
    if declare_size {
        encoder
            .set_pledged_src_size(Some(zeros.len() as u64))
            .expect("zstd size");
    }
    std::io::Write::write_all(&mut encoder, zeros).expect("zstd");
    encoder.finish().expect("zstd");
    out
}

/// Compression bombs of 8 MiB of zeros, built once.
pub fn bombs() -> &'static [Bomb] {
    static BOMBS: OnceLock<Vec<Bomb>> = OnceLock::new();
    BOMBS.get_or_init(|| {
        let zeros = vec![0u8; 8 << 20];
        let bomb = |name, flags, data, fills_limit| Bomb {
            name,
            flags,
            data,
            fills_limit,
        };
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut zlib, &zeros).expect("zlib");
        let zlib_bomb = zlib.finish().expect("zlib");
        vec![
            // A 1 KiB window, which any limit allows: only the output limit stops these.
            bomb(
                "zstd-small-window",
                flags::TEXT | flags::ZSTD,
                zstd_zeros(&zeros, Some(10), true),
                true,
            ),
            bomb(
                "zstd-small-window-unsized",
                flags::BYTES | flags::ZSTD,
                zstd_zeros(&zeros, Some(10), false),
                true,
            ),
            // The default window for 8 MiB: refused from the frame header.
            bomb(
                "zstd-sized",
                flags::TEXT | flags::ZSTD,
                zstd::bulk::compress(&zeros, 3).expect("zstd"),
                false,
            ),
            bomb(
                "zstd-unsized",
                flags::BYTES | flags::ZSTD,
                zstd_zeros(&zeros, None, false),
                false,
            ),
            // A frame declaring a 2 GiB window, holding one empty raw block.
            bomb(
                "zstd-2GiB-window",
                flags::BYTES | flags::ZSTD,
                vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00],
                false,
            ),
            bomb("zlib", flags::TEXT | flags::ZLIB, zlib_bomb, true),
        ]
    })
}

fn transcoder() -> DefaultTranscoder {
    DefaultTranscoder::new(CompressionAlgorithm::Zstd, VALUE_LIMIT)
}

/// Every bomb is cut off with a compression error, within the heap bound.
pub fn check_bombs() {
    for bomb in bombs() {
        let (result, usage) =
            measure(|| transcoder().decode(Item::new(&bomb.data[..], bomb.flags)));
        assert!(
            matches!(result, Err(Error::Compression { .. })),
            "the {} bomb was not cut off: {:?}",
            bomb.name,
            result.map(|item| item.data.len())
        );
        if let Some(usage) = usage {
            assert!(
                usage.peak <= DECODE_PEAK_BOUND,
                "the {} bomb held {usage:?}",
                bomb.name
            );
            if bomb.fills_limit {
                assert!(
                    usage.peak > VALUE_LIMIT,
                    "the {} bomb was refused before the limit ({usage:?}): \
                     it no longer tests the limit",
                    bomb.name
                );
            }
        }
    }
}

/// Arbitrary bytes and flags into the transcoder and every value type.
pub fn value(data: &[u8]) {
    static BOMBS_CHECKED: OnceLock<()> = OnceLock::new();
    BOMBS_CHECKED.get_or_init(check_bombs);

    let mut r = Reader::new(data);
    let selector = r.u8();
    let patched: Vec<u8>;
    let (flags, bytes): (u32, &[u8]) = match selector % 4 {
        // Chosen type and compression flags.
        0 => {
            let flags =
                TYPE_FLAGS[usize::from(r.u8() % 8)] | COMPRESSION_FLAGS[usize::from(r.u8() % 4)];
            (flags, r.rest())
        }
        // Raw flags.
        1 => (r.u32(), r.rest()),
        // A bomb with bytes flipped.
        2 => {
            let chosen = &bombs()[usize::from(r.u8()) % bombs().len()];
            let mut bomb = chosen.data.clone();
            while !r.is_empty() {
                let at = usize::from(r.u16()) % bomb.len();
                bomb[at] ^= r.u8();
            }
            patched = bomb;
            (chosen.flags, &patched[..])
        }
        // Chosen type flag, the bytes compressed by quickmc, then truncated.
        _ => {
            let type_flag = TYPE_FLAGS[usize::from(r.u8() % 8)];
            let algorithm = if r.u8().is_multiple_of(2) {
                CompressionAlgorithm::Zstd
            } else {
                CompressionAlgorithm::Zlib
            };
            let cut = usize::from(r.u16());
            let rest = r.rest();
            let every = Compression {
                min_compress_len: 1,
                level: 1,
            };
            let wire = DefaultTranscoder::new(algorithm, VALUE_LIMIT)
                .encode(Item::new(rest, type_flag), every)
                .expect("compression does not fail");
            let keep = wire.data.len() - cut % (wire.data.len() + 1) / 4;
            patched = wire.data[..keep].to_vec();
            (wire.flags, &patched[..])
        }
    };

    read_every_type(&Item::new(bytes, flags));

    let (decoded, usage) = measure(|| transcoder().decode(Item::new(bytes, flags)));
    if let Some(usage) = usage {
        assert!(usage.peak <= DECODE_PEAK_BOUND, "decoding held {usage:?}");
    }
    let compression = flags & flags::COMPRESSION_MASK;
    match decoded {
        Ok(item) => {
            assert!(
                compression == flags::ZLIB || compression == flags::ZSTD || compression == 0,
                "decoded a value flagged both zlib and zstd"
            );
            assert_eq!(item.flags, flags & !flags::COMPRESSION_MASK);
            if compression == 0 {
                assert_eq!(&*item.data, bytes, "an uncompressed value changed");
            } else {
                assert!(
                    item.data.len() <= VALUE_LIMIT,
                    "decompressed past the limit"
                );
            }
            read_every_type(&item);
        }
        Err(Error::Compression { .. }) => assert_ne!(compression, 0),
        Err(other) => panic!("decode failed with a {other:?}"),
    }

    // What quickmc compresses reads back (when it fits the limit).
    let type_flag = flags & !flags::COMPRESSION_MASK;
    if compression == 0 && bytes.len() <= VALUE_LIMIT {
        for algorithm in [CompressionAlgorithm::Zstd, CompressionAlgorithm::Zlib] {
            let t = DefaultTranscoder::new(algorithm, VALUE_LIMIT);
            let every = Compression {
                min_compress_len: 1,
                level: -1,
            };
            let wire = t
                .encode(Item::new(bytes, type_flag), every)
                .expect("compress");
            let back = t.decode(wire).expect("decompress what was compressed");
            assert_eq!(back, Item::new(bytes, type_flag));
        }
    }
}

/// Heap a conversion may use for a value of `len` bytes.
fn conversion_bound(len: usize) -> usize {
    16 * len + (4 << 20)
}

/// Reads `item` as every type the client can return, checking each against
/// the others and that what reads back writes and reads again the same.
pub fn read_every_type(item: &Item<'_>) {
    let data = &*item.data;
    let type_flag = item.flags & !flags::COMPRESSION_MASK;
    let numeric = matches!(
        type_flag,
        flags::BYTES | flags::TEXT | flags::LONG | flags::INTEGER
    );
    let (_, usage) = measure(|| read_every_type_unmeasured(item, data, type_flag, numeric));
    if let Some(usage) = usage {
        assert!(
            usage.peak <= conversion_bound(data.len()),
            "reading a {}-byte value held {usage:?}",
            data.len()
        );
    }
}

/// Each integer type that reads agrees with `i128` and reads back what it writes.
macro_rules! check_integers {
    ($item:expr, $wide:expr, $($t:ty),*) => {$(
        match <$t>::from_item($item.clone()) {
            Ok(n) => {
                assert_eq!($wide.as_ref().ok(), Some(&(n as i128)), stringify!($t));
                let again = n.to_item().expect("integers write");
                assert_eq!(<$t>::from_item(again).expect("an integer reads back"), n);
            }
            Err(error) => assert!(matches!(error, Error::Deserialize { .. }), "{error:?}"),
        }
    )*};
}

fn read_every_type_unmeasured(item: &Item<'_>, data: &[u8], type_flag: u32, numeric: bool) {
    // Numbers (flags 2 and 4) read without memcached's decrement padding.
    let unpadded = if matches!(type_flag, flags::LONG | flags::INTEGER) {
        let end = data.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        &data[..end]
    } else {
        data
    };
    assert_eq!(
        Vec::<u8>::from_item(item.clone()).expect("bytes always read"),
        unpadded
    );
    assert_eq!(
        &Item::from_item(item.clone()).expect("items always read"),
        item
    );

    let text = String::from_item(item.clone());
    match &text {
        Ok(text) => {
            assert!(numeric);
            assert_eq!(text.as_bytes(), unpadded);
        }
        Err(error) => assert!(matches!(error, Error::Deserialize { .. })),
    }

    let wide = i128::from_item(item.clone());
    if let Ok(n) = wide {
        assert!(numeric);
        let digits = std::str::from_utf8(data).expect("a number is text");
        assert_eq!(digits.trim_matches(' ').parse::<i128>().ok(), Some(n));
    }
    check_integers!(
        item, wide, i8, i16, i32, i64, isize, u8, u16, u32, u64, usize
    );
    match u128::from_item(item.clone()) {
        Ok(n) => {
            if let Ok(w) = wide {
                assert_eq!(i128::try_from(n).ok(), Some(w));
            }
            assert_eq!(
                u128::from_item(n.to_item().expect("u128")).expect("reads back"),
                n
            );
        }
        Err(error) => assert!(matches!(error, Error::Deserialize { .. })),
    }

    match bool::from_item(item.clone()) {
        Ok(b) => assert_eq!(wide.as_ref().ok().map(|n| *n != 0), Some(b)),
        Err(_) => assert!(wide.is_err()),
    }

    match Value::from_item(item.clone()) {
        Ok(value) => {
            match &value {
                Value::Bytes(b) => assert_eq!((b.as_slice(), type_flag), (data, flags::BYTES)),
                Value::Text(t) => {
                    assert_eq!(type_flag, flags::TEXT);
                    assert_eq!(text.as_ref().ok(), Some(t));
                }
                Value::Int(n) => {
                    assert!(type_flag == flags::LONG || type_flag == flags::INTEGER);
                    assert_eq!(wide.as_ref().ok(), Some(n));
                }
                Value::Bool(b) => {
                    assert_eq!(type_flag, flags::INTEGER);
                    assert_eq!(wide.as_ref().ok(), Some(&i128::from(*b)));
                }
                Value::Pickle(b) => assert_eq!((b.as_slice(), type_flag), (data, flags::PICKLE)),
                Value::Postcard(b) => {
                    assert_eq!((b.as_slice(), type_flag), (data, flags::POSTCARD))
                }
            }
            let again = value.to_item().expect("values write");
            assert_eq!(Value::from_item(again).expect("a value reads back"), value);
        }
        Err(error) => assert!(matches!(error, Error::Deserialize { .. }), "{error:?}"),
    }

    check_serde::<(bool, u32, String, Vec<u8>, Option<i64>)>(item, type_flag);
    check_serde::<Vec<String>>(item, type_flag);
    check_serde::<BTreeMap<String, Vec<u64>>>(item, type_flag);
    check_serde::<(f64, char, i128, (), [u16; 3])>(item, type_flag);
    check_serde::<Vec<Vec<Vec<u8>>>>(item, type_flag);
}

/// A postcard value that reads writes back to bytes that read the same
/// (compared as bytes: floats may be NaN).
fn check_serde<T>(item: &Item<'_>, type_flag: u32)
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    match Serde::<T>::from_item(item.clone()) {
        Ok(Serde(value)) => {
            assert_eq!(type_flag, flags::POSTCARD);
            let once = Serde(&value).to_item().expect("serde writes").into_owned();
            let Serde(again) = Serde::<T>::from_item(once.clone()).expect("serde reads back");
            let twice = Serde(&again).to_item().expect("serde writes").into_owned();
            assert_eq!(once, twice);
        }
        Err(error) => assert!(matches!(error, Error::Deserialize { .. }), "{error:?}"),
    }
}
