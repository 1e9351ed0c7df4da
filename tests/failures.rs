//! Pools, server health, timeouts, restarts and injected faults, against
//! real memcached processes (some behind a fault-injecting proxy).
//!
//! Where a test bounds elapsed time it is only to prove an operation does
//! not hang; the bounds are many times the configured timeouts.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use quickmc::distribution::DistributionKind;
use quickmc::{Client, Error};
use support::proxy::{Fault, Proxy};
use support::{Memcached, shared};

fn quick(servers: impl IntoIterator<Item = String>) -> quickmc::ClientBuilder {
    Client::builder()
        .servers(servers)
        .connect_timeout(Duration::from_millis(300))
        .io_timeout(Some(Duration::from_millis(300)))
        .checkout_timeout(Duration::from_millis(300))
}

#[test]
fn pool_exhaustion_is_a_typed_error_within_the_checkout_timeout() {
    let client = quick([shared().spec()]).max_connections(1).build().unwrap();
    client.set("pool:k", "v", 0).unwrap();
    let held = client.reserve();
    held.get::<String>("pool:k").unwrap(); // keeps the only connection
    let other = client.clone();
    let start = Instant::now();
    let err = std::thread::spawn(move || other.get::<String>("pool:k").unwrap_err())
        .join()
        .unwrap();
    assert!(matches!(err, Error::PoolTimeout { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "waited {:?}",
        start.elapsed()
    );
    drop(held);
    assert_eq!(
        client.get::<String>("pool:k").unwrap().as_deref(),
        Some("v")
    );
}

#[test]
fn a_reservation_keeps_one_connection_for_a_run_of_operations() {
    let server = Memcached::start();
    let client = quick([server.spec()]).max_connections(4).build().unwrap();
    {
        let mc = client.reserve();
        for i in 0..50u32 {
            mc.set(format!("r{i}"), i, 0).unwrap();
            assert_eq!(mc.get::<u32>(format!("r{i}")).unwrap(), Some(i));
        }
        let _: HashMap<String, u32> = mc.get_multi((0..50).map(|i| format!("r{i}")), "").unwrap();
        assert_eq!(
            client.pool_state()[0],
            (1, 0),
            "one connection, held by the reservation"
        );
    }
    assert_eq!(client.pool_state()[0], (1, 1), "returned to the pool");
}

#[test]
fn a_down_server_is_skipped_fast_for_the_retry_timeout_without_a_connect_attempt() {
    // A proxy with nothing behind it counts the connects it gets.
    let mut backend = Memcached::start();
    let proxy = Proxy::start(&backend.spec());
    let client = quick([proxy.spec()])
        .retry_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    client.set("down:k", "v", 0).unwrap();
    backend.kill();
    let first = client.get::<String>("down:k").unwrap_err();
    assert!(first.is_server_failure(), "{first:?}");
    let accepted = proxy.accepted();
    for _ in 0..20 {
        let err = client.get::<String>("down:k").unwrap_err();
        assert!(matches!(err, Error::ServerDown { .. }), "{err:?}");
    }
    assert_eq!(
        proxy.accepted(),
        accepted,
        "no connection was attempted while down"
    );
}

/// A host name that does not resolve is its own error (pylibmc's
/// HostLookupError), and marks the server down as a failed connect does,
/// in both modes. (A label over 63 bytes fails before any resolver is
/// asked: the test stays off the network.)
#[test]
fn a_host_name_that_does_not_resolve_is_a_host_lookup_error_then_the_server_is_down() {
    let host = format!("{}.invalid:11211", "a".repeat(64));
    for pipelined in [0, 1] {
        let mut builder = quick([host.clone()]).retry_timeout(Duration::from_secs(60));
        if pipelined > 0 {
            builder = builder.pipelined(pipelined);
        }
        let client = builder.build().unwrap();
        let first = client.get::<String>("lookup:k").unwrap_err();
        assert!(matches!(first, Error::HostLookup { .. }), "{first:?}");
        assert!(first.is_server_failure());
        let then = client.set("lookup:k", "v", 0).unwrap_err();
        assert!(matches!(then, Error::ServerDown { .. }), "{then:?}");
    }
}

/// A slow reply is not a down server: after a timeout the next call goes
/// to the server at once (libmemcached skips a server for `retry_timeout`
/// only when connecting to it fails), in the pooled and pipelined modes.
#[test]
fn one_timeout_does_not_skip_the_server_the_next_call_is_answered() {
    let server = shared();
    let proxy = Proxy::start(&server.spec());
    for pipelined in [0, 1] {
        let k = format!("one_timeout:{pipelined}");
        let builder = quick([proxy.spec()]).retry_timeout(Duration::from_secs(60));
        let client = support::build_in_mode(builder, pipelined);
        assert!(client.set(&k, "v", 0).unwrap());
        proxy.set_fault(Fault::Delay(Duration::from_millis(800)));
        let err = client.get::<String>(&k).unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
        proxy.set_fault(Fault::Pass);
        assert_eq!(
            client.get::<String>(&k).unwrap().as_deref(),
            Some("v"),
            "pipelined({pipelined}): the server is tried again at once"
        );
    }
}

/// `disconnect_all` while other threads keep working: it returns (it could
/// spin for ever taking back the connections the workers kept returning;
/// the Python suite, where the GIL made it likely, shows that), no pooled
/// call fails, and on shared connections a call cut off fails only as a
/// retired connection (never `ServerDown`: a disconnect the client asked
/// for says nothing about the server).
#[test]
fn disconnect_all_under_load_returns_at_once_and_blames_no_server() {
    const WORKERS: usize = 4;
    for pipelined in [0, 1] {
        let builder = quick([shared().spec()])
            .retry_timeout(Duration::from_secs(60))
            .max_connections(WORKERS as u32);
        let client = support::build_in_mode(builder, pipelined);
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (done, finished) = std::sync::mpsc::channel();
        let errors: Vec<Error> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..WORKERS)
                .map(|w| {
                    let (client, stop) = (&client, &stop);
                    s.spawn(move || {
                        let mut errors = Vec::new();
                        for i in 0..100_000 {
                            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                                break;
                            }
                            let k = format!("disconnect:{pipelined}:{w}:{}", i % 10);
                            let v = format!("{k}={i}");
                            match client.set(&k, &v, 0).and_then(|_| client.get::<String>(&k)) {
                                Ok(got) => assert_eq!(got, Some(v)),
                                Err(e) => errors.push(e),
                            }
                        }
                        errors
                    })
                })
                .collect();
            let client = &client;
            s.spawn(move || {
                for _ in 0..300 {
                    std::thread::sleep(Duration::from_millis(1));
                    client.disconnect_all();
                }
                let _ = done.send(());
            });
            let returned = finished.recv_timeout(Duration::from_secs(30));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(returned.is_ok(), "disconnect_all did not return");
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        println!("pipelined({pipelined}): {} calls cut off", errors.len());
        if pipelined == 0 {
            assert!(errors.is_empty(), "{errors:?}");
        }
        assert!(
            errors.iter().all(|e| matches!(e, Error::Io { .. })),
            "pipelined({pipelined}): {errors:?}"
        );
        assert!(client.set("disconnect:after", "ok", 0).unwrap());
    }
}

