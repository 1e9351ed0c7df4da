//! quickmc against baselines, side by side in one run:
//! - `raw`: pre-encoded request bytes written to a socket with one write,
//!   the reply read into a reused buffer (the floor any client can reach);
//! - `memcache`: the `memcache` crate (binary protocol), where it has the operation;
//! - `quickmc`: the client, through its pool, as a service would use it.
//!
//! Every server is a real memcached on 127.0.0.1, started by the bench.
//! `scripts/bench.sh` runs this and prints the ratios.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use quickmc::protocol::{Extras, Opcode, Request};

/// One socket and a reused buffer: the raw baseline.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn connect(spec: &str) -> Raw {
        let stream = TcpStream::connect(spec).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: vec![0; 1 << 16],
        }
    }

    /// Writes `request` (one write) and reads replies until one with
    /// opcode `last` has arrived whole; returns the bytes read.
    fn exchange(&mut self, request: &[u8], last: u8) -> usize {
        self.stream.write_all(request).unwrap();
        let mut have = 0;
        let mut read = 0;
        loop {
            if scan(&mut self.buf, &mut have, last) {
                return read;
            }
            let n = self.stream.read(&mut self.buf[have..]).unwrap();
            assert!(n > 0, "server closed");
            have += n;
            read += n;
        }
    }
}

/// Walks the complete reply frames in `buf[..*have]`: true once one with
/// opcode `last` is whole. Otherwise drops the frames walked (moving the
/// partial one to the front, `*have` shrinking to match) and makes room
/// to read more.
fn scan(buf: &mut Vec<u8>, have: &mut usize, last: u8) -> bool {
    let mut frame_start = 0;
    while *have - frame_start >= 24 {
        let h = &buf[frame_start..];
        let body = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
        if *have - frame_start < 24 + body {
            break;
        }
        if h[1] == last {
            return true;
        }
        frame_start += 24 + body;
    }
    if frame_start > 0 {
        buf.copy_within(frame_start..*have, 0);
        *have -= frame_start;
    }
    if *have == buf.len() {
        buf.resize(buf.len() * 2, 0);
    }
    false
}

/// Per comparison, the summed time of quickmc's calls and of the raw calls
/// made alternately with them, in the same window.
static PAIRED: std::sync::Mutex<BTreeMap<String, (f64, f64)>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Times `timed`, running `other` before each call, so a pair of benchmarks
/// that name each other as `other` run under the same alternating load.
/// Both are timed; when `label` is given, the sums are kept and written to
/// target/criterion/paired.json, whose ratio (quickmc over raw, call by
/// call in one window) does not depend on what the machine did in one
/// benchmark's window and not in the next.
fn paired<T, O>(
    b: &mut criterion::Bencher<'_>,
    label: Option<&str>,
    mut timed: impl FnMut() -> T,
    mut other: impl FnMut() -> O,
) {
    b.iter_custom(|iters| {
        let (mut mine, mut theirs) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..iters {
            let start = Instant::now();
            std::hint::black_box(other());
            theirs += start.elapsed();
            let start = Instant::now();
            let out = timed();
            mine += start.elapsed();
            drop(std::hint::black_box(out));
        }
        if let Some(label) = label {
            record_pair(label, mine, theirs);
        }
        mine
    })
}

/// Adds to a comparison's sums and rewrites target/criterion/paired.json.
fn record_pair(label: &str, mine: Duration, theirs: Duration) {
    let mut all = PAIRED.lock().unwrap();
    let entry = all.entry(label.to_string()).or_default();
    entry.0 += mine.as_secs_f64();
    entry.1 += theirs.as_secs_f64();
    let json: BTreeMap<&String, f64> = all.iter().map(|(k, (q, r))| (k, q / r)).collect();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/criterion/paired.json");
    let _ = std::fs::write(
        path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    );
}

