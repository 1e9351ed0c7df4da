//! Many callers' exchanges over one connection, sans I/O.
//!
//! Each caller holds a [`Ticket`]. It enqueues its requests a segment at a
//! time — one single request, or one batch window closed by a Noop — and
//! every enqueued byte waits in one output buffer, so whoever writes next
//! sends everything queued in one write. Replies come back in request
//! order; each is matched to the oldest segment in flight by opaque (a
//! reply outside that segment is a protocol violation) and its bytes are
//! kept for the segment's ticket, which decodes them with its own exchange.
//! A ticket whose caller gave up still has its replies read and dropped,
//! so the connection never desynchronises. A broken connection fails every
//! ticket at once. The multiplexer never reads a clock: times come in as
//! arguments.

use std::collections::VecDeque;
use std::time::Instant;

use super::{Exchange, ReplyShape};
use crate::protocol::{Opcode, Response, Status};
use crate::{Error, ProtocolError};

/// How much one connection takes in before callers must wait.
///
/// While other segments are queued or in flight, a segment is let in only
/// if fewer than `max_segments` are, and if its bytes with theirs stay
/// within `max_bytes`. A segment's size is known only once it is encoded,
/// so one that turns out not to fit is taken but held back — off the wire,
/// and nobody else let in — until replies make room for it or it is alone.
/// A caller alone on an idle connection is always let in, whatever its size.
///
/// ```
/// let limits = quickmc::command::MuxLimits::default();
/// assert!(limits.max_segments >= 64);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MuxLimits {
    /// Segments (requests or batch windows) queued or in flight.
    pub max_segments: usize,
    /// Request bytes queued or in flight.
    pub max_bytes: usize,
}

impl Default for MuxLimits {
    fn default() -> MuxLimits {
        MuxLimits {
            max_segments: 4096,
            max_bytes: 8 << 20,
        }
    }
}

/// A caller's handle on the multiplexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket {
    index: usize,
    generation: u64,
}

#[derive(Debug)]
struct Segment {
    ticket: Ticket,
    first: u32,
    /// One past the segment's last opaque.
    end: u32,
    shape: ReplyShape,
    /// The stream position just past the segment's last byte.
    byte_end: u64,
    bytes: usize,
    enqueued: Instant,
}

impl Segment {
    /// The stream position of the segment's first byte.
    fn begins(&self) -> u64 {
        self.byte_end - self.bytes as u64
    }

    fn owns(&self, opaque: u32) -> bool {
        opaque.wrapping_sub(self.first) < self.end.wrapping_sub(self.first)
    }
}

/// The largest frame buffer a slot keeps for its next owner ...
const SPARE_FRAMES: usize = 64 * 1024;
/// ... in the first this many slots (the ones callers reuse most), so a
/// connection that once had many callers at once keeps little.
const SPARE_SLOTS: usize = 4;

/// Whether `ticket`'s slot keeps `frames` for its next owner.
fn keeps_spare(ticket: Ticket, frames: &Vec<u8>) -> bool {
    ticket.index < SPARE_SLOTS && frames.capacity() <= SPARE_FRAMES
}

#[derive(Debug, Default)]
struct Slot {
    generation: u64,
    live: bool,
    abandoned: bool,
    /// Reply frames for the owner, back to back, as they came.
    frames: Vec<u8>,
    /// Oversized replies, whose bodies were skipped, where they came
    /// among `frames`.
    oversized: Vec<Oversized>,
    segments: usize,
    replies: usize,
    written: bool,
    failure: Option<Error>,
}

/// A reply whose declared value is above the client's limit: its body is
/// skipped, not stored; its owner hears of it in its place among the
/// frames.
///
/// ```
/// let o = quickmc::command::Oversized { at: 0, opaque: 7, size: 1 << 30 };
/// assert_eq!(o.at, 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversized {
    /// Where it came: the length of [`Delivery::frames`] before it.
    pub at: usize,
    /// The reply's opaque.
    pub opaque: u32,
    /// The value's declared size.
    pub size: u32,
}

/// What a ticket has received.
///
/// ```
/// let delivery = quickmc::command::Delivery::default();
/// assert!(delivery.frames.is_empty() && delivery.failure.is_none());
/// ```
#[derive(Debug, Default)]
pub struct Delivery {
    /// Reply frames, back to back, to decode with the ticket's exchange.
    pub frames: Vec<u8>,
    /// Oversized replies, each where it came among `frames`.
    pub oversized: Vec<Oversized>,
    /// Segments of this ticket still waiting for replies.
    pub pending: usize,
    /// Replies received for this ticket so far.
    pub replies: usize,
    /// Whether any of this ticket's bytes were handed to the transport
    /// (written, or taken to be: see [`Mux::take_output`]).
    pub written: bool,
    /// Why the connection failed, if it did.
    pub failure: Option<Error>,
}

/// The multiplexer of one connection. See the module docs.
///
/// ```
/// use quickmc::command::{Get, Mux, MuxLimits, Single};
/// use quickmc::protocol::{Opcode, Response, Status};
/// use std::time::Instant;
/// let mut mux = Mux::new(1, MuxLimits::default());
/// let (a, b) = (mux.open(), mux.open());
/// let (mut get_a, mut get_b) = (Get::new(b"a"), Get::new(b"b"));
/// mux.enqueue(a, &mut Single::new(&mut get_a), Instant::now())?;
/// mux.enqueue(b, &mut Single::new(&mut get_b), Instant::now())?;
/// let wire = mux.output().len();
/// mux.written(wire); // both requests went out in one write
/// let mut reply = Vec::new();
/// Response::new(Opcode::Get, Status::KeyNotFound).opaque(1).encode(&mut reply)?;
/// assert_eq!(mux.receive(&Response::new(Opcode::Get, Status::KeyNotFound).opaque(1), &reply)?, Some(a));
/// assert_eq!(mux.take(a).pending, 0);
/// assert_eq!(mux.take(b).pending, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Mux {
    next_opaque: u32,
    limits: MuxLimits,
    out: Vec<u8>,
    /// Stream positions: bytes ever enqueued, and ever handed to the
    /// transport (written, or taken and not given back).
    enqueued: u64,
    sent: u64,
    /// Segments in stream order: sent ones first, then queued ones (the
    /// last may be held back).
    segments: VecDeque<Segment>,
    /// Request bytes of the segments let in (not held back).
    queued_bytes: usize,
    /// The bytes of the last segment, held back at the end of `out` until
    /// they fit within the limits or it is alone (0: none held).
    held: usize,
    slots: Vec<Slot>,
    generations: u64,
    broken: Option<Error>,
    /// Replies seen to requests already answered.
    stale: u64,
}

