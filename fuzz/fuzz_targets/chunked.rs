//! A valid stream of responses split at arbitrary points decodes, through a connection-style read buffer, to the same frames.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::chunked(data));