/// A server that keeps sending replies to old requests (skipped) and never
/// answers a batch: the batch times out after the I/O timeout even with no
/// batch deadline (stale replies used to count as progress, so it waited
/// as long as the server went on).
#[test]
fn stale_replies_are_not_progress_a_batch_times_out_without_a_batch_deadline() {
    let proxy = Proxy::start(&shared().spec());
    let client = quick([proxy.spec()])
        .max_connections(1)
        .batch_deadline(None)
        .build()
        .unwrap();
    assert!(client.set("stale_flood:a", "v", 0).unwrap());
    proxy.set_fault(Fault::StaleFlood);
    let start = Instant::now();
    let r = client.get_multi::<_, String>(["stale_flood:a", "stale_flood:b"], "");
    let waited = start.elapsed();
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(
        waited < Duration::from_secs(3),
        "a 300 ms I/O timeout took {waited:?} (the flood lasts 4 s)"
    );
}

/// `stats_text` (the CLI's `stats conns`) from a server dribbling its reply
/// a byte at a time: a `Timeout` after about the I/O timeout, not a wait as
/// long as the server goes on (each byte used to restart the clock).
#[test]
fn a_dribbled_text_stats_reply_times_out_as_one_operation() {
    let proxy = Proxy::start(&shared().spec());
    let client = quick([proxy.spec()])
        .io_timeout(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    assert!(client.set("dribbled_text:k", "v", 0).unwrap());
    // Slow enough for many seconds of reply, fast enough that the binary
    // Noop asked first (24 bytes) still comes within the timeout.
    proxy.set_fault(Fault::Dribble(Duration::from_millis(25)));
    let start = Instant::now();
    let result = client.stats_text("conns").remove(0).1;
    let waited = start.elapsed();
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(waited < Duration::from_secs(5), "took {waited:?}");
}

/// A loopback listener whose accept queue is full (backlog 0, one
/// connection queued and never accepted): a connect to it is never
/// answered, as a host that drops packets would do. Returns the listener
/// (keep it alive), the queued connection and its spec.
fn full_backlog() -> (std::os::fd::OwnedFd, Vec<std::net::TcpStream>, String) {
    use rustix::net::{AddressFamily, SocketType, bind, getsockname, listen, socket};
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    bind(&fd, &any).unwrap();
    listen(&fd, 0).unwrap();
    let addr = getsockname(&fd).unwrap();
    let addr = std::net::SocketAddr::try_from(addr).unwrap();
    let queued = (0..2)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).ok()
        })
        .collect();
    (fd, queued, addr.to_string())
}

