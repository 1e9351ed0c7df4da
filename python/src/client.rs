//! `quickmc._quickmc.Client`: the base class of `quickmc.Client`, as
//! `_pylibmc.client` is pylibmc's. Every operation runs on the Rust core
//! with the GIL released; values go through `serialize`/`deserialize`
//! (pylibmc's encoding, or a subclass's override).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use quickmc::protocol::MAX_KEY_LEN;
use quickmc::value::{CompressionAlgorithm, Item};
use quickmc::{Address, BatchReport, StoreOptions};

use crate::codec;
use crate::config::{self, Settings};
use crate::errors::{self, BadKeyProvided, CacheMiss, ClientError, Error, NotFound, TooBig};
use crate::keys::{Slot, key_bytes, prefix_bytes, prefix_slice};

/// Everything an operation needs, swapped whole by `set_behaviors`.
struct State {
    client: quickmc::Client,
    settings: Settings,
    /// A subclass overrides `serialize` / `deserialize`: call it.
    serialize_hook: bool,
    deserialize_hook: bool,
    /// What the client was built from, to build it again in a forked child.
    servers: Vec<String>,
    options: Py<PyDict>,
}

impl State {
    /// In a forked child, the same client built anew (see `Client::state`).
    fn rebuilt(&self, py: Python<'_>) -> PyResult<State> {
        let options = self.options.bind(py);
        let (client, settings) = config::build(&self.servers, options)?;
        Ok(State {
            client,
            settings,
            servers: self.servers.clone(),
            options: options.clone().unbind(),
            ..*self
        })
    }
}

/// The clients rebuilt in this forked child, by the parent's state they
/// replace (kept alive, so its address names it), so clones (and the
/// pools made of them) share the one rebuilt client, as they shared the
/// parent's.
static REBUILT: Mutex<Vec<(usize, Weak<State>)>> = Mutex::new(Vec::new());

/// The low-level client: pylibmc's operations over quickmc's Rust core.
/// `quickmc.Client` subclasses it with server specs, behaviors, the mapping
/// interface and `repr`. Safe to share between threads.
#[pyclass(subclass, frozen, module = "quickmc._quickmc", name = "Client")]
pub struct Client {
    state: RwLock<Option<Arc<State>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
}

/// An expiration memcached reads as a moment before it started: the item
/// expires at once (30 days and a second; below that a time is relative).
const EXPIRED: u32 = 60 * 60 * 24 * 30 + 1;

/// pylibmc's `time` argument as the binary protocol's expiration. pylibmc
/// in its binary mode sends it as a C `unsigned int`, so a negative number
/// wraps (to a moment years away); in its default text mode memcached
/// reads a negative time as "expired already" (Django's "do not cache"
/// stores with -1), which `EXPIRED` says in the binary protocol.
fn expiration(time: i64, settings: &Settings) -> u32 {
    if time < 0 && !settings.binary {
        return EXPIRED;
    }
    u32::try_from(time.rem_euclid(1 << 32)).unwrap_or(u32::MAX)
}

