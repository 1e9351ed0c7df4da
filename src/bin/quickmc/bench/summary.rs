//! The run's results: a table for people, or one JSON object.

use hdrhistogram::Histogram;
use serde_json::json;

use super::args::BenchArgs;
use super::worker::Tally;
use crate::output::{self, Failure, table, thousands};

/// What a run measured.
pub struct Results {
    pub tally: Tally,
    pub latency: Histogram<u64>,
    pub seconds: f64,
}

impl Results {
    fn percentile(&self, q: f64) -> u64 {
        if self.latency.is_empty() {
            0
        } else {
            self.latency.value_at_quantile(q)
        }
    }

    fn hit_rate(&self, batch: usize) -> f64 {
        let get_keys = self.tally.gets * batch as u64;
        if get_keys == 0 {
            0.0
        } else {
            self.tally.hits as f64 / get_keys as f64
        }
    }

    fn per_second(&self, n: u64) -> f64 {
        n as f64 / self.seconds.max(1e-9)
    }
}

pub fn print(
    results: &Results,
    servers: &[String],
    args: &BenchArgs,
    json: bool,
) -> Result<(), Failure> {
    if json {
        print_json(results, servers, args)
    } else {
        print_text(results, servers, args)
    }
}

fn distribution_name(args: &BenchArgs) -> String {
    format!("{:?}", args.key_distribution).to_lowercase()
}

fn print_json(r: &Results, servers: &[String], args: &BenchArgs) -> Result<(), Failure> {
    let t = &r.tally;
    output::json(&json!({
        "servers": servers,
        "concurrency": args.concurrency,
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "batch": args.batch,
        "value_size": args.value_size,
        "keys": args.keys,
        "key_distribution": distribution_name(args),
        "ratio": {"get": args.ratio.get, "set": args.ratio.set},
        "seconds": r.seconds,
        "operations": t.calls,
        "keys_processed": t.keys,
        "throughput": r.per_second(t.calls),
        "keys_per_second": r.per_second(t.keys),
        "gets": t.gets,
        "sets": t.sets,
        "hit_rate": r.hit_rate(args.batch),
        "errors": t.errors,
        "verify": args.verify,
        "verify_mismatches": t.mismatches,
        "verify_foreign": t.foreign,
        "latency_us": {
            "p50": r.percentile(0.50),
            "p90": r.percentile(0.90),
            "p99": r.percentile(0.99),
            "p99_9": r.percentile(0.999),
            "max": r.latency.max(),
        },
    }))
}

fn print_text(r: &Results, servers: &[String], args: &BenchArgs) -> Result<(), Failure> {
    let t = &r.tally;
    say!(
        "quickmc bench: {} {} callers for {:.1} s against {} ({} server{}), {} keys ({}), {} B values, get:set {}:{}, batch {}",
        format!("{:?}", args.mode).to_lowercase(),
        args.concurrency,
        r.seconds,
        servers.join(","),
        servers.len(),
        if servers.len() == 1 { "" } else { "s" },
        thousands(args.keys),
        distribution_name(args),
        args.value_size,
        args.ratio.get,
        args.ratio.set,
        args.batch
    );
    let errors_total: u64 = t.errors.values().sum();
    let error_kinds: Vec<String> = t
        .errors
        .iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect();
    let mut rows = vec![
        vec![
            "operations".into(),
            thousands(t.calls),
            format!("{} ops/s", thousands(r.per_second(t.calls) as u64)),
        ],
        vec![
            "keys".into(),
            thousands(t.keys),
            format!("{} keys/s", thousands(r.per_second(t.keys) as u64)),
        ],
        vec![
            "gets / sets".into(),
            format!("{} / {}", thousands(t.gets), thousands(t.sets)),
            format!("hit rate {}", output::percent(r.hit_rate(args.batch))),
        ],
        vec![
            "errors".into(),
            thousands(errors_total),
            error_kinds.join(", "),
        ],
    ];
    if args.verify {
        rows.push(vec![
            "verify".into(),
            thousands(t.mismatches),
            format!(
                "mismatches; {} values not written by --verify (not judged)",
                thousands(t.foreign)
            ),
        ]);
    }
    rows.push(vec![
        "latency (µs)".into(),
        format!("p50 {}", thousands(r.percentile(0.50))),
        format!(
            "p90 {}  p99 {}  p99.9 {}  max {}",
            thousands(r.percentile(0.90)),
            thousands(r.percentile(0.99)),
            thousands(r.percentile(0.999)),
            thousands(r.latency.max())
        ),
    ]);
    table(&rows)
}
