//! `mux`: the multiplexer of a shared connection, [`Mux`], driven by
//! arbitrary input as `connection::shared` drives it — tickets opened,
//! single requests and batch windows enqueued under small random limits,
//! partial writes, replies built from what was enqueued (in order, with
//! gaps in quiet windows) and hostile ones (stale, unknown, out of order,
//! wrong opcodes, for closed tickets, repeated), oversized replies,
//! callers giving up, deliveries taken, the connection broken — and
//! checked after every step against the model in
//! [`mux_model`](super::mux_model).

use std::time::{Duration, Instant};

use quickmc::command::{
    Batch, BatchOp, Command, Counter, CounterOp, Delete, Exchange, Flush, Get, KeyTable, Mux,
    MuxError, MuxLimits, Noop, Single, Stats, Store, StoreMode, Ticket, Touch, Version,
};
use quickmc::protocol::{Opcode, Response, Status};

use super::batch_model::Values;
use super::input::{Reader, Writer, opcode_at};
use super::mux_model::{Expect, Model};

/// At most this many actions run (a longer input is cut there).
const MAX_ACTIONS: usize = 1024;
/// At most this many tickets hold a slot at once.
const MAX_TICKETS: usize = 12;
/// At most this many value bytes in one batch's items in all.
const BATCH_VALUE_BYTES: usize = 1 << 20;

/// Statuses replies carry, the success first.
const STATUSES: [Status; 6] = [
    Status::Ok,
    Status::KeyNotFound,
    Status::KeyExists,
    Status::NotStored,
    Status::ValueTooLarge,
    Status::UnknownCommand,
];

/// The actions an input is made of (the byte that picks one is taken modulo
/// their number).
pub mod action {
    pub const OPEN: u8 = 0;
    pub const SINGLE: u8 = 1;
    pub const BATCH: u8 = 2;
    pub const WRITE: u8 = 3;
    pub const HONEST: u8 = 4;
    pub const HOSTILE: u8 = 5;
    pub const OVERSIZED: u8 = 6;
    pub const CLOSE: u8 = 7;
    pub const TAKE: u8 = 8;
    pub const BREAK: u8 = 9;
    pub const OLD_HANDLE: u8 = 10;
    pub const COUNT: u8 = 11;
}

/// A batch callers may run: its op, keys, items and values.
struct Spec {
    op: BatchOp,
    table: KeyTable,
    items: Vec<u32>,
    values: Option<Values>,
}

fn read_spec(r: &mut Reader<'_>) -> Spec {
    let op = match r.u8() % 5 {
        0 => BatchOp::Get,
        1 => BatchOp::Delete,
        2 => BatchOp::Store {
            mode: StoreMode::Set,
            expiration: r.u32(),
        },
        3 => BatchOp::Touch(r.u32()),
        _ => BatchOp::Counter {
            op: CounterOp::Incr,
            delta: r.u64(),
        },
    };
    let mut table = KeyTable::default();
    // A few keys of any length (an empty or over-long one cannot be sent),
    // then generated ones so that windows fill up (1,024 requests each).
    for _ in 0..r.u8() % 8 {
        let key = r.bytes(300);
        table.push(b"", key);
    }
    let generated = usize::from(r.u16()) % 2100;
    for i in 0..generated {
        table.push(b"m:", format!("{i}").as_bytes());
    }
    let items: Vec<u32> = (0..table.len() as u32).collect();
    let fail_mask = u64::from(r.u8());
    let sizes = (0..r.u8() % 4)
        .map(|_| r.u32() as usize % (96 << 10))
        .collect();
    let flags = r.u32();
    let values = op.stores_values().then(|| {
        let cap = BATCH_VALUE_BYTES / items.len().max(1);
        Values::new(fail_mask, sizes, flags, cap)
    });
    Spec {
        op,
        table,
        items,
        values,
    }
}

