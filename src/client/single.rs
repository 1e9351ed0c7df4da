//! Single-key operations, with pylibmc's semantics.

use super::{Client, Retry, StoreOptions};
use crate::connection::{expect_ok, status_error};
use crate::protocol::{Extras, NO_CREATE, Opcode, Request, Status};
use crate::value::{FromValue, ToValue};
use crate::{Error, ProtocolError, Result};

fn missing_flags(server: &std::sync::Arc<str>) -> Error {
    Error::Protocol {
        server: server.clone(),
        error: ProtocolError::Unexpected("a hit without flags"),
    }
}

impl Client {
    fn fetch_item<T: FromValue>(&self, key: &[u8]) -> Result<Option<(T, u64)>> {
        // pylibmc: an empty key is a miss, without I/O.
        if key.is_empty() {
            return Ok(None);
        }
        let key = self.check_key(key)?;
        let index = self.route(key)?;
        self.execute(index, Retry::Safe, |conn| {
            let server = conn.server_name().clone();
            let reply = conn.request(Request::new(Opcode::Get, key))?;
            match reply.status {
                Status::Ok => {
                    let flags = reply.flags().ok_or_else(|| missing_flags(&server))?;
                    let value = self.decode_value(reply.value, flags)?;
                    Ok(Some((value, reply.cas)))
                }
                Status::KeyNotFound => Ok(None),
                other => Err(status_error(other, reply.value)),
            }
        })
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
        Ok(self.fetch_item(key.as_ref())?.map(|(v, _)| v))
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
        self.fetch_item(key.as_ref())
    }

    /// Runs one store command; `Ok(false)` for not stored / exists / not found.
    fn store<V: ToValue + ?Sized>(
        &self,
        opcode: Opcode,
        key: &[u8],
        value: &V,
        options: StoreOptions,
        cas: u64,
        retry: Retry,
    ) -> Result<bool> {
        let key = self.check_key(key)?;
        let concat = matches!(opcode, Opcode::Append | Opcode::Prepend);
        let item = if concat {
            // Appended bytes join the stored bytes raw: never compressed.
            value.to_item()?
        } else {
            self.encode_value(value, options)?
        };
        let index = self.route(key)?;
        self.execute(index, retry, |conn| {
            let mut request = Request::new(opcode, key).value(&item.data).cas(cas);
            if !concat {
                request = request.extras(Extras::Store {
                    flags: item.flags,
                    expiration: options.expiration,
                });
            }
            let reply = conn.request(request)?;
            match reply.status {
                Status::Ok => Ok(true),
                Status::NotStored | Status::KeyExists | Status::KeyNotFound => Ok(false),
                other => Err(status_error(other, reply.value)),
            }
        })
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
        self.store(
            Opcode::Set,
            key.as_ref(),
            &value,
            options.into(),
            0,
            Retry::Safe,
        )
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
        self.store(
            Opcode::Add,
            key.as_ref(),
            &value,
            options.into(),
            0,
            Retry::Never,
        )
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
        self.store(
            Opcode::Replace,
            key.as_ref(),
            &value,
            options.into(),
            0,
            Retry::Safe,
        )
    }

    /// Appends bytes to an existing value; `Ok(false)` if `key` is missing.
    ///
    /// The server joins raw bytes and keeps the original flags: append only
    /// to uncompressed bytes or text (appending to a compressed or serde
    /// value corrupts it).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.set("log", "a", 0)?;
    /// client.append("log", "b")?;
    /// assert_eq!(client.get::<String>("log")?.as_deref(), Some("ab"));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn append<V: ToValue>(&self, key: impl AsRef<[u8]>, value: V) -> Result<bool> {
        self.store(
            Opcode::Append,
            key.as_ref(),
            &value,
            StoreOptions::default(),
            0,
            Retry::Never,
        )
    }

    /// Prepends bytes to an existing value; `Ok(false)` if `key` is missing.
    /// The same caveat as [`append`](Client::append) applies.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.prepend("log", ">")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn prepend<V: ToValue>(&self, key: impl AsRef<[u8]>, value: V) -> Result<bool> {
        self.store(
            Opcode::Prepend,
            key.as_ref(),
            &value,
            StoreOptions::default(),
            0,
            Retry::Never,
        )
    }

    /// Compare-and-swap: stores only if the item's CAS id is still `cas`
    /// (from [`gets`](Client::gets)). `Ok(false)` if it changed or is gone.
    /// Never compresses, as pylibmc.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let (list, cas) = client.gets::<String>("list")?.unwrap_or_default();
    /// let swapped = client.cas("list", format!("{list},x"), cas, 0)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn cas<V: ToValue>(
        &self,
        key: impl AsRef<[u8]>,
        value: V,
        cas: u64,
        expiration: u32,
    ) -> Result<bool> {
        self.store(
            Opcode::Set,
            key.as_ref(),
            &value,
            StoreOptions::expire(expiration),
            cas,
            Retry::Never,
        )
    }

    /// Deletes `key`; `Ok(false)` if it was missing.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let existed = client.delete("session:42")?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        let key = self.check_key(key.as_ref())?;
        let index = self.route(key)?;
        self.execute(index, Retry::Safe, |conn| {
            let reply = conn.request(Request::new(Opcode::Delete, key))?;
            match reply.status {
                Status::Ok => Ok(true),
                Status::KeyNotFound => Ok(false),
                other => Err(status_error(other, reply.value)),
            }
        })
    }

    fn counter(&self, opcode: Opcode, key: &[u8], delta: u64) -> Result<u64> {
        let key = self.check_key(key)?;
        let index = self.route(key)?;
        self.execute(index, Retry::Never, |conn| {
            let server = conn.server_name().clone();
            let reply = conn.request(Request::new(opcode, key).extras(Extras::Counter {
                delta,
                initial: 0,
                expiration: NO_CREATE,
            }))?;
            expect_ok(reply.status, reply.value)?;
            reply.counter().ok_or(Error::Protocol {
                server,
                error: ProtocolError::Unexpected("a counter reply that is not 8 bytes"),
            })
        })
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
        self.counter(Opcode::Increment, key.as_ref(), delta)
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
        self.counter(Opcode::Decrement, key.as_ref(), delta)
    }

    /// Sets a new expiration on `key`; `Ok(false)` if it is missing.
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// client.touch("session:42", 3600)?;
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn touch(&self, key: impl AsRef<[u8]>, expiration: u32) -> Result<bool> {
        let key = self.check_key(key.as_ref())?;
        let index = self.route(key)?;
        self.execute(index, Retry::Safe, |conn| {
            let reply = conn
                .request(Request::new(Opcode::Touch, key).extras(Extras::Expiration(expiration)))?;
            match reply.status {
                Status::Ok => Ok(true),
                Status::KeyNotFound => Ok(false),
                other => Err(status_error(other, reply.value)),
            }
        })
    }

    /// Whether `key` is present (a get, as pylibmc's `key in mc`).
    ///
    /// ```no_run
    /// # let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// if !client.contains("warm")? { /* fill the cache */ }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn contains(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get::<crate::value::Item<'static>>(key)?.is_some())
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
