//! Building a client: servers and every behavior.

use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use parking_lot::RwLock;

use super::{Behavior, Client, Inner, server_point};
use crate::command::MuxLimits;
use crate::connection::{ConnectionOptions, Credentials};
use crate::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
use crate::pool::{HealthPolicy, PoolConfig, Pools, SharedPools};
use crate::transport::TransportOptions;
use crate::value::{CompressionAlgorithm, DefaultTranscoder, Transcoder};
use crate::{Error, Result, ServerSpec};

/// Builds a [`Client`]. Every option has a default fit for production on a LAN.
///
/// ```no_run
/// use std::time::Duration;
/// use quickmc::distribution::{DistributionKind, HashAlgorithm};
/// let client = quickmc::Client::builder()
///     .servers(["10.0.0.1:11211", "10.0.0.2:11211"])
///     .distribution(DistributionKind::Ketama)
///     .hash(HashAlgorithm::Md5)
///     .connect_timeout(Duration::from_millis(500))
///     .retry_timeout(Duration::from_secs(2))
///     .failure_limit(3)
///     .remove_failed(true)
///     .build()?;
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    servers: Vec<String>,
    distribution: DistributionKind,
    hash: HashAlgorithm,
    transport: TransportOptions,
    io_timeout: Option<Duration>,
    credentials: Option<Credentials>,
    pool: PoolConfig,
    strict_keys: bool,
    compression: CompressionAlgorithm,
    pylibmc_compatible: bool,
    max_value_size: usize,
    transcoder: Option<Arc<dyn Transcoder>>,
    batch_deadline: Option<Duration>,
    /// Shared connections per server, in the pipelined mode.
    pipelined: Option<usize>,
    pipeline_limits: MuxLimits,
    pipeline_spin: Duration,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
    /// Whether `tls` applies to every server, or to `tls://` ones only.
    #[cfg(feature = "tls")]
    tls_everywhere: bool,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder {
            servers: Vec::new(),
            distribution: DistributionKind::Modula,
            hash: HashAlgorithm::Default,
            transport: TransportOptions::default(),
            io_timeout: Some(Duration::from_secs(1)),
            credentials: None,
            pool: PoolConfig {
                max_connections: 16,
                min_idle: 0,
                checkout_timeout: Duration::from_millis(500),
                idle_timeout: Some(Duration::from_secs(600)),
                max_lifetime: None,
                test_on_checkout: false,
                health: HealthPolicy {
                    retry_timeout: Duration::from_secs(2),
                    failure_limit: 5,
                    remove_failed: false,
                    dead_timeout: Duration::from_secs(10),
                },
            },
            strict_keys: false,
            compression: CompressionAlgorithm::Zstd,
            pylibmc_compatible: false,
            max_value_size: 64 << 20,
            transcoder: None,
            batch_deadline: Some(Duration::from_secs(10)),
            pipelined: None,
            pipeline_limits: MuxLimits::default(),
            pipeline_spin: Duration::from_micros(200),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "tls")]
            tls_everywhere: false,
        }
    }
}

impl ClientBuilder {
    /// Each server's connection options: TLS where the builder or the
    /// server's spec asks for it, one rustls configuration for them all.
    #[cfg(feature = "tls")]
    fn per_server_options(
        &self,
        specs: &[ServerSpec],
        options: ConnectionOptions,
    ) -> Result<Vec<ConnectionOptions>> {
        let wants_tls = |spec: &ServerSpec| self.tls_everywhere || spec.tls;
        let setup = match specs.iter().any(wants_tls) {
            true => Some(self.tls.clone().unwrap_or_default().build()?),
            false => None,
        };
        Ok(specs
            .iter()
            .map(|spec| {
                let mut options = options.clone();
                if wants_tls(spec) {
                    options.transport.tls = setup.clone();
                }
                options
            })
            .collect())
    }

    /// Each server's connection options (TLS needs the `tls` feature).
    #[cfg(not(feature = "tls"))]
    fn per_server_options(
        &self,
        specs: &[ServerSpec],
        options: ConnectionOptions,
    ) -> Result<Vec<ConnectionOptions>> {
        if let Some(spec) = specs.iter().find(|s| s.tls) {
            return Err(Error::Config(format!(
                "{spec}: quickmc was built without its `tls` feature"
            )));
        }
        Ok(vec![options; specs.len()])
    }
}

/// Refuses a zero duration: to the OS it means "block forever", to a
/// deadline "fail at once" — neither is what anyone asking for 0 wants.
fn nonzero(name: &str, duration: Option<Duration>) -> Result<()> {
    match duration {
        Some(d) if d.is_zero() => Err(Error::Config(format!(
            "{name} must be above zero (use None, where offered, for no limit)"
        ))),
        _ => Ok(()),
    }
}

