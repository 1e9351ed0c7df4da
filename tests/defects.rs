//! Regression tests for the library and interop defects of issue 9 (items
//! 1-12 and 26), against real memcached processes; hostile servers are a
//! real memcached behind the fault-injecting proxy.
//!
//! Each test names the item it covers and what the code before the fix
//! did. Timing bounds are generous (many times the configured timeouts)
//! and only separate "bounded" from "waits for something else".

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use quickmc::distribution::DistributionKind;
use quickmc::value::{CompressionAlgorithm, Item, Serde, flags};
use quickmc::{Client, ClientBuilder, Error, StoreOptions};
use support::proxy::{Fault, Proxy};
use support::{Memcached, SASL_PASSWORD, SASL_USER, key, raw_get, shared};

fn quick(servers: impl IntoIterator<Item = String>) -> ClientBuilder {
    Client::builder()
        .servers(servers)
        .connect_timeout(Duration::from_millis(300))
        .io_timeout(Some(Duration::from_millis(300)))
        .checkout_timeout(Duration::from_millis(300))
}

/// Three memcached shared by the tests here that need several servers and
/// never stop or restart them (each uses its own keys).
fn trio() -> &'static [Memcached] {
    static TRIO: OnceLock<Vec<Memcached>> = OnceLock::new();
    TRIO.get_or_init(|| (0..3).map(|_| Memcached::start()).collect())
}

fn specs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::spec).collect()
}

/// A key of `test`'s key space that `client` places on server `index`.
fn key_on(client: &Client, test: &str, index: usize) -> String {
    (0..10_000)
        .map(|i| key(test, &format!("on{index}-{i}")))
        .find(|k| client.hash(k).unwrap() == index)
        .expect("some key maps to every server")
}

/// This process's resident set size in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .expect("VmRSS in kB")
        * 1024
}

/// Runs `f` while sampling RSS every 5 ms (for at most a minute); returns
/// what `f` returned and the peak growth over the RSS before it.
fn peak_rss_growth<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = rss_bytes();
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = rss_bytes();
            for _ in 0..12_000 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                peak = peak.max(rss_bytes());
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let result = f();
    let after = rss_bytes();
    done.store(true, Ordering::SeqCst);
    let peak = sampler.join().expect("sampler").max(after);
    (result, peak.saturating_sub(before))
}

/// Issue 9, item 1. Before the fix: `Io(UnexpectedEof)` after ~8.5 s (the
/// flood's 4 s limit, then the same again on the retry's fresh connection),
/// the process ~300 MB larger at its peak.
#[test]
fn stats_from_a_server_that_never_ends_the_list_is_bounded_and_breaks_the_connection() {
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = quick([proxy.spec()])
        .retry_timeout(Duration::ZERO)
        .build()
        .unwrap();
    assert!(
        client.stats("").unwrap()[0]
            .1
            .contains_key("curr_connections")
    );
    proxy.set_fault(Fault::StatsFlood);
    let start = Instant::now();
    let (result, growth) = peak_rss_growth(|| client.stats(""));
    let waited = start.elapsed();
    proxy.set_fault(Fault::Pass);
    let error = match result {
        Err(error) => error,
        Ok(stats) => panic!("{} stats from an endless list", stats[0].1.len()),
    };
    assert!(
        error.breaks_connection(),
        "a typed error that breaks the connection: {error:?}"
    );
    assert!(
        waited < Duration::from_secs(2),
        "a 300 ms I/O timeout bounds the whole call; it took {waited:?}"
    );
    assert!(
        growth < 100 << 20,
        "the entries are bounded; the process grew by {} MB",
        growth >> 20
    );
    let opened = proxy.accepted();
    assert!(
        client.stats("").unwrap()[0]
            .1
            .contains_key("curr_connections")
    );
    assert!(
        proxy.accepted() > opened,
        "the flooded connection was not reused"
    );
}