/// A connect that times out is a failed connect: the server is skipped for
/// the retry timeout (a fast `ServerDown`, no new connect) — as a refused
/// one is — not waited on for a whole connect timeout by every call.
#[test]
fn a_connect_that_times_out_skips_the_server_for_the_retry_timeout() {
    let (_listener, _queued, spec) = full_backlog();
    for pipelined in [0, 1] {
        let builder = quick([spec.clone()])
            .connect_timeout(Duration::from_millis(200))
            .retry_timeout(Duration::from_secs(60));
        let client = support::build_in_mode(builder, pipelined);
        let first = client.get::<String>("connect_timeout:k").unwrap_err();
        assert!(
            matches!(first, Error::Timeout { .. }),
            "pipelined({pipelined}): {first:?}"
        );
        for _ in 0..3 {
            let next = client.get::<String>("connect_timeout:k").unwrap_err();
            assert!(
                matches!(next, Error::ServerDown { .. }),
                "pipelined({pipelined}): {next:?}"
            );
        }
    }
}

/// A connect timeout longer than the checkout timeout: the operation waits
/// for the connect it caused, which is reported and marks the server down,
/// rather than every call giving up at the checkout timeout while the
/// server is never marked.
#[test]
fn a_connect_timeout_above_the_checkout_timeout_still_marks_the_server_down() {
    let (_listener, _queued, spec) = full_backlog();
    let client = quick([spec])
        .connect_timeout(Duration::from_millis(900))
        .checkout_timeout(Duration::from_millis(300))
        .retry_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let start = Instant::now();
    let first = client.get::<String>("connect_wait:k").unwrap_err();
    assert!(matches!(first, Error::Timeout { .. }), "{first:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(800),
        "{:?}",
        start.elapsed()
    );
    let next = client.get::<String>("connect_wait:k").unwrap_err();
    assert!(matches!(next, Error::ServerDown { .. }), "{next:?}");
}

/// Only a checkout for which the pool connects waits for the connect: one
/// arriving while the only slot is being connected waits the checkout
/// timeout, as for a full pool.
#[test]
fn a_checkout_that_caused_no_connect_waits_only_the_checkout_timeout() {
    let (_listener, _queued, spec) = full_backlog();
    let client = quick([spec])
        .max_connections(1)
        .connect_timeout(Duration::from_secs(2))
        .checkout_timeout(Duration::from_millis(200))
        .retry_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let first = client.clone();
    let connecting = std::thread::spawn(move || first.get::<String>("connect_wait2:k"));
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    let second = client.get::<String>("connect_wait2:k").unwrap_err();
    let waited = start.elapsed();
    assert!(matches!(second, Error::PoolTimeout { .. }), "{second:?}");
    assert!(waited < Duration::from_millis(1500), "waited {waited:?}");
    let first = connecting.join().unwrap().unwrap_err();
    assert!(matches!(first, Error::Timeout { .. }), "{first:?}");
}

