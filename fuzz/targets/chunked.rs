//! `chunked`: a valid response stream split anywhere and read back through
//! a connection-style read buffer.

use quickmc::protocol::{Decoded, HEADER_LEN, Response, decode_response};

use super::MAX_BODY;
use super::input::{Reader, Writer, read_response, write_response};

/// Writes a chunked-target input: split points, buffer policy, then frames.
pub fn write_chunked(w: &mut Writer, cuts: &[u32], policy: u8, frames: &[Response<'_>]) {
    w.u8(u8::try_from(cuts.len()).expect("at most 255 cuts"));
    for &cut in cuts {
        w.u32(cut);
    }
    w.u8(policy);
    for frame in frames {
        write_response(w, frame);
    }
}

/// A valid stream of responses split at arbitrary points and fed chunk by
/// chunk through a read buffer the way a connection reads: the same frames
/// come out as from the whole stream, and every wait asks for exactly the
/// next header or frame.
pub fn chunked(data: &[u8]) {
    let mut r = Reader::new(data);
    let cut_count = usize::from(r.u8() % 32);
    let cut_points: Vec<u32> = (0..cut_count).map(|_| r.u32()).collect();
    let policy = r.u8();
    let mut frames = Vec::new();
    let mut stream = Vec::new();
    while !r.is_empty() && frames.len() < 64 {
        let response = read_response(&mut r);
        if response.encode(&mut stream).is_ok() {
            frames.push(response);
        }
    }

    // The whole stream at once.
    let mut rest = &stream[..];
    for expected in &frames {
        match decode_response(rest, MAX_BODY) {
            Ok(Decoded::Complete { frame, len }) => {
                assert_eq!(&frame, expected);
                rest = &rest[len..];
            }
            other => panic!("a valid stream did not decode: {other:?}"),
        }
    }
    assert!(rest.is_empty());

    // Chunk boundaries: the cut points scaled onto the stream, or every
    // byte when the policy asks and the stream is small.
    let mut cuts: Vec<usize> = if policy & 0x80 != 0 && stream.len() <= 4096 {
        (1..stream.len()).collect()
    } else {
        cut_points
            .iter()
            .map(|&c| ((u64::from(c) * (stream.len() as u64 + 1)) >> 32) as usize)
            .collect()
    };
    cuts.push(stream.len());
    cuts.sort_unstable();
    cuts.dedup();

    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut next = 0;
    let mut from = 0;
    for cut in cuts {
        buf.extend_from_slice(&stream[from..cut]);
        from = cut;
        loop {
            let available = &buf[start..];
            match decode_response(available, MAX_BODY) {
                Ok(Decoded::Complete { frame, len }) => {
                    let expected = frames.get(next).expect("more frames than were sent");
                    assert_eq!(&frame, expected, "frame {next} differs when chunked");
                    assert_eq!(len, expected.encoded_len());
                    next += 1;
                    start += len;
                }
                Ok(Decoded::Partial { needed }) => {
                    let want = if available.len() < HEADER_LEN {
                        HEADER_LEN
                    } else {
                        frames[next].encoded_len()
                    };
                    assert_eq!(
                        needed,
                        want,
                        "wrong wait with {} bytes buffered",
                        available.len()
                    );
                    break;
                }
                Err(error) => panic!("a valid stream cut at {cut} failed: {error}"),
            }
        }
        // Consume as the connection's read buffer does: reset when all is
        // read, else (by policy) move the rest to the front.
        if start == buf.len() {
            buf.clear();
            start = 0;
        } else if policy & 1 != 0 && start >= buf.len() / 2 {
            buf.drain(..start);
            start = 0;
        }
    }
    assert_eq!(next, frames.len(), "frames lost when chunked");
    assert_eq!(start, buf.len(), "bytes left over");
}
