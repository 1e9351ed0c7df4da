//! Multi-key operations: one quiet batch per server, every server written
//! before any is waited on, keys checked first.
//!
//! The key sent is `key_prefix + key`, so an empty key with a prefix is the
//! prefix (as in pylibmc). An invalid key fails the whole call before any
//! I/O (except that `get_multi` skips empty keys, as pylibmc does). Replies are matched by
//! opaque, so per-key failures land on the right key. On pooled
//! connections, hits are decoded between reads, as they arrive, so the
//! decoding overlaps with the replies still on their way (a slow one, a
//! large compressed value, holds the next read back only while it runs).

use std::collections::HashMap;
use std::hash::Hash;

use super::batch::BatchRun;
use super::keys::{BatchKeys, Keep};
use super::{BatchReport, Client, KeyFailure, ServerFailure, StoreOptions, blocking};
use crate::command::{BatchOp, CounterOp, HitValues, KeyEvent, KeyOutcome, StoreMode, ValueSource};
use crate::value::{FromValue, Item, ToValue};
use crate::{Error, Result};

/// Values of a store batch, serialized as their requests are encoded.
struct StoreValues<'a, V> {
    client: &'a Client,
    values: &'a [V],
    options: StoreOptions,
}

impl<V: ToValue + Sync> ValueSource for StoreValues<'_, V> {
    fn value(&self, item: usize) -> Result<Item<'_>> {
        let value = self
            .values
            .get(item)
            .ok_or_else(|| Error::Config("batch item out of range".into()))?;
        self.client.encode_value(value, self.options)
    }
}

impl Client {
    fn server_failures(&self, run: &BatchRun) -> Vec<ServerFailure> {
        run.failed
            .iter()
            .map(|failed| ServerFailure {
                server: self.server_name(failed.server).to_string(),
                keys: failed.unsettled.len(),
                error: failed.error.clone(),
            })
            .collect()
    }

    /// Turns a write batch's events and failed servers into a report keyed
    /// by the caller's keys (a repeated key shares its sent copy's fate).
    fn keyed_report<K>(&self, keys: Vec<K>, batch: &BatchKeys, run: BatchRun) -> BatchReport<K> {
        let mut report = BatchReport {
            server_errors: self.server_failures(&run),
            servers_answered: run.servers_answered,
            ..BatchReport::default()
        };
        let mut errors: Vec<(u32, Error)> = Vec::new();
        for event in run.events.into_iter().flat_map(|(events, _)| events) {
            if let KeyOutcome::Failed(error) = event.outcome {
                errors.push((event.item, error));
            }
        }
        for failed in run.failed {
            errors.extend(failed.unsettled.iter().map(|&i| (i, failed.error.clone())));
        }
        if errors.is_empty() {
            return report;
        }
        if !batch.duplicates.is_empty() {
            errors.sort_by_key(|(item, _)| *item);
            for &(copy, sent) in &batch.duplicates {
                if let Ok(at) = errors.binary_search_by_key(&sent, |(item, _)| *item)
                    && let Some((_, error)) = errors.get(at)
                {
                    errors.push((copy, error.clone()));
                }
            }
        }
        errors.sort_by_key(|(item, _)| *item);
        let mut errors = errors.into_iter().peekable();
        for (index, key) in keys.into_iter().enumerate() {
            let mut first = None;
            while let Some((_, error)) = errors.next_if(|(i, _)| *i as usize == index) {
                first.get_or_insert(error);
            }
            if let Some(error) = first {
                report.failures.push(KeyFailure { key, error });
            }
        }
        report
    }

    pub(super) async fn get_batch<K, T>(
        &self,
        op: BatchOp,
        keys: impl IntoIterator<Item = K>,
        key_prefix: &[u8],
    ) -> Result<Fetched<K, T>>
    where
        K: AsRef<[u8]> + Eq + Hash,
        T: FromValue,
    {
        let keys: Vec<K> = keys.into_iter().collect();
        let batch = self.batch_keys(&keys, key_prefix, true, Keep::All)?;
        let mut reader = HitReader::new(keys);
        let mut read = |event, values: &mut HitValues| reader.read(self, &batch, event, values);
        let run = self.run_batch(op, &batch, None, Some(&mut read)).await;
        Ok(reader.finish(self, run))
    }

