//! The conversions between Rust types and [`Item`]s.

use std::borrow::Cow;

use serde::{Serialize, de::DeserializeOwned};

use super::{Item, flags};
use crate::{Error, Result};

/// A type that can be stored: it becomes bytes and pylibmc-compatible flags.
///
/// ```
/// use quickmc::value::{flags, ToValue};
/// let item = "héllo".to_item()?;
/// assert_eq!(item.flags, flags::TEXT);
/// assert_eq!(true.to_item()?.data.as_ref(), b"1");
/// # Ok::<(), quickmc::Error>(())
/// ```
pub trait ToValue {
    /// The stored form of `self`, borrowing from it where possible.
    fn to_item(&self) -> Result<Item<'_>>;
}

/// A type that can be read back from stored bytes and flags.
///
/// ```
/// use quickmc::value::{flags, FromValue, Item};
/// // memcached pads a decremented number with spaces; they are trimmed.
/// let n = u64::from_item(Item::new(&b"9 "[..], flags::LONG))?;
/// assert_eq!(n, 9);
/// # Ok::<(), quickmc::Error>(())
/// ```
pub trait FromValue: Sized {
    /// Builds the value from its stored (already decompressed) form.
    fn from_item(item: Item<'_>) -> Result<Self>;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_item(&self) -> Result<Item<'_>> {
        (**self).to_item()
    }
}

impl ToValue for [u8] {
    fn to_item(&self) -> Result<Item<'_>> {
        Ok(Item::new(self, flags::BYTES))
    }
}

impl<const N: usize> ToValue for [u8; N] {
    fn to_item(&self) -> Result<Item<'_>> {
        Ok(Item::new(&self[..], flags::BYTES))
    }
}

impl ToValue for Vec<u8> {
    fn to_item(&self) -> Result<Item<'_>> {
        Ok(Item::new(self.as_slice(), flags::BYTES))
    }
}

impl ToValue for str {
    fn to_item(&self) -> Result<Item<'_>> {
        Ok(Item::new(self.as_bytes(), flags::TEXT))
    }
}

impl ToValue for String {
    fn to_item(&self) -> Result<Item<'_>> {
        Ok(Item::new(self.as_bytes(), flags::TEXT))
    }
}

impl ToValue for bool {
    fn to_item(&self) -> Result<Item<'_>> {
        let text: &'static [u8] = if *self { b"1" } else { b"0" };
        Ok(Item::new(text, flags::INTEGER))
    }
}

impl ToValue for Item<'_> {
    fn to_item(&self) -> Result<Item<'_>> {
        Ok(Item::new(&*self.data, self.flags))
    }
}

impl FromValue for Item<'static> {
    fn from_item(item: Item<'_>) -> Result<Self> {
        Ok(item.into_owned())
    }
}

/// Raw bytes: whatever was stored, after decompression, whatever its flags
/// — except that a number (flags 2 and 4) loses the spaces memcached pads a
/// decremented counter with, as pylibmc, which reads those flags as `int`.
impl FromValue for Vec<u8> {
    fn from_item(item: Item<'_>) -> Result<Self> {
        let mut data = item.data.into_owned();
        if is_number(item.flags) {
            let digits = trim_padding(&data).len();
            data.truncate(digits);
        }
        Ok(data)
    }
}

fn type_flag(flags: u32) -> u32 {
    flags & !flags::COMPRESSION_MASK
}

/// Whether pylibmc reads values with these flags as an `int`.
fn is_number(flags: u32) -> bool {
    matches!(type_flag(flags), flags::LONG | flags::INTEGER)
}

/// A stored number without memcached's padding: decrementing "10" leaves
/// "9 " (the item keeps its length), so trailing spaces are not digits.
fn trim_padding(data: &[u8]) -> &[u8] {
    let end = data.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    data.get(..end).unwrap_or_default()
}

fn not_a(what: &str, flags: u32) -> Error {
    Error::deserialize(format!(
        "a value with flags {flags} cannot be read as {what}"
    ))
}

/// Text: pylibmc's `str` (flag 16, as stored), bytes that are valid UTF-8,
/// and ints and bools (flags 4 and 2) as their digits, without the padding
/// memcached leaves after a decrement.
impl FromValue for String {
    fn from_item(item: Item<'_>) -> Result<Self> {
        match type_flag(item.flags) {
            flags::TEXT | flags::BYTES | flags::LONG | flags::INTEGER => {
                String::from_utf8(Vec::<u8>::from_item(item)?)
                    .map_err(|e| Error::deserialize(format!("stored text is not UTF-8: {e}")))
            }
            other => Err(not_a("text", other)),
        }
    }
}

/// The digits of a stored number: ASCII decimal, spaces trimmed (memcached
/// pads a decremented number), for flags pylibmc uses for numbers and text.
fn decimal<'a>(item: &'a Item<'_>) -> Result<&'a str> {
    match type_flag(item.flags) {
        flags::LONG | flags::INTEGER | flags::BYTES | flags::TEXT => {}
        other => return Err(not_a("an integer", other)),
    }
    std::str::from_utf8(&item.data)
        .map(|text| text.trim_matches(' '))
        .map_err(|_| Error::deserialize("stored number is not ASCII"))
}

