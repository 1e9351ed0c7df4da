//! `quickmc bench`: a load generator built on the client.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use quickmc::{Client, Error};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};

use crate::output::{table, thousands};

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// Worker threads (each shares one client, as a service's workers would).
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Connections per server (default: one per thread).
    #[arg(long)]
    pub connections: Option<u32>,
    /// Size of the key space.
    #[arg(long, default_value_t = 100_000)]
    pub keys: u64,
    /// How keys are picked: uniform or zipf (a few keys get most traffic).
    #[arg(long, value_enum, default_value_t = KeyDistribution::Uniform)]
    pub key_distribution: KeyDistribution,
    /// The zipf exponent.
    #[arg(long, default_value_t = 0.99)]
    pub zipf_exponent: f64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// GET:SET ratio, e.g. 9:1, 1:0 (gets only), 0:1 (sets only).
    #[arg(long, default_value = "9:1")]
    pub ratio: Ratio,
    /// Keys per operation: 1 uses get/set, more uses get_multi/set_multi batches.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Seconds to measure (ignored with --ops).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Operations to measure (all threads together), instead of a duration.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,
    /// Store every key once before starting.
    #[arg(long)]
    pub prefill: bool,
    /// Derive every value from its key and check every value read: mismatches are counted.
    #[arg(long)]
    pub verify: bool,
    /// Prefix of the benchmark's keys.
    #[arg(long, default_value = "quickmc-bench:")]
    pub key_prefix: String,
    /// No progress bar (a summary only).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum KeyDistribution {
    Uniform,
    Zipf,
}

#[derive(Clone, Copy, Debug)]
pub struct Ratio {
    get: u32,
    set: u32,
}

impl FromStr for Ratio {
    type Err = String;

    fn from_str(s: &str) -> Result<Ratio, String> {
        let (g, st) = s.split_once(':').ok_or("the ratio is GET:SET, e.g. 9:1")?;
        let get: u32 = g
            .trim()
            .parse()
            .map_err(|_| format!("bad GET share {g:?}"))?;
        let set: u32 = st
            .trim()
            .parse()
            .map_err(|_| format!("bad SET share {st:?}"))?;
        if get + set == 0 {
            return Err("the ratio needs a non-zero share".into());
        }
        Ok(Ratio { get, set })
    }
}

/// The value stored under `key` when verifying: the key's bytes repeated to `size`.
fn value_of(key: &[u8], size: usize) -> Vec<u8> {
    let mut value = Vec::with_capacity(size);
    while value.len() < size {
        let take = (size - value.len()).min(key.len() + 1);
        value.extend(key.iter().chain(b"|").take(take));
    }
    value
}

fn kind_of(error: &Error) -> &'static str {
    match error {
        Error::NotFound => "not_found",
        Error::Exists => "exists",
        Error::NotStored => "not_stored",
        Error::TooLarge => "too_large",
        Error::NonNumeric => "non_numeric",
        Error::BadKey(_) => "bad_key",
        Error::ServerDown { .. } => "server_down",
        Error::NoServers => "no_servers",
        Error::Connect { .. } => "connect",
        Error::Io { .. } => "io",
        Error::Timeout { .. } => "timeout",
        Error::Protocol { .. } => "protocol",
        Error::Server { .. } => "server",
        Error::Serialize(_) | Error::Deserialize { .. } => "serialization",
        Error::Compression { .. } => "compression",
        Error::PoolTimeout { .. } => "pool_timeout",
        Error::Auth(_) => "auth",
        Error::Config(_) => "config",
        _ => "other",
    }
}

struct Shared {
    args: BenchArgs,
    measuring: AtomicBool,
    stop: AtomicBool,
    /// Operations left to measure, with --ops.
    budget: Option<AtomicU64>,
    progress: AtomicU64,
}

#[derive(Default)]
struct Tally {
    calls: u64,
    gets: u64,
    sets: u64,
    hits: u64,
    keys: u64,
    mismatches: u64,
    errors: BTreeMap<&'static str, u64>,
}

struct WorkerResult {
    tally: Tally,
    latency: Histogram<u64>,
}