#[test]
fn after_the_retry_timeout_a_restarted_server_is_used_again() {
    let mut server = Memcached::start();
    let client = quick([server.spec()])
        .retry_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    client.set("back:k", "v", 0).unwrap();
    server.kill();
    assert!(client.get::<String>("back:k").is_err());
    server.restart();
    std::thread::sleep(Duration::from_millis(300));
    assert!(client.set("back:k", "again", 0).unwrap());
    assert_eq!(
        client.get::<String>("back:k").unwrap().as_deref(),
        Some("again")
    );
}

#[test]
fn after_a_server_restart_the_next_operations_succeed_without_the_caller_doing_anything() {
    let mut server = Memcached::start();
    let client = quick([server.spec()]).max_connections(4).build().unwrap();
    // Fill the pool with several idle connections.
    std::thread::scope(|s| {
        for t in 0..4 {
            let c = client.clone();
            s.spawn(move || {
                for i in 0..20 {
                    c.set(format!("restart:{t}:{i}"), "v", 0).unwrap();
                }
            });
        }
    });
    server.restart();
    // Reads and safe writes retry once on a fresh connection.
    assert_eq!(
        client.get::<String>("restart:0:0").unwrap(),
        None,
        "a restarted memcached is empty"
    );
    assert!(client.set("restart:k", 5u64, 0).unwrap());
    let hits: HashMap<String, String> = client.get_multi(["restart:k".to_string()], "").unwrap();
    assert_eq!(hits.len(), 1);
    // Unsafe writes are not retried, but idle dead connections were retired.
    assert_eq!(client.incr("restart:k", 1).unwrap(), 6);
    assert_eq!(client.pool_state()[0].0, client.pool_state()[0].0.min(4));
}

#[test]
fn an_idle_connection_closed_by_a_restart_is_found_before_an_unsafe_write_uses_it() {
    let mut server = Memcached::start();
    let client = quick([server.spec()]).build().unwrap();
    client.set("stale:n", 1u64, 0).unwrap();
    server.restart();
    client.set("stale:n", 1u64, 0).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // idle past the stale check
    server.restart();
    client.add("stale:probe", "x", 0).ok(); // would have hit the dead connection
    assert!(client.set("stale:n", 10u64, 0).unwrap());
    std::thread::sleep(Duration::from_millis(1100));
    server.restart();
    // incr is never retried; the stale check keeps it off the dead connection.
    assert!(
        matches!(client.incr("stale:n", 1), Err(Error::NotFound)),
        "the key went with the restart"
    );
}

#[test]
fn failure_limit_with_remove_failed_ejects_a_server_from_ketama_and_it_returns_after_dead_timeout()
{
    let mut servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let client = quick(servers.iter().map(Memcached::spec))
        .distribution(DistributionKind::Ketama)
        .retry_timeout(Duration::ZERO)
        .failure_limit(2)
        .remove_failed(true)
        .dead_timeout(Duration::from_millis(800))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..200).map(|i| format!("eject:{i}")).collect();
    let before: Vec<usize> = keys.iter().map(|k| client.hash(k).unwrap()).collect();
    let dead = 1;
    let victim = keys
        .iter()
        .zip(&before)
        .find(|(_, s)| **s == dead)
        .unwrap()
        .0
        .clone();
    servers[dead].kill();
    for _ in 0..2 {
        assert!(
            client
                .get::<String>(&victim)
                .unwrap_err()
                .is_server_failure()
        );
    }
    // Ejected: its keys move to live servers, the others stay put.
    let after: Vec<usize> = keys.iter().map(|k| client.hash(k).unwrap()).collect();
    for (b, a) in before.iter().zip(&after) {
        if *b == dead {
            assert_ne!(*a, dead);
        } else {
            assert_eq!(a, b, "keys of live servers must not move");
        }
    }
    assert!(
        client.set(&victim, "moved", 0).unwrap(),
        "stored on a live server"
    );
    assert_eq!(
        client.get::<String>(&victim).unwrap().as_deref(),
        Some("moved")
    );
    // After dead_timeout it rejoins the continuum.
    servers[dead].restart();
    std::thread::sleep(Duration::from_millis(900));
    let _ = client.get::<String>(&victim);
    let rejoined: Vec<usize> = keys.iter().map(|k| client.hash(k).unwrap()).collect();
    assert_eq!(rejoined, before);
}