/// Writes a batch spec: the op (0 get, 1 delete, 2 set, 3 touch, 4 incr),
/// keys, how many generated keys follow them, which items' values fail to
/// serialize (bit `i % 64`), value sizes (store batches).
pub fn write_spec(
    w: &mut Writer,
    op: u8,
    keys: &[&[u8]],
    generated: u16,
    fail_mask: u8,
    sizes: &[u32],
) {
    w.u8(op);
    match op % 5 {
        2 | 3 => {
            w.u32(60);
        }
        4 => {
            w.u64(1);
        }
        _ => {}
    }
    w.u8(u8::try_from(keys.len()).expect("under 8 keys"));
    for key in keys {
        w.bytes(key);
    }
    w.u16(generated).u8(fail_mask);
    w.u8(u8::try_from(sizes.len()).expect("under 4 sizes"));
    for &size in sizes {
        w.u32(size);
    }
    w.u32(16);
}

/// Writes an input's header: limits (`None`: no byte limit), the first
/// opaque, how many batch specs follow (each written with [`write_spec`]).
pub fn write_header(
    w: &mut Writer,
    max_segments: u8,
    max_bytes: Option<u16>,
    first_opaque: u32,
    specs: u8,
) {
    w.u8(max_segments);
    match max_bytes {
        Some(bytes) => w.u8(1).u16(bytes),
        None => w.u8(3),
    };
    w.u8(3).u32(first_opaque).u8(specs);
}

/// Writes an action: opens a ticket.
pub fn write_open(w: &mut Writer) {
    w.u8(action::OPEN).u8(0);
}

/// Writes an action: the `pick`-th open caller enqueues a single command
/// (`kind` as `enqueue_single` reads it: 0 get, 2 set, 4 delete, 5 noop,
/// 7 stats, …) on `key` with a value of `value_len` bytes.
pub fn write_single(w: &mut Writer, pick: u8, kind: u8, key: &[u8], value_len: u16, n: u32) {
    w.u8(action::SINGLE)
        .u8(pick)
        .u8(kind)
        .u8(2)
        .bytes(key)
        .u16(value_len)
        .u32(n);
}

/// Writes an action: the `pick`-th open caller enqueues its batch's next
/// window (starting batch `spec` if it has none unfinished).
pub fn write_batch(w: &mut Writer, pick: u8, spec: u8) {
    w.u8(action::BATCH).u8(pick).u8(spec);
}

/// Writes an action: the transport takes `n` bytes (`None`: everything).
pub fn write_written(w: &mut Writer, n: Option<u16>) {
    match n {
        Some(n) => w.u8(action::WRITE).u8(1).u16(n),
        None => w.u8(action::WRITE).u8(2).u16(0),
    };
}

/// Writes an action: a writer takes all the output.
pub fn write_take_output(w: &mut Writer) {
    w.u8(action::WRITE).u8(4).u16(0);
}

/// Writes an action: the writer gives back what it took, `sent` bytes of
/// it sent.
pub fn write_give_back(w: &mut Writer, sent: u16) {
    w.u8(action::WRITE).u8(5).u16(sent);
}

/// Writes an action: the honest reply to the oldest segment (`gap`
/// requests skipped in a quiet window, `extra` picks a hit's value length
/// or a stream's end).
pub fn write_honest(w: &mut Writer, status: Status, gap: u8, extra: u8) {
    let status = STATUSES.iter().position(|&s| s == status).unwrap_or(0) as u8;
    w.u8(action::HONEST).u8(status).u8(gap).u8(extra);
}

/// Writes an action: a hostile reply of `kind` (0 stale, 1 a later
/// segment's, 2 and 3 the oldest segment's with any `opcode`, 4 the last
/// reply again, 5 not sent yet, 6 before any sent, 7 any `opaque`).
pub fn write_hostile(w: &mut Writer, kind: u8, pick: u8, status: u16, opaque: u32, opcode: u8) {
    w.u8(action::HOSTILE)
        .u8(pick)
        .u8(kind)
        .u16(status)
        .u32(opaque)
        .u8(opcode);
}

