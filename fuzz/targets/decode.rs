//! `decode`: arbitrary bytes into the response and request decoders.

use quickmc::protocol::{
    DecodeError, Decoded, HEADER_LEN, Opcode, decode_request, decode_response,
};

use super::MAX_BODY;
use super::alloc::{assert_allocates_nothing, measure};
use super::input::offset_in;

/// Arbitrary bytes into the response and request decoders, frame after
/// frame, at three maximum body sizes.
pub fn decode(data: &[u8]) {
    for max in [MAX_BODY, 64, u32::MAX] {
        decode_responses(data, max);
        decode_requests(data, max);
    }
}

fn declared_body(header: &[u8]) -> usize {
    u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as usize
}

/// Checks a `Partial` answer: it asks for more than there is, exactly the
/// header or the whole declared frame, and never more than the maximum.
fn check_partial(rest: &[u8], needed: usize, max: u32) {
    assert!(
        needed > rest.len(),
        "partial with {} bytes asks for {needed}",
        rest.len()
    );
    assert!(
        needed <= HEADER_LEN + max as usize,
        "partial asks for {needed} bytes with max body {max}"
    );
    if rest.len() < HEADER_LEN {
        assert_eq!(needed, HEADER_LEN, "a short header asks for the header");
    } else {
        assert_eq!(
            needed,
            HEADER_LEN + declared_body(rest),
            "asks for the declared frame"
        );
    }
}

/// Checks a decode error against the header it blames.
fn check_error(rest: &[u8], error: DecodeError, magic: u8, max: u32) {
    match error {
        DecodeError::BadMagic(byte) => {
            assert_eq!(Some(&byte), rest.first());
            assert_ne!(byte, magic);
        }
        DecodeError::UnknownOpcode(byte) => {
            assert_eq!(byte, rest[1]);
            assert_eq!(Opcode::from_u8(byte), None);
        }
        DecodeError::BadDataType(byte) => {
            assert_eq!(byte, rest[5]);
            assert_ne!(byte, 0);
        }
        DecodeError::BadLengths { extras, key, body } => {
            assert_eq!((extras, body as usize), (rest[4], declared_body(rest)));
            assert_eq!(key, u16::from_be_bytes([rest[2], rest[3]]));
            assert!(u32::from(extras) + u32::from(key) > body);
        }
        DecodeError::BodyTooLarge {
            len,
            max: reported,
            value,
            ..
        } => {
            assert_eq!((len as usize, reported), (declared_body(rest), max));
            assert!(len > max);
            let claimed = u32::from(rest[4]) + u32::from(u16::from_be_bytes([rest[2], rest[3]]));
            assert_eq!(value, len.saturating_sub(claimed));
        }
        DecodeError::BadExtras(len) => {
            assert_eq!(magic, 0x80, "only requests have typed extras");
            assert_eq!(len, rest[4]);
            assert!(![0, 4, 8, 20].contains(&len));
        }
    }
}

/// Checks a complete frame: it lies within the input, in order, its parts
/// add up to its length, and its body is within the maximum.
fn check_complete(rest: &[u8], len: usize, parts: [&[u8]; 3], max: u32) {
    assert!(
        len >= HEADER_LEN && len <= rest.len(),
        "frame of {len} bytes in {}",
        rest.len()
    );
    assert!(len - HEADER_LEN <= max as usize, "body above the maximum");
    let frame = &rest[..len];
    let mut at = HEADER_LEN;
    for part in parts {
        if part.is_empty() {
            continue;
        }
        assert_eq!(offset_in(frame, part), Some(at), "a part outside its frame");
        at += part.len();
    }
    assert_eq!(at, len, "parts do not add up to the frame");
}

/// If the header is all there, padding the input to `needed` completes the frame.
fn check_padding_completes(rest: &[u8], needed: usize, max: u32, request: bool) {
    if rest.len() < HEADER_LEN || needed > rest.len() + 4096 {
        return;
    }
    let mut padded = rest.to_vec();
    padded.resize(needed, 0);
    let len = if request {
        match decode_request(&padded, max) {
            Ok(Decoded::Complete { len, .. }) => len,
            // Padding may give request extras no known shape.
            Err(DecodeError::BadExtras(_)) => return,
            other => panic!("padded to {needed} bytes: {other:?}"),
        }
    } else {
        match decode_response(&padded, max) {
            Ok(Decoded::Complete { len, .. }) => len,
            other => panic!("padded to {needed} bytes: {other:?}"),
        }
    };
    assert_eq!(len, needed);
}

fn decode_responses(data: &[u8], max: u32) {
    let mut rest = data;
    loop {
        let (result, usage) = measure(|| decode_response(rest, max));
        assert_allocates_nothing(usage, "decode_response");
        match result {
            Ok(Decoded::Complete { frame, len }) => {
                check_complete(rest, len, [frame.extras, frame.key, frame.value], max);
                assert_eq!(frame.encoded_len(), len);
                // Decoding loses nothing: the frame re-encodes to its bytes.
                let mut again = Vec::with_capacity(len);
                frame
                    .encode(&mut again)
                    .expect("a decoded response re-encodes");
                assert_eq!(again, rest[..len], "decode then encode changed the frame");
                if frame.extras.len() >= 4 {
                    assert!(frame.flags().is_some());
                }
                rest = &rest[len..];
            }
            Ok(Decoded::Partial { needed }) => {
                check_partial(rest, needed, max);
                check_padding_completes(rest, needed, max, false);
                return;
            }
            Err(error) => {
                check_error(rest, error, 0x81, max);
                return;
            }
        }
    }
}

fn decode_requests(data: &[u8], max: u32) {
    let mut rest = data;
    loop {
        let (result, usage) = measure(|| decode_request(rest, max));
        assert_allocates_nothing(usage, "decode_request");
        match result {
            Ok(Decoded::Complete { frame, len }) => {
                assert!(len >= HEADER_LEN && len <= rest.len());
                assert_eq!(usize::from(rest[4]), frame.extras.len(), "extras length");
                check_complete(
                    rest,
                    len,
                    [&rest[24..24 + frame.extras.len()], frame.key, frame.value],
                    max,
                );
                assert_eq!(frame.encoded_len(), len);
                // A request the encoder accepts re-encodes to the same bytes,
                // but for the vbucket, which quickmc always sends as 0.
                if frame.validate().is_ok() {
                    let mut again = Vec::with_capacity(len);
                    frame.encode(&mut again).expect("validated");
                    let mut expected = rest[..len].to_vec();
                    expected[6..8].fill(0);
                    assert_eq!(again, expected, "decode then encode changed the request");
                }
                rest = &rest[len..];
            }
            Ok(Decoded::Partial { needed }) => {
                check_partial(rest, needed, max);
                check_padding_completes(rest, needed, max, true);
                return;
            }
            Err(error) => {
                check_error(rest, error, 0x80, max);
                return;
            }
        }
    }
}