impl ClientBuilder {
    /// Adds servers (`host`, `host:port`, `host:port:weight`,
    /// `[v6]:port[:weight]`, `/unix/socket`). Order matters for placement.
    ///
    /// ```
    /// let b = quickmc::Client::builder().servers(["a:11211", "b:11211"]);
    /// ```
    pub fn servers<S: AsRef<str>>(mut self, servers: impl IntoIterator<Item = S>) -> ClientBuilder {
        self.servers
            .extend(servers.into_iter().map(|s| s.as_ref().to_string()));
        self
    }

    /// Key distribution: modula (default), ketama, or weighted ketama. As in
    /// libmemcached, ketama becomes weighted when any server has a weight above 1.
    ///
    /// ```
    /// let b = quickmc::Client::builder().distribution(quickmc::distribution::DistributionKind::Ketama);
    /// ```
    pub fn distribution(mut self, kind: DistributionKind) -> ClientBuilder {
        self.distribution = kind;
        self
    }

    /// Key hash (default one_at_a_time, as libmemcached).
    ///
    /// ```
    /// let b = quickmc::Client::builder().hash(quickmc::distribution::HashAlgorithm::Fnv1a_32);
    /// ```
    pub fn hash(mut self, hash: HashAlgorithm) -> ClientBuilder {
        self.hash = hash;
        self
    }

