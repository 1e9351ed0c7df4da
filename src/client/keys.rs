//! Keys: checked once before any I/O, prefixed, deduplicated (where the
//! operation asks) and grouped by server for a batch.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;

use super::Client;
use crate::command::KeyTable;
use crate::protocol::MAX_KEY_LEN;
use crate::{Error, KeyError, Result};

/// Checks a key (prefix included) the way memcached and, with `strict`,
/// libmemcached's `verify_key` (pylibmc's verify_keys) would.
pub(super) fn check(key: &[u8], strict: bool) -> std::result::Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong(key.len()));
    }
    if strict && let Some(byte) = first_unsafe(key) {
        return Err(KeyError::Unsafe(byte));
    }
    Ok(())
}

/// The first byte libmemcached's `verify_key` refuses in a key, if any:
/// anything but printable ASCII (C's `isgraph`), so control characters,
/// space, DEL and every byte of a UTF-8 sequence.
fn first_unsafe(bytes: &[u8]) -> Option<u8> {
    bytes.iter().copied().find(|b| !b.is_ascii_graphic())
}

/// [`check`] of `prefix + key` for the keys of a batch, which share one
/// prefix: the prefix is looked at once, not once per key, and the key
/// need not be joined to it first. The errors are `check`'s, in its order.
struct PrefixedCheck {
    prefix_len: usize,
    /// The prefix's first unsafe byte, when keys are checked strictly.
    prefix_unsafe: Option<u8>,
    strict: bool,
}

impl PrefixedCheck {
    fn new(prefix: &[u8], strict: bool) -> PrefixedCheck {
        PrefixedCheck {
            prefix_len: prefix.len(),
            prefix_unsafe: if strict { first_unsafe(prefix) } else { None },
            strict,
        }
    }

    #[inline]
    fn check(&self, key: &[u8]) -> std::result::Result<(), KeyError> {
        let len = self.prefix_len + key.len();
        if len == 0 {
            return Err(KeyError::Empty);
        }
        if len > MAX_KEY_LEN {
            return Err(KeyError::TooLong(len));
        }
        if self.strict
            && let Some(byte) = self.prefix_unsafe.or_else(|| first_unsafe(key))
        {
            return Err(KeyError::Unsafe(byte));
        }
        Ok(())
    }
}

/// Which of several equal keys a batch sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// Every copy, in order: reads ask again, and of stores the later pair
    /// wins, as the server applies them in order. Repeats are rare; not
    /// looking for them saves a hash table per batch.
    All,
    /// The first (deletes, counters, touches: applied once).
    First,
}

/// A batch's keys: one table entry per caller key, the items to send
/// grouped by server, and the caller keys that repeat a sent one.
#[derive(Debug, Default)]
pub(super) struct BatchKeys {
    /// `prefix + key` per caller key (empty for skipped empty keys).
    pub(super) table: KeyTable,
    /// (server, items to send there in order); servers without items left out.
    pub(super) routes: Vec<(usize, Vec<u32>)>,
    /// (caller key, the sent item with the same bytes).
    pub(super) duplicates: Vec<(u32, u32)>,
}

impl Client {
    /// Whether this client accepts `key` (prefix included), as every
    /// operation checks it before any I/O: not empty, at most 250 bytes,
    /// and printable ASCII only with [`strict_keys`](crate::ClientBuilder::strict_keys).
    ///
    /// ```
    /// use quickmc::{Error, KeyError};
    /// let client = quickmc::Client::builder().servers(["127.0.0.1:11211"]).strict_keys(true).build()?;
    /// assert!(client.verify_key("user:1").is_ok());
    /// assert!(matches!(client.verify_key("a b"), Err(Error::BadKey(KeyError::Unsafe(b' ')))));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn verify_key(&self, key: impl AsRef<[u8]>) -> Result<()> {
        self.check_key(key.as_ref()).map(|_| ())
    }

    /// Checks a single key (no I/O).
    pub(super) fn check_key<'k>(&self, key: &'k [u8]) -> Result<&'k [u8]> {
        check(key, self.inner.behavior.strict_keys)?;
        Ok(key)
    }

    /// Prefixes, checks, deduplicates (as `keep` says) and routes a batch's
    /// keys. The key is `prefix + key`: an empty key with a prefix is the
    /// prefix, as in pylibmc. An empty key without one is skipped when
    /// `skip_empty` (pylibmc's get_multi), else an error; any other invalid
    /// key fails the whole call before any I/O.
    pub(super) fn batch_keys<K: AsRef<[u8]>>(
        &self,
        keys: &[K],
        prefix: &[u8],
        skip_empty: bool,
        keep: Keep,
    ) -> Result<BatchKeys> {
        let total = keys
            .iter()
            .map(|k| k.as_ref().len() + prefix.len())
            .fold(0usize, usize::saturating_add);
        if total >= u32::MAX as usize || keys.len() >= u32::MAX as usize {
            return Err(Error::Config(
                "a batch's keys must number and total under 4 Gi; split it".into(),
            ));
        }
        let checker = PrefixedCheck::new(prefix, self.inner.behavior.strict_keys);
        let mut table = KeyTable::with_capacity(keys.len(), total);
        let mut skipped = false;
        for key in keys {
            let key = key.as_ref();
            if key.is_empty() && prefix.is_empty() {
                if !skip_empty {
                    return Err(KeyError::Empty.into());
                }
                table.push(b"", b"");
                skipped = true;
                continue;
            }
            checker.check(key)?;
            table.push(prefix, key);
        }
        let (unique, duplicates) = deduplicate(&table, keep, skipped);
        if self.server_count() == 1 {
            // Every key goes to the one server (if it is not ejected).
            let routes = match unique.first() {
                Some(&first) => vec![(self.route(table.key(first as usize))?, unique)],
                None => Vec::new(),
            };
            return Ok(BatchKeys {
                table,
                routes,
                duplicates,
            });
        }
        let mut per_server = vec![Vec::new(); self.server_count()];
        for item in unique {
            let server = self.route(table.key(item as usize))?;
            if let Some(items) = per_server.get_mut(server) {
                items.push(item);
            }
        }
        let routes = per_server
            .into_iter()
            .enumerate()
            .filter(|(_, items)| !items.is_empty())
            .collect();
        Ok(BatchKeys {
            table,
            routes,
            duplicates,
        })
    }
}

