//! pylibmc's value encoding: Python objects to (bytes, flags) and back,
//! exactly as pylibmc 1.6 writes and reads them.
//!
//! | Python value | stored bytes | flags |
//! |---|---|---|
//! | bytes | as is | 0 |
//! | str | UTF-8 | 16 |
//! | bool | `1` / `0` | 2 |
//! | int | `str(value)` | 4 |
//! | anything else | `pickle.dumps(value, pickle_protocol)` | 1 |
//!
//! Reading looks at `flags & 0x17` (pylibmc's type bits; the Rust core has
//! already decompressed the value, and the zlib/zstd bit it leaves in the
//! flags is outside them): 0 bytes, 16 str, 2 and 4 int, 1 unpickle,
//! anything else `Error("unknown memcached key flags N")`.

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString};

use crate::errors::Error;

/// Flag values pylibmc writes.
pub const FLAG_PICKLE: u32 = 1;
pub const FLAG_INTEGER: u32 = 2;
pub const FLAG_LONG: u32 = 4;
pub const FLAG_TEXT: u32 = 16;
/// The bits pylibmc reads a value's type from.
const TYPE_BITS: u32 = FLAG_PICKLE | FLAG_INTEGER | FLAG_LONG | FLAG_TEXT;

static PICKLE_DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static PICKLE_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static INT_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn pickle<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    cell.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("pickle")?.getattr(name)?.unbind())
    })
    .map(|f| f.bind(py))
}

/// `s.encode("utf-8")` as a bytes object (one copy, no intermediate String).
pub fn utf8_bytes<'py>(s: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyBytes>> {
    // SAFETY: PyUnicode_AsUTF8String is in the limited API, returns a new
    // reference to a bytes object or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(s.py(), ffi::PyUnicode_AsUTF8String(s.as_ptr()))
            .map(|b| b.cast_into_unchecked::<PyBytes>())
    }
}

/// pylibmc's `serialize`: the bytes to store and their flags.
pub fn serialize<'py>(
    value: &Bound<'py, PyAny>,
    pickle_protocol: i32,
) -> PyResult<(Bound<'py, PyBytes>, u32)> {
    let py = value.py();
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok((bytes.clone(), 0));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok((utf8_bytes(text)?, FLAG_TEXT));
    }
    if value.is_instance_of::<PyBool>() {
        let digit: &[u8] = if value.is_truthy()? { b"1" } else { b"0" };
        return Ok((PyBytes::new(py, digit), FLAG_INTEGER));
    }
    if value.is_instance_of::<PyInt>() {
        // pylibmc stores str(value): an IntEnum as its number.
        return Ok((utf8_bytes(&value.str()?)?, FLAG_LONG));
    }
    let dumped = pickle(py, &PICKLE_DUMPS, "dumps")?.call1((value, pickle_protocol))?;
    Ok((dumped.cast_into::<PyBytes>()?, FLAG_PICKLE))
}

/// pylibmc's `deserialize`: the Python value of stored bytes and flags.
pub fn deserialize<'py>(py: Python<'py>, data: &[u8], flags: u32) -> PyResult<Bound<'py, PyAny>> {
    match flags & TYPE_BITS {
        0 => Ok(PyBytes::new(py, data).into_any()),
        FLAG_TEXT => match std::str::from_utf8(data) {
            Ok(text) => Ok(PyString::new(py, text).into_any()),
            // Python's own decode, for its exact UnicodeDecodeError.
            Err(_) => PyBytes::new(py, data).call_method1(intern!(py, "decode"), ("utf-8",)),
        },
        FLAG_INTEGER | FLAG_LONG => parse_int(py, data),
        FLAG_PICKLE => pickle(py, &PICKLE_LOADS, "loads")?.call1((PyBytes::new(py, data),)),
        // pylibmc names the type bits only (the compression bit is not one).
        unknown => Err(Error::new_err(format!(
            "unknown memcached key flags {unknown}"
        ))),
    }
}

/// `int(data)`: decimal text, which memcached pads with spaces after a
/// decrement. Short plain numbers are parsed here; anything else goes to
/// Python's `int` (big numbers, and its ValueError for non-numbers).
fn parse_int<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let trimmed = data.trim_ascii();
    if (1..=18).contains(&trimmed.len())
        && let Ok(text) = std::str::from_utf8(trimmed)
        && let Ok(n) = text.parse::<i64>()
    {
        return Ok(n.into_pyobject(py)?.into_any());
    }
    let int = INT_TYPE.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("builtins")?.getattr("int")?.unbind())
    })?;
    // As text, so a ValueError reads like pylibmc's ('abc', not b'abc').
    int.bind(py)
        .call1((PyString::new(py, &String::from_utf8_lossy(data)),))
}
