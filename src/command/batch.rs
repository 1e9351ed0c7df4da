//! The batch state machine: a multi-key operation's requests for one
//! server, in windows closed by a Noop, and the per-key events its replies mean.

use std::collections::VecDeque;

use super::KeyTable;
use super::single::{CounterOp, StoreMode, counter_extras};
use super::{Exchange, Idempotence, ReplyShape, status_error};
use crate::protocol::{BatchError, Extras, Opcode, Request, Response, Status};
use crate::value::Item;
use crate::{Error, ProtocolError};

/// How large a batch's windows grow — a window closes (with its Noop)
/// after so many requests, or once its requests take so many bytes — and
/// whether each is encoded whole.
///
/// ```
/// use quickmc::command::{Batch, BatchOp, KeyTable, Windows};
/// let keys = KeyTable::default();
/// let batch = Batch::new(BatchOp::Delete, &keys, &[], None).windows(Windows::OWN);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    requests: usize,
    bytes: usize,
    /// Encoded whole (contiguous on the wire), or cut where a write ends.
    whole: bool,
}

impl Windows {
    /// On a connection others share: a window holds their requests back
    /// while it is on the wire, so it stays short.
    ///
    /// ```
    /// assert_ne!(quickmc::command::Windows::SHARED, quickmc::command::Windows::OWN);
    /// ```
    pub const SHARED: Windows = Windows {
        requests: 1024,
        bytes: 128 * 1024,
        whole: true,
    };

    /// On a connection of its own: nobody waits behind a window, and each
    /// window's Noop reply costs a wake-up while requests are still being
    /// written, so windows are longer; and a window may be cut between
    /// writes (the server starts on it while the rest is encoded).
    ///
    /// ```
    /// let own = quickmc::command::Windows::OWN;
    /// ```
    pub const OWN: Windows = Windows {
        requests: 16 * 1024,
        bytes: 1024 * 1024,
        whole: false,
    };
}

/// What a batch does to each of its keys.
///
/// ```
/// use quickmc::command::{BatchOp, Idempotence};
/// assert_eq!(BatchOp::Get.idempotence(), Idempotence::Repeatable);
/// assert_eq!(BatchOp::Delete.idempotence(), Idempotence::Repeatable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOp {
    /// GetKQ: hits answer, misses do not.
    Get,
    /// GATKQ: get and set a new expiration; hits answer.
    GetAndTouch(u32),
    /// SetQ/AddQ/ReplaceQ with an expiration: failures answer.
    Store {
        /// Which store.
        mode: StoreMode,
        /// The expiration every item gets.
        expiration: u32,
    },
    /// DeleteQ: failures (missing keys) answer.
    Delete,
    /// IncrementQ/DecrementQ, never creating a key: failures answer.
    Counter {
        /// Which way.
        op: CounterOp,
        /// By how much.
        delta: u64,
    },
    /// Touch (there is no quiet form): every key answers.
    Touch(u32),
}

impl BatchOp {
    /// The opcode of every request in the batch.
    ///
    /// ```
    /// use quickmc::command::BatchOp;
    /// assert_eq!(BatchOp::Get.opcode(), quickmc::protocol::Opcode::GetKQ);
    /// ```
    pub fn opcode(self) -> Opcode {
        match self {
            BatchOp::Get => Opcode::GetKQ,
            BatchOp::GetAndTouch(_) => Opcode::Gatkq,
            BatchOp::Store { mode, .. } => mode.opcode(true),
            BatchOp::Delete => Opcode::DeleteQ,
            BatchOp::Counter { op, .. } => op.opcode(true),
            BatchOp::Touch(_) => Opcode::Touch,
        }
    }

    /// Whether the batch may be sent again after a pooled connection died.
    ///
    /// ```
    /// use quickmc::command::{BatchOp, CounterOp, Idempotence};
    /// let incr = BatchOp::Counter { op: CounterOp::Incr, delta: 1 };
    /// assert_eq!(incr.idempotence(), Idempotence::Once);
    /// ```
    pub fn idempotence(self) -> Idempotence {
        match self {
            BatchOp::Get | BatchOp::GetAndTouch(_) | BatchOp::Delete | BatchOp::Touch(_) => {
                Idempotence::Repeatable
            }
            BatchOp::Store { mode, .. } => mode.idempotence(),
            BatchOp::Counter { .. } => Idempotence::Once,
        }
    }

    /// Whether the batch stores values (and needs a [`ValueSource`]).
    ///
    /// ```
    /// assert!(!quickmc::command::BatchOp::Get.stores_values());
    /// ```
    pub fn stores_values(self) -> bool {
        matches!(self, BatchOp::Store { .. })
    }