    /// Connect timeout (default 1 s).
    ///
    /// ```
    /// let b = quickmc::Client::builder().connect_timeout(std::time::Duration::from_millis(250));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.transport.connect_timeout = timeout;
        self
    }

    /// How long one operation's reply may take, all of it (default 1 s;
    /// `None` waits forever). In a batch it bounds the time a server may
    /// go without progress.
    ///
    /// ```
    /// let b = quickmc::Client::builder().io_timeout(Some(std::time::Duration::from_millis(100)));
    /// ```
    pub fn io_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.io_timeout = timeout;
        self
    }

    /// An overall deadline for each multi-key operation, every server and
    /// retry included (default 10 s; `None`: only the I/O timeout bounds a
    /// batch, per server, between replies).
    ///
    /// ```
    /// let b = quickmc::Client::builder().batch_deadline(Some(std::time::Duration::from_secs(2)));
    /// ```
    pub fn batch_deadline(mut self, deadline: Option<Duration>) -> ClientBuilder {
        self.batch_deadline = deadline;
        self
    }

    /// TCP_NODELAY (default on).
    ///
    /// ```
    /// let b = quickmc::Client::builder().tcp_nodelay(true);
    /// ```
    pub fn tcp_nodelay(mut self, on: bool) -> ClientBuilder {
        self.transport.tcp_nodelay = on;
        self
    }

    /// SO_KEEPALIVE (default off).
    ///
    /// ```
    /// let b = quickmc::Client::builder().tcp_keepalive(true);
    /// ```
    pub fn tcp_keepalive(mut self, on: bool) -> ClientBuilder {
        self.transport.tcp_keepalive = on;
        self
    }

    /// SASL PLAIN credentials (the server runs with `-S`).
    ///
    /// ```
    /// let b = quickmc::Client::builder().credentials("alice", "secret");
    /// ```
    pub fn credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> ClientBuilder {
        self.credentials = Some(Credentials {
            username: username.into(),
            password: password.into(),
        });
        self
    }

    /// Most connections per server (default 16).
    ///
    /// ```
    /// let b = quickmc::Client::builder().max_connections(4);
    /// ```
    pub fn max_connections(mut self, n: u32) -> ClientBuilder {
        self.pool.max_connections = n;
        self
    }

    /// Idle connections the pool keeps open per server (default 0: connect on demand).
    ///
    /// ```
    /// let b = quickmc::Client::builder().min_idle(2);
    /// ```
    pub fn min_idle(mut self, n: u32) -> ClientBuilder {
        self.pool.min_idle = n;
        self
    }

    /// How long an operation waits for a pooled connection (default 500 ms).
    /// Short on purpose: a pool that stays exhausted that long means the
    /// service is overloaded, and a typed error serves it better than a queue.
    /// An operation for which a connection is being made waits for that
    /// connect instead (the connect timeout, plus the I/O timeout for a TLS
    /// handshake or SASL), so a connect that times out is reported as such
    /// and counts against the server.
    ///
    /// ```
    /// let b = quickmc::Client::builder().checkout_timeout(std::time::Duration::from_millis(100));
    /// ```
    pub fn checkout_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.pool.checkout_timeout = timeout;
        self
    }

    /// Idle connections above `min_idle` close after this (default 10 min).
    ///
    /// ```
    /// let b = quickmc::Client::builder().idle_timeout(Some(std::time::Duration::from_secs(60)));
    /// ```
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.pool.idle_timeout = timeout;
        self
    }

    /// Connections close after this age, checked at every checkout (default none).
    ///
    /// ```
    /// let b = quickmc::Client::builder().max_lifetime(Some(std::time::Duration::from_secs(3600)));
    /// ```
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> ClientBuilder {
        self.pool.max_lifetime = lifetime;
        self
    }

    /// Send a Noop on every checkout to prove the connection (default off:
    /// it costs a round trip per operation; dead connections are found on
    /// use and retried per the retry rule instead).
    ///
    /// ```
    /// let b = quickmc::Client::builder().test_on_checkout(true);
    /// ```
    pub fn test_on_checkout(mut self, on: bool) -> ClientBuilder {
        self.pool.test_on_checkout = on;
        self
    }

    /// After a failure to connect to a server, skip it for this long
    /// (default 2 s, as libmemcached). Other failures (a timeout, a
    /// connection dying) count towards [`failure_limit`](Self::failure_limit)
    /// but skip nothing.
    ///
    /// ```
    /// let b = quickmc::Client::builder().retry_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn retry_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.pool.health.retry_timeout = timeout;
        self
    }

    /// Consecutive failures before ejection (default 5, as libmemcached).
    ///
    /// ```
    /// let b = quickmc::Client::builder().failure_limit(3);
    /// ```
    pub fn failure_limit(mut self, n: u32) -> ClientBuilder {
        self.pool.health.failure_limit = n;
        self
    }

    /// Eject a server from the ketama continuum after `failure_limit`
    /// failures (pylibmc's remove_failed / auto_eject; default off). Modula never ejects.
    ///
    /// ```
    /// let b = quickmc::Client::builder().remove_failed(true);
    /// ```
    pub fn remove_failed(mut self, on: bool) -> ClientBuilder {
        self.pool.health.remove_failed = on;
        self
    }

    /// How long an ejected server stays out (default 10 s).
    ///
    /// ```
    /// let b = quickmc::Client::builder().dead_timeout(std::time::Duration::from_secs(30));
    /// ```
    pub fn dead_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.pool.health.dead_timeout = timeout;
        self
    }

    /// Refuse keys with anything but printable ASCII (control characters,
    /// spaces, DEL, UTF-8), as libmemcached's `verify_key` does: pylibmc's
    /// verify_keys. Default off: the binary protocol carries any byte.
    ///
    /// ```
    /// let b = quickmc::Client::builder().strict_keys(true);
    /// ```
    pub fn strict_keys(mut self, on: bool) -> ClientBuilder {
        self.strict_keys = on;
        self
    }

    /// Compressor used when a store asks for compression (default zstd;
    /// zlib writes what pylibmc reads).
    ///
    /// ```
    /// let b = quickmc::Client::builder().compression(quickmc::value::CompressionAlgorithm::Zlib);
    /// ```
    pub fn compression(mut self, algorithm: CompressionAlgorithm) -> ClientBuilder {
        self.compression = algorithm;
        self
    }

    /// Largest value accepted from the network and after decompression
    /// (default 64 MiB). A reply declaring more is refused unallocated:
    /// [`Error::ValueTooLarge`] for its key, the server not blamed. A pooled
    /// connection is then discarded; a shared one (pipelined, async) reads
    /// past the value and goes on, so the callers sharing it are unharmed.
    ///
    /// ```
    /// let b = quickmc::Client::builder().max_value_size(2 << 20);
    /// ```
    pub fn max_value_size(mut self, bytes: usize) -> ClientBuilder {
        self.max_value_size = bytes;
        self
    }

    /// Replaces the transcoder (compression step) entirely.
    ///
    /// ```
    /// use quickmc::value::{CompressionAlgorithm, DefaultTranscoder};
    /// let b = quickmc::Client::builder().transcoder(DefaultTranscoder::new(CompressionAlgorithm::Zlib, 1 << 20));
    /// ```
    pub fn transcoder(mut self, transcoder: impl Transcoder + 'static) -> ClientBuilder {
        self.transcoder = Some(Arc::new(transcoder));
        self
    }

    /// Speaks TLS to every server, with `config` (the `tls` feature). To
    /// speak TLS to some servers only, mark them `tls://host:port` instead
    /// (see [`tls_config`](ClientBuilder::tls_config)). TLS never moves a
    /// key: placement hashes the host and port only.
    ///
    /// ```no_run
    /// let client = quickmc::Client::builder()
    ///     .servers(["cache.example.com:11211"])
    ///     .tls(quickmc::TlsConfig::new().ca_file("/etc/ssl/memcached-ca.pem")?)
    ///     .build()?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::TlsConfig) -> ClientBuilder {
        self.tls = Some(config);
        self.tls_everywhere = true;
        self
    }

    /// The TLS configuration of the servers marked `tls://host:port`,
    /// leaving the others plain (without it, marked servers verify against
    /// the platform's roots: [`TlsConfig::new`](crate::TlsConfig::new)).
    ///
    /// ```no_run
    /// let client = quickmc::Client::builder()
    ///     .servers(["10.0.0.1:11211", "tls://cache.example.com:11211"])
    ///     .tls_config(quickmc::TlsConfig::new().ca_file("/etc/ssl/memcached-ca.pem")?)
    ///     .build()?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: crate::TlsConfig) -> ClientBuilder {
        self.tls = Some(config);
        self.tls_everywhere = false;
        self
    }

    /// The pipelined mode (default off): instead of a pool per server,
    /// each server gets `connections` (2 is a good start) that every
    /// thread shares. Concurrent threads' requests go out in shared writes,
    /// and one waiting thread reads the replies for all and hands each its
    /// own, so many threads cost few syscalls; a thread alone does its own
    /// I/O, as in the pooled mode. A batch goes in windows of at most 1,024
    /// requests (or 128 KiB) with at most two in flight, so even a huge
    /// one never holds other threads back for its whole length. Everything
    /// else — placement, the retry rule, values, reports — is unchanged;
    /// `max_connections`, `checkout_timeout` and reservations do not apply
    /// (a [`reserve`](crate::Client::reserve) guard changes nothing here).
    ///
    /// ```no_run
    /// let client = quickmc::Client::builder()
    ///     .servers(["10.0.0.1:11211"])
    ///     .pipelined(2)
    ///     .build()?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn pipelined(mut self, connections: usize) -> ClientBuilder {
        self.pipelined = Some(connections.max(1));
        self
    }

    /// How much each shared connection (pipelined mode, async client) takes
    /// in before callers wait for replies to make room: requests or batch
    /// windows queued or in flight, and their bytes (default 4,096 and 8
    /// MiB). A request or window too big to join those in flight waits,
    /// off the wire, until replies make room; a caller alone on a
    /// connection is always let in, whatever its size; a caller kept
    /// waiting past its deadline gets
    /// [`Error::Timeout`].
    ///
    /// ```
    /// use quickmc::command::MuxLimits;
    /// let b = quickmc::Client::builder()
    ///     .pipelined(2)
    ///     .pipeline_limits(MuxLimits { max_segments: 256, max_bytes: 1 << 20 });
    /// ```
    pub fn pipeline_limits(mut self, limits: MuxLimits) -> ClientBuilder {
        self.pipeline_limits = limits;
        self
    }

    /// How long a thread waiting for its reply on a shared connection
    /// (pipelined mode) may spin before it sleeps (default 200 µs;
    /// `Duration::ZERO` sleeps at once). The spin yields the processor
    /// every few looks and adapts: each thread spins only while its
    /// replies have been coming back within this time, and soon stops if
    /// they take longer (a distant server). Replies from a nearby server
    /// come back in tens of microseconds, and putting a thread to sleep and
    /// waking it costs about as much again, more on a virtual machine:
    /// spinning raised 8 threads' gets per second on 2 cores 1.8x to 2.0x
    /// over loopback, for less CPU per get. Replies that take about this
    /// long keep threads spinning for little gain (a server 100 µs away,
    /// through a proxy on the same 2 cores: 20% to 40% more CPU per get):
    /// for servers a network hop away, measure, and lower it or set it to
    /// zero, as where CPU time is billed by the microsecond (a tight
    /// container quota).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = quickmc::Client::builder()
    ///     .pipelined(2)
    ///     .pipeline_spin(Duration::ZERO);
    /// ```
    pub fn pipeline_spin(mut self, spin: Duration) -> ClientBuilder {
        self.pipeline_spin = spin;
        self
    }

    /// Shares the cluster with pylibmc (default off): compression becomes
    /// zlib (flag 8), which pylibmc reads, and any write pylibmc could not
    /// read — a [`Serde`](crate::value::Serde) value, zstd — fails with
    /// [`Error::Incompatible`] before it is sent. Leave it off in a
    /// Rust-only cluster to keep zstd. Choosing zstd after it is a
    /// contradiction [`build`](ClientBuilder::build) refuses.
    ///
    /// ```
    /// let b = quickmc::Client::builder().pylibmc_compatible(true);
    /// ```
    pub fn pylibmc_compatible(mut self, on: bool) -> ClientBuilder {
        self.pylibmc_compatible = on;
        if on {
            self.compression = CompressionAlgorithm::Zlib;
        }
        self
    }

    /// Builds the client. Fails only on invalid specs or options; no
    /// connection is made, so a dead server never stops start-up.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(quickmc::Client::builder().servers(["bad:port"]).build().is_err());
    /// let zero = quickmc::Client::builder().servers(["a:1"]).io_timeout(Some(Duration::ZERO));
    /// assert!(matches!(zero.build(), Err(quickmc::Error::Config(_))));
    /// ```
    pub fn build(self) -> Result<Client> {
        self.build_client(false)
    }

    /// Builds the async client (the `tokio` feature): the same options, on
    /// shared connections driven by tokio — 2 per server unless
    /// [`pipelined`](ClientBuilder::pipelined) says otherwise. Pool options
    /// (`max_connections`, `checkout_timeout`, lifetimes) do not apply.
    /// Fails only on invalid specs or options; no connection is made.
    ///
    /// ```
    /// let client = quickmc::Client::builder()
    ///     .servers(["127.0.0.1:11211"])
    ///     .build_async()?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    #[cfg(feature = "tokio")]
    pub fn build_async(mut self) -> Result<crate::AsyncClient> {
        self.pipelined.get_or_insert(2);
        self.build_client(true).map(crate::AsyncClient::from_shared)
    }

    fn build_client(self, tokio: bool) -> Result<Client> {
        if self.pool.max_connections == 0 {
            return Err(Error::Config("max_connections must be at least 1".into()));
        }
        nonzero("connect_timeout", Some(self.transport.connect_timeout))?;
        nonzero("io_timeout", self.io_timeout)?;
        nonzero("checkout_timeout", Some(self.pool.checkout_timeout))?;
        nonzero("batch_deadline", self.batch_deadline)?;
        nonzero("idle_timeout", self.pool.idle_timeout)?;
        nonzero("max_lifetime", self.pool.max_lifetime)?;
        if self.pylibmc_compatible && self.compression == CompressionAlgorithm::Zstd {
            return Err(Error::Config(
                "pylibmc_compatible asks for zlib, which pylibmc reads: zstd contradicts it".into(),
            ));
        }
        let specs = self
            .servers
            .iter()
            .flat_map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()))
            .map(str::parse)
            .collect::<Result<Vec<ServerSpec>>>()?;
        // (Also for specs that were all empty: "" or " , " is no server.)
        if specs.is_empty() {
            return Err(Error::Config("no servers given".into()));
        }
        let mut kind = self.distribution;
        if kind == DistributionKind::Ketama && specs.iter().any(|s| s.weight > 1) {
            kind = DistributionKind::KetamaWeighted;
        }
        let points: Vec<ServerPoint> = specs.iter().map(server_point).collect();
        let ring = Distribution::new(kind, self.hash, &points, &vec![true; points.len()]);
        let options = ConnectionOptions {
            transport: TransportOptions {
                read_timeout: self.io_timeout,
                ..self.transport.clone()
            },
            io_timeout: self.io_timeout,
            max_value: u32::try_from(self.max_value_size).unwrap_or(u32::MAX),
            credentials: self.credentials.clone(),
        };
        let per_server = self.per_server_options(&specs, options)?;
        let pools = Pools::new(specs.iter().cloned().zip(per_server).collect(), self.pool);
        let transcoder = self.transcoder.unwrap_or_else(|| {
            Arc::new(DefaultTranscoder::new(
                self.compression,
                self.max_value_size,
            ))
        });
        let shared = self.pipelined.map(|per_server| {
            SharedPools::new(&pools, per_server, self.pipeline_limits, self.pipeline_spin)
        });
        Ok(Client {
            inner: Arc::new(Inner {
                specs,
                pools: ManuallyDrop::new(pools),
                shared: ManuallyDrop::new(shared),
                tokio,
                live_ring: RwLock::new(ring.clone()),
                ring,
                any_ejected: AtomicBool::new(false),
                behavior: Behavior {
                    strict_keys: self.strict_keys,
                    batch_deadline: self.batch_deadline,
                    io_timeout: self.io_timeout,
                    pylibmc_compatible: self.pylibmc_compatible,
                },
                transcoder,
            }),
        })
    }
}
