//! How Rust values become stored bytes and flags, and back.
//!
//! The flags are pylibmc's, so a Python service reads what quickmc writes
//! and the other way round:
//!
//! | Rust value | stored bytes | flags |
//! |---|---|---|
//! | `&[u8]`, `Vec<u8>` | as is | 0 ([`flags::BYTES`]) |
//! | `&str`, `String` | UTF-8 | 16 ([`flags::TEXT`]) |
//! | integers | decimal ASCII | 4 ([`flags::LONG`]) |
//! | `bool` | `1` / `0` | 2 ([`flags::INTEGER`]) |
//! | [`Serde<T>`] | postcard | [`flags::POSTCARD`] (quickmc's own) |
//!
//! Compression is a second step (see [`Transcoder`]): zstd marked with
//! [`flags::ZSTD`], or zlib marked with [`flags::ZLIB`] as pylibmc does.
//!
//! ```
//! use quickmc::value::{flags, FromValue, ToValue};
//! let item = 42u64.to_item()?;
//! assert_eq!((&*item.data, item.flags), (&b"42"[..], flags::LONG));
//! assert_eq!(u64::from_item(item)?, 42);
//! # Ok::<(), quickmc::Error>(())
//! ```

mod convert;
mod dynamic;
mod transcoder;

use std::borrow::Cow;

pub use convert::{FromValue, Serde, ToValue};
pub use dynamic::Value;
pub use transcoder::{Compression, CompressionAlgorithm, DefaultTranscoder, Transcoder};

/// The flag values quickmc reads and writes.
///
/// ```
/// use quickmc::value::flags;
/// assert_eq!(flags::TEXT | flags::ZLIB, 24);
/// ```
pub mod flags {
    /// Raw bytes (pylibmc `bytes`).
    pub const BYTES: u32 = 0;
    /// A Python pickle; quickmc reads it only as raw bytes.
    pub const PICKLE: u32 = 1;
    /// pylibmc's bool (`1`/`0`); decimal text.
    pub const INTEGER: u32 = 2;
    /// pylibmc's int; decimal text.
    pub const LONG: u32 = 4;
    /// zlib-compressed, OR-ed into the type flag (pylibmc).
    pub const ZLIB: u32 = 8;
    /// UTF-8 text (pylibmc 1.6+ `str`).
    pub const TEXT: u32 = 16;
    /// A serde value encoded with postcard (quickmc's own, outside pylibmc's 0..=31).
    pub const POSTCARD: u32 = 1 << 8;
    /// zstd-compressed, OR-ed into the type flag (quickmc's own).
    pub const ZSTD: u32 = 1 << 9;
    /// The bits that say how the bytes are compressed.
    pub const COMPRESSION_MASK: u32 = ZLIB | ZSTD;

    /// Whether pylibmc 1.6 can read a value stored with these flags: one of
    /// its types (bytes, pickle, bool, int, str), optionally zlib-compressed.
    /// quickmc's own postcard and zstd flags are not readable there.
    ///
    /// ```
    /// use quickmc::value::flags;
    /// assert!(flags::pylibmc_can_read(flags::TEXT | flags::ZLIB));
    /// assert!(!flags::pylibmc_can_read(flags::TEXT | flags::ZSTD));
    /// assert!(!flags::pylibmc_can_read(flags::POSTCARD));
    /// ```
    pub fn pylibmc_can_read(flags: u32) -> bool {
        matches!(flags & !ZLIB, BYTES | PICKLE | INTEGER | LONG | TEXT)
    }
}

/// Stored bytes and their flags: what travels on the wire.
///
/// Borrowed where it can be (a `&str` being stored, a value still in the
/// connection's read buffer), owned where it must be.
///
/// ```
/// use quickmc::value::Item;
/// let item = Item::new(&b"raw"[..], 0);
/// assert_eq!(item.into_owned().data.into_owned(), b"raw".to_vec());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    /// The stored bytes.
    pub data: Cow<'a, [u8]>,
    /// The stored flags.
    pub flags: u32,
}

impl<'a> Item<'a> {
    /// An item from bytes and flags.
    ///
    /// ```
    /// use quickmc::value::{flags, Item};
    /// let item = Item::new(b"hello".to_vec(), flags::TEXT);
    /// assert_eq!(item.flags, 16);
    /// ```
    pub fn new(data: impl Into<Cow<'a, [u8]>>, flags: u32) -> Item<'a> {
        Item {
            data: data.into(),
            flags,
        }
    }

    /// An item that owns its bytes.
    ///
    /// ```
    /// use quickmc::value::Item;
    /// let owned: Item<'static> = Item::new(&b"x"[..], 0).into_owned();
    /// assert_eq!(&*owned.data, b"x");
    /// ```
    pub fn into_owned(self) -> Item<'static> {
        Item {
            data: Cow::Owned(self.data.into_owned()),
            flags: self.flags,
        }
    }
}
