//! Single-key operations, with pylibmc's semantics: each a few lines over
//! a command, the key's server and the retry rule.

use super::{Client, StoreOptions, blocking};
use crate::command::{
    Cas, Concat, ConcatMode, Counter, CounterOp, Delete, Get, Hit, Idempotence, Store, StoreMode,
    Touch,
};
use crate::value::{FromValue, Item, ToValue};
use crate::{Error, Result};

impl Client {
    /// Fetches a key (touching it when `touch` is set) as `T` with its CAS id.
    pub(super) async fn fetch_item<T: FromValue>(
        &self,
        key: &[u8],
        touch: Option<u32>,
    ) -> Result<Option<(T, u64)>> {
        // pylibmc: an empty key is a miss, without I/O.
        if key.is_empty() {
            return Ok(None);
        }
        let key = self.check_key(key)?;
        let index = self.route(key)?;
        let mut get = match touch {
            None => Get::new(key),
            Some(expiration) => Get::touching(key, expiration),
        };
        let Some(Hit { flags, cas, value }) =
            self.run(index, Idempotence::Repeatable, &mut get).await?
        else {
            return Ok(None);
        };
        let value = self
            .decode_value(Item::new(value, flags))
            .map_err(|e| e.for_key(key))?;
        Ok(Some((value, cas)))
    }

