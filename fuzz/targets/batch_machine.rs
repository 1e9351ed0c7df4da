//! `batch_machine`: the command layer's batch state machine,
//! [`Batch`], driven as a connection drives it (transmit with a budget,
//! feed replies) by arbitrary input, and checked against the model in
//! [`batch_model`](super::batch_model). (The older reply matcher,
//! `protocol::BatchMatcher`, is the `batch` target's.)

use quickmc::command::{
    Batch, BatchOp, CounterOp, Exchange, KeyOutcome, KeyTable, StoreMode, Windows,
};
use quickmc::protocol::{Opcode, Response, Status};

use super::batch_model::{Model, Outcome, Values, Window};
use super::input::{Reader, Writer, opcode_at};

/// The most value bytes a store batch's items take in all, so an input
/// cannot make one run slow.
const VALUE_BYTES: usize = 16 << 20;

/// Statuses replies carry, the success first.
const STATUSES: [Status; 8] = [
    Status::Ok,
    Status::KeyNotFound,
    Status::KeyExists,
    Status::NotStored,
    Status::NonNumeric,
    Status::ValueTooLarge,
    Status::OutOfMemory,
    Status::InvalidArguments,
];

/// The batch an input describes.
struct Setup<'a> {
    op: BatchOp,
    prefix: &'a [u8],
    keys: Vec<Vec<u8>>,
    items: Vec<u32>,
    values: Option<Values>,
    first_opaque: u32,
    /// Windows for a connection of its own (cut at the budget).
    own: bool,
}

fn read_op(r: &mut Reader<'_>) -> BatchOp {
    let store = |mode, r: &mut Reader<'_>| BatchOp::Store {
        mode,
        expiration: r.u32(),
    };
    let counter = |op, r: &mut Reader<'_>| BatchOp::Counter { op, delta: r.u64() };
    match r.u8() % 9 {
        0 => BatchOp::Get,
        1 => BatchOp::GetAndTouch(r.u32()),
        2 => store(StoreMode::Set, r),
        3 => store(StoreMode::Add, r),
        4 => store(StoreMode::Replace, r),
        5 => BatchOp::Delete,
        6 => counter(CounterOp::Incr, r),
        7 => counter(CounterOp::Decr, r),
        _ => BatchOp::Touch(r.u32()),
    }
}

fn read_setup<'a>(r: &mut Reader<'a>) -> Setup<'a> {
    let op = read_op(r);
    let prefix = r.bytes(16);
    // Keys of any length (empty and over-long ones cannot be sent), then
    // generated ones, so that windows fill up.
    let mut keys: Vec<Vec<u8>> = (0..r.u8() % 64)
        .map(|_| [prefix, r.bytes(300)].concat())
        .collect();
    let generated = usize::from(r.u16()) % 3072;
    keys.extend((0..generated).map(|i| [prefix, format!("g{i}").as_bytes()].concat()));
    // Items: indices into the keys, out of range ones included.
    let range = keys.len() as u32 + 3;
    let items: Vec<u32> = match r.u8() % 3 {
        0 => (0..r.u8()).map(|_| u32::from(r.u16()) % range).collect(),
        1 => (0..keys.len() as u32).collect(),
        _ => {
            let count = u32::from(r.u16()) % 4096;
            let step = u32::from(r.u8()) + 1;
            (0..count).map(|i| i.wrapping_mul(step) % range).collect()
        }
    };
    let source = r.u8();
    let values = (source & 1 == 0).then(|| {
        let fail_mask = if source & 2 == 0 { 0 } else { r.u64() };
        let sizes = (0..source >> 4)
            .map(|_| r.u32() as usize % (256 << 10))
            .collect();
        let cap = VALUE_BYTES / items.len().max(1);
        Values::new(fail_mask, sizes, r.u32(), cap)
    });
    Setup {
        op,
        prefix,
        keys,
        items,
        values,
        first_opaque: r.u32(),
        own: r.u8() & 1 == 1,
    }
}

/// The batch refused a reply, or took an oversized one: a driver drops the
/// connection and feeds this batch nothing more.
struct Dropped;

/// The driver's side: the batch, its model, the connection's next opaque.
struct Run<'a, 'b> {
    batch: Batch<'a>,
    model: Model<'b>,
    next_opaque: u32,
}

