//! The few text-protocol exchanges an operator tool needs, sans I/O.
//!
//! memcached answers its text protocol on the same port as the binary one
//! (it picks per connection). Two things are only offered there: some stats
//! groups (`stats conns`) and the key listing `lru_crawler metadump all`.
//! This module encodes those commands and decodes their replies line by
//! line, in the shape of [`decode_response`](super::decode_response): a whole
//! line, a partial one (need more input), or an error — never a panic, and a
//! line longer than the caller's limit is refused before it is waited for.

use super::Decoded;

/// Why text-protocol bytes cannot be decoded.
///
/// ```
/// use quickmc::protocol::{decode_text_line, TextError};
/// assert_eq!(decode_text_line(&[b'x'; 20], 8), Err(TextError::LineTooLong { max: 8 }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// No line end within the limit.
    #[error("a text reply line longer than {max} bytes")]
    LineTooLong {
        /// The limit.
        max: usize,
    },
    /// The line is not UTF-8.
    #[error("a text reply line that is not UTF-8")]
    NotUtf8,
    /// A command argument that would break the line framing.
    #[error("a text command argument must be a non-empty word of letters, digits, '_' or '-'")]
    BadArgument,
}

/// One decoded line of a text-protocol reply.
///
/// ```
/// use quickmc::protocol::{decode_text_line, Decoded, TextLine};
/// let Decoded::Complete { frame, len } = decode_text_line(b"STAT pid 42\r\nEND\r\n", 1024)? else { unreachable!() };
/// assert_eq!(frame, TextLine::Stat { name: "pid", value: "42" });
/// assert_eq!(len, 13);
/// # Ok::<(), quickmc::protocol::TextError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextLine<'a> {
    /// `STAT name value`.
    Stat {
        /// The statistic's name.
        name: &'a str,
        /// Its value (may contain spaces).
        value: &'a str,
    },
    /// `END`: the reply is complete.
    End,
    /// `ERROR`, `CLIENT_ERROR ...` or `SERVER_ERROR ...`: the command failed.
    Error(&'a str),
    /// `BUSY ...`: the LRU crawler is already busy (metadump).
    Busy(&'a str),
    /// Any other line, such as a metadump record (`key=... exp=... size=...`).
    Line(&'a str),
}

/// Decodes one CRLF-terminated line from the start of `input`. Lines over
/// `max_line` bytes (terminator included) are refused.
///
/// ```
/// use quickmc::protocol::{decode_text_line, Decoded, TextLine};
/// assert_eq!(decode_text_line(b"END\r", 64), Ok(Decoded::Partial { needed: 5 }));
/// assert!(matches!(decode_text_line(b"SERVER_ERROR busy\r\n", 64),
///     Ok(Decoded::Complete { frame: TextLine::Error("SERVER_ERROR busy"), .. })));
/// ```
pub fn decode_text_line(input: &[u8], max_line: usize) -> Result<Decoded<TextLine<'_>>, TextError> {
    let window = input.get(..max_line).unwrap_or(input);
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        if input.len() >= max_line {
            return Err(TextError::LineTooLong { max: max_line });
        }
        return Ok(Decoded::Partial {
            needed: input.len() + 1,
        });
    };
    let raw = window.get(..newline).unwrap_or_default();
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let line = std::str::from_utf8(raw).map_err(|_| TextError::NotUtf8)?;
    Ok(Decoded::Complete {
        frame: classify(line),
        len: newline + 1,
    })
}

fn classify(line: &str) -> TextLine<'_> {
    if line == "END" {
        return TextLine::End;
    }
    if let Some(rest) = line.strip_prefix("STAT ") {
        let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
        return TextLine::Stat { name, value };
    }
    if line == "ERROR" || line.starts_with("CLIENT_ERROR") || line.starts_with("SERVER_ERROR") {
        return TextLine::Error(line);
    }
    if line.starts_with("BUSY") {
        return TextLine::Busy(line);
    }
    TextLine::Line(line)
}

fn is_word(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Appends `stats GROUP\r\n` (or `stats\r\n` for an empty group).
///
/// ```
/// let mut buf = Vec::new();
/// quickmc::protocol::encode_text_stats("conns", &mut buf)?;
/// assert_eq!(buf, b"stats conns\r\n");
/// # Ok::<(), quickmc::protocol::TextError>(())
/// ```
pub fn encode_text_stats(group: &str, buf: &mut Vec<u8>) -> Result<(), TextError> {
    if group.is_empty() {
        buf.extend_from_slice(b"stats\r\n");
        return Ok(());
    }
    if !is_word(group) {
        return Err(TextError::BadArgument);
    }
    buf.extend_from_slice(b"stats ");
    buf.extend_from_slice(group.as_bytes());
    buf.extend_from_slice(b"\r\n");
    Ok(())
}

/// Appends `lru_crawler metadump all\r\n`, the key listing memcached 1.5+ offers.
///
/// ```
/// let mut buf = Vec::new();
/// quickmc::protocol::encode_metadump(&mut buf);
/// assert_eq!(buf, b"lru_crawler metadump all\r\n");
/// ```
pub fn encode_metadump(buf: &mut Vec<u8>) {
    buf.extend_from_slice(b"lru_crawler metadump all\r\n");
}

/// One item of a metadump listing.
///
/// ```
/// use quickmc::protocol::MetadumpEntry;
/// let e = MetadumpEntry::parse("key=user%3A1 exp=-1 la=1700000000 cas=7 fetch=no cls=1 size=70").unwrap();
/// assert_eq!(e.key, b"user:1");
/// assert_eq!((e.expiration, e.cas, e.size), (-1, 7, 70));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadumpEntry {
    /// The key (percent-decoded: metadump escapes bytes outside printable ASCII).
    pub key: Vec<u8>,
    /// Expiration as a unix time, or -1 for never.
    pub expiration: i64,
    /// Last access as a unix time.
    pub last_access: i64,
    /// The CAS id.
    pub cas: u64,
    /// The item's size in memory (key, value and overhead).
    pub size: u64,
}