/// Issue 9, item 2. Before the fix: `Protocol(BodyTooLarge { len: 65540,
/// max: 4608 })` naming no key, the server marked failed, and the next call
/// to it `ServerDown`.
#[test]
fn a_reply_above_the_clients_max_value_size_is_value_too_large_for_that_key_and_the_server_stays_up()
 {
    let big = key("value_too_large", "big");
    let small = key("value_too_large", "small");
    let writer = shared().client();
    assert!(writer.set(&big, vec![7u8; 64 << 10], 0).unwrap());
    assert!(writer.set(&small, "ok", 0).unwrap());
    for pipelined in [false, true] {
        let builder = quick([shared().spec()]).max_value_size(4096);
        let builder = if pipelined {
            builder.pipelined(2)
        } else {
            builder
        };
        let client = builder.build().unwrap();
        reads_of_the_big_key_are_value_too_large(&client, &big, &small);
    }
}

fn reads_of_the_big_key_are_value_too_large(client: &Client, big: &str, small: &str) {
    for _ in 0..3 {
        match client.get::<Vec<u8>>(&big) {
            Err(error @ Error::ValueTooLarge { .. }) => {
                let message = error.to_string();
                let Error::ValueTooLarge { key, size, limit } = error else {
                    unreachable!()
                };
                assert_eq!(key, big);
                assert_eq!(limit, 4096);
                assert_eq!(size, 64 << 10, "the value's size, not the reply's");
                assert!(message.contains(big), "names the key: {message}");
            }
            other => panic!("{other:?}"),
        }
        // Not the server's fault: the next call to it works at once.
        assert_eq!(client.get::<String>(small).unwrap().as_deref(), Some("ok"));
    }
}

/// Issue 9, item 2 (with `remove_failed`). Before the fix: two big reads
/// (`Protocol` errors) ejected the server and its keys moved to another
/// (the third read was `Ok(None)` there).
#[test]
fn repeated_reads_above_max_value_size_never_eject_the_server_with_remove_failed() {
    let ketama = |builder: ClientBuilder| {
        builder
            .distribution(DistributionKind::Ketama)
            .build()
            .unwrap()
    };
    let writer = ketama(Client::builder().servers(specs(trio())));
    let client = ketama(
        quick(specs(trio()))
            .retry_timeout(Duration::ZERO)
            .failure_limit(2)
            .remove_failed(true)
            .dead_timeout(Duration::from_secs(60))
            .max_value_size(4096),
    );
    let big = key_on(&client, "too_large_eject", 1);
    assert!(writer.set(&big, vec![7u8; 64 << 10], 0).unwrap());
    let keys: Vec<String> = (0..200)
        .map(|i| key("too_large_eject", &i.to_string()))
        .collect();
    let placement =
        |c: &Client| -> Vec<usize> { keys.iter().map(|k| c.hash(k).unwrap()).collect() };
    let before = placement(&client);
    for read in 0..6 {
        let result = client.get::<Vec<u8>>(&big);
        assert!(
            matches!(result, Err(Error::ValueTooLarge { .. })),
            "read {read}: {:?}",
            result.map(|v| v.map(|v| v.len()))
        );
    }
    assert_eq!(placement(&client), before, "no server was ejected");
    assert_eq!(client.hash(&big).unwrap(), 1);
}

/// Issue 9, item 3. Before the fix: `Io(UnexpectedEof)` from the
/// never-used `min_idle` connection, and the server marked down (the next
/// operation `ServerDown`).
#[test]
fn a_pooled_connection_never_used_and_closed_by_a_restart_is_retried_on_a_fresh_one() {
    let mut server = Memcached::start();
    let client = quick([server.spec()])
        .min_idle(2)
        .max_connections(4)
        .build()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while client.pool_state()[0].1 < 2 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        client.pool_state()[0].1 >= 2,
        "min_idle connections: {:?}",
        client.pool_state()
    );
    // Restarted at once, while the idle connections are still fresh (the
    // stale check only looks at connections idle for a second).
    server.restart();
    let k = key("never_used", "k");
    assert_eq!(
        client.get::<String>(&k).unwrap(),
        None,
        "a safe read runs once more on a fresh connection (and the new server is empty)"
    );
    assert!(client.set(&k, "v", 0).unwrap(), "the server is not down");
    assert_eq!(client.get::<String>(&k).unwrap().as_deref(), Some("v"));
}

