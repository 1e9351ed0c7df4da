//! Building a client: servers and every behavior.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::health::{Health, HealthPolicy};
use super::{Behavior, Client, ServerState};
use crate::connection::{ConnectionOptions, Credentials};
use crate::distribution::{Distribution, DistributionKind, HashAlgorithm, ServerPoint};
use crate::pool::ServerManager;
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
    connection: ConnectionOptions,
    max_connections: u32,
    min_idle: u32,
    checkout_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    test_on_checkout: bool,
    health: HealthPolicy,
    strict_keys: bool,
    compression: CompressionAlgorithm,
    max_value_size: usize,
    transcoder: Option<Arc<dyn Transcoder>>,
    batch_deadline: Option<Duration>,
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder {
            servers: Vec::new(),
            distribution: DistributionKind::Modula,
            hash: HashAlgorithm::Default,
            connection: ConnectionOptions::default(),
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
            strict_keys: false,
            compression: CompressionAlgorithm::Zstd,
            max_value_size: 64 << 20,
            transcoder: None,
            batch_deadline: None,
        }
    }
}

/// The continuum point source libmemcached hashes for a server.
pub(crate) fn server_point(spec: &ServerSpec) -> ServerPoint {
    let (host, port) = spec.ketama_host_port();
    ServerPoint::new(host, port, spec.weight)
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
        self.connection.connect_timeout = timeout;
        self
    }

    /// Timeout of every read and write (default 1 s; `None` waits forever).
    ///
    /// ```
    /// let b = quickmc::Client::builder().io_timeout(Some(std::time::Duration::from_millis(100)));
    /// ```
    pub fn io_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.connection.io_timeout = timeout;
        self
    }

    /// An overall deadline for each multi-key batch (default none: each
    /// read and write is still bounded by the I/O timeout).
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
        self.connection.tcp_nodelay = on;
        self
    }

    /// SO_KEEPALIVE (default off).
    ///
    /// ```
    /// let b = quickmc::Client::builder().tcp_keepalive(true);
    /// ```
    pub fn tcp_keepalive(mut self, on: bool) -> ClientBuilder {
        self.connection.tcp_keepalive = on;
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
        self.connection.credentials = Some(Credentials::new(username, password));
        self
    }

    /// Most connections per server (default 16).
    ///
    /// ```
    /// let b = quickmc::Client::builder().max_connections(4);
    /// ```
    pub fn max_connections(mut self, n: u32) -> ClientBuilder {
        self.max_connections = n;
        self
    }

    /// Idle connections the pool keeps open per server (default 0: connect on demand).
    ///
    /// ```
    /// let b = quickmc::Client::builder().min_idle(2);
    /// ```
    pub fn min_idle(mut self, n: u32) -> ClientBuilder {
        self.min_idle = n;
        self
    }

    /// How long an operation waits for a pooled connection (default 500 ms).
    /// Short on purpose: a pool that stays exhausted that long means the
    /// service is overloaded, and a typed error serves it better than a queue.
    ///
    /// ```
    /// let b = quickmc::Client::builder().checkout_timeout(std::time::Duration::from_millis(100));
    /// ```
    pub fn checkout_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.checkout_timeout = timeout;
        self
    }

    /// Idle connections above `min_idle` close after this (default 10 min).
    ///
    /// ```
    /// let b = quickmc::Client::builder().idle_timeout(Some(std::time::Duration::from_secs(60)));
    /// ```
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.idle_timeout = timeout;
        self
    }

    /// Connections close after this age, checked at every checkout (default none).
    ///
    /// ```
    /// let b = quickmc::Client::builder().max_lifetime(Some(std::time::Duration::from_secs(3600)));
    /// ```
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> ClientBuilder {
        self.max_lifetime = lifetime;
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
        self.test_on_checkout = on;
        self
    }

    /// After a failure, skip the server for this long (default 2 s, as libmemcached).
    ///
    /// ```
    /// let b = quickmc::Client::builder().retry_timeout(std::time::Duration::from_secs(1));
    /// ```
    pub fn retry_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.health.retry_timeout = timeout;
        self
    }

    /// Consecutive failures before ejection (default 5, as libmemcached).
    ///
    /// ```
    /// let b = quickmc::Client::builder().failure_limit(3);
    /// ```
    pub fn failure_limit(mut self, n: u32) -> ClientBuilder {
        self.health.failure_limit = n;
        self
    }

    /// Eject a server from the ketama continuum after `failure_limit`
    /// failures (pylibmc's remove_failed / auto_eject; default off). Modula never ejects.
    ///
    /// ```
    /// let b = quickmc::Client::builder().remove_failed(true);
    /// ```
    pub fn remove_failed(mut self, on: bool) -> ClientBuilder {
        self.health.remove_failed = on;
        self
    }

    /// How long an ejected server stays out (default 10 s).
    ///
    /// ```
    /// let b = quickmc::Client::builder().dead_timeout(std::time::Duration::from_secs(30));
    /// ```
    pub fn dead_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.health.dead_timeout = timeout;
        self
    }

    /// Refuse keys with control characters, spaces or DEL, which ASCII
    /// clients cannot use (pylibmc's verify_keys; default off: the binary
    /// protocol carries any byte).
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
    /// (default 64 MiB). A reply declaring more is refused unallocated.
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

    /// Builds the client. Fails only on invalid specs or options; no
    /// connection is made, so a dead server never stops start-up.
    ///
    /// ```
    /// assert!(quickmc::Client::builder().servers(["bad:port"]).build().is_err());
    /// ```
    pub fn build(self) -> Result<Client> {
        if self.servers.is_empty() {
            return Err(Error::Config("no servers given".into()));
        }
        if self.max_connections == 0 {
            return Err(Error::Config("max_connections must be at least 1".into()));
        }
        let specs = self
            .servers
            .iter()
            .flat_map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()))
            .map(str::parse)
            .collect::<Result<Vec<ServerSpec>>>()?;
        let mut kind = self.distribution;
        if kind == DistributionKind::Ketama && specs.iter().any(|s| s.weight > 1) {
            kind = DistributionKind::KetamaWeighted;
        }
        let points: Vec<ServerPoint> = specs.iter().map(server_point).collect();
        let ring = Distribution::new(kind, self.hash, &points, &vec![true; points.len()]);
        let mut connection = self.connection;
        connection.max_body =
            u32::try_from(self.max_value_size.saturating_add(512)).unwrap_or(u32::MAX);
        let epoch = Instant::now();
        let servers = specs
            .into_iter()
            .map(|spec| {
                let health = Arc::new(Health::new(epoch));
                let name: Arc<str> = spec.address.to_string().into();
                let gate_health = health.clone();
                let gate_name = name.clone();
                let manager = ServerManager::new(spec.address.clone(), connection.clone())
                    .with_gate(Arc::new(move || {
                        if gate_health.is_down() {
                            Err(Error::ServerDown {
                                server: gate_name.clone(),
                            })
                        } else {
                            Ok(())
                        }
                    }));
                let generation = manager.generation();
                let failures = manager.failures();
                let pool = r2d2::Pool::builder()
                    .max_size(self.max_connections)
                    .min_idle(Some(self.min_idle.min(self.max_connections)))
                    .connection_timeout(self.checkout_timeout.max(Duration::from_millis(1)))
                    .idle_timeout(self.idle_timeout)
                    .max_lifetime(self.max_lifetime)
                    .test_on_check_out(self.test_on_checkout)
                    .error_handler(Box::new(r2d2::NopErrorHandler))
                    .build_unchecked(manager);
                ServerState {
                    spec,
                    name,
                    pool,
                    health,
                    generation,
                    failures,
                }
            })
            .collect();
        let transcoder = self.transcoder.unwrap_or_else(|| {
            Arc::new(DefaultTranscoder::new(
                self.compression,
                self.max_value_size,
            ))
        });
        Ok(Client::from_parts(
            servers,
            ring,
            Behavior {
                strict_keys: self.strict_keys,
                checkout_timeout: self.checkout_timeout,
                batch_deadline: self.batch_deadline,
                max_lifetime: self.max_lifetime,
                health: self.health,
            },
            transcoder,
        ))
    }
}
