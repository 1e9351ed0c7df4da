//! `value`: arbitrary flags and bytes into the transcoder and every value
//! type, and compression bombs cut off at the limit.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use quickmc::Error;
use quickmc::value::{
    Compression, CompressionAlgorithm, DefaultTranscoder, FromValue, Item, Serde, ToValue,
    Transcoder, Value, flags,
};

use super::alloc::measure;
use super::input::{Reader, Writer};

/// The decompression limit the value target gives the transcoder.
pub const VALUE_LIMIT: usize = 64 << 10;

/// Heap (Rust allocator) a transcoder decode may hold at its peak: the
/// output (at most twice the limit while a `Vec` doubles) plus the zlib
/// inflater's state. zstd's own context lives in C `malloc` and is bounded
/// by the window limit the transcoder sets, not counted here.
pub const DECODE_PEAK_BOUND: usize = 2 * (VALUE_LIMIT + 1) + (256 << 10);

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
