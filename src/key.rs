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
    if strict && let Some(&byte) = key.iter().find(|&&b| b <= b' ' || b == 0x7f) {
        return Err(KeyError::Unsafe(byte));
    }
    Ok(())
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
}
