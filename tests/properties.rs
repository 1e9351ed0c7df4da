//! Properties of the codec and the value layer, checked with proptest on
//! every `cargo test` (the fuzz targets cover the same ground more deeply
//! where cargo-fuzz is installed).

use proptest::prelude::*;

use quickmc::Error;
use quickmc::protocol::{
    BatchError, BatchMatcher, DecodeError, Decoded, Extras, ExtrasKind, HEADER_LEN, KeyRule,
    Matched, Opcode, Request, Response, Status, decode_request, decode_response,
};
use quickmc::value::{
    Compression, CompressionAlgorithm, DefaultTranscoder, FromValue, Item, Serde, ToValue,
    Transcoder, Value, flags,
};

const MAX_BODY: u32 = 1 << 20;

fn opcode() -> impl Strategy<Value = Opcode> {
    proptest::sample::select(Opcode::ALL)
}

fn any_extras() -> impl Strategy<Value = Extras> {
    prop_oneof![
        Just(Extras::None),
        (any::<u32>(), any::<u32>())
            .prop_map(|(flags, expiration)| Extras::Store { flags, expiration }),
        (any::<u64>(), any::<u64>(), any::<u32>()).prop_map(|(delta, initial, expiration)| {
            Extras::Counter {
                delta,
                initial,
                expiration,
            }
        }),
        any::<u32>().prop_map(Extras::Expiration),
    ]
}

/// Extras that fit `opcode`.
fn extras_for(opcode: Opcode) -> BoxedStrategy<Extras> {
    match opcode.extras_kind() {
        ExtrasKind::None => Just(Extras::None).boxed(),
        ExtrasKind::Store => (any::<u32>(), any::<u32>())
            .prop_map(|(flags, expiration)| Extras::Store { flags, expiration })
            .boxed(),
        ExtrasKind::Counter => (any::<u64>(), any::<u64>(), any::<u32>())
            .prop_map(|(delta, initial, expiration)| Extras::Counter {
                delta,
                initial,
                expiration,
            })
            .boxed(),
        ExtrasKind::Expiration => any::<u32>().prop_map(Extras::Expiration).boxed(),
        ExtrasKind::OptionalDelay => prop_oneof![
            Just(Extras::None),
            any::<u32>().prop_map(Extras::Expiration)
        ]
        .boxed(),
    }
}

/// Owned parts of a request (a `Request` borrows its key and value).
#[derive(Debug, Clone)]
struct OwnedRequest {
    opcode: Opcode,
    extras: Extras,
    key: Vec<u8>,
    value: Vec<u8>,
    opaque: u32,
    cas: u64,
}

impl OwnedRequest {
    fn request(&self) -> Request<'_> {
        Request {
            opcode: self.opcode,
            extras: self.extras,
            key: &self.key,
            value: &self.value,
            opaque: self.opaque,
            cas: self.cas,
        }
    }
}