    /// The extras of a request carrying a value with `flags` (0 for none).
    fn extras(self, flags: u32) -> Extras {
        match self {
            BatchOp::Get | BatchOp::Delete => Extras::None,
            BatchOp::GetAndTouch(expiration) | BatchOp::Touch(expiration) => {
                Extras::Expiration(expiration)
            }
            BatchOp::Store { expiration, .. } => Extras::Store { flags, expiration },
            BatchOp::Counter { delta, .. } => counter_extras(delta),
        }
    }
}

/// Where a store batch takes each value's stored form from, as its request
/// is encoded (so a batch never holds every value's encoding at once).
///
/// ```
/// use quickmc::command::ValueSource;
/// use quickmc::value::{Item, ToValue};
/// struct Texts(Vec<String>);
/// impl ValueSource for Texts {
///     fn value(&self, item: usize) -> quickmc::Result<Item<'_>> {
///         self.0.get(item).ok_or(quickmc::Error::NotFound)?.to_item()
///     }
/// }
/// ```
pub trait ValueSource: Sync {
    /// The stored form (bytes and flags) of item `item`'s value. An error
    /// leaves that item out of the batch, reported as a [`KeyEvent`].
    fn value(&self, item: usize) -> Result<Item<'_>, Error>;
}

/// What a reply (or an item that could not be sent) says about one key.
///
/// ```
/// use quickmc::command::{KeyEvent, KeyOutcome};
/// let e = KeyEvent { item: 3, outcome: KeyOutcome::Failed(quickmc::Error::NotFound) };
/// assert_eq!(e.item, 3);
/// ```
#[derive(Debug)]
pub struct KeyEvent {
    /// The item (an index into the batch's [`KeyTable`]).
    pub item: u32,
    /// What happened to it.
    pub outcome: KeyOutcome,
}

/// A key's outcome. Keys without an event succeeded (or, for gets, missed).
///
/// ```
/// use quickmc::command::KeyOutcome;
/// let o = KeyOutcome::Failed(quickmc::Error::NotStored);
/// assert!(matches!(o, KeyOutcome::Failed(_)));
/// ```
#[derive(Debug)]
pub enum KeyOutcome {
    /// A get's hit; its bytes are in the batch's [`HitValues`].
    Hit {
        /// The item's flags.
        flags: u32,
        /// The item's CAS id.
        cas: u64,
        /// Where its bytes are.
        value: ValueRef,
    },
    /// The key was not applied (or could not be sent), and why.
    Failed(Error),
}

/// A hit's bytes: a value of its own, carried whole, or where it is in
/// the batch's [`HitValues`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueRef(Place);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// An allocation of its own.
    Alone(Vec<u8>),
    /// Within a shared chunk.
    Shared { chunk: u32, start: u32, end: u32 },
}

/// The first shared chunk's size; each next one is twice the last, up to
/// [`VALUE_CHUNK`] (a small batch never pays for a large allocation).
const FIRST_CHUNK: usize = 4 * 1024;

/// Shared chunks grow no larger than this.
const VALUE_CHUNK: usize = 256 * 1024;

/// Values this large or larger get an allocation of their own, handed out
/// whole: reading them as bytes or text then copies nothing more (the
/// allocation is one the result needs anyway, and it costs less than a
/// second copy).
const VALUE_ALONE: usize = 64;

/// Room made for a get batch's hits up front (more grow as they come).
const EXPECTED_HITS: usize = 4096;

/// The bytes of a batch's hits: small ones back to back in shared chunks
/// (no allocation per hit: numbers and short strings decode without one);
/// others each in an allocation of its own, which its [`ValueRef`]
/// carries. The reader frees each shared chunk once it has read past it,
/// and takes the others over, so reading the values into their final
/// types never holds much more than the result.
///
/// ```
/// use quickmc::command::HitValues;
/// let mut values = HitValues::default();
/// let a = values.push(b"first");
/// let b = values.push(b"second");
/// assert_eq!(&*values.take(a), b"first");
/// assert_eq!(&*values.take(b), b"second");
/// ```
#[derive(Debug, Default)]
pub struct HitValues {
    chunks: Vec<Vec<u8>>,
    /// Shared chunks before this one were read and freed.
    released: usize,
}