impl Run<'_, '_> {
    fn transmit(&mut self, budget: usize, prefill: usize) {
        let mut out = vec![0x5a; prefill];
        let before = self.next_opaque;
        self.batch.transmit(&mut self.next_opaque, &mut out, budget);
        assert!(
            out[..prefill].iter().all(|&b| b == 0x5a),
            "bytes before the batch's changed"
        );
        let next = self
            .model
            .transmit(before, prefill, &out[prefill..], budget);
        assert_eq!(self.next_opaque, next, "the next opaque");
        self.check();
    }

    fn receive(&mut self, frame: &Response<'_>) -> Result<(), Dropped> {
        let unsettled = self.batch.unsettled();
        let result = self.batch.receive(frame);
        let accept = self.model.receive(frame);
        match (result, accept) {
            (Ok(()), true) => {}
            (Err(_), false) => {
                assert_eq!(
                    self.batch.unsettled(),
                    unsettled,
                    "a refusal changed the batch"
                );
                self.check();
                return Err(Dropped);
            }
            (result, _) => panic!(
                "{frame:?}: the batch answered {result:?}, the model {}",
                if accept { "accepts" } else { "refuses" }
            ),
        }
        self.check();
        Ok(())
    }

    fn receive_oversized(&mut self, opaque: u32, size: u32, limit: u32) -> Dropped {
        let result = self.batch.receive_oversized(opaque, size, limit);
        let accept = self.model.receive_oversized(opaque, size, limit);
        match result {
            Ok(Some(quickmc::Error::ValueTooLarge { .. })) if accept => {}
            Err(_) if !accept => {}
            other => panic!("oversized reply to {opaque}: {other:?}, the model accepts: {accept}"),
        }
        self.check();
        Dropped
    }

    /// What the batch says now agrees with the model.
    fn check(&self) {
        assert_eq!(self.batch.unsettled(), self.model.unsettled(), "unsettled");
        assert_eq!(self.batch.is_transmitted(), self.model.transmitted);
        assert_eq!(self.batch.is_complete(), self.model.is_complete());
        assert_eq!(self.batch.replies(), self.model.replies, "replies counted");
    }

    /// The front window, if any is in flight.
    fn front(&self) -> Option<Window> {
        self.model.windows.front().copied()
    }

    /// The offset of the `gap`-th sent request after the last answered one.
    fn sent_after(&self, w: &Window, gap: usize) -> Option<usize> {
        (w.next..w.len)
            .filter(|&o| self.model.failure(w.start + o).is_none())
            .nth(gap)
    }

    fn act(&mut self, r: &mut Reader<'_>) -> Result<(), Dropped> {
        let action = r.u8();
        let opcode = self.model.opcode();
        let front = self.front();
        let noop = |opaque, status| Response::new(Opcode::Noop, status).opaque(opaque);
        match action % 8 {
            0 | 1 => {
                let budget = match (action >> 3) & 0b11 {
                    0 => usize::from(r.u8()),
                    1 => usize::from(r.u16()) * 8,
                    2 => 1,
                    _ => usize::MAX,
                };
                // Another exchange's requests may go first, with their opaques.
                let prefill = usize::from(action >> 5) * 24;
                if action & 0x80 != 0 {
                    self.next_opaque = self.next_opaque.wrapping_add(u32::from(r.u8()));
                }
                self.transmit(budget, prefill);
                Ok(())
            }
            // The server's reply to a sent request, after a gap.
            2 | 3 => {
                let gap = usize::from(r.u8() % 8);
                let status = STATUSES[usize::from(r.u8()) % STATUSES.len()];
                let (cas, flags, value) = (r.u64(), r.u32().to_be_bytes(), r.bytes(1024));
                let Some(w) = front else {
                    return self.receive(&noop(self.next_opaque, Status::Ok));
                };
                let Some(offset) = self.sent_after(&w, gap) else {
                    return self.receive(&noop(w.noop(), Status::Ok));
                };
                let item = self.model.items[w.start + offset];
                let mut reply = Response::new(opcode, status)
                    .opaque(w.opaque(offset))
                    .cas(cas)
                    .value(value);
                if self.model.is_get() && status == Status::Ok {
                    reply = reply.extras(&flags).key(self.model.key(item));
                }
                self.receive(&reply)
            }
            // The window's Noop.
            4 => {
                let opaque = front.map_or(self.next_opaque, |w| w.noop());
                self.receive(&noop(opaque, Status::Ok))
            }
            5 => self.hostile(r),
            6 => {
                let (gap, size, limit) = (usize::from(r.u8() % 4), r.u32(), r.u32());
                let opaque = match front {
                    Some(w) if action & 0x80 == 0 => {
                        let offset = self.sent_after(&w, gap).unwrap_or(w.len);
                        w.opaque(offset)
                    }
                    _ => r.u32(),
                };
                Err(self.receive_oversized(opaque, size, limit))
            }
            _ => {
                // Anything: an opaque near the window's, any opcode and status.
                let base = front.map_or(self.next_opaque, |w| w.first);
                let reply = Response::new(opcode_at(r.u8()), Status::from_u16(r.u16()))
                    .opaque(base.wrapping_add(u32::from(r.u16())))
                    .extras(r.bytes(8))
                    .key(r.bytes(300))
                    .value(r.bytes(64));
                self.receive(&reply)
            }
        }
    }