impl MetadumpEntry {
    /// Parses a metadump line; `None` if it has no `key=` field or a field is malformed.
    ///
    /// ```
    /// assert!(quickmc::protocol::MetadumpEntry::parse("exp=1").is_none());
    /// ```
    pub fn parse(line: &str) -> Option<MetadumpEntry> {
        let mut entry = MetadumpEntry {
            key: Vec::new(),
            expiration: -1,
            last_access: 0,
            cas: 0,
            size: 0,
        };
        let mut has_key = false;
        for field in line.split(' ').filter(|f| !f.is_empty()) {
            let (name, value) = field.split_once('=')?;
            match name {
                "key" => {
                    entry.key = percent_decode(value)?;
                    has_key = true;
                }
                "exp" => entry.expiration = value.parse().ok()?,
                "la" => entry.last_access = value.parse().ok()?,
                "cas" => entry.cas = value.parse().ok()?,
                "size" => entry.size = value.parse().ok()?,
                _ => {}
            }
        }
        (has_key && !entry.key.is_empty()).then_some(entry)
    }
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            // Two hex digits: `from_str_radix` alone would also take "+1".
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_proper_prefix_of_a_line_is_partial() {
        let wire = b"STAT curr_connections 10\r\n";
        for cut in 0..wire.len() {
            assert!(matches!(
                decode_text_line(&wire[..cut], 1024),
                Ok(Decoded::Partial { .. })
            ));
        }
        assert_eq!(
            decode_text_line(wire, 1024),
            Ok(Decoded::Complete {
                frame: TextLine::Stat {
                    name: "curr_connections",
                    value: "10"
                },
                len: wire.len()
            })
        );
    }

    #[test]
    fn a_line_at_the_limit_decodes_and_one_byte_more_is_refused() {
        let mut line = vec![b'a'; 6];
        line.extend_from_slice(b"\r\n");
        assert!(matches!(
            decode_text_line(&line, 8),
            Ok(Decoded::Complete { len: 8, .. })
        ));
        line.insert(0, b'a');
        assert_eq!(
            decode_text_line(&line, 8),
            Err(TextError::LineTooLong { max: 8 })
        );
    }

    #[test]
    fn stat_values_with_spaces_errors_and_records_are_told_apart() {
        let decode = |s: &'static [u8]| match decode_text_line(s, 1024) {
            Ok(Decoded::Complete { frame, .. }) => frame,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            decode(b"STAT 12:addr tcp:127.0.0.1:5 x\r\n"),
            TextLine::Stat {
                name: "12:addr",
                value: "tcp:127.0.0.1:5 x"
            }
        );
        assert_eq!(decode(b"ERROR\r\n"), TextLine::Error("ERROR"));
        assert_eq!(decode(b"END\n"), TextLine::End);
        assert!(matches!(decode(b"key=a exp=-1\r\n"), TextLine::Line(_)));
        assert_eq!(decode_text_line(b"\xff\r\n", 8), Err(TextError::NotUtf8));
    }

    #[test]
    fn commands_refuse_arguments_that_would_break_framing() {
        let mut buf = Vec::new();
        assert_eq!(
            encode_text_stats("conns\r\nflush_all", &mut buf),
            Err(TextError::BadArgument)
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn metadump_keys_are_percent_decoded_and_bad_escapes_refused() {
        let e =
            MetadumpEntry::parse("key=a%20b%00 exp=5 la=1 cas=2 fetch=no cls=1 size=9").unwrap();
        assert_eq!(e.key, b"a b\0");
        assert!(MetadumpEntry::parse("key=%zz size=1").is_none());
        assert!(MetadumpEntry::parse("key=a%2").is_none());
    }

    #[test]
    fn an_escape_is_a_percent_and_two_hex_digits_never_a_signed_number() {
        assert!(MetadumpEntry::parse("key=%+2").is_none());
        assert!(MetadumpEntry::parse("key=a%+f size=1").is_none());
        assert!(MetadumpEntry::parse("key=%-1").is_none());
        assert_eq!(MetadumpEntry::parse("key=%2B2").unwrap().key, b"+2");
    }
}
