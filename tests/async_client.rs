//! The async client (feature `tokio`) against real memcached: every
//! operation as in the blocking client, hundreds of tasks at once,
//! cancellation at random points, servers killed, restarted and stopped
//! under load, back-pressure, huge batches beside small calls, and no
//! connection left behind.
//!
//! Every value is derived from its key, so a reply that reached the wrong
//! caller shows. Loops are bounded in count and in time; nothing asserts
//! that anything was fast.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use quickmc::command::MuxLimits;
use quickmc::{AsyncClient, Client, Error};
use support::load::{self, Rng, is_outage, kind_of};
use support::proxy::Proxy;
use support::{Memcached, Options, key};

/// Two memcached shared by the tests here that never stop, restart or
/// flush them (each uses its own keys).
fn pair() -> &'static [Memcached] {
    static PAIR: OnceLock<Vec<Memcached>> = OnceLock::new();
    PAIR.get_or_init(|| (0..2).map(|_| Memcached::start()).collect())
}

fn specs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::spec).collect()
}

/// An async client builder with short timeouts.
fn quick(servers: impl IntoIterator<Item = String>) -> quickmc::ClientBuilder {
    AsyncClient::builder()
        .servers(servers)
        .connect_timeout(Duration::from_millis(300))
        .io_timeout(Some(Duration::from_millis(300)))
}

/// The value every test stores under `key`: different for every key, of
/// a length that varies with it.
fn value_of(key: &str) -> String {
    format!("value-of[{key}]").repeat(1 + key.len() % 5)
}

/// A general statistic of a server, asked by a plain blocking client of
/// its own (off the runtime's threads). memcached counts that client's
/// connection, as it counts its listening sockets, in `curr_connections`.
/// The server's `curr_connections` once steady (see `load::steady_connections`).
async fn steady(spec: &str) -> u64 {
    let spec = spec.to_string();
    tokio::task::spawn_blocking(move || load::steady_connections(&spec))
        .await
        .unwrap()
}

async fn stat(spec: &str, name: &'static str) -> u64 {
    let spec = spec.to_string();
    tokio::task::spawn_blocking(move || load::stat(&spec, name))
        .await
        .unwrap()
}

/// Polls `curr_connections` (for at most 5 s) until `done` says so;
/// returns the last count seen.
async fn settle_connections(spec: &str, done: impl Fn(u64) -> bool) -> u64 {
    let end = Instant::now() + Duration::from_secs(5);
    let mut now = stat(spec, "curr_connections").await;
    while !done(now) && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = stat(spec, "curr_connections").await;
    }
    now
}

/// What the blocking pooled client returns for the script below (see
/// `every_operation_gives_the_pooled_clients_results` in pipelined.rs).
const EXPECTED: &[(&str, &str)] = &[
    ("get missing", "Ok(None)"),
    ("get_or missing", "Ok(\"dflt\")"),
    ("contains missing", "Ok(false)"),
    ("fetch missing", "Err(NotFound)"),
    ("set", "Ok(true)"),
    ("get", "Ok(Some(\"alpha\"))"),
    ("contains", "Ok(true)"),
    ("add existing", "Ok(false)"),
    ("add new", "Ok(true)"),
    ("replace", "Ok(true)"),
    ("replace missing", "Ok(false)"),
    ("append", "Ok(true)"),
    ("prepend", "Ok(true)"),
    ("append missing", "Ok(false)"),
    ("get concatenated", "Ok(Some(\"head+alpha+tail\"))"),
    ("gets", "Ok(Some((\"head+alpha+tail\", true)))"),
    ("cas current", "Ok(true)"),
    ("cas stale", "Ok(false)"),
    ("cas missing", "Err(NotFound)"),
    ("gat", "Ok(Some(\"swapped\"))"),
    ("gat missing", "Ok(None)"),
    ("touch", "Ok(true)"),
    ("touch missing", "Ok(false)"),
    ("insert", "Ok(())"),
    ("fetch", "Ok(\"inserted\")"),
    ("remove", "Ok(())"),
    ("remove missing", "Err(NotFound)"),
    ("set counter", "Ok(true)"),
    ("incr", "Ok(15)"),
    ("decr past zero", "Ok(0)"),
    ("incr missing", "Err(NotFound)"),
    ("decr missing", "Err(NotFound)"),
    ("incr non-numeric", "Err(NonNumeric)"),
    ("delete", "Ok(true)"),
    ("delete missing", "Ok(false)"),
    ("set_multi", "Ok([])"),
    ("get_multi", "Ok((60, true))"),
    ("get_multi_report", "Ok(((60, true), true))"),
    ("gat_multi", "Ok((60, true))"),
    ("add_multi", "Ok([\"m0\"])"),
    ("touch_multi", "Ok([\"gone\"])"),
    ("set_multi counters", "Ok([])"),
    ("incr_multi", "Ok(())"),
    ("decr_multi", "Ok(())"),
    ("counters", "Ok({\"c0\": 9, \"c1\": 9, \"c2\": 9})"),
    ("incr_multi missing", "Err(NotFound)"),
    ("decr_multi missing", "Err(NotFound)"),
    ("delete_multi", "Ok(true)"),
    ("delete_multi again", "Ok(false)"),
    ("get_multi deleted", "Ok(0)"),
    ("stats", "Ok((1, true))"),
    ("version", "[Ok(true)]"),
    ("ping", "[true]"),
    ("flush_all", "Ok(())"),
    ("get flushed", "Ok(None)"),
];

