//! The pipelined mode (`.pipelined(n)`: every thread shares a few
//! connections per server) against real memcached: every operation as in
//! the pooled client, many threads at once, servers killed, restarted and
//! stopped under load, back-pressure, and huge batches beside small calls.
//!
//! Every value is derived from its key, so a reply that reached the wrong
//! caller shows. Loops are bounded in count and in time; nothing asserts
//! that anything was fast.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use quickmc::command::MuxLimits;
use quickmc::distribution::DistributionKind;
use quickmc::{Client, ClientBuilder, Error};
use support::load::{Rng, chaos, is_outage, kind_of, settle_connections, steady_connections};
use support::proxy::{Fault, Proxy};
use support::{Memcached, key};

/// A pipelined client builder with short timeouts.
fn pipelined(servers: impl IntoIterator<Item = String>) -> ClientBuilder {
    Client::builder()
        .servers(servers)
        .pipelined(2)
        .connect_timeout(Duration::from_millis(300))
        .io_timeout(Some(Duration::from_millis(300)))
}

/// Two memcached shared by the tests here that never stop, restart or
/// flush them (each uses its own keys).
fn pair() -> &'static [Memcached] {
    static PAIR: OnceLock<Vec<Memcached>> = OnceLock::new();
    PAIR.get_or_init(|| (0..2).map(|_| Memcached::start()).collect())
}

fn specs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::spec).collect()
}

/// The value every test stores under `key`: different for every key, of
/// a length that varies with it.
fn value_of(key: &str) -> String {
    format!("value-of[{key}]").repeat(1 + key.len() % 5)
}