impl HitValues {
    /// Stores a value's bytes.
    ///
    /// ```
    /// let mut values = quickmc::command::HitValues::default();
    /// let r = values.push(b"v");
    /// ```
    pub fn push(&mut self, bytes: &[u8]) -> ValueRef {
        if bytes.len() >= VALUE_ALONE {
            return ValueRef(Place::Alone(bytes.to_vec()));
        }
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= bytes.len());
        if !fits {
            let last = self.chunks.last().map_or(0, Vec::capacity);
            let capacity = (last * 2).clamp(FIRST_CHUNK, VALUE_CHUNK);
            self.chunks.push(Vec::with_capacity(capacity));
        }
        let chunk = index(self.chunks.len() - 1);
        let Some(last) = self.chunks.last_mut() else {
            return ValueRef(Place::Alone(bytes.to_vec()));
        };
        let start = index(last.len());
        last.extend_from_slice(bytes);
        ValueRef(Place::Shared {
            chunk,
            start,
            end: index(last.len()),
        })
    }

    /// A value's bytes: one of its own is handed over whole; one in a
    /// shared chunk is lent, and the shared chunks before its own are freed
    /// (read values in the order they were pushed).
    ///
    /// ```
    /// let mut values = quickmc::command::HitValues::default();
    /// let big = values.push(&vec![7u8; 1 << 20]);
    /// assert!(matches!(values.take(big), std::borrow::Cow::Owned(_)));
    /// ```
    pub fn take(&mut self, value: ValueRef) -> std::borrow::Cow<'_, [u8]> {
        use std::borrow::Cow;
        match value.0 {
            Place::Alone(bytes) => Cow::Owned(bytes),
            Place::Shared { chunk, start, end } => {
                let chunk = chunk as usize;
                for read in self.chunks.iter_mut().take(chunk).skip(self.released) {
                    *read = Vec::new();
                }
                self.released = self.released.max(chunk);
                let bytes = self
                    .chunks
                    .get(chunk)
                    .and_then(|c| c.get(start as usize..end as usize));
                Cow::Borrowed(bytes.unwrap_or_default())
            }
        }
    }
}

/// A position within a batch's values as stored (a batch's keys number
/// under 4 Gi, and a shared chunk holds at most 256 KiB).
fn index(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// Requests sent together and closed by a Noop; replies to them arrive in order.
#[derive(Debug, Clone, Copy)]
struct Window {
    first_opaque: u32,
    /// Position of the window's first item in the batch's item list.
    start: usize,
    len: usize,
    bytes: usize,
    /// Offset of the first request not yet answered or passed over.
    next: usize,
    /// Whether its Noop was encoded (until then, more requests may join).
    closed: bool,
}

impl Window {
    fn noop_opaque(&self) -> u32 {
        self.first_opaque.wrapping_add(self.len as u32)
    }

    fn is_full(&self, limits: Windows) -> bool {
        self.len >= limits.requests || self.bytes >= limits.bytes
    }

    /// The offset of the request `opaque` answers, checked for order.
    fn offset_of(&self, opaque: u32) -> Result<usize, BatchError> {
        let offset = opaque.wrapping_sub(self.first_opaque) as usize;
        if offset >= self.len {
            return Err(BatchError::UnknownOpaque(opaque));
        }
        if offset < self.next {
            return Err(BatchError::OutOfOrder(opaque));
        }
        Ok(offset)
    }
}

/// One server's share of a multi-key operation, as a sans-I/O state
/// machine: [`transmit`](Exchange::transmit) encodes requests a window at a
/// time (each closed by a Noop, bounded in requests and bytes),
/// [`receive`](Exchange::receive) matches replies by opaque (and by key,
/// where the reply echoes it) and records per-key [`KeyEvent`]s, and the
/// batch is complete when the last window's Noop comes back.
///
/// Quiet rules: a quiet request that succeeds (or, for a get, misses) is not
/// answered; every unanswered request before a later reply or its window's
/// Noop did just that. A reply that breaks request order, repeats, names a
/// request never sent, has the wrong opcode or echoes the wrong key is a
/// [`ProtocolError`].
///
/// ```
/// use quickmc::command::{Batch, BatchOp, Exchange, KeyOutcome, KeyTable};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut keys = KeyTable::default();
/// keys.push(b"", b"a");
/// keys.push(b"", b"b");
/// let items = [0, 1];
/// let mut batch = Batch::new(BatchOp::Get, &keys, &items, None);
/// let (mut opaque, mut wire) = (100, Vec::new());
/// batch.transmit(&mut opaque, &mut wire, 1 << 16);
/// assert!(batch.is_transmitted());
/// assert_eq!(opaque, 103); // two GetKQ and a Noop
/// let hit = Response::new(Opcode::GetKQ, Status::Ok).opaque(101).key(b"b").extras(&[0, 0, 0, 0]).value(b"B");
/// batch.receive(&hit)?;
/// batch.receive(&Response::new(Opcode::Noop, Status::Ok).opaque(102))?;
/// assert!(batch.is_complete());
/// let (events, mut values) = batch.into_events();
/// let [event] = &events[..] else { panic!() };
/// let KeyOutcome::Hit { value, .. } = &event.outcome else { panic!() };
/// assert_eq!((event.item, &*values.take(value.clone())), (1, &b"B"[..]));
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
pub struct Batch<'a> {
    op: BatchOp,
    /// The opcode of its requests (`op.opcode()`, looked up once).
    opcode: Opcode,
    keys: &'a KeyTable,
    items: &'a [u32],
    source: Option<&'a dyn ValueSource>,
    /// Position in `items` of the next request to encode.
    next: usize,
    in_flight: VecDeque<Window>,
    transmitted: bool,
    /// Items before this position are settled (their windows are complete).
    settled: usize,
    /// Positions in `items` of the items that could not be encoded, in
    /// order: their opaques were taken but never sent, so nothing answers them.
    unsent: Vec<usize>,
    events: Vec<KeyEvent>,
    values: HitValues,
    replies: usize,
    windows: Windows,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("op", &self.op)
            .field("items", &self.items.len())
            .field("next", &self.next)
            .field("windows_in_flight", &self.in_flight.len())
            .field("replies", &self.replies)
            .finish_non_exhaustive()
    }
}