/// A value's decoded form, or None when `deserialize` raised CacheMiss.
fn decode<'py>(
    slf: &Bound<'py, Client>,
    state: &State,
    data: &[u8],
    flags: u32,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = slf.py();
    if !state.deserialize_hook {
        return codec::deserialize(py, data, flags).map(Some);
    }
    match slf.call_method1(intern!(py, "deserialize"), (PyBytes::new(py, data), flags)) {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_instance_of::<CacheMiss>(py) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A value's stored form (bytes and flags), by `serialize`.
fn encode<'py>(
    slf: &Bound<'py, Client>,
    state: &State,
    value: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyBytes>, u32)> {
    if !state.serialize_hook {
        return codec::serialize(value, state.settings.pickle_protocol);
    }
    let py = slf.py();
    let pair = slf.call_method1(intern!(py, "serialize"), (value,))?;
    let (bytes, flags): (Bound<'py, PyAny>, u32) = pair.extract()?;
    let bytes = bytes
        .cast_into::<PyBytes>()
        .map_err(|_| PyTypeError::new_err("serialize must return (bytes, int)"))?;
    Ok((bytes, flags))
}

/// pylibmc's compression arguments as quickmc's store options. Level 0,
/// and a `min_compress_len` of 0 or below, mean "do not compress", as in
/// pylibmc.
fn store_options(
    settings: &Settings,
    time: i64,
    min_compress_len: i64,
    compress_level: i32,
) -> PyResult<StoreOptions> {
    let max_level = match settings.compression {
        CompressionAlgorithm::Zlib => 9,
        CompressionAlgorithm::Zstd => 22,
    };
    if compress_level != -1 && !(0..=max_level).contains(&compress_level) {
        return Err(PyValueError::new_err(format!(
            "compress_level must be between 0 and {max_level} inclusive"
        )));
    }
    let min_compress_len = if compress_level == 0 {
        0
    } else {
        usize::try_from(min_compress_len).unwrap_or(0)
    };
    Ok(StoreOptions::expire(expiration(time, settings))
        .min_compress_len(min_compress_len)
        .compress_level(compress_level))
}

/// incr/decr deltas: pylibmc refuses negative ones.
fn delta(delta: i128) -> PyResult<u64> {
    if delta < 0 {
        return Err(PyValueError::new_err("delta must be positive"));
    }
    u64::try_from(delta).map_err(|_| PyOverflowError::new_err(format!("delta {delta} too large")))
}

/// The caller's key objects and their bytes (a dict's keys, or any iterable).
fn collect_keys<'py>(keys: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyAny>>> {
    if keys.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(
            "keys must be a sequence, not a mapping",
        ));
    }
    keys.try_iter()?.collect()
}

/// The caller's keys as bytes objects (str keys encoded once).
fn encode_keys<'py>(objects: &[Bound<'py, PyAny>]) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    objects.iter().map(key_bytes).collect()
}

/// For keys given both as str and as bytes (`["a", b"a"]`), which
/// get_multi answers once, under the str, where the first spelling was
/// asked (as pylibmc): per such key, that position and whether a str
/// spelling was given. Empty unless the caller mixes the two types.
fn spellings<'a>(
    objects: &[Bound<'_, PyAny>],
    encoded: &'a [Bound<'_, PyBytes>],
) -> HashMap<&'a [u8], (usize, bool)> {
    let is_str = |o: &Bound<'_, PyAny>| o.is_instance_of::<PyString>();
    let mut spellings = HashMap::new();
    if objects.iter().all(is_str) || !objects.iter().any(is_str) {
        return spellings;
    }
    for (index, (object, key)) in objects.iter().zip(encoded).enumerate() {
        let (_, has_str) = spellings.entry(key.as_bytes()).or_insert((index, false));
        *has_str |= is_str(object);
    }
    spellings
}

/// A batch's keys as slots, skipping (and reporting) empty keys. With a
/// prefix, an empty key is the prefix itself, as in pylibmc.
fn slots<'a>(encoded: &'a [Bound<'_, PyBytes>], prefix: &[u8]) -> (Vec<Slot<'a>>, Vec<usize>) {
    let mut slots = Vec::with_capacity(encoded.len());
    let mut empty = Vec::new();
    for (index, key) in encoded.iter().enumerate() {
        let bytes = key.as_bytes();
        if bytes.is_empty() && prefix.is_empty() {
            empty.push(index);
        } else {
            slots.push(Slot { index, bytes });
        }
    }
    (slots, empty)
}

/// A write's outcome as pylibmc gives it when libmemcached's verify_key
/// refuses the key (verify_keys): not written, False, where other errors
/// raise (cas raises for it too).
fn refused_write(op: &str, error: quickmc::Error) -> PyResult<bool> {
    match error {
        quickmc::Error::BadKey(quickmc::KeyError::Unsafe(_)) => Ok(false),
        e => Err(errors::to_py(op, e)),
    }
}