    /// The hits among `keys` (each looked up as `key_prefix + key`), keyed by
    /// the caller's keys. Misses are absent. Empty keys are skipped, as in
    /// pylibmc (with a prefix, the empty key is the prefix itself); any
    /// other invalid key fails the call before any I/O.
    ///
    /// One GetKQ per key (a repeated key is asked again) and a Noop per
    /// window, every server written before any is read. If some servers
    /// fail, the hits from the others are returned (as libmemcached does);
    /// only if every server involved fails is its error returned. A value
    /// that cannot be read as `T` (or is above `max_value_size`) fails the
    /// call with an error naming its key;
    /// [`get_multi_report`](Client::get_multi_report) returns the other hits
    /// and reports such keys instead.
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
        blocking(self.get_batch(BatchOp::Get, keys, key_prefix.as_ref()))?.hits_or_error()
    }

    /// Like [`get_multi`](Client::get_multi), also reporting failed servers,
    /// values that could not be read, and the keys a failed server left
    /// unread (all absent from the hits).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211", "127.0.0.1:11212"])?;
    /// let (hits, report) = client.get_multi_report::<_, String>(["a", "b"], "")?;
    /// for failed in &report.server_errors {
    ///     eprintln!("{}: {} keys unread: {}", failed.server, failed.keys, failed.error);
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
        Ok(blocking(self.get_batch(BatchOp::Get, keys, key_prefix.as_ref()))?.into_parts())
    }

    /// Get-and-touch for many keys: the hits, each given the new
    /// `expiration` in the same round trip (GATKQ; memcached offers it,
    /// pylibmc does not). Otherwise as [`get_multi`](Client::get_multi).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let sessions: std::collections::HashMap<&str, String> = client.gat_multi(["s1", "s2"], "session:", 1800)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn gat_multi<K, T>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        expiration: u32,
    ) -> Result<HashMap<K, T>>
    where
        K: AsRef<[u8]> + Eq + Hash,
        T: FromValue,
    {
        let op = BatchOp::GetAndTouch(expiration);
        blocking(self.get_batch(op, keys, key_prefix.as_ref()))?.hits_or_error()
    }

    /// Like [`gat_multi`](Client::gat_multi), with the report.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let (hits, report) = client.gat_multi_report::<_, String>(["s1"], "", 60)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn gat_multi_report<K, T>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        expiration: u32,
    ) -> Result<(HashMap<K, T>, BatchReport<K>)>
    where
        K: AsRef<[u8]> + Eq + Hash,
        T: FromValue,
    {
        let op = BatchOp::GetAndTouch(expiration);
        Ok(blocking(self.get_batch(op, keys, key_prefix.as_ref()))?.into_parts())
    }

    pub(super) async fn store_multi<K: AsRef<[u8]>, V: ToValue + Sync>(
        &self,
        mode: StoreMode,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: &[u8],
        options: StoreOptions,
    ) -> Result<BatchReport<K>> {
        let (keys, values): (Vec<K>, Vec<V>) = items.into_iter().unzip();
        let batch = self.batch_keys(&keys, key_prefix, false, Keep::All)?;
        let source = StoreValues {
            client: self,
            values: &values,
            options,
        };
        let op = BatchOp::Store {
            mode,
            expiration: options.expiration,
        };
        let run = self.run_batch(op, &batch, Some(&source), NO_READER).await;
        Ok(self.keyed_report(keys, &batch, run))
    }

    pub(super) async fn key_multi<K: AsRef<[u8]>>(
        &self,
        op: BatchOp,
        keys: impl IntoIterator<Item = K>,
        key_prefix: &[u8],
    ) -> Result<BatchReport<K>> {
        let keys: Vec<K> = keys.into_iter().collect();
        let batch = self.batch_keys(&keys, key_prefix, false, Keep::First)?;
        let run = self.run_batch(op, &batch, None, NO_READER).await;
        Ok(self.keyed_report(keys, &batch, run))
    }

    /// Stores every `(key, value)` pair (as `key_prefix + key`) with one
    /// quiet SetQ batch per server, and returns the keys that were not
    /// stored (too large, or on a server that failed) — pylibmc's
    /// `set_multi`. When a key repeats, every pair is sent in order, so the
    /// last one wins.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let failed = client.set_multi([("a", "1"), ("b", "2")], "user:", 3600)?;
    /// assert!(failed.is_empty());
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn set_multi<K: AsRef<[u8]>, V: ToValue + Sync>(
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
    pub fn set_multi_report<K: AsRef<[u8]>, V: ToValue + Sync>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<BatchReport<K>> {
        blocking(self.store_multi(StoreMode::Set, items, key_prefix.as_ref(), options.into()))
    }

    /// Stores each pair only if its key is missing; returns the keys not
    /// stored (they existed, were too large, or their server failed).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let existing = client.add_multi([("a", "1"), ("b", "2")], "", 0)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn add_multi<K: AsRef<[u8]>, V: ToValue + Sync>(
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
    pub fn add_multi_report<K: AsRef<[u8]>, V: ToValue + Sync>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<BatchReport<K>> {
        blocking(self.store_multi(StoreMode::Add, items, key_prefix.as_ref(), options.into()))
    }

    /// Deletes every key (one DeleteQ batch per server); true only if every
    /// key existed and was deleted, as pylibmc. A failed server is an error.
    /// A key given twice is deleted once (and counts as deleted).
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
        all_deleted(self.delete_multi_report(keys, key_prefix)?)
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
        blocking(self.key_multi(BatchOp::Delete, keys, key_prefix.as_ref()))
    }

    /// Adds `delta` to every key's counter (one IncrementQ batch per
    /// server). Missing keys are never created; if any key is missing or not
    /// a number, the first such error is returned — the other keys were
    /// still incremented (see [`incr_multi_report`](Client::incr_multi_report)).
    /// A key given twice is incremented once (pylibmc, which increments key
    /// by key, would add `delta` twice).
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
        ok_or_first_error(self.incr_multi_report(keys, key_prefix, delta)?)
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
        let op = BatchOp::Counter {
            op: CounterOp::Incr,
            delta,
        };
        blocking(self.key_multi(op, keys, key_prefix.as_ref()))
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
        ok_or_first_error(self.decr_multi_report(keys, key_prefix, delta)?)
    }

    /// Like [`decr_multi`](Client::decr_multi), listing each failed key.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let report = client.decr_multi_report(["a", "b"], "", 5)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn decr_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<BatchReport<K>> {
        let op = BatchOp::Counter {
            op: CounterOp::Decr,
            delta,
        };
        blocking(self.key_multi(op, keys, key_prefix.as_ref()))
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
        Ok(self
            .touch_multi_report(keys, key_prefix, expiration)?
            .into_failed_keys())
    }

    /// Like [`touch_multi`](Client::touch_multi), with why each key failed.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let report = client.touch_multi_report(["s:1"], "", 60)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn touch_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        expiration: u32,
    ) -> Result<BatchReport<K>> {
        blocking(self.key_multi(BatchOp::Touch(expiration), keys, key_prefix.as_ref()))
    }
}

