//! A connection many callers share (the pipelined mode and the async client).
//!
//! Callers enqueue their requests into the connection's [`Mux`]. One of the
//! waiting callers — the reader — writes what everyone queued and reads the
//! replies, routing each to its owner and waking it (flat combining): a
//! caller that queues requests wakes the reader rather than writing itself,
//! so requests queued meanwhile leave in one write (a thread writes for
//! itself while the reader is in a `recv`, where it cannot be asked), and
//! an uncontended caller is the reader and does its own I/O, with no
//! hand-off. When the reader's own exchange completes, it hands the role
//! to the owner of the oldest request still in flight. A blocking caller
//! waits spinning briefly, then parked on a futex, or in `poll` on its
//! sockets and an eventfd while it is a reader ([`ThreadWake`]); a task
//! waits on tokio readiness (`shared_async`).
//! The lock is held for bookkeeping only: on a plain connection, threads
//! make their `send` and `recv` without it ([`write_unlocked`], whose next
//! write takes what was queued meanwhile; [`read_unlocked`]), and callers
//! woken under it are woken once it is released ([`Locked`]), so none
//! wakes only to sleep again on the lock.
//!
//! The connection breaks — failing every caller waiting on it, counted as
//! one failure of the server — on an I/O error, a reply that belongs to no
//! request in order, or when its oldest request in flight passes the I/O
//! timeout; the next caller connects afresh.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::driver::{BLOCKING_SLACK, Deadline, Failure, Stepped};
use super::thread_wake::ThreadWake;
use super::{Connection, ConnectionOptions, closed, io_error};
use crate::command::{Exchange, Mux, MuxError, MuxLimits, Ticket};
use crate::protocol::{DecodeError, Decoded, HEADER_LEN, decode_response};
use crate::transport::{Wait, recv_socket, send_socket};
use crate::{Address, Error, ProtocolError};

/// A batch keeps this many windows in flight on a shared connection (more
/// would hold other callers' requests back behind it).
const WINDOWS_AHEAD: usize = 2;

/// The largest oversized reply a shared connection reads past (and drops)
/// to keep going; a larger one breaks it, uncounted, rather than hold the
/// replies queued behind it for that long.
const MAX_SKIP: usize = 4 << 20;

/// The largest body a real server can send (see the pooled driver).
const LARGEST_ITEM: u32 = (1 << 30) + 4096;

/// How a waiting caller is woken: a thread through its [`ThreadWake`], a
/// task through its waker.
#[derive(Clone)]
pub(crate) enum Waiter {
    Thread(Arc<ThreadWake>),
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Task(std::task::Waker),
}

impl Waiter {
    fn same_as(&self, other: &Waiter) -> bool {
        match (self, other) {
            (Waiter::Thread(a), Waiter::Thread(b)) => Arc::ptr_eq(a, b),
            (Waiter::Task(a), Waiter::Task(b)) => a.will_wake(b),
            _ => false,
        }
    }
}

/// Callers to wake, woken when this is dropped (after the lock guard that
/// [`Locked`] holds beside it).
#[derive(Default)]
struct Wakes(Vec<Waiter>);

impl Drop for Wakes {
    fn drop(&mut self) {
        for waiter in &self.0 {
            wake(waiter);
        }
    }
}

fn wake(waiter: &Waiter) {
    match waiter {
        Waiter::Thread(thread) => thread.wake(),
        Waiter::Task(waker) => waker.wake_by_ref(),
    }
}

/// The connection while it is up.
pub(crate) struct Live {
    /// Its transport and read buffer (the rest of it is unused here).
    pub(crate) conn: Connection,
    /// A duplicate of the socket's descriptor, polled without the lock
    /// (the socket stays open while a poller holds it, even if the
    /// connection is dropped meanwhile).
    pub(crate) poll_fd: Arc<OwnedFd>,
    /// The same, registered with tokio's reactor (made by the async driver).
    #[cfg(feature = "tokio")]
    pub(crate) readiness: Option<Arc<tokio::io::unix::AsyncFd<Arc<OwnedFd>>>>,
    needed: usize,
    /// Bytes still to skip of a reply whose value is above the client's
    /// limit (its owner was told; the body is read and dropped).
    skip: usize,
    pub(crate) mux: Mux,
    created: Instant,
}

pub(crate) struct State {
    pub(crate) live: Option<Live>,
    /// Incremented on every (re)connect: tickets belong to one epoch.
    epoch: u64,
    pub(crate) reader: Option<Ticket>,
    pub(crate) waiters: Vec<(Ticket, Waiter)>,
    /// A job connects (outside the lock, in the async driver).
    connecting: bool,
    /// The reader was asked to write what is queued (once until someone
    /// writes it).
    pub(crate) flush_wanted: bool,
    /// The reader reads without the lock (see [`read_unlocked`]): it
    /// cannot be asked to write, so callers write their own requests.
    reader_blocked: bool,
    /// A caller sends taken bytes without the lock (see
    /// [`write_unlocked`]): nobody else writes meanwhile.
    writing: bool,
    /// Callers waiting for room on the connection (back-pressure).
    room_waiters: Vec<Waiter>,
    /// Callers waiting for that connect.
    connect_waiters: Vec<Waiter>,
    /// Tickets of a connection that broke: what they had received, and why
    /// it broke.
    casualties: Vec<Casualty>,
    /// The epoch that ended last and why: what its callers that had
    /// nothing queued (they waited for room) fail with.
    last_break: Option<(u64, Error)>,
    /// Callers to wake once the lock is released (see [`Locked`]).
    wake_later: Vec<Waiter>,
}

/// The state, locked. Callers woken under the lock (added to
/// `wake_later`) are woken once it is released, so none wakes only to find
/// the lock held and sleep again.
pub(crate) struct Locked<'a> {
    guard: MutexGuard<'a, State>,
    /// Dropped after the guard (fields drop in order): the wake-ups.
    later: Wakes,
}

impl std::ops::Deref for Locked<'_> {
    type Target = State;

    fn deref(&self) -> &State {
        &self.guard
    }
}

impl std::ops::DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // The fields drop after this, in order: the lock is released, then
        // the callers are woken.
        self.later.0.append(&mut self.guard.wake_later);
    }
}

