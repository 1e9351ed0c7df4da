//! The client: servers and their health, the continuum, and the public
//! operations (in the files beside this one), each a few lines over the
//! command layer, the pools and the distribution.

#[cfg(feature = "tokio")]
mod asynchronous;
mod batch;
mod builder;
mod cluster;
mod execute;
mod keys;
mod multi;
mod options;
mod report;
mod reserve;
mod retry;
mod single;
mod text;

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::RwLock;

#[cfg(feature = "tokio")]
pub use asynchronous::AsyncClient;
pub use builder::ClientBuilder;
pub use cluster::{PerServer, Ping};
pub use options::StoreOptions;
pub use report::{BatchReport, KeyFailure, ServerFailure};
pub use reserve::Reserved;

use crate::command::{Command, Idempotence, Single};
use crate::connection::Deadline;
use crate::distribution::{Distribution, DistributionKind, ServerPoint};
use crate::pool::{Pools, SharedPools, Verdict};
use crate::value::{FromValue, Item, ToValue, Transcoder, flags};
use crate::{Error, Result, ServerSpec};
use retry::{Attempt, Blame};

/// A memcached client for a cluster of servers. `Send + Sync`; `clone()` is
/// an `Arc` clone, so build one at start-up and hand a clone to every thread.
///
/// Each operation picks the key's server (libmemcached-compatible hashing),
/// checks a connection out of that server's r2d2 pool, and returns it.
///
/// **Failures.** Any I/O error, timeout or undecodable reply discards the
/// connection. A failed server is skipped for the retry timeout; with
/// `remove_failed`, it leaves the ketama continuum after `failure_limit`
/// failures. **Retry rule:** when a connection that waited in the pool
/// turns out dead before answering (say after a server restart), the idle
/// connections to that server are retired and reads and idempotent writes
/// (get, gets, gat, set, replace, delete, touch, stats, version, flush, and
/// the batches of get, gat, set, delete and touch) run once more on a fresh
/// connection, as does any request that never reached the socket; add,
/// cas, append, prepend, incr and decr (and their batches) never run twice.
/// Timeouts are never retried.
///
/// **Fork.** A client built before `fork()` fails with [`Error::Forked`] in
/// the child: its connections are the parent's (two processes reading one
/// socket take each other's replies), and the threads its pools connect on
/// were not copied. Build one in the child.
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

struct Inner {
    specs: Vec<ServerSpec>,
    /// Dropped with the client, except in a forked child (see `Drop`).
    pools: ManuallyDrop<Pools>,
    /// The shared connections, in the pipelined mode (and for the async
    /// client). Dropped as `pools` is.
    shared: ManuallyDrop<Option<SharedPools>>,
    /// The shared connections are driven by tokio (the async client).
    tokio: bool,
    /// The distribution over every server.
    ring: Distribution,
    /// The distribution over live servers, when any is ejected.
    live_ring: RwLock<Distribution>,
    any_ejected: AtomicBool,
    behavior: Behavior,
    transcoder: Arc<dyn Transcoder>,
}

impl Drop for Inner {
    /// In a forked child, the connections and pools are the parent's: they
    /// are leaked, not dropped. Dropping would unregister the parent's
    /// sockets from the epoll instance it shares with the child (the async
    /// client), shut them down, or wait on a pool lock that a thread of the
    /// parent held when the process forked.
    fn drop(&mut self) {
        if self.pools.forked() {
            return;
        }
        // SAFETY: `drop` runs once, and neither field is used after it.
        unsafe {
            ManuallyDrop::drop(&mut self.shared);
            ManuallyDrop::drop(&mut self.pools);
        }
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field(
                "servers",
                &self
                    .specs
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            )
            .field("distribution", &self.ring.kind())
            .field("hash", &self.ring.hash_algorithm())
            .finish_non_exhaustive()
    }
}

/// Behaviors the operations consult.
#[derive(Debug, Clone)]
struct Behavior {
    strict_keys: bool,
    batch_deadline: Option<Duration>,
    io_timeout: Option<Duration>,
    /// Refuse writes pylibmc could not read.
    pylibmc_compatible: bool,
}