/// Runs every operation once, in an order whose results are all known,
/// and writes each result down as text (CAS ids as "current or not").
fn every_operation(c: &Client, test: &str) -> Vec<(&'static str, String)> {
    let k = |name: &str| key(test, name);
    let mut rows: Vec<(&'static str, String)> = Vec::new();
    let mut row = |label: &'static str, result: String| rows.push((label, result));
    let correct = |hits: &HashMap<String, String>| {
        (
            hits.len(),
            hits.iter().all(|(name, v)| *v == value_of(name)),
        )
    };

    row("get missing", format!("{:?}", c.get::<String>(k("a"))));
    row(
        "get_or missing",
        format!("{:?}", c.get_or(k("a"), String::from("dflt"))),
    );
    row("contains missing", format!("{:?}", c.contains(k("a"))));
    row("fetch missing", format!("{:?}", c.fetch::<String>(k("a"))));
    row("set", format!("{:?}", c.set(k("a"), "alpha", 0)));
    row("get", format!("{:?}", c.get::<String>(k("a"))));
    row("contains", format!("{:?}", c.contains(k("a"))));
    row("add existing", format!("{:?}", c.add(k("a"), "x", 0)));
    row("add new", format!("{:?}", c.add(k("b"), "beta", 0)));
    row("replace", format!("{:?}", c.replace(k("b"), "BETA", 0)));
    row(
        "replace missing",
        format!("{:?}", c.replace(k("c"), "x", 0)),
    );
    row("append", format!("{:?}", c.append(k("a"), "+tail", 0)));
    row("prepend", format!("{:?}", c.prepend(k("a"), "head+", 0)));
    row("append missing", format!("{:?}", c.append(k("c"), "x", 0)));
    row("get concatenated", format!("{:?}", c.get::<String>(k("a"))));
    let cas = c.gets::<String>(k("a")).unwrap().unwrap().1;
    row(
        "gets",
        format!(
            "{:?}",
            c.gets::<String>(k("a"))
                .map(|hit| hit.map(|(v, id)| (v, id == cas)))
        ),
    );
    row(
        "cas current",
        format!("{:?}", c.cas(k("a"), "swapped", cas, 0)),
    );
    row("cas stale", format!("{:?}", c.cas(k("a"), "again", cas, 0)));
    row("cas missing", format!("{:?}", c.cas(k("c"), "x", cas, 0)));
    row("gat", format!("{:?}", c.gat::<String>(k("a"), 300)));
    row("gat missing", format!("{:?}", c.gat::<String>(k("c"), 300)));
    row("touch", format!("{:?}", c.touch(k("a"), 300)));
    row("touch missing", format!("{:?}", c.touch(k("c"), 300)));
    row("insert", format!("{:?}", c.insert(k("i"), "inserted")));
    row("fetch", format!("{:?}", c.fetch::<String>(k("i"))));
    row("remove", format!("{:?}", c.remove(k("i"))));
    row("remove missing", format!("{:?}", c.remove(k("i"))));
    row("set counter", format!("{:?}", c.set(k("n"), 10u64, 0)));
    row("incr", format!("{:?}", c.incr(k("n"), 5)));
    row("decr past zero", format!("{:?}", c.decr(k("n"), 20)));
    row("incr missing", format!("{:?}", c.incr(k("c"), 1)));
    row("decr missing", format!("{:?}", c.decr(k("c"), 1)));
    row("incr non-numeric", format!("{:?}", c.incr(k("a"), 1)));
    row("delete", format!("{:?}", c.delete(k("b"))));
    row("delete missing", format!("{:?}", c.delete(k("b"))));

    // Many keys, with a prefix: results keyed by the caller's keys.
    let prefix = format!("{test}:");
    let names: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
    let full = |name: &str| format!("{prefix}{name}");
    let items = || names.iter().map(|n| (n.clone(), value_of(&full(n))));
    row(
        "set_multi",
        format!("{:?}", c.set_multi(items(), &prefix, 0)),
    );
    let unprefixed = |hits: HashMap<String, String>| -> HashMap<String, String> {
        hits.into_iter().map(|(n, v)| (full(&n), v)).collect()
    };
    let with_absent = || names.iter().cloned().chain([String::from("absent")]);
    row(
        "get_multi",
        format!(
            "{:?}",
            c.get_multi::<_, String>(with_absent(), &prefix)
                .map(|h| correct(&unprefixed(h)))
        ),
    );
    row(
        "get_multi_report",
        format!(
            "{:?}",
            c.get_multi_report::<_, String>(with_absent(), &prefix)
                .map(|(h, r)| (correct(&unprefixed(h)), r.is_complete()))
        ),
    );
    row(
        "gat_multi",
        format!(
            "{:?}",
            c.gat_multi::<_, String>(with_absent(), &prefix, 300)
                .map(|h| correct(&unprefixed(h)))
        ),
    );
    row(
        "add_multi",
        format!(
            "{:?}",
            c.add_multi(
                [
                    ("m0", value_of(&full("m0"))),
                    ("new0", value_of(&full("new0")))
                ],
                &prefix,
                0
            )
        ),
    );
    row(
        "touch_multi",
        format!("{:?}", c.touch_multi(["m1", "gone"], &prefix, 300)),
    );
    let counters = ["c0", "c1", "c2"];
    row(
        "set_multi counters",
        format!(
            "{:?}",
            c.set_multi(counters.iter().map(|n| (*n, 7u64)), &prefix, 0)
        ),
    );
    row(
        "incr_multi",
        format!("{:?}", c.incr_multi(counters, &prefix, 3)),
    );
    row(
        "decr_multi",
        format!("{:?}", c.decr_multi(counters, &prefix, 1)),
    );
    row(
        "counters",
        format!(
            "{:?}",
            c.get_multi::<_, u64>(counters, &prefix)
                .map(|h| h.into_iter().collect::<BTreeMap<_, _>>())
        ),
    );
    row(
        "incr_multi missing",
        format!("{:?}", c.incr_multi(["c0", "nope"], &prefix, 1)),
    );
    row(
        "decr_multi missing",
        format!("{:?}", c.decr_multi(["nope"], &prefix, 1)),
    );
    row(
        "delete_multi",
        format!("{:?}", c.delete_multi(names.iter(), &prefix)),
    );
    row(
        "delete_multi again",
        format!("{:?}", c.delete_multi(names.iter(), &prefix)),
    );
    row(
        "get_multi deleted",
        format!(
            "{:?}",
            c.get_multi::<_, String>(names.iter(), &prefix)
                .map(|h| h.len())
        ),
    );

    // Every server (this client has one, private to the test).
    row(
        "stats",
        format!(
            "{:?}",
            c.stats("")
                .map(|s| (s.len(), s[0].1.contains_key("curr_items")))
        ),
    );
    row(
        "version",
        format!(
            "{:?}",
            c.version()
                .into_iter()
                .map(|(_, v)| v.map(|v| !v.is_empty()))
                .collect::<Vec<_>>()
        ),
    );
    row(
        "ping",
        format!(
            "{:?}",
            c.ping()
                .into_iter()
                .map(|(_, p)| p.is_ok())
                .collect::<Vec<_>>()
        ),
    );
    row("flush_all", format!("{:?}", c.flush_all(0)));
    row("get flushed", format!("{:?}", c.get::<String>(k("a"))));
    rows
}

#[test]
fn every_operation_gives_the_pooled_clients_results() {
    let server = Memcached::start(); // private: the script flushes it
    let pooled = Client::new([server.spec()]).unwrap();
    let expected = every_operation(&pooled, "ops_pooled");
    let client = pipelined([server.spec()]).build().unwrap();
    let got = every_operation(&client, "ops_pipelined");
    assert_eq!(got.len(), expected.len());
    for ((label, want), (_, have)) in expected.iter().zip(&got) {
        println!("{label:>20}: {have}");
        assert_eq!(have, want, "{label}: pipelined differs from pooled");
    }
    // The pooled results are what the operations promise.
    let table: HashMap<&str, &str> = got.iter().map(|(l, r)| (*l, r.as_str())).collect();
    for (label, want) in [
        ("get missing", "Ok(None)"),
        ("add existing", "Ok(false)"),
        ("get concatenated", "Ok(Some(\"head+alpha+tail\"))"),
        ("gets", "Ok(Some((\"head+alpha+tail\", true)))"),
        ("cas stale", "Ok(false)"),
        ("cas missing", "Err(NotFound)"),
        ("decr past zero", "Ok(0)"),
        ("incr non-numeric", "Err(NonNumeric)"),
        ("get_multi", "Ok((60, true))"),
        ("add_multi", "Ok([\"m0\"])"),
        ("touch_multi", "Ok([\"gone\"])"),
        ("counters", "Ok({\"c0\": 9, \"c1\": 9, \"c2\": 9})"),
        ("incr_multi missing", "Err(NotFound)"),
        ("delete_multi", "Ok(true)"),
        ("delete_multi again", "Ok(false)"),
        ("stats", "Ok((1, true))"),
        ("flush_all", "Ok(())"),
        ("get flushed", "Ok(None)"),
    ] {
        assert_eq!(table[label], want, "{label}");
    }
}

/// A value above the client's `max_value_size` on a shared connection is
/// `ValueTooLarge` for the caller who asked, and nobody else's business:
/// its body is skipped, the connection goes on, and the other threads'
/// reads on it (single and batched) all succeed — before, every such
/// reply broke the connection and failed whoever shared it.
#[test]
fn a_value_above_the_limit_fails_its_caller_only_and_the_connection_goes_on() {
    let server = &pair()[0];
    let big = key("pipe_oversized", "big");
    let smalls: Vec<String> = (0..4)
        .map(|t| key("pipe_oversized", &t.to_string()))
        .collect();
    let writer = server.client();
    assert!(writer.set(&big, vec![7u8; 64 << 10], 0).unwrap());
    for k in &smalls {
        assert!(writer.set(k, value_of(k), 0).unwrap());
    }
    let client = Client::builder()
        .servers([server.spec()])
        .pipelined(1)
        .max_value_size(4096)
        .build()
        .unwrap();
    let errors: Vec<String> = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            for i in 0..300 {
                if i % 2 == 0 {
                    match client.get::<Vec<u8>>(&big) {
                        Err(Error::ValueTooLarge { key, .. }) => assert_eq!(key, big),
                        other => panic!("the big value: {other:?}"),
                    }
                } else {
                    // A batch with the big key fails that key alone.
                    let keys = [big.as_str(), smalls[0].as_str()];
                    let (hits, report) = client.get_multi_report::<_, String>(keys, "").unwrap();
                    assert_eq!(hits.get(smalls[0].as_str()), Some(&value_of(&smalls[0])));
                    assert!(
                        matches!(&report.failures[..], [f] if f.key == big.as_str()),
                        "{report:?}"
                    );
                }
            }
        });
        // A counter, which is never retried: it must never be cut off.
        let counter = s.spawn(|| {
            let k = key("pipe_oversized", "counter");
            client.set(&k, 0u64, 0).unwrap();
            let mut errors = Vec::new();
            for _ in 0..300 {
                if let Err(e) = client.incr(&k, 1) {
                    errors.push(format!("incr: {e:?}"));
                }
            }
            errors
        });
        let others: Vec<_> = smalls
            .iter()
            .map(|k| {
                let (client, smalls) = (&client, &smalls);
                s.spawn(move || {
                    let mut errors = Vec::new();
                    for i in 0..300 {
                        let got = if i % 3 == 0 {
                            client
                                .get_multi::<_, String>(smalls.iter().map(String::as_str), "")
                                .map(|hits| hits.get(k.as_str()).cloned())
                        } else {
                            client.get::<String>(k)
                        };
                        match got {
                            Ok(v) => assert_eq!(v, Some(value_of(k))),
                            Err(e) => errors.push(format!("{e:?}")),
                        }
                    }
                    errors
                })
            })
            .collect();
        reader.join().unwrap();
        let mut errors = counter.join().unwrap();
        errors.extend(others.into_iter().flat_map(|t| t.join().unwrap()));
        errors
    });
    assert!(
        errors.is_empty(),
        "{} failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
    // A batch with the big key: it fails that key alone.
    let mut keys = smalls.clone();
    keys.push(big.clone());
    let (hits, report) = client
        .get_multi_report::<_, String>(keys.iter().map(String::as_str), "")
        .unwrap();
    assert_eq!(hits.len(), smalls.len());
    assert!(
        matches!(&report.failures[..], [f] if f.key == big.as_str() && matches!(f.error, Error::ValueTooLarge { .. })),
        "{report:?}"
    );
}