#[test]
fn modula_never_ejects_and_a_success_resets_the_failure_count() {
    let mut servers: Vec<Memcached> = (0..2).map(|_| Memcached::start()).collect();
    let client = quick(servers.iter().map(Memcached::spec))
        .retry_timeout(Duration::ZERO)
        .failure_limit(1)
        .remove_failed(true)
        .build()
        .unwrap();
    let keys: Vec<String> = (0..50).map(|i| format!("modula:{i}")).collect();
    let before: Vec<usize> = keys.iter().map(|k| client.hash(k).unwrap()).collect();
    let on_zero = keys
        .iter()
        .zip(&before)
        .find(|(_, s)| **s == 0)
        .unwrap()
        .0
        .clone();
    servers[0].kill();
    for _ in 0..3 {
        assert!(client.get::<String>(&on_zero).is_err());
    }
    let after: Vec<usize> = keys.iter().map(|k| client.hash(k).unwrap()).collect();
    assert_eq!(after, before, "modula keeps placement");
    servers[0].restart();
    assert!(client.set(&on_zero, "ok", 0).unwrap());
}

#[test]
fn a_server_that_never_answers_times_out_the_connection_is_discarded_and_it_recovers_after_sigcont()
{
    let server = Memcached::start();
    let client = quick([server.spec()])
        .retry_timeout(Duration::ZERO)
        .max_connections(2)
        .build()
        .unwrap();
    client.set("stop:k", "v", 0).unwrap();
    server.pause();
    let start = Instant::now();
    let err = client.get::<String>("stop:k").unwrap_err();
    let waited = start.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(
        waited < Duration::from_secs(3),
        "a 300 ms timeout took {waited:?}"
    );
    let err = client
        .get_multi::<_, String>(["stop:k", "stop:j"], "")
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    server.resume();
    assert_eq!(
        client.get::<String>("stop:k").unwrap().as_deref(),
        Some("v")
    );
    let (open, _) = client.pool_state()[0];
    assert!(open <= 2);
}

#[test]
fn a_batch_deadline_bounds_a_whole_multi_key_operation() {
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = quick([proxy.spec()])
        .io_timeout(Some(Duration::from_secs(30)))
        .batch_deadline(Some(Duration::from_millis(300)))
        .retry_timeout(Duration::ZERO)
        .build()
        .unwrap();
    client
        .set_multi((0..100).map(|i| (format!("dl:{i}"), i)), "", 0)
        .unwrap();
    proxy.set_fault(Fault::Swallow);
    let start = Instant::now();
    let r: Result<HashMap<String, u32>, _> =
        client.get_multi((0..100).map(|i| format!("dl:{i}")), "");
    assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    proxy.set_fault(Fault::Pass);
    let hits: HashMap<String, u32> = client
        .get_multi((0..100).map(|i| format!("dl:{i}")), "")
        .unwrap();
    assert_eq!(hits.len(), 100);
}

/// Each reply fault gives a typed error, discards the connection, and the
/// next operation succeeds on a fresh one. The faulted operation is an
/// incr, which is never retried, so the fault reaches the caller (a get
/// would be retried once on a fresh connection and succeed). A duplicated
/// reply is the exception: the call it answers has its answer, and the copy
/// left on the wire retires the connection without reaching anyone.
#[test]
fn every_injected_reply_fault_is_a_typed_error_and_the_next_operation_succeeds() {
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = quick([proxy.spec()])
        .retry_timeout(Duration::ZERO)
        .max_connections(1)
        .build()
        .unwrap();
    client.set("fault:k", "value", 0).unwrap();
    client.set("fault:n", 0u64, 0).unwrap();
    type Expected = Option<fn(&Error) -> bool>;
    let faults: Vec<(Fault, Expected)> = vec![
        (Fault::Truncate, Some(|e| matches!(e, Error::Io { .. }))),
        (
            Fault::Corrupt,
            Some(|e| matches!(e, Error::Protocol { .. })),
        ),
        (Fault::Duplicate, None),
        (Fault::Cut, Some(|e| matches!(e, Error::Io { .. }))),
        (
            Fault::OversizedLength,
            Some(|e| matches!(e, Error::Protocol { .. })),
        ),
        (Fault::Swallow, Some(|e| matches!(e, Error::Timeout { .. }))),
        (
            Fault::Delay(Duration::from_millis(800)),
            Some(|e| matches!(e, Error::Timeout { .. })),
        ),
    ];
    for (fault, expected) in faults {
        let name = format!("{fault:?}");
        assert!(client.get::<String>("fault:k").unwrap().is_some());
        let opened = proxy.accepted();
        proxy.set_fault_once(fault);
        let first = client.incr("fault:n", 1);
        match expected {
            Some(expected) => {
                let error = first.expect_err(&name);
                assert!(expected(&error), "{name}: {error:?}");
            }
            None => {
                let before = first.expect(&name);
                assert_eq!(client.incr("fault:n", 1).expect(&name), before + 1);
            }
        }
        proxy.set_fault(Fault::Pass);
        assert_eq!(
            client.get::<String>("fault:k").unwrap().as_deref(),
            Some("value"),
            "{name}: the next operation must succeed"
        );
        assert!(
            proxy.accepted() > opened,
            "{name}: the faulty connection was discarded"
        );
    }
}