impl<'a> Batch<'a> {
    /// A batch doing `op` to `items` (indices into `keys`), in that order.
    /// Store batches take each value from `values`.
    ///
    /// ```
    /// use quickmc::command::{Batch, BatchOp, KeyTable};
    /// let keys = KeyTable::default();
    /// let batch = Batch::new(BatchOp::Delete, &keys, &[], None);
    /// ```
    pub fn new(
        op: BatchOp,
        keys: &'a KeyTable,
        items: &'a [u32],
        source: Option<&'a dyn ValueSource>,
    ) -> Batch<'a> {
        // Gets expect a hit per key in a warm cache; other batches an event
        // only for a key that failed.
        let hits = if matches!(op, BatchOp::Get | BatchOp::GetAndTouch(_)) {
            items.len().min(EXPECTED_HITS)
        } else {
            0
        };
        Batch {
            op,
            opcode: op.opcode(),
            keys,
            items,
            source,
            next: 0,
            in_flight: VecDeque::new(),
            transmitted: false,
            settled: 0,
            unsent: Vec::new(),
            events: Vec::with_capacity(hits),
            values: HitValues::default(),
            replies: 0,
            windows: Windows::SHARED,
        }
    }

    /// Sets how large its windows grow ([`Windows::SHARED`] unless set).
    ///
    /// ```
    /// use quickmc::command::{Batch, BatchOp, KeyTable, Windows};
    /// let keys = KeyTable::default();
    /// let batch = Batch::new(BatchOp::Delete, &keys, &[], None).windows(Windows::OWN);
    /// ```
    pub fn windows(mut self, windows: Windows) -> Batch<'a> {
        self.windows = windows;
        self
    }

    /// The per-key events recorded (hits and failures, in the order the
    /// replies came) and the hits' bytes.
    ///
    /// ```
    /// # use quickmc::command::{Batch, BatchOp, KeyTable};
    /// # let keys = KeyTable::default();
    /// let batch = Batch::new(BatchOp::Get, &keys, &[], None);
    /// let (events, _values) = batch.into_events();
    /// assert!(events.is_empty());
    /// ```
    pub fn into_events(self) -> (Vec<KeyEvent>, HitValues) {
        (self.events, self.values)
    }

    /// The items whose outcome is not known yet (not answered and not
    /// passed over), in order: what a retry on another connection must send.
    ///
    /// ```
    /// # use quickmc::command::{Batch, BatchOp, KeyTable};
    /// # let keys = KeyTable::default();
    /// let items = [4, 7];
    /// let batch = Batch::new(BatchOp::Get, &keys, &items, None);
    /// assert_eq!(batch.unsettled(), &[4, 7]);
    /// ```
    pub fn unsettled(&self) -> &'a [u32] {
        let from = match self.in_flight.front() {
            Some(window) => window.start + window.next,
            None => self.settled,
        };
        self.items.get(from..).unwrap_or_default()
    }

    fn encode_item(&mut self, item: u32, opaque: u32, out: &mut Vec<u8>) -> Result<(), Error> {
        let key = self.keys.key(item as usize);
        let stored;
        let (value, flags) = match (self.op.stores_values(), self.source) {
            (false, _) => (&[][..], 0),
            (true, Some(source)) => {
                stored = source.value(item as usize)?;
                (&*stored.data, stored.flags)
            }
            (true, None) => return Err(Error::Config("a store batch without values".into())),
        };
        // The operation fixes the opcode and the extras' shape, and only
        // stores carry a value, so only the key needs checking.
        Request::new(self.opcode, key)
            .extras(self.op.extras(flags))
            .value(value)
            .opaque(opaque)
            .encode_keyed(out)?;
        Ok(())
    }

    fn fail(&mut self, item: u32, error: Error) {
        self.events.push(KeyEvent {
            item,
            outcome: KeyOutcome::Failed(error),
        });
    }

    /// The offset in `window` of the request `opaque` answers: one that was
    /// sent and is not answered or passed over yet.
    fn sent_offset(&self, window: &Window, opaque: u32) -> Result<usize, BatchError> {
        let offset = window.offset_of(opaque)?;
        if self.unsent.binary_search(&(window.start + offset)).is_ok() {
            return Err(BatchError::UnknownOpaque(opaque));
        }
        Ok(offset)
    }

    fn fetches_values(&self) -> bool {
        matches!(self.op, BatchOp::Get | BatchOp::GetAndTouch(_))
    }

    /// Records what a reply to `item` means, unless it is a plain success.
    fn record(&mut self, item: u32, frame: &Response<'_>) -> Result<(), ProtocolError> {
        let outcome = match frame.status {
            Status::Ok if self.fetches_values() => {
                let flags = frame
                    .flags()
                    .ok_or(ProtocolError::Unexpected("a hit without flags"))?;
                KeyOutcome::Hit {
                    flags,
                    cas: frame.cas,
                    value: self.values.push(frame.value),
                }
            }
            Status::Ok => return Ok(()),
            status => KeyOutcome::Failed(status_error(status, frame.value)),
        };
        self.events.push(KeyEvent { item, outcome });
        Ok(())
    }
}

