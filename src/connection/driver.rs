//! The blocking driver: runs exchanges on one or many connections at once.
//!
//! Each lane is one connection and one exchange. The driver writes every
//! lane's requests before waiting on any, and reads whenever a socket has
//! replies, so memcached — which stops reading while it cannot write its
//! replies — never deadlocks against it, whatever the batch size. It only
//! moves bytes: requests come from the exchange a chunk at a time, reply
//! frames go back to it, decoded once.

use std::io;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use super::{Connection, closed, io_error};
use crate::command::Exchange;
use crate::protocol::{DecodeError, Decoded, decode_response};
use crate::transport::Wait;
use crate::{Error, ProtocolError};

/// Encode more requests once fewer than this many bytes wait to be sent.
const WRITE_CHUNK: usize = 64 * 1024;

/// The largest body a real server can send: memcached's item size limit
/// (`-I`) goes up to 1 GiB. A longer declaration is a protocol violation,
/// not a value too large for this client.
const LARGEST_ITEM: u32 = (1 << 30) + 4096;

/// What a reply body holds besides its value: a Get's 4 bytes of flags,
/// and a key of up to 250 bytes where it is echoed.
const BODY_OVERHEAD: u32 = 4 + 250;

/// A blocking read that starts this close to a full I/O timeout still ends
/// within the deadline (give or take this much).
pub(crate) const BLOCKING_SLACK: Duration = Duration::from_millis(1);

/// How long an exchange may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    /// When the whole exchange must be done (`None`: no limit).
    pub(crate) overall: Option<Instant>,
    /// How long a lane may go without progress (`None`: no limit).
    pub(crate) idle: Option<Duration>,
}

impl Deadline {
    /// One operation's reply: the I/O timeout bounds the whole of it.
    pub(crate) fn reply(io_timeout: Option<Duration>) -> Deadline {
        Deadline {
            overall: io_timeout.map(|t| Instant::now() + t),
            idle: io_timeout,
        }
    }

    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.overall.map(|d| d.saturating_duration_since(now))
    }
}

/// Why a lane stopped before its exchange completed, with what had
/// happened by then (what the retry rule needs to know).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) error: Error,
    /// Whether any request byte reached the socket.
    pub(crate) written: bool,
    /// Whether any reply to this exchange arrived.
    pub(crate) replied: bool,
    /// Whether the server's health already counted this failure (a shared
    /// connection that broke fails every caller on it, but is one event).
    pub(crate) counted: bool,
}

impl Failure {
    /// A failure before anything was sent.
    pub(crate) fn unwritten(error: Error) -> Failure {
        Failure {
            error,
            written: false,
            replied: false,
            counted: false,
        }
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.error
    }
}

/// One connection running one exchange.
pub(crate) struct Lane<'a> {
    conn: &'a mut Connection,
    exchange: &'a mut dyn Exchange,
    /// Bytes of `conn.write` already sent.
    written: usize,
    wrote_any: bool,
    /// Unconsumed input the next frame needs (0: unknown).
    needed: usize,
    /// The first opaque of this exchange: replies to older ones are stale.
    first_opaque: u32,
    last_progress: Instant,
    /// What this step waits for on the lane's socket (`None`: nothing).
    polled: Option<PollFlags>,
    /// The connection was made for this exchange (not one that waited in
    /// the pool, which a restart may have closed meanwhile).
    made_for_it: bool,
    result: Option<Result<(), Failure>>,
}

enum Interest {
    Read,
    ReadWrite,
}

