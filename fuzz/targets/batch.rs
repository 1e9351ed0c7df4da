//! `batch`: the reply matcher of the older batch path,
//! [`BatchMatcher`], against an independent model. (The batch state
//! machine of the command layer has its own target, `batch_machine`.)

use quickmc::protocol::{BatchError, BatchMatcher, Matched, Opcode, Response, Status};

use super::input::{Reader, Writer, opcode_at, opcode_index};

/// Writes a batch-target header: first opaque, request count, opcode, keys.
pub fn write_batch_header(w: &mut Writer, first: u32, opcode: Opcode, keys: &[&[u8]]) {
    let count = u8::try_from(keys.len()).expect("a short batch");
    assert!(count < 0x80);
    w.u32(first).u8(count).u8(opcode_index(opcode));
    for key in keys {
        w.bytes(key);
    }
}

/// Writes one reply to a batch exactly as received (raw opaque, opcode,
/// status and key).
pub fn write_batch_reply(w: &mut Writer, reply: &Response<'_>) {
    w.u8(0b0111_1011)
        .u32(reply.opaque)
        .u8(opcode_index(reply.opcode))
        .u16(reply.status.to_u16())
        .bytes(reply.key);
}

/// An arbitrary batch and an arbitrary sequence of replies fed to the
/// matcher, checked against an independent model of what may match.
pub fn batch(data: &[u8]) {
    let mut r = Reader::new(data);
    let first = r.u32();
    let selector = r.u8();
    let count: u64 = if selector & 0x80 == 0 {
        u64::from(selector)
    } else {
        r.u64()
    };
    let opcode = opcode_at(r.u8());
    let key_count = count.min(64) as usize;
    let keys: Vec<&[u8]> = (0..key_count).map(|_| r.bytes(250)).collect();
    let key_of = |i: usize| keys.get(i).copied();

    let mut matcher =
        BatchMatcher::new(first, usize::try_from(count).unwrap_or(usize::MAX), opcode);
    // The model: the matcher's count, the last index matched, whether done.
    let count = u32::try_from(count).unwrap_or(u32::MAX).min(u32::MAX - 1);
    assert_eq!(matcher.noop_opaque(), first.wrapping_add(count));
    let mut last: Option<u32> = None;
    let mut done = false;

    while !r.is_empty() {
        let shape = r.u8();
        let opaque = match shape & 0b11 {
            0 => first.wrapping_add(u32::from(r.u8())),
            1 => first
                .wrapping_add(count)
                .wrapping_add(u32::from(r.u8() % 4)),
            2 => first.wrapping_sub(1 + u32::from(r.u8() % 4)),
            _ => r.u32(),
        };
        let offset = opaque.wrapping_sub(first);
        let reply_opcode = match (shape >> 2) & 0b11 {
            0 => opcode,
            1 => Opcode::Noop,
            _ => opcode_at(r.u8()),
        };
        let status = if shape & 0x10 == 0 {
            Status::Ok
        } else {
            Status::from_u16(r.u16())
        };
        let key: &[u8] = match (shape >> 5) & 0b11 {
            0 => key_of(offset as usize).unwrap_or_default(),
            1 => keys
                .get(usize::from(r.u8()) % keys.len().max(1))
                .copied()
                .unwrap_or_default(),
            2 => r.bytes(250),
            _ => b"",
        };
        let reply = Response::new(reply_opcode, status)
            .opaque(opaque)
            .key(key)
            .value(b"v");

        let echoes = opcode.echoes_key() && status == Status::Ok;
        let model_reply = !done
            && offset < count
            && last.is_none_or(|l| offset > l)
            && reply_opcode == opcode
            && (!echoes || key_of(offset as usize) == Some(key));
        let model_end =
            !done && offset == count && reply_opcode == Opcode::Noop && status == Status::Ok;

        let got = matcher.accept(&reply, key_of);
        match got {
            Ok(Matched::Reply(index)) => {
                assert!(model_reply, "accepted {reply:?} as reply {index}");
                assert!(!done, "a reply after the end");
                assert_eq!(index as u64, u64::from(offset));
                assert_eq!(reply.opaque, first.wrapping_add(index as u32));
                assert_eq!(reply.opcode, opcode);
                assert!(
                    last.is_none_or(|l| index as u64 > u64::from(l)),
                    "index went back"
                );
                if echoes {
                    assert_eq!(key_of(index), Some(reply.key), "matched to the wrong key");
                }
                last = Some(offset);
            }
            Ok(Matched::End) => {
                assert!(model_end, "accepted {reply:?} as the end");
                done = true;
            }
            Err(error) => {
                assert!(
                    !model_reply && !model_end,
                    "refused a valid {reply:?}: {error}"
                );
                match error {
                    BatchError::AfterEnd => assert!(done),
                    BatchError::UnknownOpaque(o) => {
                        assert_eq!(o, opaque);
                        assert!(offset >= count);
                    }
                    BatchError::OutOfOrder(o) => {
                        assert_eq!(o, opaque);
                        assert!(last.is_some_and(|l| offset <= l));
                    }
                    BatchError::UnexpectedOpcode { expected, got } => {
                        assert_eq!((expected, got), (opcode, reply_opcode));
                        assert_ne!(expected, got);
                    }
                    BatchError::KeyMismatch => {
                        assert!(echoes);
                        assert_ne!(key_of(offset as usize), Some(key));
                    }
                    BatchError::NoopFailed(s) => {
                        assert_eq!(s, status);
                        assert_ne!(s, Status::Ok);
                        assert_eq!((offset, reply_opcode), (count, Opcode::Noop));
                    }
                }
            }
        }
        assert_eq!(matcher.is_done(), done);
    }
}
