//! Arbitrary requests and responses encode and decode back to themselves; refused requests leave the buffer untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::roundtrip(data));
