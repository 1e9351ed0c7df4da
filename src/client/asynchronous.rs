//! The async client: the blocking client's operations, `async`, on shared
//! connections driven by tokio. Each method is the same operation the
//! blocking client runs (one implementation, written as a future), so
//! keys, values, placement, the retry rule, health and reports are the same.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use super::cluster::all_or_first_error;
use super::multi::{all_deleted, ok_or_first_error};
use super::{BatchReport, Client, ClientBuilder, PerServer, Ping, StoreOptions};
use crate::command::{BatchOp, ConcatMode, CounterOp, StoreMode};
use crate::distribution::Distribution;
use crate::value::{FromValue, ToValue};
use crate::{Error, Result, ServerSpec};

/// A memcached client for tokio services (the `tokio` feature).
///
/// The same operations as [`Client`], with the same names, arguments,
/// options and errors, as `async` methods whose futures are `Send` (for
/// `Send` keys and values). `clone()` is an `Arc` clone: build one at
/// start-up and clone it into every handler.
///
/// Every task's requests to a server share a few connections (2 per server
/// unless [`pipelined`](ClientBuilder::pipelined) says otherwise): requests
/// queued by many tasks leave in one write, and one waiting task reads the
/// replies for all. Connections are made on tokio's blocking pool, so a
/// slow connect never stalls the runtime. It needs a tokio runtime with
/// I/O and time enabled (as `#[tokio::main]` builds).
///
/// **Cancellation.** Dropping a future at any point is safe: what it had
/// not yet queued is never sent (the rest of a batch's windows), what it
/// queued still goes out and its replies are read and dropped, and the
/// connection stays in step for everyone else. (Whether a dropped
/// write reached the server is, as ever, unknown.)
///
/// **Which client when.** In a tokio service, this one: no
/// `spawn_blocking` around calls, and concurrent tasks share syscalls.
/// In threaded code, [`Client`] — pooled by default, or
/// [`pipelined`](ClientBuilder::pipelined) when many threads share few
/// servers. [`Client::reserve`] (pinning pooled connections) has no async
/// counterpart: there is no pool to reserve from; the text-protocol
/// operator tools ([`Client::stats_text`], [`Client::dump_keys`]) are on
/// the blocking client only.
///
/// ```no_run
/// # async fn demo() -> quickmc::Result<()> {
/// let client = quickmc::AsyncClient::new(["127.0.0.1:11211"])?;
/// client.set("greeting", "hello", 0).await?;
/// let value: Option<String> = client.get("greeting").await?;
/// assert_eq!(value.as_deref(), Some("hello"));
/// let worker = client.clone(); // cheap: shares connections and health
/// tokio::spawn(async move { worker.incr("hits", 1).await });
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct AsyncClient {
    client: Client,
}

impl AsyncClient {
    /// The client [`ClientBuilder::build_async`] made (shared connections,
    /// driven by tokio).
    pub(super) fn from_shared(client: Client) -> AsyncClient {
        AsyncClient { client }
    }

