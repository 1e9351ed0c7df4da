//! How a stored value is shown: text when it is text, a clear
//! `<N bytes, flags F>` when it is not, or an encoding the user picks.

use clap::ValueEnum;
use quickmc::value::{FromValue, Item, Value, flags};

/// `--format`: how `get` prints values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text, numbers and bools as text; anything else as `<N bytes, flags F>`.
    Auto,
    /// Lowercase hexadecimal of the stored bytes.
    Hex,
    /// Base64 (standard alphabet, padded) of the stored bytes.
    Base64,
    /// The stored bytes as they are (followed by a newline in `get`).
    Raw,
}

/// The value as text, when it reads as text: by its flags (text, integer,
/// bool), or raw bytes that are printable UTF-8 (what text-protocol
/// clients store with flags 0).
pub fn readable(item: &Item<'static>) -> Option<String> {
    match Value::from_item(item.clone()).ok()? {
        Value::Text(text) => Some(text),
        Value::Int(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Bytes(bytes) => String::from_utf8(bytes).ok().filter(|text| {
            !text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        }),
        Value::Pickle(_) | Value::Postcard(_) => None,
    }
}

/// `<N bytes, flags F>`, with what the flags mean when quickmc knows.
pub fn describe(item: &Item<'static>) -> String {
    let kind = match item.flags & !flags::COMPRESSION_MASK {
        flags::PICKLE => ": a Python pickle",
        flags::POSTCARD => ": a Rust serde value (postcard)",
        flags::TEXT => ": text that is not UTF-8",
        _ => "",
    };
    format!("<{} bytes, flags {}{kind}>", item.data.len(), item.flags)
}

/// The bytes `get` prints for a value (without the newline).
pub fn for_people(item: &Item<'static>, format: Format) -> Vec<u8> {
    match format {
        Format::Auto => readable(item)
            .unwrap_or_else(|| describe(item))
            .into_bytes(),
        Format::Hex => hex(&item.data).into_bytes(),
        Format::Base64 => base64(&item.data).into_bytes(),
        Format::Raw => item.data.to_vec(),
    }
}

/// The value for a JSON document and how it is encoded there: text when
/// it reads as text (with `auto`), else base64 (JSON cannot hold raw bytes).
pub fn for_json(item: &Item<'static>, format: Format) -> (String, &'static str) {
    match format {
        Format::Auto => match readable(item) {
            Some(text) => (text, "text"),
            None => (base64(&item.data), "base64"),
        },
        Format::Hex => (hex(&item.data), "hex"),
        Format::Base64 | Format::Raw => (base64(&item.data), "base64"),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 4648 base64 with padding (no dependency for twenty lines).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn binary_bytes_are_described_and_text_bytes_shown() {
        let binary = Item::new(vec![0u8, 0xff], 0);
        assert_eq!(for_people(&binary, Format::Auto), b"<2 bytes, flags 0>");
        let text = Item::new(b"plain".to_vec(), 0);
        assert_eq!(for_people(&text, Format::Auto), b"plain");
        assert_eq!(for_people(&binary, Format::Hex), b"00ff");
    }
}