/// An oversized reply too long to read past (above 4 MiB) breaks the shared
/// connection instead, as nobody's failure: its caller gets
/// `ValueTooLarge`, and the next call works at once on a fresh connection.
#[test]
fn an_oversized_reply_too_long_to_read_past_breaks_the_connection_uncounted() {
    let proxy = Proxy::start(&pair()[0].spec());
    let client = pipelined([proxy.spec()])
        .pipelined(1)
        .max_value_size(1 << 20)
        .retry_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let k = key("pipe_huge", "k");
    assert!(client.set(&k, "v", 0).unwrap());
    proxy.set_fault_once(Fault::Declares(8 << 20));
    let err = client.get::<String>(&k).unwrap_err();
    assert!(matches!(err, Error::ValueTooLarge { .. }), "{err:?}");
    assert_eq!(client.get::<String>(&k).unwrap().as_deref(), Some("v"));
}

/// Twelve threads on one shared connection to a TCP server and one to a
/// Unix-socket server, with values from 10 B to 300 KB (writes the socket
/// cannot take at once, so writers hand their rest back and readers poll
/// for room) and batches among them: every value is its key's, and no call
/// fails — none waits out the I/O timeout for a wake-up that was lost.
#[test]
fn large_and_small_values_over_tcp_and_a_unix_socket_never_stall_a_shared_connection() {
    const THREADS: usize = 12;
    let tcp = &pair()[1];
    let unix = Memcached::with(support::Options {
        unix_socket: true,
        memory_mb: 256,
        ..Default::default()
    });
    let client = Client::builder()
        .servers([tcp.spec(), unix.spec()])
        .pipelined(1)
        .build()
        .unwrap();
    let value = |k: &str, n: usize| -> Vec<u8> {
        let mut v = format!("{k}|").into_bytes();
        v.resize(n.max(v.len()), b'v');
        v
    };
    let owns = |k: &str, v: &[u8]| v.starts_with(format!("{k}|").as_bytes());
    let end = Instant::now() + Duration::from_secs(3);
    let problems: Vec<String> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let client = &client;
                s.spawn(move || {
                    let mut problems = Vec::new();
                    let keys: Vec<String> =
                        (0..40).map(|j| key("stall", &format!("{t}:{j}"))).collect();
                    for n in 0..2_000usize {
                        if Instant::now() >= end {
                            break;
                        }
                        let k = &keys[n % 40];
                        let size = match n % 10 {
                            0 => 300_000,
                            1 => 60_000,
                            _ => 10 + (n * 37) % 2_000,
                        };
                        let started = Instant::now();
                        let stored = client.set(k, value(k, size), 0);
                        let got = client.get::<Vec<u8>>(k);
                        match (stored, got) {
                            (Ok(true), Ok(Some(v))) if owns(k, &v) => {}
                            other => problems
                                .push(format!("{k}: {other:?} after {:?}", started.elapsed())),
                        }
                        if n % 5 == 0 {
                            match client
                                .get_multi::<_, Vec<u8>>(keys.iter().map(String::as_str), "")
                            {
                                Ok(hits) => {
                                    for (k, v) in &hits {
                                        if !owns(k, v) {
                                            problems.push(format!("{k}: another key's value"));
                                        }
                                    }
                                }
                                Err(e) => problems.push(format!("get_multi: {e:?}")),
                            }
                        }
                        if n % 7 == 0 {
                            let pairs: Vec<(&str, Vec<u8>)> = keys
                                .iter()
                                .enumerate()
                                .map(|(j, k)| (k.as_str(), value(k, 100 + j * 10)))
                                .collect();
                            match client.set_multi(pairs, "", 0) {
                                Ok(failed) if failed.is_empty() => {}
                                other => problems.push(format!("set_multi: {other:?}")),
                            }
                        }
                    }
                    problems
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    assert!(
        problems.is_empty(),
        "{} problems: {:?}",
        problems.len(),
        &problems[..problems.len().min(3)]
    );
}

/// Sixteen threads on two servers, two shared connections each: single
/// gets and sets, get_multi and set_multi across both servers, deletes.
/// Every hit is its own key's value; on healthy servers nothing fails.
#[test]
fn sixteen_threads_sharing_two_connections_get_only_their_own_values() {
    sixteen_threads_get_their_own_values(
        pipelined(specs(pair())),
        "pipe_many",
        Duration::from_secs(2),
    );
}

/// The same with threads that sleep as soon as they wait for a reply (no
/// spin), as a client with `pipeline_spin(0)` does.
#[test]
fn sixteen_threads_that_never_spin_get_only_their_own_values() {
    sixteen_threads_get_their_own_values(
        pipelined(specs(pair())).pipeline_spin(Duration::ZERO),
        "pipe_nospin",
        Duration::from_millis(1500),
    );
}

fn sixteen_threads_get_their_own_values(builder: ClientBuilder, test: &str, run_for: Duration) {
    const THREADS: u64 = 16;
    const KEYS: u64 = 3000;
    let client = builder
        .io_timeout(Some(Duration::from_secs(5)))
        .build()
        .unwrap();
    let name = |i: u64| key(test, &i.to_string());
    let start = Barrier::new(THREADS as usize);
    let deadline = Instant::now() + run_for;
    let checked = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (client, start, checked) = (&client, &start, &checked);
            s.spawn(move || {
                let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (t + 1));
                start.wait();
                let mut ops = 0;
                while ops < 50_000 && (ops < 100 || Instant::now() < deadline) {
                    let k = name(rng.below(KEYS));
                    match rng.below(10) {
                        0..=3 => {
                            if let Some(v) = client.get::<String>(&k).unwrap() {
                                assert_eq!(v, value_of(&k), "thread {t}: another key's value");
                                checked.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        4..=5 => assert!(client.set(&k, value_of(&k), 0).unwrap()),
                        6..=7 => {
                            let keys: Vec<String> = (0..1 + rng.below(60))
                                .map(|_| name(rng.below(KEYS)))
                                .collect();
                            let hits: HashMap<String, String> =
                                client.get_multi(keys.iter().cloned(), "").unwrap();
                            for (k, v) in &hits {
                                assert!(keys.contains(k), "thread {t}: a key not asked for");
                                assert_eq!(v, &value_of(k), "thread {t}: another key's value");
                            }
                            checked.fetch_add(hits.len() as u64, Ordering::Relaxed);
                        }
                        8 => {
                            let keys: Vec<String> = (0..1 + rng.below(60))
                                .map(|_| name(rng.below(KEYS)))
                                .collect();
                            let failed = client
                                .set_multi(keys.iter().map(|k| (k.as_str(), value_of(k))), "", 0)
                                .unwrap();
                            assert!(failed.is_empty(), "thread {t}: not stored: {failed:?}");
                        }
                        _ => {
                            client.delete(&k).unwrap();
                        }
                    }
                    ops += 1;
                }
            });
        }
    });
    println!("values checked: {}", checked.load(Ordering::Relaxed));
    assert!(
        checked.load(Ordering::Relaxed) > 1000,
        "the run read values"
    );
    // The shared connections held: every key still reads its own value.
    let keys: Vec<String> = (0..KEYS).map(name).collect();
    let hits: HashMap<String, String> = client.get_multi(keys.iter().cloned(), "").unwrap();
    for (k, v) in &hits {
        assert_eq!(v, &value_of(k));
    }
}

