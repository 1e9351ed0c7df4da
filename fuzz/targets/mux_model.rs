//! What `command::Mux`'s documentation (and the builder's for
//! `pipeline_limits`) says a multiplexer does, written apart from it, for
//! the `mux` target.
//!
//! - Each caller enqueues segments (one request, or one batch window); the
//!   bytes go on the wire in enqueue order, and `written(n)` takes the first
//!   `n` of them. A writer may instead take all of them at once and give
//!   back what the transport did not take, which goes out first: everything
//!   taken counts as written for its tickets (some of it may be on the
//!   wire), and the stream goes on from what the transport did take — or
//!   from the oldest segment still in flight, when a (hostile) server
//!   answered bytes the transport had not taken yet.
//! - While other segments are queued or in flight, a segment is let in only
//!   within the limits: fewer than `max_segments` segments before it, and its
//!   bytes with theirs at most `max_bytes`. One that does not fit is taken
//!   but held back (off the wire, and nothing else let in) until it fits or
//!   is alone. A caller alone on an idle connection is always let in.
//! - Replies come in request order: a reply belongs to the oldest segment
//!   (once some of it was written) when its opaque is one of that
//!   segment's; a reply to a request already answered is nobody's (stale);
//!   one to a later request is a protocol violation. A segment ends with its
//!   one reply, its stream's empty entry or error, or its window's Noop —
//!   once all of it was written (before, the server cannot have read it).
//! - A reply reaches the segment's ticket, unless the caller gave up (closed
//!   the ticket): then it is read and dropped, and the ticket's slot is free
//!   once its last segment ended.
//! - An oversized reply (its body skipped by the driver) counts as its
//!   request's reply, as any other value would; its owner hears of it in
//!   its place among the frames. A value in a stats stream is refused.
//! - Breaking the connection fails every open ticket; nothing is enqueued
//!   afterwards.

use std::time::Instant;

use quickmc::command::{Exchange, MuxLimits, Oversized, ReplyShape, Ticket};
use quickmc::protocol::{Opcode, Response, Status};

/// One segment, as the model sees it.
#[derive(Debug, Clone)]
pub struct Seg {
    pub ticket: Ticket,
    pub first: u32,
    /// One past the last opaque.
    pub end: u32,
    pub shape: ReplyShape,
    /// The requests' opcode (a batch's quiet one; its window ends with a Noop).
    pub opcode: Opcode,
    /// Stream position of the first byte.
    pub begins: u64,
    pub len: usize,
    /// Bytes held back (off the wire) until the segment fits.
    pub held: Option<Vec<u8>>,
    pub enqueued: Instant,
    /// The next opaque an honest server answers in this segment.
    pub cursor: u32,
}

impl Seg {
    pub fn owns(&self, opaque: u32) -> bool {
        opaque.wrapping_sub(self.first) < self.end.wrapping_sub(self.first)
    }

    /// The segment's last opaque (a window's Noop).
    pub fn last(&self) -> u32 {
        self.end.wrapping_sub(1)
    }
}

/// A ticket the model knows: open, or closed with replies still due.
#[derive(Debug, Clone)]
pub struct Entry {
    pub ticket: Ticket,
    pub closed: bool,
    pub frames: Vec<u8>,
    pub oversized: Vec<Oversized>,
    pub pending: usize,
    pub replies: usize,
    pub written: bool,
    pub failed: bool,
}

/// What a reply must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Refused: a protocol violation (the driver then breaks the connection).
    Refused,
    /// Taken and given to nobody (stale, or its caller gave up).
    Nobody,
    /// Taken for this ticket.
    To(Ticket),
    /// A reply to an opaque never sent: refused, or skipped as stale;
    /// never given to anyone.
    RefusedOrNobody,
}

/// The multiplexer as its documentation describes it.
#[derive(Debug)]
pub struct Model {
    pub limits: MuxLimits,
    pub next_opaque: u32,
    /// Bytes on the wire side not yet written, in order.
    pub wire: Vec<u8>,
    /// Stream positions: bytes ever enqueued, ever written.
    pub enqueued: u64,
    pub sent: u64,
    pub segs: std::collections::VecDeque<Seg>,
    /// Opaque ranges of segments already ended, most recent last.
    pub ended: Vec<(u32, u32)>,
    pub entries: Vec<Entry>,
    pub broken: bool,
    pub stale: bool,
}

impl Model {
    pub fn new(first_opaque: u32, limits: MuxLimits) -> Model {
        Model {
            limits,
            next_opaque: first_opaque,
            wire: Vec::new(),
            enqueued: 0,
            sent: 0,
            segs: Default::default(),
            ended: Vec::new(),
            entries: Vec::new(),
            broken: false,
            stale: false,
        }
    }

