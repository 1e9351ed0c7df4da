//! Keys from Python: str (UTF-8) or bytes, borrowed where they can be.

use std::hash::{Hash, Hasher};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use quickmc::protocol::MAX_KEY_LEN;

use crate::codec::utf8_bytes;

/// A key as a bytes object: a bytes key itself (no copy), a str key
/// encoded as UTF-8 (one allocation). Refuses keys over 250 bytes as
/// pylibmc does (ValueError).
pub fn key_bytes<'py>(key: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let bytes = if let Ok(bytes) = key.cast::<PyBytes>() {
        bytes.clone()
    } else if let Ok(text) = key.cast::<PyString>() {
        utf8_bytes(text)?
    } else {
        return Err(PyTypeError::new_err("key must be bytes or str"));
    };
    let length = bytes.as_bytes().len();
    if length > MAX_KEY_LEN {
        return Err(PyValueError::new_err(format!(
            "key length {length} too long, max is {MAX_KEY_LEN}"
        )));
    }
    Ok(bytes)
}

/// A prefix (`key_prefix`): None is no prefix.
pub fn prefix_bytes<'py>(
    prefix: Option<&Bound<'py, PyAny>>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    match prefix {
        Some(p) if !p.is_none() => key_bytes(p).map(Some),
        _ => Ok(None),
    }
}

/// The bytes of an optional prefix.
pub fn prefix_slice<'a>(prefix: &'a Option<Bound<'_, PyBytes>>) -> &'a [u8] {
    prefix.as_ref().map_or(&[], |p| p.as_bytes())
}

/// A key of a batch: its bytes and its position among the caller's keys,
/// so results map back to the caller's own key objects. Two slots are the
/// same key only if they are the same position.
#[derive(Debug)]
pub struct Slot<'a> {
    pub index: usize,
    pub bytes: &'a [u8],
}

impl AsRef<[u8]> for Slot<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

impl PartialEq for Slot<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
    }
}

impl Eq for Slot<'_> {}

impl Hash for Slot<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.index.hash(state);
    }
}