impl<'a> Lane<'a> {
    pub(crate) fn new(conn: &'a mut Connection, exchange: &'a mut dyn Exchange) -> Lane<'a> {
        let first_opaque = conn.next_opaque;
        // Stamped again when driving begins (`Driver::begin`).
        let last_progress = conn.answered;
        Lane {
            conn,
            exchange,
            written: 0,
            wrote_any: false,
            needed: 0,
            first_opaque,
            last_progress,
            polled: None,
            made_for_it: true,
            result: None,
        }
    }

    /// Says whether the connection was made for this exchange (the
    /// default) or waited in the pool.
    pub(crate) fn made_for_it(mut self, made_for_it: bool) -> Lane<'a> {
        self.made_for_it = made_for_it;
        self
    }

    /// The exchange this lane drives (to take what it received so far
    /// between [`Driver`] steps).
    pub(crate) fn exchange(&mut self) -> &mut dyn Exchange {
        &mut *self.exchange
    }

    /// The lane's result, once driven: `Ok` when the exchange completed.
    pub(crate) fn take_result(&mut self) -> Result<(), Failure> {
        self.result.take().unwrap_or_else(|| {
            Err(Failure::unwritten(Error::Protocol {
                server: self.conn.server.clone(),
                error: ProtocolError::Unexpected("a lane that was never driven"),
            }))
        })
    }

    fn begin(&mut self, now: Instant) {
        self.last_progress = now;
        if self.conn.broken {
            let error = Error::Io {
                server: self.conn.server.clone(),
                source: std::sync::Arc::new(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "connection is broken",
                )),
            };
            self.result = Some(Err(Failure::unwritten(error)));
            return;
        }
        self.conn.write.clear();
        // A large value or batch grew the buffer: do not keep megabytes
        // in every idle pooled connection.
        if self.conn.write.capacity() > 256 * 1024 {
            self.conn.write = Vec::with_capacity(4096);
        }
    }

    fn is_done(&self) -> bool {
        self.result.is_some()
    }

    fn finish(&mut self, outcome: Result<(), Error>) {
        if self.exchange.spoils_connection() {
            self.conn.broken = true;
        }
        let replied = self.exchange.replies() > 0;
        if outcome.is_ok() {
            self.conn.answered = self.last_progress;
        }
        let first_exchange = !self.conn.proven;
        self.conn.proven |= outcome.is_ok() || replied;
        let outcome = outcome.map_err(|error| {
            // Stopped mid-exchange: whatever is on the wire is unaccounted for.
            self.conn.broken = true;
            let error = match error {
                // A connection made for this exchange, dropped at its first
                // request, unanswered and with no byte of a reply: a server
                // that speaks TLS on this port does just that (one that sent
                // part of a reply speaks the binary protocol, and one that
                // waited in the pool may have been closed by a restart:
                // those are I/O errors).
                Error::Io { server, source }
                    if first_exchange
                        && self.made_for_it
                        && !replied
                        && self.conn.read.is_empty() =>
                {
                    Error::Connect {
                        server,
                        source: std::sync::Arc::new(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            format!(
                                "the server dropped a new connection at its first request \
                             ({source}); does it require TLS on this port (a tls:// spec)?"
                            ),
                        )),
                    }
                }
                other => other,
            };
            Failure {
                error,
                written: self.wrote_any,
                replied,
                counted: false,
            }
        });
        self.result = Some(outcome);
    }

    /// Whether everything is sent and the exchange has all its replies.
    fn is_finished(&self) -> bool {
        !self.has_unsent() && self.exchange.is_complete()
    }

    fn has_unsent(&self) -> bool {
        self.written < self.conn.write.len()
            || !self.exchange.is_transmitted()
            || self.conn.transport.has_pending_output()
    }

    /// Sends as much as the socket takes without blocking, encoding more
    /// requests as the buffer drains. Returns whether anything was sent.
    fn write_some(&mut self) -> Result<bool, Error> {
        let mut progressed = false;
        loop {
            let conn = &mut *self.conn;
            // Drop what was sent, so the buffer stays near one chunk however
            // large the batch.
            if self.written == conn.write.len() {
                conn.write.clear();
                self.written = 0;
            } else if self.written >= WRITE_CHUNK {
                conn.write.drain(..self.written);
                self.written = 0;
            }
            if conn.write.len() - self.written < WRITE_CHUNK && !self.exchange.is_transmitted() {
                let budget = self.written + WRITE_CHUNK;
                self.exchange
                    .transmit(&mut conn.next_opaque, &mut conn.write, budget);
            }
            conn.transport
                .flush()
                .map_err(|e| io_error(&conn.server, e))?;
            let Some(unsent) = conn.write.get(self.written..).filter(|u| !u.is_empty()) else {
                return Ok(progressed);
            };
            match conn.transport.send(unsent) {
                Ok(n) => {
                    self.written += n;
                    self.wrote_any = true;
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(progressed),
                Err(e) => return Err(io_error(&conn.server, e)),
            }
        }
    }

    /// One step without blocking: write what can be written; say what the
    /// lane waits for, or `None` when its exchange is complete.
    fn step(&mut self, now: Instant) -> Result<Option<Interest>, Error> {
        if self.write_some()? {
            self.last_progress = now;
        }
        Ok(if self.has_unsent() {
            Some(Interest::ReadWrite)
        } else if self.exchange.is_complete() {
            None
        } else {
            Some(Interest::Read)
        })
    }

    /// Reads once and hands every whole reply to the exchange. Returns
    /// whether that moved the exchange on: a reply it took, or more of one
    /// still arriving. Replies to older requests, which are skipped, do
    /// not count: a server repeating stale replies never answers.
    fn read_some(&mut self, wait: Wait) -> Result<bool, Error> {
        let conn = &mut *self.conn;
        let pending = conn.read.data().len();
        match conn.read.recv(&mut *conn.transport, self.needed, wait) {
            Ok(0) => return Err(closed(&conn.server)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && wait == Wait::NonBlock => {
                return Ok(false);
            }
            Err(e) => return Err(io_error(&conn.server, e)),
        }
        let taken = self.decode_frames()?;
        Ok(taken || self.conn.read.data().len() > pending)
    }

    /// Hands every whole reply buffered to the exchange; returns whether it
    /// took any (stale replies are skipped).
    fn decode_frames(&mut self) -> Result<bool, Error> {
        let mut taken = false;
        let conn = &mut *self.conn;
        let protocol = |error: ProtocolError| Error::Protocol {
            server: conn.server.clone(),
            error,
        };
        loop {
            let max_body = conn.max_value.saturating_add(BODY_OVERHEAD);
            let len = match decode_response(conn.read.data(), max_body) {
                Ok(Decoded::Partial { needed }) => {
                    self.needed = needed;
                    return Ok(taken);
                }
                Err(DecodeError::BodyTooLarge {
                    len, opaque, value, ..
                }) if len <= LARGEST_ITEM => {
                    // The body is never read: this connection is done.
                    conn.broken = true;
                    let limit = conn.max_value;
                    return match self.exchange.receive_oversized(opaque, value, limit) {
                        Ok(None) => Ok(true),
                        Ok(Some(error)) => Err(error),
                        Err(e) => Err(protocol(e)),
                    };
                }
                Err(e) => return Err(protocol(e.into())),
                Ok(Decoded::Complete { frame, len }) => {
                    if frame.opaque.wrapping_sub(self.first_opaque) >= 1 << 31 {
                        // A reply to a request before this exchange (a
                        // duplicate the server sent late): skip it, and
                        // retire the connection once this exchange is done.
                        conn.broken = true;
                    } else {
                        self.exchange.receive(&frame).map_err(&protocol)?;
                        taken = true;
                    }
                    len
                }
            };
            conn.read.consume(len);
            self.needed = 0;
            if self.exchange.is_complete() {
                if !conn.read.is_empty() {
                    // Bytes nobody asked for: the caller has its answer, but
                    // the next one must not read them as its own.
                    conn.broken = true;
                }
                return Ok(taken);
            }
        }
    }

    /// How long this lane may still wait for progress.
    fn idle_left(&self, idle: Option<Duration>, now: Instant) -> Option<Duration> {
        idle.map(|t| t.saturating_sub(now.saturating_duration_since(self.last_progress)))
    }

    /// Whether a read may block on the socket's own timeout (the I/O
    /// timeout) without passing the deadline, `remaining` away (`None`:
    /// no deadline), with `idle_left` to wait for progress.
    fn may_block(&self, remaining: Option<Duration>, idle_left: Option<Duration>) -> bool {
        let Some(socket_timeout) = self.conn.io_timeout else {
            return remaining.is_none();
        };
        let covers = |left: Duration| left + BLOCKING_SLACK >= socket_timeout;
        remaining.is_none_or(covers) && idle_left.is_none_or(covers)
    }
}

/// Runs every lane's exchange to completion, or to its failure, reading and
/// writing all lanes at once. The deadline bounds each lane's whole
/// exchange and the time it may go without progress.
pub(crate) fn drive(lanes: &mut [Lane<'_>], deadline: &Deadline) {
    let mut driver = Driver::begin(lanes);
    while driver.step(lanes, deadline) == Stepped::Again {}
}

/// Whether the lanes are all finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stepped {
    /// Some lane still has work: step again.
    Again,
    /// Every lane finished (completed or failed).
    Done,
}

/// [`drive`] a step at a time: each step writes what it can, waits for
/// input at most once and reads it, then hands control back, so the
/// caller can take what the exchanges have received so far before the
/// next step waits again.
pub(crate) struct Driver {
    /// The clock as the lanes began, for the first step (which follows at
    /// once) to use rather than read it again.
    began: Option<Instant>,
}

impl Driver {
    pub(crate) fn begin(lanes: &mut [Lane<'_>]) -> Driver {
        let now = Instant::now();
        for lane in lanes.iter_mut() {
            lane.begin(now);
        }
        Driver { began: Some(now) }
    }

    pub(crate) fn step(&mut self, lanes: &mut [Lane<'_>], deadline: &Deadline) -> Stepped {
        let now = self.began.take().unwrap_or_else(Instant::now);
        step(lanes, deadline, now)
    }
}

/// One step of [`Driver`], as of `now`.
fn step(lanes: &mut [Lane<'_>], deadline: &Deadline, now: Instant) -> Stepped {
    let remaining = deadline.remaining(now);
    let mut wait = remaining;
    let mut polled = 0;
    // The one lane polled, when it is one, and how long it may idle.
    let mut last = (0, None);
    for (index, lane) in lanes.iter_mut().enumerate() {
        lane.polled = None;
        if lane.is_done() {
            continue;
        }
        match lane.step(now) {
            Ok(None) => lane.finish(Ok(())),
            Err(e) => lane.finish(Err(e)),
            Ok(Some(interest)) => {
                lane.polled = Some(match interest {
                    Interest::Read => PollFlags::IN,
                    Interest::ReadWrite => PollFlags::IN | PollFlags::OUT,
                });
                polled += 1;
                let idle_left = lane.idle_left(deadline.idle, now);
                if let Some(left) = idle_left {
                    wait = Some(wait.map_or(left, |w| w.min(left)));
                }
                last = (index, idle_left);
            }
        }
    }
    if polled == 0 {
        return Stepped::Done;
    }
    if wait == Some(Duration::ZERO) {
        expire(lanes, deadline, now);
        return Stepped::Again;
    }
    // Input a transport already holds (decrypted TLS records) is read
    // without waiting on the socket, which may stay silent.
    let mut read_buffered = false;
    for lane in lanes.iter_mut() {
        if lane.polled.is_some() && lane.conn.transport.has_buffered_input() {
            read_buffered = true;
            match lane.read_some(Wait::NonBlock) {
                Ok(true) => lane.last_progress = now,
                Ok(false) => {}
                Err(e) => lane.finish(Err(e)),
            }
        }
    }
    if read_buffered {
        return Stepped::Again;
    }
    // One lane with everything sent: a blocking read (bounded by the
    // socket's timeout) costs one syscall where poll + read cost two.
    let (index, idle_left) = last;
    if polled == 1
        && let Some(lane) = lanes.get_mut(index)
        && lane.polled == Some(PollFlags::IN)
        && lane.may_block(remaining, idle_left)
    {
        match lane.read_some(Wait::Block) {
            Ok(true) => lane.last_progress = Instant::now(),
            Ok(false) => {}
            Err(e) => lane.finish(Err(e)),
        }
        // It was the last lane with work: done if the read completed it
        // (without another step's clock reading to find that out).
        if !lane.is_done() && lane.is_finished() {
            lane.finish(Ok(()));
        }
        return if lane.is_done() {
            Stepped::Done
        } else {
            Stepped::Again
        };
    }
    if let Err(e) = poll(lanes, wait) {
        for lane in lanes.iter_mut().filter(|l| l.polled.is_some()) {
            let error = io_error(&lane.conn.server, io::Error::new(e.kind(), e.to_string()));
            lane.finish(Err(error));
        }
        return Stepped::Done;
    }
    expire(lanes, deadline, Instant::now());
    Stepped::Again
}

/// Waits until a polled socket is ready (or `wait` passes) and reads from
/// every readable one.
fn poll(lanes: &mut [Lane<'_>], wait: Option<Duration>) -> io::Result<()> {
    let ready: Vec<PollFlags> = {
        let mut fds: Vec<PollFd<'_>> = lanes
            .iter()
            .filter_map(|lane| {
                let flags = lane.polled?;
                Some(PollFd::from_borrowed_fd(lane.conn.transport.fd(), flags))
            })
            .collect();
        let timeout = wait.map(|w| Timespec {
            tv_sec: w.as_secs() as i64,
            tv_nsec: i64::from(w.subsec_nanos()),
        });
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        fds.iter().map(|fd| fd.revents()).collect()
    };
    let now = Instant::now();
    let polled = lanes.iter_mut().filter(|l| l.polled.is_some());
    for (lane, revents) in polled.zip(ready) {
        if revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            match lane.read_some(Wait::NonBlock) {
                Ok(true) => lane.last_progress = now,
                Ok(false) => {}
                Err(e) => lane.finish(Err(e)),
            }
        }
    }
    Ok(())
}

/// Fails the lanes past the deadline or idle for too long.
fn expire(lanes: &mut [Lane<'_>], deadline: &Deadline, now: Instant) {
    for lane in lanes.iter_mut() {
        if lane.polled.is_none() || lane.is_done() {
            continue;
        }
        let past_deadline = deadline.overall.is_some_and(|d| now >= d);
        let idle_too_long = lane.idle_left(deadline.idle, now) == Some(Duration::ZERO);
        if past_deadline || idle_too_long {
            let server = lane.conn.server.clone();
            lane.finish(Err(Error::Timeout { server }));
        }
    }
}