/// The items to send (non-empty keys in caller order; each distinct key
/// once unless `keep` is `All`) and the caller keys that repeat one of them.
/// `skipped`: whether the table holds empty keys (skipped, not sent).
fn deduplicate(table: &KeyTable, keep: Keep, skipped: bool) -> (Vec<u32>, Vec<(u32, u32)>) {
    let mut unique = Vec::with_capacity(table.len());
    let mut duplicates = Vec::new();
    if table.len() < 2 || keep == Keep::All {
        if skipped {
            unique.extend((0..table.len() as u32).filter(|&i| !table.key(i as usize).is_empty()));
        } else {
            unique.extend(0..table.len() as u32);
        }
        return (unique, duplicates);
    }
    // Key bytes -> position in `unique`.
    let mut seen: FxHashMap<&[u8], usize> = FxHashMap::default();
    seen.reserve(table.len());
    for item in 0..table.len() as u32 {
        let key = table.key(item as usize);
        if key.is_empty() {
            continue;
        }
        match seen.entry(key) {
            Entry::Vacant(vacant) => {
                vacant.insert(unique.len());
                unique.push(item);
            }
            Entry::Occupied(occupied) => {
                if let Some(&sent) = unique.get(*occupied.get()) {
                    duplicates.push((item, sent));
                }
            }
        }
    }
    (unique, duplicates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(keys: &[&str]) -> KeyTable {
        let mut t = KeyTable::default();
        for k in keys {
            t.push(b"", k.as_bytes());
        }
        t
    }

    #[test]
    fn binary_keys_pass_and_strict_keys_take_printable_ascii_only() {
        assert_eq!(check(b"a b\n\0c", false), Ok(()));
        assert_eq!(check(b"a b", true), Err(KeyError::Unsafe(b' ')));
        assert_eq!(check(b"a\x7f", true), Err(KeyError::Unsafe(0x7f)));
        assert_eq!(check(b"a~!", true), Ok(()));
        // libmemcached's verify_key refuses UTF-8 too (C's isgraph).
        assert_eq!(check("ключ".as_bytes(), true), Err(KeyError::Unsafe(0xd0)));
        assert_eq!(check("ключ".as_bytes(), false), Ok(()));
    }

    #[test]
    fn a_batch_checks_prefixed_keys_as_the_joined_key_is_checked() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"", b"k"),
            (b"p:", b"k"),
            (b"p:", &[b'k'; 248]),
            (b"p:", &[b'k'; 249]),
            (b"a b", b"c\x7f"),
            (b"ab", b"c d"),
            (b"a\nb", &[b'k'; 250]),
        ];
        for (prefix, key) in cases {
            let joined = [prefix, key].concat();
            for strict in [false, true] {
                assert_eq!(
                    PrefixedCheck::new(prefix, strict).check(key),
                    check(&joined, strict),
                    "{joined:?}, strict {strict}"
                );
            }
        }
    }

    #[test]
    fn empty_and_251_byte_keys_fail_and_250_passes() {
        assert_eq!(check(b"", false), Err(KeyError::Empty));
        assert_eq!(check(&[b'k'; 250], false), Ok(()));
        assert_eq!(check(&[b'k'; 251], false), Err(KeyError::TooLong(251)));
    }

    #[test]
    fn reads_and_stores_send_every_copy_and_deletes_the_first() {
        let t = table(&["a", "b", "a", "", "a"]);
        let (unique, dups) = deduplicate(&t, Keep::First, true);
        assert_eq!(unique, vec![0, 1]);
        assert_eq!(dups, vec![(2, 0), (4, 0)]);
        let (unique, dups) = deduplicate(&t, Keep::All, true);
        assert_eq!(unique, vec![0, 1, 2, 4]);
        assert!(dups.is_empty());
        let (unique, _) = deduplicate(&table(&["a", "b", "a"]), Keep::All, false);
        assert_eq!(unique, vec![0, 1, 2]);
    }
}
