//! The client: servers, their pools and health, the continuum, and every
//! public operation (in the files beside this one).

mod builder;
mod cluster;
mod health;
mod multi;
mod options;
mod reserve;
mod single;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

pub use builder::ClientBuilder;
pub use multi::{BatchReport, KeyFailure};
pub use options::StoreOptions;
pub use reserve::Reserved;

use crate::connection::Connection;
use crate::distribution::{Distribution, DistributionKind};
use crate::pool::{ConnectFailures, ServerManager};
use crate::value::{FromValue, Item, ToValue, Transcoder};
use crate::{Error, Result, ServerSpec, key};
use health::{Health, HealthPolicy, Verdict};

type Pooled = r2d2::PooledConnection<ServerManager>;

/// Pooled connections idle longer than this are checked for a closed peer
/// before use (a cheap poll; a busy connection skips it).
const STALE_CHECK_AFTER: Duration = Duration::from_secs(1);

/// A memcached client for a cluster of servers. `Send + Sync`; `clone()` is
/// an `Arc` clone, so build one at start-up and hand a clone to every thread.
///
/// Each operation picks the key's server (libmemcached-compatible hashing),
/// checks a connection out of that server's r2d2 pool, and returns it.
///
/// **Failures.** Any I/O error, timeout or undecodable reply discards the
/// connection. A failed server is skipped for the retry timeout; with
/// `remove_failed`, it leaves the ketama continuum after `failure_limit`
/// failures. **Retry rule:** when a connection reused from the pool turns
/// out dead (say after a server restart), the idle connections to that
/// server are retired and reads and idempotent writes (get, gets, set,
/// replace, delete, touch, stats, version, flush, and the batches
/// get_multi, set_multi, delete_multi, touch_multi) run once more on a
/// fresh connection; add, cas, append, prepend, incr and decr (and their
/// batches) never run twice. Timeouts are never retried.
///
/// ```no_run
/// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
/// client.set("greeting", "hello", 0)?;
/// let value: Option<String> = client.get("greeting")?;
/// assert_eq!(value.as_deref(), Some("hello"));
/// let worker = client.clone(); // cheap: shares pools and health
/// std::thread::spawn(move || worker.incr("hits", 1)).join().unwrap().ok();
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    servers: Vec<ServerState>,
    /// The distribution over every server.
    ring: Distribution,
    /// The distribution over live servers, when any is ejected.
    live_ring: RwLock<Distribution>,
    any_ejected: AtomicBool,
    behavior: Behavior,
    transcoder: Arc<dyn Transcoder>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field(
                "servers",
                &self.servers.iter().map(|s| &s.name).collect::<Vec<_>>(),
            )
            .field("distribution", &self.ring.kind())
            .field("hash", &self.ring.hash_algorithm())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Behavior {
    pub(crate) strict_keys: bool,
    pub(crate) checkout_timeout: Duration,
    pub(crate) batch_deadline: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) health: HealthPolicy,
}

pub(crate) struct ServerState {
    spec: ServerSpec,
    name: Arc<str>,
    pool: r2d2::Pool<ServerManager>,
    health: Arc<Health>,
    generation: Arc<AtomicU64>,
    failures: Arc<ConnectFailures>,
}

/// Whether an operation may be repeated on a fresh connection after a
/// pooled connection turned out dead (see [`Client`]'s retry rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Reads, and writes whose repetition leaves the same state.
    Safe,
    /// Writes that would apply twice (add, cas, append, prepend, incr, decr).
    Never,
}