/// Replies a reader may take for itself without the multiplexer: see
/// [`Mux::direct_run`].
///
/// ```
/// use quickmc::command::{Batch, BatchOp, KeyTable, Mux};
/// use quickmc::protocol::{Opcode, Response, Status};
/// use std::time::Instant;
/// let mut mux = Mux::new(1, Default::default());
/// let me = mux.open();
/// let mut keys = KeyTable::default();
/// keys.push(b"", b"a");
/// keys.push(b"", b"b");
/// let mut batch = Batch::new(BatchOp::Get, &keys, &[0, 1], None);
/// mux.enqueue(me, &mut batch, Instant::now())?; // opaques 1, 2; Noop 3
/// let n = mux.output().len();
/// mux.written(n);
/// let run = mux.direct_run(me).expect("its window leads");
/// assert!(run.takes(&Response::new(Opcode::GetKQ, Status::Ok).opaque(2)));
/// assert!(!run.takes(&Response::new(Opcode::Noop, Status::Ok).opaque(3)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectRun {
    first: u32,
    /// The window's closing Noop, which ends the run.
    noop: u32,
}

impl DirectRun {
    /// Whether `frame` is within the run (a reply to one of the window's
    /// requests before its Noop); see [`DirectRun`] for an example.
    ///
    /// ```
    /// # use quickmc::command::{Batch, BatchOp, KeyTable, Mux};
    /// # use quickmc::protocol::{Opcode, Response, Status};
    /// # let mut mux = Mux::new(1, Default::default());
    /// # let me = mux.open();
    /// # let mut keys = KeyTable::default();
    /// # keys.push(b"", b"a");
    /// # let mut batch = Batch::new(BatchOp::Get, &keys, &[0], None);
    /// # mux.enqueue(me, &mut batch, std::time::Instant::now())?;
    /// # let n = mux.output().len();
    /// # mux.written(n);
    /// let run = mux.direct_run(me).expect("its window leads");
    /// let stale = Response::new(Opcode::GetKQ, Status::Ok).opaque(0);
    /// assert!(!run.takes(&stale), "older than the window");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn takes(&self, frame: &Response<'_>) -> bool {
        frame.opaque.wrapping_sub(self.first) < self.noop.wrapping_sub(self.first)
    }
}

/// Why a segment could not be enqueued.
///
/// ```
/// let e = quickmc::command::MuxError::Full;
/// assert_eq!(e, quickmc::command::MuxError::Full);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MuxError {
    /// The connection holds as much as its limits allow: wait for replies.
    #[error("the connection is full: wait for replies")]
    Full,
    /// The connection is broken.
    #[error("the connection is broken")]
    Broken,
}

impl Mux {
    /// A multiplexer whose first request takes opaque `first_opaque`.
    ///
    /// ```
    /// let mux = quickmc::command::Mux::new(1, Default::default());
    /// assert!(mux.is_idle());
    /// ```
    pub fn new(first_opaque: u32, limits: MuxLimits) -> Mux {
        Mux {
            next_opaque: first_opaque,
            limits,
            out: Vec::new(),
            enqueued: 0,
            sent: 0,
            segments: VecDeque::new(),
            queued_bytes: 0,
            held: 0,
            slots: Vec::new(),
            generations: 0,
            broken: None,
            stale: 0,
        }
    }

