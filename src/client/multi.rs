//! Multi-key operations: one quiet batch per server, closed by a Noop,
//! written to every server before any is waited on.
//!
//! Keys are validated first; an invalid key fails the whole call before any
//! I/O (except that `get_multi` skips empty keys, as pylibmc does). Replies
//! are matched by opaque, so per-key failures land on the right key.

use std::collections::HashMap;
use std::hash::Hash;

use super::{Client, Pooled, Retry, StoreOptions};
use crate::connection::{BatchHandler, Lane, run_batch, status_error};
use crate::protocol::{Extras, NO_CREATE, Opcode, Request, Response, Status};
use crate::value::{FromValue, ToValue};
use crate::{Error, Result, key};

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
    /// Why: not stored, exists, too large, not found, non-numeric, or the
    /// error of the key's server.
    pub error: Error,
}

/// What went wrong in a multi-key operation, key by key and server by server.
///
/// ```no_run
/// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
/// let report = client.set_multi_report([("a", "1"), ("b", "2")], "", 0)?;
/// assert!(report.is_complete(), "{:?}", report);
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchReport<K> {
    /// Keys that were not applied.
    pub failures: Vec<KeyFailure<K>>,
    /// Servers that failed as a whole (unreachable, timed out, broken reply),
    /// with the number of keys they held.
    pub server_errors: Vec<(String, usize, Error)>,
    /// Servers that answered their whole batch.
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

/// Prefixed keys of a batch, stored back to back: one allocation for the
/// bytes and four bytes of index per key, not an allocation per key.
pub(crate) struct KeyTable {
    bytes: Vec<u8>,
    /// Where each caller key's prefixed bytes end; a skipped (empty) key
    /// has zero length.
    ends: Vec<u32>,
}

impl KeyTable {
    fn build<K: AsRef<[u8]>>(
        keys: &[K],
        prefix: &[u8],
        strict: bool,
        skip_empty: bool,
    ) -> Result<KeyTable> {
        let total: usize = keys.iter().map(|k| k.as_ref().len() + prefix.len()).sum();
        if total > u32::MAX as usize {
            return Err(Error::Config(
                "a batch's keys must total under 4 GiB; split it".into(),
            ));
        }
        let mut table = KeyTable {
            bytes: Vec::with_capacity(total),
            ends: Vec::with_capacity(keys.len()),
        };
        for k in keys {
            let k = k.as_ref();
            if k.is_empty() {
                if skip_empty {
                    table.ends.push(table.bytes.len() as u32);
                    continue;
                }
                return Err(crate::KeyError::Empty.into());
            }
            let start = table.bytes.len();
            table.bytes.extend_from_slice(prefix);
            table.bytes.extend_from_slice(k);
            key::check(table.bytes.get(start..).unwrap_or_default(), strict)?;
            // Bounded by `total`, checked above.
            table.ends.push(table.bytes.len() as u32);
        }
        Ok(table)
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn key(&self, index: usize) -> &[u8] {
        let start = match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(index).copied().unwrap_or(start);
        self.bytes
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }
}

/// The outcome of one server's share of a batch.
struct ServerOutcome {
    server: usize,
    keys: usize,
    result: Result<()>,
}

impl Client {
    /// Groups keys by server: one list of key indices per server.
    fn route_all(&self, table: &KeyTable) -> Result<Vec<Vec<u32>>> {
        if u32::try_from(table.len()).is_err() {
            return Err(Error::Config(
                "a batch must have under 2^32 keys; split it".into(),
            ));
        }
        let mut routes = vec![Vec::new(); self.server_count()];
        if let [only] = &mut routes[..] {
            // One server: no hashing (as libmemcached), only skip empty keys.
            only.extend((0..table.len() as u32).filter(|&i| !table.key(i as usize).is_empty()));
            return Ok(routes);
        }
        for index in 0..table.len() {
            let key = table.key(index);
            if !key.is_empty() {
                let server = self.route(key)?;
                if let Some(list) = routes.get_mut(server) {
                    list.push(index as u32);
                }
            }
        }
        Ok(routes)
    }

    /// Runs `handler`'s batch on every server that has keys, all at once.
    fn run_multi(
        &self,
        routes: &[Vec<u32>],
        handler: &mut dyn BatchHandler,
        retry: Retry,
    ) -> Vec<ServerOutcome> {
        let mut outcomes = Vec::new();
        let mut pending: Vec<usize> = (0..routes.len())
            .filter(|&s| routes.get(s).is_some_and(|r| !r.is_empty()))
            .collect();
        for attempt in 0..2 {
            if pending.is_empty() {
                break;
            }
            let deadline = self.batch_deadline();
            // Check out in server order, so two batches never wait on each
            // other's connections in a cycle.
            let mut conns: Vec<(usize, Pooled)> = Vec::with_capacity(pending.len());
            for &server in &pending {
                let keys = routes.get(server).map_or(0, Vec::len);
                match self.ensure_up(server).and_then(|()| self.checkout(server)) {
                    Ok(conn) => conns.push((server, conn)),
                    Err(error) => outcomes.push(ServerOutcome {
                        server,
                        keys,
                        result: Err(error),
                    }),
                }
            }
            let reused: Vec<bool> = conns.iter().map(|(_, c)| c.has_been_used()).collect();
            let results: Vec<(usize, usize, Result<()>)> = {
                let mut lanes: Vec<Lane<'_>> = conns
                    .iter_mut()
                    .map(|(server, conn)| {
                        let items = routes.get(*server).map_or(&[][..], Vec::as_slice);
                        Lane::new(conn, items, handler.opcode())
                    })
                    .collect();
                run_batch(&mut lanes, handler, deadline);
                lanes
                    .iter_mut()
                    .map(|lane| {
                        (
                            lane.replies(),
                            lane.items.len(),
                            std::mem::replace(&mut lane.outcome, Ok(())),
                        )
                    })
                    .collect()
            };
            let mut retry_next = Vec::new();
            for (((server, _conn), was_reused), (replies, keys, result)) in
                conns.iter().zip(reused).zip(results)
            {
                let server = *server;
                match result {
                    Ok(()) => {
                        self.succeeded(server);
                        outcomes.push(ServerOutcome {
                            server,
                            keys,
                            result: Ok(()),
                        });
                    }
                    // A stale pooled connection that died before answering
                    // anything: retry once on a fresh one, if safe.
                    Err(Error::Io { .. })
                        if was_reused && replies == 0 && attempt == 0 && retry == Retry::Safe =>
                    {
                        self.retire_idle(server);
                        retry_next.push(server);
                    }
                    Err(error) => {
                        if !(was_reused && matches!(error, Error::Io { .. })) {
                            self.failed(server, &error);
                        } else {
                            self.retire_idle(server);
                        }
                        outcomes.push(ServerOutcome {
                            server,
                            keys,
                            result: Err(error),
                        });
                    }
                }
            }
            for (server, conn) in conns {
                self.release(server, conn);
            }
            pending = retry_next;
        }
        outcomes
    }

    fn server_errors<K>(&self, outcomes: &[ServerOutcome], report: &mut BatchReport<K>) {
        for outcome in outcomes {
            match &outcome.result {
                Ok(()) => report.servers_answered += 1,
                Err(e) => report.server_errors.push((
                    self.server_name(outcome.server).to_string(),
                    outcome.keys,
                    e.clone(),
                )),
            }
        }
    }

    /// The hits among `keys` (each looked up as `key_prefix + key`), keyed by
    /// the caller's keys. Misses are absent. Empty keys are skipped, as in
    /// pylibmc; any other invalid key fails the call before any I/O.
    ///
    /// One GetKQ per key and one Noop per server, every server written
    /// before any is read. If some servers fail, the hits from the others
    /// are returned (as libmemcached does); only if every server involved
    /// fails is the first error returned. Use
    /// [`get_multi_report`](Client::get_multi_report) to see partial failures.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let hits: std::collections::HashMap<&str, String> = client.get_multi(["a", "b", "c"], "user:")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn get_multi<K, T>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<HashMap<K, T>>
    where
        K: AsRef<[u8]> + Eq + Hash,
        T: FromValue,
    {
        let (hits, report) = self.get_multi_report(keys, key_prefix)?;
        if report.servers_answered == 0
            && let Some((_, _, error)) = report.server_errors.into_iter().next()
        {
            return Err(error);
        }
        if let Some(failure) = report.failures.into_iter().next() {
            return Err(failure.error);
        }
        Ok(hits)
    }

    /// Like [`get_multi`](Client::get_multi), also reporting failed servers
    /// and values that could not be read (those keys are absent from the hits).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211", "127.0.0.1:11212"])?;
    /// let (hits, report) = client.get_multi_report::<_, String>(["a", "b"], "")?;
    /// for (server, keys, error) in &report.server_errors {
    ///     eprintln!("{server}: {keys} keys unread: {error}");
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn get_multi_report<K, T>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<(HashMap<K, T>, BatchReport<K>)>
    where
        K: AsRef<[u8]> + Eq + Hash,
        T: FromValue,
    {
        let keys: Vec<K> = keys.into_iter().collect();
        let table = KeyTable::build(&keys, key_prefix.as_ref(), self.strict_keys(), true)?;
        let routes = self.route_all(&table)?;
        let mut handler = GetHandler {
            client: self,
            table: &table,
            // Sized for every key to hit, as most do in a warm cache: the
            // map never rehashes while replies stream in.
            hits: HashMap::with_capacity(keys.len()),
            keys: keys.into_iter().map(Some).collect(),
            failures: Vec::new(),
        };
        let outcomes = self.run_multi(&routes, &mut handler, Retry::Safe);
        let mut report = BatchReport {
            failures: handler.failures,
            ..BatchReport::default()
        };
        self.server_errors(&outcomes, &mut report);
        Ok((handler.hits, report))
    }

    fn store_multi<K, V>(
        &self,
        opcode: Opcode,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: &[u8],
        options: StoreOptions,
        retry: Retry,
    ) -> Result<BatchReport<K>>
    where
        K: AsRef<[u8]>,
        V: ToValue,
    {
        let (keys, values): (Vec<K>, Vec<V>) = items.into_iter().unzip();
        let table = KeyTable::build(&keys, key_prefix, self.strict_keys(), false)?;
        let routes = self.route_all(&table)?;
        let mut handler = StoreHandler {
            client: self,
            opcode,
            table: &table,
            values: &values,
            options,
            errors: Vec::new(),
        };
        let outcomes = self.run_multi(&routes, &mut handler, retry);
        Ok(self.keyed_report(keys, handler.errors, &outcomes, &routes))
    }

    /// Turns per-item errors and failed servers into a report keyed by the caller's keys.
    fn keyed_report<K>(
        &self,
        keys: Vec<K>,
        mut errors: Vec<(usize, Error)>,
        outcomes: &[ServerOutcome],
        routes: &[Vec<u32>],
    ) -> BatchReport<K> {
        let mut report = BatchReport::default();
        self.server_errors(outcomes, &mut report);
        for outcome in outcomes {
            if let Err(e) = &outcome.result
                && let Some(items) = routes.get(outcome.server)
            {
                errors.extend(items.iter().map(|&i| (i as usize, e.clone())));
            }
        }
        errors.sort_by_key(|(i, _)| *i);
        let mut errors = errors.into_iter().peekable();
        for (index, key) in keys.into_iter().enumerate() {
            let mut first = None;
            while let Some((_, error)) = errors.next_if(|(i, _)| *i == index) {
                first.get_or_insert(error);
            }
            if let Some(error) = first {
                report.failures.push(KeyFailure { key, error });
            }
        }
        report
    }

    /// Stores every `(key, value)` pair (as `key_prefix + key`) with one
    /// quiet SetQ batch per server, and returns the keys that were not
    /// stored (too large, or on a server that failed) — pylibmc's
    /// `set_multi`. Later pairs with the same key win.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let failed = client.set_multi([("a", "1"), ("b", "2")], "user:", 3600)?;
    /// assert!(failed.is_empty());
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn set_multi<K: AsRef<[u8]>, V: ToValue>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<Vec<K>> {
        Ok(self
            .set_multi_report(items, key_prefix, options)?
            .into_failed_keys())
    }

    /// Like [`set_multi`](Client::set_multi), with why each key failed.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let report = client.set_multi_report([("big", vec![0u8; 2 << 20])], "", 0)?;
    /// assert!(matches!(report.failures[0].error, quickmc::Error::TooLarge));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn set_multi_report<K: AsRef<[u8]>, V: ToValue>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<BatchReport<K>> {
        self.store_multi(
            Opcode::SetQ,
            items,
            key_prefix.as_ref(),
            options.into(),
            Retry::Safe,
        )
    }

    /// Stores each pair only if its key is missing; returns the keys not
    /// stored (they existed, were too large, or their server failed).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let existing = client.add_multi([("a", "1"), ("b", "2")], "", 0)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn add_multi<K: AsRef<[u8]>, V: ToValue>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<Vec<K>> {
        Ok(self
            .add_multi_report(items, key_prefix, options)?
            .into_failed_keys())
    }

    /// Like [`add_multi`](Client::add_multi), with why each key failed.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let report = client.add_multi_report([("a", "1")], "", 0)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn add_multi_report<K: AsRef<[u8]>, V: ToValue>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<BatchReport<K>> {
        self.store_multi(
            Opcode::AddQ,
            items,
            key_prefix.as_ref(),
            options.into(),
            Retry::Never,
        )
    }

    fn keyed_multi<K: AsRef<[u8]>>(
        &self,
        opcode: Opcode,
        keys: impl IntoIterator<Item = K>,
        key_prefix: &[u8],
        extras: Extras,
        retry: Retry,
    ) -> Result<BatchReport<K>> {
        let keys: Vec<K> = keys.into_iter().collect();
        let table = KeyTable::build(&keys, key_prefix, self.strict_keys(), false)?;
        let routes = self.route_all(&table)?;
        let mut handler = KeyHandler {
            opcode,
            table: &table,
            extras,
            errors: Vec::new(),
        };
        let outcomes = self.run_multi(&routes, &mut handler, retry);
        Ok(self.keyed_report(keys, handler.errors, &outcomes, &routes))
    }

    /// Deletes every key (one DeleteQ batch per server); true only if every
    /// key existed and was deleted, as pylibmc. A failed server is an error.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let all_deleted = client.delete_multi(["a", "b"], "user:")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn delete_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let report = self.delete_multi_report(keys, key_prefix)?;
        if let Some((_, _, error)) = report.server_errors.into_iter().next() {
            return Err(error);
        }
        Ok(report.failures.is_empty())
    }

    /// Like [`delete_multi`](Client::delete_multi), listing the keys that
    /// were missing ([`Error::NotFound`]) or on a failed server.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let report = client.delete_multi_report(["a", "b"], "")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn delete_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<BatchReport<K>> {
        self.keyed_multi(
            Opcode::DeleteQ,
            keys,
            key_prefix.as_ref(),
            Extras::None,
            Retry::Safe,
        )
    }

    /// Adds `delta` to every key's counter (one IncrementQ batch per
    /// server). Missing keys are never created; if any key is missing or not
    /// a number, the first such error is returned — the other keys were
    /// still incremented (see [`incr_multi_report`](Client::incr_multi_report)).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.incr_multi(["views:1", "views:2"], "", 1)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn incr_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<()> {
        first_error(self.incr_multi_report(keys, key_prefix, delta)?)
    }

    /// Like [`incr_multi`](Client::incr_multi), listing each failed key.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let report = client.incr_multi_report(["a", "b"], "", 5)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn incr_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<BatchReport<K>> {
        self.keyed_multi(
            Opcode::IncrementQ,
            keys,
            key_prefix.as_ref(),
            counter(delta),
            Retry::Never,
        )
    }

    /// Subtracts `delta` from every key's counter (stopping at 0); errors as
    /// [`incr_multi`](Client::incr_multi).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.decr_multi(["stock:1", "stock:2"], "", 1)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn decr_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<()> {
        first_error(self.keyed_multi(
            Opcode::DecrementQ,
            keys,
            key_prefix.as_ref(),
            counter(delta),
            Retry::Never,
        )?)
    }

    /// Sets a new expiration on every key (one batch of Touch per server);
    /// returns the keys that were missing or on a failed server.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let missing = client.touch_multi(["s:1", "s:2"], "", 3600)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn touch_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        expiration: u32,
    ) -> Result<Vec<K>> {
        let report = self.keyed_multi(
            Opcode::Touch,
            keys,
            key_prefix.as_ref(),
            Extras::Expiration(expiration),
            Retry::Safe,
        )?;
        Ok(report.into_failed_keys())
    }
}