/// Writes an action: an oversized reply header (mode 0: to the oldest
/// segment's next request; 3: to `opaque`), then the break that follows.
pub fn write_oversized(w: &mut Writer, mode: u8, opaque: u32, size: u32) {
    w.u8(action::OVERSIZED).u8(mode).u32(opaque).u32(size);
}

/// Writes an action: the `pick`-th open caller gives up.
pub fn write_close(w: &mut Writer, pick: u8) {
    w.u8(action::CLOSE).u8(pick);
}

/// Writes an action: the `pick`-th caller takes what it received.
pub fn write_take(w: &mut Writer, pick: u8) {
    w.u8(action::TAKE).u8(pick);
}

/// Writes an action: the connection breaks.
pub fn write_break(w: &mut Writer) {
    w.u8(action::BREAK).u8(0);
}

/// Writes an action: an old handle takes (`enqueue` false) or enqueues a Noop.
pub fn write_old_handle(w: &mut Writer, pick: u8, enqueue: bool) {
    w.u8(action::OLD_HANDLE).u8(pick).u8(u8::from(enqueue));
}

/// A caller: its ticket and the batch it runs, with a twin the model
/// transmits in step (the same batch, so the same bytes).
struct Caller<'s> {
    ticket: Ticket,
    batch: Option<(Batch<'s>, Batch<'s>, Opcode)>,
}

struct Run<'s> {
    mux: Mux,
    model: Model,
    callers: Vec<Caller<'s>>,
    specs: &'s [Spec],
    /// Tickets whose slots were freed (closed, or after a break).
    old: Vec<Ticket>,
    /// The most tickets holding a slot at once.
    peak: usize,
    start: Instant,
    step: u64,
    /// The last reply taken for someone (a server may send it twice).
    last_reply: Option<(Opcode, u32)>,
    /// Output a writer took and has not given back yet.
    taken: Option<Vec<u8>>,
}

/// A value pattern for stores.
static VALUE: [u8; 8192] = [b'v'; 8192];
/// A key longer than memcached allows.
static LONG_KEY: [u8; 251] = [b'k'; 251];

fn ticket_index(ticket: Ticket) -> usize {
    // The index is private; its Debug form shows it.
    let debug = format!("{ticket:?}");
    let digits: String = debug
        .split("index: ")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a ticket's Debug names its index")
}

fn encode(frame: &Response<'_>) -> Vec<u8> {
    let mut raw = Vec::new();
    frame
        .encode(&mut raw)
        .expect("a reply the target builds encodes");
    raw
}

impl<'s> Run<'s> {
    fn now(&self) -> Instant {
        self.start + Duration::from_millis(self.step)
    }

    /// The open callers.
    fn open_callers(&self) -> Vec<usize> {
        (0..self.callers.len())
            .filter(|&i| {
                let t = self.callers[i].ticket;
                self.model
                    .entries
                    .iter()
                    .any(|e| e.ticket == t && !e.closed)
            })
            .collect()
    }

    fn pick_open(&self, pick: u8) -> Option<usize> {
        let open = self.open_callers();
        (!open.is_empty()).then(|| open[usize::from(pick) % open.len()])
    }

    /// Forgets callers whose slots the model freed (they become old handles).
    fn retire(&mut self) {
        let model = &self.model;
        let (kept, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut self.callers)
            .into_iter()
            .partition(|c| model.entries.iter().any(|e| e.ticket == c.ticket));
        self.callers = kept;
        for caller in gone {
            self.old.push(caller.ticket);
        }
        if self.old.len() > 8 {
            self.old.drain(..self.old.len() - 8);
        }
    }