/// Requests memcached accepts.
fn valid_request() -> impl Strategy<Value = OwnedRequest> {
    opcode().prop_flat_map(|opcode| {
        let key = match opcode.key_rule() {
            KeyRule::Required => prop::collection::vec(any::<u8>(), 1..=250).boxed(),
            KeyRule::Optional => prop::collection::vec(any::<u8>(), 0..=250).boxed(),
            KeyRule::Forbidden => Just(Vec::new()).boxed(),
        };
        let value = if opcode.takes_value() {
            prop::collection::vec(any::<u8>(), 0..2048).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        (extras_for(opcode), key, value, any::<u32>(), any::<u64>()).prop_map(
            move |(extras, key, value, opaque, cas)| OwnedRequest {
                opcode,
                extras,
                key,
                value,
                opaque,
                cas,
            },
        )
    })
}

/// Any request, valid or not.
fn any_request() -> impl Strategy<Value = OwnedRequest> {
    (
        opcode(),
        any_extras(),
        prop::collection::vec(any::<u8>(), 0..=260),
        prop::collection::vec(any::<u8>(), 0..16),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(|(opcode, extras, key, value, opaque, cas)| OwnedRequest {
            opcode,
            extras,
            key,
            value,
            opaque,
            cas,
        })
}

#[derive(Debug, Clone)]
struct OwnedResponse {
    opcode: Opcode,
    status: u16,
    opaque: u32,
    cas: u64,
    extras: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl OwnedResponse {
    fn response(&self) -> Response<'_> {
        Response {
            opcode: self.opcode,
            status: Status::from_u16(self.status),
            opaque: self.opaque,
            cas: self.cas,
            extras: &self.extras,
            key: &self.key,
            value: &self.value,
        }
    }
}

fn any_response() -> impl Strategy<Value = OwnedResponse> {
    (
        opcode(),
        any::<u16>(),
        any::<u32>(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..=255),
        prop::collection::vec(any::<u8>(), 0..=300),
        prop::collection::vec(any::<u8>(), 0..2048),
    )
        .prop_map(
            |(opcode, status, opaque, cas, extras, key, value)| OwnedResponse {
                opcode,
                status,
                opaque,
                cas,
                extras,
                key,
                value,
            },
        )
}

fn encoded_response(response: &Response<'_>) -> Vec<u8> {
    let mut wire = Vec::new();
    response.encode(&mut wire).expect("encodable");
    wire
}

proptest! {
    #[test]
    fn valid_requests_encode_and_decode_back(owned in valid_request()) {
        let request = owned.request();
        prop_assert_eq!(request.validate(), Ok(()));
        let mut wire = Vec::new();
        request.encode(&mut wire).unwrap();
        prop_assert_eq!(wire.len(), request.encoded_len());
        prop_assert_eq!(
            decode_request(&wire, MAX_BODY),
            Ok(Decoded::Complete { frame: request, len: wire.len() })
        );
    }

    #[test]
    fn refused_requests_leave_the_buffer_untouched(owned in any_request(), prefix in prop::collection::vec(any::<u8>(), 0..8)) {
        let request = owned.request();
        let mut buf = prefix.clone();
        match request.validate() {
            Err(error) => {
                prop_assert_eq!(request.encode(&mut buf), Err(error));
                prop_assert_eq!(buf, prefix);
            }
            Ok(()) => {
                prop_assert!(request.key.len() <= 250);
                request.encode(&mut buf).unwrap();
                prop_assert_eq!(&buf[..prefix.len()], &prefix[..]);
                let decoded = decode_request(&buf[prefix.len()..], MAX_BODY);
                prop_assert_eq!(decoded, Ok(Decoded::Complete { frame: request, len: buf.len() - prefix.len() }));
            }
        }
    }

    #[test]
    fn responses_encode_and_decode_back(owned in any_response()) {
        let response = owned.response();
        let wire = encoded_response(&response);
        prop_assert_eq!(wire.len(), response.encoded_len());
        prop_assert_eq!(
            decode_response(&wire, MAX_BODY),
            Ok(Decoded::Complete { frame: response, len: wire.len() })
        );
        prop_assert_eq!(Status::from_u16(owned.status).to_u16(), owned.status);
    }

    #[test]
    fn every_proper_prefix_is_partial_with_the_exact_need(owned in any_response(), request in valid_request()) {
        let wire = encoded_response(&owned.response());
        for cut in 0..wire.len() {
            let needed = if cut < HEADER_LEN { HEADER_LEN } else { wire.len() };
            prop_assert_eq!(decode_response(&wire[..cut], MAX_BODY), Ok(Decoded::Partial { needed }));
        }
        let mut wire = Vec::new();
        request.request().encode(&mut wire).unwrap();
        for cut in 0..wire.len() {
            let needed = if cut < HEADER_LEN { HEADER_LEN } else { wire.len() };
            prop_assert_eq!(decode_request(&wire[..cut], MAX_BODY), Ok(Decoded::Partial { needed }));
        }
    }

    #[test]
    fn a_stream_split_anywhere_decodes_to_the_same_frames(
        frames in prop::collection::vec(any_response(), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut stream = Vec::new();
        for f in &frames {
            f.response().encode(&mut stream).unwrap();
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        points.push(stream.len());
        points.sort_unstable();
        let mut buf = Vec::new();
        let mut next = 0;
        let mut from = 0;
        for point in points {
            buf.extend_from_slice(&stream[from..point]);
            from = point;
            while let Ok(Decoded::Complete { frame, len }) = decode_response(&buf, MAX_BODY) {
                prop_assert_eq!(frame, frames[next].response());
                next += 1;
                buf.drain(..len);
            }
        }
        prop_assert_eq!(next, frames.len());
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_in_bounds(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        magic in prop::sample::select(vec![0x80u8, 0x81]),
        opcode in opcode(),
        max in prop_oneof![Just(0u32), Just(64), Just(MAX_BODY), Just(u32::MAX)],
    ) {
        // Raw bytes, and the same bytes behind a plausible magic and opcode.
        let mut framed = vec![magic, opcode as u8];
        framed.extend_from_slice(&bytes);
        for input in [&bytes[..], &framed[..]] {
            match decode_response(input, max) {
                Ok(Decoded::Complete { frame, len }) => {
                    prop_assert!(len <= input.len());
                    prop_assert_eq!(len, frame.encoded_len());
                }
                Ok(Decoded::Partial { needed }) => {
                    prop_assert!(needed > input.len());
                    prop_assert!(needed <= HEADER_LEN + max as usize);
                }
                Err(_) => {}
            }
            match decode_request(input, max) {
                Ok(Decoded::Complete { frame, len }) => {
                    prop_assert!(len <= input.len());
                    prop_assert_eq!(len, frame.encoded_len());
                }
                Ok(Decoded::Partial { needed }) => {
                    prop_assert!(needed > input.len());
                    prop_assert!(needed <= HEADER_LEN + max as usize);
                }
                Err(DecodeError::BodyTooLarge { len, max: m, .. }) => prop_assert!(len > m),
                Err(_) => {}
            }
        }
    }

    #[test]
    fn batch_replies_in_order_match_their_keys(
        first in any::<u32>(),
        keys in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..8), 1..20),
        answered in prop::collection::vec(any::<bool>(), 20),
    ) {
        let mut matcher = BatchMatcher::new(first, keys.len(), Opcode::GetKQ);
        let key_of = |i: usize| keys.get(i).map(Vec::as_slice);
        for (i, key) in keys.iter().enumerate() {
            if !answered[i] {
                continue;
            }
            let hit = Response::new(Opcode::GetKQ, Status::Ok).opaque(first.wrapping_add(i as u32)).key(key);
            prop_assert_eq!(matcher.accept(&hit, key_of), Ok(Matched::Reply(i)));
            // The same reply again is out of order.
            prop_assert_eq!(matcher.accept(&hit, key_of), Err(BatchError::OutOfOrder(hit.opaque)));
        }
        let end = Response::new(Opcode::Noop, Status::Ok).opaque(matcher.noop_opaque());
        prop_assert_eq!(matcher.accept(&end, key_of), Ok(Matched::End));
        prop_assert_eq!(matcher.accept(&end, key_of), Err(BatchError::AfterEnd));
    }

    #[test]
    fn a_batch_reply_echoing_another_key_is_refused(
        first in any::<u32>(),
        keys in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..4), 2..10),
        which in any::<prop::sample::Index>(),
        echoed in any::<prop::sample::Index>(),
    ) {
        let i = which.index(keys.len());
        let j = echoed.index(keys.len());
        prop_assume!(keys[i] != keys[j]);
        let mut matcher = BatchMatcher::new(first, keys.len(), Opcode::GetKQ);
        let reply = Response::new(Opcode::GetKQ, Status::Ok).opaque(first.wrapping_add(i as u32)).key(&keys[j]);
        prop_assert_eq!(matcher.accept(&reply, |k| keys.get(k).map(Vec::as_slice)), Err(BatchError::KeyMismatch));
    }
}

// ---------------------------------------------------------------------------
// The value layer

fn round_trips<T>(value: &T) -> Result<T, Error>
where
    T: ToValue + FromValue,
{
    let item = value.to_item()?.into_owned();
    T::from_item(item)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: Option<i32>,
    blob: Vec<u8>,
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<u64>(),
        ".*",
        prop::collection::vec(".{0,8}", 0..4),
        any::<Option<i32>>(),
        prop::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(id, name, tags, score, blob)| Record {
            id,
            name,
            tags,
            score,
            blob,
        })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Value::Bytes),
        ".*".prop_map(Value::Text),
        any::<i128>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Value::Pickle),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(Value::Postcard),
    ]
}