    /// A new ticket.
    ///
    /// ```
    /// let mut mux = quickmc::command::Mux::new(1, Default::default());
    /// let t = mux.open();
    /// assert_eq!(mux.take(t).pending, 0);
    /// ```
    pub fn open(&mut self) -> Ticket {
        self.generations += 1;
        let generation = self.generations;
        let mut slot = Slot {
            generation,
            live: true,
            ..Slot::default()
        };
        let index = match self.slots.iter().position(|s| !s.live) {
            Some(free) => {
                if let Some(s) = self.slots.get_mut(free) {
                    // The frame buffer stays with the slot, emptied: a
                    // caller after caller reuses it.
                    slot.frames = std::mem::take(&mut s.frames);
                    slot.frames.clear();
                    *s = slot;
                }
                free
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        Ticket { index, generation }
    }

    fn slot(&mut self, ticket: Ticket) -> Option<&mut Slot> {
        self.slots
            .get_mut(ticket.index)
            .filter(|s| s.live && s.generation == ticket.generation)
    }

    /// [`slot`](Mux::slot), to look at.
    fn slot_ref(&self, ticket: Ticket) -> Option<&Slot> {
        self.slots
            .get(ticket.index)
            .filter(|s| s.live && s.generation == ticket.generation)
    }

    /// Whether the connection takes another segment now.
    fn has_room(&self) -> bool {
        self.segments.is_empty()
            || (self.held == 0
                && self.segments.len() < self.limits.max_segments
                && self.queued_bytes <= self.limits.max_bytes)
    }

    /// Enqueues the next segment of `exchange` for `ticket`: its one
    /// request, or one whole batch window. Nothing is enqueued when the
    /// exchange has nothing left to send. [`MuxError::Full`] while the
    /// connection holds what its [`MuxLimits`] allow; a segment that turns
    /// out too big to join the others is taken but held back off the wire
    /// until it fits (see [`MuxLimits`]).
    ///
    /// ```
    /// use quickmc::command::{Mux, Noop, Single};
    /// let mut mux = Mux::new(7, Default::default());
    /// let t = mux.open();
    /// mux.enqueue(t, &mut Single::new(&mut Noop), std::time::Instant::now())?;
    /// assert_eq!(mux.output().len(), 24);
    /// # Ok::<(), quickmc::command::MuxError>(())
    /// ```
    pub fn enqueue(
        &mut self,
        ticket: Ticket,
        exchange: &mut dyn Exchange,
        now: Instant,
    ) -> Result<(), MuxError> {
        if self.broken.is_some() {
            return Err(MuxError::Broken);
        }
        if !self.has_room() {
            return Err(MuxError::Full);
        }
        if self.slot(ticket).is_none() || exchange.is_transmitted() {
            return Ok(());
        }
        let (first, before) = (self.next_opaque, self.out.len());
        // A budget of one byte: a single request, or exactly one window
        // (encoded whole).
        let budget = before + 1;
        exchange.whole_segments();
        exchange.transmit(&mut self.next_opaque, &mut self.out, budget);
        let bytes = self.out.len() - before;
        let end = self.next_opaque;
        if end == first {
            // Nothing to send (an empty batch, a request that failed to encode).
            return Ok(());
        }
        self.enqueued += bytes as u64;
        if self.segments.is_empty() || self.queued_bytes + bytes <= self.limits.max_bytes {
            self.queued_bytes += bytes;
        } else {
            // Too big to join the others now: off the wire until it fits.
            self.held = bytes;
        }
        self.segments.push_back(Segment {
            ticket,
            first,
            end,
            shape: exchange.reply_shape(),
            byte_end: self.enqueued,
            bytes,
            enqueued: now,
        });
        if let Some(slot) = self.slot(ticket) {
            slot.segments += 1;
        }
        Ok(())
    }

    /// The bytes waiting to be written: everything every caller queued
    /// (but a segment held back until it fits within the limits).
    ///
    /// ```
    /// let mux = quickmc::command::Mux::new(1, Default::default());
    /// assert!(mux.output().is_empty());
    /// ```
    pub fn output(&self) -> &[u8] {
        let end = self.out.len().saturating_sub(self.held);
        self.out.get(..end).unwrap_or_default()
    }

    /// Records that the transport took the first `n` bytes of [`output`](Mux::output).
    ///
    /// ```
    /// use quickmc::command::{Mux, Noop, Single};
    /// let mut mux = Mux::new(1, Default::default());
    /// let t = mux.open();
    /// mux.enqueue(t, &mut Single::new(&mut Noop), std::time::Instant::now()).unwrap();
    /// mux.written(24);
    /// assert!(mux.output().is_empty() && mux.take(t).written);
    /// ```
    pub fn written(&mut self, n: usize) {
        let n = n.min(self.output().len());
        self.out.drain(..n);
        self.sent += n as u64;
        self.mark_started();
    }

    /// Takes all of [`output`](Mux::output), for a writer that sends it
    /// without holding whatever guards the multiplexer: callers go on
    /// enqueueing meanwhile. The bytes count as handed to the transport
    /// (their tickets' requests may be on the wire from now on); the
    /// buffer comes back with [`give_back`](Mux::give_back), which says
    /// how much the transport took, before anything else is taken.
    ///
    /// ```
    /// use quickmc::command::{Mux, Noop, Single};
    /// let mut mux = Mux::new(1, Default::default());
    /// let t = mux.open();
    /// mux.enqueue(t, &mut Single::new(&mut Noop), std::time::Instant::now())?;
    /// let bytes = mux.take_output();
    /// assert_eq!(bytes.len(), 24);
    /// assert!(mux.output().is_empty() && mux.take(t).written);
    /// # Ok::<(), quickmc::command::MuxError>(())
    /// ```
    pub fn take_output(&mut self) -> Vec<u8> {
        let n = self.output().len();
        // What stays: a segment held back, if any.
        let held = self.out.split_off(n);
        let taken = std::mem::replace(&mut self.out, held);
        self.sent += n as u64;
        self.mark_started();
        taken
    }

    /// Gives back the buffer of [`take_output`](Mux::take_output), of
    /// which the transport took the first `n` bytes: the rest goes back
    /// in front of what was enqueued since, to be written first. (Its
    /// tickets still count as written: their first bytes may be.) Nothing
    /// comes back to a broken multiplexer.
    ///
    /// ```
    /// use quickmc::command::{Mux, Noop, Single};
    /// let mut mux = Mux::new(1, Default::default());
    /// let t = mux.open();
    /// mux.enqueue(t, &mut Single::new(&mut Noop), std::time::Instant::now())?;
    /// let bytes = mux.take_output();
    /// mux.give_back(bytes, 10); // the socket took 10 bytes
    /// assert_eq!(mux.output().len(), 14);
    /// # Ok::<(), quickmc::command::MuxError>(())
    /// ```
    pub fn give_back(&mut self, mut taken: Vec<u8>, n: usize) {
        if self.broken.is_some() {
            return;
        }
        let mut n = n.min(taken.len());
        // Bytes of requests already answered (by a server that replied to
        // what it cannot have read yet) are not sent again: sending
        // resumes where the oldest segment still in flight begins.
        let resume = self.sent.saturating_sub((taken.len() - n) as u64);
        let next = self.segments.front().map_or(self.sent, Segment::begins);
        let answered = usize::try_from(next.saturating_sub(resume)).unwrap_or(usize::MAX);
        n = n.saturating_add(answered).min(taken.len());
        self.sent = self.sent.saturating_sub((taken.len() - n) as u64);
        if n == taken.len() {
            // All written: the buffer serves the next writes, if small.
            if self.out.is_empty() && taken.capacity() <= SPARE_FRAMES {
                taken.clear();
                self.out = taken;
            }
            return;
        }
        taken.drain(..n);
        taken.extend_from_slice(&self.out);
        self.out = taken;
    }

    /// Marks the tickets of the segments begun on the wire as written.
    fn mark_started(&mut self) {
        let mut next = 0;
        while let Some(segment) = self.segments.get(next)
            && segment.begins() < self.sent
        {
            let ticket = segment.ticket;
            if let Some(slot) = self.slot(ticket) {
                slot.written = true;
            }
            next += 1;
        }
    }

    /// Whether nothing is queued or in flight.
    ///
    /// ```
    /// assert!(quickmc::command::Mux::new(1, Default::default()).is_idle());
    /// ```
    pub fn is_idle(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether replies are awaited for bytes already written.
    ///
    /// ```
    /// assert!(!quickmc::command::Mux::new(1, Default::default()).awaits_replies());
    /// ```
    pub fn awaits_replies(&self) -> bool {
        self.segments
            .front()
            .is_some_and(|s| s.begins() < self.sent)
    }

    /// When the oldest segment still waiting for replies was enqueued.
    ///
    /// ```
    /// assert!(quickmc::command::Mux::new(1, Default::default()).oldest().is_none());
    /// ```
    pub fn oldest(&self) -> Option<Instant> {
        self.segments.front().map(|s| s.enqueued)
    }

    /// The ticket owning the oldest segment.
    ///
    /// ```
    /// assert!(quickmc::command::Mux::new(1, Default::default()).head_owner().is_none());
    /// ```
    pub fn head_owner(&self) -> Option<Ticket> {
        self.segments.front().map(|s| s.ticket)
    }

    /// Routes one reply frame (`raw` is its bytes) to the ticket of the
    /// oldest segment; returns that ticket. A reply outside the oldest
    /// segment is a protocol violation: the caller breaks the connection.
    ///
    /// ```
    /// use quickmc::command::{Mux, Noop, Single};
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// let mut mux = Mux::new(1, Default::default());
    /// let stray = Response::new(Opcode::Noop, Status::Ok).opaque(9);
    /// assert!(mux.receive(&stray, &[]).is_err());
    /// ```
    pub fn receive(
        &mut self,
        frame: &Response<'_>,
        raw: &[u8],
    ) -> Result<Option<Ticket>, ProtocolError> {
        Ok(self
            .receive_for(frame, raw, None)?
            .map(|(ticket, _)| ticket))
    }

    /// [`receive`](Mux::receive), except that a reply to `direct` is not
    /// stored when nothing stored for it waits before it: the caller hands
    /// it to `direct`'s exchange itself (a reader reading its own replies
    /// copies and decodes them once). Says whose the reply is, and whether
    /// it was stored.
    ///
    /// ```
    /// use quickmc::command::{Mux, Noop, Single};
    /// use quickmc::protocol::{Opcode, Response, Status};
    /// use std::time::Instant;
    /// let mut mux = Mux::new(1, Default::default());
    /// let me = mux.open();
    /// mux.enqueue(me, &mut Single::new(&mut Noop), Instant::now())?;
    /// let n = mux.output().len();
    /// mux.written(n);
    /// let reply = Response::new(Opcode::Noop, Status::Ok).opaque(1);
    /// assert_eq!(mux.receive_for(&reply, &[], Some(me))?, Some((me, false)));
    /// assert_eq!(mux.take(me).replies, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn receive_for(
        &mut self,
        frame: &Response<'_>,
        raw: &[u8],
        direct: Option<Ticket>,
    ) -> Result<Option<(Ticket, bool)>, ProtocolError> {
        let Some(head) = self.segments.front() else {
            return Err(ProtocolError::Unexpected("a reply with nothing in flight"));
        };
        if head.begins() >= self.sent {
            return Err(ProtocolError::Unexpected("a reply to a request not sent"));
        }
        if !head.owns(frame.opaque) {
            if frame.opaque.wrapping_sub(head.first) >= 1 << 31 {
                // A reply to a request already answered (a server that sent
                // one twice): nobody's, and nothing after it moves.
                self.stale += 1;
                return Ok(None);
            }
            return Err(ProtocolError::Unexpected(
                "a reply out of order (to another request than the oldest)",
            ));
        }
        let last = head.end.wrapping_sub(1);
        let done = match head.shape {
            ReplyShape::One => true,
            ReplyShape::Stream => frame.key.is_empty() || frame.status != Status::Ok,
            ReplyShape::NoopClosed => frame.opaque == last && frame.opcode == Opcode::Noop,
        };
        if done && head.byte_end > self.sent {
            // The server cannot have read the whole segment yet.
            return Err(ProtocolError::Unexpected("a reply to a request not sent"));
        }
        let ticket = head.ticket;
        if done {
            self.finish_head();
        }
        let Some(slot) = self.slot(ticket) else {
            return Ok(None);
        };
        slot.replies += 1;
        if done {
            slot.segments = slot.segments.saturating_sub(1);
        }
        if slot.abandoned {
            // The caller gave up: drop the reply, and free the slot once
            // its last segment has ended.
            if slot.segments == 0 {
                slot.live = false;
            }
            return Ok(None);
        }
        if direct == Some(ticket) && slot.frames.is_empty() && slot.oversized.is_empty() {
            return Ok(Some((ticket, false)));
        }
        slot.frames.extend_from_slice(raw);
        Ok(Some((ticket, true)))
    }

    /// The replies `direct`'s caller may hand to its own exchange without
    /// the multiplexer looking at each: while the oldest segment in flight
    /// is `direct`'s batch window, sent, with nothing stored for it, every
    /// reply before the window's closing Noop is `direct`'s and leaves the
    /// multiplexer as it is — except for the count, given back with
    /// [`received_direct`](Mux::received_direct). Anything else (the Noop
    /// included) goes through [`receive_for`](Mux::receive_for).
    ///
    /// ```
    /// use quickmc::command::{Batch, BatchOp, KeyTable, Mux};
    /// use std::time::Instant;
    /// let mut mux = Mux::new(1, Default::default());
    /// let me = mux.open();
    /// let mut keys = KeyTable::default();
    /// keys.push(b"", b"a");
    /// let mut batch = Batch::new(BatchOp::Get, &keys, &[0], None);
    /// mux.enqueue(me, &mut batch, Instant::now())?;
    /// assert!(mux.direct_run(me).is_none(), "nothing sent yet");
    /// let n = mux.output().len();
    /// mux.written(n);
    /// assert!(mux.direct_run(me).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn direct_run(&self, direct: Ticket) -> Option<DirectRun> {
        let head = self.segments.front()?;
        let slot = self.slot_ref(direct)?;
        let leads = head.ticket == direct
            && head.shape == ReplyShape::NoopClosed
            && head.begins() < self.sent
            && !slot.abandoned
            && slot.frames.is_empty()
            && slot.oversized.is_empty();
        leads.then(|| DirectRun {
            first: head.first,
            noop: head.end.wrapping_sub(1),
        })
    }

    /// Counts `replies` that `direct`'s caller took within a
    /// [`direct_run`](Mux::direct_run).
    ///
    /// ```
    /// let mut mux = quickmc::command::Mux::new(1, Default::default());
    /// let me = mux.open();
    /// mux.received_direct(me, 2);
    /// assert_eq!(mux.take(me).replies, 2);
    /// ```
    pub fn received_direct(&mut self, direct: Ticket, replies: usize) {
        if let Some(slot) = self.slot(direct) {
            slot.replies += replies;
        }
    }

    fn finish_head(&mut self) {
        if let Some(head) = self.segments.pop_front() {
            self.queued_bytes = self.queued_bytes.saturating_sub(head.bytes);
        }
        // A segment held back goes out once it fits, or is alone.
        if self.held > 0
            && (self.segments.len() == 1 || self.queued_bytes + self.held <= self.limits.max_bytes)
        {
            self.queued_bytes += self.held;
            self.held = 0;
        }
    }

    /// A reply whose declared value is above the client's limit: it counts
    /// as its request's reply, as [`receive_for`](Mux::receive_for) would
    /// count it, and its owner is told in its place among the frames; the
    /// driver skips its body. (A value in a stats stream is refused.)
    ///
    /// ```
    /// use quickmc::command::{Get, Mux, Single};
    /// let mut mux = Mux::new(1, Default::default());
    /// assert!(mux.receive_oversized(3, 1 << 30).is_err(), "nothing in flight");
    /// let t = mux.open();
    /// let mut get = Get::new(b"big");
    /// mux.enqueue(t, &mut Single::new(&mut get), std::time::Instant::now())?;
    /// let sent = mux.output().len();
    /// mux.written(sent);
    /// assert_eq!(mux.receive_oversized(1, 1 << 30)?, Some(t));
    /// let delivery = mux.take(t);
    /// assert_eq!((delivery.pending, delivery.oversized.len()), (0, 1));
    /// assert!(mux.is_idle());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn receive_oversized(
        &mut self,
        opaque: u32,
        size: u32,
    ) -> Result<Option<Ticket>, ProtocolError> {
        let Some(head) = self.segments.front() else {
            return Err(ProtocolError::Unexpected("a reply with nothing in flight"));
        };
        if head.begins() >= self.sent {
            return Err(ProtocolError::Unexpected("a reply to a request not sent"));
        }
        if !head.owns(opaque) {
            return Err(ProtocolError::Unexpected(
                "a reply out of order (to another request than the oldest)",
            ));
        }
        // A value ends a single command's segment; in a batch window only
        // the Noop does.
        let done = match head.shape {
            ReplyShape::One => true,
            ReplyShape::NoopClosed => false,
            ReplyShape::Stream => {
                return Err(ProtocolError::Unexpected("a value in a stats reply"));
            }
        };
        if done && head.byte_end > self.sent {
            return Err(ProtocolError::Unexpected("a reply to a request not sent"));
        }
        let ticket = head.ticket;
        if done {
            self.finish_head();
        }
        let Some(slot) = self.slot(ticket) else {
            return Ok(None);
        };
        slot.replies += 1;
        if done {
            slot.segments = slot.segments.saturating_sub(1);
        }
        if slot.abandoned {
            if slot.segments == 0 {
                slot.live = false;
            }
            return Ok(None);
        }
        slot.oversized.push(Oversized {
            at: slot.frames.len(),
            opaque,
            size,
        });
        Ok(Some(ticket))
    }

