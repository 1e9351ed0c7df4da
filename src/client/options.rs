//! Per-call options for storing values.

use crate::value::Compression;

/// How a value is stored: its expiration and compression (pylibmc's `time`,
/// `min_compress_len` and `compress_level`).
///
/// A plain `u32` converts into options with that expiration, so
/// `client.set(k, v, 60)` reads like pylibmc's `mc.set(k, v, time=60)`.
///
/// ```
/// use quickmc::StoreOptions;
/// let o = StoreOptions::expire(60).min_compress_len(4096).compress_level(3);
/// assert_eq!(o.expiration, 60);
/// assert_eq!(StoreOptions::from(30).expiration, 30);
/// assert_eq!(StoreOptions::default().compress_level, -1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// 0 never expires; up to 2,592,000 (30 days) is relative seconds; above
    /// that, an absolute unix time (a past one expires at once).
    pub expiration: u32,
    /// Compress values at least this long (0, the default, never compresses).
    pub min_compress_len: usize,
    /// Compression level; -1 is the compressor's default.
    pub compress_level: i32,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            expiration: 0,
            min_compress_len: 0,
            compress_level: -1,
        }
    }
}

impl StoreOptions {
    /// Options with an expiration and no compression.
    ///
    /// ```
    /// assert_eq!(quickmc::StoreOptions::expire(5).expiration, 5);
    /// ```
    pub fn expire(expiration: u32) -> StoreOptions {
        StoreOptions {
            expiration,
            ..StoreOptions::default()
        }
    }

    /// Sets the minimum length that gets compressed.
    ///
    /// ```
    /// assert_eq!(quickmc::StoreOptions::default().min_compress_len(10).min_compress_len, 10);
    /// ```
    pub fn min_compress_len(mut self, len: usize) -> StoreOptions {
        self.min_compress_len = len;
        self
    }

    /// Sets the compression level.
    ///
    /// ```
    /// assert_eq!(quickmc::StoreOptions::default().compress_level(9).compress_level, 9);
    /// ```
    pub fn compress_level(mut self, level: i32) -> StoreOptions {
        self.compress_level = level;
        self
    }

    pub(crate) fn compression(&self) -> Compression {
        Compression {
            min_compress_len: self.min_compress_len,
            level: self.compress_level,
        }
    }
}

impl From<u32> for StoreOptions {
    fn from(expiration: u32) -> StoreOptions {
        StoreOptions::expire(expiration)
    }
}