/// Data that compresses well, or not at all.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        (prop::collection::vec(any::<u8>(), 1..16), 1usize..2000)
            .prop_map(|(unit, times)| unit.repeat(times)),
    ]
}

fn algorithm() -> impl Strategy<Value = CompressionAlgorithm> {
    prop_oneof![
        Just(CompressionAlgorithm::Zstd),
        Just(CompressionAlgorithm::Zlib)
    ]
}

macro_rules! integer_round_trip {
    ($($name:ident: $t:ty),*) => {$(
        proptest! {
            #[test]
            fn $name(n in any::<$t>()) {
                prop_assert_eq!(round_trips(&n).unwrap(), n);
                // memcached pads a decremented number with spaces.
                let padded = format!("{n} ");
                prop_assert_eq!(<$t>::from_item(Item::new(padded.as_bytes(), flags::LONG)).unwrap(), n);
            }
        }
    )*};
}

integer_round_trip!(
    i8_round_trips: i8, i16_round_trips: i16, i32_round_trips: i32, i64_round_trips: i64,
    i128_round_trips: i128, isize_round_trips: isize, u8_round_trips: u8, u16_round_trips: u16,
    u32_round_trips: u32, u64_round_trips: u64, u128_round_trips: u128, usize_round_trips: usize
);