    /// Replies a server must never send: out of order, repeated, to an
    /// unknown or unsent opaque, with the wrong opcode or echoed key, an
    /// early or failed Noop.
    fn hostile(&mut self, r: &mut Reader<'_>) -> Result<(), Dropped> {
        let kind = r.u8();
        let pick = r.u8();
        let opcode = self.model.opcode();
        let Some(w) = self.front() else {
            let stray = Response::new(opcode, Status::Ok).opaque(r.u32());
            return self.receive(&stray);
        };
        let flags = [0u8; 4];
        let in_window = |pick: u8| usize::from(pick) % w.len.max(1);
        let reply = match kind % 8 {
            // Out of order or repeated: at or before the last one answered.
            0 | 1 => Response::new(opcode, Status::KeyNotFound)
                .opaque(w.opaque(w.next.wrapping_sub(1 + usize::from(pick % 4)))),
            // Past the window (its Noop's opaque and beyond, or anything).
            2 => {
                let opaque = if pick & 1 == 0 {
                    w.noop().wrapping_add(1 + u32::from(pick >> 1))
                } else {
                    r.u32()
                };
                Response::new(opcode, Status::NotStored).opaque(opaque)
            }
            // The wrong opcode.
            3 => Response::new(opcode_at(pick), Status::KeyExists).opaque(w.opaque(w.next)),
            // A hit echoing another key.
            4 => Response::new(opcode, Status::Ok)
                .opaque(w.opaque(w.next + in_window(pick) % 4))
                .extras(&flags)
                .key(r.bytes(250)),
            // A Noop with an item's opaque, or a later window's.
            5 => {
                let opaque = match self.model.windows.get(1 + usize::from(pick % 2)) {
                    Some(later) if pick & 4 != 0 => later.noop(),
                    _ => w.opaque(in_window(pick)),
                };
                Response::new(Opcode::Noop, Status::Ok).opaque(opaque)
            }
            // The window's Noop, failed.
            6 => Response::new(Opcode::Noop, Status::from_u16(r.u16() | 1)).opaque(w.noop()),
            // A reply to a request that was never sent (its item could not be encoded).
            _ => {
                let unsent = (w.next..w.len)
                    .filter(|&o| self.model.failure(w.start + o).is_some())
                    .nth(usize::from(pick % 4))
                    .unwrap_or(w.len + 1);
                Response::new(opcode, STATUSES[usize::from(pick) % STATUSES.len()])
                    .opaque(w.opaque(unsent))
                    .extras(&flags)
                    .key(r.bytes(300))
            }
        };
        self.receive(&reply)
    }

    /// Transmits what is left and answers every window's Noop in order.
    fn finish(&mut self) {
        while !self.model.is_complete() {
            if let Some(w) = self.front().filter(|w| w.closed) {
                assert!(!self.batch.is_complete());
                let noop = Response::new(Opcode::Noop, Status::Ok).opaque(w.noop());
                assert!(self.receive(&noop).is_ok(), "an honest Noop refused");
            } else {
                self.transmit(usize::MAX, 0);
            }
        }
        assert!(self.batch.is_complete() && self.batch.unsettled().is_empty());
    }
}

