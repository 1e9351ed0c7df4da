//! Key checks made before any I/O.

use crate::KeyError;
use crate::protocol::MAX_KEY_LEN;

/// Checks a key (prefix included) the way memcached and, with `strict`,
/// an ASCII-protocol client would.
pub(crate) fn check(key: &[u8], strict: bool) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong(key.len()));
    }
    if strict {
        if let Some(&byte) = key.iter().find(|&&b| b <= b' ' || b == 0x7f) {
            return Err(KeyError::Unsafe(byte));
        }
    }
    Ok(())
}

/// Writes `prefix + key` into `out` (cleared first) and checks the result.
pub(crate) fn prefixed<'o>(
    prefix: &[u8],
    key: &[u8],
    strict: bool,
    out: &'o mut Vec<u8>,
) -> Result<&'o [u8], KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    out.clear();
    out.extend_from_slice(prefix);
    out.extend_from_slice(key);
    check(out, strict)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_keys_with_nul_space_and_newline_pass_unless_strict() {
        assert_eq!(check(b"a b\n\0c", false), Ok(()));
        assert_eq!(check(b"a b", true), Err(KeyError::Unsafe(b' ')));
        assert_eq!(check(b"a\x7f", true), Err(KeyError::Unsafe(0x7f)));
        assert_eq!(check("ключ".as_bytes(), true), Ok(()));
    }

    #[test]
    fn empty_and_251_byte_keys_fail_and_250_passes() {
        assert_eq!(check(b"", false), Err(KeyError::Empty));
        assert_eq!(check(&[b'k'; 250], false), Ok(()));
        assert_eq!(check(&[b'k'; 251], false), Err(KeyError::TooLong(251)));
    }

    #[test]
    fn the_prefix_counts_towards_the_limit_and_an_empty_key_fails_even_with_a_prefix() {
        let mut buf = Vec::new();
        assert_eq!(prefixed(b"p:", b"k", false, &mut buf), Ok(&b"p:k"[..]));
        assert_eq!(prefixed(b"p:", b"", false, &mut buf), Err(KeyError::Empty));
        assert_eq!(
            prefixed(&[b'p'; 200], &[b'k'; 51], false, &mut buf),
            Err(KeyError::TooLong(251))
        );
    }
}