/// Connects and proves the connection (SASL, the TLS round trip) on a
/// private connection; its transport is then shared.
pub(crate) fn connect_live(
    address: &Address,
    options: &ConnectionOptions,
    server: Arc<str>,
    limits: MuxLimits,
) -> Result<Live, Error> {
    let conn = Connection::connect(address, options, server.clone())?;
    let poll_fd = rustix::io::fcntl_dupfd_cloexec(conn.transport.fd(), 0)
        .map_err(|e| io_error(&server, e.into()))?;
    Ok(Live {
        mux: Mux::new(conn.next_opaque, limits),
        conn,
        poll_fd: Arc::new(poll_fd),
        #[cfg(feature = "tokio")]
        readiness: None,
        needed: 0,
        skip: 0,
        created: Instant::now(),
    })
}

/// A ticket of a connection that broke.
struct Casualty {
    epoch: u64,
    ticket: Ticket,
    /// What was routed to it before the break (still good).
    delivery: crate::command::Delivery,
    failure: Failure,
}

/// A connection shared by many callers. See the module docs.
pub(crate) struct SharedConnection {
    address: Address,
    options: ConnectionOptions,
    pub(crate) server: Arc<str>,
    limits: MuxLimits,
    /// How long a blocking caller may spin before it parks (see
    /// [`ThreadWake::park`]).
    spin: Duration,
    state: Mutex<State>,
    /// Callers on it now (read without the lock, to pick the least busy).
    callers: AtomicUsize,
}

impl std::fmt::Debug for SharedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedConnection")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// One caller's exchange on one shared connection.
pub(crate) struct Job<'a> {
    pub(crate) shared: &'a SharedConnection,
    exchange: &'a mut dyn Exchange,
    pub(crate) ticket: Option<(Ticket, u64)>,
    started: Instant,
    /// The connection existed before this job began (for the retry rule).
    pub(crate) from_pool: bool,
    pub(crate) result: Option<Result<(), Failure>>,
    /// The async reader put its write off once, for the tasks woken with
    /// it to queue theirs first.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) write_deferred: bool,
}

impl<'a> Job<'a> {
    pub(crate) fn new(shared: &'a SharedConnection, exchange: &'a mut dyn Exchange) -> Job<'a> {
        Job {
            shared,
            exchange,
            ticket: None,
            started: Instant::now(),
            from_pool: true,
            result: None,
            write_deferred: false,
        }
    }

    /// The exchange this job drives (to take what it received so far
    /// between [`SharedDriver`] steps).
    pub(crate) fn exchange(&mut self) -> &mut dyn Exchange {
        &mut *self.exchange
    }

    /// The job's result, once driven.
    pub(crate) fn take_result(&mut self) -> Result<(), Failure> {
        self.result.take().unwrap_or_else(|| {
            Err(Failure::unwritten(Error::Protocol {
                server: self.shared.server.clone(),
                error: ProtocolError::Unexpected("a job that was never driven"),
            }))
        })
    }
}

/// Which driver runs the jobs, and so who connects and who writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// Blocking threads: a caller connects and writes its own requests
    /// (with whatever else is queued) at once.
    Threads,
    /// Tokio tasks: connects run elsewhere (`Next::Connect`), and the
    /// reader writes for everyone — a caller that queues requests asks it
    /// to, and it writes once the tasks woken with it have queued theirs.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Tasks,
}

/// What a job waits for next.
pub(crate) enum Next {
    Done,
    /// The connection must be made, outside the lock (async driver).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Connect,
    /// Replies (routed by another reader) or a hand-over.
    Wake,
    /// This job reads the socket; `write` when output is pending.
    Read {
        write: bool,
    },
}

impl SharedConnection {
    pub(crate) fn new(
        address: Address,
        options: ConnectionOptions,
        server: Arc<str>,
        limits: MuxLimits,
        spin: Duration,
    ) -> SharedConnection {
        SharedConnection {
            address,
            options,
            server,
            limits,
            spin,
            callers: AtomicUsize::new(0),
            state: Mutex::new(State {
                live: None,
                epoch: 0,
                reader: None,
                waiters: Vec::new(),
                connecting: false,
                flush_wanted: false,
                reader_blocked: false,
                writing: false,
                room_waiters: Vec::new(),
                connect_waiters: Vec::new(),
                casualties: Vec::new(),
                last_break: None,
                wake_later: Vec::new(),
            }),
        }
    }