/// An arbitrary batch (any op, keys, items, value source failures),
/// transmitted with arbitrary budgets and fed replies built from what it
/// actually sent — in order with gaps, and hostile ones — then checked
/// against the model after every step; the events it reports at the end
/// must be the model's, hit bytes included.
pub fn batch_machine(data: &[u8]) {
    let mut r = Reader::new(data);
    let setup = read_setup(&mut r);
    let mut table = KeyTable::default();
    for key in &setup.keys {
        table.push(setup.prefix, &key[setup.prefix.len()..]);
    }
    assert_eq!(table.len(), setup.keys.len());
    let source = setup
        .values
        .as_ref()
        .map(|v| v as &dyn quickmc::command::ValueSource);
    let mut run = Run {
        batch: Batch::new(setup.op, &table, &setup.items, source).windows(if setup.own {
            Windows::OWN
        } else {
            Windows::SHARED
        }),
        model: Model::new(
            setup.op,
            &setup.keys,
            &setup.items,
            setup.values.as_ref(),
            setup.own,
        ),
        next_opaque: setup.first_opaque,
    };
    run.check();

    let mut dropped = false;
    while !r.is_empty() {
        if run.act(&mut r).is_err() {
            dropped = true;
            break;
        }
    }
    if !dropped {
        run.finish();
    }

    let Run { batch, model, .. } = run;
    let (events, mut values) = batch.into_events();
    assert_eq!(events.len(), model.events.len(), "events: {events:?}");
    for (event, (item, expected)) in events.iter().zip(&model.events) {
        assert_eq!(event.item, *item);
        match (&event.outcome, expected) {
            (
                KeyOutcome::Hit { flags, cas, value },
                Outcome::Hit {
                    flags: f,
                    cas: c,
                    value: v,
                },
            ) => {
                assert_eq!((flags, cas), (f, c));
                assert_eq!(
                    &*values.take(value.clone()),
                    &v[..],
                    "hit bytes of item {item}"
                );
            }
            (KeyOutcome::Failed(error), Outcome::Failed(e)) => {
                assert_eq!(&format!("{error:?}"), e, "item {item}")
            }
            (got, expected) => panic!("item {item}: {got:?}, expected {expected:?}"),
        }
    }
}

/// Writes a batch_machine input's batch: the op (by its input index and
/// parameter), explicit keys, all of them as the items, values of the given
/// sizes (or none), the first opaque. Actions follow.
pub fn write_setup(
    w: &mut Writer,
    op: BatchOp,
    keys: &[&[u8]],
    generated: u16,
    sizes: &[u32],
    first_opaque: u32,
) {
    match op {
        BatchOp::Get => w.u8(0),
        BatchOp::GetAndTouch(exp) => w.u8(1).u32(exp),
        BatchOp::Store { mode, expiration } => w
            .u8(match mode {
                StoreMode::Set => 2,
                StoreMode::Add => 3,
                StoreMode::Replace => 4,
            })
            .u32(expiration),
        BatchOp::Delete => w.u8(5),
        BatchOp::Counter { op, delta } => {
            w.u8(if op == CounterOp::Incr { 6 } else { 7 }).u64(delta)
        }
        BatchOp::Touch(exp) => w.u8(8).u32(exp),
    };
    w.bytes(b"")
        .u8(u8::try_from(keys.len()).expect("under 64 keys"));
    for key in keys {
        w.bytes(key);
    }
    w.u16(generated).u8(1);
    let count = u8::try_from(sizes.len()).expect("under 16 sizes");
    w.u8(count << 4);
    for &size in sizes {
        w.u32(size);
    }
    w.u32(0).u32(first_opaque);
}

/// Writes a transmit action with no budget limit.
pub fn write_transmit_all(w: &mut Writer) {
    w.u8(0b11 << 3);
}

/// Writes the reply to the `gap`-th sent request after the last answered.
pub fn write_honest_reply(w: &mut Writer, gap: u8, status: Status, reply: &Response<'_>) {
    let status = STATUSES.iter().position(|&s| s == status).unwrap_or(0) as u8;
    let flags = reply.flags().unwrap_or(0);
    let value = &reply.value[..reply.value.len().min(1024)];
    w.u8(2)
        .u8(gap)
        .u8(status)
        .u64(reply.cas)
        .u32(flags)
        .bytes(value);
}

/// Writes the front window's Noop.
pub fn write_noop(w: &mut Writer) {
    w.u8(4);
}
