//! What `quickmc bench` is asked to do.

use std::str::FromStr;

use clap::builder::RangedU64ValueParser;
use clap::{Args, ValueEnum};

use super::verify;
use crate::output::Failure;

#[derive(Args, Clone)]
pub struct BenchArgs {
    /// How the client runs: pooled (a connection per caller from each
    /// server's pool), pipelined (threads share a few connections per
    /// server, their requests coalesced), async (the tokio client: tasks
    /// share a few connections per server).
    #[arg(long, value_enum, default_value_t = Mode::Pooled)]
    pub mode: Mode,
    /// Concurrent callers sharing one client, as a service's workers
    /// would: threads, or tasks with --mode async.
    #[arg(long, visible_alias = "threads", default_value_t = 4, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub concurrency: usize,
    /// Size of the key space.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
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
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub batch: usize,
    /// Seconds to measure (ignored with --ops).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub duration: u64,
    /// Operations to measure (all threads together), instead of a duration.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub ops: Option<u64>,
    /// Seconds of warm-up before measuring.
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,
    /// Store every key once before starting (with values --verify can check).
    #[arg(long)]
    pub prefill: bool,
    /// Store values derived from their keys, marked as the verifier's own,
    /// and check every such value read: mismatches are counted (exit 1).
    /// Values it did not write are counted apart, never as mismatches.
    #[arg(long)]
    pub verify: bool,
    /// Prefix of the benchmark's keys.
    #[arg(long, default_value = "quickmc-bench:")]
    pub key_prefix: String,
    /// No progress bar (a summary only).
    #[arg(long)]
    pub quiet: bool,
}

/// How the benchmarked client runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// A pool of connections per server; each caller checks one out.
    Pooled,
    /// A few connections per server shared by every thread.
    Pipelined,
    /// The async client: a few connections per server shared by every task.
    Async,
}

impl BenchArgs {
    /// Refuses combinations clap cannot see.
    pub fn check(&self) -> Result<(), Failure> {
        if self.verify && self.value_size < verify::MIN_VALUE_SIZE {
            return Err(format!(
                "--verify needs --value-size of at least {} (a mark and the key fill each value)",
                verify::MIN_VALUE_SIZE
            )
            .into());
        }
        Ok(())
    }

    /// The key of key number `n`.
    pub fn key(&self, n: u64) -> String {
        format!("{}{n}", self.key_prefix)
    }
}

/// Memory for a throwaway memcached: enough for the key space, within 64 MiB..4 GiB.
pub fn memory_mb(args: &BenchArgs) -> u32 {
    let per_item = args.value_size as u64 + 80;
    let mb = args.keys.saturating_mul(per_item) >> 20;
    u32::try_from(mb.clamp(64, 4096)).unwrap_or(4096)
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum KeyDistribution {
    Uniform,
    Zipf,
}

#[derive(Clone, Copy, Debug)]
pub struct Ratio {
    pub get: u32,
    pub set: u32,
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
        if get.checked_add(set).is_none_or(|total| total == 0) {
            return Err("the ratio needs a non-zero share, in all under 2^32".into());
        }
        Ok(Ratio { get, set })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_parse_and_refuse_nonsense() {
        assert!(matches!(
            "9:1".parse::<Ratio>(),
            Ok(Ratio { get: 9, set: 1 })
        ));
        assert!("0:0".parse::<Ratio>().is_err());
        assert!("x".parse::<Ratio>().is_err());
        assert!("4294967295:1".parse::<Ratio>().is_err());
    }
}
