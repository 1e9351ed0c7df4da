//! A value of whatever type its flags say, for callers that do not know.

use std::fmt;

use super::{FromValue, Item, ToValue, flags};
use crate::{Error, Result};

/// A value read by its flags, as pylibmc's `get` would return it.
///
/// ```
/// use quickmc::value::{flags, FromValue, Item, Value};
/// assert_eq!(Value::from_item(Item::new(&b"7"[..], flags::LONG))?, Value::Int(7));
/// assert_eq!(Value::from_item(Item::new(&b"hi"[..], flags::TEXT))?, Value::Text("hi".into()));
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Flag 0: raw bytes.
    Bytes(Vec<u8>),
    /// Flag 16: UTF-8 text.
    Text(String),
    /// Flag 4: an integer.
    Int(i128),
    /// Flag 2: a bool.
    Bool(bool),
    /// Flag 1: a Python pickle, kept as its bytes (quickmc cannot unpickle).
    Pickle(Vec<u8>),
    /// quickmc's postcard flag: serde bytes, for [`Serde`](super::Serde) to decode.
    Postcard(Vec<u8>),
}

impl FromValue for Value {
    fn from_item(item: Item<'_>) -> Result<Self> {
        let flags = item.flags & !flags::COMPRESSION_MASK;
        Ok(match flags {
            flags::BYTES => Value::Bytes(item.data.into_owned()),
            flags::TEXT => Value::Text(String::from_item(item)?),
            flags::LONG => Value::Int(i128::from_item(item)?),
            flags::INTEGER => match i128::from_item(item)? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => Value::Int(n),
            },
            flags::PICKLE => Value::Pickle(item.data.into_owned()),
            flags::POSTCARD => Value::Postcard(item.data.into_owned()),
            other => {
                return Err(Error::deserialize(format!("unknown flags {other:#x}")));
            }
        })
    }
}

impl ToValue for Value {
    fn to_item(&self) -> Result<Item<'_>> {
        Ok(match self {
            Value::Bytes(b) => Item::new(b.as_slice(), flags::BYTES),
            Value::Text(t) => Item::new(t.as_bytes(), flags::TEXT),
            Value::Int(n) => Item::new(n.to_string().into_bytes(), flags::LONG),
            Value::Bool(b) => return b.to_item(),
            Value::Pickle(b) => Item::new(b.as_slice(), flags::PICKLE),
            Value::Postcard(b) => Item::new(b.as_slice(), flags::POSTCARD),
        })
    }
}

/// Text as is; bytes and pickles lossily as UTF-8; numbers in decimal.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Text(t) => f.write_str(t),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Bytes(b) | Value::Pickle(b) | Value::Postcard(b) => {
                f.write_str(&String::from_utf8_lossy(b))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pylibmc_flag_reads_as_its_python_type() {
        let read = |data: &'static [u8], f| Value::from_item(Item::new(data, f)).unwrap();
        assert_eq!(read(b"raw", 0), Value::Bytes(b"raw".to_vec()));
        assert_eq!(read(b"1", 2), Value::Bool(true));
        assert_eq!(read(b"-3", 4), Value::Int(-3));
        assert_eq!(read(b"\x80\x04.", 1), Value::Pickle(b"\x80\x04.".to_vec()));
        assert_eq!(read(b"t", 16), Value::Text("t".into()));
    }

    #[test]
    fn an_unknown_flag_is_a_typed_error() {
        assert!(matches!(
            Value::from_item(Item::new(&b"x"[..], 64)),
            Err(Error::Deserialize { .. })
        ));
    }

    #[test]
    fn values_round_trip_through_items() {
        for v in [
            Value::Bytes(vec![0, 1]),
            Value::Text("é".into()),
            Value::Int(u64::MAX as i128),
            Value::Bool(false),
            Value::Pickle(vec![0x80]),
            Value::Postcard(vec![1]),
        ] {
            let item = v.to_item().unwrap().into_owned();
            assert_eq!(Value::from_item(item).unwrap(), v);
        }
    }
}