    /// Breaks the connection: every open ticket fails with `error` — those
    /// with segments queued or in flight first, in stream order, then the
    /// others (one may hold replies it has not taken yet, or have had
    /// requests written before) — and those tickets are returned. A closed
    /// ticket's slot is freed. Nothing more is accepted.
    ///
    /// ```
    /// use quickmc::command::{Mux, Noop, Single};
    /// let mut mux = Mux::new(1, Default::default());
    /// let (t, idle) = (mux.open(), mux.open());
    /// mux.enqueue(t, &mut Single::new(&mut Noop), std::time::Instant::now()).unwrap();
    /// let failed = mux.break_all(quickmc::Error::NoServers);
    /// assert_eq!(failed, vec![t, idle]);
    /// assert!(mux.take(t).failure.is_some() && mux.take(idle).failure.is_some());
    /// ```
    pub fn break_all(&mut self, error: Error) -> Vec<Ticket> {
        self.broken.get_or_insert(error.clone());
        let mut failed = Vec::new();
        for segment in std::mem::take(&mut self.segments) {
            if !failed.contains(&segment.ticket) {
                failed.push(segment.ticket);
            }
        }
        self.out.clear();
        self.queued_bytes = 0;
        self.held = 0;
        for (index, slot) in self.slots.iter().enumerate() {
            let ticket = Ticket {
                index,
                generation: slot.generation,
            };
            if slot.live && !slot.abandoned && !failed.contains(&ticket) {
                failed.push(ticket);
            }
        }
        failed.retain(|&ticket| self.slot_ref(ticket).is_some_and(|s| !s.abandoned));
        for slot in &mut self.slots {
            // Nobody waits on a closed ticket: its slot is free.
            if slot.abandoned {
                slot.live = false;
            }
        }
        for &ticket in &failed {
            if let Some(slot) = self.slot(ticket) {
                slot.segments = 0;
                slot.failure.get_or_insert(error.clone());
            }
        }
        failed
    }

