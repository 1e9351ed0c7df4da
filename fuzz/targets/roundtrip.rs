//! `roundtrip`: requests and responses encoded and decoded back.

use quickmc::protocol::{
    DecodeError, Decoded, EncodeError, Extras, ExtrasKind, HEADER_LEN, KeyRule, MAX_KEY_LEN,
    Request, Response, decode_request, decode_response,
};

use super::MAX_BODY;
use super::input::{Reader, read_request, read_response};

/// A sequence of arbitrary requests and responses, each encoded and decoded back.
pub fn roundtrip(data: &[u8]) {
    let mut r = Reader::new(data);
    while !r.is_empty() {
        if r.u8().is_multiple_of(2) {
            roundtrip_request(&read_request(&mut r));
        } else {
            roundtrip_response(&read_response(&mut r));
        }
    }
}

/// What memcached accepts, written independently of `Request::validate`.
fn acceptable(request: &Request<'_>) -> bool {
    let opcode = request.opcode;
    let key_ok = match opcode.key_rule() {
        KeyRule::Required => (1..=MAX_KEY_LEN).contains(&request.key.len()),
        KeyRule::Optional => request.key.len() <= MAX_KEY_LEN,
        KeyRule::Forbidden => request.key.is_empty(),
    };
    let value_ok = request.value.is_empty() || opcode.takes_value();
    let extras_ok = match opcode.extras_kind() {
        ExtrasKind::None => request.extras == Extras::None,
        ExtrasKind::Store => matches!(request.extras, Extras::Store { .. }),
        ExtrasKind::Counter => matches!(request.extras, Extras::Counter { .. }),
        ExtrasKind::Expiration => matches!(request.extras, Extras::Expiration(_)),
        ExtrasKind::OptionalDelay => {
            matches!(request.extras, Extras::None | Extras::Expiration(_))
        }
    };
    key_ok && value_ok && extras_ok
}

/// Proper prefixes worth checking: all of them for small frames, else the
/// header's and a few in the body.
fn prefixes(len: usize) -> impl Iterator<Item = usize> {
    let all = len <= 512;
    (0..len).filter(move |&cut| all || cut <= HEADER_LEN + 1 || cut == len / 2 || cut + 1 >= len)
}

/// One request: validation and encoding agree; a refused request leaves the
/// buffer as it was; an accepted one decodes back to itself.
pub fn roundtrip_request(request: &Request<'_>) {
    let mut buf = vec![0xa5; 3];
    let verdict = request.validate();
    assert_eq!(
        verdict.is_ok(),
        acceptable(request),
        "validate disagrees on {request:?}"
    );
    let encoded = request.encode(&mut buf);
    assert_eq!(encoded, verdict, "encode and validate disagree");
    if encoded.is_err() {
        assert_eq!(buf, [0xa5; 3], "a refused request changed the buffer");
        return;
    }
    let wire = &buf[3..];
    assert_eq!(wire.len(), request.encoded_len());
    assert_eq!(
        decode_request(wire, MAX_BODY),
        Ok(Decoded::Complete {
            frame: *request,
            len: wire.len()
        })
    );
    assert_eq!(
        decode_response(wire, MAX_BODY),
        Err(DecodeError::BadMagic(0x80))
    );
    every_prefix_is_partial(wire, |cut| decode_request(cut, MAX_BODY));
    let body = (wire.len() - HEADER_LEN) as u32;
    if body > 0 {
        assert_eq!(
            decode_request(wire, body - 1),
            Err(DecodeError::BodyTooLarge {
                len: body,
                max: body - 1,
                opaque: request.opaque,
                value: request.value.len() as u32
            })
        );
    }
}

/// One response: it encodes unless a length field cannot hold it (and then
/// leaves the buffer alone), and decodes back to itself.
pub fn roundtrip_response(response: &Response<'_>) {
    let mut buf = vec![0x5a; 2];
    match response.encode(&mut buf) {
        Err(error) => {
            assert_eq!(buf, [0x5a; 2], "a refused response changed the buffer");
            match error {
                EncodeError::BodyTooLong => assert!(response.extras.len() > 255),
                EncodeError::KeyTooLong(len) => assert!(len > usize::from(u16::MAX)),
                other => panic!("a response refused for {other:?}"),
            }
        }
        Ok(()) => {
            assert!(response.extras.len() <= 255);
            let wire = &buf[2..];
            assert_eq!(wire.len(), response.encoded_len());
            assert_eq!(
                decode_response(wire, MAX_BODY),
                Ok(Decoded::Complete {
                    frame: *response,
                    len: wire.len()
                })
            );
            assert_eq!(
                decode_request(wire, MAX_BODY),
                Err(DecodeError::BadMagic(0x81))
            );
            every_prefix_is_partial(wire, |cut| decode_response(cut, MAX_BODY));
        }
    }
}

/// Every cut of an encoded frame short of its end decodes as `Partial`,
/// asking for the header first, then for the whole frame.
fn every_prefix_is_partial<'w, F: PartialEq + std::fmt::Debug>(
    wire: &'w [u8],
    decode: impl Fn(&'w [u8]) -> Result<Decoded<F>, DecodeError>,
) {
    for cut in prefixes(wire.len()) {
        let needed = if cut < HEADER_LEN {
            HEADER_LEN
        } else {
            wire.len()
        };
        assert_eq!(decode(&wire[..cut]), Ok(Decoded::Partial { needed }));
    }
}
