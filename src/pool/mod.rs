//! Every server's r2d2 pool, and all checkout policy in one place: the
//! health gate, waiting with a deadline and without connect storms,
//! staleness and lifetime checks, reservations, and discarding on error.

mod fork_aside;
mod freed;
mod health;
mod manager;
mod reserve;
mod shared;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use freed::{Event, Freed};
use health::Health;
pub(crate) use health::{HealthPolicy, Verdict};
use manager::{Failed, Manager, Slot};
pub(crate) use shared::SharedPools;

use crate::connection::{Connection, ConnectionOptions};
use crate::transport::{Idle, fork};
use crate::{Address, Error, Result, ServerSpec};

type Pooled = r2d2::PooledConnection<Manager>;

/// What a checkout waiting on a connect allows beyond the connect's own
/// timeouts (for the pool's thread to hand the outcome over).
const CONNECT_SLACK: Duration = Duration::from_millis(100);

/// How long a waiting checkout sleeps before it asks the pool again
/// unwoken (a connection dropped unreturned wakes nobody).
const FREED_POLL: Duration = Duration::from_millis(10);

/// How many times a woken checkout yields and looks again before it asks
/// r2d2 (a connect that ended wakes it just before r2d2 puts the
/// connection in).
const HANDOFF_SPINS: u32 = 64;

/// How the pools behave.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub(crate) max_connections: u32,
    pub(crate) min_idle: u32,
    pub(crate) checkout_timeout: Duration,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) test_on_checkout: bool,
    pub(crate) health: HealthPolicy,
}

/// One server: how to reach it, its pool and its health.
struct ServerPool {
    address: Address,
    options: ConnectionOptions,
    name: Arc<str>,
    pool: r2d2::Pool<Manager>,
    health: Arc<Health>,
    generation: Arc<AtomicU64>,
    /// Checkouts waiting on a connect made for them (r2d2 keeps its own
    /// count of connects under way to itself).
    awaiting_connect: AtomicUsize,
    /// Where checkouts wait for a connection.
    freed: Arc<Freed>,
}