/// The keys of a write batch that verify_keys lets through. pylibmc leaves
/// out a key libmemcached's verify_key refuses and reports it not written
/// (adding its index to `refused`); reads raise for it instead.
fn verified<'a>(
    state: &State,
    prefix: &[u8],
    slots: Vec<Slot<'a>>,
    refused: &mut Vec<usize>,
) -> Vec<Slot<'a>> {
    if !state.settings.verify_keys {
        return slots;
    }
    let unsafe_key = |slot: &Slot<'_>| {
        let key = [prefix, slot.bytes].concat();
        matches!(
            state.client.verify_key(key),
            Err(quickmc::Error::BadKey(quickmc::KeyError::Unsafe(_)))
        )
    };
    let (refused_slots, slots): (Vec<_>, Vec<_>) = slots.into_iter().partition(unsafe_key);
    refused.extend(refused_slots.iter().map(|slot| slot.index));
    slots
}

/// The exception for an incr/decr failure. pylibmc's text mode
/// (binary=False) hears memcached's CLIENT_ERROR for a value that is not a
/// number: ClientError, where its binary mode says UnknownReadFailure.
fn counter_error(settings: &Settings, error: &quickmc::Error, message: String) -> PyErr {
    match error {
        quickmc::Error::NonNumeric if !settings.binary => ClientError::new_err(message),
        _ => errors::with_message(error, message),
    }
}

/// Raises the error of a batch whose every server failed.
fn batch_error<K>(op: &str, report: &BatchReport<K>) -> PyResult<()> {
    if report.servers_answered == 0
        && let Some(failed) = report.server_errors.first()
    {
        return Err(errors::to_py(op, failed.error.clone()));
    }
    Ok(())
}

impl Client {
    fn state(&self) -> PyResult<Arc<State>> {
        let state = self
            .state
            .read()
            .map_err(|_| Error::new_err("client state lock poisoned"))?
            .clone()
            .ok_or_else(|| {
                Error::new_err("client is not configured: build it with Client(servers)")
            })?;
        if state.client.built_before_fork() {
            return self.rebuild_after_fork(state);
        }
        Ok(state)
    }

