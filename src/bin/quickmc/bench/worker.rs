//! The workers: each picks keys, runs gets and sets through the shared
//! client, and tallies what happened while measuring. A worker is a thread
//! for the blocking client, a task for the async one (all on one tokio
//! runtime); the loop is the same.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use quickmc::Error;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Zipf};

use super::args::{BenchArgs, KeyDistribution};
use super::target::Target;
use super::verify::{self, Check};
use crate::output::Failure;

/// What the workers and the monitor share.
pub struct Shared {
    pub args: BenchArgs,
    pub measuring: AtomicBool,
    pub stop: AtomicBool,
    /// Operations left to measure, with --ops.
    pub budget: Option<AtomicU64>,
    /// Operations done, warm-up included (for the live rate).
    pub progress: AtomicU64,
}

impl Shared {
    pub fn new(args: BenchArgs) -> Shared {
        Shared {
            budget: args.ops.map(AtomicU64::new),
            measuring: AtomicBool::new(args.warmup == 0),
            stop: AtomicBool::new(false),
            progress: AtomicU64::new(0),
            args,
        }
    }
}

/// Counts of what happened while measuring.
#[derive(Default)]
pub struct Tally {
    pub calls: u64,
    pub gets: u64,
    pub sets: u64,
    pub hits: u64,
    pub keys: u64,
    pub mismatches: u64,
    /// Values read that the verifier did not write (not judged).
    pub foreign: u64,
    pub errors: BTreeMap<&'static str, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.calls += other.calls;
        self.gets += other.gets;
        self.sets += other.sets;
        self.hits += other.hits;
        self.keys += other.keys;
        self.mismatches += other.mismatches;
        self.foreign += other.foreign;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }
}

/// A histogram of latencies in microseconds, up to an hour.
pub fn new_histogram() -> Histogram<u64> {
    // Constant, valid bounds: this cannot fail.
    Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).expect("histogram bounds")
}

/// What a worker measured.
pub type Measured = (Tally, Histogram<u64>);

/// A thread running workers (one, or every task of the async client).
pub type WorkerThread = JoinHandle<Result<Vec<Measured>, String>>;

/// Starts `--concurrency` workers: threads for the blocking client, tasks
/// on one multi-threaded runtime (a worker thread per core) for the async one.
pub fn spawn(target: &Target, shared: &Arc<Shared>) -> Vec<WorkerThread> {
    let worker = |t: usize| Worker::new(target.clone(), shared.clone(), 0x5eed_0000 + t as u64);
    match target {
        Target::Blocking(_) => (0..shared.args.concurrency)
            .map(|t| {
                let worker = worker(t);
                std::thread::spawn(move || Ok(vec![runtime(false)?.block_on(worker.run())]))
            })
            .collect(),
        Target::Async(_) => {
            let workers: Vec<Worker> = (0..shared.args.concurrency).map(worker).collect();
            vec![std::thread::spawn(move || {
                runtime(true)?.block_on(async move {
                    let tasks: Vec<_> =
                        workers.into_iter().map(|w| tokio::spawn(w.run())).collect();
                    let mut measured = Vec::with_capacity(tasks.len());
                    for task in tasks {
                        measured.push(task.await.map_err(|e| e.to_string())?);
                    }
                    Ok(measured)
                })
            })]
        }
    }
}

/// A runtime to run workers on: the current thread only (blocking
/// workers, whose calls never wait on it), or a worker thread per core.
fn runtime(multi_threaded: bool) -> Result<tokio::runtime::Runtime, String> {
    let mut builder = if multi_threaded {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| format!("starting a tokio runtime: {e}"))
}

/// Waits for the workers and adds up their tallies and latencies.
pub fn join(workers: Vec<WorkerThread>) -> Result<Measured, Failure> {
    let mut tally = Tally::default();
    let mut latency = new_histogram();
    for thread in workers {
        let measured = thread.join().map_err(|_| "a benchmark worker panicked")??;
        for (t, l) in measured {
            tally.merge(t);
            latency
                .add(&l)
                .map_err(|e| format!("merging histograms: {e}"))?;
        }
    }
    Ok((tally, latency))
}

/// What one operation did.
#[derive(Default)]
struct Done {
    hits: u64,
    mismatches: u64,
    foreign: u64,
    errors: Vec<Error>,
}

struct Worker {
    client: Target,
    shared: Arc<Shared>,
    rng: SmallRng,
    zipf: Option<Zipf<f64>>,
    /// The value of a plain (unverified) set.
    fixed: Vec<u8>,
    keys: Vec<String>,
    tally: Tally,
    latency: Histogram<u64>,
}