    /// Everything observable agrees with the model.
    fn check(&mut self) {
        assert_eq!(self.mux.output(), self.model.output(), "the output");
        assert_eq!(self.mux.is_idle(), self.model.segs.is_empty(), "is_idle");
        assert_eq!(
            self.mux.awaits_replies(),
            self.model.awaits_replies(),
            "awaits_replies"
        );
        let front = self.model.segs.front();
        assert_eq!(self.mux.head_owner(), front.map(|s| s.ticket), "head_owner");
        assert_eq!(self.mux.oldest(), front.map(|s| s.enqueued), "oldest");
        assert_eq!(self.mux.is_broken(), self.model.broken, "is_broken");
        assert_eq!(
            self.mux.saw_stale_replies(),
            self.model.stale,
            "saw_stale_replies"
        );
        // The limits: only a lone segment may be above them.
        let (segments, bytes) = self.model.admitted();
        let limits = self.model.limits;
        assert!(
            segments <= 1 || (segments <= limits.max_segments && bytes <= limits.max_bytes),
            "{segments} segments of {bytes} bytes let in under {limits:?}"
        );
        for e in self.model.entries.clone() {
            assert_eq!(self.mux.pending(e.ticket), e.pending, "pending of {e:?}");
        }
        for &old in &self.old {
            assert_eq!(self.mux.pending(old), 0, "pending of the old {old:?}");
        }
        self.peak = self.peak.max(self.model.slots());
    }

    fn open(&mut self) {
        if self.model.slots() >= MAX_TICKETS {
            return;
        }
        let ticket = self.mux.open();
        self.model.open(ticket);
        self.peak = self.peak.max(self.model.slots());
        // Slots are reused: memory stays with the most tickets held at once.
        assert!(
            ticket_index(ticket) < self.peak,
            "{ticket:?} with at most {} tickets held at once",
            self.peak
        );
        self.callers.push(Caller {
            ticket,
            batch: None,
        });
    }

    /// Enqueues `real`'s next segment for `ticket` and the same for the
    /// model with `twin`; they must agree.
    fn enqueue(
        &mut self,
        ticket: Ticket,
        real: &mut dyn Exchange,
        twin: &mut dyn Exchange,
        opcode: Opcode,
    ) {
        let now = self.now();
        let expected = if self.model.broken {
            Err(MuxError::Broken)
        } else if self.model.full() {
            Err(MuxError::Full)
        } else {
            Ok(())
        };
        let result = self.mux.enqueue(ticket, real, now);
        assert_eq!(result, expected, "enqueue for {ticket:?}");
        self.model.enqueue(ticket, twin, opcode, now);
        assert_eq!(real.is_transmitted(), twin.is_transmitted());
    }

    fn single<C: Command>(&mut self, ticket: Ticket, make: impl Fn() -> C) {
        let (mut a, mut b) = (make(), make());
        let opcode = a.request().opcode;
        let (mut real, mut twin) = (Single::new(&mut a), Single::new(&mut b));
        self.enqueue(ticket, &mut real, &mut twin, opcode);
    }

    fn enqueue_single(&mut self, r: &mut Reader<'_>, ticket: Ticket) {
        let (kind, key_pick, key, len, n) = (r.u8(), r.u8(), r.bytes(16), r.u16(), r.u32());
        let key: &[u8] = match key_pick % 8 {
            0 => b"",
            1 => &LONG_KEY,
            _ => key,
        };
        let value = &VALUE[..usize::from(len) % VALUE.len()];
        match kind % 12 {
            0 => self.single(ticket, || Get::new(key)),
            1 => self.single(ticket, || Get::touching(key, n)),
            2 => self.single(ticket, || Store::new(StoreMode::Set, key, value, n, 0)),
            3 => self.single(ticket, || {
                Store::new(StoreMode::Add, key, &VALUE[..8], 0, n)
            }),
            4 => self.single(ticket, || Delete::new(key)),
            5 => self.single(ticket, || Noop),
            6 => self.single(ticket, || Version),
            7 => self.single(ticket, || Stats::new("")),
            8 => self.single(ticket, || Counter::new(CounterOp::Incr, key, u64::from(n))),
            9 => self.single(ticket, || Touch::new(key, n)),
            10 => self.single(ticket, || Flush::new(n)),
            _ => self.single(ticket, || Stats::new("items")),
        }
    }

