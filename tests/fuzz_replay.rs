//! Replays every fuzz seed (`fuzz/corpus/<target>/`) and every kept crash
//! (`fuzz/regressions/<target>/`) through the fuzz targets' own code, so
//! they run on every `cargo test`, without cargo-fuzz or a nightly compiler.

#[path = "../fuzz/targets/mod.rs"]
mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

// The targets assert that decoding allocates nothing and decompression
// stays within its bound; that needs the counting allocator.
#[global_allocator]
static ALLOCATOR: targets::CountingAlloc = targets::CountingAlloc;

/// The input files of a folder, sorted (READMEs and dotfiles are not inputs).
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable folder").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            path.is_file() && !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

/// Runs `target` on every seed and regression input, naming each that fails.
fn replay(target: &str, run: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let seeds = inputs(&fuzz.join("corpus").join(target));
    assert!(!seeds.is_empty(), "no seeds in fuzz/corpus/{target}");
    let regressions = inputs(&fuzz.join("regressions").join(target));
    let mut failed = Vec::new();
    for path in seeds.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("a readable input");
        if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(failed.is_empty(), "{target} fails on {failed:#?}");
}

#[test]
fn decode_seeds_and_regressions() {
    replay("decode", targets::decode);
}

#[test]
fn roundtrip_seeds_and_regressions() {
    replay("roundtrip", targets::roundtrip);
}

#[test]
fn chunked_seeds_and_regressions() {
    replay("chunked", targets::chunked);
}

#[test]
fn batch_seeds_and_regressions() {
    replay("batch", targets::batch);
}

#[test]
fn batch_machine_seeds_and_regressions() {
    replay("batch_machine", targets::batch_machine);
}

#[test]
fn commands_seeds_and_regressions() {
    replay("commands", targets::commands);
}

#[test]
fn mux_seeds_and_regressions() {
    replay("mux", targets::mux);
}

#[test]
fn text_seeds_and_regressions() {
    replay("text", targets::text);
}

#[test]
fn value_seeds_and_regressions() {
    replay("value", targets::value);
}

/// The hand-written seeds are in the corpus (as `hand.*`, written by
/// `tests/capture_corpus.rs`); this runs them as the code builds them today,
/// so a change to a target's input format shows here first.
#[test]
fn handwritten_seeds_as_built_today() {
    fn run(target: &str, seeds: targets::seeds::Seeds, body: fn(&[u8])) {
        for (name, data) in seeds {
            let ok = catch_unwind(AssertUnwindSafe(|| body(&data))).is_ok();
            assert!(ok, "{target} fails on its hand-written seed {name}");
        }
    }
    run("commands", targets::seeds::commands(), targets::commands);
    run(
        "batch_machine",
        targets::seeds::batch_machine(),
        targets::batch_machine,
    );
    run("text", targets::seeds::text(), targets::text);
    run("mux", targets::seeds::mux(), targets::mux);
}

#[test]
fn compression_bombs_are_cut_off_at_the_limit() {
    targets::check_bombs();
}

#[test]
fn the_counting_allocator_is_installed() {
    let (_, usage) = targets::measure(|| vec![0u8; 1000]);
    let usage = usage.expect("the counting allocator measures");
    assert_eq!(usage.allocations, 1);
    assert!(usage.peak >= 1000);
}
