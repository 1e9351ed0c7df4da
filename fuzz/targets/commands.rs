//! `commands`: every single-request command of the command layer, run as a
//! [`Single`] exchange and fed arbitrary reply frames, against the model
//! in [`commands_model`](super::commands_model).

use std::fmt::Debug;

use quickmc::command::{
    Cas, Command, Concat, ConcatMode, Counter, CounterOp, Delete, Exchange, Flush, Get, Noop,
    SaslPlain, Single, Stats, Store, StoreMode, Touch, Version,
};
use quickmc::protocol::{Decoded, Extras, Opcode, Request, Response, Status, decode_request};
use quickmc::{Error, ProtocolError};

use super::commands_model::{self as model, Expect, expected_request, lossy};
use super::input::{Reader, Writer, opcode_at, opcode_index};

/// Which command an input runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    GetAndTouch,
    Set,
    Add,
    Replace,
    Cas,
    Append,
    Prepend,
    Delete,
    Incr,
    Decr,
    Touch,
    Flush,
    Version,
    Noop,
    SaslPlain,
    Stats,
}

impl Kind {
    /// Every kind, in input order.
    pub const ALL: [Kind; 17] = [
        Kind::Get,
        Kind::GetAndTouch,
        Kind::Set,
        Kind::Add,
        Kind::Replace,
        Kind::Cas,
        Kind::Append,
        Kind::Prepend,
        Kind::Delete,
        Kind::Incr,
        Kind::Decr,
        Kind::Touch,
        Kind::Flush,
        Kind::Version,
        Kind::Noop,
        Kind::SaslPlain,
        Kind::Stats,
    ];

    pub fn index(self) -> u8 {
        Kind::ALL.iter().position(|&k| k == self).unwrap_or(0) as u8
    }
}

/// A command's parameters as fuzz input (each kind uses the ones it has;
/// SASL takes the user from `key` and the password from `value`, Stats the
/// group from `key`, Flush the delay from `expiration`).
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    pub kind: Kind,
    pub flags: u32,
    pub expiration: u32,
    pub cas: u64,
    pub delta: u64,
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// The opaque the connection hands the request.
    pub opaque: u32,
}

fn read_params<'a>(r: &mut Reader<'a>) -> Params<'a> {
    Params {
        kind: Kind::ALL[usize::from(r.u8()) % Kind::ALL.len()],
        flags: r.u32(),
        expiration: r.u32(),
        cas: r.u64(),
        delta: r.u64(),
        key: r.bytes(300),
        value: r.bytes(u16::MAX),
        opaque: r.u32(),
    }
}

/// Writes a commands-target input's command (replies follow, by [`write_reply`]).
pub fn write_params(w: &mut Writer, p: &Params<'_>) {
    w.u8(p.kind.index())
        .u32(p.flags)
        .u32(p.expiration)
        .u64(p.cas)
        .u64(p.delta)
        .bytes(p.key)
        .bytes(p.value)
        .u32(p.opaque);
    // Control: transmit before the first reply.
    w.u8(0);
}

/// Statuses worth picking often.
pub const STATUSES: [Status; 12] = [
    Status::Ok,
    Status::KeyNotFound,
    Status::KeyExists,
    Status::ValueTooLarge,
    Status::InvalidArguments,
    Status::NotStored,
    Status::NonNumeric,
    Status::VbucketElsewhere,
    Status::AuthError,
    Status::AuthContinue,
    Status::UnknownCommand,
    Status::OutOfMemory,
];

/// What the input feeds the exchange next.
#[derive(Debug)]
enum Feed<'a> {
    Frame(Response<'a>),
    /// A reply header declaring a body above the client's limit.
    Oversized {
        opaque: u32,
        size: u32,
        limit: u32,
    },
}