    /// In a forked child (`os.fork`, gunicorn, multiprocessing, or a server
    /// that forks from C without Python's fork hooks, as uWSGI does): the
    /// parent's connections are not this process's, and its pools' threads
    /// were not copied. The client is built again, on first use (a child
    /// that never uses it starts no thread), once for all its clones. If
    /// that fails, the operation raises why, and the next one tries again.
    fn rebuild_after_fork(&self, old: Arc<State>) -> PyResult<Arc<State>> {
        let key = Arc::as_ptr(&old) as usize;
        // The GIL first, then the map: always in that order.
        let fresh = Python::attach(|py| -> PyResult<Arc<State>> {
            let mut rebuilt = REBUILT
                .lock()
                .map_err(|_| Error::new_err("client rebuild lock poisoned"))?;
            rebuilt.retain(|(_, state)| state.strong_count() > 0);
            let known = rebuilt
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, state)| state.upgrade())
                .filter(|state| !state.client.built_before_fork());
            if let Some(fresh) = known {
                return Ok(fresh);
            }
            let fresh = Arc::new(old.rebuilt(py)?);
            rebuilt.retain(|(k, _)| *k != key);
            rebuilt.push((key, Arc::downgrade(&fresh)));
            // The parent's state stays alive (leaked), so that no later
            // state takes its address, which is its key here.
            std::mem::forget(old.clone());
            Ok(fresh)
        })?;
        *self
            .state
            .write()
            .map_err(|_| Error::new_err("client state lock poisoned"))? = Some(fresh.clone());
        Ok(fresh)
    }

    fn store<'py>(
        slf: &Bound<'py, Self>,
        mode: Store,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        let py = slf.py();
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        let options = store_options(&state.settings, time, min_compress_len, compress_level)?;
        let (bytes, flags) = encode(slf, &state, val)?;
        if key.is_empty() {
            return Ok(false);
        }
        let item = Item::new(bytes.as_bytes(), flags);
        let client = &state.client;
        let stored = py
            .detach(|| match mode {
                Store::Set => client.set(key, item, options),
                Store::Add => client.add(key, item, options),
                Store::Replace => client.replace(key, item, options),
                Store::Append => client.append(key, item, options),
                Store::Prepend => client.prepend(key, item, options),
            })
            .or_else(|e| refused_write(mode.name(), e))?;
        if !stored && mode == Store::Replace && state.settings.binary {
            return Err(NotFound::new_err("replace: key not found"));
        }
        Ok(stored)
    }

    fn store_multi<'py>(
        slf: &Bound<'py, Self>,
        mode: Store,
        mapping: &Bound<'py, PyAny>,
        time: i64,
        key_prefix: Option<&Bound<'py, PyAny>>,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let state = slf.get().state()?;
        let options = store_options(&state.settings, time, min_compress_len, compress_level)?;
        let prefix = prefix_bytes(key_prefix)?;
        let prefix = prefix_slice(&prefix);
        let pairs = if mapping.hasattr(intern!(py, "items"))? {
            mapping.call_method0(intern!(py, "items"))?
        } else {
            mapping.clone()
        };
        let mut objects = Vec::new();
        let mut values = Vec::new();
        for pair in pairs.try_iter()? {
            let (key, value): (Bound<'py, PyAny>, Bound<'py, PyAny>) = pair?.extract()?;
            values.push(encode(slf, &state, &value)?);
            objects.push(key);
        }
        let encoded = encode_keys(&objects)?;
        let (slots, mut failed) = slots(&encoded, prefix);
        let slots = verified(&state, prefix, slots, &mut failed);
        let items: Vec<(Slot<'_>, Item<'_>)> = slots
            .into_iter()
            .map(|slot| {
                let (bytes, flags) = &values[slot.index];
                let item = Item::new(bytes.as_bytes(), *flags);
                (slot, item)
            })
            .collect();
        let client = &state.client;
        let report = if items.is_empty() {
            BatchReport::default()
        } else {
            py.detach(|| match mode {
                Store::Add => client.add_multi_report(items, prefix, options),
                _ => client.set_multi_report(items, prefix, options),
            })
            .map_err(|e| errors::to_py(mode.multi_name(), e))?
        };
        batch_error(mode.multi_name(), &report)?;
        for failure in report.failures {
            if matches!(
                failure.error,
                quickmc::Error::TooLarge | quickmc::Error::ValueTooLarge { .. }
            ) {
                return Err(TooBig::new_err(format!(
                    "{}: value of {:?} too large for the server",
                    mode.multi_name(),
                    String::from_utf8_lossy(failure.key.bytes)
                )));
            }
            failed.push(failure.key.index);
        }
        failed.sort_unstable();
        PyList::new(py, failed.into_iter().map(|i| &objects[i]))
    }

    fn counter<'py>(
        slf: &Bound<'py, Self>,
        decrement: bool,
        key: &Bound<'py, PyAny>,
        amount: i128,
    ) -> PyResult<u64> {
        let py = slf.py();
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        let amount = delta(amount)?;
        let client = &state.client;
        let (op, result) = if decrement {
            ("decr", py.detach(|| client.decr(key, amount)))
        } else {
            ("incr", py.detach(|| client.incr(key, amount)))
        };
        result.map_err(|e| counter_error(&state.settings, &e, format!("{op}: {e}")))
    }
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Set => "set",
            Store::Add => "add",
            Store::Replace => "replace",
            Store::Append => "append",
            Store::Prepend => "prepend",
        }
    }

    fn multi_name(self) -> &'static str {
        match self {
            Store::Add => "add_multi",
            _ => "set_multi",
        }
    }
}

