//! Running quiet batches on one or many connections at once.
//!
//! Each connection (a "lane") gets its requests followed by one Noop. The
//! driver writes every lane's requests before waiting on any, and reads
//! whenever a write would block, so memcached — which stops reading while it
//! cannot write its replies — never deadlocks against it, whatever the batch
//! size. Requests are encoded a chunk at a time, so memory stays near one
//! chunk plus the replies, not the whole batch.

use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::net::SendFlags;

use super::{Connection, closed, io_error};
use crate::protocol::{BatchMatcher, Decoded, Matched, Opcode, Request, Response, decode_response};
use crate::{Error, ProtocolError, Result};

/// Encode more requests once fewer than this many bytes wait to be sent.
const WRITE_CHUNK: usize = 64 * 1024;

/// What a multi-key operation supplies: its requests and what to do with replies.
pub(crate) trait BatchHandler {
    /// The opcode every request of the batch uses (replies echo it).
    fn opcode(&self) -> Opcode;
    /// Encodes request `item` (an index the caller chose) with `opaque`.
    /// A handler may write nothing for an item it cannot encode (recording
    /// why): a quiet request never sent gets no reply, so the batch stays
    /// in step. An error aborts the batch and discards the connection.
    fn encode(&mut self, item: usize, opaque: u32, buf: &mut Vec<u8>) -> Result<()>;
    /// The key request `item` names (checked against key-echoing replies).
    fn key(&self, item: usize) -> &[u8];
    /// A reply for request `item` (quiet requests answer only on a hit or an error).
    fn on_reply(&mut self, item: usize, reply: &Response<'_>);
}

/// One connection's share of a batch.
pub(crate) struct Lane<'c> {
    pub(crate) conn: &'c mut Connection,
    /// The items (caller's indices) to send on this connection, in order.
    pub(crate) items: &'c [u32],
    /// `Ok` once the closing Noop came back; the error otherwise.
    pub(crate) outcome: Result<()>,
    state: LaneState,
}

struct LaneState {
    matcher: BatchMatcher,
    next_item: usize,
    noop_encoded: bool,
    written: usize,
    needed: usize,
    last_progress: Instant,
    done: bool,
    replies: usize,
    /// A blocking read made progress; the next round stamps the time.
    progressed: bool,
}

