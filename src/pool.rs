//! r2d2 integration: how to make, check and discard connections to one server.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use crate::connection::{Connection, ConnectionOptions};
use crate::{Address, Error, Result};

/// The latest connect failure of one server, shared by its manager and the
/// client so a checkout waiting on r2d2 can give up as soon as a connect fails.
#[derive(Debug, Default)]
pub(crate) struct ConnectFailures {
    count: AtomicU64,
    last: Mutex<Option<Error>>,
}

impl ConnectFailures {
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    pub(crate) fn last(&self) -> Option<Error> {
        self.last.lock().clone()
    }

    fn record(&self, error: &Error) {
        *self.last.lock() = Some(error.clone());
        self.count.fetch_add(1, Ordering::AcqRel);
    }
}

/// The [`r2d2::ManageConnection`] for one memcached server.
///
/// Connecting authenticates when credentials are configured, so an
/// unauthenticated connection never enters the pool. `is_valid` is a Noop
/// round trip, used only when checkout testing is turned on;
/// `has_broken` reads the connection's flag (and its generation, so
/// [`Client::disconnect_all`](crate::Client::disconnect_all) retires
/// connections as they come back) and never does I/O.
///
/// ```no_run
/// use quickmc::pool::ServerManager;
/// let manager = ServerManager::new("127.0.0.1:11211".parse::<quickmc::ServerSpec>()?.address, Default::default());
/// let pool = r2d2::Pool::builder().max_size(4).build_unchecked(manager);
/// pool.get().map_err(|e| quickmc::Error::Config(e.to_string()))?.noop()?;
/// # Ok::<(), quickmc::Error>(())
/// ```
pub struct ServerManager {
    address: Address,
    options: ConnectionOptions,
    generation: Arc<AtomicU64>,
    failures: Arc<ConnectFailures>,
    gate: Option<Arc<dyn Fn() -> Result<()> + Send + Sync>>,
}

impl std::fmt::Debug for ServerManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerManager")
            .field("address", &self.address)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ServerManager {
    /// A manager connecting to `address` with `options`.
    ///
    /// ```
    /// use quickmc::{pool::ServerManager, Address};
    /// let m = ServerManager::new(Address::Unix("/tmp/mc.sock".into()), Default::default());
    /// ```
    pub fn new(address: Address, options: ConnectionOptions) -> ServerManager {
        ServerManager {
            address,
            options,
            generation: Arc::new(AtomicU64::new(0)),
            failures: Arc::new(ConnectFailures::default()),
            gate: None,
        }
    }

    /// A gate asked before each connect; an error refuses the connect without
    /// I/O (the client uses it to honour a server's retry timeout).
    pub(crate) fn with_gate(
        mut self,
        gate: Arc<dyn Fn() -> Result<()> + Send + Sync>,
    ) -> ServerManager {
        self.gate = Some(gate);
        self
    }

    pub(crate) fn generation(&self) -> Arc<AtomicU64> {
        self.generation.clone()
    }

    pub(crate) fn failures(&self) -> Arc<ConnectFailures> {
        self.failures.clone()
    }
}

impl r2d2::ManageConnection for ServerManager {
    type Connection = Connection;
    type Error = Error;

    fn connect(&self) -> Result<Connection> {
        let result = match &self.gate {
            Some(gate) => gate().and_then(|()| Connection::connect(&self.address, &self.options)),
            None => Connection::connect(&self.address, &self.options),
        };
        match result {
            Ok(mut conn) => {
                conn.set_generation(self.generation.load(Ordering::Acquire));
                Ok(conn)
            }
            Err(e) => {
                self.failures.record(&e);
                Err(e)
            }
        }
    }

    fn is_valid(&self, conn: &mut Connection) -> Result<()> {
        conn.noop()
    }

    fn has_broken(&self, conn: &mut Connection) -> bool {
        conn.is_broken() || conn.generation() != self.generation.load(Ordering::Acquire)
    }
}