/// One reply, repeated `1 + repeat` times. Fields are the request's unless
/// the shape asks for arbitrary ones, so that matching replies are common.
fn read_feed<'a>(r: &mut Reader<'a>, sent: u32, opcode: Opcode) -> (Feed<'a>, usize) {
    let shape = r.u8();
    let opaque = match shape & 0b11 {
        1 => sent.wrapping_add(i32::from(r.u8() as i8) as u32),
        2 => r.u32(),
        _ => sent,
    };
    let reply_opcode = if shape & 0b100 == 0 {
        opcode
    } else {
        opcode_at(r.u8())
    };
    let status = match (shape >> 3) & 0b11 {
        1 => STATUSES[usize::from(r.u8()) % STATUSES.len()],
        2 => Status::from_u16(r.u16()),
        _ => Status::Ok,
    };
    let repeat = if shape & 0x40 == 0 {
        0
    } else {
        usize::from(r.u16()) * 2
    };
    if shape & 0x20 != 0 {
        let (size, limit) = (r.u32(), r.u32());
        return (
            Feed::Oversized {
                opaque,
                size,
                limit,
            },
            0,
        );
    }
    let frame = Response::new(reply_opcode, status)
        .opaque(opaque)
        .cas(r.u64())
        .extras(r.bytes(64))
        .key(r.bytes(300))
        .value(r.bytes(u16::MAX));
    (Feed::Frame(frame), repeat)
}

/// Writes one reply exactly as received (raw opaque, opcode and status).
pub fn write_reply(w: &mut Writer, reply: &Response<'_>) {
    w.u8(0b1_0110)
        .u32(reply.opaque)
        .u8(opcode_index(reply.opcode))
        .u16(reply.status.to_u16())
        .u64(reply.cas)
        .bytes(reply.extras)
        .bytes(reply.key)
        .bytes(reply.value);
}

