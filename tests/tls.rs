//! TLS against real memcached started with `-Z`, with certificates the
//! tests make themselves: every operation, large batches, mutual TLS,
//! every handshake failure as a typed error, placement unchanged, SASL over
//! TLS, and a restart under load.

mod support;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use quickmc::distribution::DistributionKind;
use quickmc::{Client, Error, TlsConfig};
use support::tls::{pki, tls_server, tls_server_with, trusting_the_test_ca};
use support::{Memcached, key};

/// One TLS memcached shared by the tests that do not disturb it.
fn shared_tls() -> &'static Memcached {
    static SERVER: OnceLock<Memcached> = OnceLock::new();
    SERVER.get_or_init(|| tls_server(&pki().server, false))
}

fn client_for(server: &Memcached, tls: TlsConfig) -> Client {
    Client::builder()
        .servers([server.spec()])
        .tls(tls)
        .build()
        .expect("client")
}

fn tls_error(error: Error) -> String {
    match error {
        Error::Tls { server, reason } => {
            assert!(!server.is_empty());
            reason
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn every_operation_works_over_tls_1_3() {
    let c = client_for(shared_tls(), trusting_the_test_ca());
    let k = |name| key("tls_ops", name);
    assert!(c.set(k("s"), "hello", 0).unwrap());
    assert_eq!(c.get::<String>(k("s")).unwrap().as_deref(), Some("hello"));
    let (_, cas) = c.gets::<String>(k("s")).unwrap().unwrap();
    assert!(c.cas(k("s"), "swapped", cas, 0).unwrap());
    assert!(!c.add(k("s"), "x", 0).unwrap());
    assert!(c.replace(k("s"), "mid", 0).unwrap());
    assert!(c.append(k("s"), ">", 0).unwrap());
    assert!(c.prepend(k("s"), "<", 0).unwrap());
    assert_eq!(
        c.gat::<String>(k("s"), 60).unwrap().as_deref(),
        Some("<mid>")
    );
    assert!(c.touch(k("s"), 60).unwrap());
    assert!(c.set(k("n"), 10u64, 0).unwrap());
    assert_eq!(c.incr(k("n"), 5).unwrap(), 15);
    assert_eq!(c.decr(k("n"), 20).unwrap(), 0);
    assert!(c.delete(k("s")).unwrap());
    assert!(c.get::<String>(k("s")).unwrap().is_none());
    assert!(c.stats("").unwrap()[0].1.contains_key("curr_connections"));
    assert!(c.version()[0].1.as_ref().unwrap().starts_with("1."));
    let ping = c.ping().remove(0).1.unwrap();
    let session = ping.tls.expect("a TLS session");
    assert_eq!(session.version, "TLSv1_3");
    assert!(session.cipher.starts_with("TLS13_"), "{}", session.cipher);
    // The text-protocol side door speaks TLS too.
    let conns = c.stats_text("conns").remove(0).1.unwrap();
    assert!(conns.keys().any(|k| k.ends_with(":addr")), "{conns:?}");
}

#[test]
fn ten_thousand_key_get_multi_and_set_multi_over_tls() {
    let c = client_for(shared_tls(), trusting_the_test_ca());
    let keys: Vec<String> = (0..10_000)
        .map(|i| key("tls_batch", &i.to_string()))
        .collect();
    let value = "v".repeat(1000);
    let report = c
        .set_multi_report(keys.iter().map(|k| (k.as_str(), value.as_str())), "", 0)
        .unwrap();
    assert!(
        report.is_complete(),
        "{} not stored: {:?}",
        report.failures.len(),
        report.failures.first()
    );
    let hits: HashMap<&str, String> = c.get_multi(keys.iter().map(String::as_str), "").unwrap();
    assert_eq!(hits.len(), keys.len());
    assert!(hits.values().all(|v| *v == value));
    assert!(c.delete_multi(keys.iter().map(String::as_str), "").unwrap());
}

/// memcached 1.6.18 leaves the part of a TLS record that does not fit its
/// read buffer inside OpenSSL and waits for the socket: the client ends
/// every write with a small record, so no batch or value size stalls it.
#[test]
fn batches_and_values_of_every_size_complete_over_tls_without_stalling() {
    let server = tls_server_with(&pki().server, &["-I", "4m"]);
    let c = client_for(&server, trusting_the_test_ca());
    for size in [1usize, 23, 24, 25, 100, 1000, 5000, 16 * 1024, 100_000] {
        let keys: Vec<String> = (0..(2_000_000 / size.max(1000)).clamp(20, 3000))
            .map(|i| key("tls_sizes", &format!("{size}:{i}")))
            .collect();
        let value = vec![b'x'; size];
        let report = c
            .set_multi_report(keys.iter().map(|k| (k.as_str(), &value[..])), "", 0)
            .unwrap();
        assert!(
            report.is_complete(),
            "size {size}: {:?}",
            report.failures.first()
        );
        let hits: HashMap<&str, Vec<u8>> =
            c.get_multi(keys.iter().map(String::as_str), "").unwrap();
        assert_eq!(hits.len(), keys.len(), "size {size}");
    }
    for size in [24usize, 16 * 1024 + 7, 1 << 20, 3 << 20] {
        let value = vec![b'y'; size];
        assert!(
            c.set("tls_sizes:single", &value[..], 0).unwrap(),
            "size {size}"
        );
        assert_eq!(
            c.get::<Vec<u8>>("tls_sizes:single")
                .unwrap()
                .map(|v| v.len()),
            Some(size)
        );
    }
}

#[test]
fn mutual_tls_is_accepted_with_a_client_certificate_and_refused_without_one() {
    let server = tls_server(&pki().server, true);
    let with_cert = trusting_the_test_ca()
        .client_cert_files(&pki().client.0, &pki().client.1)
        .unwrap();
    let c = client_for(&server, with_cert);
    assert!(c.set("mtls", "ok", 0).unwrap());
    assert_eq!(c.get::<String>("mtls").unwrap().as_deref(), Some("ok"));

    let without = client_for(&server, trusting_the_test_ca());
    let start = Instant::now();
    let reason = tls_error(without.get::<String>("mtls").unwrap_err());
    assert!(reason.contains("client certificate"), "{reason}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "within the connect timeout"
    );
    assert_eq!(
        without.pool_state()[0].0,
        0,
        "nothing refused enters the pool"
    );
}

#[test]
fn each_handshake_failure_is_a_typed_error_naming_the_server_and_the_reason() {
    let server = shared_tls();
    let cases: [(&str, TlsConfig, &str); 3] = [
        (
            "wrong CA",
            TlsConfig::new().ca_file(&pki().other_ca).unwrap(),
            "not signed by a trusted CA",
        ),
        (
            "wrong name",
            trusting_the_test_ca().server_name("elsewhere.test"),
            "does not name this server",
        ),
        (
            "a plain server",
            trusting_the_test_ca(),
            "does not speak TLS",
        ),
    ];
    let plain = Memcached::start();
    for (what, config, expected) in cases {
        let target = if what == "a plain server" {
            &plain
        } else {
            server
        };
        let c = Client::builder()
            .servers([target.spec()])
            .tls(config)
            .retry_timeout(Duration::ZERO)
            .build()
            .unwrap();
        let error = c.get::<String>("k").unwrap_err();
        assert!(
            error.is_server_failure(),
            "{what}: counts as a connect failure"
        );
        assert!(
            error.to_string().contains(&target.spec()),
            "{what}: {error}"
        );
        let reason = tls_error(error);
        assert!(reason.contains(expected), "{what}: {reason}");
    }

    let expired = tls_server(&pki().expired, false);
    let reason = tls_error(
        client_for(&expired, trusting_the_test_ca())
            .get::<String>("k")
            .unwrap_err(),
    );
    assert!(reason.contains("expired"), "{reason}");

    // A TLS server spoken to in plain fails the connect, naming the server.
    let c = Client::builder()
        .servers([server.spec()])
        .retry_timeout(Duration::ZERO)
        .build()
        .unwrap();
    match c.get::<String>("k").unwrap_err() {
        Error::Connect {
            server: name,
            source,
        } => {
            assert_eq!(&*name, server.spec());
            assert!(source.to_string().contains("require TLS"), "{source}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_ip_address_connects_to_a_certificate_for_a_name_given_as_the_server_name() {
    let server = tls_server(&pki().named, false);
    let by_name = client_for(&server, trusting_the_test_ca().server_name("cache.test"));
    assert!(by_name.set("named", "ok", 0).unwrap());
    let by_ip = client_for(&server, trusting_the_test_ca());
    let reason = tls_error(by_ip.get::<String>("named").unwrap_err());
    assert!(reason.contains("does not name"), "{reason}");
}

#[test]
fn turning_tls_on_never_moves_a_key() {
    let hosts = ["cache-a:11211", "cache-b:11300", "10.0.0.3:11211:2"];
    for kind in [
        DistributionKind::Modula,
        DistributionKind::Ketama,
        DistributionKind::KetamaWeighted,
    ] {
        let plain = Client::builder()
            .servers(hosts)
            .distribution(kind)
            .build()
            .unwrap();
        let per_server = Client::builder()
            .servers(hosts.map(|h| format!("tls://{h}")))
            .distribution(kind)
            .build()
            .unwrap();
        let all = Client::builder()
            .servers(hosts)
            .distribution(kind)
            .tls(TlsConfig::new().dangerously_accept_any_server_certificate())
            .build()
            .unwrap();
        for i in 0..2000 {
            let k = format!("user:{i}");
            let expected = plain.hash(&k).unwrap();
            assert_eq!(per_server.hash(&k).unwrap(), expected, "{kind:?} {k}");
            assert_eq!(all.hash(&k).unwrap(), expected, "{kind:?} {k}");
        }
    }
}

#[test]
fn a_tls_scheme_in_the_spec_speaks_tls_to_that_server_only() {
    let plain = Memcached::start();
    let tls = shared_tls();
    let builder = || Client::builder().servers([plain.spec(), format!("tls://{}", tls.spec())]);
    // The last of `tls` (everywhere) and `tls_config` (marked servers) wins.
    let overridden = builder()
        .tls(trusting_the_test_ca())
        .tls_config(trusting_the_test_ca())
        .build()
        .unwrap();
    let c = builder()
        .tls_config(trusting_the_test_ca())
        .build()
        .unwrap();
    for client in [&overridden, &c] {
        let pings = client.ping();
        assert!(pings[0].1.as_ref().unwrap().tls.is_none());
        assert!(pings[1].1.as_ref().unwrap().tls.is_some());
    }
    let keys: Vec<String> = (0..200).map(|i| key("tls_mixed", &i.to_string())).collect();
    assert!(
        c.set_multi(keys.iter().map(|k| (k.as_str(), k.as_str())), "", 0)
            .unwrap()
            .is_empty()
    );
    let hits: HashMap<&str, String> = c.get_multi(keys.iter().map(String::as_str), "").unwrap();
    assert_eq!(hits.len(), 200);
}

#[test]
fn sasl_runs_over_tls() {
    let server = Memcached::start_sasl_with(vec![
        "-Z".into(),
        "-o".into(),
        format!(
            "ssl_chain_cert={},ssl_key={}",
            pki().server.0.display(),
            pki().server.1.display()
        ),
    ]);
    let c = Client::builder()
        .servers([server.spec()])
        .tls(trusting_the_test_ca())
        .credentials(support::SASL_USER, support::SASL_PASSWORD)
        .build()
        .unwrap();
    assert!(c.set("sasl-tls", "ok", 0).unwrap());
    assert_eq!(c.get::<String>("sasl-tls").unwrap().as_deref(), Some("ok"));
    assert!(c.ping()[0].1.as_ref().unwrap().tls.is_some());
    let wrong = Client::builder()
        .servers([server.spec()])
        .tls(trusting_the_test_ca())
        .credentials(support::SASL_USER, "wrong")
        .build()
        .unwrap();
    assert!(matches!(
        wrong.get::<String>("sasl-tls"),
        Err(Error::Auth(_))
    ));
}

#[test]
fn an_idle_tls_connection_with_session_tickets_waiting_is_reused_not_discarded() {
    let server = tls_server(&pki().server, false);
    let c = client_for(&server, trusting_the_test_ca());
    assert!(c.set("idle", "v", 0).unwrap());
    let opened = |c: &Client| -> u64 {
        c.stats("").unwrap()[0].1["total_connections"]
            .parse()
            .unwrap()
    };
    let before = opened(&c);
    // The tickets memcached sent after the handshake sit unread meanwhile.
    std::thread::sleep(Duration::from_millis(200));
    for _ in 0..20 {
        assert_eq!(c.get::<String>("idle").unwrap().as_deref(), Some("v"));
    }
    assert_eq!(
        opened(&c),
        before,
        "no new connection: the idle one was fine"
    );
}

#[test]
fn a_server_restart_under_load_over_tls_is_recovered_from_with_every_value_right() {
    let mut server = tls_server(&pki().server, false);
    let c = Client::builder()
        .servers([server.spec()])
        .tls(trusting_the_test_ca())
        .retry_timeout(Duration::from_millis(50))
        .io_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap();
    let stop = AtomicBool::new(false);
    let wrong = AtomicUsize::new(0);
    let after = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (c, stop, wrong) = (c.clone(), &stop, &wrong);
            scope.spawn(move || {
                let end = Instant::now() + Duration::from_secs(10);
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                    i += 1;
                    let k = format!("restart:{t}:{}", i % 50);
                    let v = format!("{k}={i}");
                    if c.set(&k, &v, 0).is_ok()
                        && let Ok(Some(got)) = c.get::<String>(&k)
                        && !got.starts_with(&format!("{k}="))
                    {
                        wrong.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(300));
        server.restart();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if c.set("restart:probe", "ok", 0).is_ok() {
                after.fetch_add(1, Ordering::Relaxed);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(
        wrong.load(Ordering::Relaxed),
        0,
        "a reply reached the wrong key"
    );
    assert_eq!(after.load(Ordering::Relaxed), 1, "the client recovered");
    assert_eq!(
        c.get::<String>("restart:probe").unwrap().as_deref(),
        Some("ok")
    );
}
