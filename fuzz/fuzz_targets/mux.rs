//! The multiplexer of a shared connection driven by many callers' requests, partial writes, honest and hostile replies, callers giving up and breaks, checked against an independent model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::mux(data));