/// A new connection closed after part of its first reply: the server
/// speaks the binary protocol, so this is an I/O error — not a failed
/// connect with a hint about TLS, which would also skip the server for
/// the retry timeout.
#[test]
fn a_first_reply_cut_short_is_an_io_error_not_a_failed_connect() {
    let proxy = Proxy::start(&shared().spec());
    let client = quick([proxy.spec()])
        .retry_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    proxy.set_fault_once(Fault::Truncate);
    let err = client.get::<String>("cut_first:k").unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(!err.to_string().contains("TLS"), "{err}");
    assert_eq!(client.get::<String>("cut_first:k").unwrap(), None);
}

#[test]
fn a_hostile_body_length_is_refused_without_allocating_it() {
    let server = Memcached::start();
    let proxy = Proxy::start(&server.spec());
    let client = quick([proxy.spec()])
        .max_value_size(1 << 20)
        .retry_timeout(Duration::ZERO)
        .build()
        .unwrap();
    client.set("hostile:k", "v", 0).unwrap();
    proxy.set_fault_once(Fault::OversizedLength);
    let err = client.get::<String>("hostile:k").unwrap_err();
    match err {
        Error::Protocol { error, .. } => {
            assert!(error.to_string().contains("exceeds the maximum"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    // The refusal comes from the header alone (see the decoder's unit test);
    // here the process simply did not try to allocate ~4 GB and carries on.
    proxy.set_fault(Fault::Pass);
    assert_eq!(
        client.get::<String>("hostile:k").unwrap().as_deref(),
        Some("v")
    );
}

#[test]
fn pool_builder_options_keep_idle_connections_and_test_on_checkout_catches_a_restart() {
    let mut server = Memcached::start();
    let client = quick([server.spec()])
        .min_idle(2)
        .max_connections(4)
        .test_on_checkout(true)
        .build()
        .unwrap();
    client.set("opts:n", 1u64, 0).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while client.pool_state()[0].1 < 2 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        client.pool_state()[0].1 >= 2,
        "min_idle connections are kept open: {:?}",
        client.pool_state()
    );
    server.restart();
    client.set("opts:n", 1u64, 0).unwrap();
    // Each checkout is proven with a Noop first, so even an incr, which is
    // never retried, does not meet a dead connection.
    server.restart();
    assert!(
        matches!(client.incr("opts:n", 1), Err(Error::NotFound)),
        "reached the new, empty server"
    );
}

#[test]
fn connections_past_max_lifetime_are_replaced() {
    let server = Memcached::start();
    let client = quick([server.spec()])
        .max_lifetime(Some(Duration::from_millis(100)))
        .build()
        .unwrap();
    client.set("life:k", "v", 0).unwrap();
    let first = client.stats("").unwrap()[0].1["total_connections"]
        .parse::<u64>()
        .unwrap();
    // r2d2's reaper runs every 30 s; the client checks the age at checkout.
    for _ in 0..3 {
        client.get::<String>("life:k").unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    let later = client.stats("").unwrap()[0].1["total_connections"]
        .parse::<u64>()
        .unwrap();
    assert!(
        later > first,
        "old connections were replaced ({first} -> {later})"
    );
}
