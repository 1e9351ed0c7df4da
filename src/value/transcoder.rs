//! The step between a value's stored form and the wire: compression.

use std::fmt;
use std::io::Read;

use super::{Item, flags};
use crate::{Error, Result};

/// Per-operation compression settings, pylibmc's `min_compress_len` and
/// `compress_level`.
///
/// ```
/// use quickmc::value::Compression;
/// let c = Compression { min_compress_len: 1024, level: -1 };
/// assert!(c.applies_to(4096));
/// assert!(!Compression::default().applies_to(4096));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Compress values at least this long; 0 never compresses (pylibmc's default).
    pub min_compress_len: usize,
    /// Compression level; -1 picks the algorithm's default.
    pub level: i32,
}

impl Default for Compression {
    fn default() -> Compression {
        Compression {
            min_compress_len: 0,
            level: -1,
        }
    }
}

impl Compression {
    /// Whether a value of `len` bytes should be compressed.
    ///
    /// ```
    /// use quickmc::value::Compression;
    /// assert!(!Compression { min_compress_len: 100, level: -1 }.applies_to(99));
    /// ```
    pub fn applies_to(&self, len: usize) -> bool {
        self.min_compress_len > 0 && len >= self.min_compress_len
    }
}

/// Which compressor [`DefaultTranscoder`] writes with (it reads both).
///
/// ```
/// use quickmc::value::CompressionAlgorithm;
/// assert_eq!(CompressionAlgorithm::default(), CompressionAlgorithm::Zstd);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompressionAlgorithm {
    /// zstd, flagged [`flags::ZSTD`]: faster and smaller; Python clients
    /// need quickmc's flag to read it.
    #[default]
    Zstd,
    /// zlib, flagged [`flags::ZLIB`]: what pylibmc writes and reads.
    Zlib,
}

/// Turns a value's stored form into wire bytes and back. The default
/// compresses; replace it on the builder to change how (or to encrypt,
/// sign, or count values) — pylibmc's overridable `serialize`/`deserialize`.
///
/// ```
/// use quickmc::value::{Compression, Item, Transcoder};
/// #[derive(Debug)]
/// struct Plain;
/// impl Transcoder for Plain {
///     fn encode<'a>(&self, item: Item<'a>, _: Compression) -> quickmc::Result<Item<'a>> { Ok(item) }
///     fn decode<'a>(&self, item: Item<'a>) -> quickmc::Result<Item<'a>> { Ok(item) }
/// }
/// let client = quickmc::Client::builder().servers(["127.0.0.1:11211"]).transcoder(Plain).build()?;
/// # Ok::<(), quickmc::Error>(())
/// ```
pub trait Transcoder: Send + Sync + fmt::Debug {
    /// The wire form of a value about to be stored.
    fn encode<'a>(&self, item: Item<'a>, compression: Compression) -> Result<Item<'a>>;
    /// The stored form of a value read from the wire.
    fn decode<'a>(&self, item: Item<'a>) -> Result<Item<'a>>;
}

/// Compresses with zstd (or zlib) when asked and it shrinks the value;
/// decompresses both, refusing output past a size limit (a bomb stops there).
///
/// ```
/// use quickmc::value::{Compression, DefaultTranscoder, Item, Transcoder, flags};
/// let t = DefaultTranscoder::default();
/// let text = "abc".repeat(1000);
/// let wire = t.encode(Item::new(text.as_bytes(), flags::TEXT), Compression { min_compress_len: 100, level: -1 })?;
/// assert_eq!(wire.flags, flags::TEXT | flags::ZSTD);
/// assert!(wire.data.len() < 100);
/// assert_eq!(t.decode(wire)?, Item::new(text.as_bytes(), flags::TEXT));
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefaultTranscoder {
    algorithm: CompressionAlgorithm,
    max_decompressed: usize,
}

/// The default limit on a decompressed value: 64 MiB.
pub(crate) const DEFAULT_MAX_VALUE: usize = 64 << 20;

impl Default for DefaultTranscoder {
    fn default() -> DefaultTranscoder {
        DefaultTranscoder::new(CompressionAlgorithm::Zstd, DEFAULT_MAX_VALUE)
    }
}