/// What a read batch fetched.
/// For batches whose events are read once the batch is over.
const NO_READER: Option<&mut fn(KeyEvent, &mut HitValues)> = None;

/// A get batch's hits, read into `T` as their events arrive (between reads
/// on pooled connections, so decoding overlaps with the replies still on
/// their way), keyed by the caller's keys.
struct HitReader<K, T> {
    keys: Vec<Option<K>>,
    hits: HashMap<K, T>,
    /// Keys whose value could not be read, by item.
    failures: Vec<(u32, KeyFailure<K>)>,
}

impl<K: Eq + Hash, T: FromValue> HitReader<K, T> {
    fn new(keys: Vec<K>) -> HitReader<K, T> {
        HitReader {
            // Sized for every key to hit, as most do in a warm cache.
            hits: HashMap::with_capacity(keys.len()),
            keys: keys.into_iter().map(Some).collect(),
            failures: Vec::new(),
        }
    }

    /// One key's event: its value decoded into `T`, or its failure noted.
    fn read(
        &mut self,
        client: &Client,
        batch: &BatchKeys,
        event: KeyEvent,
        values: &mut HitValues,
    ) {
        let Some(key) = self
            .keys
            .get_mut(event.item as usize)
            .and_then(Option::take)
        else {
            return;
        };
        let value = match event.outcome {
            KeyOutcome::Hit { flags, value, .. } => client
                .decode_value(Item::new(values.take(value), flags))
                .map_err(|e| e.for_key(batch.table.key(event.item as usize))),
            KeyOutcome::Failed(error) => Err(error),
        };
        match value {
            Ok(value) => {
                self.hits.insert(key, value);
            }
            Err(error) => self.failures.push((event.item, KeyFailure { key, error })),
        }
    }