fn encode(requests: &[Request<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in requests {
        r.encode(&mut out).unwrap();
    }
    out
}

fn single(c: &mut Criterion) {
    let server = support::Memcached::start();
    let spec = server.spec();
    let client = quickmc::Client::builder()
        .servers([&spec])
        .max_connections(4)
        .build()
        .unwrap();
    let memcache =
        memcache::Client::connect(format!("memcache://{spec}?tcp_nodelay=true")).unwrap();
    let value = vec![b'v'; 100];
    client.set("bench:single", &value[..], 0).unwrap();
    let raw = Raw::connect(&spec);

    let mut group = c.benchmark_group("single");
    let get = encode(&[Request::new(Opcode::Get, b"bench:single")]);
    let raw = std::cell::RefCell::new(raw);
    let raw_get = || raw.borrow_mut().exchange(&get, Opcode::Get as u8);
    let quickmc_get = || client.get::<Vec<u8>>("bench:single").unwrap().unwrap();
    group.bench_function(BenchmarkId::new("get", "raw"), |b| {
        paired(b, None, raw_get, quickmc_get)
    });
    group.bench_function(BenchmarkId::new("get", "quickmc"), |b| {
        paired(b, Some("single/get"), quickmc_get, raw_get)
    });
    group.bench_function(BenchmarkId::new("get", "memcache"), |b| {
        b.iter(|| memcache.get::<Vec<u8>>("bench:single").unwrap().unwrap())
    });
    let set = encode(&[Request::new(Opcode::Set, b"bench:single")
        .extras(Extras::Store {
            flags: 0,
            expiration: 0,
        })
        .value(&value)]);
    let raw_set = || raw.borrow_mut().exchange(&set, Opcode::Set as u8);
    let quickmc_set = || client.set("bench:single", &value[..], 0).unwrap();
    group.bench_function(BenchmarkId::new("set", "raw"), |b| {
        paired(b, None, raw_set, quickmc_set)
    });
    group.bench_function(BenchmarkId::new("set", "quickmc"), |b| {
        paired(b, Some("single/set"), quickmc_set, raw_set)
    });
    group.bench_function(BenchmarkId::new("set", "memcache"), |b| {
        b.iter(|| memcache.set("bench:single", &value[..], 0).unwrap())
    });
    group.finish();
}

/// `count` keys of `size`-byte values: get_multi and set_multi against a
/// pipelined raw batch (GetKQ/SetQ requests + Noop, pre-encoded, one write,
/// read to the Noop) and, for gets, the memcache crate's multi-get.
fn batch(c: &mut Criterion, count: usize, size: usize, label: &str) {
    let server = support::Memcached::with(support::Options {
        memory_mb: 256,
        ..Default::default()
    });
    let spec = server.spec();
    let client = quickmc::Client::builder()
        .servers([&spec])
        .max_connections(4)
        .build()
        .unwrap();
    let memcache =
        memcache::Client::connect(format!("memcache://{spec}?tcp_nodelay=true")).unwrap();
    let keys: Vec<String> = (0..count).map(|i| format!("bench:batch:{i}")).collect();
    let value = vec![b'v'; size];
    assert!(
        client
            .set_multi(keys.iter().map(|k| (k.as_str(), &value[..])), "", 0)
            .unwrap()
            .is_empty()
    );
    let raw = Raw::connect(&spec);
    let noop = Request::new(Opcode::Noop, b"").opaque(u32::MAX);
    let get_batch: Vec<Request<'_>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Request::new(Opcode::GetKQ, k.as_bytes()).opaque(i as u32))
        .chain([noop])
        .collect();
    let get_bytes = encode(&get_batch);
    let set_batch: Vec<Request<'_>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            Request::new(Opcode::SetQ, k.as_bytes())
                .extras(Extras::Store {
                    flags: 0,
                    expiration: 0,
                })
                .value(&value)
                .opaque(i as u32)
        })
        .chain([noop])
        .collect();
    let set_bytes = encode(&set_batch);

    let mut group = c.benchmark_group("get_multi");
    group.throughput(criterion::Throughput::Elements(count as u64));
    if count > 1000 {
        // The memcache crate takes most of a second per 10,000-key call.
        group.sample_size(10);
    }
    let raw = std::cell::RefCell::new(raw);
    let raw_get = || raw.borrow_mut().exchange(&get_bytes, Opcode::Noop as u8);
    // The returned map is dropped outside the timed section: freeing the
    // caller's result is not part of fetching it (raw builds no result).
    let quickmc_get = || {
        let hits: HashMap<&str, Vec<u8>> = client
            .get_multi(keys.iter().map(String::as_str), "")
            .unwrap();
        assert_eq!(hits.len(), count);
        hits
    };
    group.bench_function(BenchmarkId::new(label, "raw"), |b| {
        paired(b, None, raw_get, quickmc_get)
    });
    group.bench_function(BenchmarkId::new(label, "quickmc"), |b| {
        paired(b, Some(&format!("get_multi/{label}")), quickmc_get, raw_get)
    });
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    group.bench_function(BenchmarkId::new(label, "memcache"), |b| {
        b.iter_with_large_drop(|| {
            let hits: HashMap<String, Vec<u8>> = memcache.gets(&key_refs).unwrap();
            assert_eq!(hits.len(), count);
            hits
        })
    });
    group.finish();

    let mut group = c.benchmark_group("set_multi");
    group.throughput(criterion::Throughput::Elements(count as u64));
    if count > 1000 {
        group.sample_size(20);
    }
    let raw_set = || raw.borrow_mut().exchange(&set_bytes, Opcode::Noop as u8);
    let quickmc_set = || {
        let failed = client
            .set_multi(keys.iter().map(|k| (k.as_str(), &value[..])), "", 0)
            .unwrap();
        assert!(failed.is_empty());
    };
    group.bench_function(BenchmarkId::new(label, "raw"), |b| {
        paired(b, None, raw_set, quickmc_set)
    });
    group.bench_function(BenchmarkId::new(label, "quickmc"), |b| {
        paired(b, Some(&format!("set_multi/{label}")), quickmc_set, raw_set)
    });
    group.finish();
}