impl DefaultTranscoder {
    /// A transcoder writing with `algorithm` and refusing to decompress
    /// anything larger than `max_decompressed` bytes.
    ///
    /// ```
    /// use quickmc::value::{CompressionAlgorithm, DefaultTranscoder};
    /// let pylibmc_compatible = DefaultTranscoder::new(CompressionAlgorithm::Zlib, 1 << 20);
    /// assert_eq!(pylibmc_compatible.max_decompressed(), 1 << 20);
    /// ```
    pub fn new(algorithm: CompressionAlgorithm, max_decompressed: usize) -> DefaultTranscoder {
        DefaultTranscoder {
            algorithm,
            max_decompressed,
        }
    }

    /// The decompressed size limit.
    ///
    /// ```
    /// assert_eq!(quickmc::value::DefaultTranscoder::default().max_decompressed(), 64 << 20);
    /// ```
    pub fn max_decompressed(&self) -> usize {
        self.max_decompressed
    }

    fn compress(&self, data: &[u8], level: i32) -> Result<(Vec<u8>, u32)> {
        let error = |e: std::io::Error| Error::compression(e.to_string());
        match self.algorithm {
            CompressionAlgorithm::Zstd => {
                let level = if level < 0 { 0 } else { level.min(22) };
                zstd::bulk::compress(data, level)
                    .map(|out| (out, flags::ZSTD))
                    .map_err(error)
            }
            CompressionAlgorithm::Zlib => {
                let level = if level < 0 { 6 } else { level.min(9) } as u32;
                let mut encoder =
                    flate2::read::ZlibEncoder::new(data, flate2::Compression::new(level));
                let mut out = Vec::with_capacity(data.len() / 2);
                encoder.read_to_end(&mut out).map_err(error)?;
                Ok((out, flags::ZLIB))
            }
        }
    }

    /// The item compressed, unless that does not shrink it. Out of line:
    /// most values are not compressed (every value of a batch passes
    /// through [`encode`](Transcoder::encode)), and their path then saves
    /// and restores none of the registers compressing needs.
    #[inline(never)]
    fn compress_item<'a>(&self, item: Item<'a>, level: i32) -> Result<Item<'a>> {
        let (compressed, flag) = self.compress(&item.data, level)?;
        if compressed.len() >= item.data.len() {
            return Ok(item);
        }
        Ok(Item::new(compressed, item.flags | flag))
    }

    fn decompress(&self, data: &[u8], flag: u32) -> Result<Vec<u8>> {
        let limit = self.max_decompressed;
        match flag {
            flags::ZSTD => {
                let hint = zstd::zstd_safe::get_frame_content_size(data)
                    .ok()
                    .flatten()
                    .unwrap_or(0);
                let mut decoder = zstd::stream::read::Decoder::new(data)
                    .map_err(|e| Error::compression(e.to_string()))?;
                // Refuse windows larger than the output may be: a hostile
                // frame header must not make the decoder allocate for it.
                let window_log = usize::BITS - limit.max(1024).leading_zeros();
                decoder
                    .window_log_max(window_log.min(27))
                    .map_err(|e| Error::compression(e.to_string()))?;
                read_bounded(decoder, hint, limit)
            }
            _ => read_bounded(
                flate2::read::ZlibDecoder::new(data),
                data.len() as u64 * 3,
                limit,
            ),
        }
    }
}

