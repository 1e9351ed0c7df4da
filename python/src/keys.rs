//! Keys from Python: str (UTF-8) or bytes, borrowed where they can be.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// The longest key memcached accepts.
const MAX_KEY_LEN: usize = 250;

/// A key's bytes: a bytes key as is, a str key encoded as UTF-8.
pub fn key_bytes<'a>(key: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    let bytes: Cow<'a, [u8]> = if let Ok(bytes) = key.cast::<PyBytes>() {
        Cow::Borrowed(bytes.as_bytes())
    } else if let Ok(text) = key.cast::<PyString>() {
        match text.to_cow()? {
            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
        }
    } else {
        return Err(PyTypeError::new_err("key must be bytes or str"));
    };
    if bytes.len() > MAX_KEY_LEN {
        return Err(PyValueError::new_err(format!(
            "key length {} too long, max is {MAX_KEY_LEN}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// A prefix (`key_prefix`): None is no prefix.
pub fn prefix_bytes<'a>(prefix: Option<&'a Bound<'_, PyAny>>) -> PyResult<Cow<'a, [u8]>> {
    match prefix {
        None => Ok(Cow::Borrowed(&[])),
        Some(p) if p.is_none() => Ok(Cow::Borrowed(&[])),
        Some(p) => key_bytes(p),
    }
}

/// A key of a batch: its bytes and its position among the caller's keys,
/// so results map back to the caller's own key objects. Two slots are the
/// same key only if they are the same position.
#[derive(Debug)]
pub struct Slot<'a> {
    pub index: usize,
    pub bytes: Cow<'a, [u8]>,
}

impl AsRef<[u8]> for Slot<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
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
