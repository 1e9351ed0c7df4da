//! The model the `commands` target checks each command against, written
//! from the commands' documentation: the request each sends and what each
//! reply status means for it.

use quickmc::command::{Hit, MAX_STATS_BYTES, MAX_STATS_ENTRIES, status_error};
use quickmc::protocol::{Extras, NO_CREATE, Opcode, Request, Response, Status};
use quickmc::{Error, ProtocolError};

use super::commands::{Kind, Params};

/// What the model expects of a matching reply.
#[derive(Debug)]
pub enum Expect<T> {
    /// More frames belong to the command.
    More,
    /// The command is answered.
    Done(Result<T, Error>),
    /// The reply cannot answer the request: a protocol violation.
    Violation(Option<ProtocolError>),
}

/// The request each kind must send, written from the commands' docs.
pub fn expected_request<'a>(
    p: &Params<'a>,
    user_password: &'a [u8],
    group: &'a str,
) -> Request<'a> {
    let store = |opcode| {
        Request::new(opcode, p.key)
            .extras(Extras::Store {
                flags: p.flags,
                expiration: p.expiration,
            })
            .value(p.value)
    };
    let counter = |opcode| {
        Request::new(opcode, p.key).extras(Extras::Counter {
            delta: p.delta,
            initial: 0,
            expiration: NO_CREATE,
        })
    };
    match p.kind {
        Kind::Get => Request::new(Opcode::Get, p.key),
        Kind::GetAndTouch => {
            Request::new(Opcode::Gat, p.key).extras(Extras::Expiration(p.expiration))
        }
        Kind::Set => store(Opcode::Set),
        Kind::Add => store(Opcode::Add),
        Kind::Replace => store(Opcode::Replace),
        // A CAS is a Replace carrying the id: nothing is created.
        Kind::Cas => store(Opcode::Replace).cas(p.cas),
        Kind::Append => Request::new(Opcode::Append, p.key).value(p.value),
        Kind::Prepend => Request::new(Opcode::Prepend, p.key).value(p.value),
        Kind::Delete => Request::new(Opcode::Delete, p.key),
        Kind::Incr => counter(Opcode::Increment),
        Kind::Decr => counter(Opcode::Decrement),
        Kind::Touch => Request::new(Opcode::Touch, p.key).extras(Extras::Expiration(p.expiration)),
        Kind::Flush => Request::new(Opcode::Flush, b"").extras(match p.expiration {
            0 => Extras::None,
            delay => Extras::Expiration(delay),
        }),
        Kind::Version => Request::new(Opcode::Version, b""),
        Kind::Noop => Request::new(Opcode::Noop, b""),
        Kind::SaslPlain => Request::new(Opcode::SaslAuth, b"PLAIN").value(user_password),
        Kind::Stats => Request::new(Opcode::Stat, group.as_bytes()),
    }
}

pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The outcome of a command answered by one frame: `Ok` maps to `ok`, each
/// status in `quiet` (the item not in the state asked for) to `Ok(no)`, and
/// any other status to [`status_error`].
pub fn answer<T>(reply: &Response<'_>, ok: T, no: T, quiet: &[Status]) -> Expect<T> {
    Expect::Done(match reply.status {
        Status::Ok => Ok(ok),
        status if quiet.contains(&status) => Ok(no),
        status => Err(status_error(status, reply.value)),
    })
}

/// Get and get-and-touch: a hit needs flags; a miss is `None`.
pub fn hit(reply: &Response<'_>) -> Expect<Option<Hit>> {
    match reply.status {
        Status::Ok => match reply.extras.get(..4) {
            Some(flags) => Expect::Done(Ok(Some(Hit {
                flags: u32::from_be_bytes([flags[0], flags[1], flags[2], flags[3]]),
                cas: reply.cas,
                value: reply.value.to_vec(),
            }))),
            None => Expect::Violation(None),
        },
        Status::KeyNotFound => Expect::Done(Ok(None)),
        status => Expect::Done(Err(status_error(status, reply.value))),
    }
}