proptest! {
    #[test]
    fn bytes_text_and_bools_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..256), text in ".*", b in any::<bool>()) {
        prop_assert_eq!(round_trips(&bytes).unwrap(), bytes);
        prop_assert_eq!(round_trips(&text).unwrap(), text);
        prop_assert_eq!(round_trips(&b).unwrap(), b);
    }

    #[test]
    fn serde_values_round_trip(record in record()) {
        let item = Serde(&record).to_item().unwrap().into_owned();
        prop_assert_eq!(item.flags, flags::POSTCARD);
        let Serde(back) = Serde::<Record>::from_item(item).unwrap();
        prop_assert_eq!(back, record);
    }

    #[test]
    fn dynamic_values_and_items_round_trip(value in value(), data in prop::collection::vec(any::<u8>(), 0..64), f in any::<u32>()) {
        prop_assert_eq!(round_trips(&value).unwrap(), value);
        let item = Item::new(data, f);
        prop_assert_eq!(Item::from_item(item.to_item().unwrap()).unwrap(), item);
    }

    #[test]
    fn reading_any_bytes_as_any_type_never_panics(data in prop::collection::vec(any::<u8>(), 0..64), f in prop_oneof![any::<u32>(), (0u32..32), Just(flags::POSTCARD)]) {
        let item = Item::new(&data[..], f);
        // Bytes come back as stored, except a number's (flags 2 and 4, with
        // or without a compression flag): memcached's decrement padding goes.
        let mut expected = data.clone();
        if matches!(f & !flags::COMPRESSION_MASK, flags::LONG | flags::INTEGER) {
            let end = expected.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
            expected.truncate(end);
        }
        prop_assert_eq!(Vec::<u8>::from_item(item.clone()).unwrap(), expected);
        let _ = String::from_item(item.clone());
        let _ = i64::from_item(item.clone());
        let _ = u128::from_item(item.clone());
        let _ = bool::from_item(item.clone());
        let _ = Value::from_item(item.clone());
        let _ = Serde::<Record>::from_item(item);
    }

    #[test]
    fn compression_round_trips(
        data in payload(),
        type_flag in prop::sample::select(vec![flags::BYTES, flags::TEXT, flags::LONG, flags::POSTCARD]),
        algorithm in algorithm(),
        level in -1i32..=9,
    ) {
        let t = DefaultTranscoder::new(algorithm, 1 << 20);
        let every = Compression { min_compress_len: 1, level };
        let wire = t.encode(Item::new(&data[..], type_flag), every).unwrap();
        if wire.flags & flags::COMPRESSION_MASK != 0 {
            prop_assert!(wire.data.len() < data.len(), "compressed only when it shrinks");
        } else {
            prop_assert_eq!(&*wire.data, &data[..]);
        }
        // Either algorithm's transcoder reads both.
        for reader in [CompressionAlgorithm::Zstd, CompressionAlgorithm::Zlib] {
            let back = DefaultTranscoder::new(reader, 1 << 20).decode(wire.clone()).unwrap();
            prop_assert_eq!(&back, &Item::new(&data[..], type_flag));
        }
    }

    #[test]
    fn decompression_never_exceeds_the_limit(
        data in payload(),
        algorithm in algorithm(),
        limit in 0usize..8192,
    ) {
        let writer = DefaultTranscoder::new(algorithm, 1 << 20);
        let every = Compression { min_compress_len: 1, level: -1 };
        let wire = writer.encode(Item::new(&data[..], flags::BYTES), every).unwrap();
        prop_assume!(wire.flags & flags::COMPRESSION_MASK != 0);
        match DefaultTranscoder::new(algorithm, limit).decode(wire) {
            Ok(item) => {
                prop_assert!(item.data.len() <= limit);
                prop_assert_eq!(&*item.data, &data[..]);
            }
            Err(Error::Compression { .. }) => prop_assert!(data.len() > limit),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn corrupt_compressed_bytes_are_an_error_or_within_the_limit(
        data in prop::collection::vec(any::<u8>(), 0..256),
        compression in prop::sample::select(vec![flags::ZLIB, flags::ZSTD, flags::ZLIB | flags::ZSTD]),
    ) {
        let t = DefaultTranscoder::new(CompressionAlgorithm::Zstd, 4096);
        match t.decode(Item::new(&data[..], flags::TEXT | compression)) {
            Ok(item) => {
                prop_assert!(item.data.len() <= 4096);
                prop_assert_eq!(item.flags, flags::TEXT);
            }
            Err(error) => prop_assert!(matches!(error, Error::Compression { .. }), "{error:?}"),
        }
    }
}
