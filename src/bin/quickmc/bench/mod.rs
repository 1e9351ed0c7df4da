//! `quickmc bench`: a load generator built on the client.
//!
//! A run reads top to bottom in [`run`]: check the arguments, prefill,
//! start the workers, watch the clock, gather the tallies, print.

mod args;
mod monitor;
mod summary;
mod target;
mod verify;
mod worker;

use std::sync::Arc;

pub use args::{BenchArgs, Mode, memory_mb};
use summary::Results;
pub use target::Target;
use worker::Shared;

use crate::outcome::Outcome;
use crate::output::Failure;

/// Runs the benchmark; a verify mismatch is a miss (exit 1).
pub fn run(
    target: Target,
    servers: &[String],
    args: BenchArgs,
    json: bool,
) -> Result<Outcome, Failure> {
    args.check()?;
    if args.prefill {
        prefill(&target, &args)?;
    }
    let shared = Arc::new(Shared::new(args.clone()));
    let workers = worker::spawn(&target, &shared);
    let measured = monitor::watch(&shared, &workers, !json && !args.quiet);
    let (tally, latency) = worker::join(workers)?;
    let results = Results {
        tally,
        latency,
        seconds: measured.as_secs_f64(),
    };
    summary::print(&results, servers, &args, json)?;
    Ok(Outcome::from_all_ok(results.tally.mismatches == 0))
}

/// Stores every key once, 1,000 to a batch (with --verify, values it can check).
fn prefill(target: &Target, args: &BenchArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting a tokio runtime: {e}"))?;
    runtime.block_on(prefill_keys(target, args));
    Ok(())
}

async fn prefill_keys(target: &Target, args: &BenchArgs) {
    const CHUNK: u64 = 1000;
    for start in (0..args.keys).step_by(CHUNK as usize) {
        let end = (start + CHUNK).min(args.keys);
        let keys: Vec<String> = (start..end).map(|n| args.key(n)).collect();
        let values: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                if args.verify {
                    verify::value_of(k.as_bytes(), args.value_size)
                } else {
                    vec![b'x'; args.value_size]
                }
            })
            .collect();
        let items = keys
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(|v| &v[..]))
            .collect();
        // A prefill is best effort: what failed to store shows as misses.
        let _ = target.set_multi_report(items).await;
    }
}