/// Runs every operation once, in an order whose results are all known,
/// and writes each result down as text (CAS ids as "current or not").
async fn every_operation(c: &AsyncClient, test: &str) -> Vec<(&'static str, String)> {
    let k = |name: &str| key(test, name);
    let mut rows: Vec<(&'static str, String)> = Vec::new();
    let mut row = |label: &'static str, result: String| rows.push((label, result));
    let correct = |hits: &HashMap<String, String>| {
        (
            hits.len(),
            hits.iter().all(|(name, v)| *v == value_of(name)),
        )
    };

    row(
        "get missing",
        format!("{:?}", c.get::<String>(k("a")).await),
    );
    row(
        "get_or missing",
        format!("{:?}", c.get_or(k("a"), String::from("dflt")).await),
    );
    row(
        "contains missing",
        format!("{:?}", c.contains(k("a")).await),
    );
    row(
        "fetch missing",
        format!("{:?}", c.fetch::<String>(k("a")).await),
    );
    row("set", format!("{:?}", c.set(k("a"), "alpha", 0).await));
    row("get", format!("{:?}", c.get::<String>(k("a")).await));
    row("contains", format!("{:?}", c.contains(k("a")).await));
    row("add existing", format!("{:?}", c.add(k("a"), "x", 0).await));
    row("add new", format!("{:?}", c.add(k("b"), "beta", 0).await));
    row(
        "replace",
        format!("{:?}", c.replace(k("b"), "BETA", 0).await),
    );
    row(
        "replace missing",
        format!("{:?}", c.replace(k("c"), "x", 0).await),
    );
    row(
        "append",
        format!("{:?}", c.append(k("a"), "+tail", 0).await),
    );
    row(
        "prepend",
        format!("{:?}", c.prepend(k("a"), "head+", 0).await),
    );
    row(
        "append missing",
        format!("{:?}", c.append(k("c"), "x", 0).await),
    );
    row(
        "get concatenated",
        format!("{:?}", c.get::<String>(k("a")).await),
    );
    let cas = c.gets::<String>(k("a")).await.unwrap().unwrap().1;
    row(
        "gets",
        format!(
            "{:?}",
            c.gets::<String>(k("a"))
                .await
                .map(|hit| hit.map(|(v, id)| (v, id == cas)))
        ),
    );
    row(
        "cas current",
        format!("{:?}", c.cas(k("a"), "swapped", cas, 0).await),
    );
    row(
        "cas stale",
        format!("{:?}", c.cas(k("a"), "again", cas, 0).await),
    );
    row(
        "cas missing",
        format!("{:?}", c.cas(k("c"), "x", cas, 0).await),
    );
    row("gat", format!("{:?}", c.gat::<String>(k("a"), 300).await));
    row(
        "gat missing",
        format!("{:?}", c.gat::<String>(k("c"), 300).await),
    );
    row("touch", format!("{:?}", c.touch(k("a"), 300).await));
    row("touch missing", format!("{:?}", c.touch(k("c"), 300).await));
    row(
        "insert",
        format!("{:?}", c.insert(k("i"), "inserted").await),
    );
    row("fetch", format!("{:?}", c.fetch::<String>(k("i")).await));
    row("remove", format!("{:?}", c.remove(k("i")).await));
    row("remove missing", format!("{:?}", c.remove(k("i")).await));
    row(
        "set counter",
        format!("{:?}", c.set(k("n"), 10u64, 0).await),
    );
    row("incr", format!("{:?}", c.incr(k("n"), 5).await));
    row("decr past zero", format!("{:?}", c.decr(k("n"), 20).await));
    row("incr missing", format!("{:?}", c.incr(k("c"), 1).await));
    row("decr missing", format!("{:?}", c.decr(k("c"), 1).await));
    row("incr non-numeric", format!("{:?}", c.incr(k("a"), 1).await));
    row("delete", format!("{:?}", c.delete(k("b")).await));
    row("delete missing", format!("{:?}", c.delete(k("b")).await));

    // Many keys, with a prefix: results keyed by the caller's keys.
    let prefix = format!("{test}:");
    let names: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
    let full = |name: &str| format!("{prefix}{name}");
    let items = || names.iter().map(|n| (n.clone(), value_of(&full(n))));
    row(
        "set_multi",
        format!("{:?}", c.set_multi(items(), &prefix, 0).await),
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
                .await
                .map(|h| correct(&unprefixed(h)))
        ),
    );
    row(
        "get_multi_report",
        format!(
            "{:?}",
            c.get_multi_report::<_, String>(with_absent(), &prefix)
                .await
                .map(|(h, r)| (correct(&unprefixed(h)), r.is_complete()))
        ),
    );
    row(
        "gat_multi",
        format!(
            "{:?}",
            c.gat_multi::<_, String>(with_absent(), &prefix, 300)
                .await
                .map(|h| correct(&unprefixed(h)))
        ),
    );
    let add = [
        ("m0", value_of(&full("m0"))),
        ("new0", value_of(&full("new0"))),
    ];
    row(
        "add_multi",
        format!("{:?}", c.add_multi(add, &prefix, 0).await),
    );
    row(
        "touch_multi",
        format!("{:?}", c.touch_multi(["m1", "gone"], &prefix, 300).await),
    );
    let counters = ["c0", "c1", "c2"];
    row(
        "set_multi counters",
        format!(
            "{:?}",
            c.set_multi(counters.iter().map(|n| (*n, 7u64)), &prefix, 0)
                .await
        ),
    );
    row(
        "incr_multi",
        format!("{:?}", c.incr_multi(counters, &prefix, 3).await),
    );
    row(
        "decr_multi",
        format!("{:?}", c.decr_multi(counters, &prefix, 1).await),
    );
    row(
        "counters",
        format!(
            "{:?}",
            c.get_multi::<_, u64>(counters, &prefix)
                .await
                .map(|h| h.into_iter().collect::<BTreeMap<_, _>>())
        ),
    );
    row(
        "incr_multi missing",
        format!("{:?}", c.incr_multi(["c0", "nope"], &prefix, 1).await),
    );
    row(
        "decr_multi missing",
        format!("{:?}", c.decr_multi(["nope"], &prefix, 1).await),
    );
    row(
        "delete_multi",
        format!("{:?}", c.delete_multi(names.iter(), &prefix).await),
    );
    row(
        "delete_multi again",
        format!("{:?}", c.delete_multi(names.iter(), &prefix).await),
    );
    row(
        "get_multi deleted",
        format!(
            "{:?}",
            c.get_multi::<_, String>(names.iter(), &prefix)
                .await
                .map(|h| h.len())
        ),
    );

    // Every server (this client has one, private to the test).
    row(
        "stats",
        format!(
            "{:?}",
            c.stats("")
                .await
                .map(|s| (s.len(), s[0].1.contains_key("curr_items")))
        ),
    );
    row(
        "version",
        format!(
            "{:?}",
            c.version()
                .await
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
                .await
                .into_iter()
                .map(|(_, p)| p.is_ok())
                .collect::<Vec<_>>()
        ),
    );
    row("flush_all", format!("{:?}", c.flush_all(0).await));
    row(
        "get flushed",
        format!("{:?}", c.get::<String>(k("a")).await),
    );
    rows
}