impl Client {
    /// A client for `servers` with default behaviors (modula distribution,
    /// one_at_a_time hash, as libmemcached). No connection is made yet.
    ///
    /// ```no_run
    /// let client = quickmc::Client::new(["10.0.0.1:11211", "10.0.0.2:11211:2", "/run/mc.sock"])?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn new<S: AsRef<str>>(servers: impl IntoIterator<Item = S>) -> Result<Client> {
        ClientBuilder::default().servers(servers).build()
    }

    /// A builder for every behavior.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use quickmc::distribution::DistributionKind;
    /// let client = quickmc::Client::builder()
    ///     .servers(["cache-1:11211", "cache-2:11211"])
    ///     .distribution(DistributionKind::Ketama)
    ///     .io_timeout(Some(Duration::from_millis(200)))
    ///     .max_connections(8)
    ///     .build()?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub(crate) fn from_parts(
        servers: Vec<ServerState>,
        ring: Distribution,
        behavior: Behavior,
        transcoder: Arc<dyn Transcoder>,
    ) -> Client {
        Client {
            inner: Arc::new(Inner {
                live_ring: RwLock::new(ring.clone()),
                servers,
                ring,
                any_ejected: AtomicBool::new(false),
                behavior,
                transcoder,
            }),
        }
    }

    /// The servers, in the order given.
    ///
    /// ```no_run
    /// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// assert_eq!(client.servers()[0].to_string(), "127.0.0.1:11211");
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn servers(&self) -> Vec<&ServerSpec> {
        self.inner.servers.iter().map(|s| &s.spec).collect()
    }

    /// The index of the server `key` maps to, as pylibmc's `hash` returns
    /// (0 with one server). Ejected servers are skipped, as operations skip them.
    ///
    /// ```
    /// let client = quickmc::Client::new(["a:11211", "b:11211", "c:11211"])?;
    /// assert!(client.hash("user:1")? < 3);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn hash(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        self.route(key.as_ref())
    }

    /// The key's raw hash under the configured algorithm (libhashkit's value).
    ///
    /// ```
    /// let client = quickmc::Client::new(["a:11211"])?;
    /// assert_eq!(client.raw_hash("foo"), quickmc::distribution::HashAlgorithm::Default.hash(b"foo"));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn raw_hash(&self, key: impl AsRef<[u8]>) -> u32 {
        self.inner.ring.raw_hash(key.as_ref())
    }

    /// The distribution over all servers (for placement summaries).
    ///
    /// ```
    /// let client = quickmc::Client::new(["a:11211", "b:11211"])?;
    /// assert_eq!(client.distribution().len(), 2);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn distribution(&self) -> &Distribution {
        &self.inner.ring
    }

    /// How a value is stored: the bytes and flags the transcoder produces
    /// (pylibmc's `serialize`).
    ///
    /// ```
    /// let client = quickmc::Client::new(["a:11211"])?;
    /// let (bytes, flags) = client.serialize(&42u32, Default::default())?;
    /// assert_eq!((bytes.as_slice(), flags), (&b"42"[..], 4));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn serialize<V: ToValue + ?Sized>(
        &self,
        value: &V,
        options: StoreOptions,
    ) -> Result<(Vec<u8>, u32)> {
        let item = self.encode_value(value, options)?;
        Ok((item.data.into_owned(), item.flags))
    }

    /// Reads stored bytes and flags as a value (pylibmc's `deserialize`).
    ///
    /// ```
    /// let client = quickmc::Client::new(["a:11211"])?;
    /// let text: String = client.deserialize(b"hi", 16)?;
    /// assert_eq!(text, "hi");
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn deserialize<T: FromValue>(&self, bytes: &[u8], flags: u32) -> Result<T> {
        self.decode_value(bytes, flags)
    }

    /// Drops every pooled connection: idle ones at once, checked-out ones
    /// when they are returned. New operations open new connections.
    ///
    /// ```no_run
    /// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.disconnect_all();
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn disconnect_all(&self) {
        for server in &self.inner.servers {
            server.generation.fetch_add(1, Ordering::AcqRel);
            while let Some(mut conn) = server.pool.try_get() {
                conn.mark_broken();
            }
        }
    }

    /// Pool state per server: (open connections, idle connections).
    ///
    /// ```no_run
    /// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let (open, idle) = client.pool_state()[0];
    /// assert!(idle <= open);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn pool_state(&self) -> Vec<(u32, u32)> {
        self.inner
            .servers
            .iter()
            .map(|s| {
                let st = s.pool.state();
                (st.connections, st.idle_connections)
            })
            .collect()
    }

    // ---- shared helpers for the operations ----

    pub(crate) fn encode_value<'v, V: ToValue + ?Sized>(
        &self,
        value: &'v V,
        options: StoreOptions,
    ) -> Result<Item<'v>> {
        let item = value.to_item()?;
        self.inner.transcoder.encode(item, options.compression())
    }

    pub(crate) fn decode_value<T: FromValue>(&self, bytes: &[u8], flags: u32) -> Result<T> {
        let item = self.inner.transcoder.decode(Item::new(bytes, flags))?;
        T::from_item(item)
    }

    pub(crate) fn check_key<'k>(&self, key: &'k [u8]) -> Result<&'k [u8]> {
        key::check(key, self.inner.behavior.strict_keys)?;
        Ok(key)
    }

    pub(crate) fn strict_keys(&self) -> bool {
        self.inner.behavior.strict_keys
    }

    pub(crate) fn server_count(&self) -> usize {
        self.inner.servers.len()
    }

    pub(crate) fn server_name(&self, index: usize) -> Arc<str> {
        self.inner
            .servers
            .get(index)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "?".into())
    }

    pub(crate) fn batch_deadline(&self) -> Option<Instant> {
        self.inner
            .behavior
            .batch_deadline
            .map(|d| Instant::now() + d)
    }

    /// The server a key maps to, skipping ejected servers.
    pub(crate) fn route(&self, key: &[u8]) -> Result<usize> {
        let inner = &*self.inner;
        if inner.servers.len() == 1 {
            return Ok(0);
        }
        if inner.any_ejected.load(Ordering::Acquire) {
            self.end_expired_ejections();
            if inner.any_ejected.load(Ordering::Acquire) {
                return inner
                    .live_ring
                    .read()
                    .server_for(key)
                    .ok_or(Error::NoServers);
            }
        }
        inner.ring.server_for(key).ok_or(Error::NoServers)
    }

    fn rebuild_live_ring(&self) {
        let inner = &*self.inner;
        let now = Instant::now();
        let live: Vec<bool> = inner
            .servers
            .iter()
            .map(|s| !s.health.is_ejected(now))
            .collect();
        let any = live.iter().any(|l| !l);
        let points: Vec<_> = inner
            .servers
            .iter()
            .map(|s| builder::server_point(&s.spec))
            .collect();
        let mut ring = inner.live_ring.write();
        *ring = Distribution::new(
            inner.ring.kind(),
            inner.ring.hash_algorithm(),
            &points,
            &live,
        );
        inner.any_ejected.store(any, Ordering::Release);
    }

    fn end_expired_ejections(&self) {
        let now = Instant::now();
        let mut changed = false;
        for server in &self.inner.servers {
            if server.health.ejection_expired(now) {
                changed |= server.health.end_ejection(now);
            }
        }
        if changed {
            self.rebuild_live_ring();
        }
    }

    fn server(&self, index: usize) -> Result<&ServerState> {
        self.inner.servers.get(index).ok_or(Error::NoServers)
    }

    pub(crate) fn succeeded(&self, index: usize) {
        if let Some(server) = self.inner.servers.get(index)
            && server.health.record_success()
        {
            self.rebuild_live_ring();
        }
    }

    pub(crate) fn failed(&self, index: usize, error: &Error) {
        if !error.is_server_failure() || matches!(error, Error::ServerDown { .. }) {
            return;
        }
        let Some(server) = self.inner.servers.get(index) else {
            return;
        };
        let can_eject =
            self.inner.ring.kind() != DistributionKind::Modula && self.inner.servers.len() > 1;
        if server
            .health
            .record_failure(&self.inner.behavior.health, can_eject)
            == Verdict::Eject
        {
            self.rebuild_live_ring();
        }
    }

    /// Fails fast when the server is within its retry timeout.
    pub(crate) fn ensure_up(&self, index: usize) -> Result<()> {
        let server = self.server(index)?;
        if server.health.is_down() {
            return Err(Error::ServerDown {
                server: server.name.clone(),
            });
        }
        Ok(())
    }

    /// Checks a connection out of a server's pool, skipping connections made
    /// before the last `disconnect_all` or dead-connection sweep.
    pub(crate) fn checkout(&self, index: usize) -> Result<Pooled> {
        if let Some(conn) = reserve::take(self, index)
            && !conn.is_broken()
        {
            return Ok(conn);
        }
        let server = self.server(index)?;
        let result = self.checkout_from(server);
        if let Err(e) = &result {
            self.failed(index, e);
        }
        result
    }

    fn checkout_from(&self, server: &ServerState) -> Result<Pooled> {
        loop {
            let generation = server.generation.load(Ordering::Acquire);
            let mut conn = match server.pool.try_get() {
                Some(conn) => conn,
                None => self.wait_for_connection(server)?,
            };
            // A connection idle for a while may have been closed by a
            // server restart: one zero-timeout poll finds out before use.
            let stale = conn.idle_for() > STALE_CHECK_AFTER && conn.peer_closed();
            // r2d2 enforces max_lifetime only every 30 s; honour it here
            // (a connection never used is always fine, or a lifetime
            // shorter than a connect would loop).
            let expired = conn.has_been_used()
                && self
                    .inner
                    .behavior
                    .max_lifetime
                    .is_some_and(|max| conn.age() > max);
            if conn.generation() == generation && !conn.is_broken() && !stale && !expired {
                return Ok(conn);
            }
            if stale {
                server.generation.fetch_add(1, Ordering::AcqRel);
            }
            conn.mark_broken();
        }
    }

    fn wait_for_connection(&self, server: &ServerState) -> Result<Pooled> {
        // r2d2 connects on its own threads and only reports failures when
        // the whole timeout has passed; wait in short slices and give up as
        // soon as a connect fails, so a dead server answers fast.
        const SLICE: Duration = Duration::from_millis(5);
        let start = Instant::now();
        let end = start + self.inner.behavior.checkout_timeout;
        let failures = server.failures.count();
        loop {
            let now = Instant::now();
            let slice = end.saturating_duration_since(now).min(SLICE);
            if let Ok(conn) = server
                .pool
                .get_timeout(slice.max(Duration::from_micros(100)))
            {
                return Ok(conn);
            }
            if server.failures.count() != failures {
                return Err(server.failures.last().unwrap_or(Error::PoolTimeout {
                    server: server.name.clone(),
                }));
            }
            if Instant::now() >= end {
                return Err(Error::PoolTimeout {
                    server: server.name.clone(),
                });
            }
        }
    }

    /// Runs `op` on a connection to server `index`, keeping health.
    ///
    /// The retry rule: when a connection that came from the pool already
    /// used fails with an I/O error (the server closed it, say after a
    /// restart), every idle connection to that server is retired and, if
    /// the operation is [`Retry::Safe`], it runs once more on a fresh
    /// connection. Timeouts are never retried (that would double the wait).
    pub(crate) fn execute<R>(
        &self,
        index: usize,
        retry: Retry,
        mut op: impl FnMut(&mut Connection) -> Result<R>,
    ) -> Result<R> {
        self.ensure_up(index)?;
        let mut conn = self.checkout(index)?;
        let reused = conn.has_been_used();
        let result = self.run_checked(index, &mut conn, &mut op);
        self.release(index, conn);
        match result {
            Err(e @ Error::Io { .. }) if reused => {
                // A stale pooled connection says nothing about the server's
                // health: only a fresh connection failing counts against it.
                self.retire_idle(index);
                if retry == Retry::Never {
                    return Err(e);
                }
                let mut fresh = self.checkout(index)?;
                let result = self.run_checked(index, &mut fresh, &mut op);
                self.release(index, fresh);
                if let Err(e) = &result
                    && e.breaks_connection()
                {
                    self.failed(index, e);
                }
                result
            }
            Err(e) if e.breaks_connection() => {
                self.failed(index, &e);
                Err(e)
            }
            other => other,
        }
    }

    /// Runs `op`; marks the connection broken on a breaking error and the
    /// server healthy on any answer.
    fn run_checked<R>(
        &self,
        index: usize,
        conn: &mut Connection,
        op: &mut impl FnMut(&mut Connection) -> Result<R>,
    ) -> Result<R> {
        let result = op(conn);
        match &result {
            Err(e) if e.breaks_connection() => conn.mark_broken(),
            _ => self.succeeded(index),
        }
        result
    }

    /// Returns a connection: into this thread's reservation if one is
    /// open, else to the pool (which discards it if broken).
    pub(crate) fn release(&self, index: usize, conn: Pooled) {
        if conn.is_broken() {
            return;
        }
        drop(reserve::keep(self, index, conn));
    }

    /// Retires every idle connection to a server (they are likely as dead as
    /// the one that just failed).
    pub(crate) fn retire_idle(&self, index: usize) {
        if let Some(server) = self.inner.servers.get(index) {
            server.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_send_sync_and_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Client>();
    }

    #[test]
    fn a_key_maps_to_index_zero_with_one_server_and_spreads_over_many() {
        let one = Client::new(["127.0.0.1:1"]).unwrap();
        assert_eq!(one.hash("anything").unwrap(), 0);
        let three = Client::new(["a:1", "b:1", "c:1"]).unwrap();
        let mut seen = [false; 3];
        for i in 0..100 {
            seen[three.hash(format!("k{i}")).unwrap()] = true;
        }
        assert_eq!(seen, [true; 3]);
    }
}
