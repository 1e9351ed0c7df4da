//! The keys of a batch, stored back to back.

/// Prefixed keys of a batch, stored back to back: one allocation for the
/// bytes and four bytes of offset per key, not an allocation per key.
///
/// ```
/// let mut keys = quickmc::command::KeyTable::default();
/// keys.push(b"user:", b"1");
/// keys.push(b"user:", b"");
/// assert_eq!(keys.key(0), b"user:1");
/// assert_eq!(keys.key(1), b"user:");
/// assert_eq!(keys.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyTable {
    bytes: Vec<u8>,
    /// Where each key's bytes end.
    ends: Vec<u32>,
}

impl KeyTable {
    /// An empty table with room for `keys` keys of `bytes` bytes in all.
    ///
    /// ```
    /// let keys = quickmc::command::KeyTable::with_capacity(100, 1000);
    /// assert!(keys.is_empty());
    /// ```
    pub fn with_capacity(keys: usize, bytes: usize) -> KeyTable {
        KeyTable {
            bytes: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(keys),
        }
    }

    /// Appends `prefix + key` and returns its index. A table holds under
    /// 4 GiB of key bytes; the caller checks the total first.
    ///
    /// ```
    /// let mut keys = quickmc::command::KeyTable::default();
    /// assert_eq!(keys.push(b"", b"a"), 0);
    /// ```
    #[inline]
    pub fn push(&mut self, prefix: &[u8], key: &[u8]) -> usize {
        if !prefix.is_empty() {
            self.bytes.extend_from_slice(prefix);
        }
        self.bytes.extend_from_slice(key);
        let end = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        self.ends.push(end);
        self.ends.len() - 1
    }

    /// Removes the last key (one that failed validation, say).
    ///
    /// ```
    /// let mut keys = quickmc::command::KeyTable::default();
    /// keys.push(b"", b"a");
    /// keys.pop();
    /// assert!(keys.is_empty());
    /// ```
    pub fn pop(&mut self) {
        self.ends.pop();
        let end = self.ends.last().copied().unwrap_or(0) as usize;
        self.bytes.truncate(end);
    }

    /// Key `index`; empty when out of range.
    ///
    /// ```
    /// let keys = quickmc::command::KeyTable::default();
    /// assert_eq!(keys.key(5), b"");
    /// ```
    pub fn key(&self, index: usize) -> &[u8] {
        let Some(&end) = self.ends.get(index) else {
            return &[];
        };
        // A key starts where the one before it ends.
        let start = match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(0),
            None => 0,
        };
        self.bytes
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// How many keys.
    ///
    /// ```
    /// assert_eq!(quickmc::command::KeyTable::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the table is empty.
    ///
    /// ```
    /// assert!(quickmc::command::KeyTable::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}