    fn enqueue_batch(&mut self, index: usize, spec_pick: u8) {
        let ticket = self.callers[index].ticket;
        let unfinished = self.callers[index]
            .batch
            .as_ref()
            .is_some_and(|(real, _, _)| !real.is_transmitted());
        if !unfinished {
            if self.specs.is_empty() {
                return;
            }
            let spec = &self.specs[usize::from(spec_pick) % self.specs.len()];
            let source = spec
                .values
                .as_ref()
                .map(|v| v as &dyn quickmc::command::ValueSource);
            let batch = || Batch::new(spec.op, &spec.table, &spec.items, source);
            self.callers[index].batch = Some((batch(), batch(), spec.op.opcode()));
        }
        let Some((mut real, mut twin, opcode)) = self.callers[index].batch.take() else {
            return;
        };
        self.enqueue(ticket, &mut real, &mut twin, opcode);
        self.callers[index].batch = Some((real, twin, opcode));
    }

    /// The transport takes bytes: `n` of them, or (modes 4 and 5) a
    /// writer takes all the output, then gives back what the transport did
    /// not take; nothing else is written meanwhile.
    fn write(&mut self, mode: u8, n: u16) {
        let n = match mode % 6 {
            0 => usize::from(n % 64),
            1 => usize::from(n),
            2 => usize::MAX,
            3 => 0,
            4 => {
                if self.taken.is_none() {
                    let taken = self.mux.take_output();
                    assert_eq!(taken, self.model.take_output(), "the output taken");
                    self.taken = Some(taken);
                }
                return;
            }
            _ => {
                self.give_back(usize::from(n));
                return;
            }
        };
        if self.taken.is_none() {
            self.mux.written(n);
            self.model.written(n);
        }
    }

    /// The writer gives back what it took, `n` bytes of it sent.
    fn give_back(&mut self, n: usize) {
        if let Some(taken) = self.taken.take() {
            self.model.give_back(&taken, n);
            self.mux.give_back(taken, n);
        }
    }

    /// Feeds a reply to both; a refused one breaks the connection, as the
    /// driver does.
    fn feed(&mut self, frame: &Response<'_>) {
        let raw = encode(frame);
        // A reply a reader's direct run takes must be that reader's, with
        // nothing stored before it, and must not end its window: then
        // taking it without the multiplexer changes nothing but the count.
        let direct = self
            .open_callers()
            .into_iter()
            .map(|i| self.callers[i].ticket)
            .find(|&t| self.mux.direct_run(t).is_some_and(|r| r.takes(frame)));
        if let Some(t) = direct {
            let stored = self
                .model
                .entries
                .iter()
                .any(|e| e.ticket == t && (!e.frames.is_empty() || !e.oversized.is_empty()));
            assert!(
                !stored,
                "{frame:?}: a direct run past frames stored for {t:?}"
            );
        }
        let expect = self.model.receive(frame, &raw);
        if let Some(t) = direct {
            assert!(
                matches!(expect, Expect::To(to) if to == t),
                "{frame:?}: a direct run for {t:?} took a reply the model gives {expect:?}"
            );
            assert_eq!(
                self.model.segs.front().map(|s| s.ticket),
                Some(t),
                "{frame:?}: a direct run took the reply that ends its window"
            );
        }
        let got = self.mux.receive(frame, &raw);
        match (expect, &got) {
            (Expect::To(t), Ok(Some(g))) if t == *g => {
                self.last_reply = Some((frame.opcode, frame.opaque));
            }
            (Expect::Nobody, Ok(None)) => {}
            (Expect::RefusedOrNobody, Ok(None)) => self.model.stale = true,
            (Expect::Refused | Expect::RefusedOrNobody, Err(_)) => self.break_all(),
            _ => panic!("{frame:?}: the mux said {got:?}, the model {expect:?}"),
        }
    }

