//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries
//! (`fuzz/fuzz_targets/*.rs`, through the `quickmc-fuzz` library) and by
//! `tests/fuzz_replay.rs`, which replays every seed and regression input
//! through exactly this code under a plain `cargo test`.
//!
//! One file per target; what several share is apart:
//!
//! - [`input`]: every target takes raw bytes. Structured inputs (a request,
//!   a batch of replies, a value and its flags) are built from those bytes
//!   by the small [`Reader`] rather than by `arbitrary`, so that the replay
//!   test reads an input exactly as the fuzzer did without quickmc depending
//!   on `arbitrary`; [`Writer`] is its inverse, used to turn captured
//!   traffic into seeds.
//! - [`alloc`]: allocation is measured by [`CountingAlloc`] when a binary
//!   installs it as its global allocator (the fuzz library and the replay
//!   test both do).
//! - [`commands_model`], [`batch_model`] and [`mux_model`]: what the
//!   command layer's documentation says each command, a batch and the
//!   multiplexer of a shared connection must do, which the `commands`,
//!   `batch_machine` and `mux` targets check the code against.
//! - [`seeds`]: hand-written seeds, built with the targets' own writers.
// Each includer (the fuzz library, the replay and capture tests) uses only
// part of this: what one leaves unused is not dead.
#![allow(dead_code, unused_imports)]

pub mod alloc;
pub mod input;

pub mod batch;
pub mod batch_machine;
pub mod batch_model;
pub mod chunked;
pub mod commands;
pub mod commands_model;
pub mod decode;
pub mod mux;
pub mod mux_model;
pub mod roundtrip;
pub mod seeds;
pub mod text;
pub mod value;

pub use alloc::{CountingAlloc, Usage, measure};
pub use batch::{batch, write_batch_header, write_batch_reply};
pub use batch_machine::batch_machine;
pub use chunked::{chunked, write_chunked};
pub use commands::commands;
pub use decode::decode;
pub use input::{Reader, Writer, write_request, write_response};
pub use mux::mux;
pub use roundtrip::roundtrip;
pub use text::text;
pub use value::{check_bombs, value, write_value};

/// The maximum body the decode, roundtrip and chunked targets allow (a
/// connection's `max_body`).
pub const MAX_BODY: u32 = 1 << 20;