/// The whole script, over TCP and over a Unix socket (each server private:
/// the script flushes it), on both runtime flavors.
async fn script_matches_the_blocking_client() {
    for options in [
        Options::default(),
        Options {
            unix_socket: true,
            ..Options::default()
        },
    ] {
        let server = Memcached::with(options);
        let client = AsyncClient::new([server.spec()]).unwrap();
        let got = every_operation(&client, "async_ops").await;
        assert_eq!(got.len(), EXPECTED.len());
        for ((label, have), (name, want)) in got.iter().zip(EXPECTED) {
            assert_eq!(label, name);
            assert_eq!(have, want, "{label} over {}", server.spec());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_gives_the_blocking_clients_results() {
    script_matches_the_blocking_client().await;
}

#[tokio::test(flavor = "current_thread")]
async fn every_operation_gives_the_blocking_clients_results_on_a_current_thread_runtime() {
    script_matches_the_blocking_client().await;
}

/// One task's share of the mixed load: single gets and sets, get_multi
/// and set_multi, deletes, on `keys` keys, until `deadline` (at least 20
/// operations, at most 5,000). Every hit must be its own key's value and
/// nothing may fail. Returns how many values it checked.
async fn mixed_load(client: AsyncClient, test: &'static str, seed: u64, deadline: Instant) -> u64 {
    const KEYS: u64 = 3000;
    let name = |i: u64| key(test, &i.to_string());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (seed + 1));
    let mut checked = 0;
    let mut ops = 0;
    while ops < 5_000 && (ops < 20 || Instant::now() < deadline) {
        let k = name(rng.below(KEYS));
        match rng.below(10) {
            0..=3 => {
                if let Some(v) = client.get::<String>(&k).await.unwrap() {
                    assert_eq!(v, value_of(&k), "task {seed}: another key's value");
                    checked += 1;
                }
            }
            4..=5 => assert!(client.set(&k, value_of(&k), 0).await.unwrap()),
            6..=7 => {
                let keys: Vec<String> = (0..1 + rng.below(60))
                    .map(|_| name(rng.below(KEYS)))
                    .collect();
                let hits: HashMap<String, String> =
                    client.get_multi(keys.iter().cloned(), "").await.unwrap();
                for (k, v) in &hits {
                    assert!(keys.contains(k), "task {seed}: a key not asked for");
                    assert_eq!(v, &value_of(k), "task {seed}: another key's value");
                }
                checked += hits.len() as u64;
            }
            8 => {
                let keys: Vec<String> = (0..1 + rng.below(60))
                    .map(|_| name(rng.below(KEYS)))
                    .collect();
                let items = keys.iter().map(|k| (k.as_str(), value_of(k)));
                let failed = client.set_multi(items, "", 0).await.unwrap();
                assert!(failed.is_empty(), "task {seed}: not stored: {failed:?}");
            }
            _ => {
                client.delete(&k).await.unwrap();
            }
        }
        ops += 1;
    }
    checked
}

/// Two hundred tasks on two servers, two shared connections each: every
/// hit is its own key's value, nothing fails, and afterwards every key
/// still reads its own value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tasks_sharing_two_connections_get_only_their_own_values() {
    let client = AsyncClient::builder()
        .servers(specs(pair()))
        .io_timeout(Some(Duration::from_secs(5)))
        .build_async()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let tasks: Vec<_> = (0..200)
        .map(|t| tokio::spawn(mixed_load(client.clone(), "async_many", t, deadline)))
        .collect();
    let mut checked = 0;
    for task in tasks {
        checked += task.await.expect("a task panicked");
    }
    println!("values checked: {checked}");
    assert!(checked > 1000, "the run read values");
    let keys: Vec<String> = (0..3000)
        .map(|i| key("async_many", &i.to_string()))
        .collect();
    let hits: HashMap<String, String> = client.get_multi(keys.iter().cloned(), "").await.unwrap();
    for (k, v) in &hits {
        assert_eq!(v, &value_of(k));
    }
}

/// The same load on a current-thread runtime (every task on one thread).
#[tokio::test(flavor = "current_thread")]
async fn fifty_tasks_on_a_current_thread_runtime_get_only_their_own_values() {
    let client = AsyncClient::builder()
        .servers(specs(pair()))
        .io_timeout(Some(Duration::from_secs(5)))
        .build_async()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let tasks: Vec<_> = (0..50)
        .map(|t| tokio::spawn(mixed_load(client.clone(), "async_one_thread", t, deadline)))
        .collect();
    let mut checked = 0;
    for task in tasks {
        checked += task.await.expect("a task panicked");
    }
    assert!(checked > 100, "the run read values");
}

/// One task under chaos: gets, sets, get_multi and set_multi until `stop`
/// (at most 100,000 operations or 20 s). Every hit is its own key's value;
/// every error is a typed outage, counted by kind in `errors`.
async fn load_under_chaos(
    client: AsyncClient,
    seed: u64,
    stop: Arc<AtomicBool>,
    errors: Arc<Mutex<BTreeMap<String, u64>>>,
) -> u64 {
    let name = |i: u64| key("async_chaos", &i.to_string());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (seed + 1));
    let note = |e: Error| {
        assert!(is_outage(&e), "task {seed}: unexpected error {e:?}");
        *errors.lock().unwrap().entry(kind_of(&e)).or_default() += 1;
    };
    let give_up = Instant::now() + Duration::from_secs(20);
    let mut done = 0;
    while !stop.load(Ordering::SeqCst) && done < 100_000 && Instant::now() < give_up {
        let k = name(rng.below(500));
        match rng.below(4) {
            0 => match client.get::<String>(&k).await {
                Ok(Some(v)) => assert_eq!(v, value_of(&k), "another key's value"),
                Ok(None) => {}
                Err(e) => note(e),
            },
            1 => {
                if let Err(e) = client.set(&k, value_of(&k), 0).await {
                    note(e);
                }
            }
            2 => {
                let keys: Vec<String> = (0..1 + rng.below(30))
                    .map(|_| name(rng.below(500)))
                    .collect();
                match client
                    .get_multi_report::<_, String>(keys.iter().cloned(), "")
                    .await
                {
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
                match client.set_multi_report(items, "", 0).await {
                    Ok(report) => report.server_errors.into_iter().for_each(|f| note(f.error)),
                    Err(e) => note(e),
                }
            }
        }
        done += 1;
    }
    done
}

/// A hundred tasks on two servers while each is stopped, killed and
/// restarted in turn: every call returns its key's value, a miss, or a
/// typed outage error; calls succeed again afterwards; and once the
/// client is dropped each server counts the connections it counted before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_restarts_and_stops_under_load_give_typed_errors_then_recover_without_leaks() {
    let servers: Vec<Memcached> = (0..2).map(|_| Memcached::start()).collect();
    let specs = specs(&servers);
    let mut baseline = Vec::new();
    for spec in &specs {
        baseline.push(steady(spec).await);
    }
    let client = quick(specs.clone())
        .io_timeout(Some(Duration::from_millis(200)))
        .retry_timeout(Duration::from_millis(100))
        .build_async()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let errors: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let tasks: Vec<_> = (0..100)
        .map(|t| {
            let load = load_under_chaos(client.clone(), t, stop.clone(), errors.clone());
            tokio::spawn(load)
        })
        .collect();
    // The chaos, off the runtime.
    let chaos = tokio::task::spawn_blocking(move || {
        let mut servers = servers;
        load::chaos(&mut servers);
        servers
    });
    let servers = chaos.await.expect("the chaos panicked");
    stop.store(true, Ordering::SeqCst);
    let mut ops = 0;
    for task in tasks {
        ops += task.await.expect("a task panicked");
    }
    let errors = errors.lock().unwrap().clone();
    println!("operations: {ops}, errors by kind: {errors:?}");
    assert!(ops > 500, "the run made progress");
    assert!(!errors.is_empty(), "the outages were seen");

    // Calls succeed again: within a bounded wait every key can be
    // written, then everything reads back without a single error.
    let keys: Vec<String> = (0..200)
        .map(|i| key("async_chaos", &(1000 + i).to_string()))
        .collect();
    let mut failed = keys.clone();
    for _ in 0..50 {
        let items = failed.iter().map(|k| (k.clone(), value_of(k)));
        failed = client.set_multi(items, "", 0).await.unwrap_or(failed);
        if failed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed.is_empty(), "not stored after recovery: {failed:?}");
    for k in &keys {
        assert_eq!(client.get::<String>(k).await.unwrap(), Some(value_of(k)));
    }
    let hits: HashMap<String, String> = client.get_multi(keys.iter().cloned(), "").await.unwrap();
    assert_eq!(hits.len(), keys.len());

    // Nothing leaked: with the client gone, each (restarted) server counts
    // what it counted before the client existed.
    drop(client);
    for (spec, before) in specs.iter().zip(baseline) {
        let now = settle_connections(spec, |n| n == before).await;
        assert_eq!(
            now, before,
            "{spec} still counts {now} connections, {before} before"
        );
    }
    drop(servers);
}

