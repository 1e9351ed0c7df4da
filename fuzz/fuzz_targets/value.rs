//! Arbitrary bytes and flags into the transcoder and every value type; compression bombs stop at the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::value(data));