impl Exchange for Batch<'_> {
    fn transmit(&mut self, next_opaque: &mut u32, out: &mut Vec<u8>, budget: usize) {
        // The window being encoded is the last in flight, open until its
        // Noop is. On a shared connection it is encoded whole, so it is
        // contiguous on the wire even when another exchange's requests
        // follow it; on a connection of its own it may stop at the budget
        // and go on at the next call (the server starts on it meanwhile).
        let cut = !self.windows.whole;
        while !self.transmitted {
            let open = self.in_flight.back().is_some_and(|w| !w.closed);
            if out.len() >= budget && (cut || !open) {
                break;
            }
            if !open {
                if self.next >= self.items.len() {
                    // Nothing (more) to send.
                    self.transmitted = true;
                    break;
                }
                self.in_flight.push_back(Window {
                    first_opaque: *next_opaque,
                    start: self.next,
                    len: 0,
                    bytes: 0,
                    next: 0,
                    closed: false,
                });
            }
            let Some(mut window) = self.in_flight.pop_back() else {
                break;
            };
            let stops = |out: &Vec<u8>| cut && out.len() >= budget;
            while !window.is_full(self.windows) && !stops(out) {
                let Some(&item) = self.items.get(self.next) else {
                    break;
                };
                let opaque = window.first_opaque.wrapping_add(window.len as u32);
                window.len += 1;
                self.next += 1;
                let before = out.len();
                // An item that cannot be encoded is left out (nothing
                // written, so no reply comes for its opaque) and reported.
                if let Err(error) = self.encode_item(item, opaque, out) {
                    self.unsent.push(self.next - 1);
                    self.fail(item, error);
                }
                window.bytes += out.len() - before;
            }
            let end = self.next >= self.items.len();
            if (end || window.is_full(self.windows)) && !stops(out) {
                let noop = window.noop_opaque();
                let encoded = Request::new(Opcode::Noop, b"").opaque(noop).encode(out);
                debug_assert!(encoded.is_ok(), "a Noop always encodes");
                *next_opaque = noop.wrapping_add(1);
                window.closed = true;
                self.transmitted = end;
            }
            self.in_flight.push_back(window);
        }
        // Stopped inside a window: the connection's opaques go on after
        // the requests sent so far.
        if let Some(window) = self.in_flight.back().filter(|w| !w.closed) {
            *next_opaque = window.noop_opaque();
        }
    }

    fn is_transmitted(&self) -> bool {
        self.transmitted
    }

    fn whole_segments(&mut self) {
        self.windows.whole = true;
    }

    fn receive(&mut self, frame: &Response<'_>) -> Result<(), ProtocolError> {
        let Some(window) = self.in_flight.front() else {
            return Err(BatchError::AfterEnd.into());
        };
        if window.closed && frame.opcode == Opcode::Noop && frame.opaque == window.noop_opaque() {
            if frame.status != Status::Ok {
                return Err(BatchError::NoopFailed(frame.status).into());
            }
            self.replies += 1;
            self.settled = window.start + window.len;
            self.in_flight.pop_front();
            return Ok(());
        }
        let offset = self.sent_offset(window, frame.opaque)?;
        let item = self
            .items
            .get(window.start + offset)
            .copied()
            .ok_or(BatchError::UnknownOpaque(frame.opaque))?;
        let expected = self.opcode;
        if frame.opcode != expected {
            return Err(BatchError::UnexpectedOpcode {
                expected,
                got: frame.opcode,
            }
            .into());
        }
        if expected.echoes_key()
            && frame.status == Status::Ok
            && frame.key != self.keys.key(item as usize)
        {
            return Err(BatchError::KeyMismatch.into());
        }
        self.record(item, frame)?;
        if let Some(front) = self.in_flight.front_mut() {
            front.next = offset + 1;
        }
        self.replies += 1;
        Ok(())
    }

    fn receive_oversized(
        &mut self,
        opaque: u32,
        size: u32,
        limit: u32,
    ) -> Result<Option<Error>, ProtocolError> {
        if !self.fetches_values() {
            return Err(ProtocolError::Unexpected(
                "a value in a reply that carries none",
            ));
        }
        let Some(window) = self.in_flight.front().copied() else {
            return Err(BatchError::AfterEnd.into());
        };
        let offset = self.sent_offset(&window, opaque)?;
        if let Some(front) = self.in_flight.front_mut() {
            front.next = offset + 1;
        }
        let item = self
            .items
            .get(window.start + offset)
            .copied()
            .ok_or(BatchError::UnknownOpaque(opaque))?;
        self.replies += 1;
        let error = Error::ValueTooLarge {
            key: String::from_utf8_lossy(self.keys.key(item as usize)).into_owned(),
            size: u64::from(size),
            limit: u64::from(limit),
        };
        self.fail(item, error.clone());
        Ok(Some(error))
    }

    fn is_complete(&self) -> bool {
        self.transmitted && self.in_flight.is_empty()
    }

    fn reply_shape(&self) -> ReplyShape {
        ReplyShape::NoopClosed
    }

    fn received(&mut self) -> Option<(std::vec::Drain<'_, KeyEvent>, &mut HitValues)> {
        Some((self.events.drain(..), &mut self.values))
    }

    fn replies(&self) -> usize {
        self.replies
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Decoded, decode_request};

    fn table(n: usize) -> KeyTable {
        let mut keys = KeyTable::default();
        for i in 0..n {
            keys.push(b"p:", format!("k{i}").as_bytes());
        }
        keys
    }

    /// Every request in `wire`, as (opcode, opaque).
    fn requests(wire: &[u8]) -> Vec<(Opcode, u32)> {
        let mut out = Vec::new();
        let mut rest = wire;
        while let Ok(Decoded::Complete { frame, len }) = decode_request(rest, u32::MAX) {
            out.push((frame.opcode, frame.opaque));
            rest = &rest[len..];
        }
        assert!(rest.is_empty());
        out
    }

    fn noop(opaque: u32) -> Response<'static> {
        Response::new(Opcode::Noop, Status::Ok).opaque(opaque)
    }

    #[test]
    fn thousands_of_requests_go_out_in_windows_each_closed_by_a_noop() {
        let keys = table(2500);
        let items: Vec<u32> = (0..2500).collect();
        let mut batch = Batch::new(BatchOp::Delete, &keys, &items, None);
        let (mut opaque, mut wire) = (0u32, Vec::new());
        batch.transmit(&mut opaque, &mut wire, usize::MAX);
        let sent = requests(&wire);
        let noops: Vec<usize> = sent
            .iter()
            .enumerate()
            .filter(|(_, (op, _))| *op == Opcode::Noop)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(noops, vec![1024, 2049, 2502]);
        // Opaques run on without a gap across windows.
        assert!(sent.iter().enumerate().all(|(i, &(_, o))| o == i as u32));
        for &at in &noops {
            assert!(!batch.is_complete());
            batch.receive(&noop(at as u32)).unwrap();
        }
        assert!(batch.is_complete() && batch.unsettled().is_empty());
    }

    #[test]
    fn a_small_budget_still_encodes_whole_windows() {
        let keys = table(3);
        let items = [0, 1, 2];
        let mut batch = Batch::new(BatchOp::Get, &keys, &items, None);
        let (mut opaque, mut wire) = (0u32, Vec::new());
        batch.transmit(&mut opaque, &mut wire, 1);
        assert_eq!(requests(&wire).len(), 4);
        assert!(batch.is_transmitted());
    }

    #[test]
    fn on_a_connection_of_its_own_a_window_stops_at_the_budget_and_goes_on_where_it_stopped() {
        let keys = table(3);
        let items = [0, 1, 2];
        let mut batch = Batch::new(BatchOp::Delete, &keys, &items, None).windows(Windows::OWN);
        let (mut opaque, mut wire) = (5u32, Vec::new());
        batch.transmit(&mut opaque, &mut wire, 1);
        assert_eq!(
            requests(&wire),
            vec![(Opcode::DeleteQ, 5)],
            "one request, no Noop yet"
        );
        assert_eq!(opaque, 6, "the connection's opaques go on after it");
        // A reply to the first part, before the window's Noop is even encoded.
        let missing = Response::new(Opcode::DeleteQ, Status::KeyNotFound).opaque(5);
        batch.receive(&missing).unwrap();
        assert!(batch.receive(&noop(6)).is_err(), "no Noop was sent");
        let mut more = Vec::new();
        batch.transmit(&mut opaque, &mut more, usize::MAX);
        assert_eq!(
            requests(&more),
            vec![
                (Opcode::DeleteQ, 6),
                (Opcode::DeleteQ, 7),
                (Opcode::Noop, 8)
            ]
        );
        assert_eq!(opaque, 9);
        batch.receive(&noop(8)).unwrap();
        assert!(batch.is_complete() && batch.unsettled().is_empty());
        let (events, _) = batch.into_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].item, 0);
    }

    #[test]
    fn a_multiplexer_gets_whole_windows_from_a_batch_made_for_a_connection_of_its_own() {
        let keys = table(3);
        let items = [0, 1, 2];
        let mut batch = Batch::new(BatchOp::Get, &keys, &items, None).windows(Windows::OWN);
        batch.whole_segments();
        let (mut opaque, mut wire) = (0u32, Vec::new());
        batch.transmit(&mut opaque, &mut wire, 1);
        assert_eq!(requests(&wire).len(), 4);
        assert!(batch.is_transmitted());
    }

    #[test]
    fn quiet_failures_are_events_and_unanswered_keys_succeeded() {
        let keys = table(3);
        let items = [0, 1, 2];
        let mut batch = Batch::new(BatchOp::Delete, &keys, &items, None);
        let mut opaque = 10;
        batch.transmit(&mut opaque, &mut Vec::new(), usize::MAX);
        let missing = Response::new(Opcode::DeleteQ, Status::KeyNotFound).opaque(11);
        batch.receive(&missing).unwrap();
        assert_eq!(batch.unsettled(), &[2]);
        batch.receive(&noop(13)).unwrap();
        let (events, _) = batch.into_events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].item, 1);
        assert!(matches!(
            events[0].outcome,
            KeyOutcome::Failed(Error::NotFound)
        ));
    }

    #[test]
    fn out_of_order_repeated_unknown_and_wrong_key_replies_are_refused() {
        let keys = table(3);
        let items = [0, 1, 2];
        let hit = |opaque, key: &'static [u8]| {
            Response::new(Opcode::GetKQ, Status::Ok)
                .opaque(opaque)
                .key(key)
                .extras(&[0, 0, 0, 0])
        };
        let fresh = || {
            let mut batch = Batch::new(BatchOp::Get, &keys, &items, None);
            batch.transmit(&mut 0, &mut Vec::new(), usize::MAX);
            batch
        };
        let mut batch = fresh();
        batch.receive(&hit(1, b"p:k1")).unwrap();
        assert!(batch.receive(&hit(1, b"p:k1")).is_err());
        assert!(batch.receive(&hit(0, b"p:k0")).is_err());
        assert!(fresh().receive(&hit(9, b"p:k0")).is_err());
        assert!(fresh().receive(&hit(0, b"p:k1")).is_err());
        let wrong_op = Response::new(Opcode::GetK, Status::Ok).opaque(0);
        assert!(fresh().receive(&wrong_op).is_err());
        let mut done = fresh();
        done.receive(&noop(3)).unwrap();
        assert!(done.receive(&noop(3)).is_err());
    }

    #[test]
    fn an_oversized_reply_fails_its_key_and_leaves_the_rest_unsettled() {
        let keys = table(4);
        let items = [3, 2, 1, 0];
        let mut batch = Batch::new(BatchOp::Get, &keys, &items, None);
        batch.transmit(&mut 0, &mut Vec::new(), usize::MAX);
        let error = batch.receive_oversized(1, 5000, 100).unwrap();
        assert!(matches!(
            error,
            Some(Error::ValueTooLarge { size: 5000, .. })
        ));
        assert_eq!(batch.unsettled(), &[1, 0]);
        let (events, _) = batch.into_events();
        assert_eq!(events[0].item, 2);
    }

    #[test]
    fn a_value_that_cannot_be_encoded_is_reported_and_not_sent() {
        struct Source;
        impl ValueSource for Source {
            fn value(&self, item: usize) -> Result<Item<'_>, Error> {
                match item {
                    1 => Err(Error::Serialize("no".into())),
                    _ => Ok(Item::new(&b"v"[..], 0)),
                }
            }
        }
        let keys = table(3);
        let items = [0, 1, 2];
        let store = BatchOp::Store {
            mode: StoreMode::Set,
            expiration: 0,
        };
        let mut batch = Batch::new(store, &keys, &items, Some(&Source));
        let mut wire = Vec::new();
        batch.transmit(&mut 0, &mut wire, usize::MAX);
        let sent = requests(&wire);
        assert_eq!(
            sent,
            vec![(Opcode::SetQ, 0), (Opcode::SetQ, 2), (Opcode::Noop, 3)]
        );
        let (events, _) = batch.into_events();
        assert!(matches!(
            &events[..],
            [KeyEvent {
                item: 1,
                outcome: KeyOutcome::Failed(Error::Serialize(_))
            }]
        ));
    }

    #[test]
    fn a_reply_naming_an_item_that_could_not_be_sent_is_refused() {
        // Item 1's key (index 9) is not in the table: it is empty and cannot
        // be sent, so opaque 1 was never on the wire.
        let keys = table(3);
        let items = [0, 9, 2];
        let fresh = |op| {
            let mut batch = Batch::new(op, &keys, &items, None);
            batch.transmit(&mut 0, &mut Vec::new(), usize::MAX);
            batch
        };
        let mut get = fresh(BatchOp::Get);
        let echo = Response::new(Opcode::GetKQ, Status::Ok)
            .opaque(1)
            .extras(&[0, 0, 0, 0]);
        assert!(get.receive(&echo).is_err());
        assert!(get.receive_oversized(1, 1 << 20, 10).is_err());
        assert_eq!(get.unsettled(), &[0, 9, 2]);
        let mut delete = fresh(BatchOp::Delete);
        let missing = Response::new(Opcode::DeleteQ, Status::KeyNotFound).opaque(1);
        assert!(delete.receive(&missing).is_err());
        let (events, _) = delete.into_events();
        assert!(matches!(
            &events[..],
            [KeyEvent {
                item: 9,
                outcome: KeyOutcome::Failed(Error::BadKey(_))
            }]
        ));
        // The items around it are answered as before.
        let mut get = fresh(BatchOp::Get);
        let hit = Response::new(Opcode::GetKQ, Status::Ok)
            .opaque(2)
            .key(b"p:k2")
            .extras(&[0, 0, 0, 0]);
        get.receive(&hit).unwrap();
        get.receive(&noop(3)).unwrap();
        assert!(get.is_complete());
    }

    #[test]
    fn hit_values_share_chunks_and_are_freed_as_they_are_read() {
        let mut values = HitValues::default();
        let small: Vec<ValueRef> = (0..2000u32)
            .map(|i| values.push(&i.to_be_bytes()))
            .collect();
        let big = values.push(&vec![1u8; VALUE_CHUNK]);
        let after = values.push(b"tail");
        assert_eq!(values.chunks.len(), 2);
        for (i, r) in small.into_iter().enumerate() {
            assert_eq!(&*values.take(r), &(i as u32).to_be_bytes());
        }
        assert!(matches!(values.take(big), std::borrow::Cow::Owned(v) if v.len() == VALUE_CHUNK));
        assert_eq!(&*values.take(after), b"tail");
        assert_eq!(values.chunks[0].capacity(), 0, "read chunks are freed");
    }

    #[test]
    fn shared_chunks_start_small_and_double_whatever_values_come_between() {
        let mut values = HitValues::default();
        for i in 0..10_000u32 {
            values.push(&i.to_be_bytes());
            // Values of their own in between never open a shared chunk.
            values.push(&[7u8; VALUE_ALONE]);
        }
        let sizes: Vec<usize> = values.chunks.iter().map(Vec::capacity).collect();
        assert_eq!(sizes, [4096, 8192, 16384, 32768]);
    }

    #[test]
    fn an_oversized_reply_to_a_batch_that_fetches_no_values_is_a_protocol_violation() {
        let keys = table(1);
        let mut batch = Batch::new(BatchOp::Delete, &keys, &[0], None);
        batch.transmit(&mut 0, &mut Vec::new(), usize::MAX);
        assert!(batch.receive_oversized(0, 1 << 20, 10).is_err());
    }

    #[test]
    fn an_empty_batch_is_complete_without_sending_anything() {
        let keys = table(0);
        let mut batch = Batch::new(BatchOp::Get, &keys, &[], None);
        let mut wire = Vec::new();
        batch.transmit(&mut 0, &mut wire, usize::MAX);
        assert!(wire.is_empty() && batch.is_complete());
    }
}