fn counter(delta: u64) -> Extras {
    Extras::Counter {
        delta,
        initial: 0,
        expiration: NO_CREATE,
    }
}

fn first_error<K>(report: BatchReport<K>) -> Result<()> {
    if let Some((_, _, error)) = report.server_errors.into_iter().next() {
        return Err(error);
    }
    match report.failures.into_iter().next() {
        Some(failure) => Err(failure.error),
        None => Ok(()),
    }
}

struct GetHandler<'a, K, T> {
    client: &'a Client,
    table: &'a KeyTable,
    keys: Vec<Option<K>>,
    hits: HashMap<K, T>,
    failures: Vec<KeyFailure<K>>,
}

impl<K: Eq + Hash, T: FromValue> BatchHandler for GetHandler<'_, K, T> {
    fn opcode(&self) -> Opcode {
        Opcode::GetKQ
    }

    fn encode(&mut self, item: usize, opaque: u32, buf: &mut Vec<u8>) -> Result<()> {
        Ok(Request::new(Opcode::GetKQ, self.table.key(item))
            .opaque(opaque)
            .encode(buf)?)
    }

    fn key(&self, item: usize) -> &[u8] {
        self.table.key(item)
    }

    fn on_reply(&mut self, item: usize, reply: &Response<'_>) {
        // A duplicate key's second hit finds its caller key already taken.
        let Some(key) = self.keys.get_mut(item).and_then(Option::take) else {
            return;
        };
        let value = match (reply.status, reply.flags()) {
            (Status::Ok, Some(flags)) => self.client.decode_value(reply.value, flags),
            (Status::Ok, None) => Err(Error::Deserialize("a hit without flags".into())),
            (status, _) => Err(status_error(status, reply.value)),
        };
        match value {
            Ok(value) => {
                self.hits.insert(key, value);
            }
            Err(error) => self.failures.push(KeyFailure { key, error }),
        }
    }
}