impl Worker {
    fn new(client: Target, shared: Arc<Shared>, seed: u64) -> Worker {
        let args = &shared.args;
        let zipf = match args.key_distribution {
            KeyDistribution::Zipf => Zipf::new(args.keys as f64, args.zipf_exponent).ok(),
            KeyDistribution::Uniform => None,
        };
        Worker {
            rng: SmallRng::seed_from_u64(seed),
            zipf,
            fixed: vec![b'x'; args.value_size],
            keys: Vec::with_capacity(args.batch),
            tally: Tally::default(),
            latency: new_histogram(),
            client,
            shared,
        }
    }

    async fn run(mut self) -> Measured {
        while !self.shared.stop.load(Ordering::Relaxed) {
            let measuring = self.shared.measuring.load(Ordering::Relaxed);
            if measuring && !self.take_from_budget() {
                break;
            }
            self.pick_keys();
            let is_get = self.pick_get();
            let start = Instant::now();
            let done = if is_get {
                self.get().await
            } else {
                self.set().await
            };
            let elapsed = start.elapsed();
            self.shared.progress.fetch_add(1, Ordering::Relaxed);
            if measuring {
                self.record(is_get, &done, elapsed);
            }
            if !done.errors.is_empty() {
                // A failing server answers fast; do not spin on it.
                self.client.pause(Duration::from_millis(1)).await;
            }
        }
        (self.tally, self.latency)
    }

    /// With --ops, takes one operation from the budget; false when it is spent.
    fn take_from_budget(&self) -> bool {
        match &self.shared.budget {
            None => true,
            Some(budget) => budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                .is_ok(),
        }
    }

    fn pick_keys(&mut self) {
        self.keys.clear();
        for _ in 0..self.shared.args.batch {
            let n = match &self.zipf {
                Some(zipf) => (zipf.sample(&mut self.rng) as u64).saturating_sub(1),
                None => self.rng.random_range(0..self.shared.args.keys),
            };
            self.keys.push(self.shared.args.key(n));
        }
    }

    fn pick_get(&mut self) -> bool {
        let ratio = self.shared.args.ratio;
        self.rng.random_range(0..ratio.get + ratio.set) < ratio.get
    }

    async fn get(&self) -> Done {
        let mut done = Done::default();
        if let [key] = &self.keys[..] {
            match self.client.get(key).await {
                Ok(Some(value)) => self.judge(key, &value, &mut done),
                Ok(None) => {}
                Err(e) => done.errors.push(e),
            }
            return done;
        }
        match self.client.get_multi_report(&self.keys).await {
            Ok((found, report)) => {
                // Per key asked, so a key drawn twice in one batch (one
                // entry in `found`) is two hits, as the hit rate counts it.
                for key in &self.keys {
                    if let Some(value) = found.get(key.as_str()) {
                        self.judge(key, value, &mut done);
                    }
                }
                done.errors
                    .extend(report.failures.into_iter().map(|f| f.error));
                done.errors
                    .extend(report.server_errors.into_iter().map(|f| f.error));
            }
            Err(e) => done.errors.push(e),
        }
        done
    }

    /// Counts a hit and, with --verify, what the value turned out to be.
    fn judge(&self, key: &str, value: &[u8], done: &mut Done) {
        done.hits += 1;
        if !self.shared.args.verify {
            return;
        }
        match verify::check(key.as_bytes(), value) {
            Check::Good => {}
            Check::Mismatch => done.mismatches += 1,
            Check::Foreign => done.foreign += 1,
        }
    }

    fn value_for(&self, key: &str) -> Vec<u8> {
        if self.shared.args.verify {
            verify::value_of(key.as_bytes(), self.shared.args.value_size)
        } else {
            self.fixed.clone()
        }
    }

    async fn set(&self) -> Done {
        let mut done = Done::default();
        if let [key] = &self.keys[..] {
            if let Err(e) = self.client.set(key, &self.value_for(key)).await {
                done.errors.push(e);
            }
            return done;
        }
        let values: Vec<Vec<u8>> = self.keys.iter().map(|k| self.value_for(k)).collect();
        let items = self
            .keys
            .iter()
            .map(String::as_str)
            .zip(values.iter().map(|v| &v[..]))
            .collect();
        match self.client.set_multi_report(items).await {
            Ok(report) => done
                .errors
                .extend(report.failures.into_iter().map(|f| f.error)),
            Err(e) => done.errors.push(e),
        }
        done
    }

    fn record(&mut self, is_get: bool, done: &Done, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        // Saturates at the histogram's hour rather than failing.
        let _ = self.latency.record(micros.max(1));
        let tally = &mut self.tally;
        tally.calls += 1;
        tally.keys += self.keys.len() as u64;
        if is_get {
            tally.gets += 1;
        } else {
            tally.sets += 1;
        }
        tally.hits += done.hits;
        tally.mismatches += done.mismatches;
        tally.foreign += done.foreign;
        for e in &done.errors {
            *tally.errors.entry(kind_of(e)).or_default() += 1;
        }
    }
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
        Error::HostLookup { .. } => "host_lookup",
        Error::Tls { .. } => "tls",
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