/// The continuum point source libmemcached hashes for a server (the host as
/// written and the port; never a scheme).
fn server_point(spec: &ServerSpec) -> ServerPoint {
    let (host, port) = spec.ketama_host_port();
    ServerPoint::new(host, port, spec.weight)
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

    /// The servers, in the order given.
    ///
    /// ```no_run
    /// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// assert_eq!(client.servers()[0].to_string(), "127.0.0.1:11211");
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn servers(&self) -> &[ServerSpec] {
        &self.inner.specs
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

    /// The key's hash value under the configured algorithm (libhashkit's
    /// `memcached_generate_hash_value`), before any server is chosen.
    ///
    /// ```
    /// let client = quickmc::Client::new(["a:11211"])?;
    /// assert_eq!(client.hash_value("foo"), quickmc::distribution::HashAlgorithm::Default.hash(b"foo"));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn hash_value(&self, key: impl AsRef<[u8]>) -> u32 {
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
        self.decode_value(Item::new(bytes, flags))
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
        if self.built_before_fork() {
            // The connections are the parent's: not this process's to close.
            return;
        }
        self.inner.pools.retire_all();
        if let Some(shared) = &*self.inner.shared {
            shared.retire_all();
        }
    }

    /// Whether this process forked since the client was built (this is the
    /// child): its operations then fail with [`Error::Forked`], and it is
    /// dropped without touching the parent's connections. A client built
    /// in the child takes over.
    ///
    /// ```no_run
    /// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// assert!(!client.built_before_fork());
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn built_before_fork(&self) -> bool {
        self.inner.pools.forked()
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
        self.inner.pools.state()
    }

    // ---- values ----

    /// A value's stored form: its bytes and flags, compressed when asked.
    fn encode_value<'v, V: ToValue + ?Sized>(
        &self,
        value: &'v V,
        options: StoreOptions,
    ) -> Result<Item<'v>> {
        let item = value.to_item()?;
        let item = self.inner.transcoder.encode(item, options.compression())?;
        if self.inner.behavior.pylibmc_compatible && !flags::pylibmc_can_read(item.flags) {
            return Err(Error::Incompatible(format!(
                "flags {:#x} are quickmc's own (pylibmc_compatible is on)",
                item.flags
            )));
        }
        Ok(item)
    }

    /// A stored value as `T`, decompressed first.
    fn decode_value<T: FromValue>(&self, item: Item<'_>) -> Result<T> {
        T::from_item(self.inner.transcoder.decode(item)?)
    }

    // ---- servers, placement and health ----

    fn server_count(&self) -> usize {
        self.inner.specs.len()
    }

    fn server_name(&self, index: usize) -> Arc<str> {
        self.inner.pools.name(index)
    }

    /// The server a key maps to, skipping ejected servers.
    fn route(&self, key: &[u8]) -> Result<usize> {
        let inner = &*self.inner;
        if inner.any_ejected.load(Ordering::Acquire) {
            if inner.pools.end_expired_ejections() {
                self.rebuild_live_ring();
            }
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
        let live: Vec<bool> = (0..inner.specs.len())
            .map(|i| !inner.pools.is_ejected(i, now))
            .collect();
        let points: Vec<ServerPoint> = inner.specs.iter().map(server_point).collect();
        let mut ring = inner.live_ring.write();
        *ring = Distribution::new(
            inner.ring.kind(),
            inner.ring.hash_algorithm(),
            &points,
            &live,
        );
        inner
            .any_ejected
            .store(live.iter().any(|l| !l), Ordering::Release);
    }

    /// The server answered.
    fn succeeded(&self, index: usize) {
        if self.inner.pools.record_success(index) {
            self.rebuild_live_ring();
        }
    }

    /// Records what a failure says about the server.
    fn blame(&self, index: usize, blame: Blame) {
        match blame {
            Blame::Unreachable | Blame::Server => {
                let unreachable = blame == Blame::Unreachable;
                let can_eject =
                    self.inner.ring.kind() != DistributionKind::Modula && self.server_count() > 1;
                if self
                    .inner
                    .pools
                    .record_failure(index, unreachable, can_eject)
                    == Verdict::Eject
                {
                    self.rebuild_live_ring();
                }
            }
            Blame::StaleConnection => self.inner.pools.retire_idle(index),
            Blame::Nobody => {}
        }
    }

    /// Runs one command on server `index`, with the retry rule and health
    /// bookkeeping. Status errors are outcomes, not failures.
    async fn run<C: Command>(
        &self,
        index: usize,
        idempotence: Idempotence,
        command: &mut C,
    ) -> Result<C::Output> {
        let mut first = true;
        loop {
            let deadline = Deadline::reply(self.inner.behavior.io_timeout);
            let mut exchange = Single::new(command);
            let ran = self.execute_one(index, &mut exchange, &deadline).await;
            let failure = match ran.result {
                Ok(()) => {
                    self.succeeded(index);
                    return exchange.into_outcome().unwrap_or_else(|| {
                        Err(Error::Protocol {
                            server: self.server_name(index),
                            error: crate::ProtocolError::Unexpected("no answer"),
                        })
                    });
                }
                Err(failure) => failure,
            };
            let attempt = Attempt {
                from_pool: ran.from_pool,
                idempotence,
                first,
            };
            let verdict = retry::classify(&failure, &attempt);
            if !failure.counted {
                self.blame(index, verdict.blame);
            }
            if !verdict.retry {
                return Err(failure.error);
            }
            first = false;
        }
    }
}

/// Runs an operation of the blocking client to its end.
///
/// The operations are written once, as futures, for both clients. On the
/// blocking client nothing under them ever waits on a waker — the I/O
/// blocks the thread — so the first poll finishes them; should one ever
/// not, the thread parks until it is woken.
fn blocking<F: std::future::Future>(operation: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut operation = std::pin::pin!(operation);
    if let Poll::Ready(output) = operation
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        return output;
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    loop {
        if let Poll::Ready(output) = operation.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        std::thread::park();
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
