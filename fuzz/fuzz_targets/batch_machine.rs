//! The command layer's batch state machine driven by arbitrary budgets and replies (honest and hostile), checked against an independent model.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::batch_machine(data));
