//! Operator commands over memcached's text protocol: a stats group the
//! binary protocol lacks, and the key listing.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Client, PerServer, blocking};
use crate::command::{Idempotence, Noop};
use crate::connection::text_command;
use crate::protocol::{MetadumpEntry, TextLine, encode_metadump, encode_text_stats};
use crate::{Error, ProtocolError, Result};

impl Client {
    /// Fails at once for a server that requires SASL: memcached serves no
    /// text commands there (they would only time out).
    fn text_allowed(&self, index: usize) -> Result<()> {
        let refused = || Error::Refused {
            server: self.server_name(index),
            message: "the server requires SASL authentication, and memcached serves no \
                      text-protocol commands to SASL clients"
                .into(),
        };
        let (_, options) = self.inner.pools.target(index)?;
        if options.credentials.is_some() {
            return Err(refused());
        }
        match blocking(self.run(index, Idempotence::Repeatable, &mut Noop)) {
            Err(Error::Auth(_)) => Err(refused()),
            other => other,
        }
    }

    /// Runs a text command on server `index`; `reply_within` bounds the
    /// whole reply (see [`text_command`]).
    fn text_on(
        &self,
        index: usize,
        command: &[u8],
        reply_within: Option<Duration>,
        on_line: impl FnMut(TextLine<'_>) -> Result<bool>,
    ) -> Result<()> {
        self.text_allowed(index)?;
        let (address, options) = self.inner.pools.target(index)?;
        let server = self.server_name(index);
        text_command(address, options, &server, command, reply_within, on_line)
    }

    /// Statistics of `group` over the text protocol, per server: for the
    /// groups memcached offers only there (`conns`), where
    /// [`stats`](Client::stats) gets [`Error::UnsupportedStatsGroup`]. Each
    /// server is asked on a connection of its own (memcached picks the
    /// protocol per connection). A server that requires SASL is
    /// [`Error::Refused`] at once: memcached serves it no text commands.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// for (server, conns) in client.stats_text("conns") {
    ///     println!("{server}: {} entries", conns?.len());
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn stats_text(&self, group: &str) -> PerServer<BTreeMap<String, String>> {
        (0..self.server_count())
            .map(|index| {
                let stats = (|| {
                    let mut command = Vec::new();
                    encode_text_stats(group, &mut command)
                        .map_err(|e| Error::Config(format!("stats group {group:?}: {e}")))?;
                    let mut stats = BTreeMap::new();
                    let (mut lines, mut bytes) = (0usize, 0usize);
                    // A reply as long as the I/O timeout, as for one
                    // binary-protocol operation.
                    let within = self.inner.behavior.io_timeout;
                    self.text_on(index, &command, within, |line| {
                        // Every line counts, STAT or not: a server sending
                        // others without end is bounded too.
                        lines += 1;
                        bytes += match &line {
                            TextLine::Stat { name, value } => name.len() + value.len(),
                            _ => 1,
                        };
                        if lines > crate::command::MAX_STATS_ENTRIES
                            || bytes > crate::command::MAX_STATS_BYTES
                        {
                            return Err(Error::Protocol {
                                server: self.server_name(index),
                                error: ProtocolError::StatsTooLarge {
                                    what: "entries or bytes",
                                    limit: crate::command::MAX_STATS_ENTRIES,
                                },
                            });
                        }
                        if let TextLine::Stat { name, value } = line {
                            stats.insert(name.to_string(), value.to_string());
                        }
                        Ok(true)
                    })?;
                    Ok(stats)
                })();
                (self.server_name(index).to_string(), stats)
            })
            .collect()
    }

    /// Lists the keys every server holds (memcached's `lru_crawler
    /// metadump all`, the text-protocol command memcached 1.5+ offers),
    /// calling `each` with the server's index and each key's entry as the
    /// listing streams in; `each` returns `false` to stop that server's
    /// listing. Per server: how many entries were seen. A server that
    /// requires SASL is [`Error::Refused`] at once.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let counts = client.dump_keys(|_, entry| {
    ///     println!("{}", String::from_utf8_lossy(&entry.key));
    ///     true
    /// });
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn dump_keys(
        &self,
        mut each: impl FnMut(usize, MetadumpEntry) -> bool,
    ) -> PerServer<usize> {
        let mut command = Vec::new();
        encode_metadump(&mut command);
        (0..self.server_count())
            .map(|index| {
                let mut seen = 0usize;
                let result = self
                    .text_on(index, &command, None, |line| {
                        let TextLine::Line(record) = line else {
                            return Ok(true);
                        };
                        match MetadumpEntry::parse(record) {
                            Some(entry) => {
                                seen += 1;
                                Ok(each(index, entry))
                            }
                            None => Ok(true),
                        }
                    })
                    .map(|()| seen);
                (self.server_name(index).to_string(), result)
            })
            .collect()
    }
}
