//! Arbitrary replies to an arbitrary quiet batch: the matcher gives a typed error or a correct match, never a reply matched to the wrong request or key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::batch(data));