    /// A reply an honest server sends next (after writing what is queued,
    /// if it had to wait for it).
    fn honest(&mut self, status: u8, gap: u8, pick: u8) {
        let sent = self.model.sent;
        if self
            .model
            .segs
            .front()
            .is_some_and(|h| h.begins + h.len as u64 > sent)
        {
            self.mux.written(usize::MAX);
            self.model.written(usize::MAX);
        }
        let Some(head) = self.model.segs.front().cloned() else {
            // Nothing in flight: any reply is a stray.
            let stray = Response::new(Opcode::Noop, Status::Ok).opaque(self.model.next_opaque);
            return self.feed(&stray);
        };
        let status = STATUSES[usize::from(status) % STATUSES.len()];
        let flags = [0, 0, 0, 7];
        let counter = 42u64.to_be_bytes();
        let frame = match head.shape {
            quickmc::command::ReplyShape::One => {
                let reply = Response::new(head.opcode, status).opaque(head.first);
                match (head.opcode, status) {
                    (Opcode::Get | Opcode::Gat, Status::Ok) => {
                        reply.extras(&flags).value(&VALUE[..usize::from(pick)])
                    }
                    (Opcode::Increment, Status::Ok) => reply.value(&counter),
                    (Opcode::Version, _) => reply.value(b"1.6.0"),
                    _ => reply,
                }
            }
            quickmc::command::ReplyShape::Stream => {
                let reply = Response::new(Opcode::Stat, status).opaque(head.first);
                if pick.is_multiple_of(3) {
                    reply
                } else {
                    reply.key(b"pid").value(b"42")
                }
            }
            quickmc::command::ReplyShape::NoopClosed => {
                let opaque = head.cursor.wrapping_add(u32::from(gap % 4));
                let quiet = head.last().wrapping_sub(head.first);
                if opaque.wrapping_sub(head.first) >= quiet || pick.is_multiple_of(5) {
                    Response::new(Opcode::Noop, Status::Ok).opaque(head.last())
                } else {
                    Response::new(head.opcode, status).opaque(opaque)
                }
            }
        };
        self.feed(&frame);
    }

    /// A reply a server must never send.
    fn hostile(&mut self, kind: u8, pick: u8, status: u16, opaque: u32, opcode: u8) {
        let status = Status::from_u16(status % 0x90);
        let opcode = opcode_at(opcode);
        let model = &self.model;
        let head = model.segs.front();
        let opaque = match kind % 8 {
            // A reply to a request answered before (stale).
            0 => match model.ended.len() {
                0 => opaque,
                n => {
                    let (first, end) = model.ended[n - 1 - usize::from(pick) % n.min(4)];
                    first.wrapping_add(u32::from(pick) % end.wrapping_sub(first).max(1))
                }
            },
            // To a later segment than the oldest (out of order).
            1 => match model.segs.len() {
                0 | 1 => opaque,
                n => {
                    let later = &model.segs[1 + usize::from(pick) % (n - 1)];
                    later
                        .first
                        .wrapping_add(u32::from(pick) % later.end.wrapping_sub(later.first))
                }
            },
            // The oldest segment's, with any opcode (a wrong one, a Noop
            // inside a window).
            2 | 3 => head.map_or(opaque, |h| {
                h.first
                    .wrapping_add(u32::from(pick) % h.end.wrapping_sub(h.first))
            }),
            // The last reply taken, again.
            4 => match self.last_reply {
                Some((op, o)) => {
                    let frame = Response::new(op, Status::Ok).opaque(o);
                    return self.feed(&frame);
                }
                None => opaque,
            },
            // Opaques not sent yet.
            5 => model.next_opaque.wrapping_add(u32::from(pick)),
            // Just before any sent.
            6 => model
                .next_opaque
                .wrapping_sub(1 << 20)
                .wrapping_sub(u32::from(pick)),
            _ => opaque,
        };
        let key: &[u8] = if pick & 1 == 0 { b"" } else { b"k" };
        let frame = Response::new(opcode, status).opaque(opaque).key(key);
        self.feed(&frame);
    }