macro_rules! integers {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_item(&self) -> Result<Item<'_>> {
                Ok(Item::new(self.to_string().into_bytes(), flags::LONG))
            }
        }

        /// Decimal text with flags 4 (long), 2 (integer), 0 (bytes: counters
        /// memcached created) or 16 (text).
        impl FromValue for $t {
            fn from_item(item: Item<'_>) -> Result<Self> {
                let text = decimal(&item)?;
                text.parse().map_err(|e| {
                    Error::deserialize(format!("{text:?} is not a {}: {e}", stringify!($t)))
                })
            }
        }
    )*};
}

integers!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

/// `1`/`0` as pylibmc writes a bool (flag 2); any stored integer reads as `!= 0`.
impl FromValue for bool {
    fn from_item(item: Item<'_>) -> Result<Self> {
        let text = decimal(&item)?;
        match text {
            "1" => Ok(true),
            "0" => Ok(false),
            other => other
                .parse::<i128>()
                .map(|n| n != 0)
                .map_err(|_| Error::deserialize(format!("{other:?} is not a bool"))),
        }
    }
}

/// Any serde type, stored with postcard under [`flags::POSTCARD`].
///
/// ```
/// use quickmc::value::{FromValue, Serde, ToValue};
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct User { id: u32, name: String }
/// let user = User { id: 7, name: "ada".into() };
/// let wrapped = Serde(&user);
/// let item = wrapped.to_item()?;
/// let back: Serde<User> = Serde::from_item(item)?;
/// assert_eq!(back.0, user);
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Serde<T>(pub T);

impl<T: Serialize> ToValue for Serde<T> {
    fn to_item(&self) -> Result<Item<'_>> {
        let bytes = postcard::to_stdvec(&self.0).map_err(|e| Error::Serialize(e.to_string()))?;
        Ok(Item::new(bytes, flags::POSTCARD))
    }
}

impl<T: DeserializeOwned> FromValue for Serde<T> {
    fn from_item(item: Item<'_>) -> Result<Self> {
        match type_flag(item.flags) {
            flags::POSTCARD => postcard::from_bytes(&item.data)
                .map(Serde)
                .map_err(|e| Error::deserialize(e.to_string())),
            other => Err(not_a("a postcard (serde) value", other)),
        }
    }
}

impl<T: ToValue + ToOwned + ?Sized> ToValue for Cow<'_, T> {
    fn to_item(&self) -> Result<Item<'_>> {
        self.as_ref().to_item()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pylibmc_flags_are_written_for_each_basic_type() {
        assert_eq!(b"x"[..].to_item().unwrap().flags, 0);
        assert_eq!("x".to_item().unwrap().flags, 16);
        assert_eq!((-5i64).to_item().unwrap(), Item::new(b"-5".to_vec(), 4));
        assert_eq!(false.to_item().unwrap(), Item::new(&b"0"[..], 2));
    }

    #[test]
    fn integers_read_from_every_numeric_flag_and_trim_decrement_padding() {
        for f in [0, 2, 4, 16] {
            assert_eq!(i32::from_item(Item::new(&b"12 "[..], f)).unwrap(), 12);
        }
        assert!(matches!(
            u8::from_item(Item::new(&b"300"[..], 4)),
            Err(Error::Deserialize { .. })
        ));
        assert!(matches!(
            u8::from_item(Item::new(&b"1"[..], flags::PICKLE)),
            Err(Error::Deserialize { .. })
        ));
    }

    #[test]
    fn pickles_are_a_typed_error_as_text_but_readable_as_raw_bytes() {
        let pickle = Item::new(&b"\x80\x04K\x01."[..], flags::PICKLE);
        assert!(matches!(
            String::from_item(pickle.clone()),
            Err(Error::Deserialize { .. })
        ));
        assert_eq!(Vec::<u8>::from_item(pickle).unwrap(), b"\x80\x04K\x01.");
    }

    #[test]
    fn numbers_read_as_text_or_bytes_lose_decrement_padding_but_text_keeps_its_spaces() {
        assert_eq!(
            String::from_item(Item::new(&b"9  "[..], flags::LONG)).unwrap(),
            "9"
        );
        assert_eq!(
            String::from_item(Item::new(&b"0 "[..], flags::INTEGER)).unwrap(),
            "0"
        );
        assert_eq!(
            Vec::from_item(Item::new(&b"9 "[..], flags::LONG)).unwrap(),
            b"9"
        );
        assert_eq!(
            String::from_item(Item::new(&b"9 "[..], flags::TEXT)).unwrap(),
            "9 "
        );
        assert_eq!(
            Vec::from_item(Item::new(&b"9 "[..], flags::BYTES)).unwrap(),
            b"9 "
        );
    }

    #[test]
    fn invalid_utf8_text_is_a_typed_error() {
        assert!(matches!(
            String::from_item(Item::new(&b"\xff"[..], flags::TEXT)),
            Err(Error::Deserialize { .. })
        ));
    }

    #[test]
    fn bools_read_pylibmc_ones_and_zeros() {
        assert!(bool::from_item(Item::new(&b"1"[..], 2)).unwrap());
        assert!(!bool::from_item(Item::new(&b"0"[..], 2)).unwrap());
        assert!(bool::from_item(Item::new(&b"yes"[..], 2)).is_err());
    }

    #[test]
    fn garbage_postcard_is_a_typed_error() {
        let r = Serde::<(String, u64)>::from_item(Item::new(&b"\xff\xff\xff"[..], flags::POSTCARD));
        assert!(matches!(r, Err(Error::Deserialize { .. })));
    }
}