/// Reads at most `limit` bytes of decompressed output; one byte more is an
/// error. The buffer never grows past `limit + 1` (a doubling `Vec` would
/// briefly hold twice the limit), and a size the compressed data merely
/// declares pre-allocates at most 1 MiB.
fn read_bounded(mut reader: impl Read, hint: u64, limit: usize) -> Result<Vec<u8>> {
    const MAX_HINT: usize = 1 << 20;
    let corrupt = |e: std::io::Error| Error::compression(format!("corrupt compressed value: {e}"));
    let cap = limit.saturating_add(1);
    let hint = usize::try_from(hint)
        .unwrap_or(MAX_HINT)
        .min(MAX_HINT)
        .min(cap);
    let mut out: Vec<u8> = Vec::with_capacity(hint.max(64));
    loop {
        if out.len() == out.capacity() {
            let grow = out.capacity().max(8192).min(cap - out.len());
            if grow == 0 {
                break;
            }
            out.reserve_exact(grow);
        }
        let start = out.len();
        let room = (out.capacity() - start).min(cap - start);
        out.resize(start + room, 0);
        let read = loop {
            match reader.read(&mut out[start..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(0) => {
                out.truncate(start);
                break;
            }
            Ok(n) => out.truncate(start + n),
            Err(e) => return Err(corrupt(e)),
        }
        if out.len() > limit {
            break;
        }
    }
    if out.len() > limit {
        return Err(Error::compression(format!(
            "value decompresses past the limit of {limit} bytes"
        )));
    }
    Ok(out)
}

impl Transcoder for DefaultTranscoder {
    fn encode<'a>(&self, item: Item<'a>, compression: Compression) -> Result<Item<'a>> {
        if !compression.applies_to(item.data.len()) || item.flags & flags::COMPRESSION_MASK != 0 {
            return Ok(item);
        }
        self.compress_item(item, compression.level)
    }

    fn decode<'a>(&self, item: Item<'a>) -> Result<Item<'a>> {
        let flag = item.flags & flags::COMPRESSION_MASK;
        match flag {
            0 => Ok(item),
            flags::ZLIB | flags::ZSTD => {
                let data = self.decompress(&item.data, flag)?;
                Ok(Item::new(data, item.flags & !flags::COMPRESSION_MASK))
            }
            _ => Err(Error::compression("value is flagged both zlib and zstd")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compress_all() -> Compression {
        Compression {
            min_compress_len: 1,
            level: -1,
        }
    }

    #[test]
    fn values_below_min_compress_len_or_that_do_not_shrink_stay_plain() {
        let t = DefaultTranscoder::default();
        let short = Item::new(&b"aaaa"[..], 0);
        let c = Compression {
            min_compress_len: 5,
            level: -1,
        };
        assert_eq!(t.encode(short.clone(), c).unwrap(), short);
        let random: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let item = Item::new(random.as_slice(), 0);
        assert_eq!(t.encode(item.clone(), compress_all()).unwrap(), item);
    }

    #[test]
    fn zlib_values_as_pylibmc_writes_them_read_back() {
        let t = DefaultTranscoder::new(CompressionAlgorithm::Zlib, 1 << 20);
        let text = "pylibmc ".repeat(100);
        let wire = t
            .encode(Item::new(text.as_bytes(), flags::TEXT), compress_all())
            .unwrap();
        assert_eq!(wire.flags, flags::TEXT | flags::ZLIB);
        assert_eq!(&wire.data[..1], &[0x78]); // zlib header, as Python's zlib.compress
        let back = DefaultTranscoder::default().decode(wire).unwrap();
        assert_eq!(back, Item::new(text.as_bytes(), flags::TEXT));
    }

    #[test]
    fn a_zstd_bomb_is_cut_off_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let bomb = zstd::bulk::compress(&zeros, 19).unwrap();
        let t = DefaultTranscoder::new(CompressionAlgorithm::Zstd, 1 << 20);
        let err = t.decode(Item::new(bomb, flags::ZSTD)).unwrap_err();
        assert!(matches!(err, Error::Compression { .. }), "{err}");
    }

    #[test]
    fn a_zlib_bomb_is_cut_off_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let t = DefaultTranscoder::new(CompressionAlgorithm::Zlib, 4 << 20);
        let bomb = t.encode(Item::new(zeros, 0), compress_all()).unwrap();
        let small = DefaultTranscoder::new(CompressionAlgorithm::Zlib, 1 << 20);
        assert!(matches!(small.decode(bomb), Err(Error::Compression { .. })));
    }

    #[test]
    fn corrupt_compressed_bytes_are_a_typed_error() {
        let t = DefaultTranscoder::default();
        for f in [flags::ZLIB, flags::ZSTD, flags::ZLIB | flags::ZSTD] {
            assert!(matches!(
                t.decode(Item::new(&b"not compressed"[..], f)),
                Err(Error::Compression { .. })
            ));
        }
    }
}