/// Waits at most `micros` microseconds for `call`, dropping it mid-flight
/// when the time runs out.
async fn within<F: Future>(micros: u64, call: F) -> Option<F::Output> {
    tokio::time::timeout(Duration::from_micros(micros), call)
        .await
        .ok()
}

/// Two hundred tasks whose calls are dropped at random points — a tokio
/// timeout of 0 to 300 µs around each call (3 ms for 3,000-key batches),
/// `select!` between two calls (the loser dropped), or between a call and
/// a yield — never desynchronize the connections: every call that
/// completes returns its own key's value and never an error, every key
/// still reads its own value afterwards, the connections stay the two the
/// client had, and none is ever replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_dropped_at_random_points_never_desynchronize_the_connections() {
    const KEYS: u64 = 3000;
    let server = Memcached::start(); // private: its connections are counted
    let spec = server.spec();
    let idle = steady(&spec).await;
    let client = AsyncClient::builder()
        .servers([spec.clone()])
        .io_timeout(Some(Duration::from_secs(5)))
        .build_async()
        .unwrap();
    let name = |i: u64| key("async_cancel", &i.to_string());
    let keys: Vec<String> = (0..KEYS).map(name).collect();
    let items = keys.iter().map(|k| (k.as_str(), value_of(k)));
    assert!(client.set_multi(items, "", 0).await.unwrap().is_empty());
    // Both shared connections made (calls at once take the least busy).
    let warm: Vec<_> = (0..50)
        .map(|i| {
            let (client, k) = (client.clone(), name(i));
            tokio::spawn(async move { client.get::<String>(&k).await.unwrap() })
        })
        .collect();
    for w in warm {
        w.await.unwrap();
    }
    let with_client = stat(&spec, "curr_connections").await;
    let accepted_before = stat(&spec, "total_connections").await;
    assert_eq!(
        with_client,
        idle + 2,
        "the client holds its two connections"
    );

    let deadline = Instant::now() + Duration::from_secs(3);
    let all = Arc::new(keys.clone());
    let completed = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..200u64)
        .map(|t| {
            let (client, completed, dropped) = (client.clone(), completed.clone(), dropped.clone());
            let all = all.clone();
            tokio::spawn(async move {
                let all_keys: &[String] = &all;
                let mut rng = Rng(0xdead_beef ^ (t + 1));
                let check = |k: &str, v: Option<String>| {
                    assert_eq!(v, Some(value_of(k)), "task {t}: {k} read another value");
                };
                let check_hits = |asked: &[String], hits: HashMap<String, String>| {
                    // Every key asked for is stored: each (distinct) one hits.
                    let distinct: std::collections::HashSet<&String> = asked.iter().collect();
                    assert_eq!(hits.len(), distinct.len(), "task {t}: hits went missing");
                    for (k, v) in hits {
                        assert_eq!(v, value_of(&k), "task {t}: {k} read another value");
                    }
                };
                let mut ops = 0;
                while ops < 400 && (ops < 10 || Instant::now() < deadline) {
                    ops += 1;
                    let k = name(rng.below(KEYS));
                    let micros = rng.below(300);
                    let done = match rng.below(6) {
                        0 => within(micros, client.get::<String>(&k))
                            .await
                            .map(|r| check(&k, r.unwrap()))
                            .is_some(),
                        1 => within(micros, client.set(&k, value_of(&k), 0))
                            .await
                            .map(|r| assert!(r.unwrap()))
                            .is_some(),
                        2 => {
                            let asked: Vec<String> = (0..1 + rng.below(40))
                                .map(|_| name(rng.below(KEYS)))
                                .collect();
                            within(micros, client.get_multi(asked.iter().cloned(), ""))
                                .await
                                .map(|r| check_hits(&asked, r.unwrap()))
                                .is_some()
                        }
                        3 => {
                            // The whole key space: three windows, dropped
                            // anywhere among them.
                            let all = all.iter().cloned();
                            within(micros * 10, client.get_multi(all, ""))
                                .await
                                .map(|r| check_hits(all_keys, r.unwrap()))
                                .is_some()
                        }
                        4 => {
                            let other = name(rng.below(KEYS));
                            tokio::select! {
                                r = client.get::<String>(&k) => check(&k, r.unwrap()),
                                r = client.gets::<String>(&other) => {
                                    check(&other, r.unwrap().map(|(v, _)| v))
                                }
                            }
                            true
                        }
                        _ => tokio::select! {
                            r = client.get::<String>(&k) => {
                                check(&k, r.unwrap());
                                true
                            }
                            _ = tokio::task::yield_now() => false,
                        },
                    };
                    let counter = if done { &completed } else { &dropped };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task panicked");
    }
    let (completed, dropped) = (
        completed.load(Ordering::Relaxed),
        dropped.load(Ordering::Relaxed),
    );
    println!("completed: {completed}, dropped mid-flight: {dropped}");
    assert!(completed > 100 && dropped > 100, "both outcomes happened");

    // No desync: every key still reads its own value, one by one and all
    // at once.
    for i in 0..300 {
        let k = name(i * 10);
        assert_eq!(client.get::<String>(&k).await.unwrap(), Some(value_of(&k)));
    }
    let hits: HashMap<String, String> = client.get_multi(keys.iter().cloned(), "").await.unwrap();
    assert_eq!(hits.len(), keys.len());
    for (k, v) in &hits {
        assert_eq!(v, &value_of(k));
    }
    // The connections stayed the client's two: none replaced (the only
    // connection accepted since is the probe asking), none more.
    let accepted = stat(&spec, "total_connections").await - accepted_before;
    assert_eq!(accepted, 1, "the storm made {} connections", accepted - 1);
    let now = settle_connections(&spec, |n| n <= with_client).await;
    assert_eq!(now, with_client, "connections open beside the client's two");
    drop(client);
    let now = settle_connections(&spec, |n| n == idle).await;
    assert_eq!(now, idle, "connections left open by the dropped client");
}

/// A value above the client's `max_value_size` is `ValueTooLarge` for the
/// task that asked, and the tasks sharing its connection go on unharmed
/// (its body is skipped, the connection kept).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_above_the_limit_fails_its_task_only() {
    let server = &pair()[0];
    let big = key("async_oversized", "big");
    let small = key("async_oversized", "small");
    let writer = server.client();
    tokio::task::block_in_place(|| {
        assert!(writer.set(&big, vec![7u8; 64 << 10], 0).unwrap());
        assert!(writer.set(&small, value_of(&small), 0).unwrap());
    });
    let client = quick([server.spec()])
        .pipelined(1)
        .max_value_size(4096)
        .build_async()
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (client, big, small) = (client.clone(), big.clone(), small.clone());
            tokio::spawn(async move {
                let mut errors = Vec::new();
                for _ in 0..200 {
                    if t == 0 {
                        let got = client.get::<Vec<u8>>(&big).await;
                        assert!(matches!(got, Err(Error::ValueTooLarge { .. })), "{got:?}");
                    } else {
                        match client.get::<String>(&small).await {
                            Ok(v) => assert_eq!(v, Some(value_of(&small))),
                            Err(e) => errors.push(format!("{e:?}")),
                        }
                    }
                }
                errors
            })
        })
        .collect();
    let mut errors = Vec::new();
    for task in tasks {
        errors.extend(task.await.expect("a task panicked"));
    }
    assert!(
        errors.is_empty(),
        "{} failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(3)]
    );
}

