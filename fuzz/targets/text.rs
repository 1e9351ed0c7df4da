//! `text`: the text-protocol pieces the CLI uses — the line decoder
//! `decode_text_line`, `MetadumpEntry::parse` and the command encoders.

use quickmc::protocol::{
    Decoded, MetadumpEntry, TextError, TextLine, decode_text_line, encode_metadump,
    encode_text_stats,
};

use super::input::{Reader, Writer, offset_in};

/// Arbitrary bytes into one of the text-protocol entry points, chosen by
/// the first byte.
pub fn text(data: &[u8]) {
    let mut r = Reader::new(data);
    match r.u8() % 4 {
        0 => {
            let max_line = usize::from(r.u16());
            lines(r.rest(), max_line);
        }
        1 => metadump_line(&String::from_utf8_lossy(r.rest())),
        2 => metadump_entry(&mut r),
        _ => stats_command(&String::from_utf8_lossy(r.rest())),
    }
}

/// Writes a text-target input: a reply to decode line by line.
pub fn write_lines(w: &mut Writer, max_line: u16, reply: &[u8]) {
    w.u8(0).u16(max_line).raw(reply);
}

/// Writes a text-target input: one metadump line to parse.
pub fn write_metadump_line(w: &mut Writer, line: &str) {
    w.u8(1).raw(line.as_bytes());
}

/// Writes a text-target input: a stats group to encode.
pub fn write_stats_group(w: &mut Writer, group: &str) {
    w.u8(3).raw(group.as_bytes());
}

/// What a line means, written from the decoder's documentation.
fn classify(line: &str) -> TextLine<'_> {
    if line == "END" {
        TextLine::End
    } else if let Some(rest) = line.strip_prefix("STAT ") {
        match rest.find(' ') {
            Some(space) => TextLine::Stat {
                name: &rest[..space],
                value: &rest[space + 1..],
            },
            None => TextLine::Stat {
                name: rest,
                value: "",
            },
        }
    } else if line == "ERROR"
        || line.starts_with("CLIENT_ERROR")
        || line.starts_with("SERVER_ERROR")
    {
        TextLine::Error(line)
    } else if line.starts_with("BUSY") {
        TextLine::Busy(line)
    } else {
        TextLine::Line(line)
    }
}

/// The strings a decoded line borrows.
fn parts<'a>(line: &TextLine<'a>) -> Vec<&'a str> {
    match *line {
        TextLine::Stat { name, value } => vec![name, value],
        TextLine::End => vec![],
        TextLine::Error(s) | TextLine::Busy(s) | TextLine::Line(s) => vec![s],
    }
}

/// Decodes `input` line after line with lines of at most `max` bytes:
/// a complete line ends at the first LF, is within the limit and the
/// input, borrows from it and means what [`classify`] says; every proper
/// prefix of it is partial; a partial answer has no LF within the limit
/// and asks for more than there is, never past the limit; a refusal is
/// justified.
fn lines(input: &[u8], max: usize) {
    let mut rest = input;
    loop {
        let newline = rest.iter().take(max).position(|&b| b == b'\n');
        match decode_text_line(rest, max) {
            Ok(Decoded::Complete { frame, len }) => {
                let newline = newline.expect("a line without its LF");
                assert_eq!(len, newline + 1, "a line ends at its first LF");
                assert!(len <= max, "a line of {len} bytes over the limit {max}");
                let raw = &rest[..newline];
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                let line = std::str::from_utf8(raw).expect("a decoded line is UTF-8");
                assert_eq!(frame, classify(line));
                for part in parts(&frame) {
                    if !part.is_empty() {
                        assert!(offset_in(&rest[..len], part.as_bytes()).is_some());
                    }
                }
                // Every proper prefix waits for more, within the limit.
                let cuts: Vec<usize> = if len <= 256 {
                    (0..len).collect()
                } else {
                    vec![0, 1, len / 2, len - 2, len - 1]
                };
                for cut in cuts {
                    match decode_text_line(&rest[..cut], max) {
                        Ok(Decoded::Partial { needed }) => {
                            assert!(needed > cut && needed <= max, "{cut}: needs {needed}");
                        }
                        other => panic!("a prefix of {cut} bytes: {other:?}"),
                    }
                }
                // The line re-encoded with CRLF means the same.
                let again = [line.as_bytes(), b"\r\n"].concat();
                if again.len() <= max {
                    assert_eq!(
                        decode_text_line(&again, max),
                        Ok(Decoded::Complete {
                            frame,
                            len: again.len()
                        })
                    );
                }
                rest = &rest[len..];
            }
            Ok(Decoded::Partial { needed }) => {
                assert!(newline.is_none(), "partial with a line end in the limit");
                assert!(rest.len() < max, "partial past the limit");
                assert!(needed > rest.len() && needed <= max, "needs {needed}");
                return;
            }
            Err(TextError::LineTooLong { max: reported }) => {
                assert_eq!(reported, max);
                assert!(newline.is_none() && rest.len() >= max);
                return;
            }
            Err(TextError::NotUtf8) => {
                let newline = newline.expect("not UTF-8 before the line is whole");
                assert!(std::str::from_utf8(&rest[..newline]).is_err());
                return;
            }
            Err(other) => panic!("decoding a line: {other:?}"),
        }
    }
}

