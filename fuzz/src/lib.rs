//! The fuzz targets' bodies, shared with `tests/fuzz_replay.rs`.
//!
//! Each binary in `fuzz_targets/` hands libFuzzer's input to one function
//! of [`targets`]; the replay test calls the same functions on every seed
//! and regression input.

#[path = "../targets/mod.rs"]
pub mod targets;

/// Counts allocations so the targets can assert the decoder makes none
/// and decompression stays within its bound.
#[global_allocator]
static ALLOCATOR: targets::CountingAlloc = targets::CountingAlloc;
