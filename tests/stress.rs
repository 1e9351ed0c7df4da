//! Sixteen threads on pools smaller than that, mixing single and multi-key
//! operations while servers are killed, restarted and stopped. Every reply
//! must reach the request that asked for it (each value is derived from its
//! key), nothing may panic, every error must be of an expected kind, and no
//! connection may be left open at the end.
//!
//! Bounded: the workers and the chaos loop stop after a fixed time or a
//! fixed number of operations, whichever comes first.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quickmc::distribution::DistributionKind;
use quickmc::{Client, Error};
use support::Memcached;
use support::load::{Rng, curr_connections, steady_connections};

const THREADS: usize = 16;
const RUN_FOR: Duration = Duration::from_secs(6);
const MAX_OPS_PER_THREAD: u64 = 200_000;

fn value_of(key: &str) -> String {
    // Long enough to span several reads for some keys.
    let repeat = 1 + key.len() % 7;
    format!("value-of[{key}]").repeat(repeat * 10)
}

#[test]
fn sixteen_threads_under_kills_restarts_and_stops_get_only_their_own_replies() {
    let servers: Vec<Memcached> = (0..3).map(|_| Memcached::start()).collect();
    let specs: Vec<String> = servers.iter().map(Memcached::spec).collect();
    let client = Client::builder()
        .servers(&specs)
        .distribution(DistributionKind::Ketama)
        .max_connections(4)
        .connect_timeout(Duration::from_millis(200))
        .io_timeout(Some(Duration::from_millis(200)))
        .checkout_timeout(Duration::from_millis(200))
        .retry_timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let servers = Arc::new(Mutex::new(servers));
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let errors: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let deadline = Instant::now() + RUN_FOR;

    let chaos = {
        let servers = servers.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline && round < 50 {
                let victim = round % 3;
                std::thread::sleep(Duration::from_millis(300));
                match round % 3 {
                    0 => servers.lock().unwrap()[victim].restart(),
                    1 => {
                        servers.lock().unwrap()[victim].pause();
                        std::thread::sleep(Duration::from_millis(400));
                        servers.lock().unwrap()[victim].resume();
                    }
                    _ => {
                        servers.lock().unwrap()[victim].kill();
                        std::thread::sleep(Duration::from_millis(300));
                        servers.lock().unwrap()[victim].restart();
                    }
                }
                round += 1;
            }
        })
    };

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let client = client.clone();
            let ops = ops.clone();
            let errors = errors.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
                let mut done = 0u64;
                let note = |e: Error| {
                    let kind = format!("{e:?}")
                        .split([' ', '(', '{'])
                        .next()
                        .unwrap_or("")
                        .to_string();
                    assert!(
                        matches!(
                            e,
                            Error::Timeout { .. }
                                | Error::Io { .. }
                                | Error::Connect { .. }
                                | Error::ServerDown { .. }
                                | Error::PoolTimeout { .. }
                        ),
                        "thread {t}: unexpected error {e:?}"
                    );
                    *errors.lock().unwrap().entry(kind).or_default() += 1;
                };
                while Instant::now() < deadline && done < MAX_OPS_PER_THREAD {
                    let key = format!("stress:{}", rng.below(2000));
                    match rng.below(10) {
                        0..=3 => match client.get::<String>(&key) {
                            Ok(Some(v)) => {
                                assert_eq!(v, value_of(&key), "a reply reached the wrong request")
                            }
                            Ok(None) => {}
                            Err(e) => note(e),
                        },
                        4..=5 => {
                            if let Err(e) = client.set(&key, value_of(&key), 0) {
                                note(e);
                            }
                        }
                        6..=7 => {
                            let keys: Vec<String> = (0..1 + rng.below(40))
                                .map(|_| format!("stress:{}", rng.below(2000)))
                                .collect();
                            match client
                                .get_multi_report::<_, String>(keys.iter().map(String::as_str), "")
                            {
                                Ok((hits, report)) => {
                                    for (k, v) in &hits {
                                        assert_eq!(
                                            v,
                                            &value_of(k),
                                            "a batch reply reached the wrong key"
                                        );
                                    }
                                    // Only keys a failed server left unread
                                    // are reported, never a value gone wrong.
                                    let unread: usize =
                                        report.server_errors.iter().map(|f| f.keys).sum();
                                    assert!(
                                        report.failures.len() <= unread,
                                        "{:?}",
                                        report.failures
                                    );
                                    for failed in report.server_errors {
                                        note(failed.error);
                                    }
                                }
                                Err(e) => note(e),
                            }
                        }
                        8 => {
                            let keys: Vec<String> = (0..1 + rng.below(40))
                                .map(|_| format!("stress:{}", rng.below(2000)))
                                .collect();
                            match client.set_multi_report(
                                keys.iter().map(|k| (k.as_str(), value_of(k))),
                                "",
                                0,
                            ) {
                                Ok(report) => {
                                    for f in report.failures {
                                        note(f.error);
                                    }
                                }
                                Err(e) => note(e),
                            }
                        }
                        _ => {
                            if let Err(e) = client.delete(&key) {
                                note(e);
                            }
                        }
                    }
                    done += 1;
                    for (open, _) in client.pool_state() {
                        assert!(open <= 4, "a pool grew past its maximum");
                    }
                }
                ops.fetch_add(done, Ordering::Relaxed);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker panicked");
    }
    stop.store(true, Ordering::SeqCst);
    chaos.join().expect("the chaos thread panicked");

    let servers = servers.lock().unwrap();
    for s in servers.iter() {
        s.resume();
    }
    println!(
        "operations: {}, errors by kind: {:?}",
        ops.load(Ordering::Relaxed),
        errors.lock().unwrap()
    );
    assert!(ops.load(Ordering::Relaxed) > 1000, "the run made progress");

    // Everything still works after the storm ...
    for key in ["stress:after:1", "stress:after:2", "stress:after:3"] {
        let mut stored = false;
        for _ in 0..20 {
            if client.set(key, value_of(key), 0).is_ok() {
                stored = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(stored, "{key} could not be stored after the chaos ended");
        assert_eq!(client.get::<String>(key).unwrap(), Some(value_of(key)));
    }
    // ... and once the client is gone, no connection is left open: each
    // server counts what an untouched memcached counts with only our probe.
    let untouched = Memcached::start();
    let idle = steady_connections(&untouched.spec());
    let open_before: Vec<u64> = servers
        .iter()
        .map(|s| curr_connections(&s.spec()))
        .collect();
    drop(client);
    for (s, before) in servers.iter().zip(open_before) {
        let end = Instant::now() + Duration::from_secs(5);
        let mut now = curr_connections(&s.spec());
        while now != idle && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
            now = curr_connections(&s.spec());
        }
        assert_eq!(
            now,
            idle,
            "server {} still counts {now} connections (had {before} with the client)",
            s.spec()
        );
    }
}