/// A command's run: its request sent through a [`Single`], then each reply
/// of the input fed to it and checked against `model` (consulted only for
/// replies that match the request by opaque and opcode).
fn run<C>(
    command: &mut C,
    p: &Params<'_>,
    expected: Request<'_>,
    r: &mut Reader<'_>,
    mut model: impl FnMut(&Response<'_>) -> Expect<C::Output>,
) where
    C: Command,
    C::Output: PartialEq + Debug,
{
    assert_eq!(
        command.request(),
        expected,
        "{:?} builds another request",
        p.kind
    );
    let takes_oversized = matches!(expected.opcode, Opcode::Get | Opcode::Gat);
    let valid = expected.validate();
    let control = r.u8();
    let mut exchange = Single::new(command);
    assert!(!exchange.is_transmitted() && !exchange.is_complete());

    // The outcome the model expects (once known) and the replies accepted.
    let mut outcome: Option<Result<C::Output, Error>> = None;
    let mut replies = 0;
    let mut sent: Option<u32> = None;

    // A reply before the request is sent answers nothing.
    if control & 1 != 0 {
        let early = Response::new(expected.opcode, Status::Ok).opaque(p.opaque);
        assert!(
            exchange.receive(&early).is_err(),
            "a reply before the request"
        );
    }

    let prefill = usize::from(control >> 4);
    let mut out = vec![0xee; prefill];
    let mut next = p.opaque;
    // A single request goes out whole whatever the budget.
    exchange.transmit(&mut next, &mut out, usize::from(control >> 1 & 0b111));
    assert_eq!(
        out[..prefill],
        vec![0xee; prefill][..],
        "bytes before the request changed"
    );
    match valid {
        Err(error) => {
            // Refused before any I/O: nothing written, no opaque used.
            assert_eq!(out.len(), prefill, "an invalid request was written");
            assert_eq!(next, p.opaque);
            assert!(exchange.is_transmitted() && exchange.is_complete());
            outcome = Some(Err(Error::from(error)));
        }
        Ok(()) => {
            let wire = &out[prefill..];
            assert_eq!(
                decode_request(wire, u32::MAX),
                Ok(Decoded::Complete {
                    frame: expected.opaque(p.opaque),
                    len: wire.len()
                }),
                "the request on the wire"
            );
            assert_eq!(next, p.opaque.wrapping_add(1));
            assert!(exchange.is_transmitted() && !exchange.is_complete());
            sent = Some(p.opaque);
        }
    }
    // Sending again sends nothing.
    let before = out.len();
    exchange.transmit(&mut next, &mut out, usize::MAX);
    assert_eq!(out.len(), before, "the request was sent twice");

    let sent_opaque = sent.unwrap_or(p.opaque);
    'feed: while !r.is_empty() {
        let (feed, repeat) = read_feed(r, sent_opaque, expected.opcode);
        for _ in 0..=repeat {
            let done = outcome.is_some();
            match &feed {
                Feed::Oversized {
                    opaque,
                    size,
                    limit,
                } => {
                    let result = exchange.receive_oversized(*opaque, *size, *limit);
                    if done || sent != Some(*opaque) || !takes_oversized {
                        assert!(result.is_err(), "an oversized reply accepted: {feed:?}");
                        assert_eq!(exchange.replies(), replies);
                        assert_eq!(exchange.is_complete(), done);
                        continue;
                    }
                    assert!(matches!(result, Ok(None)), "{result:?}");
                    replies += 1;
                    outcome = Some(Err(Error::ValueTooLarge {
                        key: lossy(expected.key),
                        size: u64::from(*size),
                        limit: u64::from(*limit),
                    }));
                }
                Feed::Frame(frame) => {
                    let result = exchange.receive(frame);
                    let answers = sent == Some(frame.opaque) && frame.opcode == expected.opcode;
                    if done || !answers {
                        // Refused, and nothing changes.
                        assert!(
                            matches!(result, Err(ProtocolError::Unexpected(_))),
                            "accepted {frame:?} (done: {done}): {result:?}"
                        );
                        assert_eq!(exchange.replies(), replies);
                        assert_eq!(exchange.is_complete(), done);
                        continue;
                    }
                    replies += 1;
                    match model(frame) {
                        Expect::More => assert!(result.is_ok(), "{frame:?}: {result:?}"),
                        Expect::Done(expected) => {
                            assert!(result.is_ok(), "{frame:?}: {result:?}");
                            outcome = Some(expected);
                        }
                        Expect::Violation(error) => {
                            let got = result.expect_err("a reply that cannot answer accepted");
                            if let Some(error) = error {
                                assert_eq!(got, error);
                            }
                            // A driver discards the connection now.
                            assert_eq!(exchange.replies(), replies);
                            assert!(!exchange.is_complete());
                            break 'feed;
                        }
                    }
                }
            }
            assert_eq!(exchange.replies(), replies);
            assert_eq!(exchange.is_complete(), outcome.is_some());
        }
    }

    let got = exchange.into_outcome();
    match (&got, &outcome) {
        (None, None) => {}
        (Some(Ok(a)), Some(Ok(b))) => assert_eq!(a, b, "{:?} outcome", p.kind),
        (Some(Err(a)), Some(Err(b))) => {
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{:?} error", p.kind)
        }
        _ => panic!("{:?}: outcome {got:?}, expected {outcome:?}", p.kind),
    }
}
/// Every command kind fed arbitrary reply frames through [`Single`]: no
/// panic; an outcome only after a reply with the request's opaque and
/// opcode, and the one the command's documentation gives (statuses become
/// errors as [`status_error`] says); statistics stay within their limits;
/// anything after the outcome is refused.
pub fn commands(data: &[u8]) {
    let mut r = Reader::new(data);
    let p = read_params(&mut r);
    let user = lossy(p.key);
    let password = lossy(p.value);
    let token = [&[0][..], user.as_bytes(), &[0], password.as_bytes()].concat();
    let expected = expected_request(&p, &token, &user);
    let (key, value, r) = (p.key, p.value, &mut r);
    let store = |mode| Store::new(mode, key, value, p.flags, p.expiration);
    match p.kind {
        Kind::Get => run(&mut Get::new(key), &p, expected, r, model::hit),
        Kind::GetAndTouch => {
            let mut gat = Get::touching(key, p.expiration);
            run(&mut gat, &p, expected, r, model::hit)
        }
        Kind::Set => run(&mut store(StoreMode::Set), &p, expected, r, model::stored),
        Kind::Add => run(&mut store(StoreMode::Add), &p, expected, r, model::stored),
        Kind::Replace => run(
            &mut store(StoreMode::Replace),
            &p,
            expected,
            r,
            model::stored,
        ),
        Kind::Cas => {
            let mut cas = Cas::new(key, value, p.flags, p.expiration, p.cas);
            run(&mut cas, &p, expected, r, model::cas)
        }
        Kind::Append => {
            let mut append = Concat::new(ConcatMode::Append, key, value);
            run(&mut append, &p, expected, r, model::concat)
        }
        Kind::Prepend => {
            let mut prepend = Concat::new(ConcatMode::Prepend, key, value);
            run(&mut prepend, &p, expected, r, model::concat)
        }
        Kind::Delete => run(&mut Delete::new(key), &p, expected, r, model::present),
        Kind::Incr => {
            let mut incr = Counter::new(CounterOp::Incr, key, p.delta);
            run(&mut incr, &p, expected, r, model::counter)
        }
        Kind::Decr => {
            let mut decr = Counter::new(CounterOp::Decr, key, p.delta);
            run(&mut decr, &p, expected, r, model::counter)
        }
        Kind::Touch => {
            let mut touch = Touch::new(key, p.expiration);
            run(&mut touch, &p, expected, r, model::present)
        }
        Kind::Flush => run(&mut Flush::new(p.expiration), &p, expected, r, model::plain),
        Kind::Noop => run(&mut Noop, &p, expected, r, model::plain),
        Kind::Version => run(&mut Version, &p, expected, r, model::version),
        Kind::SaslPlain => {
            let mut auth = SaslPlain::new(&user, &password);
            run(&mut auth, &p, expected, r, model::sasl)
        }
        Kind::Stats => {
            let mut stats = model::StatsModel::default();
            run(&mut Stats::new(&user), &p, expected, r, |reply| {
                stats.reply(reply)
            })
        }
    }
}