    /// Whether a reply came twice (the server cannot be fully trusted: a
    /// driver retires the connection once it is idle).
    ///
    /// ```
    /// assert!(!quickmc::command::Mux::new(1, Default::default()).saw_stale_replies());
    /// ```
    pub fn saw_stale_replies(&self) -> bool {
        self.stale > 0
    }

    /// Whether the connection is broken.
    ///
    /// ```
    /// assert!(!quickmc::command::Mux::new(1, Default::default()).is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// How many of `ticket`'s segments wait for replies.
    ///
    /// ```
    /// let mut mux = quickmc::command::Mux::new(1, Default::default());
    /// let t = mux.open();
    /// assert_eq!(mux.pending(t), 0);
    /// ```
    pub fn pending(&mut self, ticket: Ticket) -> usize {
        self.slot(ticket).map_or(0, |s| s.segments)
    }

    /// Takes what `ticket` received so far.
    ///
    /// ```
    /// let mut mux = quickmc::command::Mux::new(1, Default::default());
    /// let t = mux.open();
    /// assert!(mux.take(t).frames.is_empty());
    /// ```
    pub fn take(&mut self, ticket: Ticket) -> Delivery {
        let Some(slot) = self.slot(ticket) else {
            return Delivery::default();
        };
        Delivery {
            frames: std::mem::take(&mut slot.frames),
            oversized: std::mem::take(&mut slot.oversized),
            pending: slot.segments,
            replies: slot.replies,
            written: slot.written,
            failure: slot.failure.take(),
        }
    }

