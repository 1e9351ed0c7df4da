//! r2d2 integration: how to make, check and discard connections to one server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::fork_aside::Connecting;
use super::freed::{Event, Freed};
use super::health::Health;
use crate::command::Noop;
use crate::connection::{Connection, ConnectionOptions};
use crate::{Address, Error, Result};

/// What r2d2 keeps for a server: an open connection, or the outcome of a
/// connect that failed.
///
/// A failed connect is handed to r2d2 as a connection that is already
/// broken, not as an error: r2d2 then wakes a waiting checkout at once
/// (with an error it would only report when the whole checkout timeout had
/// passed, and it would keep retrying the connect in the background), and
/// the checkout reports the failure to its caller.
///
/// Both variants are boxed: r2d2 moves a slot several times per checkout
/// (a dozen copies of its 250 bytes a get, before), and a pointer moves
/// for free.
#[derive(Debug)]
pub(crate) enum Slot {
    Open(Box<Connection>),
    Failed(Box<Failed>),
}

/// A connect that failed, and when.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: Error,
    pub(crate) at: Instant,
}

/// The [`r2d2::ManageConnection`] for one server. Connecting authenticates
/// when credentials are set, so an unauthenticated connection never enters
/// the pool; `is_valid` is a Noop round trip (used only when checkout
/// testing is on); `has_broken` reads a flag and a counter, never does I/O.
#[derive(Debug)]
pub(crate) struct Manager {
    pub(crate) address: Address,
    pub(crate) name: Arc<str>,
    pub(crate) options: ConnectionOptions,
    /// Connections made before the current generation are retired.
    pub(crate) generation: Arc<AtomicU64>,
    /// A server within its retry timeout is not connected to at all.
    pub(crate) health: Arc<Health>,
    /// Counts the connects under way (a fork does not wait for them).
    pub(crate) connecting: Connecting,
    /// Told when a connect ends (a checkout may be waiting for it).
    pub(crate) freed: Arc<Freed>,
}

/// Tells the waiting checkouts when dropped (a connect ended, however).
struct Told<'a>(&'a Freed);

impl Drop for Told<'_> {
    fn drop(&mut self) {
        self.0.notify(Event::Connected);
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Slot;
    type Error = Error;

    fn connect(&self) -> Result<Slot> {
        let _busy = self.connecting.enter();
        let _told = Told(&self.freed);
        let at = Instant::now();
        if self.health.is_down() {
            let error = Error::ServerDown {
                server: self.name.clone(),
            };
            return Ok(Slot::Failed(Box::new(Failed { error, at })));
        }
        Ok(
            match Connection::connect(&self.address, &self.options, self.name.clone()) {
                Ok(mut conn) => {
                    conn.set_generation(self.generation.load(Ordering::Acquire));
                    Slot::Open(Box::new(conn))
                }
                Err(error) => Slot::Failed(Box::new(Failed { error, at })),
            },
        )
    }

    fn is_valid(&self, slot: &mut Slot) -> Result<()> {
        match slot {
            Slot::Open(conn) => conn.call(&mut Noop),
            // Reported by the checkout, which knows whether it is news.
            Slot::Failed(_) => Ok(()),
        }
    }

    fn has_broken(&self, slot: &mut Slot) -> bool {
        match slot {
            Slot::Open(conn) => {
                conn.is_broken() || conn.generation() != self.generation.load(Ordering::Acquire)
            }
            Slot::Failed(_) => true,
        }
    }
}
