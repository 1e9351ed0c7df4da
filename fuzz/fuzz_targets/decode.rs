//! Arbitrary bytes into the response and request decoders: no panic, no read past the input, no allocation, waits bounded by the maximum body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::decode(data));
