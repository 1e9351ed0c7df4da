//! `--verify`: values derived from their keys, marked as the verifier's
//! own, so a value read back can be judged.
//!
//! A plain bench (or anything else) may have written other bytes under the
//! same keys; those are not the verifier's to judge, so they are counted
//! apart ("foreign"), never as mismatches. A value carrying the mark is
//! checked: its own length must match the length the mark records, and its
//! body must be the one derived from the key it was read under, so another
//! key's value or a cut value is a mismatch.

/// The mark, followed by the value's length in decimal and `:`.
const MARK: &[u8] = b"quickmc-verify:";

/// Room for the mark, the length and some of the key.
pub const MIN_VALUE_SIZE: usize = 32;

/// The value stored under `key`: the mark, its length, then the key's
/// bytes and `|` repeated, `size` bytes in all.
pub fn value_of(key: &[u8], size: usize) -> Vec<u8> {
    let mut value = Vec::with_capacity(size.max(MARK.len() + 21));
    value.extend_from_slice(MARK);
    value.extend_from_slice(size.to_string().as_bytes());
    value.push(b':');
    while value.len() < size {
        let take = (size - value.len()).min(key.len() + 1);
        value.extend(key.iter().chain(b"|").take(take));
    }
    value.truncate(size);
    value
}

/// What a value read under a key turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The verifier's value for this key.
    Good,
    /// Marked as the verifier's, but not this key's value, or cut.
    Mismatch,
    /// Not written by the verifier: not judged.
    Foreign,
}

pub fn check(key: &[u8], value: &[u8]) -> Check {
    let Some(rest) = value.strip_prefix(MARK) else {
        return Check::Foreign;
    };
    let written_size = rest
        .split(|&b| b == b':')
        .next()
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .and_then(|digits| digits.parse::<usize>().ok());
    match written_size {
        // A verifier run with another --value-size wrote it: still checkable.
        Some(size) if size == value.len() && value == value_of(key, size) => Check::Good,
        _ => Check::Mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_derived_from_keys_have_the_requested_size_and_the_mark() {
        let value = value_of(b"ab", 40);
        assert_eq!(value.len(), 40);
        assert!(value.starts_with(b"quickmc-verify:40:ab|ab|"));
    }

    #[test]
    fn own_values_pass_and_others_are_foreign_or_mismatches() {
        let own = value_of(b"k1", 64);
        assert_eq!(check(b"k1", &own), Check::Good);
        assert_eq!(check(b"k1", &value_of(b"k1", 100)), Check::Good);
        assert_eq!(check(b"k1", &[b'x'; 64]), Check::Foreign);
        assert_eq!(check(b"k2", &own), Check::Mismatch);
        assert_eq!(check(b"k1", &own[..50]), Check::Mismatch);
    }
}
