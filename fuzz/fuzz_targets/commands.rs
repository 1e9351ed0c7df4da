//! Every single command fed arbitrary reply frames through `Single`: no panic, outcomes only for the request's opaque and opcode, as documented; stats bounded; nothing accepted after the outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| quickmc_fuzz::targets::commands(data));