fn batch_small(c: &mut Criterion) {
    batch(c, 100, 100, "100x100B");
}

fn batch_large(c: &mut Criterion) {
    batch(c, 10_000, 1024, "10000x1KB");
}

/// The same 1,000 keys on one server and spread over four: fan-out runs
/// the servers' batches at once, so four cost about one. Baselines: raw
/// pipelined batches written to every socket before any is read, and the
/// memcache crate (which asks its servers one after another).
fn fanout(c: &mut Criterion) {
    let servers: Vec<support::Memcached> = (0..4).map(|_| support::Memcached::start()).collect();
    let specs: Vec<String> = servers.iter().map(|s| s.spec()).collect();
    let one = quickmc::Client::builder()
        .servers([&specs[0]])
        .build()
        .unwrap();
    let four = quickmc::Client::builder().servers(&specs).build().unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("bench:fanout:{i}")).collect();
    let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let value = [b'v'; 100];
    for client in [&one, &four] {
        assert!(
            client
                .set_multi(keys.iter().map(|k| (k.as_str(), &value[..])), "", 0)
                .unwrap()
                .is_empty()
        );
    }
    let memcache_one =
        memcache::Client::connect(format!("memcache://{}?tcp_nodelay=true", specs[0])).unwrap();
    let memcache_four = memcache::Client::connect(
        specs
            .iter()
            .map(|s| format!("memcache://{s}?tcp_nodelay=true"))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    // The memcache crate places keys its own way: store them where it looks.
    for k in &keys {
        memcache_four.set(k, &value[..], 0).unwrap();
    }
    // Raw: each server's share of the keys as one pre-encoded batch.
    let batch_for = |server: Option<usize>| -> Vec<u8> {
        let mine: Vec<Request<'_>> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| server.is_none_or(|s| four.hash(k).unwrap() == s))
            .map(|(i, k)| Request::new(Opcode::GetKQ, k.as_bytes()).opaque(i as u32))
            .chain([Request::new(Opcode::Noop, b"").opaque(u32::MAX)])
            .collect();
        encode(&mine)
    };
    let raw_one = Raw::connect(&specs[0]);
    let one_batch = batch_for(None);
    let raw_four: Vec<(Raw, Vec<u8>)> = (0..4)
        .map(|s| (Raw::connect(&specs[s]), batch_for(Some(s))))
        .collect();

    let mut group = c.benchmark_group("fanout");
    group.throughput(criterion::Throughput::Elements(1000));
    let raw_one = std::cell::RefCell::new(raw_one);
    let raw_four = std::cell::RefCell::new(raw_four);
    let raw_1 = || {
        raw_one
            .borrow_mut()
            .exchange(&one_batch, Opcode::Noop as u8)
    };
    let raw_4 = || {
        let mut raws = raw_four.borrow_mut();
        for (raw, batch) in raws.iter_mut() {
            raw.stream.write_all(batch).unwrap();
        }
        raws.iter_mut()
            .map(|(raw, _)| raw.exchange(&[], Opcode::Noop as u8))
            .sum::<usize>()
    };
    let get_all = |client: &quickmc::Client| {
        let hits: HashMap<&str, Vec<u8>> = client
            .get_multi(keys.iter().map(String::as_str), "")
            .unwrap();
        assert_eq!(hits.len(), 1000);
        hits
    };
    let quickmc_1 = || get_all(&one);
    let quickmc_4 = || get_all(&four);
    group.bench_function(BenchmarkId::new("1000keys_1server", "raw"), |b| {
        paired(b, None, raw_1, quickmc_1)
    });
    group.bench_function(BenchmarkId::new("1000keys_1server", "quickmc"), |b| {
        paired(b, Some("fanout/1000keys_1server"), quickmc_1, raw_1)
    });
    group.bench_function(BenchmarkId::new("1000keys_4servers", "raw"), |b| {
        paired(b, None, raw_4, quickmc_4)
    });
    group.bench_function(BenchmarkId::new("1000keys_4servers", "quickmc"), |b| {
        paired(b, Some("fanout/1000keys_4servers"), quickmc_4, raw_4)
    });
    // Four servers against one, alternating, for the fan-out ratio.
    group.bench_function(BenchmarkId::new("4servers_vs_1server", "quickmc"), |b| {
        paired(b, Some("fanout/4servers_vs_1server"), quickmc_4, quickmc_1)
    });
    for (name, client) in [
        ("1000keys_1server", &memcache_one),
        ("1000keys_4servers", &memcache_four),
    ] {
        group.bench_function(BenchmarkId::new(name, "memcache"), |b| {
            b.iter_with_large_drop(|| {
                let hits: HashMap<String, Vec<u8>> = client.gets(&key_refs).unwrap();
                assert_eq!(hits.len(), 1000);
                hits
            })
        });
    }
    group.finish();
}