    /// The hits, with a report of the keys whose value could not be read
    /// and the keys a failed server left unread.
    fn finish(mut self, client: &Client, run: BatchRun) -> Fetched<K, T> {
        let value_error = self
            .failures
            .iter()
            .min_by_key(|(item, _)| *item)
            .map(|(_, f)| f.error.clone());
        for failed in &run.failed {
            for &item in &failed.unsettled {
                if let Some(key) = self.keys.get_mut(item as usize).and_then(Option::take) {
                    let error = failed.error.clone();
                    self.failures.push((item, KeyFailure { key, error }));
                }
            }
        }
        self.failures.sort_by_key(|(item, _)| *item);
        let report = BatchReport {
            server_errors: client.server_failures(&run),
            servers_answered: run.servers_answered,
            failures: self.failures.into_iter().map(|(_, f)| f).collect(),
        };
        Fetched {
            hits: self.hits,
            report,
            value_error,
        }
    }
}

pub(super) struct Fetched<K, T> {
    hits: HashMap<K, T>,
    report: BatchReport<K>,
    /// The first key whose value could not be read (not a server's failure).
    value_error: Option<Error>,
}

impl<K, T> Fetched<K, T> {
    pub(super) fn into_parts(self) -> (HashMap<K, T>, BatchReport<K>) {
        (self.hits, self.report)
    }

    /// The plain form: the hits, unless every server failed or a value
    /// could not be read (an error naming its key). Keys a failed server
    /// left unread are simply absent, as libmemcached leaves them.
    pub(super) fn hits_or_error(self) -> Result<HashMap<K, T>> {
        if self.report.servers_answered == 0
            && let Some(failed) = self.report.server_errors.into_iter().next()
        {
            return Err(failed.error);
        }
        match self.value_error {
            Some(error) => Err(error),
            None => Ok(self.hits),
        }
    }
}

/// A delete batch's plain form: a failed server's error, else whether
/// every key was deleted.
pub(super) fn all_deleted<K>(report: BatchReport<K>) -> Result<bool> {
    if let Some(failed) = report.server_errors.into_iter().next() {
        return Err(failed.error);
    }
    Ok(report.failures.is_empty())
}

/// A counter batch's plain form: a failed server's error, else the first key's.
pub(super) fn ok_or_first_error<K>(report: BatchReport<K>) -> Result<()> {
    if let Some(failed) = report.server_errors.into_iter().next() {
        return Err(failed.error);
    }
    match report.failures.into_iter().next() {
        Some(failure) => Err(failure.error),
        None => Ok(()),
    }
}