/// Back-pressure: with at most 2 requests per shared connection, 200
/// tasks calling a stopped server (through a proxy that counts request
/// bytes) put at most 2 requests per connection on the wire and none
/// completes; once the server resumes every task completes with its own
/// value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_pressure_caps_requests_per_connection_and_releases_when_the_server_resumes() {
    const TASKS: usize = 200;
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = quick([proxy.spec()])
        .pipeline_limits(MuxLimits {
            max_segments: 2,
            max_bytes: 4096,
        })
        .io_timeout(Some(Duration::from_secs(20)))
        .build_async()
        .unwrap();
    let name = |t: usize| key("async_bp", &t.to_string());
    assert!(client.set(name(9999), "warm", 0).await.unwrap());
    let before = proxy.request_bytes();
    tokio::task::block_in_place(|| server.pause());
    let completed = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (client, completed) = (client.clone(), completed.clone());
            tokio::spawn(async move {
                let k = name(t);
                assert!(client.set(&k, value_of(&k), 0).await.unwrap());
                assert_eq!(client.get::<String>(&k).await.unwrap(), Some(value_of(&k)));
                completed.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Time to queue (nothing is asserted about how long it takes).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let wire = proxy.request_bytes() - before;
    let done_while_stopped = completed.load(Ordering::SeqCst);
    server.resume();
    for task in tasks {
        task.await.expect("a task panicked");
    }
    // The largest set: header 24, extras 8, key, value.
    let largest = (0..TASKS)
        .map(|t| 24 + 8 + name(t).len() + value_of(&name(t)).len())
        .max()
        .unwrap();
    println!(
        "bytes on the wire while stopped: {wire} (cap {})",
        2 * 2 * largest
    );
    assert_eq!(
        done_while_stopped, 0,
        "nothing completes while the server is stopped"
    );
    assert!(wire > 0, "requests were written");
    assert!(wire <= 2 * 2 * largest, "{wire} bytes queued past the cap");
    assert_eq!(
        completed.load(Ordering::SeqCst),
        TASKS,
        "every task completed"
    );
}

/// With back-pressure and a short I/O timeout, 200 tasks (single calls and
/// batches) on a stopped server fail with `Error::Timeout` — those waiting
/// for room as well as those queued — rather than wait for the server;
/// after it resumes, calls succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_waiting_for_room_fail_with_a_timeout_instead_of_hanging() {
    const TASKS: usize = 200;
    let server = Memcached::start();
    let client = quick([server.spec()])
        .pipeline_limits(MuxLimits {
            max_segments: 2,
            max_bytes: 4096,
        })
        .io_timeout(Some(Duration::from_millis(200)))
        .batch_deadline(Some(Duration::from_millis(400)))
        .retry_timeout(Duration::from_millis(100))
        .build_async()
        .unwrap();
    let name = |t: usize| key("async_bp_timeout", &t.to_string());
    let items: Vec<(String, String)> = (0..TASKS).map(|t| (name(t), value_of(&name(t)))).collect();
    assert!(client.set_multi(items, "", 0).await.unwrap().is_empty());
    tokio::task::block_in_place(|| server.pause());
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let client = client.clone();
            tokio::spawn(async move {
                if t % 4 == 0 {
                    let keys: Vec<String> = (0..300).map(|i| name((t + i) % TASKS)).collect();
                    client
                        .get_multi::<_, String>(keys, "")
                        .await
                        .map(|hits| hits.len())
                } else {
                    client
                        .get::<String>(name(t))
                        .await
                        .map(|hit| usize::from(hit.is_some()))
                }
            })
        })
        .collect();
    // A hang shows as a timeout here (bounded wait, not a timing claim).
    let all = async {
        let mut kinds = BTreeMap::<String, usize>::new();
        for task in tasks {
            match task.await.expect("a task panicked") {
                Err(e) => *kinds.entry(kind_of(&e)).or_default() += 1,
                Ok(n) => panic!("a call on a stopped server returned {n} hits"),
            }
        }
        kinds
    };
    let kinds = tokio::time::timeout(Duration::from_secs(20), all).await;
    server.resume();
    let kinds = kinds.expect("tasks still waiting after 20 s");
    println!("errors: {kinds:?}");
    assert_eq!(kinds.get("Timeout"), Some(&TASKS), "{kinds:?}");
    tokio::time::sleep(Duration::from_millis(150)).await; // the retry timeout
    for t in 0..TASKS {
        let k = name(t);
        assert_eq!(client.get::<String>(&k).await.unwrap(), Some(value_of(&k)));
    }
}

