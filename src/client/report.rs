//! What went wrong in a multi-key operation, key by key and server by server.

use crate::Error;

/// A key that failed inside a batch, and why.
///
/// ```
/// let f = quickmc::KeyFailure { key: "k", error: quickmc::Error::NotStored };
/// assert_eq!(f.key, "k");
/// ```
#[derive(Debug, Clone)]
pub struct KeyFailure<K> {
    /// The caller's key (without the prefix).
    pub key: K,
    /// Why: not stored, exists, too large, not found, non-numeric, a value
    /// that cannot be read, or the error of the key's server.
    pub error: Error,
}

/// A server that did not answer its whole share of a batch.
///
/// ```
/// let f = quickmc::ServerFailure {
///     server: "10.0.0.1:11211".into(),
///     keys: 3,
///     error: quickmc::Error::NoServers,
/// };
/// assert_eq!(f.keys, 3);
/// ```
#[derive(Debug, Clone)]
pub struct ServerFailure {
    /// The server, as `host:port` or a socket path.
    pub server: String,
    /// How many of the batch's keys it left without an answer.
    pub keys: usize,
    /// Why (unreachable, timed out, broken reply ...).
    pub error: Error,
}

/// What went wrong in a multi-key operation: every `*_multi_report` method
/// returns one.
///
/// ```no_run
/// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
/// let report = client.set_multi_report([("a", "1"), ("b", "2")], "", 0)?;
/// assert!(report.is_complete(), "{:?}", report);
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchReport<K> {
    /// Keys that were not applied (or, for reads, could not be read), in
    /// the caller's order. For writes this includes the keys a failed
    /// server left without an answer.
    pub failures: Vec<KeyFailure<K>>,
    /// Servers that failed before answering all their keys.
    pub server_errors: Vec<ServerFailure>,
    /// Servers that answered their whole share.
    pub servers_answered: usize,
}

impl<K> Default for BatchReport<K> {
    fn default() -> Self {
        BatchReport {
            failures: Vec::new(),
            server_errors: Vec::new(),
            servers_answered: 0,
        }
    }
}

impl<K> BatchReport<K> {
    /// Whether every key was applied and every server answered.
    ///
    /// ```
    /// assert!(quickmc::BatchReport::<String>::default().is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty() && self.server_errors.is_empty()
    }

    /// The keys that were not applied, in the caller's order.
    ///
    /// ```
    /// let report = quickmc::BatchReport::<&str>::default();
    /// assert!(report.into_failed_keys().is_empty());
    /// ```
    pub fn into_failed_keys(self) -> Vec<K> {
        self.failures.into_iter().map(|f| f.key).collect()
    }
}
