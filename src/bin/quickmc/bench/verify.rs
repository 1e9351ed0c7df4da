//! `--verify`: values derived from their keys, so a value read back can
//! be checked against the key it was read under.

/// The value stored under `key` when verifying: the key's bytes and `|`
/// repeated to `size`.
pub fn value_of(key: &[u8], size: usize) -> Vec<u8> {
    let mut value = Vec::with_capacity(size);
    while value.len() < size {
        let take = (size - value.len()).min(key.len() + 1);
        value.extend(key.iter().chain(b"|").take(take));
    }
    value
}

/// Whether `value` is the one derived from `key`.
pub fn matches(key: &[u8], value: &[u8], size: usize) -> bool {
    value == value_of(key, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_derived_from_keys_have_the_requested_size() {
        assert_eq!(value_of(b"ab", 7), b"ab|ab|a".to_vec());
        assert_eq!(value_of(b"k", 0), Vec::<u8>::new());
        assert!(matches(b"ab", b"ab|ab|a", 7));
    }
}
