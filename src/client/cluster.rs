//! Operations on every server: flush, stats, version.

use std::collections::BTreeMap;

use super::{Client, Retry};
use crate::Result;
use crate::connection::expect_ok;
use crate::protocol::{Extras, Opcode, Request};

impl Client {
    fn on_every_server<R>(
        &self,
        mut op: impl FnMut(&mut crate::connection::Connection) -> Result<R>,
    ) -> Vec<(String, Result<R>)> {
        (0..self.server_count())
            .map(|index| {
                let result = self.execute(index, Retry::Safe, &mut op);
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
        let results = self.on_every_server(|conn| {
            let extras = if delay == 0 {
                Extras::None
            } else {
                Extras::Expiration(delay)
            };
            let reply = conn.request(Request::new(Opcode::Flush, b"").extras(extras))?;
            expect_ok(reply.status, reply.value)
        });
        results.into_iter().try_for_each(|(_, r)| r)
    }

    /// Statistics of every server (`group` empty for the general ones, or
    /// `"items"`, `"slabs"`, `"settings"`, `"conns"` ...), per server.
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
    pub fn stats_per_server(&self, group: &str) -> Vec<(String, Result<BTreeMap<String, String>>)> {
        self.on_every_server(|conn| Ok(conn.stats(group)?.into_iter().collect()))
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
    pub fn ping(&self) -> Vec<(String, Result<std::time::Duration>)> {
        self.on_every_server(|conn| {
            let start = std::time::Instant::now();
            conn.noop()?;
            Ok(start.elapsed())
        })
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
    pub fn version(&self) -> Vec<(String, Result<String>)> {
        self.on_every_server(|conn| conn.version())
    }
}