    /// Gives back the frame buffer of a delivery of `ticket`, read, for
    /// the next replies to reuse (no allocation per delivery). Only the
    /// first few slots keep one, of at most 64 KiB; other buffers are
    /// dropped, so what a connection keeps stays small.
    ///
    /// ```
    /// let mut mux = quickmc::command::Mux::new(1, Default::default());
    /// let t = mux.open();
    /// let delivery = mux.take(t);
    /// mux.recycle(t, delivery.frames);
    /// ```
    pub fn recycle(&mut self, ticket: Ticket, mut frames: Vec<u8>) {
        if !keeps_spare(ticket, &frames) {
            return;
        }
        if let Some(slot) = self.slot(ticket)
            && slot.frames.is_empty()
        {
            frames.clear();
            slot.frames = frames;
        }
    }

    /// Closes a ticket. If it still has segments in flight, their replies
    /// will be read and dropped (the caller gave up).
    ///
    /// ```
    /// let mut mux = quickmc::command::Mux::new(1, Default::default());
    /// let t = mux.open();
    /// mux.close(t);
    /// ```
    pub fn close(&mut self, ticket: Ticket) {
        if let Some(slot) = self.slot(ticket) {
            slot.frames.clear();
            slot.oversized.clear();
            if !keeps_spare(ticket, &slot.frames) {
                slot.frames = Vec::new();
            }
            slot.abandoned = slot.segments > 0;
            slot.live = slot.abandoned;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Batch, BatchOp, Get, KeyTable, Noop, Single, Stats};

    fn reply(opcode: Opcode, status: Status, opaque: u32) -> Vec<u8> {
        let mut raw = Vec::new();
        Response::new(opcode, status)
            .opaque(opaque)
            .encode(&mut raw)
            .unwrap();
        raw
    }

    fn keys_a_and_b() -> KeyTable {
        let mut keys = KeyTable::default();
        keys.push(b"", b"a");
        keys.push(b"", b"b");
        keys
    }

    fn feed(mux: &mut Mux, raw: &[u8]) -> Result<Option<Ticket>, ProtocolError> {
        let crate::protocol::Decoded::Complete { frame, .. } =
            crate::protocol::decode_response(raw, 1 << 20).unwrap()
        else {
            panic!("a whole frame")
        };
        mux.receive(&frame, raw)
    }

    #[test]
    fn two_callers_requests_go_out_together_and_their_replies_reach_each_in_order() {
        let now = Instant::now();
        let mut mux = Mux::new(10, MuxLimits::default());
        let (a, b) = (mux.open(), mux.open());
        let mut get = Get::new(b"k");
        mux.enqueue(a, &mut Single::new(&mut get), now).unwrap();
        mux.enqueue(b, &mut Single::new(&mut Noop), now).unwrap();
        assert!(!mux.awaits_replies(), "nothing written yet");
        let n = mux.output().len();
        mux.written(n);
        assert!(mux.take(a).written && mux.take(b).written);
        assert!(feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 11)).is_err());
        let miss = reply(Opcode::Get, Status::KeyNotFound, 10);
        assert_eq!(feed(&mut mux, &miss).unwrap(), Some(a));
        assert_eq!(mux.take(a).frames, miss);
        assert_eq!(
            feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 11)).unwrap(),
            Some(b)
        );
        assert!(mux.is_idle());
    }

    #[test]
    fn a_recycled_reply_buffer_serves_the_next_caller_and_a_huge_one_is_dropped() {
        let now = Instant::now();
        let mut mux = Mux::new(1, MuxLimits::default());
        let first = mux.open();
        mux.enqueue(first, &mut Single::new(&mut Noop), now)
            .unwrap();
        let n = mux.output().len();
        mux.written(n);
        feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 1)).unwrap();
        let delivery = mux.take(first);
        assert_eq!(delivery.frames.len(), 24);
        let capacity = delivery.frames.capacity();
        mux.recycle(first, delivery.frames);
        mux.close(first);
        let next = mux.open();
        assert_eq!(next.index, first.index, "the slot is reused");
        let kept = mux
            .slots
            .get(next.index)
            .map(|s| (s.frames.len(), s.frames.capacity()));
        assert_eq!(kept, Some((0, capacity)), "empty, with the old room");
        mux.recycle(next, Vec::with_capacity(SPARE_FRAMES + 1));
        mux.close(next);
        let last = mux.open();
        let kept = mux.slots.get(last.index).map(|s| s.frames.capacity());
        assert!(kept.is_some_and(|c| c <= SPARE_FRAMES), "{kept:?}");
    }

    #[test]
    fn a_batch_window_ends_with_its_noop_and_a_stats_stream_with_its_empty_entry() {
        let now = Instant::now();
        let mut mux = Mux::new(0, MuxLimits::default());
        let keys = keys_a_and_b();
        let items = [0, 1];
        let mut batch = Batch::new(BatchOp::Delete, &keys, &items, None);
        let (t, s) = (mux.open(), mux.open());
        mux.enqueue(t, &mut batch, now).unwrap();
        let mut stats = Stats::new("");
        mux.enqueue(s, &mut Single::new(&mut stats), now).unwrap();
        let n = mux.output().len();
        mux.written(n);
        feed(&mut mux, &reply(Opcode::DeleteQ, Status::KeyNotFound, 1)).unwrap();
        assert_eq!(mux.take(t).pending, 1);
        feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 2)).unwrap();
        assert_eq!(mux.take(t).pending, 0);
        let mut entry = Vec::new();
        Response::new(Opcode::Stat, Status::Ok)
            .opaque(3)
            .key(b"pid")
            .value(b"1")
            .encode(&mut entry)
            .unwrap();
        feed(&mut mux, &entry).unwrap();
        assert_eq!(mux.take(s).pending, 1);
        feed(&mut mux, &reply(Opcode::Stat, Status::Ok, 3)).unwrap();
        assert_eq!(mux.take(s).pending, 0);
    }

    #[test]
    fn a_direct_run_covers_the_readers_leading_window_up_to_its_noop_only() {
        let now = Instant::now();
        let mut mux = Mux::new(0, MuxLimits::default());
        let keys = keys_a_and_b();
        let items = [0, 1];
        let mut batch = Batch::new(BatchOp::Get, &keys, &items, None);
        let (other, me) = (mux.open(), mux.open());
        mux.enqueue(other, &mut Single::new(&mut Noop), now)
            .unwrap(); // opaque 0
        mux.enqueue(me, &mut batch, now).unwrap(); // 1, 2; Noop 3
        assert_eq!(mux.direct_run(me), None, "nothing sent yet");
        let n = mux.output().len();
        mux.written(n);
        assert_eq!(mux.direct_run(me), None, "another's request leads");
        assert_eq!(mux.direct_run(other), None, "a single request is no run");
        feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 0)).unwrap();
        let run = mux.direct_run(me).expect("the reader's window leads now");
        let hit = |opaque| Response::new(Opcode::GetKQ, Status::Ok).opaque(opaque);
        assert!(run.takes(&hit(1)) && run.takes(&hit(2)));
        assert!(!run.takes(&hit(0)), "older than the window");
        assert!(!run.takes(&Response::new(Opcode::Noop, Status::Ok).opaque(3)));
        mux.received_direct(me, 2);
        // A reply stored for it ends the run: what follows must not pass it.
        feed(&mut mux, &reply(Opcode::GetKQ, Status::KeyNotFound, 2)).unwrap();
        assert_eq!(mux.direct_run(me), None);
        assert_eq!(mux.take(me).replies, 3);
        assert!(mux.direct_run(me).is_some(), "taken: the run resumes");
        mux.close(me);
        assert_eq!(mux.direct_run(me), None, "nobody reads for a closed ticket");
    }

    #[test]
    fn an_abandoned_tickets_replies_are_read_and_dropped() {
        let now = Instant::now();
        let mut mux = Mux::new(0, MuxLimits::default());
        let (gone, next) = (mux.open(), mux.open());
        mux.enqueue(gone, &mut Single::new(&mut Noop), now).unwrap();
        mux.enqueue(next, &mut Single::new(&mut Noop), now).unwrap();
        let n = mux.output().len();
        mux.written(n);
        mux.close(gone);
        assert_eq!(
            feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 0)).unwrap(),
            None
        );
        assert_eq!(
            feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 1)).unwrap(),
            Some(next)
        );
        // The abandoned slot is reused, and the old ticket sees nothing.
        let again = mux.open();
        assert_eq!(again.index, gone.index);
        assert!(mux.take(gone).frames.is_empty());
    }

    #[test]
    fn the_limits_push_back_and_a_broken_connection_fails_every_ticket_once() {
        let now = Instant::now();
        let limits = MuxLimits {
            max_segments: 2,
            max_bytes: 1 << 20,
        };
        let mut mux = Mux::new(0, limits);
        let tickets: Vec<Ticket> = (0..3).map(|_| mux.open()).collect();
        mux.enqueue(tickets[0], &mut Single::new(&mut Noop), now)
            .unwrap();
        mux.enqueue(tickets[1], &mut Single::new(&mut Noop), now)
            .unwrap();
        assert_eq!(
            mux.enqueue(tickets[2], &mut Single::new(&mut Noop), now),
            Err(MuxError::Full)
        );
        let failed = mux.break_all(Error::NoServers);
        assert_eq!(failed, tickets, "every open ticket, the waiting one too");
        assert!(mux.take(tickets[0]).failure.is_some());
        assert!(mux.take(tickets[0]).failure.is_none(), "taken once");
        assert_eq!(
            mux.enqueue(tickets[2], &mut Single::new(&mut Noop), now),
            Err(MuxError::Broken)
        );
    }

    #[test]
    fn a_break_fails_every_open_ticket_and_frees_closed_ones() {
        let now = Instant::now();
        let mut mux = Mux::new(0, MuxLimits::default());
        let (answered, waiting, gone) = (mux.open(), mux.open(), mux.open());
        mux.enqueue(answered, &mut Single::new(&mut Noop), now)
            .unwrap();
        mux.enqueue(gone, &mut Single::new(&mut Noop), now).unwrap();
        let n = mux.output().len();
        mux.written(n);
        let reply = reply(Opcode::Noop, Status::Ok, 0);
        assert_eq!(feed(&mut mux, &reply).unwrap(), Some(answered));
        mux.close(gone);
        // `answered` has not taken its reply yet: it fails with it in hand
        // (its caller must not think nothing was written).
        let failed = mux.break_all(Error::NoServers);
        assert_eq!(failed, vec![answered, waiting]);
        let delivery = mux.take(answered);
        assert!(delivery.failure.is_some() && delivery.written);
        assert_eq!(delivery.frames, reply);
        assert!(mux.take(gone).failure.is_none());
        assert_eq!(
            mux.open().index,
            gone.index,
            "the closed ticket's slot is free"
        );
    }

    #[test]
    fn output_a_writer_takes_counts_as_written_and_its_unsent_rest_goes_out_first() {
        let now = Instant::now();
        let mut mux = Mux::new(0, MuxLimits::default());
        let (a, b) = (mux.open(), mux.open());
        let (mut get_a, mut get_b) = (Get::new(b"a"), Get::new(b"b"));
        mux.enqueue(a, &mut Single::new(&mut get_a), now).unwrap();
        let wire_a = mux.output().to_vec();
        let taken = mux.take_output();
        assert_eq!(taken, wire_a);
        assert!(mux.output().is_empty() && mux.awaits_replies());
        // Another caller enqueues while the writer sends; the socket takes
        // only 10 bytes of the first request.
        mux.enqueue(b, &mut Single::new(&mut get_b), now).unwrap();
        let wire_b = mux.output().to_vec();
        mux.give_back(taken, 10);
        assert_eq!(mux.output(), [&wire_a[10..], &wire_b[..]].concat());
        assert!(mux.take(a).written, "its first bytes may be on the wire");
        assert!(!mux.take(b).written);
        // Not wholly written: its reply cannot have come yet.
        assert!(feed(&mut mux, &reply(Opcode::Get, Status::KeyNotFound, 0)).is_err());
        let all = mux.take_output();
        mux.give_back(all, usize::MAX);
        assert_eq!(
            feed(&mut mux, &reply(Opcode::Get, Status::KeyNotFound, 0)).unwrap(),
            Some(a)
        );
        assert_eq!(
            feed(&mut mux, &reply(Opcode::Get, Status::KeyNotFound, 1)).unwrap(),
            Some(b)
        );
        assert!(mux.is_idle() && mux.output().is_empty());
    }

    #[test]
    fn output_given_back_to_a_broken_connection_is_dropped() {
        let mut mux = Mux::new(0, MuxLimits::default());
        let t = mux.open();
        let mut get = Get::new(b"a");
        mux.enqueue(t, &mut Single::new(&mut get), Instant::now())
            .unwrap();
        let taken = mux.take_output();
        mux.break_all(Error::NoServers);
        mux.give_back(taken, 0);
        assert!(mux.output().is_empty() && mux.is_broken());
    }

    #[test]
    fn a_reply_to_what_was_not_wholly_written_is_refused() {
        let now = Instant::now();
        let mut mux = Mux::new(0, MuxLimits::default());
        let t = mux.open();
        let mut get = Get::new(b"key");
        mux.enqueue(t, &mut Single::new(&mut get), now).unwrap();
        assert!(
            mux.receive_oversized(0, 1 << 30).is_err(),
            "nothing written"
        );
        mux.written(10);
        assert!(feed(&mut mux, &reply(Opcode::Get, Status::KeyNotFound, 0)).is_err());
        let rest = mux.output().len();
        mux.written(rest);
        assert_eq!(
            feed(&mut mux, &reply(Opcode::Get, Status::KeyNotFound, 0)).unwrap(),
            Some(t)
        );
        assert!(mux.is_idle() && mux.output().is_empty());
    }

    #[test]
    fn a_segment_too_big_to_join_is_held_back_until_there_is_room() {
        let now = Instant::now();
        let limits = MuxLimits {
            max_segments: 8,
            max_bytes: 100,
        };
        let mut mux = Mux::new(0, limits);
        let (a, b, c) = (mux.open(), mux.open(), mux.open());
        mux.enqueue(a, &mut Single::new(&mut Noop), now).unwrap();
        let value = [b'v'; 200];
        let mut set =
            crate::command::Store::new(crate::command::StoreMode::Set, b"k", &value, 0, 0);
        mux.enqueue(b, &mut Single::new(&mut set), now).unwrap();
        assert_eq!(mux.output().len(), 24, "only the Noop goes out");
        assert_eq!(mux.pending(b), 1);
        assert_eq!(
            mux.enqueue(c, &mut Single::new(&mut Noop), now),
            Err(MuxError::Full),
            "nobody passes the held segment"
        );
        mux.written(24);
        assert!(mux.output().is_empty());
        feed(&mut mux, &reply(Opcode::Noop, Status::Ok, 0)).unwrap();
        assert_eq!(mux.output().len(), 24 + 8 + 1 + 200, "alone, it goes out");
        mux.written(233);
        assert_eq!(
            feed(&mut mux, &reply(Opcode::Set, Status::Ok, 1)).unwrap(),
            Some(b)
        );
        assert!(mux.take(b).written);
    }
}
