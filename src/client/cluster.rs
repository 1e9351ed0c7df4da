//! Operations on every server: flush, stats, version, ping.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::Client;
use crate::command::{Command, Flush, Idempotence, Noop, Stats, Version};
use crate::{Error, Result};

/// One result per server, named as `host:port` or a socket path.
pub type PerServer<T> = Vec<(String, Result<T>)>;

impl Client {
    /// Runs a command on every server, one after another.
    fn on_every_server<C: Command>(&self, mut make: impl FnMut() -> C) -> PerServer<C::Output> {
        (0..self.server_count())
            .map(|index| {
                let result = self.run(index, Idempotence::Repeatable, &mut make());
                (self.server_name(index).to_string(), result)
            })
            .collect()
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
        self.on_every_server(|| Flush::new(delay))
            .into_iter()
            .try_for_each(|(_, result)| result)
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
        self.stats_per_server(group)
            .into_iter()
            .map(|(server, stats)| stats.map(|s| (server, s)))
            .collect()
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
        (0..self.server_count())
            .map(|index| {
                let server = self.server_name(index);
                let stats = self
                    .run(index, Idempotence::Repeatable, &mut Stats::new(group))
                    .and_then(|entries| {
                        entries.ok_or_else(|| Error::UnsupportedStatsGroup {
                            server: server.clone(),
                            group: group.to_string(),
                        })
                    })
                    .map(|entries| entries.into_iter().collect());
                (server.to_string(), stats)
            })
            .collect()
    }

    /// Each server's reachability and the round-trip time of a Noop, per
    /// server (a pooled connection is used, as operations would).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// for (server, rtt) in client.ping() {
    ///     match rtt {
    ///         Ok(rtt) => println!("{server}: {rtt:?}"),
    ///         Err(e) => println!("{server}: {e}"),
    ///     }
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn ping(&self) -> PerServer<Duration> {
        (0..self.server_count())
            .map(|index| {
                let start = Instant::now();
                let result = self
                    .run(index, Idempotence::Repeatable, &mut Noop)
                    .map(|()| start.elapsed());
                (self.server_name(index).to_string(), result)
            })
            .collect()
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
        self.on_every_server(|| Version)
    }
}