/// A 100,000-key set_multi, then get_multi, on the one shared connection
/// of a server, while eight tasks keep doing single sets and gets on it:
/// the batch goes in windows, so the small calls complete during it
/// (counted only when the batch ran for their whole call), and every
/// value, the batch's and theirs, is right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_key_batch_shares_the_connection_with_tasks_that_keep_completing() {
    const KEYS: usize = 100_000;
    let client = AsyncClient::builder()
        .servers([support::shared().spec()])
        .pipelined(1)
        .io_timeout(Some(Duration::from_secs(5)))
        .batch_deadline(Some(Duration::from_secs(60)))
        .build_async()
        .unwrap();
    let keys: Vec<String> = (0..KEYS)
        .map(|i| key("async_huge", &i.to_string()))
        .collect();
    let batch_running = Arc::new(AtomicBool::new(false));
    let batches_done = Arc::new(AtomicBool::new(false));
    let during = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..8u64)
        .map(|t| {
            let client = client.clone();
            let (batch_running, batches_done, during) =
                (batch_running.clone(), batches_done.clone(), during.clone());
            tokio::spawn(async move {
                let give_up = Instant::now() + Duration::from_secs(60);
                let mut rng = Rng(0x1234_5678 ^ (t + 1));
                for _ in 0..1_000_000 {
                    if batches_done.load(Ordering::SeqCst) || Instant::now() > give_up {
                        break;
                    }
                    let k = key("async_huge_small", &rng.below(1000).to_string());
                    let was_running = batch_running.load(Ordering::SeqCst);
                    assert!(client.set(&k, value_of(&k), 0).await.unwrap());
                    assert_eq!(client.get::<String>(&k).await.unwrap(), Some(value_of(&k)));
                    if was_running && batch_running.load(Ordering::SeqCst) {
                        during.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    batch_running.store(true, Ordering::SeqCst);
    let items = keys.iter().map(|k| (k.as_str(), value_of(k)));
    let failed = client.set_multi(items, "", 0).await.unwrap();
    batch_running.store(false, Ordering::SeqCst);
    assert!(failed.is_empty(), "{} keys not stored", failed.len());
    let during_set = during.swap(0, Ordering::SeqCst);
    batch_running.store(true, Ordering::SeqCst);
    let hits: HashMap<&str, String> = client
        .get_multi(keys.iter().map(String::as_str), "")
        .await
        .unwrap();
    batch_running.store(false, Ordering::SeqCst);
    batches_done.store(true, Ordering::SeqCst);
    let during_get = during.load(Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("a worker panicked");
    }
    assert_eq!(hits.len(), KEYS);
    for (k, v) in &hits {
        assert_eq!(v, &value_of(k), "a batch value went wrong");
    }
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

/// A dropped client closes its connections — also when it is dropped
/// with calls in flight on a stopped server (their tasks aborted): each
/// server counts, once resumed, what it counted before the client existed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_client_leaves_no_connection_open() {
    let servers: Vec<Memcached> = (0..2).map(|_| Memcached::start()).collect();
    let specs = specs(&servers);
    let mut idle = Vec::new();
    for spec in &specs {
        idle.push(steady(spec).await);
    }
    // Used by many tasks, then dropped.
    let client = quick(specs.clone()).build_async().unwrap();
    let deadline = Instant::now() + Duration::from_millis(300);
    let tasks: Vec<_> = (0..50)
        .map(|t| tokio::spawn(mixed_load(client.clone(), "async_drop", t, deadline)))
        .collect();
    for task in tasks {
        task.await.expect("a task panicked");
    }
    for (spec, before) in specs.iter().zip(&idle) {
        let now = stat(spec, "curr_connections").await;
        assert!(
            now > *before && now <= before + 2,
            "{spec}: {now}, {before} idle"
        );
    }
    drop(client);
    for (spec, before) in specs.iter().zip(&idle) {
        let now = settle_connections(spec, |n| n == *before).await;
        assert_eq!(
            now, *before,
            "{spec}: connections left by the dropped client"
        );
    }

    // Dropped with calls in flight on a stopped server.
    let client = quick(specs.clone())
        .io_timeout(Some(Duration::from_secs(20)))
        .build_async()
        .unwrap();
    assert!(client.set(key("async_drop", "x"), "x", 0).await.unwrap());
    tokio::task::block_in_place(|| servers.iter().for_each(Memcached::pause));
    let in_flight: Vec<_> = (0..50)
        .map(|t| {
            let client = client.clone();
            tokio::spawn(async move {
                let k = key("async_drop", &t.to_string());
                client.set(&k, value_of(&k), 0).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    for task in &in_flight {
        task.abort();
    }
    for task in in_flight {
        let aborted = task
            .await
            .expect_err("a call completed on a stopped server");
        assert!(aborted.is_cancelled());
    }
    drop(client);
    servers.iter().for_each(Memcached::resume);
    for (spec, before) in specs.iter().zip(&idle) {
        let now = settle_connections(spec, |n| n == *before).await;
        assert_eq!(
            now, *before,
            "{spec}: connections left by the dropped client"
        );
    }
}

/// Polls `future` to its end on this thread, without any runtime: a
/// waker that unparks the thread, and a bounded number of polls.
fn block_on_without_runtime<F: Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut future = std::pin::pin!(future);
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut Context::from_waker(&waker)) {
            return output;
        }
        std::thread::park_timeout(Duration::from_millis(10));
    }
    panic!("the future did not finish without a runtime");
}

/// Outside a tokio runtime the async client fails with `Error::Config`
/// (for single calls, batches and server-wide calls) instead of panicking.
#[test]
fn outside_a_tokio_runtime_calls_fail_with_a_config_error_instead_of_panicking() {
    let client = AsyncClient::new([support::shared().spec()]).unwrap();
    let get = block_on_without_runtime(client.get::<String>("async_no_runtime:k"));
    assert!(matches!(get, Err(Error::Config(_))), "{get:?}");
    let set = block_on_without_runtime(client.set("async_no_runtime:k", "v", 0));
    assert!(matches!(set, Err(Error::Config(_))), "{set:?}");
    let hits = block_on_without_runtime(client.get_multi::<_, String>(["a", "b"], ""));
    assert!(matches!(hits, Err(Error::Config(_))), "{hits:?}");
    let report = block_on_without_runtime(client.set_multi_report([("a", "1")], "", 0)).unwrap();
    assert!(
        matches!(
            report.server_errors[..],
            [quickmc::ServerFailure {
                error: Error::Config(_),
                ..
            }]
        ),
        "{report:?}"
    );
    let stats = block_on_without_runtime(client.stats(""));
    assert!(matches!(stats, Err(Error::Config(_))), "{stats:?}");
}

/// A client built once and used from one runtime after another — as
/// `#[tokio::test]`s sharing a client in a static do — keeps working when
/// the runtime it last ran on is gone: every call on the next runtime, a
/// non-repeatable incr included, succeeds, on the same two connections.
#[test]
fn a_client_outlives_the_runtimes_it_ran_on() {
    const TASKS: u64 = 20;
    let server = Memcached::start();
    let client = quick([server.spec()])
        .io_timeout(Some(Duration::from_secs(5)))
        .build_async()
        .unwrap();
    let total = || -> u64 {
        let probe = Client::new([server.spec()]).unwrap();
        probe.stats("").unwrap()[0].1["total_connections"]
            .parse()
            .unwrap()
    };
    // memcached counts a connection when a worker thread takes it up, a
    // moment after accepting it: the server's own start-up probe may not be
    // counted yet. Settled once two probes in a row count only themselves.
    let mut accepted_before = total();
    for _ in 0..20 {
        let now = total();
        let settled = now == accepted_before + 1;
        accepted_before = now;
        if settled {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let k = key("async_runtimes", "hits");
    for round in 0..4 {
        let runtime = if round % 2 == 0 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
        .enable_all()
        .build()
        .unwrap();
        let results = runtime.block_on(async {
            if round == 0 {
                assert!(client.set(&k, 0u64, 0).await.unwrap());
            }
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (client, k) = (client.clone(), k.clone());
                    tokio::spawn(async move { client.incr(&k, 1).await })
                })
                .collect();
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.expect("a task panicked"));
            }
            results
        });
        drop(runtime);
        for result in results {
            assert!(result.is_ok(), "round {round}: {result:?}");
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hits = runtime.block_on(client.get::<u64>(&k)).unwrap();
    assert_eq!(hits, Some(4 * TASKS), "every incr counted once");
    // The client's two connections, and the probe asking now.
    assert_eq!(total() - accepted_before, 3, "connections were replaced");
}
