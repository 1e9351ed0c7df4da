//! Operations on every server: flush, stats, version, ping.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Client, blocking};
use crate::command::{Command, Flush, Idempotence, Noop, Stats, Version};
use crate::{Error, Result, TlsSession};

/// A server's answer to [`Client::ping`].
///
/// ```
/// let p = quickmc::Ping { round_trip: std::time::Duration::from_micros(40), tls: None };
/// assert!(p.tls.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// How long a Noop took, there and back.
    pub round_trip: Duration,
    /// The negotiated TLS session, for a server spoken to over TLS.
    pub tls: Option<TlsSession>,
}

/// One result per server, named as `host:port` or a socket path.
pub type PerServer<T> = Vec<(String, Result<T>)>;

impl Client {
    /// Runs a command on every server, one after another.
    async fn on_every_server<C: Command>(
        &self,
        mut make: impl FnMut() -> C,
    ) -> PerServer<C::Output> {
        let mut results = Vec::with_capacity(self.server_count());
        for index in 0..self.server_count() {
            let result = self.run(index, Idempotence::Repeatable, &mut make()).await;
            results.push((self.server_name(index).to_string(), result));
        }
        results
    }

    /// Invalidates every item on every server, after `delay` seconds (0: now).
    /// Every server is tried; the first failure is returned.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.flush_all(0)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn flush_all(&self, delay: u32) -> Result<()> {
        blocking(self.flush_every_server(delay))
    }

    pub(super) async fn flush_every_server(&self, delay: u32) -> Result<()> {
        self.flush_each_server(delay)
            .await
            .into_iter()
            .try_for_each(|(_, result)| result)
    }

    /// Invalidates every item on every server, as
    /// [`flush_all`](Client::flush_all), with each server's outcome (for a
    /// tool that reports which servers were flushed).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// for (server, result) in client.flush_all_per_server(0) {
    ///     println!("{server}: {}", if result.is_ok() { "flushed" } else { "failed" });
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn flush_all_per_server(&self, delay: u32) -> PerServer<()> {
        blocking(self.flush_each_server(delay))
    }

    pub(super) async fn flush_each_server(&self, delay: u32) -> PerServer<()> {
        self.on_every_server(|| Flush::new(delay)).await
    }

    /// Statistics of every server (`group` empty for the general ones, or
    /// `"items"`, `"slabs"`, `"settings"`, `"sizes"` ...), per server. A
    /// group memcached offers only over its text protocol (`conns`) is
    /// [`Error::UnsupportedStatsGroup`].
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// for (server, stats) in client.stats("")? {
    ///     println!("{server}: {} items", stats["curr_items"]);
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn stats(&self, group: &str) -> Result<Vec<(String, BTreeMap<String, String>)>> {
        all_or_first_error(self.stats_per_server(group))
    }

    /// Like [`stats`](Client::stats), but one result per server, so a dead
    /// server does not hide the others.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211", "127.0.0.1:11212"])?;
    /// for (server, stats) in client.stats_per_server("") {
    ///     match stats {
    ///         Ok(stats) => println!("{server}: up {}s", stats["uptime"]),
    ///         Err(e) => println!("{server}: {e}"),
    ///     }
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn stats_per_server(&self, group: &str) -> PerServer<BTreeMap<String, String>> {
        blocking(self.stats_of_every_server(group))
    }

    pub(super) async fn stats_of_every_server(
        &self,
        group: &str,
    ) -> PerServer<BTreeMap<String, String>> {
        let mut results = Vec::with_capacity(self.server_count());
        for index in 0..self.server_count() {
            let server = self.server_name(index);
            let stats = self
                .run(index, Idempotence::Repeatable, &mut Stats::new(group))
                .await
                .and_then(|entries| {
                    entries.ok_or_else(|| Error::UnsupportedStatsGroup {
                        server: server.clone(),
                        group: group.to_string(),
                    })
                })
                .map(|entries| entries.into_iter().collect());
            results.push((server.to_string(), stats));
        }
        results
    }

    /// Each server's reachability: the round-trip time of a Noop on a
    /// pooled connection (as operations would use), and the TLS session
    /// where the server is spoken to over TLS.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// for (server, ping) in client.ping() {
    ///     match ping {
    ///         Ok(ping) => println!("{server}: {:?} {:?}", ping.round_trip, ping.tls),
    ///         Err(e) => println!("{server}: {e}"),
    ///     }
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn ping(&self) -> PerServer<Ping> {
        blocking(self.ping_every_server())
    }

    pub(super) async fn ping_every_server(&self) -> PerServer<Ping> {
        let mut results = Vec::with_capacity(self.server_count());
        for index in 0..self.server_count() {
            let start = Instant::now();
            let result = self
                .run(index, Idempotence::Repeatable, &mut Noop)
                .await
                .map(|()| Ping {
                    round_trip: start.elapsed(),
                    tls: self.tls_session(index),
                });
            results.push((self.server_name(index).to_string(), result));
        }
        results
    }

    /// The TLS session of a pooled connection to server `index`, if it speaks TLS.
    fn tls_session(&self, index: usize) -> Option<TlsSession> {
        if let Some(shared) = &*self.inner.shared {
            return shared.tls_session(index);
        }
        let mut checkout = self.inner.pools.checkout(index).ok()?;
        let session = checkout.conn().tls_session();
        self.inner.pools.give_back(index, checkout);
        session
    }

    /// Every server's version string, per server.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// for (server, version) in client.version() {
    ///     println!("{server}: {}", version?);
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn version(&self) -> PerServer<String> {
        blocking(self.version_of_every_server())
    }

    pub(super) async fn version_of_every_server(&self) -> PerServer<String> {
        self.on_every_server(|| Version).await
    }
}

/// Every server's result, or the first failure.
pub(super) fn all_or_first_error<T>(per_server: PerServer<T>) -> Result<Vec<(String, T)>> {
    per_server
        .into_iter()
        .map(|(server, result)| result.map(|r| (server, r)))
        .collect()
}