/// Set, add and replace: false when the item is not in the state asked for.
pub fn stored(reply: &Response<'_>) -> Expect<bool> {
    let quiet = [Status::NotStored, Status::KeyExists, Status::KeyNotFound];
    answer(reply, true, false, &quiet)
}

/// CAS: a mismatch is false; a missing key is `NotFound` (an error).
pub fn cas(reply: &Response<'_>) -> Expect<bool> {
    answer(reply, true, false, &[Status::KeyExists])
}

/// Append and prepend: false if the key is missing.
pub fn concat(reply: &Response<'_>) -> Expect<bool> {
    answer(
        reply,
        true,
        false,
        &[Status::NotStored, Status::KeyNotFound],
    )
}

/// Delete and touch: false if the key is missing.
pub fn present(reply: &Response<'_>) -> Expect<bool> {
    answer(reply, true, false, &[Status::KeyNotFound])
}

/// Increment and decrement: the new value, in exactly 8 bytes.
pub fn counter(reply: &Response<'_>) -> Expect<u64> {
    match reply.status {
        Status::Ok => match <[u8; 8]>::try_from(reply.value) {
            Ok(bytes) => Expect::Done(Ok(u64::from_be_bytes(bytes))),
            Err(_) => Expect::Violation(None),
        },
        status => Expect::Done(Err(status_error(status, reply.value))),
    }
}

/// Flush and Noop: a plain success.
pub fn plain(reply: &Response<'_>) -> Expect<()> {
    answer(reply, (), (), &[])
}

/// Version: the reply's text.
pub fn version(reply: &Response<'_>) -> Expect<String> {
    match reply.status {
        Status::Ok => Expect::Done(Ok(lossy(reply.value))),
        status => Expect::Done(Err(status_error(status, reply.value))),
    }
}

/// SASL PLAIN: the one command whose every refusal is an authentication
/// error.
pub fn sasl(reply: &Response<'_>) -> Expect<()> {
    let message = lossy(reply.value);
    Expect::Done(match reply.status {
        Status::Ok => Ok(()),
        Status::AuthError | Status::AuthContinue => Err(Error::Auth(message)),
        other => Err(Error::Auth(format!("{other}: {message}"))),
    })
}

/// Stats: a stream of entries ended by one with an empty key, within
/// [`MAX_STATS_ENTRIES`] and [`MAX_STATS_BYTES`] (names and values as sent).
#[derive(Debug, Default)]
pub struct StatsModel {
    entries: Vec<(String, String)>,
    bytes: usize,
}

impl StatsModel {
    pub fn reply(&mut self, reply: &Response<'_>) -> Expect<Option<Vec<(String, String)>>> {
        match reply.status {
            Status::Ok => {}
            Status::KeyNotFound if self.entries.is_empty() => return Expect::Done(Ok(None)),
            status => return Expect::Done(Err(status_error(status, reply.value))),
        }
        if reply.key.is_empty() {
            let all = std::mem::take(&mut self.entries);
            assert!(all.len() <= MAX_STATS_ENTRIES);
            assert!(self.bytes <= MAX_STATS_BYTES);
            return Expect::Done(Ok(Some(all)));
        }
        self.bytes += reply.key.len() + reply.value.len();
        if self.bytes > MAX_STATS_BYTES {
            return Expect::Violation(Some(ProtocolError::StatsTooLarge {
                what: "bytes",
                limit: MAX_STATS_BYTES,
            }));
        }
        if self.entries.len() == MAX_STATS_ENTRIES {
            return Expect::Violation(Some(ProtocolError::StatsTooLarge {
                what: "entries",
                limit: MAX_STATS_ENTRIES,
            }));
        }
        self.entries.push((lossy(reply.key), lossy(reply.value)));
        Expect::More
    }
}