#[pymethods]
impl Client {
    /// An unconfigured client; `quickmc.Client.__init__` configures it.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Client {
            state: RwLock::new(None),
        }
    }

    /// (Re)builds the Rust client for `servers` (canonical specs) with
    /// `options` (behaviors and credentials, already checked).
    fn _configure(
        slf: &Bound<'_, Self>,
        servers: Vec<String>,
        options: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let py = slf.py();
        let (client, settings) = config::build(&servers, options)?;
        let own = slf.get_type();
        let base = py.get_type::<Client>();
        let overridden = |name: &Bound<'_, pyo3::types::PyString>| -> PyResult<bool> {
            Ok(!own.getattr(name)?.is(&base.getattr(name)?))
        };
        let state = State {
            client,
            settings,
            serialize_hook: overridden(intern!(py, "serialize"))?,
            deserialize_hook: overridden(intern!(py, "deserialize"))?,
            servers,
            options: options.copy()?.unbind(),
        };
        *slf.get()
            .state
            .write()
            .map_err(|_| Error::new_err("client state lock poisoned"))? = Some(Arc::new(state));
        Ok(())
    }

    /// The value of `key`, or `default` on a miss.
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        let default = default.unwrap_or_else(|| py.None().into_bound(py));
        let client = &state.client;
        let item = py
            .detach(|| client.get::<Item<'static>>(key))
            .map_err(|e| errors::to_py("get", e))?;
        match item {
            None => Ok(default),
            Some(item) => Ok(decode(slf, &state, &item.data, item.flags)?.unwrap_or(default)),
        }
    }

    /// `(value, cas_id)`, or `(None, None)` on a miss.
    fn gets<'py>(slf: &Bound<'py, Self>, key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        let client = &state.client;
        let hit = py
            .detach(|| client.gets::<Item<'static>>(key))
            .map_err(|e| errors::to_py("gets", e))?;
        let value = match hit {
            Some((item, cas)) => decode(slf, &state, &item.data, item.flags)?.map(|v| (v, cas)),
            None => None,
        };
        match value {
            Some((value, cas)) => PyTuple::new(py, [value, cas.into_pyobject(py)?.into_any()]),
            None => PyTuple::new(py, [py.None(), py.None()]),
        }
    }

    /// Stores `val` under `key`; True if stored.
    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn set<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Client::store(
            slf,
            Store::Set,
            key,
            val,
            time,
            min_compress_len,
            compress_level,
        )
    }

    /// Stores only if `key` is missing; False if it exists.
    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn add<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Client::store(
            slf,
            Store::Add,
            key,
            val,
            time,
            min_compress_len,
            compress_level,
        )
    }

    /// Stores only if `key` exists.
    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn replace<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Client::store(
            slf,
            Store::Replace,
            key,
            val,
            time,
            min_compress_len,
            compress_level,
        )
    }

    /// Appends the serialized bytes of `val` to the stored bytes.
    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn append<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Client::store(
            slf,
            Store::Append,
            key,
            val,
            time,
            min_compress_len,
            compress_level,
        )
    }

    /// Prepends the serialized bytes of `val` to the stored bytes.
    #[pyo3(signature = (key, val, time=0, min_compress_len=0, compress_level=-1))]
    fn prepend<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        time: i64,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<bool> {
        Client::store(
            slf,
            Store::Prepend,
            key,
            val,
            time,
            min_compress_len,
            compress_level,
        )
    }

    /// Compare-and-swap; False on a CAS mismatch, NotFound if missing.
    #[pyo3(signature = (key, val, cas, time=0))]
    fn cas<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
        val: &Bound<'py, PyAny>,
        cas: u64,
        time: i64,
    ) -> PyResult<bool> {
        let py = slf.py();
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        let (bytes, flags) = encode(slf, &state, val)?;
        let item = Item::new(bytes.as_bytes(), flags);
        let client = &state.client;
        let time = expiration(time, &state.settings);
        // (An empty key, or one verify_keys refuses, raises BadKeyProvided
        // here, as in pylibmc.)
        py.detach(|| client.cas(key, item, cas, time))
            .map_err(|e| errors::to_py("cas", e))
    }

    /// Deletes `key`; False if it was missing.
    fn delete(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = slf.py();
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        if key.is_empty() {
            return Ok(false);
        }
        let client = &state.client;
        py.detach(|| client.delete(key))
            .or_else(|e| refused_write("delete", e))
    }

    /// Adds `delta` to a counter; NotFound if it is missing.
    #[pyo3(signature = (key, delta=1))]
    fn incr(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>, delta: i128) -> PyResult<u64> {
        Client::counter(slf, false, key, delta)
    }

    /// Subtracts `delta` from a counter (stopping at 0); NotFound if missing.
    #[pyo3(signature = (key, delta=1))]
    fn decr(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>, delta: i128) -> PyResult<u64> {
        Client::counter(slf, true, key, delta)
    }

    /// Sets a new expiration; False if `key` is missing.
    fn touch(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>, time: i64) -> PyResult<bool> {
        let py = slf.py();
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        if key.is_empty() {
            return Ok(false);
        }
        let client = &state.client;
        let time = expiration(time, &state.settings);
        py.detach(|| client.touch(key, time)).or_else(|e| match e {
            // libmemcached's touch reports a failed (or skipped) connect as
            // a write failure.
            quickmc::Error::ServerDown { .. }
            | quickmc::Error::Connect { .. }
            | quickmc::Error::HostLookup { .. } => {
                Err(errors::WriteError::new_err(format!("touch: {e}")))
            }
            e => refused_write("touch", e),
        })
    }

    /// The hits among `keys` as a dict keyed by the caller's key objects.
    #[pyo3(signature = (keys, key_prefix=None))]
    fn get_multi<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
        key_prefix: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let state = slf.get().state()?;
        let prefix = prefix_bytes(key_prefix)?;
        let prefix = prefix_slice(&prefix);
        let objects: Vec<Bound<'py, PyAny>> = keys.try_iter()?.collect::<PyResult<_>>()?;
        let encoded = encode_keys(&objects)?;
        // Empty keys are skipped, as pylibmc does.
        let (slots, _) = slots(&encoded, prefix);
        let result = PyDict::new(py);
        if slots.is_empty() {
            return Ok(result);
        }
        let client = &state.client;
        let (hits, report) = py
            .detach(|| client.get_multi_report::<_, Item<'static>>(slots, prefix))
            .map_err(|e| match e {
                // A key over 250 bytes is refused earlier (ValueError, as
                // pylibmc): this one is too long with the prefix, which
                // pylibmc reports from libmemcached as a bad key.
                quickmc::Error::BadKey(quickmc::KeyError::TooLong(_)) => {
                    BadKeyProvided::new_err(format!("get_multi: {e}"))
                }
                e => errors::to_py("get_multi", e),
            })?;
        // pylibmc's get_multi answers what arrived when servers time out
        // (libmemcached's mget ends the fetch): {} if none answered.
        let timed_out =
            |f: &quickmc::ServerFailure| matches!(f.error, quickmc::Error::Timeout { .. });
        if !report.server_errors.iter().all(timed_out) {
            batch_error("get_multi", &report)?;
        }
        // A value the core could not read (a corrupt compressed value) is
        // an error, as in pylibmc; keys a failed server left are misses.
        if let Some(failure) = report
            .failures
            .into_iter()
            .find(|f| matches!(f.error, quickmc::Error::Compression { .. }))
        {
            return Err(errors::to_py("get_multi", failure.error));
        }
        // In the caller's order (a dict keeps it), as pylibmc's answer from
        // one server comes; the core's map has none.
        let spellings = spellings(&objects, &encoded);
        let mut hits: Vec<_> = hits.into_iter().collect();
        hits.sort_unstable_by_key(|(slot, _)| {
            spellings
                .get(slot.bytes)
                .map_or(slot.index, |&(first, _)| first)
        });
        for (slot, item) in hits {
            let str_given = spellings
                .get(slot.bytes)
                .is_some_and(|&(_, has_str)| has_str);
            if str_given && objects[slot.index].is_instance_of::<PyBytes>() {
                continue;
            }
            if let Some(value) = decode(slf, &state, &item.data, item.flags)? {
                result.set_item(&objects[slot.index], value)?;
            }
        }
        Ok(result)
    }

    /// Stores every pair; returns the keys not stored.
    #[pyo3(signature = (keys, time=0, key_prefix=None, min_compress_len=0, compress_level=-1))]
    fn set_multi<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
        time: i64,
        key_prefix: Option<&Bound<'py, PyAny>>,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<Bound<'py, PyList>> {
        Client::store_multi(
            slf,
            Store::Set,
            keys,
            time,
            key_prefix,
            min_compress_len,
            compress_level,
        )
    }

    /// Stores each pair whose key is missing; returns the keys not stored.
    #[pyo3(signature = (keys, time=0, key_prefix=None, min_compress_len=0, compress_level=-1))]
    fn add_multi<'py>(
        slf: &Bound<'py, Self>,
        keys: &Bound<'py, PyAny>,
        time: i64,
        key_prefix: Option<&Bound<'py, PyAny>>,
        min_compress_len: i64,
        compress_level: i32,
    ) -> PyResult<Bound<'py, PyList>> {
        Client::store_multi(
            slf,
            Store::Add,
            keys,
            time,
            key_prefix,
            min_compress_len,
            compress_level,
        )
    }

    /// Deletes every key; True only if every one existed.
    #[pyo3(signature = (keys, key_prefix=None, *, time=None))]
    fn delete_multi(
        slf: &Bound<'_, Self>,
        keys: &Bound<'_, PyAny>,
        key_prefix: Option<&Bound<'_, PyAny>>,
        time: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = time; // pylibmc accepted and ignored it before 1.6
        let py = slf.py();
        let state = slf.get().state()?;
        let prefix = prefix_bytes(key_prefix)?;
        let prefix = prefix_slice(&prefix);
        let objects = collect_keys(keys)?;
        let encoded = encode_keys(&objects)?;
        let (slots, mut empty) = slots(&encoded, prefix);
        let slots = verified(&state, prefix, slots, &mut empty);
        if slots.is_empty() {
            return Ok(empty.is_empty());
        }
        let client = &state.client;
        let report = py
            .detach(|| client.delete_multi_report(slots, prefix))
            .map_err(|e| errors::to_py("delete_multi", e))?;
        if let Some(failed) = report.server_errors.into_iter().next() {
            return Err(errors::to_py("delete_multi", failed.error));
        }
        Ok(report.failures.is_empty() && empty.is_empty())
    }

    /// Adds `delta` to every key's counter; NotFound if any is missing.
    #[pyo3(signature = (keys, key_prefix=None, delta=1))]
    fn incr_multi(
        slf: &Bound<'_, Self>,
        keys: &Bound<'_, PyAny>,
        key_prefix: Option<&Bound<'_, PyAny>>,
        delta: i128,
    ) -> PyResult<()> {
        let py = slf.py();
        let state = slf.get().state()?;
        let amount = self::delta(delta)?;
        let prefix = prefix_bytes(key_prefix)?;
        let prefix = prefix_slice(&prefix);
        let objects = collect_keys(keys)?;
        let encoded = encode_keys(&objects)?;
        // pylibmc counts a key it cannot send (empty, refused by
        // verify_keys, too long with the prefix) as failed and increments
        // the others.
        let (slots, mut bad) = slots(&encoded, prefix);
        let slots = verified(&state, prefix, slots, &mut bad);
        let (too_long, slots): (Vec<_>, Vec<_>) = slots
            .into_iter()
            .partition(|slot| prefix.len() + slot.bytes.len() > MAX_KEY_LEN);
        bad.extend(too_long.iter().map(|slot| slot.index));
        let client = &state.client;
        let report = if slots.is_empty() {
            BatchReport::default()
        } else {
            py.detach(|| client.incr_multi_report(slots, prefix, amount))
                .map_err(|e| errors::to_py("incr_multi", e))?
        };
        // As pylibmc, which counts the keys that failed, telling missing
        // keys from other errors (a key it could not send, a value that is
        // not a number, a server that failed), and raises: NotFound if
        // every failure was a missing key; with exactly one other error,
        // the class of the last key's outcome (NotFound, or plain Error if
        // the last key succeeded); with more, plain Error.
        let failed = report.failures.len() + bad.len();
        if failed == 0 {
            return Ok(());
        }
        let missing = report
            .failures
            .iter()
            .filter(|f| matches!(f.error, quickmc::Error::NotFound))
            .count();
        if missing == failed {
            return Err(NotFound::new_err(format!("{failed} keys not found")));
        }
        let message = format!("{failed} keys failed");
        if failed - missing > 1 {
            return Err(Error::new_err(message));
        }
        let last = objects.len().saturating_sub(1);
        if bad.contains(&last) {
            return Err(BadKeyProvided::new_err(message));
        }
        match report.failures.iter().find(|f| f.key.index == last) {
            Some(f) => Err(counter_error(&state.settings, &f.error, message)),
            None => Err(Error::new_err(message)),
        }
    }

    /// The index of the server `key` maps to.
    fn hash(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<usize> {
        let state = slf.get().state()?;
        let key = key_bytes(key)?;
        let key = key.as_bytes();
        state.client.hash(key).map_err(|e| errors::to_py("hash", e))
    }

    /// Statistics of every server: a list of (b"host:port (index)", {name: bytes}).
    #[pyo3(signature = (arg=None))]
    fn get_stats<'py>(
        slf: &Bound<'py, Self>,
        arg: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let state = slf.get().state()?;
        let group = prefix_bytes(arg)?;
        let group = String::from_utf8_lossy(prefix_slice(&group)).into_owned();
        let client = &state.client;
        let per_server = py.detach(|| client.stats_per_server(&group));
        let result = PyList::empty(py);
        for (index, ((_, stats), spec)) in per_server.into_iter().zip(client.servers()).enumerate()
        {
            let stats = stats.map_err(|e| errors::some_errors("get_stats", e))?;
            let name = match &spec.address {
                Address::Tcp { host, port } => format!("{host}:{port} ({index})"),
                Address::Unix(path) => format!("{}:0 ({index})", path.display()),
            };
            let dict = PyDict::new(py);
            for (stat, value) in stats {
                dict.set_item(stat, PyBytes::new(py, value.as_bytes()))?;
            }
            result.append((PyBytes::new(py, name.as_bytes()), dict))?;
        }
        Ok(result)
    }

    /// Invalidates every item on every server (after `time` seconds).
    #[pyo3(signature = (time=0))]
    fn flush_all(slf: &Bound<'_, Self>, time: i64) -> PyResult<bool> {
        let py = slf.py();
        let state = slf.get().state()?;
        let delay = u32::try_from(time.max(0)).unwrap_or(u32::MAX);
        let client = &state.client;
        py.detach(|| client.flush_all(delay))
            .map_err(|e| errors::some_errors("flush_all", e))?;
        Ok(true)
    }

    /// Closes every pooled connection; the next operation reconnects.
    fn disconnect_all(slf: &Bound<'_, Self>) -> PyResult<()> {
        slf.get().state()?.client.disconnect_all();
        Ok(())
    }

    /// A client of the same type sharing this one's connections (cheap).
    fn clone<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let own = slf.get_type();
        let copy = own.call_method1(intern!(py, "__new__"), (&own,))?;
        let state = slf.get().state()?;
        *copy
            .cast::<Client>()?
            .get()
            .state
            .write()
            .map_err(|_| Error::new_err("client state lock poisoned"))? = Some(state);
        Ok(copy)
    }

    /// `(bytes, flags)`: how pylibmc stores `value`.
    fn serialize<'py>(
        slf: &Bound<'py, Self>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyBytes>, u32)> {
        let protocol = slf
            .get()
            .state()
            .map(|s| s.settings.pickle_protocol)
            .unwrap_or(-1);
        codec::serialize(value, protocol)
    }

    /// The value of stored `bytes` with `flags`, as pylibmc reads it.
    fn deserialize<'py>(
        slf: &Bound<'py, Self>,
        bytes: &Bound<'py, PyAny>,
        flags: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let data: Cow<'_, [u8]> = if let Ok(b) = bytes.cast::<PyBytes>() {
            Cow::Borrowed(b.as_bytes())
        } else if let Ok(data) = bytes.extract::<Vec<u8>>() {
            Cow::Owned(data)
        } else {
            return Err(PyTypeError::new_err(format!(
                "deserialize: a bytes-like object is required, not '{}'",
                bytes.get_type().name()?
            )));
        };
        codec::deserialize(slf.py(), &data, flags)
    }
}
