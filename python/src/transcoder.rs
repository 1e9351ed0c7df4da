//! The core's compression step as pylibmc runs it: a value is decompressed
//! before `deserialize` sees it, but `deserialize` gets the flags as stored,
//! the compression bit included (pylibmc passes 24 for compressed text,
//! not 16). The type is read from pylibmc's type bits, which exclude it.

use quickmc::value::{
    Compression, CompressionAlgorithm, DefaultTranscoder, Item, Transcoder, flags,
};

/// quickmc's [`DefaultTranscoder`], keeping the compression flag on
/// decoded values.
#[derive(Debug)]
pub struct StoredFlags(DefaultTranscoder);

impl StoredFlags {
    /// Writes with `algorithm`; reads zlib and zstd, with the core's
    /// default limit on a decompressed value.
    pub fn new(algorithm: CompressionAlgorithm) -> StoredFlags {
        let limit = DefaultTranscoder::default().max_decompressed();
        StoredFlags(DefaultTranscoder::new(algorithm, limit))
    }
}

impl Transcoder for StoredFlags {
    /// pylibmc compresses by length whatever flags `serialize` returned,
    /// a compression bit included (a subclass handing back what its
    /// `deserialize` got); quickmc's transcoder would take that bit to
    /// mean "compressed already" and store the value plain, unreadable.
    fn encode<'a>(&self, item: Item<'a>, compression: Compression) -> quickmc::Result<Item<'a>> {
        let given = item.flags & flags::COMPRESSION_MASK;
        let plain = Item::new(item.data, item.flags & !flags::COMPRESSION_MASK);
        let stored = self.0.encode(plain, compression)?;
        Ok(Item::new(stored.data, stored.flags | given))
    }

    fn decode<'a>(&self, item: Item<'a>) -> quickmc::Result<Item<'a>> {
        let compressed = item.flags & flags::COMPRESSION_MASK;
        let plain = self.0.decode(item)?;
        Ok(Item::new(plain.data, plain.flags | compressed))
    }
}
