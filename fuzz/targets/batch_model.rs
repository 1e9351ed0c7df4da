//! The independent model the `batch_machine` target checks
//! [`Batch`](quickmc::command::Batch) against, written from its
//! documentation: what each item's request is, where windows close, which
//! replies a batch may accept and what each one means for its key.

use std::collections::VecDeque;

use quickmc::command::{BatchOp, CounterOp, StoreMode, ValueSource, status_error};
use quickmc::protocol::{
    Decoded, Extras, MAX_KEY_LEN, NO_CREATE, Opcode, Request, Response, Status, decode_request,
};
use quickmc::value::Item;
use quickmc::{Error, KeyError};

/// A window closes after so many requests, or once its requests take so
/// many bytes: (requests, bytes) of `Windows::SHARED` and `Windows::OWN`
/// (the command layer's documented bounds; its fields are private).
pub const SHARED_WINDOWS: (usize, usize) = (1024, 128 * 1024);
pub const OWN_WINDOWS: (usize, usize) = (16 * 1024, 1024 * 1024);

/// Values of a store batch: item `i` is `sizes[i % n]` bytes of a pattern
/// starting at `i % 251`, with flags `flags ^ i`, unless bit `i % 64` of
/// `fail_mask` says it cannot be serialized.
#[derive(Debug, Clone)]
pub struct Values {
    pub fail_mask: u64,
    pub sizes: Vec<usize>,
    pub flags: u32,
    pattern: Vec<u8>,
}

impl Values {
    /// Values of the given sizes, each at most `cap` bytes.
    pub fn new(fail_mask: u64, sizes: Vec<usize>, flags: u32, cap: usize) -> Values {
        let sizes: Vec<usize> = sizes.into_iter().map(|s| s.min(cap)).collect();
        let longest = sizes.iter().copied().max().unwrap_or(0);
        let pattern = (0..longest + 251).map(|j| (j * 7 + 1) as u8).collect();
        Values {
            fail_mask,
            sizes,
            flags,
            pattern,
        }
    }

    /// Item `item`'s stored form, or `None` if it fails.
    pub fn get(&self, item: usize) -> Option<(&[u8], u32)> {
        if self.fail_mask >> (item % 64) & 1 != 0 {
            return None;
        }
        let size = match self.sizes.len() {
            0 => 0,
            n => self.sizes[item % n],
        };
        let start = item % 251;
        Some((&self.pattern[start..start + size], self.flags ^ item as u32))
    }

    /// The error a failing item's value gives.
    pub fn error(item: usize) -> Error {
        Error::Serialize(format!("item {item} cannot be serialized"))
    }
}

impl ValueSource for Values {
    fn value(&self, item: usize) -> Result<Item<'_>, Error> {
        match self.get(item) {
            Some((bytes, flags)) => Ok(Item::new(bytes, flags)),
            None => Err(Values::error(item)),
        }
    }
}

/// What an event must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Hit {
        flags: u32,
        cas: u64,
        value: Vec<u8>,
    },
    /// A failure, by its `Debug` form.
    Failed(String),
}

/// A window in flight, as the model sees it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub first: u32,
    /// Position of its first item in the item list.
    pub start: usize,
    pub len: usize,
    /// Bytes of its item requests.
    pub bytes: usize,
    /// Offset of the first request not answered or passed over.
    pub next: usize,
    /// Whether its Noop was sent (an own-connection window may be cut
    /// between transmits, open until then).
    pub closed: bool,
}

impl Window {
    pub fn noop(&self) -> u32 {
        self.first.wrapping_add(self.len as u32)
    }

    pub fn opaque(&self, offset: usize) -> u32 {
        self.first.wrapping_add(offset as u32)
    }
}

/// The model of one batch.
pub struct Model<'a> {
    pub op: BatchOp,
    pub keys: &'a [Vec<u8>],
    pub items: &'a [u32],
    pub values: Option<&'a Values>,
    /// Position of the next item to encode.
    pub pos: usize,
    pub windows: VecDeque<Window>,
    pub transmitted: bool,
    /// Items before this position are answered or passed over.
    pub answered: usize,
    pub events: Vec<(u32, Outcome)>,
    pub replies: usize,
    /// Windows for a connection of its own (`Windows::OWN`): longer, and
    /// cut where a transmit's budget is reached.
    pub own: bool,
}