    /// The connection's state, locked. (A std mutex: under contention it
    /// sleeps rather than spinning with `sched_yield`, which on a few
    /// cores shared by many callers only burns the time the lock holder
    /// needs.) A panic while it was held leaves nothing half-done that the
    /// next caller cannot see, so a poisoned lock is used as is.
    pub(crate) fn lock(&self) -> Locked<'_> {
        let guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Locked {
            guard,
            later: Wakes::default(),
        }
    }

    /// Requests queued or in flight (to pick the least busy connection).
    pub(crate) fn load(&self) -> usize {
        self.callers.load(Ordering::Relaxed)
    }

    /// Drops the connection (the next caller connects afresh). Callers
    /// waiting on it fail with an I/O error that is not counted against the
    /// server; the retry rule sends one again on a fresh connection as it
    /// would after a stale pooled one (a repeatable operation that came to
    /// an existing connection and had no reply yet).
    pub(crate) fn retire(&self) {
        let mut st = self.lock();
        let error = Error::Io {
            server: self.server.clone(),
            source: Arc::new(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                "the connection was retired",
            )),
        };
        self.break_with(&mut st, error, false);
    }

    /// The negotiated TLS session, if connected over TLS.
    pub(crate) fn tls_session(&self) -> Option<crate::TlsSession> {
        let st = self.lock();
        st.live
            .as_ref()
            .and_then(|l| l.conn.transport.tls_session())
    }

    fn connect(&self) -> Result<Live, Error> {
        connect_live(
            &self.address,
            &self.options,
            self.server.clone(),
            self.limits,
        )
    }

    /// What [`connect_live`] needs, owned (to connect on another thread).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn connect_params(&self) -> (Address, ConnectionOptions, Arc<str>, MuxLimits) {
        (
            self.address.clone(),
            self.options.clone(),
            self.server.clone(),
            self.limits,
        )
    }

    /// Installs a connection made outside the lock (or the failure to make
    /// it) and wakes whoever waited for it.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn install(&self, made: Result<Live, Error>) -> Result<(), Error> {
        let mut st = self.lock();
        st.connecting = false;
        let waiting = std::mem::take(&mut st.connect_waiters);
        st.wake_later.extend(waiting);
        let live = made?;
        if st.live.is_none() {
            st.live = Some(live);
            st.epoch += 1;
        }
        Ok(())
    }

    /// A connect given up (its caller went away): let another caller try.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    pub(crate) fn abandon_connect(&self) {
        let mut st = self.lock();
        st.connecting = false;
        let waiting = std::mem::take(&mut st.connect_waiters);
        st.wake_later.extend(waiting);
    }

    /// Breaks the connection: every ticket on it fails with `error` (the
    /// first counted against the server, the others not again).
    pub(crate) fn break_connection(&self, st: &mut State, error: Error) {
        self.break_with(st, error, true);
    }

    /// Breaks the connection; `server_fault` says whether one failure is
    /// counted against the server at all.
    fn break_with(&self, st: &mut State, error: Error, server_fault: bool) {
        let Some(mut live) = st.live.take() else {
            return;
        };
        let epoch = st.epoch;
        st.last_break = Some((epoch, error.clone()));
        let failed = live.mux.break_all(error.clone());
        for (n, ticket) in failed.into_iter().enumerate() {
            let delivery = live.mux.take(ticket);
            let failure = Failure {
                error: error.clone(),
                written: delivery.written,
                replied: delivery.replies > 0,
                counted: n > 0 || !server_fault,
            };
            st.casualties.push(Casualty {
                epoch,
                ticket,
                delivery,
                failure,
            });
        }
        st.reader = None;
        st.room_waiters.clear();
        // Its callers leave with the connection: each learns of the break
        // from its casualty. (Tickets are numbered afresh on the next
        // connection, so one of theirs must never stand for a new caller's.)
        let waiting = std::mem::take(&mut st.waiters);
        self.callers.fetch_sub(waiting.len(), Ordering::Relaxed);
        st.wake_later
            .extend(waiting.into_iter().map(|(_, waiter)| waiter));
    }

    /// Reads what the socket has and routes every whole reply; wakes the
    /// owners. An error breaks the connection.
    /// Returns whether the socket had nothing more (for edge-triggered
    /// readiness, which must then be re-armed).
    /// The owners to wake are woken once the lock is released.
    /// `mine`, the reader's own exchange, takes the replies to `me` at
    /// once (decoded once, not stored to be decoded again).
    fn read_and_route(&self, st: &mut State, me: Ticket, mine: &mut dyn Exchange) -> bool {
        let Some(live) = st.live.as_mut() else {
            return true;
        };
        let conn = &mut live.conn;
        let result = conn
            .read
            .recv(&mut *conn.transport, live.needed, Wait::NonBlock);
        self.route(st, me, mine, result)
    }

    /// Routes the replies buffered after a read whose result is
    /// `received` (see [`read_and_route`](SharedConnection::read_and_route)).
    fn route(
        &self,
        st: &mut State,
        me: Ticket,
        mine: &mut dyn Exchange,
        received: std::io::Result<usize>,
    ) -> bool {
        let error = match received {
            Ok(0) => Some(closed(&self.server)),
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) => Some(io_error(&self.server, e)),
        };
        if let Some(error) = error {
            self.break_connection(st, error);
            return true;
        }
        let Some(live) = st.live.as_mut() else {
            return true;
        };
        let max_body = self.options.max_value.saturating_add(4 + 250);
        let mut woken: Vec<Ticket> = Vec::new();
        let mut broken: Option<Error> = None;
        let mut oversized_break = false;
        let protocol = |error: ProtocolError| Error::Protocol {
            server: self.server.clone(),
            error,
        };
        // The reader's own replies within its leading window skip the
        // multiplexer (and are counted for it once, at the end). The run
        // ends where its window does: the window's Noop, or anything not
        // the reader's, goes through the multiplexer.
        let mut run = live.mux.direct_run(me);
        let mut taken = 0;
        loop {
            if live.skip > 0 {
                // The rest of an oversized reply: dropped as it arrives.
                let n = live.skip.min(live.conn.read.data().len());
                live.conn.read.consume(n);
                live.skip -= n;
                if live.skip > 0 {
                    live.needed = 0;
                    break;
                }
            }
            let data = live.conn.read.data();
            let (len, routed) = match decode_response(data, max_body) {
                Ok(Decoded::Partial { needed }) => {
                    live.needed = needed;
                    break;
                }
                Ok(Decoded::Complete { frame, len }) => {
                    // Whether the reply is the reader's, to feed now (not
                    // stored), and whose it is for the wake-ups.
                    let (feed, routed) = if run.is_some_and(|r| r.takes(&frame)) {
                        taken += 1;
                        (true, None)
                    } else {
                        let raw = data.get(..len).unwrap_or_default();
                        match live.mux.receive_for(&frame, raw, Some(me)) {
                            Ok(Some((ticket, stored))) => (!stored, Some(ticket)),
                            Ok(None) => (false, None),
                            Err(e) => {
                                broken = Some(protocol(e));
                                break;
                            }
                        }
                    };
                    // One the reader's exchange refuses breaks the connection.
                    if feed && let Err(e) = mine.receive(&frame) {
                        broken = Some(protocol(e));
                        break;
                    }
                    (len, routed)
                }
                Err(DecodeError::BodyTooLarge {
                    len, opaque, value, ..
                }) if len <= LARGEST_ITEM => {
                    // A value above the client's limit: its owner is told
                    // (in order with its other replies, so through the
                    // multiplexer: the reader's run ends), and the frame is
                    // skipped as it arrives, header first. The connection
                    // and everyone else's replies go on.
                    if taken > 0 {
                        live.mux.received_direct(me, taken);
                        taken = 0;
                    }
                    run = None;
                    let routed = match live.mux.receive_oversized(opaque, value) {
                        Ok(ticket) => ticket,
                        Err(e) => {
                            broken = Some(protocol(e));
                            break;
                        }
                    };
                    live.skip = HEADER_LEN + len as usize;
                    if live.skip > MAX_SKIP {
                        // Too long to read past: the connection goes,
                        // nobody's failure; its owner has the news in its
                        // casualty.
                        oversized_break = true;
                        break;
                    }
                    (0, routed)
                }
                Err(e) => {
                    broken = Some(protocol(e.into()));
                    break;
                }
            };
            live.conn.read.consume(len);
            live.needed = 0;
            if let Some(ticket) = routed {
                if !woken.contains(&ticket) {
                    woken.push(ticket);
                }
                // After one of its replies through the multiplexer (the
                // first of a window, or the Noop before the next), the
                // reader's window may lead.
                if ticket == me {
                    run = live.mux.direct_run(me);
                }
            }
        }
        if taken > 0 {
            live.mux.received_direct(me, taken);
        }
        if !woken.is_empty() || taken > 0 {
            live.conn.answered = Instant::now();
            // Replies made room: whoever waited for it tries again.
            let room = std::mem::take(&mut st.room_waiters);
            st.wake_later.extend(room);
        }
        for ticket in woken {
            if ticket != me
                && let Some((_, waiter)) = st.waiters.iter().find(|(t, _)| *t == ticket)
            {
                st.wake_later.push(waiter.clone());
            }
        }
        if let Some(error) = broken {
            self.break_connection(st, error);
        } else if oversized_break {
            let error = Error::Io {
                server: self.server.clone(),
                source: Arc::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionAborted,
                    "dropped after a reply above max_value_size too long to read past",
                )),
            };
            self.break_with(st, error, false);
        }
        false
    }

    /// Writes what is queued, as far as the socket takes it now.
    pub(crate) fn flush(&self, st: &mut State) {
        st.flush_wanted = false;
        if st.writing {
            // The writer sends what was queued meanwhile next.
            return;
        }
        let Some(live) = st.live.as_mut() else {
            return;
        };
        let result = (|| -> std::io::Result<()> {
            live.conn.transport.flush()?;
            while !live.mux.output().is_empty() {
                match live.conn.transport.send(live.mux.output()) {
                    Ok(n) => live.mux.written(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        if let Err(e) = result {
            let error = io_error(&self.server, e);
            self.break_connection(st, error);
        }
    }

    /// Wakes the reader to write what is queued (once until it does).
    fn ask_reader_to_flush(&self, st: &mut State) {
        let queued = st.live.as_ref().is_some_and(|l| !l.mux.output().is_empty());
        if !queued || st.flush_wanted {
            return;
        }
        st.flush_wanted = true;
        if let Some((_, waiter)) = st.waiters.iter().find(|(t, _)| Some(*t) == st.reader) {
            st.wake_later.push(waiter.clone());
        }
    }

    /// Hands the reader role on, if `me` holds it and is leaving: to the
    /// owner of the oldest request in flight, else to any waiter.
    fn hand_over(&self, st: &mut State, me: Ticket) {
        if st.reader != Some(me) {
            return;
        }
        st.reader = None;
        let head = st.live.as_ref().and_then(|l| l.mux.head_owner());
        // Never `me`: a caller that gives up (a dropped future) may still
        // own the oldest request, and a reader that has left reads nothing.
        let next = st
            .waiters
            .iter()
            .find(|(t, _)| *t != me && Some(*t) == head)
            .or_else(|| st.waiters.iter().find(|(t, _)| *t != me));
        if let Some((ticket, waiter)) = next {
            st.reader = Some(*ticket);
            st.wake_later.push(waiter.clone());
        }
    }

    fn leave(&self, st: &mut State, me: Ticket, epoch: u64) {
        st.casualties
            .retain(|c| !(c.epoch == epoch && c.ticket == me));
        if epoch != st.epoch {
            // Its connection is gone, and its place with it (`break_with`).
            return;
        }
        self.hand_over(st, me);
        let before = st.waiters.len();
        st.waiters.retain(|(t, _)| *t != me);
        self.callers
            .fetch_sub(before - st.waiters.len(), Ordering::Relaxed);
        if let Some(live) = st.live.as_mut() {
            live.mux.close(me);
        }
    }
}

impl Drop for Job<'_> {
    /// A caller that goes away mid-exchange (a dropped future, a panic)
    /// leaves the connection in order: its replies will be read and
    /// dropped, and the reader role passes on.
    fn drop(&mut self) {
        if let Some((ticket, epoch)) = self.ticket.take() {
            let mut st = self.shared.lock();
            self.shared.leave(&mut st, ticket, epoch);
        }
    }
}

impl Job<'_> {
    fn finish(&mut self, st: &mut State, result: Result<(), Failure>) -> Next {
        if let Some((ticket, epoch)) = self.ticket.take() {
            self.shared.leave(st, ticket, epoch);
        }
        if result.is_ok() && self.exchange.spoils_connection() {
            let error = closed(&self.shared.server);
            self.shared.break_connection(st, error);
        }
        self.result = Some(result);
        Next::Done
    }

    /// One step under the lock: connect, take what was routed here, feed it
    /// to the exchange, enqueue more, write. Says what to wait for next.
    /// `waiter` is how to wake this caller; `driver` says who connects and
    /// who writes.
    pub(crate) fn step(
        &mut self,
        st: &mut State,
        now: Instant,
        deadline: &Deadline,
        waiter: &Waiter,
        driver: Driver,
    ) -> Next {
        if self.result.is_some() {
            return Next::Done;
        }
        let shared = self.shared;
        let (ticket, epoch) = match self.ticket {
            Some(held) => {
                // A task may be polled with another waker than last time.
                if held.1 == st.epoch
                    && let Some((_, registered)) = st.waiters.iter_mut().find(|(t, _)| *t == held.0)
                    && !registered.same_as(waiter)
                {
                    *registered = waiter.clone();
                }
                held
            }
            None => {
                // An idle shared connection is looked at before use, as a
                // pooled one is at checkout: closed by a restart, or holding
                // bytes nobody asked for, it is replaced before anyone writes.
                // (One still reading past an oversized reply is replaced
                // too: nobody waits on it, and a new request would wait
                // for the rest of that body.)
                if let Some(live) = st.live.as_mut()
                    && live.mux.is_idle()
                    && (live.skip > 0
                        || live.mux.saw_stale_replies()
                        || live.conn.idle_state(Instant::now()) != crate::transport::Idle::Quiet)
                {
                    // Nobody's failure; a caller whose replies came in
                    // meanwhile still has them (its casualty).
                    shared.break_with(st, closed(&shared.server), false);
                }
                if st.live.is_none() {
                    self.from_pool = false;
                    if st.connecting {
                        st.connect_waiters.push(waiter.clone());
                        return Next::Wake;
                    }
                    if driver == Driver::Tasks {
                        st.connecting = true;
                        return Next::Connect;
                    }
                    match shared.connect() {
                        Ok(live) => {
                            st.live = Some(live);
                            st.epoch += 1;
                        }
                        Err(error) => return self.finish(st, Err(Failure::unwritten(error))),
                    }
                }
                let Some(live) = st.live.as_mut() else {
                    return Next::Wake;
                };
                self.from_pool &= live.created < self.started;
                let ticket = live.mux.open();
                st.waiters.push((ticket, waiter.clone()));
                shared.callers.fetch_add(1, Ordering::Relaxed);
                self.ticket = Some((ticket, st.epoch));
                (ticket, st.epoch)
            }
        };
        // A connection that broke under this job: what it had received
        // still counts (the exchange may even be complete with it).
        if let Some(at) = st
            .casualties
            .iter()
            .position(|c| c.epoch == epoch && c.ticket == ticket)
        {
            let casualty = st.casualties.swap_remove(at);
            return match self.feed(&casualty.delivery) {
                Ok(()) if self.exchange.is_complete() => self.finish(st, Ok(())),
                Ok(()) => self.finish(st, Err(casualty.failure)),
                Err(failure) => self.finish(st, Err(failure)),
            };
        }
        if epoch != st.epoch || st.live.is_none() {
            // The connection broke while this job had nothing queued (it
            // waited for room): it fails as the callers queued did, and
            // the break was counted for the server once.
            let error = match &st.last_break {
                Some((ended, error)) if *ended == epoch => error.clone(),
                _ => closed(&shared.server),
            };
            let failure = Failure {
                counted: true,
                ..Failure::unwritten(error)
            };
            return self.finish(st, Err(failure));
        }
        let delivery = match st.live.as_mut() {
            Some(live) => live.mux.take(ticket),
            None => crate::command::Delivery::default(),
        };
        let fed = self.feed(&delivery);
        if let Some(live) = st.live.as_mut() {
            live.mux.recycle(ticket, delivery.frames);
        }
        if let Err(failure) = fed {
            if failure.error.breaks_connection() {
                // The server broke the protocol for this exchange: the
                // connection is no good for anyone.
                shared.break_connection(st, failure.error.clone());
                st.casualties
                    .retain(|c| !(c.epoch == epoch && c.ticket == ticket));
            }
            // Otherwise (a value above the client's limit ended a batch)
            // the connection goes on: leaving drops this exchange's other
            // replies as they come.
            return self.finish(st, Err(failure));
        }
        if self.exchange.is_complete() {
            return self.finish(st, Ok(()));
        }
        if deadline.overall.is_some_and(|d| now >= d) {
            let failure = self.timeout(st, ticket);
            return self.finish(st, Err(failure));
        }
        self.enqueue(st, ticket, now, waiter);
        if st.reader.is_none() {
            st.reader = Some(ticket);
        }
        // The reader writes what everyone queued: a caller that is not the
        // reader wakes it (once until it writes) rather than writing itself,
        // so requests queued meanwhile leave in one write. A thread writes
        // for itself when the reader reads without the lock (it cannot be
        // asked then), and on a plain connection it writes without the
        // lock: its driver calls `write_unlocked` next.
        let reader = st.reader == Some(ticket);
        if driver == Driver::Threads && self.writes(st) {
            let plain = st
                .live
                .as_ref()
                .is_some_and(|l| l.conn.transport.is_plain());
            if !plain {
                shared.flush(st);
            }
        } else if !reader && !st.writing {
            shared.ask_reader_to_flush(st);
        }
        match &st.live {
            None => Next::Wake,
            Some(_) if st.reader != Some(ticket) => Next::Wake,
            Some(live) => Next::Read {
                write: !live.mux.output().is_empty() || live.conn.transport.has_pending_output(),
            },
        }
    }

    /// Whether this job writes what is queued: as the reader, or as a
    /// thread while the reader reads without the lock.
    fn writes(&self, st: &State) -> bool {
        self.ticket.is_some_and(|(ticket, epoch)| {
            st.epoch == epoch && (st.reader == Some(ticket) || st.reader_blocked)
        })
    }

    /// Whether this job is the reader, alone on a plain connection, with
    /// all its requests written and nobody else's waiting to be: then it
    /// may wait in one blocking read (see [`read_alone`]).
    fn reads_alone(&self, st: &State) -> bool {
        let Some((ticket, epoch)) = self.ticket else {
            return false;
        };
        st.epoch == epoch
            && st.reader == Some(ticket)
            && st.waiters.len() == 1
            && !st.flush_wanted
            && self.exchange.is_transmitted()
            && st.live.as_ref().is_some_and(|l| {
                l.conn.transport.is_plain()
                    && l.mux.output().is_empty()
                    && !l.conn.transport.has_pending_output()
            })
    }

    /// Reads the socket as its reader (see
    /// [`SharedConnection::read_and_route`]), this job's own replies
    /// straight into its exchange.
    pub(crate) fn read_and_route(&mut self, st: &mut State) -> bool {
        // A ticket of a connection that broke meanwhile may equal one on
        // its successor (each mux numbers from the start): not this job's.
        let Some((ticket, epoch)) = self.ticket else {
            return true;
        };
        if epoch != st.epoch {
            return true;
        }
        self.shared.read_and_route(st, ticket, &mut *self.exchange)
    }

    /// Feeds replies routed to this job into its exchange, each oversized
    /// one in its place among the frames. A reply the exchange refuses is a
    /// failure of the connection.
    fn feed(&mut self, delivery: &crate::command::Delivery) -> Result<(), Failure> {
        let server = &self.shared.server;
        let protocol = |error: ProtocolError| Failure {
            error: Error::Protocol {
                server: server.clone(),
                error,
            },
            written: true,
            replied: true,
            counted: false,
        };
        let mut oversized = delivery.oversized.iter().peekable();
        let mut at = 0;
        loop {
            while let Some(o) = oversized.next_if(|o| o.at <= at) {
                let limit = self.shared.options.max_value;
                match self.exchange.receive_oversized(o.opaque, o.size, limit) {
                    Ok(None) => {}
                    // The client's own limit: nobody's failure (see the
                    // retry rule). The exchange ends here; what else comes
                    // for it is read and dropped.
                    Ok(Some(error)) => {
                        return Err(Failure {
                            error,
                            written: true,
                            replied: true,
                            counted: true,
                        });
                    }
                    Err(error) => return Err(protocol(error)),
                }
            }
            let rest = delivery.frames.get(at..).unwrap_or_default();
            let Ok(Decoded::Complete { frame, len }) = decode_response(rest, u32::MAX) else {
                return Ok(());
            };
            self.exchange.receive(&frame).map_err(protocol)?;
            at += len;
        }
    }

    /// Enqueues the exchange's next requests: all of a single command, up
    /// to [`WINDOWS_AHEAD`] windows of a batch.
    /// When the connection is full, the caller waits for replies to make
    /// room (back-pressure) and is woken when some arrive.
    fn enqueue(&mut self, st: &mut State, ticket: Ticket, now: Instant, waiter: &Waiter) {
        let Some(live) = st.live.as_mut() else {
            return;
        };
        while !self.exchange.is_transmitted() && live.mux.pending(ticket) < WINDOWS_AHEAD {
            match live.mux.enqueue(ticket, self.exchange, now) {
                Ok(()) => {}
                Err(MuxError::Full) => {
                    if !st.room_waiters.iter().any(|w| w.same_as(waiter)) {
                        st.room_waiters.push(waiter.clone());
                    }
                    break;
                }
                Err(MuxError::Broken) => break,
            }
        }
    }

    /// This job's own deadline passed: the connection breaks if its oldest
    /// request is as old; otherwise the job leaves, its replies dropped.
    fn timeout(&mut self, st: &mut State, ticket: Ticket) -> Failure {
        let server = self.shared.server.clone();
        let Some(live) = st.live.as_mut() else {
            return Failure::unwritten(Error::Timeout { server });
        };
        let delivery = live.mux.take(ticket);
        let head = live.mux.head_owner() == Some(ticket);
        let failure = Failure {
            error: Error::Timeout {
                server: server.clone(),
            },
            written: delivery.written,
            replied: delivery.replies > 0,
            // Behind the oldest request (or waiting for room): late because
            // of the queue, not news about the server — if the server is
            // stuck, the connection breaks for the oldest, counted once.
            counted: !head,
        };
        // Waiting on the oldest request in flight: the connection is as late
        // as this job (the rule is the same for every caller on it).
        if head {
            let error = Error::Timeout { server };
            self.shared.break_with(st, error, false);
        }
        failure
    }
}

/// Runs jobs to completion (or failure) a step at a time, as the pooled
/// [`Driver`](super::Driver) runs lanes: each step steps every job and
/// waits at most once (parked, or reading as a reader), then hands control
/// back, so the caller can take what the exchanges have received so far
/// (decoding it while later replies are on their way) before the next
/// step waits again.
pub(crate) struct SharedDriver {
    me: Arc<ThreadWake>,
    waiter: Waiter,
}

impl SharedDriver {
    /// A driver for this thread; `None`, with every job failed, if the
    /// process is out of descriptors for its wake-up.
    pub(crate) fn begin(jobs: &mut [Job<'_>]) -> Option<SharedDriver> {
        let Some(me) = ThreadWake::mine() else {
            for job in jobs.iter_mut() {
                let error = io_error(&job.shared.server, std::io::Error::other("no eventfd"));
                job.result = Some(Err(Failure::unwritten(error)));
            }
            return None;
        };
        Some(SharedDriver {
            waiter: Waiter::Thread(me.clone()),
            me,
        })
    }

    /// One step of every job, then at most one wait.
    pub(crate) fn step(&mut self, jobs: &mut [Job<'_>], deadline: &Deadline) -> Stepped {
        let (me, waiter) = (&self.me, &self.waiter);
        let jobs_len = jobs.len();
        let now = Instant::now();
        // (job index, socket to read, also writable?)
        let mut reading: Vec<(usize, bool)> = Vec::new();
        // The one job's reader alone on its connection, with all written.
        let mut alone = false;
        let mut waiting = false;
        let mut wait = deadline.remaining(now);
        for (index, job) in jobs.iter_mut().enumerate() {
            let shared = job.shared;
            let mut st = shared.lock();
            // The reader's duty first: a connection whose oldest request is
            // past the I/O timeout breaks.
            if let (Some(live), Some(timeout)) = (st.live.as_ref(), deadline.idle)
                && let Some(oldest) = live.mux.oldest()
                && now.duration_since(oldest) >= timeout
            {
                let error = Error::Timeout {
                    server: shared.server.clone(),
                };
                shared.break_connection(&mut st, error);
            }
            let next = job.step(&mut st, now, deadline, waiter, Driver::Threads);
            if !matches!(next, Next::Done) && job.writes(&st) {
                let me = job.ticket.map(|(ticket, _)| ticket);
                st = write_unlocked(shared, st, me);
            }
            match next {
                Next::Done => {}
                Next::Wake | Next::Connect => waiting = true,
                Next::Read { write } => {
                    // What `write_unlocked` left to write (unless a writer
                    // sends it next).
                    let write = write
                        && !st.writing
                        && st.live.as_ref().is_some_and(|l| {
                            !l.mux.output().is_empty() || l.conn.transport.has_pending_output()
                        });
                    if st
                        .live
                        .as_ref()
                        .is_some_and(|l| l.conn.transport.has_buffered_input())
                    {
                        // Decrypted bytes already in hand: no waiting.
                        let _ = job.read_and_route(&mut st);
                        wait = Some(Duration::ZERO);
                    }
                    alone = jobs_len == 1 && job.reads_alone(&st);
                    reading.push((index, write));
                    waiting = true;
                    if let (Some(live), Some(timeout)) = (st.live.as_ref(), deadline.idle)
                        && let Some(oldest) = live.mux.oldest()
                    {
                        let left = timeout.saturating_sub(now.duration_since(oldest));
                        wait = Some(wait.map_or(left, |w| w.min(left)));
                    }
                }
            }
        }
        if !waiting {
            return Stepped::Done;
        }
        if wait == Some(Duration::ZERO) {
            return Stepped::Again;
        }
        if reading.is_empty() {
            let spin = jobs.iter().map(|job| job.shared.spin).max();
            me.park(wait, spin.unwrap_or_default());
        } else if let (true, [job]) = (alone, &mut *jobs)
            && blocking_fits(job.shared.options.transport.read_timeout, wait)
        {
            read_alone(job);
        } else {
            wait_and_read(jobs, &reading, me, wait);
        }
        Stepped::Again
    }
}

/// Whether a blocking read, which the socket's `read_timeout` bounds,
/// ends within `wait` (give or take [`BLOCKING_SLACK`]).
fn blocking_fits(read_timeout: Option<Duration>, wait: Option<Duration>) -> bool {
    match (read_timeout, wait) {
        (None, None) => true,
        (Some(timeout), Some(wait)) => wait + BLOCKING_SLACK >= timeout,
        _ => false,
    }
}

/// The reader alone on its connection, with all its requests written,
/// waits for its replies in one blocking read (which the socket's read
/// timeout bounds), without the lock: one syscall where poll and read are
/// two, as on a pooled connection. See [`read_unlocked`].
fn read_alone(job: &mut Job<'_>) {
    let st = job.shared.lock();
    // Still alone: a caller that came since it looked may have asked it
    // to write.
    if job.reads_alone(&st) {
        read_unlocked(job, st, Wait::Block);
    }
}

/// Reads a plain connection's socket as its reader without holding the
/// lock (`st`, the lock the caller holds, is released for the syscall, the
/// read buffer taken out meanwhile), then routes what came under it: other
/// callers enqueue, and write their own requests, while the syscall runs
/// (a reader away from the lock cannot be asked to); their replies are
/// routed when the read returns. A connection broken meanwhile is shut
/// down, which ends a blocking read; the job then learns of it from its
/// casualty.
fn read_unlocked(job: &mut Job<'_>, mut st: Locked<'_>, wait: Wait) {
    let shared = job.shared;
    let Some((ticket, epoch)) = job.ticket else {
        return;
    };
    if st.epoch != epoch || st.reader != Some(ticket) {
        return;
    }
    let Some(live) = st.live.as_mut() else {
        return;
    };
    let fd = live.poll_fd.clone();
    let mut read = std::mem::take(&mut live.conn.read);
    let needed = live.needed;
    st.reader_blocked = true;
    drop(st);
    let received = read.recv_with(needed, |spare| recv_socket(&*fd, spare, wait));
    let mut st = shared.lock();
    st.reader_blocked = false;
    let same = st.epoch == epoch;
    match st.live.as_mut() {
        Some(live) if same => live.conn.read = read,
        _ => return,
    }
    shared.route(&mut st, ticket, &mut *job.exchange, received);
}

/// Writes what is queued on a plain connection without holding the lock
/// (`st`, which the caller holds, is released for the `send` and taken
/// again): the bytes are taken out of the multiplexer, and what callers
/// queue meanwhile goes out in the next round, so concurrent callers still
/// share writes, and none waits on the lock while a `send` runs. One
/// writer at a time (`writing`). What the socket does not take now goes
/// back in front, for the reader to write once the socket takes more: if
/// the writer, `me`, is not the reader, it asks the reader to. Returns the
/// lock, held.
fn write_unlocked<'a>(
    shared: &'a SharedConnection,
    mut st: Locked<'a>,
    me: Option<Ticket>,
) -> Locked<'a> {
    // `me` stands for the writer on this connection only.
    let mine = st.epoch;
    loop {
        let (epoch, writing) = (st.epoch, st.writing);
        let Some(live) = st.live.as_mut() else {
            return st;
        };
        if writing || !live.conn.transport.is_plain() || live.mux.output().is_empty() {
            return st;
        }
        let fd = live.poll_fd.clone();
        let bytes = live.mux.take_output();
        st.writing = true;
        // Everything queued is being written: a reader asked to is done.
        st.flush_wanted = false;
        drop(st);
        let mut sent = 0;
        let mut failed = None;
        while let Some(rest) = bytes.get(sent..).filter(|rest| !rest.is_empty()) {
            match send_socket(&*fd, rest) {
                Ok(0) => break,
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        st = shared.lock();
        st.writing = false;
        let whole = sent == bytes.len();
        let same = st.epoch == epoch;
        match st.live.as_mut() {
            Some(live) if same => live.mux.give_back(bytes, sent),
            // (Bytes of a connection that broke meanwhile went with it.)
            _ => continue,
        }
        if let Some(e) = failed {
            let error = io_error(&shared.server, e);
            shared.break_connection(&mut st, error);
            return st;
        }
        if !whole {
            // (The reader itself polls for room: it sees output left.)
            if st.epoch != mine || st.reader != me {
                shared.ask_reader_to_flush(&mut st);
            }
            return st;
        }
    }
}

/// Waits until a socket this thread reads is ready or another thread wakes
/// it (or `wait` passes), then reads and routes what arrived. No lock is
/// held while waiting: other callers enqueue and write meanwhile.
fn wait_and_read(
    jobs: &mut [Job<'_>],
    reading: &[(usize, bool)],
    me: &ThreadWake,
    wait: Option<Duration>,
) {
    let sockets: Vec<(usize, Arc<OwnedFd>, PollFlags)> = reading
        .iter()
        .filter_map(|&(index, write)| {
            let job = jobs.get(index)?;
            let st = job.shared.lock();
            let fd = st.live.as_ref()?.poll_fd.clone();
            let flags = if write {
                PollFlags::IN | PollFlags::OUT
            } else {
                PollFlags::IN
            };
            Some((index, fd, flags))
        })
        .collect();
    let mut ready: Vec<PollFlags> = Vec::new();
    me.polling(|| {
        let mut fds: Vec<PollFd<'_>> = sockets
            .iter()
            .map(|(_, fd, flags)| PollFd::new(fd, *flags))
            .collect();
        fds.push(PollFd::new(&me.fd, PollFlags::IN));
        let timeout = wait.map(|w| Timespec {
            tv_sec: w.as_secs() as i64,
            tv_nsec: i64::from(w.subsec_nanos()),
        });
        // An error (EINTR) means nothing but to look again: the deadline
        // still holds.
        let _ = rustix::event::poll(&mut fds, timeout.as_ref());
        ready = fds.iter().map(|fd| fd.revents()).collect();
        ready.pop().is_some_and(|woken| !woken.is_empty())
    });
    for ((index, _, _), flags) in sockets.iter().zip(ready) {
        if flags.is_empty() {
            continue;
        }
        let Some(job) = jobs.get_mut(*index) else {
            continue;
        };
        let Some((ticket, epoch)) = job.ticket else {
            continue;
        };
        let shared = job.shared;
        let mut st = shared.lock();
        if st.reader != Some(ticket) || st.epoch != epoch {
            continue;
        }
        if flags.intersects(PollFlags::OUT) {
            shared.flush(&mut st);
        }
        if flags.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            // A plain socket is read without the lock; TLS state is not
            // taken apart.
            if st
                .live
                .as_ref()
                .is_some_and(|l| l.conn.transport.is_plain())
            {
                read_unlocked(job, st, Wait::NonBlock);
            } else {
                let _ = job.read_and_route(&mut st);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn connection() -> SharedConnection {
        let options = ConnectionOptions {
            transport: crate::transport::TransportOptions::default(),
            io_timeout: None,
            max_value: 1 << 20,
            credentials: None,
        };
        let address = Address::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
        };
        SharedConnection::new(
            address,
            options,
            "test".into(),
            MuxLimits::default(),
            Duration::ZERO,
        )
    }

    /// A task waker that notes whether the connection's lock was free when
    /// it was woken.
    struct Probe {
        shared: Arc<SharedConnection>,
        woken: AtomicBool,
        lock_was_free: AtomicBool,
    }

    impl Probe {
        /// A probe on `shared`, and a waiter that wakes it.
        fn on(shared: &Arc<SharedConnection>) -> (Arc<Probe>, Waiter) {
            let probe = Arc::new(Probe {
                shared: shared.clone(),
                woken: AtomicBool::new(false),
                lock_was_free: AtomicBool::new(false),
            });
            let waiter = Waiter::Task(std::task::Waker::from(probe.clone()));
            (probe, waiter)
        }
    }

    impl std::task::Wake for Probe {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            let free = self.shared.state.try_lock().is_ok();
            self.lock_was_free.store(free, Ordering::SeqCst);
            self.woken.store(true, Ordering::SeqCst);
        }
    }

    /// A connection to a local listener that accepts and never speaks
    /// (nothing here reads or writes it).
    fn listening() -> (std::net::TcpListener, SharedConnection) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut shared = connection();
        shared.address = Address::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        (listener, shared)
    }

    /// Joins `st`'s connection as a job's step does; returns its ticket.
    fn join(shared: &SharedConnection, st: &mut State, waiter: Waiter) -> Ticket {
        let ticket = st.live.as_mut().unwrap().mux.open();
        st.waiters.push((ticket, waiter));
        shared.callers.fetch_add(1, Ordering::Relaxed);
        ticket
    }

    #[test]
    fn a_caller_of_a_broken_connection_leaving_late_leaves_the_next_ones_callers_alone() {
        let (_listener, shared) = listening();
        let shared = Arc::new(shared);
        let ((_, old), (_, new)) = (Probe::on(&shared), Probe::on(&shared));
        let mut st = shared.lock();
        st.live = Some(shared.connect().unwrap());
        st.epoch += 1;
        let gone = join(&shared, &mut st, old);
        let gone_epoch = st.epoch;
        shared.break_connection(&mut st, closed(&shared.server));
        // The next connection numbers its tickets afresh: its first caller
        // holds the same ticket as the first caller of the broken one.
        st.live = Some(shared.connect().unwrap());
        st.epoch += 1;
        let reader = join(&shared, &mut st, new);
        st.reader = Some(reader);
        assert_eq!(reader, gone);
        // The broken connection's caller leaves only now.
        shared.leave(&mut st, gone, gone_epoch);
        assert_eq!(st.reader, Some(reader), "the reader keeps its role");
        assert_eq!(st.waiters.len(), 1, "the reader can still be woken");
        assert_eq!(shared.load(), 1);
    }

    #[test]
    fn a_caller_woken_under_the_lock_is_woken_once_the_lock_is_released() {
        let shared = Arc::new(connection());
        let (probe, waiter) = Probe::on(&shared);
        {
            let mut st = shared.lock();
            st.wake_later.push(waiter);
            assert!(!probe.woken.load(Ordering::SeqCst), "not while it is held");
        }
        assert!(probe.woken.load(Ordering::SeqCst));
        assert!(probe.lock_was_free.load(Ordering::SeqCst));
    }

    #[test]
    fn a_finished_connect_wakes_its_waiters_after_the_lock_is_released() {
        let shared = Arc::new(connection());
        let (probe, waiter) = Probe::on(&shared);
        {
            let mut st = shared.lock();
            st.connecting = true;
            st.connect_waiters.push(waiter);
        }
        let refused = Error::Config("refused".into());
        assert!(shared.install(Err(refused)).is_err());
        assert!(probe.woken.load(Ordering::SeqCst));
        assert!(probe.lock_was_free.load(Ordering::SeqCst));
    }
}