    pub fn entry(&mut self, ticket: Ticket) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.ticket == ticket)
    }

    pub fn open_entry(&mut self, ticket: Ticket) -> Option<&mut Entry> {
        self.entry(ticket).filter(|e| !e.closed)
    }

    pub fn open(&mut self, ticket: Ticket) {
        assert!(
            self.entries.iter().all(|e| e.ticket != ticket),
            "a ticket handed out twice: {ticket:?}"
        );
        self.entries.push(Entry {
            ticket,
            closed: false,
            frames: Vec::new(),
            oversized: Vec::new(),
            pending: 0,
            replies: 0,
            written: false,
            failed: false,
        });
    }

    /// Segments let in (not held back), and their bytes.
    pub fn admitted(&self) -> (usize, usize) {
        self.segs
            .iter()
            .filter(|s| s.held.is_none())
            .fold((0, 0), |(n, b), s| (n + 1, b + s.len))
    }

    fn holding(&self) -> bool {
        self.segs.back().is_some_and(|s| s.held.is_some())
    }

    /// Whether a caller must wait for room now.
    pub fn full(&self) -> bool {
        let (segments, bytes) = self.admitted();
        !self.segs.is_empty()
            && (self.holding()
                || segments >= self.limits.max_segments
                || bytes > self.limits.max_bytes)
    }

    /// Enqueues `twin`'s next segment (the same exchange as the one the
    /// multiplexer was given, in the same state) for `ticket`; returns
    /// whether something was enqueued.
    pub fn enqueue(
        &mut self,
        ticket: Ticket,
        twin: &mut dyn Exchange,
        opcode: Opcode,
        now: Instant,
    ) -> bool {
        if self.broken || self.full() || self.open_entry(ticket).is_none() {
            return false;
        }
        if twin.is_transmitted() {
            return false;
        }
        let first = self.next_opaque;
        let mut bytes = Vec::new();
        twin.transmit(&mut self.next_opaque, &mut bytes, 1);
        if self.next_opaque == first {
            assert!(bytes.is_empty(), "bytes sent without an opaque");
            return false;
        }
        assert!(!bytes.is_empty(), "opaques taken without a request sent");
        let (segments, admitted) = self.admitted();
        let fits = self.segs.is_empty()
            || (segments < self.limits.max_segments
                && admitted + bytes.len() <= self.limits.max_bytes);
        let len = bytes.len();
        let held = if fits {
            self.wire.extend_from_slice(&bytes);
            None
        } else {
            Some(bytes)
        };
        self.segs.push_back(Seg {
            ticket,
            first,
            end: self.next_opaque,
            shape: twin.reply_shape(),
            opcode,
            begins: self.enqueued,
            len,
            held,
            enqueued: now,
            cursor: first,
        });
        self.enqueued += len as u64;
        if let Some(e) = self.entry(ticket) {
            e.pending += 1;
        }
        true
    }

    /// Bytes on the wire side, not written yet.
    pub fn output(&self) -> &[u8] {
        &self.wire
    }

    pub fn written(&mut self, n: usize) {
        let n = n.min(self.wire.len());
        self.wire.drain(..n);
        self.sent += n as u64;
        let sent = self.sent;
        let begun: Vec<Ticket> = self
            .segs
            .iter()
            .filter(|s| s.begins < sent)
            .map(|s| s.ticket)
            .collect();
        for ticket in begun {
            if let Some(e) = self.entry(ticket) {
                e.written = true;
            }
        }
    }

    /// A writer takes all the output (see the module docs).
    pub fn take_output(&mut self) -> Vec<u8> {
        let taken = self.wire.clone();
        self.written(taken.len());
        taken
    }

    /// The writer gives back what it took, of which the transport took
    /// the first `n` bytes; nothing comes back once broken.
    pub fn give_back(&mut self, taken: &[u8], n: usize) {
        if self.broken {
            return;
        }
        // What answered requests' bytes it holds is not sent again: sending
        // resumes where the oldest segment still in flight begins.
        let resume = self.sent - (taken.len() - n.min(taken.len())) as u64;
        let next = self.segs.front().map_or(self.sent, |s| s.begins);
        let skip = (next.saturating_sub(resume)) as usize;
        let unsent = taken
            .get((n.min(taken.len()) + skip).min(taken.len())..)
            .unwrap_or_default();
        self.sent -= unsent.len() as u64;
        let mut wire = unsent.to_vec();
        wire.extend_from_slice(&self.wire);
        self.wire = wire;
    }

    /// Whether replies are awaited for bytes already written.
    pub fn awaits_replies(&self) -> bool {
        self.segs.front().is_some_and(|s| s.begins < self.sent)
    }

    /// Whether a reply with this opaque ended long ago.
    fn answered(&self, opaque: u32) -> bool {
        self.ended
            .iter()
            .any(|&(first, end)| opaque.wrapping_sub(first) < end.wrapping_sub(first))
    }

    /// What a reply must do, and its effect when taken.
    pub fn receive(&mut self, frame: &Response<'_>, raw: &[u8]) -> Expect {
        let Some(head) = self.segs.front() else {
            return Expect::Refused;
        };
        if head.begins >= self.sent {
            return Expect::Refused;
        }
        if !head.owns(frame.opaque) {
            if self.answered(frame.opaque) {
                self.stale = true;
                return Expect::Nobody;
            }
            if self.segs.iter().any(|s| s.owns(frame.opaque)) {
                return Expect::Refused;
            }
            return Expect::RefusedOrNobody;
        }
        let ends = match head.shape {
            ReplyShape::One => true,
            ReplyShape::Stream => frame.key.is_empty() || frame.status != Status::Ok,
            ReplyShape::NoopClosed => frame.opaque == head.last() && frame.opcode == Opcode::Noop,
        };
        if ends && head.begins + head.len as u64 > self.sent {
            // The server cannot have read all of the segment yet.
            return Expect::Refused;
        }
        let ticket = head.ticket;
        if ends {
            self.end_head();
        } else if let Some(head) = self.segs.front_mut() {
            head.cursor = frame.opaque.wrapping_add(1);
        }
        let Some(e) = self.entry(ticket) else {
            panic!("a segment of a ticket the model forgot: {ticket:?}");
        };
        e.replies += 1;
        if ends {
            e.pending -= 1;
        }
        if e.closed {
            if e.pending == 0 {
                self.entries.retain(|e| e.ticket != ticket);
            }
            return Expect::Nobody;
        }
        e.frames.extend_from_slice(raw);
        Expect::To(ticket)
    }

    fn end_head(&mut self) {
        let Some(head) = self.segs.pop_front() else {
            return;
        };
        self.ended.push((head.first, head.end));
        // A segment held back goes on the wire once it fits, or is alone.
        let (segments, bytes) = self.admitted();
        if let Some(held) = self.segs.back_mut()
            && let Some(len) = held.held.as_ref().map(Vec::len)
            && (segments == 0 || bytes + len <= self.limits.max_bytes)
            && let Some(bytes) = held.held.take()
        {
            self.wire.extend_from_slice(&bytes);
        }
    }

    /// An oversized reply's header: it counts as its request's reply (a
    /// single command's segment ends; a window goes on), and its owner
    /// hears of it where it came among the frames.
    pub fn receive_oversized(&mut self, opaque: u32, size: u32) -> Expect {
        let Some(head) = self.segs.front() else {
            return Expect::Refused;
        };
        if head.begins >= self.sent || !head.owns(opaque) {
            return Expect::Refused;
        }
        let ends = match head.shape {
            ReplyShape::One => true,
            ReplyShape::NoopClosed => false,
            ReplyShape::Stream => return Expect::Refused,
        };
        if ends && head.begins + head.len as u64 > self.sent {
            return Expect::Refused;
        }
        let ticket = head.ticket;
        if ends {
            self.end_head();
        } else if let Some(head) = self.segs.front_mut() {
            head.cursor = opaque.wrapping_add(1);
        }
        let Some(e) = self.entry(ticket) else {
            panic!("a segment of a ticket the model forgot: {ticket:?}");
        };
        e.replies += 1;
        if ends {
            e.pending -= 1;
        }
        if e.closed {
            if e.pending == 0 {
                self.entries.retain(|e| e.ticket != ticket);
            }
            return Expect::Nobody;
        }
        let at = e.frames.len();
        e.oversized.push(Oversized { at, opaque, size });
        Expect::To(ticket)
    }

    /// Breaks the connection; returns the open tickets, which all fail.
    pub fn break_all(&mut self) -> Vec<Ticket> {
        self.broken = true;
        self.segs.clear();
        self.wire.clear();
        self.entries.retain(|e| !e.closed);
        for e in &mut self.entries {
            e.pending = 0;
            e.failed = true;
        }
        self.entries.iter().map(|e| e.ticket).collect()
    }

    /// The caller gives up on `ticket`.
    pub fn close(&mut self, ticket: Ticket) {
        if let Some(e) = self.open_entry(ticket) {
            e.closed = true;
            e.frames.clear();
            e.oversized.clear();
            if e.pending == 0 {
                self.entries.retain(|e| e.ticket != ticket);
            }
        }
    }

    /// Tickets a slot is held for now (open, or closed with replies due).
    pub fn slots(&self) -> usize {
        self.entries.len()
    }
}