impl<'c> Lane<'c> {
    pub(crate) fn new(conn: &'c mut Connection, items: &'c [u32], opcode: Opcode) -> Lane<'c> {
        let count = items.len();
        let first = conn.take_opaques(u32::try_from(count + 1).unwrap_or(u32::MAX));
        Lane {
            conn,
            items,
            outcome: Ok(()),
            state: LaneState {
                matcher: BatchMatcher::new(first, count, opcode),
                next_item: 0,
                noop_encoded: false,
                written: 0,
                needed: 0,
                last_progress: Instant::now(),
                done: false,
                replies: 0,
                progressed: false,
            },
        }
    }

    /// Replies received so far (the closing Noop included).
    pub(crate) fn replies(&self) -> usize {
        self.state.replies
    }

    fn finish(&mut self, outcome: Result<()>) {
        if let Err(e) = &outcome
            && (e.breaks_connection() || !self.state.matcher.is_done())
        {
            self.conn.mark_broken();
        }
        self.outcome = outcome;
        self.state.done = true;
    }

    /// Encodes more requests when the write buffer has drained below a chunk.
    fn refill(&mut self, handler: &mut dyn BatchHandler) -> Result<()> {
        let parts = self.conn.parts();
        let st = &mut self.state;
        // Drop what was sent, so the buffer stays near one chunk however
        // large the batch (a partial send leaves a tail to move forward).
        if st.written > 0 && st.written == parts.write.len() {
            parts.write.clear();
            st.written = 0;
        } else if st.written >= WRITE_CHUNK {
            parts.write.drain(..st.written);
            st.written = 0;
        }
        while parts.write.len() - st.written < WRITE_CHUNK {
            if let Some(&item) = self.items.get(st.next_item) {
                let opaque = st.matcher.opaque_of(st.next_item);
                handler.encode(item as usize, opaque, parts.write)?;
                st.next_item += 1;
            } else if !st.noop_encoded {
                Request::new(Opcode::Noop, b"")
                    .opaque(st.matcher.noop_opaque())
                    .encode(parts.write)?;
                st.noop_encoded = true;
            } else {
                break;
            }
        }
        Ok(())
    }

    fn has_unsent(&self) -> bool {
        !self.state.noop_encoded || self.state.written < self.conn.write_len()
    }

    /// Sends as much as the socket takes without blocking.
    fn write_some(&mut self, handler: &mut dyn BatchHandler) -> Result<bool> {
        let mut progressed = false;
        loop {
            self.refill(handler)?;
            let parts = self.conn.parts();
            let Some(unsent) = parts
                .write
                .get(self.state.written..)
                .filter(|u| !u.is_empty())
            else {
                return Ok(progressed);
            };
            match rustix::net::send(
                parts.stream,
                unsent,
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            ) {
                Ok(n) => {
                    self.state.written += n;
                    progressed = true;
                }
                Err(rustix::io::Errno::AGAIN) => return Ok(progressed),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(io_error(parts.server, e.into())),
            }
        }
    }

    /// Receives once (blocking or not) and handles every whole reply.
    fn read_some(&mut self, handler: &mut dyn BatchHandler, blocking: bool) -> Result<bool> {
        let parts = self.conn.parts();
        let server = parts.server.clone();
        match parts.read.recv(parts.stream, self.state.needed, !blocking) {
            Ok(0) => return Err(closed(&server)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !blocking => return Ok(false),
            Err(e) => return Err(io_error(&server, e)),
        }
        let max_body = self.conn.max_body();
        let parts = self.conn.parts();
        let protocol = |error: ProtocolError| Error::Protocol {
            server: server.clone(),
            error,
        };
        loop {
            let (len, matched) = match decode_response(parts.read.data(), max_body) {
                Ok(Decoded::Partial { needed }) => {
                    self.state.needed = needed;
                    return Ok(true);
                }
                Err(e) => return Err(protocol(e.into())),
                Ok(Decoded::Complete { frame, len }) => {
                    let items = self.items;
                    let key_of = |i: usize| items.get(i).map(|&item| handler.key(item as usize));
                    let matched = self
                        .state
                        .matcher
                        .accept(&frame, key_of)
                        .map_err(|e| protocol(e.into()))?;
                    if let Matched::Reply(index) = matched
                        && let Some(&item) = self.items.get(index)
                    {
                        handler.on_reply(item as usize, &frame);
                    }
                    (len, matched)
                }
            };
            parts.read.consume(len);
            if matched == Matched::End {
                if !parts.read.is_empty() {
                    return Err(protocol(ProtocolError::Unexpected(
                        "bytes after the end of a batch",
                    )));
                }
                self.state.needed = 0;
                return Ok(true);
            }
        }
    }
}

impl Connection {
    fn write_len(&self) -> usize {
        self.write.len()
    }
}

fn remaining(deadline: Option<Instant>, now: Instant) -> Option<Duration> {
    deadline.map(|d| d.saturating_duration_since(now))
}