/// Eight threads on two servers while each is stopped, killed and
/// restarted in turn: every call returns its key's value, a miss, or a
/// typed outage error; calls succeed again afterwards; and once the client
/// is dropped each server counts the connections it counted before.
#[test]
fn kills_restarts_and_stops_under_load_give_typed_errors_then_recover_without_leaks() {
    const THREADS: u64 = 8;
    let mut servers: Vec<Memcached> = (0..2).map(|_| Memcached::start()).collect();
    let specs = specs(&servers);
    let baseline: Vec<u64> = specs.iter().map(|s| steady_connections(s)).collect();
    let client = pipelined(specs.clone())
        .io_timeout(Some(Duration::from_millis(200)))
        .retry_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let name = |i: u64| key("pipe_chaos", &i.to_string());
    let stop = AtomicBool::new(false);
    let ops = AtomicU64::new(0);
    let errors: Mutex<BTreeMap<String, u64>> = Mutex::default();
    let give_up = Instant::now() + Duration::from_secs(15);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (client, stop, ops, errors) = (&client, &stop, &ops, &errors);
            s.spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1));
                let note = |e: Error| {
                    assert!(is_outage(&e), "thread {t}: unexpected error {e:?}");
                    *errors.lock().unwrap().entry(kind_of(&e)).or_default() += 1;
                };
                let mut done = 0u64;
                while !stop.load(Ordering::SeqCst) && done < 200_000 && Instant::now() < give_up {
                    let k = name(rng.below(500));
                    match rng.below(4) {
                        0 => match client.get::<String>(&k) {
                            Ok(Some(v)) => assert_eq!(v, value_of(&k), "another key's value"),
                            Ok(None) => {}
                            Err(e) => note(e),
                        },
                        1 => {
                            if let Err(e) = client.set(&k, value_of(&k), 0) {
                                note(e);
                            }
                        }
                        2 => {
                            let keys: Vec<String> = (0..1 + rng.below(30))
                                .map(|_| name(rng.below(500)))
                                .collect();
                            match client.get_multi_report::<_, String>(keys.iter().cloned(), "") {
                                Ok((hits, report)) => {
                                    for (k, v) in &hits {
                                        assert_eq!(v, &value_of(k), "another key's value");
                                    }
                                    report.server_errors.into_iter().for_each(|f| note(f.error));
                                }
                                Err(e) => note(e),
                            }
                        }
                        _ => {
                            let keys: Vec<String> = (0..1 + rng.below(30))
                                .map(|_| name(rng.below(500)))
                                .collect();
                            let items = keys.iter().map(|k| (k.as_str(), value_of(k)));
                            match client.set_multi_report(items, "", 0) {
                                Ok(report) => {
                                    report.server_errors.into_iter().for_each(|f| note(f.error))
                                }
                                Err(e) => note(e),
                            }
                        }
                    }
                    done += 1;
                }
                ops.fetch_add(done, Ordering::Relaxed);
            });
        }
        chaos(&mut servers);
        stop.store(true, Ordering::SeqCst);
    });
    let errors = errors.into_inner().unwrap();
    println!(
        "operations: {}, errors by kind: {errors:?}",
        ops.load(Ordering::Relaxed)
    );
    assert!(ops.load(Ordering::Relaxed) > 500, "the run made progress");
    assert!(!errors.is_empty(), "the outages were seen");

    // Calls succeed again: within a bounded wait every key can be
    // written, then everything reads back without a single error.
    let keys: Vec<String> = (0..200).map(|i| name(1000 + i)).collect();
    let mut failed = keys.clone();
    for _ in 0..50 {
        let items = failed.iter().map(|k| (k.clone(), value_of(k)));
        failed = client.set_multi(items, "", 0).unwrap_or(failed);
        if failed.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(failed.is_empty(), "not stored after recovery: {failed:?}");
    for k in &keys {
        assert_eq!(client.get::<String>(k).unwrap(), Some(value_of(k)));
    }
    let hits: HashMap<String, String> = client.get_multi(keys.iter().cloned(), "").unwrap();
    assert_eq!(hits.len(), keys.len());

    // Nothing leaked: with the client gone, each (restarted) server counts
    // what it counted before the client existed.
    drop(client);
    for (spec, before) in specs.iter().zip(baseline) {
        let now = settle_connections(spec, before);
        assert_eq!(
            now, before,
            "{spec} still counts {now} connections, {before} before"
        );
    }
}