fn worker(client: Client, shared: Arc<Shared>, seed: u64) -> WorkerResult {
    let args = &shared.args;
    let mut rng = SmallRng::seed_from_u64(seed);
    let zipf = Zipf::new(args.keys.max(1) as f64, args.zipf_exponent).ok();
    let fixed = vec![b'x'; args.value_size];
    let mut tally = Tally::default();
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds");
    let mut keys: Vec<String> = Vec::with_capacity(args.batch);
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let measuring = shared.measuring.load(Ordering::Relaxed);
        if measuring
            && let Some(budget) = &shared.budget
            && budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                .is_err()
        {
            break;
        }
        keys.clear();
        for _ in 0..args.batch.max(1) {
            let n = match (args.key_distribution, &zipf) {
                (KeyDistribution::Zipf, Some(z)) => (z.sample(&mut rng) as u64).saturating_sub(1),
                _ => rng.random_range(0..args.keys.max(1)),
            };
            keys.push(format!("{}{n}", args.key_prefix));
        }
        let is_get = rng.random_range(0..args.ratio.get + args.ratio.set) < args.ratio.get;
        let start = Instant::now();
        let mut errors: Vec<Error> = Vec::new();
        let mut hits = 0;
        let mut mismatches = 0;
        if is_get {
            if keys.len() == 1 {
                match client.get::<Vec<u8>>(&keys[0]) {
                    Ok(Some(v)) => {
                        hits += 1;
                        if args.verify && v != value_of(keys[0].as_bytes(), args.value_size) {
                            mismatches += 1;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            } else {
                match client.get_multi_report::<_, Vec<u8>>(keys.iter().map(String::as_str), "") {
                    Ok((found, report)) => {
                        hits += found.len() as u64;
                        if args.verify {
                            mismatches += found
                                .iter()
                                .filter(|(k, v)| **v != value_of(k.as_bytes(), args.value_size))
                                .count() as u64;
                        }
                        errors.extend(report.failures.into_iter().map(|f| f.error));
                        errors.extend(report.server_errors.into_iter().map(|f| f.error));
                    }
                    Err(e) => errors.push(e),
                }
            }
        } else if keys.len() == 1 {
            let value = if args.verify {
                value_of(keys[0].as_bytes(), args.value_size)
            } else {
                fixed.clone()
            };
            if let Err(e) = client.set(&keys[0], &value[..], 0) {
                errors.push(e);
            }
        } else {
            let values: Vec<Vec<u8>> = keys
                .iter()
                .map(|k| {
                    if args.verify {
                        value_of(k.as_bytes(), args.value_size)
                    } else {
                        fixed.clone()
                    }
                })
                .collect();
            match client.set_multi_report(
                keys.iter()
                    .map(String::as_str)
                    .zip(values.iter().map(|v| &v[..])),
                "",
                0,
            ) {
                Ok(report) => {
                    errors.extend(report.failures.into_iter().map(|f| f.error));
                }
                Err(e) => errors.push(e),
            }
        }
        let elapsed = start.elapsed();
        shared.progress.fetch_add(1, Ordering::Relaxed);
        if measuring {
            let _ = latency.record((elapsed.as_micros() as u64).max(1));
            tally.calls += 1;
            tally.keys += keys.len() as u64;
            if is_get {
                tally.gets += 1;
            } else {
                tally.sets += 1;
            }
            tally.hits += hits;
            tally.mismatches += mismatches;
            for e in &errors {
                *tally.errors.entry(kind_of(e)).or_default() += 1;
            }
        }
        if !errors.is_empty() {
            // A failing server answers fast; do not spin on it.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    WorkerResult { tally, latency }
}

fn prefill(client: &Client, args: &BenchArgs) {
    let chunk = 1000u64;
    let mut start = 0;
    while start < args.keys {
        let end = (start + chunk).min(args.keys);
        let keys: Vec<String> = (start..end)
            .map(|n| format!("{}{n}", args.key_prefix))
            .collect();
        let values: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| value_of(k.as_bytes(), args.value_size))
            .collect();
        let _ = client.set_multi(
            keys.iter()
                .map(String::as_str)
                .zip(values.iter().map(|v| &v[..])),
            "",
            0,
        );
        start = end;
    }
}

pub fn run(
    client: Client,
    servers: &[String],
    args: BenchArgs,
    json: bool,
) -> Result<bool, Box<dyn std::error::Error>> {
    if args.threads == 0 || args.batch == 0 {
        return Err("--threads and --batch must be at least 1".into());
    }
    if args.prefill {
        prefill(&client, &args);
    }
    let shared = Arc::new(Shared {
        budget: args.ops.map(AtomicU64::new),
        args: args.clone(),
        measuring: AtomicBool::new(args.warmup == 0),
        stop: AtomicBool::new(false),
        progress: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..args.threads)
        .map(|t| {
            let client = client.clone();
            let shared = shared.clone();
            std::thread::spawn(move || worker(client, shared, 0x5eed_0000 + t as u64))
        })
        .collect();

    let show = !json && !args.quiet;
    let bar = if show {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("template"),
    );
    let warmup = Duration::from_secs(args.warmup);
    let started = Instant::now();
    let mut measure_start = if args.warmup == 0 {
        Some(started)
    } else {
        None
    };
    let mut last = (Instant::now(), 0u64);
    let duration = Duration::from_secs(args.duration);
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = Instant::now();
        if measure_start.is_none() && now.duration_since(started) >= warmup {
            shared.measuring.store(true, Ordering::SeqCst);
            measure_start = Some(now);
        }
        let done = shared.progress.load(Ordering::Relaxed);
        let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-9);
        last = (now, done);
        let phase = match measure_start {
            None => "warming up".to_string(),
            Some(m) => match args.ops {
                Some(total) => format!(
                    "measuring: {} of {} ops",
                    thousands(
                        total
                            - shared
                                .budget
                                .as_ref()
                                .map_or(0, |b| b.load(Ordering::Relaxed))
                    ),
                    thousands(total)
                ),
                None => format!(
                    "measuring: {:.0}/{} s",
                    now.duration_since(m).as_secs_f64(),
                    args.duration
                ),
            },
        };
        bar.set_message(format!("{phase} | {} ops/s", thousands(rate as u64)));
        bar.tick();
        let finished = match (measure_start, args.ops) {
            (Some(_), Some(_)) => workers.iter().all(|w| w.is_finished()),
            (Some(m), None) => now.duration_since(m) >= duration,
            (None, _) => false,
        };
        if finished {
            break;
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    let elapsed = measure_start.map_or(Duration::ZERO, |m| m.elapsed());
    bar.finish_and_clear();
    let mut tally = Tally::default();
    let mut latency =
        Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds");
    for w in workers {
        let r = w.join().map_err(|_| "a benchmark worker panicked")?;
        tally.calls += r.tally.calls;
        tally.gets += r.tally.gets;
        tally.sets += r.tally.sets;
        tally.hits += r.tally.hits;
        tally.keys += r.tally.keys;
        tally.mismatches += r.tally.mismatches;
        for (k, n) in r.tally.errors {
            *tally.errors.entry(k).or_default() += n;
        }
        latency
            .add(&r.latency)
            .map_err(|e| format!("merging histograms: {e}"))?;
    }
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let percentile = |q: f64| {
        if latency.is_empty() {
            0
        } else {
            latency.value_at_quantile(q)
        }
    };
    let get_keys = tally.gets * args.batch as u64;
    let hit_rate = if get_keys == 0 {
        0.0
    } else {
        tally.hits as f64 / get_keys as f64
    };
    let errors_total: u64 = tally.errors.values().sum();
    if json {
        crate::output::json(&serde_json::json!({
            "servers": servers,
            "threads": args.threads,
            "batch": args.batch,
            "value_size": args.value_size,
            "keys": args.keys,
            "key_distribution": format!("{:?}", args.key_distribution).to_lowercase(),
            "ratio": {"get": args.ratio.get, "set": args.ratio.set},
            "seconds": seconds,
            "operations": tally.calls,
            "keys_processed": tally.keys,
            "throughput": tally.calls as f64 / seconds,
            "keys_per_second": tally.keys as f64 / seconds,
            "gets": tally.gets,
            "sets": tally.sets,
            "hit_rate": hit_rate,
            "errors": tally.errors,
            "verify": args.verify,
            "verify_mismatches": tally.mismatches,
            "latency_us": {
                "p50": percentile(0.50),
                "p90": percentile(0.90),
                "p99": percentile(0.99),
                "p99_9": percentile(0.999),
                "max": latency.max(),
            },
        }));
    } else {
        println!(
            "quickmc bench: {} threads for {:.1} s against {} ({} server{}), {} keys ({}), {} B values, get:set {}:{}, batch {}",
            args.threads,
            seconds,
            servers.join(","),
            servers.len(),
            if servers.len() == 1 { "" } else { "s" },
            thousands(args.keys),
            format!("{:?}", args.key_distribution).to_lowercase(),
            args.value_size,
            args.ratio.get,
            args.ratio.set,
            args.batch
        );
        let mut rows = vec![
            vec![
                "operations".into(),
                thousands(tally.calls),
                format!("{} ops/s", thousands((tally.calls as f64 / seconds) as u64)),
            ],
            vec![
                "keys".into(),
                thousands(tally.keys),
                format!("{} keys/s", thousands((tally.keys as f64 / seconds) as u64)),
            ],
            vec![
                "gets / sets".into(),
                format!("{} / {}", thousands(tally.gets), thousands(tally.sets)),
                format!("hit rate {:.1}%", hit_rate * 100.0),
            ],
            vec![
                "errors".into(),
                thousands(errors_total),
                tally
                    .errors
                    .iter()
                    .map(|(k, n)| format!("{k} {}", thousands(*n)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ],
        ];
        if args.verify {
            rows.push(vec![
                "verify".into(),
                thousands(tally.mismatches),
                "mismatches".into(),
            ]);
        }
        rows.push(vec![
            "latency (µs)".into(),
            format!("p50 {}", thousands(percentile(0.50))),
            format!(
                "p90 {}  p99 {}  p99.9 {}  max {}",
                thousands(percentile(0.90)),
                thousands(percentile(0.99)),
                thousands(percentile(0.999)),
                thousands(latency.max())
            ),
        ]);
        table(&rows);
    }
    Ok(tally.mismatches == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_derived_from_keys_have_the_requested_size() {
        assert_eq!(value_of(b"ab", 7), b"ab|ab|a".to_vec());
        assert_eq!(value_of(b"k", 0), Vec::<u8>::new());
    }

    #[test]
    fn ratios_parse_and_refuse_nonsense() {
        assert!(matches!(
            "9:1".parse::<Ratio>(),
            Ok(Ratio { get: 9, set: 1 })
        ));
        assert!("0:0".parse::<Ratio>().is_err());
        assert!("x".parse::<Ratio>().is_err());
    }
}