impl<'a> Model<'a> {
    pub fn new(
        op: BatchOp,
        keys: &'a [Vec<u8>],
        items: &'a [u32],
        values: Option<&'a Values>,
        own: bool,
    ) -> Model<'a> {
        Model {
            op,
            keys,
            items,
            values,
            pos: 0,
            windows: VecDeque::new(),
            transmitted: false,
            answered: 0,
            events: Vec::new(),
            replies: 0,
            own,
        }
    }

    pub fn key(&self, item: u32) -> &'a [u8] {
        self.keys.get(item as usize).map_or(&[], Vec::as_slice)
    }

    pub fn is_get(&self) -> bool {
        matches!(self.op, BatchOp::Get | BatchOp::GetAndTouch(_))
    }

    pub fn opcode(&self) -> Opcode {
        match self.op {
            BatchOp::Get => Opcode::GetKQ,
            BatchOp::GetAndTouch(_) => Opcode::Gatkq,
            BatchOp::Store { mode, .. } => match mode {
                StoreMode::Set => Opcode::SetQ,
                StoreMode::Add => Opcode::AddQ,
                StoreMode::Replace => Opcode::ReplaceQ,
            },
            BatchOp::Delete => Opcode::DeleteQ,
            BatchOp::Counter { op, .. } => match op {
                CounterOp::Incr => Opcode::IncrementQ,
                CounterOp::Decr => Opcode::DecrementQ,
            },
            BatchOp::Touch(_) => Opcode::Touch,
        }
    }

    /// Why the item at `pos` cannot be sent, if it cannot: its value first
    /// (a store batch asks for it before encoding), then its key.
    pub fn failure(&self, pos: usize) -> Option<Error> {
        let item = self.items[pos];
        if let BatchOp::Store { .. } = self.op {
            match self.values {
                None => return Some(Error::Config("a store batch without values".into())),
                Some(values) if values.get(item as usize).is_none() => {
                    return Some(Values::error(item as usize));
                }
                Some(_) => {}
            }
        }
        let key = self.key(item);
        if key.is_empty() {
            return Some(Error::BadKey(KeyError::Empty));
        }
        if key.len() > MAX_KEY_LEN {
            return Some(Error::BadKey(KeyError::TooLong(key.len())));
        }
        None
    }

    /// The request of the item at `pos` (one that can be sent).
    pub fn request(&self, pos: usize, opaque: u32) -> Request<'a> {
        let item = self.items[pos];
        let (value, flags) = match (self.op, self.values) {
            (BatchOp::Store { .. }, Some(values)) => values.get(item as usize).unwrap_or_default(),
            _ => (&[][..], 0),
        };
        let extras = match self.op {
            BatchOp::Get | BatchOp::Delete => Extras::None,
            BatchOp::GetAndTouch(expiration) | BatchOp::Touch(expiration) => {
                Extras::Expiration(expiration)
            }
            BatchOp::Store { expiration, .. } => Extras::Store { flags, expiration },
            BatchOp::Counter { delta, .. } => Extras::Counter {
                delta,
                initial: 0,
                expiration: NO_CREATE,
            },
        };
        Request::new(self.opcode(), self.key(item))
            .extras(extras)
            .value(value)
            .opaque(opaque)
    }

    /// Checks what one `transmit(next, out, budget)` wrote (`wire`, after
    /// `before` bytes already in `out`) and advances the model: each window
    /// is closed by a Noop exactly when it is full or the items run out;
    /// opaques run on from `next` (an item that cannot be sent takes its
    /// opaque and is reported). Shared windows are whole, and none starts
    /// once `out` holds `budget` bytes; an own window stops there too, and
    /// the next transmit goes on with it (its opaques run on from its own,
    /// whatever `next` is then). Returns the opaque the connection must
    /// hand out next.
    pub fn transmit(&mut self, next: u32, before: usize, wire: &[u8], budget: usize) -> u32 {
        let mut requests = Vec::new();
        let mut rest = wire;
        while !rest.is_empty() {
            match decode_request(rest, u32::MAX) {
                Ok(Decoded::Complete { frame, len }) => {
                    requests.push((frame, len));
                    rest = &rest[len..];
                }
                other => panic!("the batch wrote bytes that are not requests: {other:?}"),
            }
        }
        let (max_requests, max_bytes) = if self.own {
            OWN_WINDOWS
        } else {
            SHARED_WINDOWS
        };
        let mut written = before;
        let mut next = next;
        let mut sent = requests.into_iter();
        let mut open = self.windows.back().is_some_and(|w| !w.closed);
        if self.pos == self.items.len() && !self.transmitted && written < budget && !open {
            // Nothing to send at all.
            assert!(self.items.is_empty());
            self.transmitted = true;
        }
        while !self.transmitted && (written < budget || open) {
            let mut w = match self.windows.back() {
                Some(&w) if !w.closed => {
                    self.windows.pop_back();
                    w
                }
                _ => Window {
                    first: next,
                    start: self.pos,
                    len: 0,
                    bytes: 0,
                    next: 0,
                    closed: false,
                },
            };
            // The length of the last request this call added to it.
            let mut last = None;
            loop {
                if self.own && written >= budget {
                    break;
                }
                let full = w.len >= max_requests || w.bytes >= max_bytes;
                if full || self.pos == self.items.len() {
                    let (noop, len) = sent.next().expect("a window without its Noop");
                    assert_eq!(noop, Request::new(Opcode::Noop, b"").opaque(w.noop()));
                    written += len;
                    w.closed = true;
                    break;
                }
                let pos = self.pos;
                self.pos += 1;
                let opaque = w.opaque(w.len);
                w.len += 1;
                if let Some(error) = self.failure(pos) {
                    self.events
                        .push((self.items[pos], Outcome::Failed(format!("{error:?}"))));
                    continue;
                }
                let (request, len) = sent.next().expect("a window closed early");
                assert_eq!(request, self.request(pos, opaque), "request {pos}");
                w.bytes += len;
                written += len;
                last = Some(len);
            }
            assert!(w.len <= max_requests);
            if let Some(len) = last {
                assert!(
                    w.bytes - len < max_bytes,
                    "a full window took another request"
                );
            }
            open = !w.closed;
            next = if w.closed {
                w.noop().wrapping_add(1)
            } else {
                w.noop()
            };
            self.transmitted = w.closed && self.pos == self.items.len();
            self.windows.push_back(w);
            if open {
                break;
            }
        }
        assert!(sent.next().is_none(), "more requests than the model sends");
        next
    }

    /// Whether the batch must accept `frame`; if so the model takes it.
    pub fn receive(&mut self, frame: &Response<'_>) -> bool {
        let Some(&w) = self.windows.front() else {
            return false;
        };
        if w.closed && frame.opcode == Opcode::Noop && frame.opaque == w.noop() {
            if frame.status != Status::Ok {
                return false;
            }
            self.windows.pop_front();
            self.answered = w.start + w.len;
            self.replies += 1;
            return true;
        }
        let Some(offset) = self.answerable(&w, frame.opaque) else {
            return false;
        };
        if frame.opcode != self.opcode() {
            return false;
        }
        let item = self.items[w.start + offset];
        let ok = frame.status == Status::Ok;
        if self.is_get() && ok && frame.key != self.key(item) {
            return false;
        }
        let outcome = match frame.status {
            Status::Ok if self.is_get() => {
                let Some(flags) = frame.extras.get(..4) else {
                    return false;
                };
                Some(Outcome::Hit {
                    flags: u32::from_be_bytes([flags[0], flags[1], flags[2], flags[3]]),
                    cas: frame.cas,
                    value: frame.value.to_vec(),
                })
            }
            Status::Ok => None,
            status => Some(Outcome::Failed(format!(
                "{:?}",
                status_error(status, frame.value)
            ))),
        };
        if let Some(outcome) = outcome {
            self.events.push((item, outcome));
        }
        self.take(offset);
        true
    }

    /// Whether the batch must accept an oversized reply to `opaque`.
    pub fn receive_oversized(&mut self, opaque: u32, size: u32, limit: u32) -> bool {
        let Some(&w) = self.windows.front() else {
            return false;
        };
        if !self.is_get() {
            return false;
        }
        let Some(offset) = self.answerable(&w, opaque) else {
            return false;
        };
        let item = self.items[w.start + offset];
        let error = Error::ValueTooLarge {
            key: String::from_utf8_lossy(self.key(item)).into_owned(),
            size: u64::from(size),
            limit: u64::from(limit),
        };
        self.events
            .push((item, Outcome::Failed(format!("{error:?}"))));
        self.take(offset);
        true
    }

    /// The offset in `w` of a request that was sent and may still be
    /// answered (after the last one answered).
    fn answerable(&self, w: &Window, opaque: u32) -> Option<usize> {
        let offset = opaque.wrapping_sub(w.first) as usize;
        let sent = offset < w.len && self.failure(w.start + offset).is_none();
        (sent && offset >= w.next).then_some(offset)
    }

    fn take(&mut self, offset: usize) {
        if let Some(w) = self.windows.front_mut() {
            w.next = offset + 1;
            self.answered = w.start + w.next;
        }
        self.replies += 1;
    }

    /// The items not answered or passed over, in order.
    pub fn unsettled(&self) -> &'a [u32] {
        &self.items[self.answered..]
    }

    pub fn is_complete(&self) -> bool {
        self.transmitted && self.windows.is_empty()
    }
}