/// One more in `counter` (a checkout waiting, a connect under way) for as
/// long as it lives.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    /// Counts one more; returns how many were counted before, and the
    /// guard.
    fn enter(counter: &'a AtomicUsize) -> (usize, Counted<'a>) {
        (counter.fetch_add(1, Ordering::SeqCst), Counted(counter))
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection checked out for one operation.
pub(crate) struct Checkout {
    slot: Pooled,
    /// Whether it waited in the pool before this checkout (rather than
    /// being connected for it): a dead one then says nothing about the
    /// server, only that it went stale, so the retry rule may run again.
    pub(crate) from_pool: bool,
}

impl Checkout {
    /// The connection.
    pub(crate) fn conn(&mut self) -> &mut Connection {
        match &mut *self.slot {
            Slot::Open(conn) => conn,
            // Checkouts are only made of open slots (see `Pools::vet`).
            Slot::Failed(_) => unreachable!("a checkout holds an open connection"),
        }
    }
}

/// What a slot taken from a pool turned out to be. (It lives for one call:
/// boxing the large variant would cost an allocation per operation.)
#[allow(clippy::large_enum_variant)]
enum Vetted {
    Use(Checkout),
    Failed(Error),
    Discard,
}

/// The threads a client's pools connect on. r2d2 gives each pool a thread
/// pool of its own, three threads by default, kept 30 s after the pool is
/// dropped: Python services that make a client per thread multiplied them,
/// and every thread is one more a forked child must start. Two serve every
/// server of a client: a connect that hangs holds back only what the other
/// thread cannot take (a server that failed to connect is marked down, and
/// connects to it then fail at once). They end when the client is dropped
/// (r2d2's reaper jobs are discarded with them). They step aside at every
/// fork (see `fork_aside`); `connecting` counts those connecting.
fn connect_threads(
    servers: usize,
    connecting: &fork_aside::Connecting,
) -> Arc<scheduled_thread_pool::ScheduledThreadPool> {
    let threads = servers.clamp(1, 2);
    fork_aside::registered(threads, connecting, || {
        scheduled_thread_pool::ScheduledThreadPool::builder()
            .num_threads(threads)
            .thread_name_pattern("quickmc-connect")
            .on_drop_behavior(scheduled_thread_pool::OnPoolDropBehavior::DiscardPendingScheduled)
            .build()
    })
}

/// The pools of every server of one client.
pub(crate) struct Pools {
    servers: Vec<ServerPool>,
    config: PoolConfig,
    /// The fork generation they were made in (see [`Pools::forked`]).
    forks: u64,
    /// Tells this client's reservations from other clients'.
    id: u64,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pools")
            .field("servers", &self.servers.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Pools {
    /// A pool per server. No connection is made yet (r2d2's
    /// `build_unchecked`), so a dead server never stops a client being built.
    pub(crate) fn new(servers: Vec<(ServerSpec, ConnectionOptions)>, config: PoolConfig) -> Pools {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let epoch = Instant::now();
        let connecting = fork_aside::Connecting::default();
        let threads = connect_threads(servers.len(), &connecting);
        let servers = servers
            .into_iter()
            .map(|(spec, options)| {
                let name: Arc<str> = spec.address.to_string().into();
                let health = Arc::new(Health::new(epoch));
                let generation = Arc::new(AtomicU64::new(0));
                let freed = Arc::new(Freed::default());
                let manager = Manager {
                    address: spec.address.clone(),
                    name: name.clone(),
                    options: options.clone(),
                    generation: generation.clone(),
                    health: health.clone(),
                    connecting: connecting.clone(),
                    freed: freed.clone(),
                };
                let pool = r2d2::Pool::builder()
                    .thread_pool(threads.clone())
                    .max_size(config.max_connections)
                    .min_idle(Some(config.min_idle.min(config.max_connections)))
                    .connection_timeout(config.checkout_timeout)
                    .idle_timeout(config.idle_timeout)
                    .max_lifetime(config.max_lifetime)
                    .test_on_check_out(config.test_on_checkout)
                    .error_handler(Box::new(r2d2::NopErrorHandler))
                    .build_unchecked(manager);
                ServerPool {
                    address: spec.address,
                    options,
                    name,
                    pool,
                    health,
                    generation,
                    awaiting_connect: AtomicUsize::new(0),
                    freed,
                }
            })
            .collect();
        Pools {
            servers,
            config,
            forks: fork::generation(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Whether the process forked since these pools were made (this is
    /// the child): their connections, shared ones included, are the
    /// parent's, and their connect threads were not copied.
    pub(crate) fn forked(&self) -> bool {
        fork::forked_since(self.forks)
    }

    fn server(&self, index: usize) -> Result<&ServerPool> {
        self.servers.get(index).ok_or(Error::NoServers)
    }

    /// Where server `index` is and how it is connected to (for a
    /// connection outside the pool).
    pub(crate) fn target(&self, index: usize) -> Result<(&Address, &ConnectionOptions)> {
        let server = self.server(index)?;
        Ok((&server.address, &server.options))
    }

    /// Server `index`'s name (`host:port` or a socket path).
    pub(crate) fn name(&self, index: usize) -> Arc<str> {
        self.servers
            .get(index)
            .map_or_else(|| "?".into(), |s| s.name.clone())
    }

    /// A connection to server `index`, within the checkout timeout.
    ///
    /// A server within its retry timeout fails at once. This thread's
    /// reserved connection is used if it has one; otherwise an idle one,
    /// else the pool makes one — one waiting caller causes at most one
    /// connect, and a connect that fails ends the wait at once. A thread
    /// never waits while holding reserved connections (it gives them back
    /// first), so reservations cannot deadlock. Connections found broken,
    /// retired, past their lifetime or closed by the peer are discarded.
    pub(crate) fn checkout(&self, index: usize) -> Result<Checkout> {
        if self.forked() {
            return Err(Error::Forked);
        }
        let server = self.server(index)?;
        if server.health.is_down() {
            return Err(Error::ServerDown {
                server: server.name.clone(),
            });
        }
        let started = Instant::now();
        if let Some(slot) = reserve::take(self.id, index)
            && let Vetted::Use(checkout) = self.vet(server, slot, started, started)
        {
            return Ok(checkout);
        }
        let mut deadline = None;
        let mut awaiting = None;
        let mut waiting = None;
        let mut waited = false;
        // Whether to ask r2d2, which connects when there is room, rather
        // than only take what is idle: on the first miss, and after a
        // wake-up that may have made room (asking more often would queue a
        // connect each time while one is under way).
        let mut ask = true;
        // Looks taken right after a wake-up: what woke it may be a connect
        // whose connection r2d2 is just putting in.
        let mut spins = 0;
        loop {
            // Taken at once, the slot is vetted as of `started`; after a
            // wait, as of when it was taken.
            let taken = server.pool.try_get();
            let now = if waited { Instant::now() } else { started };
            let (slot, now) = match taken {
                Some(slot) => (slot, now),
                None if spins > 0 => {
                    spins -= 1;
                    std::thread::yield_now();
                    continue;
                }
                None => {
                    self.hand_back(reserve::release_kept(self.id));
                    let deadline = *deadline.get_or_insert_with(|| {
                        let (wait, counted) = self.wait(server);
                        awaiting = counted;
                        started + wait
                    });
                    waiting.get_or_insert_with(|| server.freed.enter());
                    let seen = server.freed.seen();
                    let asked = if ask {
                        server.pool.get_timeout(Duration::ZERO).ok()
                    } else {
                        None
                    };
                    if let Some(slot) = asked {
                        (slot, Instant::now())
                    } else {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(Error::PoolTimeout {
                                server: server.name.clone(),
                            });
                        }
                        let woken = server.freed.wait(seen, left.min(FREED_POLL));
                        // (Unwoken, a checkout that found the pool full asks
                        // again: a connection dropped unreturned, say by a
                        // panic, leaves room that nobody announced.)
                        ask = woken.room || woken.connected || awaiting.is_none();
                        spins = if woken.connected { HANDOFF_SPINS } else { 0 };
                        waited = true;
                        continue;
                    }
                }
            };
            match self.vet(server, slot, started, now) {
                Vetted::Use(checkout) => return Ok(checkout),
                Vetted::Failed(error) => return Err(error),
                Vetted::Discard if deadline.is_some_and(|d| Instant::now() >= d) => {
                    return Err(Error::PoolTimeout {
                        server: server.name.clone(),
                    });
                }
                // Room for a connect.
                Vetted::Discard => ask = true,
            }
        }
    }

    /// How long a checkout that found no idle connection waits. With room
    /// in the pool (counting the connects already made for others), the
    /// pool connects for it, and it waits for that connect to end: its
    /// timeout, and the I/O timeout of a TLS handshake or SASL exchange
    /// after it. So a connect that times out reaches its caller and counts
    /// against the server, however short the checkout timeout. Otherwise
    /// it waits the checkout timeout for a connection to come free. Counted
    /// while it waits on a connect.
    fn wait<'s>(&self, server: &'s ServerPool) -> (Duration, Option<Counted<'s>>) {
        let (others, counted) = Counted::enter(&server.awaiting_connect);
        let open = server.pool.state().connections as usize;
        if open.saturating_add(others) >= self.config.max_connections as usize {
            return (self.config.checkout_timeout, None);
        }
        let options = &server.options;
        let handshake = options.credentials.is_some() || options.transport.has_tls();
        let after = if handshake {
            options.io_timeout.unwrap_or(Duration::ZERO)
        } else {
            Duration::ZERO
        };
        let connect = options.transport.connect_timeout + after + CONNECT_SLACK;
        (connect.max(self.config.checkout_timeout), Some(counted))
    }

    /// Decides what a slot taken from the pool is good for, as of `now`
    /// (for a checkout that began at `started`).
    fn vet(&self, server: &ServerPool, mut slot: Pooled, started: Instant, now: Instant) -> Vetted {
        let conn = match &mut *slot {
            Slot::Failed(failed) => {
                let Failed { error, at } = &**failed;
                // A failure that happened while this checkout waited is
                // news for the caller; an older one is stale.
                return if *at >= started {
                    Vetted::Failed(error.clone())
                } else {
                    Vetted::Discard
                };
            }
            Slot::Open(conn) => conn,
        };
        let from_pool = conn.created() < started;
        let retired =
            conn.is_broken() || conn.generation() != server.generation.load(Ordering::Acquire);
        // r2d2 enforces max_lifetime only every 30 s. A connection made for
        // this checkout is never too old (a lifetime shorter than a connect
        // would otherwise loop).
        let expired = from_pool
            && self
                .config
                .max_lifetime
                .is_some_and(|max| now.saturating_duration_since(conn.created()) > max);
        // A pooled connection may have been closed by a server restart, or
        // hold bytes nobody asked for (a reply the server sent twice): one
        // non-blocking look before use, so no caller writes to it.
        let idle = if retired || !from_pool {
            Idle::Quiet
        } else {
            conn.idle_state(now)
        };
        if idle == Idle::Closed {
            // The others idle as long are likely as dead.
            server.generation.fetch_add(1, Ordering::AcqRel);
        }
        if retired || expired || idle != Idle::Quiet {
            conn.mark_broken();
            return Vetted::Discard;
        }
        Vetted::Use(Checkout { slot, from_pool })
    }

    /// Returns a connection: into this thread's reservation if one is open,
    /// else to the pool, which discards it if it is broken.
    pub(crate) fn give_back(&self, index: usize, mut checkout: Checkout) {
        let event = if checkout.conn().is_broken() {
            // Discarded: room for a connect.
            drop(checkout);
            Event::Room
        } else if let Some(unkept) = reserve::keep(self.id, index, checkout.slot) {
            drop(unkept);
            Event::Returned
        } else {
            // Kept in this thread's reservation: nothing for the others.
            return;
        };
        if let Some(server) = self.servers.get(index) {
            server.freed.notify(event);
        }
    }

    /// Retires every idle connection to server `index` (after one of them
    /// turned out dead, the others likely are too).
    pub(crate) fn retire_idle(&self, index: usize) {
        if let Some(server) = self.servers.get(index) {
            server.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Retires every connection: idle ones at once, checked-out ones when
    /// they come back.
    pub(crate) fn retire_all(&self) {
        for server in &self.servers {
            server.generation.fetch_add(1, Ordering::AcqRel);
            // Held until the pool is empty, so each is taken once (one
            // handed back at once would be taken again, and a connection
            // another thread returns meanwhile is of the new generation
            // and would be for ever). The pool's size bounds the loop.
            let mut idle = Vec::new();
            while let Some(slot) = server.pool.try_get() {
                idle.push(slot);
            }
            drop(idle);
        }
    }

    /// Opens (or nests) this thread's reservation.
    pub(crate) fn reserve(&self) {
        reserve::begin(self.id);
    }

    /// Closes one level of this thread's reservation.
    pub(crate) fn unreserve(&self) {
        let kept = reserve::end(self.id);
        if self.forked() {
            // The parent's connections: not given back to pools whose lock
            // a thread of the parent may have held when it forked.
            std::mem::forget(kept);
        } else {
            self.hand_back(kept);
        }
    }

    /// Gives reserved connections back to their pools, waking checkouts
    /// waiting for them.
    fn hand_back(&self, kept: Vec<(usize, Pooled)>) {
        for (index, slot) in kept {
            drop(slot);
            if let Some(server) = self.servers.get(index) {
                server.freed.notify(Event::Returned);
            }
        }
    }

    /// Whether server `index` is within its retry timeout.
    pub(crate) fn is_down(&self, index: usize) -> bool {
        self.servers.get(index).is_some_and(|s| s.health.is_down())
    }

    /// How many servers.
    pub(crate) fn len(&self) -> usize {
        self.servers.len()
    }

    /// Whether server `index` is ejected from the continuum now.
    pub(crate) fn is_ejected(&self, index: usize, now: Instant) -> bool {
        self.servers
            .get(index)
            .is_some_and(|s| s.health.is_ejected(now))
    }

    /// Ends the ejections that have run out; true if any did.
    pub(crate) fn end_expired_ejections(&self) -> bool {
        let now = Instant::now();
        let mut changed = false;
        for server in &self.servers {
            if server.health.ejection_expired(now) {
                changed |= server.health.end_ejection(now);
            }
        }
        changed
    }

    /// The server answered: its failure count resets. True if it was ejected.
    pub(crate) fn record_success(&self, index: usize) -> bool {
        self.servers
            .get(index)
            .is_some_and(|s| s.health.record_success())
    }

    /// The server failed: if it was `unreachable`, it is skipped for the
    /// retry timeout; after the failure limit it is ejected if `can_eject`.
    pub(crate) fn record_failure(
        &self,
        index: usize,
        unreachable: bool,
        can_eject: bool,
    ) -> Verdict {
        match self.servers.get(index) {
            Some(server) => {
                server
                    .health
                    .record_failure(&self.config.health, unreachable, can_eject)
            }
            None => Verdict::Down,
        }
    }

    /// (open, idle) connections per server.
    pub(crate) fn state(&self) -> Vec<(u32, u32)> {
        self.servers
            .iter()
            .map(|s| {
                let state = s.pool.state();
                (state.connections, state.idle_connections)
            })
            .collect()
    }
}