    fn oversized(&mut self, mode: u8, opaque: u32, size: u32) {
        let opaque = match (mode % 4, self.model.segs.front()) {
            (0 | 1, Some(head)) => head.cursor,
            (2, Some(head)) => head.first.wrapping_add(opaque % 4),
            _ => opaque,
        };
        let expect = self.model.receive_oversized(opaque, size);
        let got = self.mux.receive_oversized(opaque, size);
        match (expect, &got) {
            (Expect::To(t), Ok(Some(g))) if t == *g => {}
            (Expect::Nobody, Ok(None)) => {}
            // The driver breaks the connection on a refused reply.
            (Expect::Refused, Err(_)) => self.break_all(),
            _ => panic!("oversized reply to {opaque}: the mux said {got:?}, the model {expect:?}"),
        }
        // (Otherwise the driver skips the body; the connection goes on.)
    }

    fn break_all(&mut self) {
        let mut failed = self.mux.break_all(quickmc::Error::NoServers);
        let mut expected = self.model.break_all();
        let key = |t: &Ticket| format!("{t:?}");
        failed.sort_by_key(key);
        expected.sort_by_key(key);
        assert_eq!(failed, expected, "the tickets a break fails");
    }

    fn close(&mut self, index: usize) {
        let ticket = self.callers[index].ticket;
        self.callers[index].batch = None;
        self.mux.close(ticket);
        self.model.close(ticket);
    }

    /// Takes what a caller (open, or closed) received; it must be exactly
    /// what the model routed to it, and nothing for a closed one.
    fn take(&mut self, pick: u8) {
        if self.callers.is_empty() {
            return;
        }
        let ticket = self.callers[usize::from(pick) % self.callers.len()].ticket;
        let d = self.mux.take(ticket);
        let Some(e) = self.model.entry(ticket) else {
            panic!("a caller the model forgot: {ticket:?}");
        };
        if e.closed {
            assert!(
                d.frames.is_empty() && d.oversized.is_empty() && d.failure.is_none(),
                "a closed ticket received {d:?}"
            );
            return;
        }
        assert_eq!(d.frames, e.frames, "the frames routed to {ticket:?}");
        assert_eq!(d.oversized, e.oversized, "oversized for {ticket:?}");
        assert_eq!(d.pending, e.pending, "pending for {ticket:?}");
        assert_eq!(d.replies, e.replies, "replies for {ticket:?}");
        assert_eq!(d.written, e.written, "written for {ticket:?}");
        assert_eq!(
            d.failure.is_some(),
            e.failed,
            "failure for {ticket:?}: {d:?}"
        );
        e.frames.clear();
        e.oversized.clear();
        e.failed = false;
    }

    /// A handle whose slot was freed sees nothing, and enqueues nothing.
    fn old_handle(&mut self, pick: u8, what: u8) {
        if self.old.is_empty() {
            return;
        }
        let ticket = self.old[usize::from(pick) % self.old.len()];
        if what & 1 == 0 {
            let d = self.mux.take(ticket);
            assert!(
                d.frames.is_empty()
                    && d.oversized.is_empty()
                    && d.pending == 0
                    && d.replies == 0
                    && !d.written
                    && d.failure.is_none(),
                "an old ticket received {d:?}"
            );
        } else {
            self.single(ticket, || Noop);
        }
    }

