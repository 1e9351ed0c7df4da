//! Keys as the tool takes them: checked before any I/O, with one message
//! for every command.
//!
//! The library keeps pylibmc's semantics (`get("")` is a miss, `set("")`
//! an error); on the command line an empty or oversized key is a typo
//! whatever the command, so the tool refuses it itself, the same way in
//! every command, before talking to any server.

use crate::output::Failure;

/// memcached's limit on a key's length, in bytes.
pub const MAX_KEY_LEN: usize = 250;

/// Refuses the first invalid key, naming it; nothing is sent when any is invalid.
pub fn check<'k>(keys: impl IntoIterator<Item = &'k str>) -> Result<(), Failure> {
    for key in keys {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(format!(
                "invalid key {}: {} bytes; a key is 1 to {MAX_KEY_LEN} bytes",
                shown(key),
                key.len()
            )
            .into());
        }
    }
    Ok(())
}

/// A key as people read it in a message: as typed when printable, quoted
/// and escaped otherwise, and cut short when long.
pub fn shown(key: &str) -> String {
    let printable = !key.is_empty() && !key.chars().any(|c| c.is_control() || c == ' ');
    let cut: String = key.chars().take(40).collect();
    let cut = if cut.len() < key.len() {
        format!("{cut}…")
    } else {
        cut
    };
    if printable { cut } else { format!("{cut:?}") }
}