    /// The value of `key`, or `None` on a miss (or for an empty key, as pylibmc).
    ///
    /// `T` is any [`FromValue`] type: `String`, `Vec<u8>`, integers, `bool`,
    /// [`Serde<T>`](crate::value::Serde), or [`Value`](crate::value::Value)
    /// to take whatever the flags say.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let name: Option<String> = client.get("user:1:name")?;
    /// let visits: Option<u64> = client.get("user:1:visits")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn get<T: FromValue>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>> {
        Ok(blocking(self.fetch_item(key.as_ref(), None))?.map(|(v, _)| v))
    }

    /// The value of `key`, or `default` on a miss (pylibmc's `get(key, default)`).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let theme = client.get_or("user:1:theme", "light".to_string())?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn get_or<T: FromValue>(&self, key: impl AsRef<[u8]>, default: T) -> Result<T> {
        Ok(self.get(key)?.unwrap_or(default))
    }

    /// The value and its CAS id, for a later [`cas`](Client::cas).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// if let Some((count, cas)) = client.gets::<u64>("counter")? {
    ///     client.cas("counter", count + 1, cas, 0)?;
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn gets<T: FromValue>(&self, key: impl AsRef<[u8]>) -> Result<Option<(T, u64)>> {
        blocking(self.fetch_item(key.as_ref(), None))
    }

    /// Get-and-touch: the value of `key`, giving it a new `expiration` in the
    /// same round trip (memcached's GAT; pylibmc has no such call). `None` on
    /// a miss.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// // A sliding session: reading it keeps it alive for another 30 minutes.
    /// let session: Option<String> = client.gat("session:42", 1800)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn gat<T: FromValue>(&self, key: impl AsRef<[u8]>, expiration: u32) -> Result<Option<T>> {
        Ok(blocking(self.fetch_item(key.as_ref(), Some(expiration)))?.map(|(v, _)| v))
    }

    /// Runs one store command; `Ok(false)` for not stored / exists / not found.
    pub(super) async fn store<V: ToValue + ?Sized>(
        &self,
        mode: StoreMode,
        key: &[u8],
        value: &V,
        options: StoreOptions,
    ) -> Result<bool> {
        let key = self.check_key(key)?;
        let item = self.encode_value(value, options)?;
        let index = self.route(key)?;
        let mut store = Store::new(mode, key, &item.data, item.flags, options.expiration);
        self.run(index, mode.idempotence(), &mut store).await
    }

    /// Stores `value` under `key` unconditionally. `options` is an
    /// expiration in seconds or a [`StoreOptions`]. A value above the
    /// server's item size is [`Error::TooLarge`] (and memcached drops the
    /// old value, as it does for every client).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.set("session:42", "payload", 3600)?;
    /// client.set("report", vec![0u8; 1 << 16], quickmc::StoreOptions::expire(60).min_compress_len(1024))?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn set<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        blocking(self.store(StoreMode::Set, key.as_ref(), &value, options.into()))
    }

    /// Stores only if `key` is missing; `Ok(false)` if it exists.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// if client.add("lock:job-7", "worker-3", 30)? {
    ///     // we hold the lock
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn add<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        blocking(self.store(StoreMode::Add, key.as_ref(), &value, options.into()))
    }

    /// Stores only if `key` exists; `Ok(false)` if it is missing.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let replaced = client.replace("config", "v2", 0)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn replace<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        blocking(self.store(StoreMode::Replace, key.as_ref(), &value, options.into()))
    }

    pub(super) async fn concat<V: ToValue + ?Sized>(
        &self,
        mode: ConcatMode,
        key: &[u8],
        value: &V,
    ) -> Result<bool> {
        let key = self.check_key(key)?;
        // Appended bytes join the stored bytes raw: never compressed.
        let item = value.to_item()?;
        let index = self.route(key)?;
        let mut concat = Concat::new(mode, key, &item.data);
        self.run(index, Idempotence::Once, &mut concat).await
    }

    /// Appends bytes to an existing value; `Ok(false)` if `key` is missing.
    ///
    /// The server joins raw bytes and keeps the item's flags and
    /// expiration: `options` is taken for the same shape as every other
    /// write (pylibmc's signature) but neither expiration nor compression
    /// applies. Append only to uncompressed bytes or text (appending to a
    /// compressed or serde value corrupts it).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.set("log", "a", 0)?;
    /// client.append("log", "b", 0)?;
    /// assert_eq!(client.get::<String>("log")?.as_deref(), Some("ab"));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn append<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let _ = options.into();
        blocking(self.concat(ConcatMode::Append, key.as_ref(), &value))
    }

    /// Prepends bytes to an existing value; `Ok(false)` if `key` is missing.
    /// The same caveats as [`append`](Client::append) apply.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.prepend("log", ">", 0)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn prepend<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let _ = options.into();
        blocking(self.concat(ConcatMode::Prepend, key.as_ref(), &value))
    }

    /// Compare-and-swap: stores only if the item's CAS id is still `cas`
    /// (from [`gets`](Client::gets)). `Ok(false)` if another write changed
    /// it; a missing key is [`Error::NotFound`] whatever the id (0
    /// included) and is never created, as pylibmc in binary mode. Never
    /// compresses, as pylibmc.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// loop {
    ///     let Some((list, cas)) = client.gets::<String>("list")? else {
    ///         client.add("list", "x", 0)?; // first writer; a lost race retries below
    ///         continue;
    ///     };
    ///     if client.cas("list", format!("{list},x"), cas, 0)? {
    ///         break;
    ///     }
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn cas<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        cas: u64,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        blocking(self.compare_and_swap(key.as_ref(), &value, cas, options.into()))
    }

    pub(super) async fn compare_and_swap<V: ToValue + ?Sized>(
        &self,
        key: &[u8],
        value: &V,
        cas: u64,
        options: StoreOptions,
    ) -> Result<bool> {
        let key = self.check_key(key)?;
        let item = self.encode_value(value, StoreOptions::expire(options.expiration))?;
        let index = self.route(key)?;
        let mut swap = Cas::new(key, &item.data, item.flags, options.expiration, cas);
        self.run(index, Idempotence::Once, &mut swap).await
    }

    /// Deletes `key`; `Ok(false)` if it was missing.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let existed = client.delete("session:42")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        blocking(self.delete_key(key.as_ref()))
    }

    pub(super) async fn delete_key(&self, key: &[u8]) -> Result<bool> {
        let key = self.check_key(key)?;
        let index = self.route(key)?;
        let mut delete = Delete::new(key);
        self.run(index, Idempotence::Repeatable, &mut delete).await
    }

    pub(super) async fn counter(&self, op: CounterOp, key: &[u8], delta: u64) -> Result<u64> {
        let key = self.check_key(key)?;
        let index = self.route(key)?;
        let mut counter = Counter::new(op, key, delta);
        self.run(index, Idempotence::Once, &mut counter).await
    }

    /// Adds `delta` to a decimal counter and returns the new value (wrapping
    /// at 2^64, as memcached). A missing key is [`Error::NotFound`] — it is
    /// never created; a non-numeric value is [`Error::NonNumeric`].
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.set("hits", 10u64, 0)?;
    /// assert_eq!(client.incr("hits", 5)?, 15);
    /// assert!(matches!(client.incr("no-such-key", 1), Err(quickmc::Error::NotFound)));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn incr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64> {
        blocking(self.counter(CounterOp::Incr, key.as_ref(), delta))
    }

    /// Subtracts `delta` (stopping at 0) and returns the new value. Same
    /// errors as [`incr`](Client::incr).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.set("stock", 3u64, 0)?;
    /// assert_eq!(client.decr("stock", 5)?, 0);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn decr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64> {
        blocking(self.counter(CounterOp::Decr, key.as_ref(), delta))
    }

    /// Sets a new expiration on `key`; `Ok(false)` if it is missing.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.touch("session:42", 3600)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn touch(&self, key: impl AsRef<[u8]>, expiration: u32) -> Result<bool> {
        blocking(self.touch_key(key.as_ref(), expiration))
    }

    pub(super) async fn touch_key(&self, key: &[u8], expiration: u32) -> Result<bool> {
        let key = self.check_key(key)?;
        let index = self.route(key)?;
        let mut touch = Touch::new(key, expiration);
        self.run(index, Idempotence::Repeatable, &mut touch).await
    }

    /// Whether `key` is present (a get, as pylibmc's `key in mc`).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// if !client.contains("warm")? { /* fill the cache */ }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        blocking(self.contains_key(key.as_ref()))
    }

    pub(super) async fn contains_key(&self, key: &[u8]) -> Result<bool> {
        if key.is_empty() {
            return Ok(false);
        }
        let key = self.check_key(key)?;
        let index = self.route(key)?;
        let mut get = Get::new(key);
        Ok(self
            .run(index, Idempotence::Repeatable, &mut get)
            .await?
            .is_some())
    }

    /// The value of `key`; a miss is [`Error::NotFound`] (pylibmc's `mc[key]`).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let config: String = client.fetch("config")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn fetch<T: FromValue>(&self, key: impl AsRef<[u8]>) -> Result<T> {
        self.get(key)?.ok_or(Error::NotFound)
    }

    /// Stores with no expiration; not stored is [`Error::NotStored`]
    /// (pylibmc's `mc[key] = value`).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.insert("config", "v1")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn insert<V: ToValue>(&self, key: impl AsRef<[u8]>, value: V) -> Result<()> {
        if self.set(key, value, 0)? {
            Ok(())
        } else {
            Err(Error::NotStored)
        }
    }

    /// Deletes; a missing key is [`Error::NotFound`] (pylibmc's `del mc[key]`).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.remove("config")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<()> {
        if self.delete(key)? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }
}