struct StoreHandler<'a, V> {
    client: &'a Client,
    opcode: Opcode,
    table: &'a KeyTable,
    values: &'a [V],
    options: StoreOptions,
    errors: Vec<(usize, Error)>,
}

impl<V: ToValue> BatchHandler for StoreHandler<'_, V> {
    fn opcode(&self) -> Opcode {
        self.opcode
    }

    /// Serializes the value as its request is encoded, so a batch never
    /// holds every value's wire form at once. A value that cannot be
    /// serialized is not sent; its key is reported with the error.
    fn encode(&mut self, item: usize, opaque: u32, buf: &mut Vec<u8>) -> Result<()> {
        let value = self
            .values
            .get(item)
            .ok_or_else(|| Error::Config("batch item out of range".into()))?;
        let wire = match self.client.encode_value(value, self.options) {
            Ok(wire) => wire,
            Err(error) => {
                self.errors.push((item, error));
                return Ok(());
            }
        };
        let request = Request::new(self.opcode, self.table.key(item))
            .extras(Extras::Store {
                flags: wire.flags,
                expiration: self.options.expiration,
            })
            .value(&wire.data)
            .opaque(opaque);
        if let Err(error) = request.encode(buf) {
            // Only a value over 4 GiB cannot be framed.
            self.errors.push((item, error.into()));
        }
        Ok(())
    }

    fn key(&self, item: usize) -> &[u8] {
        self.table.key(item)
    }

    fn on_reply(&mut self, item: usize, reply: &Response<'_>) {
        if reply.status != Status::Ok {
            self.errors
                .push((item, status_error(reply.status, reply.value)));
        }
    }
}

struct KeyHandler<'a> {
    opcode: Opcode,
    table: &'a KeyTable,
    extras: Extras,
    errors: Vec<(usize, Error)>,
}

impl BatchHandler for KeyHandler<'_> {
    fn opcode(&self) -> Opcode {
        self.opcode
    }

    fn encode(&mut self, item: usize, opaque: u32, buf: &mut Vec<u8>) -> Result<()> {
        Ok(Request::new(self.opcode, self.table.key(item))
            .extras(self.extras)
            .opaque(opaque)
            .encode(buf)?)
    }

    fn key(&self, item: usize) -> &[u8] {
        self.table.key(item)
    }

    fn on_reply(&mut self, item: usize, reply: &Response<'_>) {
        if reply.status != Status::Ok {
            self.errors
                .push((item, status_error(reply.status, reply.value)));
        }
    }
}
