//! Shared connections (the pipelined mode): a few per server, each used by
//! many callers at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::command::MuxLimits;
use crate::connection::SharedConnection;

use super::Pools;

/// Every server's shared connections.
#[derive(Debug)]
pub(crate) struct SharedPools {
    servers: Vec<Vec<SharedConnection>>,
    next: AtomicUsize,
}

impl SharedPools {
    /// `per_server` shared connections to each of `pools`' servers (none is
    /// made until first used).
    pub(crate) fn new(
        pools: &Pools,
        per_server: usize,
        limits: MuxLimits,
        spin: Duration,
    ) -> SharedPools {
        let servers = (0..pools.len())
            .map(|index| {
                let name = pools.name(index);
                (0..per_server.max(1))
                    .filter_map(|_| {
                        let (address, options) = pools.target(index).ok()?;
                        Some(SharedConnection::new(
                            address.clone(),
                            options.clone(),
                            name.clone(),
                            limits,
                            spin,
                        ))
                    })
                    .collect()
            })
            .collect();
        SharedPools {
            servers,
            next: AtomicUsize::new(0),
        }
    }

    /// The least busy connection to server `index` (round robin among equals).
    pub(crate) fn pick(&self, index: usize) -> Option<&SharedConnection> {
        let connections = self.servers.get(index)?;
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = connections.len().max(1);
        (0..n)
            .filter_map(|k| connections.get((start + k) % n))
            .min_by_key(|c| c.load())
    }

    /// A TLS session of a connection to server `index` that is up.
    pub(crate) fn tls_session(&self, index: usize) -> Option<crate::TlsSession> {
        self.servers
            .get(index)?
            .iter()
            .find_map(SharedConnection::tls_session)
    }

    /// Drops every shared connection (callers waiting on them fail).
    pub(crate) fn retire_all(&self) {
        self.servers
            .iter()
            .flatten()
            .for_each(SharedConnection::retire);
    }
}