/// `n` keys of `test`'s key space that `client` places on server `index`.
fn keys_on(client: &Client, test: &str, index: usize, n: usize) -> Vec<String> {
    (0..100_000)
        .map(|i| key(test, &format!("on{index}-{i}")))
        .filter(|k| client.hash(k).unwrap() == index)
        .take(n)
        .collect()
}

/// Sixteen threads call a stopped server at once, over two shared
/// connections that take `limits`; returns each call's error kind, and
/// whether the server was ejected (failure limit 3) by that one moment.
/// Afterwards the server is resumed and must answer again.
fn sixteen_callers_on_a_stopped_server(limits: MuxLimits) -> (Vec<String>, bool) {
    const THREADS: usize = 16;
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let client = pipelined(specs(&servers))
        .pipeline_limits(limits)
        .distribution(DistributionKind::Ketama)
        .remove_failed(true)
        .failure_limit(3)
        .retry_timeout(Duration::from_millis(300))
        .dead_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let victim = 1;
    let keys = keys_on(&client, "pipe_once", victim, THREADS);
    for k in &keys {
        assert!(client.set(k, value_of(k), 0).unwrap());
    }
    servers[victim].pause();
    let start = Barrier::new(THREADS);
    let results: Vec<Result<Option<String>, Error>> = std::thread::scope(|s| {
        let calls: Vec<_> = keys
            .iter()
            .map(|k| {
                let (client, start) = (&client, &start);
                s.spawn(move || {
                    start.wait();
                    client.get::<String>(k)
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let kinds: Vec<String> = results
        .iter()
        .map(|r| match r {
            Err(e) if is_outage(e) => kind_of(e),
            other => panic!("a call on a stopped server returned {other:?}"),
        })
        .collect();
    let ejected = keys.iter().any(|k| client.hash(k).unwrap() != victim);
    servers[victim].resume();
    if !ejected {
        std::thread::sleep(Duration::from_millis(350)); // the retry timeout
        for k in &keys {
            assert_eq!(client.get::<String>(k).unwrap(), Some(value_of(k)));
        }
    }
    (kinds, ejected)
}

/// Sixteen threads waiting on a stopped server's two shared connections
/// all fail with a typed error (the I/O timeout), and the server's health
/// counts each broken connection once — not once per caller — so with a
/// failure limit of 3 that one moment does not eject it.
#[test]
fn callers_on_a_stopped_server_time_out_and_each_connection_counts_as_one_failure() {
    let (kinds, ejected) = sixteen_callers_on_a_stopped_server(MuxLimits::default());
    assert!(kinds.iter().all(|k| k == "Timeout"), "{kinds:?}");
    assert!(
        !ejected,
        "one stalled moment ejected the server ({kinds:?})"
    );
}

/// The same with back-pressure: two requests per connection, the other
/// callers waiting for room. When the connection breaks, the waiters fail
/// as the queued callers do (with the timeout, not retried on a fresh
/// connection to the stopped server), and the break still counts once.
#[test]
fn callers_waiting_for_room_on_a_stopped_server_fail_with_the_break_counted_once() {
    let limits = MuxLimits {
        max_segments: 2,
        max_bytes: 4096,
    };
    let (kinds, ejected) = sixteen_callers_on_a_stopped_server(limits);
    assert!(kinds.iter().all(|k| k == "Timeout"), "{kinds:?}");
    assert!(
        !ejected,
        "one stalled moment ejected the server ({kinds:?})"
    );
}

/// Eight get_multi calls whose batch deadline (200 ms) is shorter than the
/// I/O timeout (1 s), queued behind a single get on one shared connection
/// to a stopped server: each batch times out on its own deadline while the
/// get still waits. Those are late because of the queue, not news about
/// the server: only the connection's break (for the get) counts, so the
/// server is not ejected with a failure limit of 3.
#[test]
fn batches_timing_out_behind_a_stalled_request_are_not_each_a_failure_of_the_server() {
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let client = Client::builder()
        .servers(specs(&servers))
        .pipelined(1)
        .io_timeout(Some(Duration::from_secs(1)))
        .batch_deadline(Some(Duration::from_millis(200)))
        .distribution(DistributionKind::Ketama)
        .remove_failed(true)
        .failure_limit(3)
        .retry_timeout(Duration::from_millis(300))
        .dead_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let victim = 2;
    let keys = keys_on(&client, "pipe_behind", victim, 9);
    for k in &keys {
        assert!(client.set(k, value_of(k), 0).unwrap());
    }
    servers[victim].pause();
    let (head, batches) = keys.split_first().unwrap();
    let (single, kinds) = std::thread::scope(|s| {
        let single = s.spawn(|| client.get::<String>(head));
        // Let the get be the oldest request (waiting is not asserted on).
        std::thread::sleep(Duration::from_millis(50));
        let calls: Vec<_> = batches
            .iter()
            .map(|k| {
                let client = &client;
                s.spawn(move || client.get_multi::<_, String>([k.as_str()], ""))
            })
            .collect();
        let kinds: Vec<String> = calls
            .into_iter()
            .map(|c| match c.join().unwrap() {
                Err(e) if is_outage(&e) => kind_of(&e),
                other => panic!("a batch on a stopped server returned {other:?}"),
            })
            .collect();
        (single.join().unwrap(), kinds)
    });
    println!("get: {single:?}, batches: {kinds:?}");
    assert!(matches!(single, Err(Error::Timeout { .. })), "{single:?}");
    assert!(kinds.iter().all(|k| k == "Timeout"), "{kinds:?}");
    let ejected = keys.iter().any(|k| client.hash(k).unwrap() != victim);
    servers[victim].resume();
    assert!(
        !ejected,
        "timeouts behind one stalled request ejected the server"
    );
    std::thread::sleep(Duration::from_millis(350)); // the retry timeout
    for k in &keys {
        assert_eq!(client.get::<String>(k).unwrap(), Some(value_of(k)));
    }
}

/// Runs `threads` callers, each storing then reading back its own key
/// through a proxy, while the server is stopped: once they have had time
/// to queue, returns the request bytes the client put on the wire and how
/// many calls had completed (none can: the server is stopped); then
/// resumes the server and checks that every call completes correctly.
fn backed_up_callers(limits: MuxLimits, threads: usize, value_len: usize) -> (usize, usize) {
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = pipelined([proxy.spec()])
        .pipeline_limits(limits)
        .io_timeout(Some(Duration::from_secs(20)))
        .build()
        .unwrap();
    let value = |k: &str| format!("{k}:").repeat(value_len / (k.len() + 1) + 1);
    assert!(client.set(key("pipe_bp", "warm"), "up", 0).unwrap());
    let before = proxy.request_bytes();
    server.pause();
    let completed = AtomicUsize::new(0);
    let start = Barrier::new(threads + 1);
    let seen = std::thread::scope(|s| {
        for t in 0..threads {
            let (client, completed, start) = (&client, &completed, &start);
            s.spawn(move || {
                let k = key("pipe_bp", &t.to_string());
                start.wait();
                assert!(client.set(&k, value(&k), 0).unwrap());
                assert_eq!(client.get::<String>(&k).unwrap(), Some(value(&k)));
                completed.fetch_add(1, Ordering::SeqCst);
            });
        }
        start.wait();
        // Time to queue (nothing is asserted about how long it takes).
        std::thread::sleep(Duration::from_millis(500));
        let seen = (
            proxy.request_bytes() - before,
            completed.load(Ordering::SeqCst),
        );
        server.resume();
        seen
    });
    assert_eq!(completed.into_inner(), threads, "every call completed");
    seen
}

/// Back-pressure by request count: with at most 2 requests per shared
/// connection, 32 threads calling a stopped server put at most 2 requests
/// per connection on the wire; the others wait, and once the server
/// resumes every call completes with its own value.
#[test]
fn back_pressure_caps_requests_per_connection_and_releases_when_the_server_resumes() {
    let limits = MuxLimits {
        max_segments: 2,
        max_bytes: 4096,
    };
    let (wire, completed) = backed_up_callers(limits, 32, 40);
    // A set of a 40-byte value: header 24, extras 8, key, value.
    let largest = 24 + 8 + key("pipe_bp", "31").len() + 2 * 50;
    println!(
        "bytes on the wire while stopped: {wire} (cap {})",
        2 * 2 * largest
    );
    assert_eq!(
        completed, 0,
        "nothing completes while the server is stopped"
    );
    assert!(wire > 0, "requests were written");
    assert!(wire <= 2 * 2 * largest, "{wire} bytes queued past the cap");
}

/// Back-pressure by bytes: with 4 KiB per connection (and no count limit
/// to speak of), 32 threads storing 1.5 KB values put at most 4 KiB plus
/// the request that crossed it per connection on the wire, not 48 KB.
#[test]
fn back_pressure_caps_bytes_per_connection_and_releases_when_the_server_resumes() {
    let limits = MuxLimits {
        max_segments: 4096,
        max_bytes: 4096,
    };
    let (wire, completed) = backed_up_callers(limits, 32, 1500);
    let largest = 24 + 8 + key("pipe_bp", "31").len() + 1500 + 50;
    println!(
        "bytes on the wire while stopped: {wire} (cap {})",
        2 * (4096 + largest)
    );
    assert_eq!(
        completed, 0,
        "nothing completes while the server is stopped"
    );
    assert!(wire > 0, "requests were written");
    assert!(
        wire <= 2 * (4096 + largest),
        "{wire} bytes queued past the cap"
    );
}

/// A 100,000-key set_multi, then get_multi, on the one shared connection
/// of a server, while four threads keep doing single sets and gets on the
/// same connection: the batch goes in windows, so the small calls complete
/// during it (counted only when the batch ran for their whole call), and
/// every value, the batch's and theirs, is right.
#[test]
fn a_hundred_thousand_key_batch_shares_the_connection_with_calls_that_keep_completing() {
    const KEYS: usize = 100_000;
    const WORKERS: u64 = 4;
    let server = support::shared();
    let client = Client::builder()
        .servers([server.spec()])
        .pipelined(1)
        .io_timeout(Some(Duration::from_secs(5)))
        .batch_deadline(Some(Duration::from_secs(60)))
        .build()
        .unwrap();
    let name = |i: usize| key("pipe_huge", &i.to_string());
    let keys: Vec<String> = (0..KEYS).map(name).collect();
    let batch_running = AtomicBool::new(false);
    let batches_done = AtomicBool::new(false);
    let during = AtomicU64::new(0);
    let run_batches = || {
        batch_running.store(true, Ordering::SeqCst);
        let failed = client
            .set_multi(keys.iter().map(|k| (k.as_str(), value_of(k))), "", 0)
            .unwrap();
        batch_running.store(false, Ordering::SeqCst);
        assert!(failed.is_empty(), "{} keys not stored", failed.len());
        let during_set = during.swap(0, Ordering::SeqCst);
        batch_running.store(true, Ordering::SeqCst);
        let hits: HashMap<&str, String> = client
            .get_multi(keys.iter().map(String::as_str), "")
            .unwrap();
        batch_running.store(false, Ordering::SeqCst);
        batches_done.store(true, Ordering::SeqCst);
        assert_eq!(hits.len(), KEYS);
        for (k, v) in &hits {
            assert_eq!(v, &value_of(k), "a batch value went wrong");
        }
        (during_set, during.load(Ordering::SeqCst))
    };
    let (during_set, during_get) = std::thread::scope(|s| {
        for t in 0..WORKERS {
            let (client, batch_running, batches_done, during) =
                (&client, &batch_running, &batches_done, &during);
            s.spawn(move || {
                let give_up = Instant::now() + Duration::from_secs(60);
                let mut rng = Rng(0x1234_5678 ^ (t + 1));
                for _ in 0..1_000_000 {
                    if batches_done.load(Ordering::SeqCst) || Instant::now() > give_up {
                        break;
                    }
                    let k = key("pipe_huge_small", &rng.below(1000).to_string());
                    let was_running = batch_running.load(Ordering::SeqCst);
                    assert!(client.set(&k, value_of(&k), 0).unwrap());
                    assert_eq!(client.get::<String>(&k).unwrap(), Some(value_of(&k)));
                    if was_running && batch_running.load(Ordering::SeqCst) {
                        during.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        run_batches()
    });
    println!(
        "small calls completed during set_multi: {during_set}, during get_multi: {during_get}"
    );
    assert!(
        during_set > 0,
        "no small call completed during the 100,000-key set_multi"
    );
    assert!(
        during_get > 0,
        "no small call completed during the 100,000-key get_multi"
    );
}

/// With back-pressure and a short I/O timeout, 32 threads (single calls
/// and batches) on a stopped server fail with `Error::Timeout` — the ones
/// waiting for room as well as the ones queued — rather than wait for the
/// server; after it resumes, calls succeed again.
#[test]
fn callers_waiting_for_room_fail_with_a_timeout_instead_of_hanging() {
    const THREADS: usize = 32;
    let server = Memcached::start();
    let client = pipelined([server.spec()])
        .pipeline_limits(MuxLimits {
            max_segments: 2,
            max_bytes: 4096,
        })
        .io_timeout(Some(Duration::from_millis(200)))
        .batch_deadline(Some(Duration::from_millis(400)))
        .retry_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let name = |t: usize| key("pipe_bp_timeout", &t.to_string());
    for t in 0..THREADS {
        assert!(client.set(name(t), value_of(&name(t)), 0).unwrap());
    }
    server.pause();
    let (done, results) = mpsc::channel();
    let start = Arc::new(Barrier::new(THREADS));
    for t in 0..THREADS {
        let (client, done, start) = (client.clone(), done.clone(), start.clone());
        std::thread::spawn(move || {
            start.wait();
            let result = if t % 4 == 0 {
                let keys: Vec<String> = (0..300).map(|i| name((t + i) % THREADS)).collect();
                client
                    .get_multi::<_, String>(keys.iter().cloned(), "")
                    .map(|hits| hits.len())
            } else {
                client
                    .get::<String>(name(t))
                    .map(|hit| usize::from(hit.is_some()))
            };
            let _ = done.send(result);
        });
    }
    // A hang shows as a missing result (bounded wait, not a timing claim).
    let end = Instant::now() + Duration::from_secs(20);
    let mut kinds = BTreeMap::<String, usize>::new();
    for _ in 0..THREADS {
        let left = end.saturating_duration_since(Instant::now());
        match results.recv_timeout(left) {
            Ok(Err(e)) => *kinds.entry(kind_of(&e)).or_default() += 1,
            Ok(Ok(n)) => panic!("a call on a stopped server returned {n} hits"),
            Err(_) => panic!("calls still waiting after 20 s: {kinds:?}"),
        }
    }
    server.resume();
    println!("errors: {kinds:?}");
    assert_eq!(kinds.get("Timeout"), Some(&THREADS), "{kinds:?}");
    std::thread::sleep(Duration::from_millis(150)); // the retry timeout
    for t in 0..THREADS {
        assert_eq!(
            client.get::<String>(name(t)).unwrap(),
            Some(value_of(&name(t)))
        );
    }
}

/// A client on one shared connection to `server`, through a proxy that
/// can hold replies back, with `keys` stored (each with its `value_of`).
fn one_connection_via_proxy(server: &Memcached, keys: &[&String]) -> (Proxy, Client) {
    let proxy = Proxy::start(&server.spec());
    let client = pipelined([proxy.spec()])
        .pipelined(1)
        .io_timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();
    for k in keys {
        assert!(client.set(k, value_of(k), 0).unwrap());
    }
    (proxy, client)
}

/// A get of `k` on its own thread: whether its request reached the proxy
/// within `within`, and the call.
fn newcomer(
    proxy: &Proxy,
    client: &Client,
    k: &str,
    within: Duration,
) -> (
    bool,
    std::thread::JoinHandle<quickmc::Result<Option<String>>>,
) {
    let before = proxy.request_bytes();
    let (client, k) = (client.clone(), k.to_owned());
    let call = std::thread::spawn(move || client.get::<String>(&k));
    let end = Instant::now() + within;
    while proxy.request_bytes() == before && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    (proxy.request_bytes() > before, call)
}

/// A lone reader waits for its reply in a blocking read, where it cannot
/// be asked to write: a caller arriving meanwhile writes its own request
/// at once (it does not wait for the reader's reply), and both are answered.
#[test]
fn a_caller_arriving_while_the_lone_reader_waits_writes_its_own_request_at_once() {
    let (first, second) = (key("pipe_alone", "first"), key("pipe_alone", "second"));
    let (proxy, client) = one_connection_via_proxy(&pair()[0], &[&first, &second]);
    // The first caller's reply is held back for long after the second
    // caller's request should have gone out.
    proxy.set_fault(support::proxy::Fault::Delay(Duration::from_secs(2)));
    let (c, k) = (client.clone(), first.clone());
    let reader = std::thread::spawn(move || c.get::<String>(&k));
    std::thread::sleep(Duration::from_millis(200));
    let (written_at_once, newcomer) =
        newcomer(&proxy, &client, &second, Duration::from_millis(1500));
    let got = (reader.join().unwrap(), newcomer.join().unwrap());
    proxy.set_fault(support::proxy::Fault::Pass);
    assert!(
        written_at_once,
        "the second request waited for the first reply"
    );
    assert_eq!(got.0.unwrap(), Some(value_of(&first)));
    assert_eq!(got.1.unwrap(), Some(value_of(&second)));
}

/// Requests larger than the socket's buffers can take while the server is
/// stopped: each write sends what the socket takes and puts the rest back
/// in front of what was queued since; once the server resumes, the rest
/// goes out in order, and every call completes with its own value (a lost
/// or misplaced byte would desynchronise the stream).
#[test]
fn writes_the_socket_cannot_take_at_once_go_out_in_order_when_the_server_resumes() {
    const THREADS: usize = 24;
    let server = Memcached::start();
    let client = pipelined([server.spec()])
        .pipelined(1)
        .io_timeout(Some(Duration::from_secs(30)))
        .build()
        .unwrap();
    // 24 values of 900 KB: more than loopback's socket buffers hold.
    let value = |k: &str| format!("{k}:").repeat(900_000 / (k.len() + 1));
    assert!(client.set(key("pipe_full", "warm"), "up", 0).unwrap());
    server.pause();
    let start = Barrier::new(THREADS + 1);
    std::thread::scope(|s| {
        let calls: Vec<_> = (0..THREADS)
            .map(|t| {
                let (client, start) = (&client, &start);
                s.spawn(move || {
                    let k = key("pipe_full", &t.to_string());
                    start.wait();
                    let stored = client.set(&k, value(&k), 0);
                    (k, stored)
                })
            })
            .collect();
        start.wait();
        std::thread::sleep(Duration::from_millis(500));
        server.resume();
        for call in calls {
            let (k, stored) = call.join().unwrap();
            assert!(stored.unwrap(), "{k} stored");
            assert_eq!(client.get::<String>(&k).unwrap(), Some(value(&k)));
        }
    });
}

/// A reader waiting in `poll` (its batch not all sent) is asked to write
/// each newcomer's request, every time: after it wrote one caller's
/// request, the next caller's still goes out at once, not when the
/// reader next wakes for a reply.
#[test]
fn a_reader_in_poll_writes_every_newcomers_request_at_once() {
    let (b, c) = (key("pipe_poll", "b"), key("pipe_poll", "c"));
    let (proxy, client) = one_connection_via_proxy(&pair()[1], &[&b, &c]);
    // Three windows of misses: the reader polls for the replies to the
    // first two, which are held back for a second.
    let missing: Vec<String> = (0..2500)
        .map(|i| key("pipe_poll", &format!("m{i}")))
        .collect();
    proxy.set_fault(support::proxy::Fault::Delay(Duration::from_secs(1)));
    let (batch_client, keys) = (client.clone(), missing.clone());
    let batch = std::thread::spawn(move || batch_client.get_multi::<_, String>(keys, ""));
    // Both are written long before the replies come (a second from now).
    std::thread::sleep(Duration::from_millis(100));
    let within = Duration::from_millis(450);
    let (first_written, first) = newcomer(&proxy, &client, &b, within);
    let (second_written, second) = newcomer(&proxy, &client, &c, within);
    let hits = batch.join().unwrap();
    let got = (first.join().unwrap(), second.join().unwrap());
    proxy.set_fault(support::proxy::Fault::Pass);
    assert!(first_written, "the first newcomer's request waited");
    assert!(second_written, "the second newcomer's request waited");
    assert!(hits.unwrap().is_empty());
    assert_eq!(got.0.unwrap(), Some(value_of(&b)));
    assert_eq!(got.1.unwrap(), Some(value_of(&c)));
}