/// Bytes metadump writes as they are; memcached escapes every other byte.
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

/// A key as metadump writes it, every byte escaped if `all`.
fn escape(key: &[u8], all: bool) -> String {
    key.iter()
        .map(|&b| {
            if !all && unreserved(b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A metadump line for `entry`, as memcached writes it.
fn metadump_of(entry: &MetadumpEntry, all: bool) -> String {
    format!(
        "key={} exp={} la={} cas={} fetch=no cls=1 size={}",
        escape(&entry.key, all),
        entry.expiration,
        entry.last_access,
        entry.cas,
        entry.size
    )
}

/// Strict percent-decoding: `%` and exactly two hex digits.
fn unescape(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let digit = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
            out.push(digit(hex[0]) << 4 | digit(hex[1]));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// What a metadump line parses to, written from `MetadumpEntry::parse`'s
/// documentation: `None` without a (non-empty) key or with a malformed field.
fn parse_model(line: &str) -> Option<MetadumpEntry> {
    let mut entry = MetadumpEntry {
        key: Vec::new(),
        expiration: -1,
        last_access: 0,
        cas: 0,
        size: 0,
    };
    for field in line.split(' ').filter(|f| !f.is_empty()) {
        let (name, value) = field.split_once('=')?;
        match name {
            "key" => entry.key = unescape(value)?,
            "exp" => entry.expiration = value.parse().ok()?,
            "la" => entry.last_access = value.parse().ok()?,
            "cas" => entry.cas = value.parse().ok()?,
            "size" => entry.size = value.parse().ok()?,
            _ => {}
        }
    }
    (!entry.key.is_empty()).then_some(entry)
}

/// A metadump line from arbitrary text: parsed as the model parses it,
/// and a parsed entry written back (its key percent-escaped) parses back.
fn metadump_line(line: &str) {
    let parsed = MetadumpEntry::parse(line);
    assert_eq!(parsed, parse_model(line), "{line:?}");
    if let Some(entry) = parsed {
        assert!(!entry.key.is_empty());
        for all in [false, true] {
            let again = metadump_of(&entry, all);
            assert_eq!(
                MetadumpEntry::parse(&again).as_ref(),
                Some(&entry),
                "{again}"
            );
        }
    }
}

/// An arbitrary entry written as metadump writes it parses back to itself.
fn metadump_entry(r: &mut Reader<'_>) {
    let entry = MetadumpEntry {
        key: r.bytes(300).to_vec(),
        expiration: r.u64() as i64,
        last_access: r.u64() as i64,
        cas: r.u64(),
        size: r.u64(),
    };
    let all = r.u8() & 1 != 0;
    let line = metadump_of(&entry, all);
    let expected = (!entry.key.is_empty()).then_some(&entry);
    assert_eq!(MetadumpEntry::parse(&line).as_ref(), expected, "{line}");
    metadump_line(&line);
}

/// A stats group is encoded only if it cannot break the line: one word of
/// letters, digits, `_` and `-` (or none); a refusal writes nothing.
fn stats_command(group: &str) {
    let mut buf = b"xy".to_vec();
    let word = group
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    match encode_text_stats(group, &mut buf) {
        Ok(()) => {
            assert!(word, "encoded the group {group:?}");
            let expected = if group.is_empty() {
                b"stats\r\n".to_vec()
            } else {
                [b"stats ", group.as_bytes(), b"\r\n"].concat()
            };
            assert_eq!(&buf[2..], expected);
            // One line, as the server reads it: two words at most, no
            // control byte before the CRLF.
            let line = &buf[2..buf.len() - 2];
            assert!(line.iter().all(|&b| b.is_ascii_graphic() || b == b' '));
            assert!(line.split(|&b| b == b' ').count() <= 2);
        }
        Err(TextError::BadArgument) => {
            assert!(!word, "refused the group {group:?}");
            assert_eq!(buf, b"xy", "a refused command wrote");
        }
        Err(other) => panic!("encoding stats {group:?}: {other:?}"),
    }
    let mut buf = Vec::new();
    encode_metadump(&mut buf);
    assert_eq!(buf, b"lru_crawler metadump all\r\n");
}