/// The command a captured request is, as commands-target parameters (None
/// for requests no single command sends).
pub fn params_of<'a>(request: &Request<'a>) -> Option<Params<'a>> {
    let mut p = Params {
        kind: Kind::Get,
        flags: 0,
        expiration: 0,
        cas: 0,
        delta: 0,
        key: request.key,
        value: request.value,
        opaque: request.opaque,
    };
    match request.extras {
        Extras::Store { flags, expiration } => (p.flags, p.expiration) = (flags, expiration),
        Extras::Counter { delta, .. } => p.delta = delta,
        Extras::Expiration(expiration) => p.expiration = expiration,
        Extras::None => {}
    }
    p.kind = match request.opcode {
        Opcode::Get => Kind::Get,
        Opcode::Gat => Kind::GetAndTouch,
        Opcode::Set => Kind::Set,
        Opcode::Add => Kind::Add,
        Opcode::Replace if request.cas != 0 => {
            p.cas = request.cas;
            Kind::Cas
        }
        Opcode::Replace => Kind::Replace,
        Opcode::Append => Kind::Append,
        Opcode::Prepend => Kind::Prepend,
        Opcode::Delete => Kind::Delete,
        Opcode::Increment => Kind::Incr,
        Opcode::Decrement => Kind::Decr,
        Opcode::Touch => Kind::Touch,
        Opcode::Flush => Kind::Flush,
        Opcode::Version => Kind::Version,
        Opcode::Noop => Kind::Noop,
        Opcode::Stat => Kind::Stats,
        _ => return None,
    };
    Some(p)
}
