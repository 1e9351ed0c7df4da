//! The text-protocol line decoder, metadump parser and stats encoder on arbitrary bytes: no panic, lines within limits, escapes round-trip, framing kept.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::text(data));