/// Runs every lane's batch to its closing Noop, or to its error, reading and
/// writing all lanes at once. `deadline` bounds the whole batch; each lane's
/// I/O timeout bounds the time it may go without progress.
pub(crate) fn run_batch(
    lanes: &mut [Lane<'_>],
    handler: &mut dyn BatchHandler,
    deadline: Option<Instant>,
) {
    for lane in lanes.iter_mut() {
        match lane.conn.begin() {
            Ok(()) => lane.conn.write.clear(),
            Err(e) => lane.finish(Err(e)),
        }
    }
    let mut poll_set: Vec<(usize, PollFlags)> = Vec::with_capacity(lanes.len());
    loop {
        let now = Instant::now();
        poll_set.clear();
        for (index, lane) in lanes.iter_mut().enumerate() {
            if lane.state.done {
                continue;
            }
            if std::mem::take(&mut lane.state.progressed) {
                lane.state.last_progress = now;
            }
            let step = (|| -> Result<Option<PollFlags>> {
                if lane.write_some(handler)? {
                    lane.state.last_progress = now;
                }
                let unsent = lane.has_unsent();
                if !unsent && lane.state.matcher.is_done() {
                    return Ok(None);
                }
                Ok(Some(if unsent {
                    PollFlags::IN | PollFlags::OUT
                } else {
                    PollFlags::IN
                }))
            })();
            match step {
                Ok(None) => lane.finish(Ok(())),
                Ok(Some(flags)) => poll_set.push((index, flags)),
                Err(e) => lane.finish(Err(e)),
            }
        }
        if poll_set.is_empty() {
            return;
        }
        // Lanes past their deadline or I/O timeout fail now.
        let mut wait: Option<Duration> = remaining(deadline, now);
        for &(index, _) in &poll_set {
            if let Some(lane) = lanes.get(index)
                && let Some(timeout) = lane.conn.io_timeout()
            {
                let left = timeout.saturating_sub(now.duration_since(lane.state.last_progress));
                wait = Some(wait.map_or(left, |w| w.min(left)));
            }
        }
        if wait == Some(Duration::ZERO) {
            expire(lanes, &poll_set, deadline, now);
            continue;
        }
        // One lane with everything sent: a blocking read (bounded by the
        // socket's I/O timeout) costs one syscall where poll + recv cost two.
        if let [(index, flags)] = poll_set[..]
            && flags == PollFlags::IN
            && deadline.is_none()
        {
            if let Some(lane) = lanes.get_mut(index) {
                match lane.read_some(handler, true) {
                    // Stamped with the next round's clock reading.
                    Ok(_) => lane.state.progressed = true,
                    Err(e) => lane.finish(Err(e)),
                }
            }
            continue;
        }
        let ready = {
            let mut fds: Vec<PollFd<'_>> = poll_set
                .iter()
                .filter_map(|&(index, flags)| {
                    lanes
                        .get(index)
                        .map(|lane| PollFd::from_borrowed_fd(lane.conn.stream.as_fd(), flags))
                })
                .collect();
            let timeout = wait.map(|w| Timespec {
                tv_sec: w.as_secs() as i64,
                tv_nsec: i64::from(w.subsec_nanos()),
            });
            match rustix::event::poll(&mut fds, timeout.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => {
                    let e: io::Error = e.into();
                    for &(index, _) in &poll_set {
                        if let Some(lane) = lanes.get_mut(index) {
                            let error = io_error(
                                lane.conn.server_name(),
                                io::Error::new(e.kind(), e.to_string()),
                            );
                            lane.finish(Err(error));
                        }
                    }
                    return;
                }
            }
            fds.iter().map(|fd| fd.revents()).collect::<Vec<_>>()
        };
        let now = Instant::now();
        for (&(index, _), revents) in poll_set.iter().zip(ready) {
            let Some(lane) = lanes.get_mut(index) else {
                continue;
            };
            if revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
                match lane.read_some(handler, false) {
                    Ok(true) => lane.state.last_progress = now,
                    Ok(false) => {}
                    Err(e) => lane.finish(Err(e)),
                }
            }
        }
        expire(lanes, &poll_set, deadline, Instant::now());
    }
}

fn expire(
    lanes: &mut [Lane<'_>],
    poll_set: &[(usize, PollFlags)],
    deadline: Option<Instant>,
    now: Instant,
) {
    for &(index, _) in poll_set {
        let Some(lane) = lanes.get_mut(index) else {
            continue;
        };
        if lane.state.done {
            continue;
        }
        let past_deadline = deadline.is_some_and(|d| now >= d);
        let idle_too_long = lane
            .conn
            .io_timeout()
            .is_some_and(|t| now.duration_since(lane.state.last_progress) >= t);
        if past_deadline || idle_too_long {
            let server = lane.conn.server_name().clone();
            lane.finish(Err(Error::Timeout { server }));
        }
    }
}
