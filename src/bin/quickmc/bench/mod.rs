//! `quickmc bench`: a load generator built on the client.
//!
//! A run reads top to bottom in [`run`]: check the arguments, prefill,
//! start the workers, watch the clock, gather the tallies, print.

mod args;
mod monitor;
mod summary;
mod verify;
mod worker;

use std::sync::Arc;

use quickmc::Client;

pub use args::{BenchArgs, Mode, memory_mb};
use summary::Results;
use worker::Shared;

use crate::outcome::Outcome;
use crate::output::Failure;

/// Runs the benchmark; a verify mismatch is a miss (exit 1).
pub fn run(
    client: Client,
    servers: &[String],
    args: BenchArgs,
    json: bool,
) -> Result<Outcome, Failure> {
    args.check()?;
    if args.prefill {
        prefill(&client, &args);
    }
    let shared = Arc::new(Shared::new(args.clone()));
    let workers = worker::spawn(&client, &shared);
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
fn prefill(client: &Client, args: &BenchArgs) {
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
            .zip(values.iter().map(|v| &v[..]));
        // A prefill is best effort: what failed to store shows as misses.
        let _ = client.set_multi(items, "", 0);
    }
}