/// Issue 9, item 4. Before the fix: both threads waited the whole checkout
/// timeout (here 3 s) for the other's reserved connection and got a
/// `PoolTimeout` for that server (`servers_answered: 1`).
#[test]
fn reserved_connections_to_different_servers_never_deadlock_two_get_multi_calls() {
    let servers = &trio()[..2];
    let client = quick(specs(servers))
        .max_connections(1)
        .checkout_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..40)
        .map(|i| key("reserve_deadlock", &i.to_string()))
        .collect();
    let expected: HashMap<String, String> = keys.iter().map(|k| (k.clone(), k.clone())).collect();
    assert!(
        client
            .set_multi(expected.clone(), "", 0)
            .unwrap()
            .is_empty()
    );
    for server in 0..2 {
        assert!(keys.iter().any(|k| client.hash(k).unwrap() == server));
    }
    let held: Vec<String> = (0..2)
        .map(|server| key_on(&client, "reserve_deadlock", server))
        .collect();
    for k in &held {
        assert!(client.set(k, "held", 0).unwrap());
    }
    let barrier = Barrier::new(2);
    let outcomes: Vec<_> = std::thread::scope(|s| {
        let threads: Vec<_> = held
            .iter()
            .map(|held_key| {
                let (client, keys, barrier) = (&client, &keys, &barrier);
                s.spawn(move || {
                    let mc = client.reserve();
                    // Holds this thread's only connection to that server.
                    let first = mc.get::<String>(held_key);
                    barrier.wait();
                    let start = Instant::now();
                    let batch = mc.get_multi_report::<_, String>(keys.clone(), "");
                    (first, batch, start.elapsed())
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for (first, batch, waited) in outcomes {
        assert_eq!(first.unwrap().as_deref(), Some("held"));
        let (hits, report) = batch.unwrap();
        assert!(report.is_complete(), "after {waited:?}: {report:?}");
        assert_eq!(hits, expected);
        assert!(
            waited < Duration::from_secs(2),
            "no wait on a connection the other thread holds: {waited:?}"
        );
    }
}

/// Issue 9, item 5. The proxy holds each new connection 50 ms, so each
/// connect (with its SASL round trip) takes 50 ms. Before the fix: one
/// sequential thread left 11 connections behind (one queued per 5 ms
/// checkout slice). Without SASL a TCP connect completes in the kernel
/// whatever the proxy does, so only an authenticated connect is slow.
#[test]
fn a_slow_connect_opens_one_connection_for_one_waiting_caller() {
    let server = Memcached::start_sasl();
    let proxy = Proxy::start(&server.spec());
    proxy.set_connect_delay(Duration::from_millis(50));
    let client = Client::builder()
        .servers([proxy.spec()])
        .credentials(SASL_USER, SASL_PASSWORD)
        .connect_timeout(Duration::from_secs(1))
        .checkout_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let k = key("slow_connect", "k");
    assert!(client.set(&k, "v", 0).unwrap());
    for _ in 0..20 {
        assert_eq!(client.get::<String>(&k).unwrap().as_deref(), Some("v"));
    }
    // Connects queued while waiting would land in the next few hundred ms.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        proxy.accepted() <= 2,
        "one sequential caller opened {} connections (pool: {:?})",
        proxy.accepted(),
        client.pool_state()
    );
}

/// Issue 9, item 6. Before the fix: every one of these built (`Ok(Client)`;
/// a zero I/O timeout then meant "block forever" for single operations).
#[test]
fn zero_durations_are_refused_by_build_with_a_configuration_error() {
    let base = || Client::builder().servers(["127.0.0.1:11211"]);
    let zero = Duration::ZERO;
    let cases = [
        ("connect_timeout", base().connect_timeout(zero)),
        ("io_timeout", base().io_timeout(Some(zero))),
        ("checkout_timeout", base().checkout_timeout(zero)),
        ("batch_deadline", base().batch_deadline(Some(zero))),
        ("idle_timeout", base().idle_timeout(Some(zero))),
        ("max_lifetime", base().max_lifetime(Some(zero))),
    ];
    for (option, builder) in cases {
        match builder.build() {
            Err(Error::Config(message)) => assert!(
                message.contains(option) || message.contains(&option.replace('_', " ")),
                "{option}: the message names the option: {message}"
            ),
            other => panic!("{option}: {other:?}"),
        }
    }
    let tiny = Duration::from_millis(1);
    assert!(
        base()
            .connect_timeout(tiny)
            .io_timeout(Some(tiny))
            .checkout_timeout(tiny)
            .batch_deadline(Some(tiny))
            .idle_timeout(Some(tiny))
            .max_lifetime(Some(tiny))
            .build()
            .is_ok()
    );
}

/// Found re-checking issue 9: zstd chosen after `pylibmc_compatible(true)`
/// built a client whose every compressed write then failed `Incompatible`.
#[test]
fn zstd_after_pylibmc_compatible_is_refused_by_build() {
    let base = || Client::builder().servers(["127.0.0.1:11211"]);
    let contradiction = base()
        .pylibmc_compatible(true)
        .compression(CompressionAlgorithm::Zstd)
        .build();
    match contradiction {
        Err(Error::Config(message)) => assert!(message.contains("zstd"), "{message}"),
        other => panic!("{other:?}"),
    }
    // pylibmc_compatible after zstd switches to zlib, as documented.
    assert!(
        base()
            .compression(CompressionAlgorithm::Zstd)
            .pylibmc_compatible(true)
            .build()
            .is_ok()
    );
}

/// Issue 9, item 7 (pylibmc 1.6.3 in binary mode: NotFound for any id,
/// nothing stored). Before the fix: CAS id 0 stored the missing key and
/// returned `Ok(true)`; any other id returned `Ok(false)`, like a mismatch.
#[test]
fn cas_on_a_missing_key_is_not_found_for_any_cas_id_and_stores_nothing() {
    let c = shared().client();
    for id in [0u64, 12345] {
        let k = key("cas_missing", &id.to_string());
        let result = c.cas(&k, "v", id, 0);
        assert!(
            matches!(result, Err(Error::NotFound)),
            "cas id {id}: {result:?}"
        );
        assert_eq!(raw_get(&shared().spec(), k.as_bytes()), None, "cas id {id}");
    }
}

/// Issue 9, item 7: the other two cases pylibmc 1.6.3 shows (these held
/// before the fix too; they pin that the fix keeps them).
#[test]
fn cas_mismatch_is_false_and_cas_zero_on_an_existing_key_stores() {
    let c = shared().client();
    let k = key("cas_existing", "k");
    assert!(c.set(&k, "one", 0).unwrap());
    let (_, id) = c.gets::<String>(&k).unwrap().unwrap();
    assert!(!c.cas(&k, "stale", id.wrapping_add(1), 0).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("one"));
    assert!(c.cas(&k, "two", 0, 0).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("two"));
    assert!(
        c.cas(&k, "three", c.gets::<String>(&k).unwrap().unwrap().1, 0)
            .unwrap()
    );
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("three"));
}

/// Issue 9, item 8. The proxy forwards one byte per 100 ms, never pausing
/// long enough to trip a 300 ms read timeout. Before the fix: the get took
/// ~4.4 s and succeeded.
#[test]
fn a_single_get_from_a_dribbling_server_times_out_within_the_io_timeout() {
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = quick([proxy.spec()])
        .retry_timeout(Duration::ZERO)
        .build()
        .unwrap();
    let k = key("dribble", "k");
    assert!(client.set(&k, "sixteen bytes!!!", 0).unwrap());
    proxy.set_fault(Fault::Dribble(Duration::from_millis(100)));
    let start = Instant::now();
    let result = client.get::<String>(&k);
    let waited = start.elapsed();
    proxy.set_fault(Fault::Pass);
    assert!(
        matches!(result, Err(Error::Timeout { .. })),
        "after {waited:?}: {result:?}"
    );
    assert!(
        waited < Duration::from_millis(1500),
        "the 300 ms I/O timeout bounds the whole reply; it took {waited:?}"
    );
    assert_eq!(
        client.get::<String>(&k).unwrap().as_deref(),
        Some("sixteen bytes!!!")
    );
}

/// Issue 9, item 9. Before the fix: the plain form failed with
/// `Deserialize("a value with flags 1 cannot be read as text")`, naming no
/// key (the report form already kept the other hits).
#[test]
fn get_multi_names_the_key_whose_value_cannot_be_decoded_and_the_report_keeps_the_other_hits() {
    let c = shared().client();
    let k = |name| key("undecodable", name);
    let pickle = k("pickle");
    assert!(c.set(k("a"), "1", 0).unwrap());
    assert!(c.set(k("c"), "3", 0).unwrap());
    assert!(
        c.set(&pickle, Item::new(&b"\x80\x04K\x01."[..], flags::PICKLE), 0)
            .unwrap()
    );
    let keys = vec![k("a"), pickle.clone(), k("c")];
    match c.get_multi::<_, String>(keys.clone(), "") {
        Err(error @ Error::Deserialize { .. }) => {
            let message = error.to_string();
            let Error::Deserialize { key, .. } = error else {
                unreachable!()
            };
            assert_eq!(key.as_deref(), Some(pickle.as_str()));
            assert!(message.contains(&pickle), "names the key: {message}");
        }
        other => panic!("{other:?}"),
    }
    let (hits, report) = c.get_multi_report::<_, String>(keys, "").unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert_eq!(hits[&k("a")], "1");
    assert_eq!(hits[&k("c")], "3");
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].key, pickle);
    assert!(
        matches!(&report.failures[0].error, Error::Deserialize { key: Some(named), .. } if *named == pickle),
        "{:?}",
        report.failures[0].error
    );
}

/// Issue 9, item 10. Before the fix: `get::<String>` returned `"9 "` (the
/// first assertion to fail; the wrapped counter reads as `"1"` and 19
/// spaces).
#[test]
fn a_decremented_or_wrapped_counter_reads_as_text_without_memcacheds_padding() {
    let c = shared().client();
    let spec = shared().spec();
    let k = |name| key("counter_padding", name);
    assert!(c.set(k("long"), 10u64, 0).unwrap());
    assert_eq!(c.decr(k("long"), 1).unwrap(), 9);
    assert!(
        c.set(k("integer"), Item::new(&b"10"[..], flags::INTEGER), 0)
            .unwrap()
    );
    assert_eq!(c.decr(k("integer"), 1).unwrap(), 9);
    assert!(c.set(k("wrapped"), u64::MAX, 0).unwrap());
    assert_eq!(c.incr(k("wrapped"), 2).unwrap(), 1);
    let cases = [(k("long"), "9"), (k("integer"), "9"), (k("wrapped"), "1")];
    for (name, digits) in &cases {
        let (raw, stored_flags) = raw_get(&spec, name.as_bytes()).unwrap();
        assert!(raw.ends_with(b" "), "memcached pads {name}: {raw:?}");
        assert_eq!(c.get::<String>(name).unwrap().as_deref(), Some(*digits));
        assert_eq!(c.gets::<String>(name).unwrap().unwrap().0, *digits);
        assert_eq!(
            c.deserialize::<String>(&raw, stored_flags).unwrap(),
            *digits
        );
    }
    let names: Vec<String> = cases.iter().map(|(name, _)| name.clone()).collect();
    let hits: HashMap<String, String> = c.get_multi(names, "").unwrap();
    for (name, digits) in &cases {
        assert_eq!(hits[name], *digits, "get_multi {name}");
    }
    // Flag-16 text is read as stored, spaces and all (as pylibmc does).
    assert!(c.set(k("text"), "10", 0).unwrap());
    assert_eq!(c.decr(k("text"), 1).unwrap(), 9);
    assert_eq!(c.get::<String>(k("text")).unwrap().as_deref(), Some("9 "));
}

/// Issue 9, item 11. Before the fix: the next caller's incr failed with
/// `Protocol("reply does not answer the request sent")` (it read the copy;
/// "unsolicited bytes from the server" when the copy was already buffered).
#[test]
fn a_duplicated_reply_never_reaches_the_next_unrelated_caller() {
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = quick([proxy.spec()])
        .retry_timeout(Duration::ZERO)
        .max_connections(1)
        .build()
        .unwrap();
    let k = key("duplicate", "k");
    let n = key("duplicate", "n");
    assert!(client.set(&k, "v", 0).unwrap());
    assert!(client.set(&n, 0u64, 0).unwrap());
    for round in 1..=3u64 {
        let opened = proxy.accepted();
        proxy.set_fault_once(Fault::Duplicate);
        assert_eq!(client.get::<String>(&k).unwrap().as_deref(), Some("v"));
        // The copy is on the connection before anyone writes to it again.
        std::thread::sleep(Duration::from_millis(100));
        let (other, n) = (client.clone(), n.clone());
        // An incr is never retried: it must not be sent on the dirty connection.
        let next = std::thread::spawn(move || other.incr(&n, 1))
            .join()
            .unwrap();
        assert_eq!(next.unwrap(), round, "round {round}");
        assert!(
            proxy.accepted() > opened,
            "round {round}: the connection with stray bytes was discarded"
        );
    }
}

/// Issue 9, item 12 (library part). memcached 1.6.18 answers a binary Stat
/// for `conns` with status 1. Before the fix: `Err(NotFound)` ("key not
/// found"), while the other groups worked.
#[test]
fn a_stats_group_the_server_refuses_over_binary_is_its_own_error_naming_server_and_group() {
    let c = shared().client();
    match c.stats("conns") {
        Err(error @ Error::UnsupportedStatsGroup { .. }) => {
            let message = error.to_string();
            let Error::UnsupportedStatsGroup { server, group } = error else {
                unreachable!()
            };
            assert_eq!(&*server, shared().spec());
            assert_eq!(group, "conns");
            assert!(message.contains("conns"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let per_server = c.stats_per_server("conns");
    assert!(
        matches!(&per_server[0].1, Err(Error::UnsupportedStatsGroup { group, .. }) if group == "conns"),
        "{per_server:?}"
    );
    for group in ["", "settings", "items", "slabs", "sizes"] {
        assert!(c.stats(group).is_ok(), "stats {group:?}");
    }
}

/// Issue 9, item 26. Before the fix: no such switch (compression was zstd,
/// which pylibmc cannot read, and serde values were stored with flags
/// pylibmc does not know).
#[test]
fn pylibmc_compatible_clients_compress_with_zlib_and_refuse_values_pylibmc_cannot_read() {
    let spec = shared().spec();
    let c = Client::builder()
        .servers([spec.clone()])
        .pylibmc_compatible(true)
        .build()
        .unwrap();
    let k = |name| key("pylibmc_compatible", name);
    let text = "read by pylibmc ".repeat(100);
    assert!(
        c.set(
            k("text"),
            text.as_str(),
            StoreOptions::expire(0).min_compress_len(100)
        )
        .unwrap()
    );
    let (data, stored_flags) = raw_get(&spec, k("text").as_bytes()).unwrap();
    assert_eq!(stored_flags, flags::TEXT | flags::ZLIB);
    let mut inflated = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::ZlibDecoder::new(data.as_slice()),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated, text);
    assert_eq!(c.get::<String>(k("text")).unwrap(), Some(text));

    #[derive(serde::Serialize)]
    struct Point {
        x: i32,
    }
    let refused = [
        ("serde", c.set(k("serde"), Serde(&Point { x: 1 }), 0)),
        (
            "zstd",
            c.set(
                k("zstd"),
                Item::new(&b"x"[..], flags::TEXT | flags::ZSTD),
                0,
            ),
        ),
    ];
    for (name, result) in refused {
        assert!(
            matches!(result, Err(Error::Incompatible(_))),
            "{name}: {result:?}"
        );
        assert_eq!(raw_get(&spec, k(name).as_bytes()), None, "{name} stored");
    }
}