    fn act(&mut self, r: &mut Reader<'_>) {
        self.step += 1;
        let (which, pick) = (r.u8() % action::COUNT, r.u8());
        match which {
            action::OPEN => self.open(),
            action::SINGLE => {
                if let Some(i) = self.pick_open(pick) {
                    let ticket = self.callers[i].ticket;
                    self.enqueue_single(r, ticket);
                }
            }
            action::BATCH => {
                let spec = r.u8();
                if let Some(i) = self.pick_open(pick) {
                    self.enqueue_batch(i, spec);
                }
            }
            action::WRITE => {
                let n = r.u16();
                self.write(pick, n);
            }
            action::HONEST => {
                let (gap, extra) = (r.u8(), r.u8());
                self.honest(pick, gap, extra);
            }
            action::HOSTILE => {
                let (k, s, o, op) = (r.u8(), r.u16(), r.u32(), r.u8());
                self.hostile(k, pick, s, o, op);
            }
            action::OVERSIZED => {
                let (o, size) = (r.u32(), r.u32());
                self.oversized(pick, o, size);
            }
            action::CLOSE => {
                if let Some(i) = self.pick_open(pick) {
                    self.close(i);
                }
            }
            action::TAKE => self.take(pick),
            action::BREAK => self.break_all(),
            _ => {
                let what = r.u8();
                self.old_handle(pick, what);
            }
        }
        self.retire();
        self.check();
    }

    /// Answers everything honestly, takes every delivery, closes every
    /// ticket: the multiplexer is idle and every slot free again.
    fn finish(&mut self) {
        self.give_back(usize::MAX);
        let mut rounds = 0;
        while let Some(head) = self.model.segs.front().cloned() {
            rounds += 1;
            assert!(rounds < 1 << 16, "the mux never drains");
            self.mux.written(usize::MAX);
            self.model.written(usize::MAX);
            let last = match head.shape {
                quickmc::command::ReplyShape::One => {
                    Response::new(head.opcode, Status::KeyNotFound).opaque(head.first)
                }
                quickmc::command::ReplyShape::Stream => {
                    Response::new(Opcode::Stat, Status::Ok).opaque(head.first)
                }
                quickmc::command::ReplyShape::NoopClosed => {
                    Response::new(Opcode::Noop, Status::Ok).opaque(head.last())
                }
            };
            self.feed(&last);
            self.retire();
            self.check();
        }
        assert!(self.mux.is_idle() && self.mux.output().is_empty());
        for pick in 0..self.callers.len() {
            self.take(pick as u8);
        }
        for index in self.open_callers() {
            self.close(index);
        }
        self.retire();
        self.check();
        assert_eq!(
            self.model.slots(),
            0,
            "tickets left: {:?}",
            self.model.entries
        );
        let ticket = self.mux.open();
        assert_eq!(
            ticket_index(ticket),
            0,
            "every slot is free again, yet a new ticket got {ticket:?}"
        );
    }
}

/// Runs an input: a header (limits, the first opaque, batch specs), then
/// actions until the input runs out (at most [`MAX_ACTIONS`]).
pub fn mux(data: &[u8]) {
    let mut r = Reader::new(data);
    let max_segments = usize::from(r.u8() % 7);
    let max_bytes = match r.u8() % 4 {
        0 => usize::from(r.u16() % 256),
        1 => usize::from(r.u16()),
        2 => 0,
        _ => usize::MAX,
    };
    let first_opaque = match r.u8() % 4 {
        0 => 0,
        1 => u32::MAX - (r.u32() % 64),
        2 => (1 << 31) - (r.u32() % 64),
        _ => r.u32(),
    };
    let limits = MuxLimits {
        max_segments,
        max_bytes,
    };
    let specs: Vec<Spec> = (0..r.u8() % 4).map(|_| read_spec(&mut r)).collect();
    let mut run = Run {
        mux: Mux::new(first_opaque, limits),
        model: Model::new(first_opaque, limits),
        callers: Vec::new(),
        specs: &specs,
        old: Vec::new(),
        peak: 0,
        start: Instant::now(),
        step: 0,
        last_reply: None,
        taken: None,
    };
    run.check();
    let mut actions = 0;
    while !r.is_empty() && actions < MAX_ACTIONS {
        run.act(&mut r);
        actions += 1;
    }
    run.finish();
}