    /// A client for `servers` with default behaviors, as [`Client::new`].
    /// No connection is made yet.
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["127.0.0.1:11211", "/run/mc.sock"])?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn new<S: AsRef<str>>(servers: impl IntoIterator<Item = S>) -> Result<AsyncClient> {
        ClientBuilder::default().servers(servers).build_async()
    }

    /// A builder for every behavior; finish it with
    /// [`build_async`](ClientBuilder::build_async).
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = quickmc::AsyncClient::builder()
    ///     .servers(["127.0.0.1:11211"])
    ///     .io_timeout(Some(Duration::from_millis(200)))
    ///     .build_async()?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The servers, in the order given.
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["127.0.0.1:11211"])?;
    /// assert_eq!(client.servers()[0].to_string(), "127.0.0.1:11211");
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn servers(&self) -> &[ServerSpec] {
        self.client.servers()
    }

    /// Whether this client accepts `key`, as [`Client::verify_key`] (no I/O).
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["a:11211"])?;
    /// assert!(client.verify_key("user:1").is_ok());
    /// assert!(client.verify_key("").is_err());
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn verify_key(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.client.verify_key(key)
    }

    /// The index of the server `key` maps to, as [`Client::hash`].
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["a:11211", "b:11211"])?;
    /// assert!(client.hash("user:1")? < 2);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn hash(&self, key: impl AsRef<[u8]>) -> Result<usize> {
        self.client.hash(key)
    }

    /// The key's hash value, as [`Client::hash_value`].
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["a:11211"])?;
    /// let _ = client.hash_value("foo");
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn hash_value(&self, key: impl AsRef<[u8]>) -> u32 {
        self.client.hash_value(key)
    }

    /// The distribution over all servers.
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["a:11211", "b:11211"])?;
    /// assert_eq!(client.distribution().len(), 2);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn distribution(&self) -> &Distribution {
        self.client.distribution()
    }

    /// How a value is stored, as [`Client::serialize`].
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["a:11211"])?;
    /// assert_eq!(client.serialize(&42u32, Default::default())?.1, 4);
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn serialize<V: ToValue + ?Sized>(
        &self,
        value: &V,
        options: StoreOptions,
    ) -> Result<(Vec<u8>, u32)> {
        self.client.serialize(value, options)
    }

    /// Reads stored bytes and flags as a value, as [`Client::deserialize`].
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["a:11211"])?;
    /// assert_eq!(client.deserialize::<String>(b"hi", 16)?, "hi");
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn deserialize<T: FromValue>(&self, bytes: &[u8], flags: u32) -> Result<T> {
        self.client.deserialize(bytes, flags)
    }

    /// Drops every connection; tasks waiting on one fail, the next
    /// operation connects afresh.
    ///
    /// ```
    /// let client = quickmc::AsyncClient::new(["127.0.0.1:11211"])?;
    /// client.disconnect_all();
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn disconnect_all(&self) {
        self.client.disconnect_all();
    }

    // ---- single keys ----

    /// The value of `key`, or `None` on a miss, as [`Client::get`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let name: Option<String> = client.get("user:1:name").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get<T: FromValue>(&self, key: impl AsRef<[u8]>) -> Result<Option<T>> {
        let item = self.client.fetch_item(key.as_ref(), None).await?;
        Ok(item.map(|(value, _)| value))
    }

    /// The value of `key`, or `default` on a miss, as [`Client::get_or`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let theme = client.get_or("user:1:theme", "light".to_string()).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_or<T: FromValue>(&self, key: impl AsRef<[u8]>, default: T) -> Result<T> {
        Ok(self.get(key).await?.unwrap_or(default))
    }

    /// The value and its CAS id, as [`Client::gets`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// if let Some((count, cas)) = client.gets::<u64>("counter").await? {
    ///     client.cas("counter", count + 1, cas, 0).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn gets<T: FromValue>(&self, key: impl AsRef<[u8]>) -> Result<Option<(T, u64)>> {
        self.client.fetch_item(key.as_ref(), None).await
    }

    /// Get-and-touch, as [`Client::gat`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let session: Option<String> = client.gat("session:42", 1800).await?;
    /// # Ok(()) }
    /// ```
    pub async fn gat<T: FromValue>(
        &self,
        key: impl AsRef<[u8]>,
        expiration: u32,
    ) -> Result<Option<T>> {
        let item = self
            .client
            .fetch_item(key.as_ref(), Some(expiration))
            .await?;
        Ok(item.map(|(value, _)| value))
    }

    /// Stores `value` unconditionally, as [`Client::set`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.set("session:42", "payload", 3600).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let options = options.into();
        (self.client)
            .store(StoreMode::Set, key.as_ref(), &value, options)
            .await
    }

    /// Stores only if `key` is missing, as [`Client::add`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let locked = client.add("lock:job-7", "worker-3", 30).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let options = options.into();
        (self.client)
            .store(StoreMode::Add, key.as_ref(), &value, options)
            .await
    }

    /// Stores only if `key` exists, as [`Client::replace`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let replaced = client.replace("config", "v2", 0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn replace<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let options = options.into();
        (self.client)
            .store(StoreMode::Replace, key.as_ref(), &value, options)
            .await
    }

    /// Appends raw bytes to an existing value, as [`Client::append`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.append("log", "b", 0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn append<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let _ = options.into();
        (self.client)
            .concat(ConcatMode::Append, key.as_ref(), &value)
            .await
    }

    /// Prepends raw bytes to an existing value, as [`Client::prepend`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.prepend("log", ">", 0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn prepend<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let _ = options.into();
        (self.client)
            .concat(ConcatMode::Prepend, key.as_ref(), &value)
            .await
    }

    /// Compare-and-swap, as [`Client::cas`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// if let Some((list, cas)) = client.gets::<String>("list").await? {
    ///     client.cas("list", format!("{list},x"), cas, 0).await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn cas<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        cas: u64,
        options: impl Into<StoreOptions>,
    ) -> Result<bool> {
        let options = options.into();
        (self.client)
            .compare_and_swap(key.as_ref(), &value, cas, options)
            .await
    }

    /// Deletes `key`; `Ok(false)` if it was missing, as [`Client::delete`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let existed = client.delete("session:42").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.client.delete_key(key.as_ref()).await
    }

    /// Adds `delta` to a counter, as [`Client::incr`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let hits = client.incr("hits", 1).await?;
    /// # Ok(()) }
    /// ```
    pub async fn incr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64> {
        (self.client)
            .counter(CounterOp::Incr, key.as_ref(), delta)
            .await
    }

    /// Subtracts `delta` from a counter (stopping at 0), as [`Client::decr`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let left = client.decr("stock", 1).await?;
    /// # Ok(()) }
    /// ```
    pub async fn decr(&self, key: impl AsRef<[u8]>, delta: u64) -> Result<u64> {
        (self.client)
            .counter(CounterOp::Decr, key.as_ref(), delta)
            .await
    }

    /// Sets a new expiration on `key`, as [`Client::touch`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.touch("session:42", 3600).await?;
    /// # Ok(()) }
    /// ```
    pub async fn touch(&self, key: impl AsRef<[u8]>, expiration: u32) -> Result<bool> {
        self.client.touch_key(key.as_ref(), expiration).await
    }

    /// Whether `key` is present, as [`Client::contains`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let warm = client.contains("warm").await?;
    /// # Ok(()) }
    /// ```
    pub async fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        self.client.contains_key(key.as_ref()).await
    }

    /// The value of `key`; a miss is [`Error::NotFound`], as [`Client::fetch`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let config: String = client.fetch("config").await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch<T: FromValue>(&self, key: impl AsRef<[u8]>) -> Result<T> {
        self.get(key).await?.ok_or(Error::NotFound)
    }

    /// Stores with no expiration; not stored is [`Error::NotStored`], as
    /// [`Client::insert`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.insert("config", "v1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn insert<V: ToValue>(&self, key: impl AsRef<[u8]>, value: V) -> Result<()> {
        if self.set(key, value, 0).await? {
            Ok(())
        } else {
            Err(Error::NotStored)
        }
    }

    /// Deletes; a missing key is [`Error::NotFound`], as [`Client::remove`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.remove("config").await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove(&self, key: impl AsRef<[u8]>) -> Result<()> {
        if self.delete(key).await? {
            Ok(())
        } else {
            Err(Error::NotFound)
        }
    }

    // ---- many keys ----

    /// The hits among `keys`, as [`Client::get_multi`]. A batch goes in
    /// bounded windows, so other tasks' requests are never held back for
    /// its whole length.
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let hits: std::collections::HashMap<&str, String> =
    ///     client.get_multi(["a", "b", "c"], "user:").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_multi<K, T>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<HashMap<K, T>>
    where
        K: AsRef<[u8]> + Eq + Hash,
        T: FromValue,
    {
        (self.client)
            .get_batch(BatchOp::Get, keys, key_prefix.as_ref())
            .await?
            .hits_or_error()
    }

    /// The hits and a report, as [`Client::get_multi_report`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let (hits, report) = client.get_multi_report::<_, String>(["a", "b"], "").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_multi_report<K, T>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<(HashMap<K, T>, BatchReport<K>)>
    where
        K: AsRef<[u8]> + Eq + Hash,
        T: FromValue,
    {
        Ok((self.client)
            .get_batch(BatchOp::Get, keys, key_prefix.as_ref())
            .await?
            .into_parts())
    }

    /// Get-and-touch for many keys, as [`Client::gat_multi`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let sessions: std::collections::HashMap<&str, String> =
    ///     client.gat_multi(["s1", "s2"], "session:", 1800).await?;
    /// # Ok(()) }
    /// ```
    pub async fn gat_multi<K, T>(
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
        (self.client)
            .get_batch(op, keys, key_prefix.as_ref())
            .await?
            .hits_or_error()
    }

    /// Get-and-touch for many keys with the report, as
    /// [`Client::gat_multi_report`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let (hits, report) = client.gat_multi_report::<_, String>(["s1"], "", 60).await?;
    /// # Ok(()) }
    /// ```
    pub async fn gat_multi_report<K, T>(
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
        Ok((self.client)
            .get_batch(op, keys, key_prefix.as_ref())
            .await?
            .into_parts())
    }

    /// Stores every pair; returns the keys not stored, as [`Client::set_multi`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let failed = client.set_multi([("a", "1"), ("b", "2")], "user:", 3600).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_multi<K: AsRef<[u8]>, V: ToValue + Sync>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<Vec<K>> {
        Ok(self
            .set_multi_report(items, key_prefix, options)
            .await?
            .into_failed_keys())
    }

    /// Stores every pair, with why each key failed, as
    /// [`Client::set_multi_report`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let report = client.set_multi_report([("a", "1")], "", 0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn set_multi_report<K: AsRef<[u8]>, V: ToValue + Sync>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<BatchReport<K>> {
        let options = options.into();
        (self.client)
            .store_multi(StoreMode::Set, items, key_prefix.as_ref(), options)
            .await
    }

    /// Stores each pair only if its key is missing, as [`Client::add_multi`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let existing = client.add_multi([("a", "1")], "", 0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_multi<K: AsRef<[u8]>, V: ToValue + Sync>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<Vec<K>> {
        Ok(self
            .add_multi_report(items, key_prefix, options)
            .await?
            .into_failed_keys())
    }

    /// Like [`add_multi`](AsyncClient::add_multi), with why each key failed.
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let report = client.add_multi_report([("a", "1")], "", 0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn add_multi_report<K: AsRef<[u8]>, V: ToValue + Sync>(
        &self,
        items: impl IntoIterator<Item = (K, V)>,
        key_prefix: impl AsRef<[u8]>,
        options: impl Into<StoreOptions>,
    ) -> Result<BatchReport<K>> {
        let options = options.into();
        (self.client)
            .store_multi(StoreMode::Add, items, key_prefix.as_ref(), options)
            .await
    }

    /// Deletes every key; true only if every key was deleted, as
    /// [`Client::delete_multi`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let all_deleted = client.delete_multi(["a", "b"], "user:").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<bool> {
        all_deleted(self.delete_multi_report(keys, key_prefix).await?)
    }

    /// Deletes every key, listing the missing ones, as
    /// [`Client::delete_multi_report`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let report = client.delete_multi_report(["a", "b"], "").await?;
    /// # Ok(()) }
    /// ```
    pub async fn delete_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
    ) -> Result<BatchReport<K>> {
        (self.client)
            .key_multi(BatchOp::Delete, keys, key_prefix.as_ref())
            .await
    }

    /// Adds `delta` to every key's counter, as [`Client::incr_multi`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.incr_multi(["views:1", "views:2"], "", 1).await?;
    /// # Ok(()) }
    /// ```
    pub async fn incr_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<()> {
        ok_or_first_error(self.incr_multi_report(keys, key_prefix, delta).await?)
    }

    /// Like [`incr_multi`](AsyncClient::incr_multi), listing each failed key.
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let report = client.incr_multi_report(["a", "b"], "", 5).await?;
    /// # Ok(()) }
    /// ```
    pub async fn incr_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<BatchReport<K>> {
        let op = BatchOp::Counter {
            op: CounterOp::Incr,
            delta,
        };
        self.client.key_multi(op, keys, key_prefix.as_ref()).await
    }

    /// Subtracts `delta` from every key's counter, as [`Client::decr_multi`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.decr_multi(["stock:1", "stock:2"], "", 1).await?;
    /// # Ok(()) }
    /// ```
    pub async fn decr_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<()> {
        ok_or_first_error(self.decr_multi_report(keys, key_prefix, delta).await?)
    }

    /// Like [`decr_multi`](AsyncClient::decr_multi), listing each failed key.
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let report = client.decr_multi_report(["a", "b"], "", 5).await?;
    /// # Ok(()) }
    /// ```
    pub async fn decr_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        delta: u64,
    ) -> Result<BatchReport<K>> {
        let op = BatchOp::Counter {
            op: CounterOp::Decr,
            delta,
        };
        self.client.key_multi(op, keys, key_prefix.as_ref()).await
    }

    /// Sets a new expiration on every key; returns the keys missing, as
    /// [`Client::touch_multi`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let missing = client.touch_multi(["s:1", "s:2"], "", 3600).await?;
    /// # Ok(()) }
    /// ```
    pub async fn touch_multi<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        expiration: u32,
    ) -> Result<Vec<K>> {
        Ok(self
            .touch_multi_report(keys, key_prefix, expiration)
            .await?
            .into_failed_keys())
    }

    /// Like [`touch_multi`](AsyncClient::touch_multi), with why each key failed.
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// let report = client.touch_multi_report(["s:1"], "", 60).await?;
    /// # Ok(()) }
    /// ```
    pub async fn touch_multi_report<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        key_prefix: impl AsRef<[u8]>,
        expiration: u32,
    ) -> Result<BatchReport<K>> {
        let op = BatchOp::Touch(expiration);
        self.client.key_multi(op, keys, key_prefix.as_ref()).await
    }

    // ---- every server ----

    /// Invalidates every item on every server, as [`Client::flush_all`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// client.flush_all(0).await?;
    /// # Ok(()) }
    /// ```
    pub async fn flush_all(&self, delay: u32) -> Result<()> {
        self.client.flush_every_server(delay).await
    }

    /// Flushes every server, one result per server, as
    /// [`Client::flush_all_per_server`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) {
    /// for (server, result) in client.flush_all_per_server(0).await {
    ///     println!("{server}: {:?}", result.is_ok());
    /// }
    /// # }
    /// ```
    pub async fn flush_all_per_server(&self, delay: u32) -> PerServer<()> {
        self.client.flush_each_server(delay).await
    }

    /// Statistics of every server, as [`Client::stats`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) -> quickmc::Result<()> {
    /// for (server, stats) in client.stats("").await? {
    ///     println!("{server}: {} items", stats["curr_items"]);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stats(&self, group: &str) -> Result<Vec<(String, BTreeMap<String, String>)>> {
        all_or_first_error(self.stats_per_server(group).await)
    }

    /// Statistics, one result per server, as [`Client::stats_per_server`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) {
    /// for (server, stats) in client.stats_per_server("").await {
    ///     println!("{server}: {:?}", stats.map(|s| s.len()));
    /// }
    /// # }
    /// ```
    pub async fn stats_per_server(&self, group: &str) -> PerServer<BTreeMap<String, String>> {
        self.client.stats_of_every_server(group).await
    }

    /// Each server's round trip (and TLS session), as [`Client::ping`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) {
    /// for (server, ping) in client.ping().await {
    ///     println!("{server}: {:?}", ping.map(|p| p.round_trip));
    /// }
    /// # }
    /// ```
    pub async fn ping(&self) -> PerServer<Ping> {
        self.client.ping_every_server().await
    }

    /// Every server's version string, as [`Client::version`].
    ///
    /// ```no_run
    /// # async fn demo(client: quickmc::AsyncClient) {
    /// for (server, version) in client.version().await {
    ///     println!("{server}: {version:?}");
    /// }
    /// # }
    /// ```
    pub async fn version(&self) -> PerServer<String> {
        self.client.version_of_every_server().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send<F: std::future::Future + Send>(_: F) {}

    #[test]
    fn the_async_client_is_cheap_to_clone_and_its_futures_are_send() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<AsyncClient>();
        let client = AsyncClient::new(["127.0.0.1:1"]).unwrap();
        // Never polled: only the types are checked.
        send(client.get::<String>("k"));
        send(client.set("k", String::from("v"), 0));
        send(client.cas("k", vec![1u8], 1, 0));
        send(client.get_multi::<_, Vec<u8>>(vec![String::from("a")], ""));
        send(client.set_multi(vec![("a", 1u64)], "", 0));
        send(client.incr_multi(["a"], "", 1));
        send(client.delete_multi(["a"], ""));
        send(client.touch_multi(["a"], "", 1));
        send(client.stats(""));
        send(client.ping());
        send(client.flush_all(0));
    }
}