/// Four threads doing single gets: sharing clones of one Client (each
/// operation checks a connection out of the pool) against four threads
/// each driving its own raw socket. Throughput is the 4 × iterations.
fn threads(c: &mut Criterion) {
    const THREADS: usize = 4;
    let server = support::Memcached::with(support::Options {
        threads: 4,
        ..Default::default()
    });
    let spec = server.spec();
    let client = quickmc::Client::builder()
        .servers([&spec])
        .max_connections(8)
        .build()
        .unwrap();
    client.set("bench:threads", &[b'v'; 100][..], 0).unwrap();
    let get = encode(&[Request::new(Opcode::Get, b"bench:threads")]);
    let mut raws: Vec<Raw> = (0..THREADS).map(|_| Raw::connect(&spec)).collect();
    let mut group = c.benchmark_group("threads");
    group.throughput(criterion::Throughput::Elements(THREADS as u64));
    group.bench_function(BenchmarkId::new("4x_get", "raw"), |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for raw in raws.iter_mut() {
                    let get = &get;
                    s.spawn(move || {
                        for _ in 0..iters {
                            raw.exchange(get, Opcode::Get as u8);
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    group.bench_function(BenchmarkId::new("4x_get", "quickmc"), |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..THREADS {
                    let client = client.clone();
                    s.spawn(move || {
                        for _ in 0..iters {
                            client.get::<Vec<u8>>("bench:threads").unwrap().unwrap();
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    // Each thread alternates a raw get and a quickmc get, timing both: the
    // paired ratio of the 4-thread throughputs.
    group.bench_function(BenchmarkId::new("4x_get", "paired"), |b| {
        b.iter_custom(|iters| {
            let totals: Vec<(Duration, Duration)> = std::thread::scope(|s| {
                let handles: Vec<_> = raws
                    .iter_mut()
                    .map(|raw| {
                        let (get, client) = (&get, client.clone());
                        s.spawn(move || {
                            let (mut mine, mut theirs) = (Duration::ZERO, Duration::ZERO);
                            for _ in 0..iters {
                                let start = Instant::now();
                                raw.exchange(get, Opcode::Get as u8);
                                theirs += start.elapsed();
                                let start = Instant::now();
                                client.get::<Vec<u8>>("bench:threads").unwrap().unwrap();
                                mine += start.elapsed();
                            }
                            (mine, theirs)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mine: Duration = totals.iter().map(|t| t.0).sum();
            let theirs: Duration = totals.iter().map(|t| t.1).sum();
            record_pair("threads/4x_get", mine, theirs);
            mine / THREADS as u32
        })
    });
    let memcache = memcache::Client::builder()
        .add_server(format!("memcache://{spec}?tcp_nodelay=true"))
        .unwrap()
        .with_max_pool_size(8)
        .build()
        .unwrap();
    group.bench_function(BenchmarkId::new("4x_get", "memcache"), |b| {
        b.iter_custom(|iters| {
            let start = std::time::Instant::now();
            std::thread::scope(|s| {
                for _ in 0..THREADS {
                    let memcache = &memcache;
                    s.spawn(move || {
                        for _ in 0..iters {
                            memcache.get::<Vec<u8>>("bench:threads").unwrap().unwrap();
                        }
                    });
                }
            });
            start.elapsed()
        })
    });
    group.finish();
}

/// TLS against plain on the same memcached (`-Z` and a `notls:` listener
/// beside it), in alternation: single get, get_multi of 100 x 100 B and of
/// 10,000 x 1 KB. Connections are pooled, so the handshake is not timed.
#[cfg(feature = "tls")]
fn tls(c: &mut Criterion) {
    use support::tls::{pki, trusting_the_test_ca};
    let plain_port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let (cert, key) = &pki().server;
    let server = support::Memcached::with(support::Options {
        memory_mb: 256,
        extra: vec![
            "-Z".into(),
            "-o".into(),
            format!(
                "ssl_chain_cert={},ssl_key={}",
                cert.display(),
                key.display()
            ),
            "-l".into(),
            format!("notls:127.0.0.1:{plain_port}"),
        ],
        ..support::Options::default()
    });
    let plain = quickmc::Client::builder()
        .servers([format!("127.0.0.1:{plain_port}")])
        .max_connections(4)
        .build()
        .unwrap();
    let tls = quickmc::Client::builder()
        .servers([server.spec()])
        .tls(trusting_the_test_ca())
        .max_connections(4)
        .build()
        .unwrap();
    let mut group = c.benchmark_group("tls");
    plain.set("bench:tls", &[b'v'; 100][..], 0).unwrap();
    let plain_get = || plain.get::<Vec<u8>>("bench:tls").unwrap().unwrap();
    let tls_get = || tls.get::<Vec<u8>>("bench:tls").unwrap().unwrap();
    group.bench_function(BenchmarkId::new("get", "plain"), |b| {
        paired(b, None, plain_get, tls_get)
    });
    group.bench_function(BenchmarkId::new("get", "tls"), |b| {
        paired(b, Some("tls/get"), tls_get, plain_get)
    });
    for (count, size, label) in [
        (100usize, 100usize, "get_multi_100x100B"),
        (10_000, 1024, "get_multi_10000x1KB"),
    ] {
        let keys: Vec<String> = (0..count)
            .map(|i| format!("bench:tls:{size}:{i}"))
            .collect();
        let value = vec![b'x'; size];
        assert!(
            plain
                .set_multi(keys.iter().map(|k| (k.as_str(), &value[..])), "", 0)
                .unwrap()
                .is_empty()
        );
        let plain_get = || -> HashMap<&str, Vec<u8>> {
            plain
                .get_multi(keys.iter().map(String::as_str), "")
                .unwrap()
        };
        let tls_get = || -> HashMap<&str, Vec<u8>> {
            tls.get_multi(keys.iter().map(String::as_str), "").unwrap()
        };
        if count > 1000 {
            group.sample_size(10);
        }
        group.bench_function(BenchmarkId::new(label, "plain"), |b| {
            paired(b, None, plain_get, tls_get)
        });
        group.bench_function(BenchmarkId::new(label, "tls"), |b| {
            paired(b, Some(&format!("tls/{label}")), tls_get, plain_get)
        });
    }
    group.finish();
}

#[cfg(not(feature = "tls"))]
fn tls(_: &mut Criterion) {}

/// The shared-connection modes with a single caller, where there is nothing
/// to coalesce, each against its own floor in alternation: the pipelined
/// blocking client against the raw socket, and the async client against a
/// raw tokio socket loop (both awaited on one current-thread runtime).
/// Single get and get_multi of 100 x 100 B.
#[cfg(feature = "tokio")]
fn modes(c: &mut Criterion) {
    let server = support::Memcached::start();
    let spec = server.spec();
    let pipelined = quickmc::Client::builder()
        .servers([&spec])
        .pipelined(2)
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let asynchronous = quickmc::Client::builder()
        .servers([&spec])
        .build_async()
        .unwrap();
    let keys: Vec<String> = (0..100).map(|i| format!("bench:modes:{i}")).collect();
    let value = [b'v'; 100];
    pipelined
        .set_multi(keys.iter().map(|k| (k.as_str(), &value[..])), "", 0)
        .unwrap();
    let get = encode(&[Request::new(Opcode::Get, keys[0].as_bytes())]);
    let noop = Request::new(Opcode::Noop, b"").opaque(u32::MAX);
    let batch: Vec<Request<'_>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Request::new(Opcode::GetKQ, k.as_bytes()).opaque(i as u32))
        .chain([noop])
        .collect();
    let batch = encode(&batch);
    let raw = std::cell::RefCell::new(Raw::connect(&spec));
    let raw_tokio = std::cell::RefCell::new(runtime.block_on(RawTokio::connect(&spec)));

    let mut group = c.benchmark_group("modes");
    let raw_get = || raw.borrow_mut().exchange(&get, Opcode::Get as u8);
    let pipelined_get = || pipelined.get::<Vec<u8>>(&keys[0]).unwrap().unwrap();
    group.bench_function(BenchmarkId::new("pipelined_get", "raw"), |b| {
        paired(b, None, raw_get, pipelined_get)
    });
    group.bench_function(BenchmarkId::new("pipelined_get", "quickmc"), |b| {
        paired(b, Some("modes/pipelined_get"), pipelined_get, raw_get)
    });
    let raw_batch = || raw.borrow_mut().exchange(&batch, Opcode::Noop as u8);
    let pipelined_batch = || -> HashMap<&str, Vec<u8>> {
        pipelined
            .get_multi(keys.iter().map(String::as_str), "")
            .unwrap()
    };
    group.bench_function(
        BenchmarkId::new("pipelined_get_multi_100x100B", "raw"),
        |b| paired(b, None, raw_batch, pipelined_batch),
    );
    group.bench_function(
        BenchmarkId::new("pipelined_get_multi_100x100B", "quickmc"),
        |b| {
            paired(
                b,
                Some("modes/pipelined_get_multi_100x100B"),
                pipelined_batch,
                raw_batch,
            )
        },
    );
    let tokio_get = || {
        let mut raw = raw_tokio.borrow_mut();
        runtime.block_on(raw.exchange(&get, Opcode::Get as u8))
    };
    let async_get = || {
        runtime
            .block_on(asynchronous.get::<Vec<u8>>(&keys[0]))
            .unwrap()
            .unwrap()
    };
    group.bench_function(BenchmarkId::new("async_get", "raw_tokio"), |b| {
        paired(b, None, tokio_get, async_get)
    });
    group.bench_function(BenchmarkId::new("async_get", "quickmc"), |b| {
        paired(b, Some("modes/async_get"), async_get, tokio_get)
    });
    let tokio_batch = || {
        let mut raw = raw_tokio.borrow_mut();
        runtime.block_on(raw.exchange(&batch, Opcode::Noop as u8))
    };
    let async_batch = || -> HashMap<&str, Vec<u8>> {
        runtime
            .block_on(asynchronous.get_multi(keys.iter().map(String::as_str), ""))
            .unwrap()
    };
    group.bench_function(
        BenchmarkId::new("async_get_multi_100x100B", "raw_tokio"),
        |b| paired(b, None, tokio_batch, async_batch),
    );
    group.bench_function(
        BenchmarkId::new("async_get_multi_100x100B", "quickmc"),
        |b| {
            paired(
                b,
                Some("modes/async_get_multi_100x100B"),
                async_batch,
                tokio_batch,
            )
        },
    );
    group.finish();
}

#[cfg(not(feature = "tokio"))]
fn modes(_: &mut Criterion) {}

/// The raw baseline on tokio: a tokio socket and a reused buffer.
#[cfg(feature = "tokio")]
struct RawTokio {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

#[cfg(feature = "tokio")]
impl RawTokio {
    async fn connect(spec: &str) -> RawTokio {
        let stream = tokio::net::TcpStream::connect(spec).await.unwrap();
        stream.set_nodelay(true).unwrap();
        RawTokio {
            stream,
            buf: vec![0; 1 << 16],
        }
    }

    /// As [`Raw::exchange`], awaiting the socket.
    async fn exchange(&mut self, request: &[u8], last: u8) -> usize {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(request).await.unwrap();
        let mut have = 0;
        let mut read = 0;
        loop {
            if scan(&mut self.buf, &mut have, last) {
                return read;
            }
            let n = self.stream.read(&mut self.buf[have..]).await.unwrap();
            assert!(n > 0, "server closed");
            have += n;
            read += n;
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = single, batch_small, batch_large, fanout, threads, tls, modes
}
criterion_main!(benches);
