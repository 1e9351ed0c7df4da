//! Several memcached processes at once: key placement, fan-out, and a
//! server that is down.

mod support;

use std::collections::HashMap;

use quickmc::distribution::{DistributionKind, HashAlgorithm};
use quickmc::{Client, Error};
use support::proxy::{Fault, Gate, Proxy};
use support::{Memcached, Options};

fn cluster(n: usize) -> Vec<Memcached> {
    (0..n).map(|_| Memcached::start()).collect()
}

fn specs(servers: &[Memcached]) -> Vec<String> {
    servers.iter().map(Memcached::spec).collect()
}

/// Every key set through the cluster client is on exactly the server
/// `hash(key)` names, and nowhere else.
fn assert_placement(client: &Client, servers: &[Memcached], keys: &[String]) {
    let singles: Vec<Client> = servers.iter().map(Memcached::client).collect();
    for key in keys {
        let index = client.hash(key).unwrap();
        for (i, single) in singles.iter().enumerate() {
            let found = single.get::<String>(key).unwrap();
            if i == index {
                assert_eq!(
                    found.as_deref(),
                    Some(key.as_str()),
                    "{key} missing from server {i}"
                );
            } else {
                assert_eq!(found, None, "{key} also on server {i}");
            }
        }
    }
}

#[test]
fn keys_land_on_the_server_hash_names_under_modula_and_ketama_with_every_hash() {
    let servers = cluster(3);
    let keys: Vec<String> = (0..60).map(|i| format!("place:{i}")).collect();
    for kind in [
        DistributionKind::Modula,
        DistributionKind::Ketama,
        DistributionKind::KetamaWeighted,
    ] {
        for hash in [
            HashAlgorithm::Default,
            HashAlgorithm::Md5,
            HashAlgorithm::Fnv1a_32,
            HashAlgorithm::Murmur3,
        ] {
            for s in &servers {
                s.client().flush_all(0).unwrap();
            }
            let client = Client::builder()
                .servers(specs(&servers))
                .distribution(kind)
                .hash(hash)
                .build()
                .unwrap();
            // Single sets and one batch both follow the placement.
            for key in &keys[..30] {
                client.set(key, key.as_str(), 0).unwrap();
            }
            let failed = client
                .set_multi(keys[30..].iter().map(|k| (k.as_str(), k.as_str())), "", 0)
                .unwrap();
            assert!(failed.is_empty());
            assert_placement(&client, &servers, &keys);
            let hits: HashMap<&str, String> = client
                .get_multi(keys.iter().map(String::as_str), "")
                .unwrap();
            assert_eq!(hits.len(), keys.len(), "{kind:?} {hash:?}");
            // (Some hashes cluster 60 similar keys on fewer servers under
            // ketama, in libmemcached too; md5 spreads them.)
            if hash == HashAlgorithm::Md5 {
                let mut used = [false; 3];
                for key in &keys {
                    used[client.hash(key).unwrap()] = true;
                }
                assert_eq!(
                    used, [true; 3],
                    "{kind:?} {hash:?} spreads keys over all servers"
                );
            }
        }
    }
}

#[test]
fn placement_matches_the_libmemcached_vectors_for_the_same_server_names() {
    // The modula-default-3 scenario of tests/data/libmemcached.tsv: the
    // index a key maps to depends only on the names and order of servers.
    let client = Client::new(["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]).unwrap();
    let data = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/libmemcached.tsv"
    ))
    .unwrap();
    let mut in_scenario = false;
    let mut checked = 0;
    for line in data.lines() {
        if line.starts_with("# scenario") {
            in_scenario = line.contains("modula-default-3");
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if in_scenario && fields.first() == Some(&"dist") {
            let key: Vec<u8> = (0..fields[2].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&fields[2][i..i + 2], 16).unwrap())
                .collect();
            assert_eq!(
                client.hash(&key).unwrap(),
                fields[3].parse::<usize>().unwrap()
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 200);
}

#[test]
fn a_multi_key_batch_writes_every_servers_batch_before_waiting_on_any() {
    // Four proxies hold every reply until all four have received a request.
    // A client that waited on one server before writing to the next would
    // stall at the gate until its bounded wait ran out.
    let servers = cluster(4);
    let gate = Gate::new(4);
    let proxies: Vec<Proxy> = servers.iter().map(|s| Proxy::start(&s.spec())).collect();
    let client = Client::builder()
        .servers(proxies.iter().map(Proxy::spec))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..1000).map(|i| format!("fanout:{i}")).collect();
    client
        .set_multi(keys.iter().map(|k| (k.as_str(), 1u64)), "", 0)
        .unwrap();
    for p in &proxies {
        p.set_fault(Fault::Gate(gate.clone()));
    }
    let fresh = Client::builder()
        .servers(proxies.iter().map(Proxy::spec))
        .build()
        .unwrap();
    let (hits, report) = fresh
        .get_multi_report::<_, u64>(keys.iter().map(String::as_str), "")
        .unwrap();
    assert_eq!(hits.len(), 1000, "{:?}", report.server_errors);
    assert!(
        !gate.timed_out(),
        "replies were held until a server was waited on alone"
    );
}

#[test]
fn with_one_server_unreachable_get_multi_returns_the_others_hits_and_reports_the_failure() {
    let mut servers = cluster(3);
    let client = Client::builder()
        .servers(specs(&servers))
        .connect_timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..300).map(|i| format!("down:{i}")).collect();
    assert!(
        client
            .set_multi(keys.iter().map(|k| (k.as_str(), k.as_str())), "", 0)
            .unwrap()
            .is_empty()
    );
    let dead = 1;
    let dead_spec = servers[dead].spec();
    servers[dead].kill();
    client.disconnect_all();
    let on_dead: Vec<&String> = keys
        .iter()
        .filter(|k| client.hash(k).unwrap() == dead)
        .collect();
    assert!(!on_dead.is_empty());

    let (hits, report) = client
        .get_multi_report::<_, String>(keys.iter().map(String::as_str), "")
        .unwrap();
    assert_eq!(hits.len(), keys.len() - on_dead.len());
    assert!(on_dead.iter().all(|k| !hits.contains_key(k.as_str())));
    assert_eq!(report.server_errors.len(), 1);
    assert_eq!(report.server_errors[0].server, dead_spec);
    assert_eq!(report.server_errors[0].keys, on_dead.len());
    assert!(report.server_errors[0].error.is_server_failure());
    // The plain form returns the hits, as libmemcached does.
    let plain: HashMap<&str, String> = client
        .get_multi(keys.iter().map(String::as_str), "")
        .unwrap();
    assert_eq!(plain.len(), hits.len());

    // set_multi reports exactly the dead server's keys as not stored.
    let mut not_stored = client
        .set_multi(keys.iter().map(|k| (k.as_str(), "v")), "", 0)
        .unwrap();
    not_stored.sort();
    let mut expected: Vec<&str> = on_dead.iter().map(|k| k.as_str()).collect();
    expected.sort();
    assert_eq!(not_stored, expected);
    // A single get on the dead server is a typed server error, fast.
    let err = client.get::<String>(on_dead[0]).unwrap_err();
    assert!(err.is_server_failure(), "{err:?}");
}

#[test]
fn when_every_server_is_down_get_multi_is_an_error() {
    let client = Client::builder()
        .servers(["127.0.0.1:1", "127.0.0.1:2"])
        .build()
        .unwrap();
    let r: Result<HashMap<&str, String>, Error> = client.get_multi(["a", "b", "c", "d"], "");
    assert!(r.unwrap_err().is_server_failure());
}

#[test]
fn a_cluster_of_tcp_ipv6_and_unix_socket_servers_with_weights_works() {
    let v4 = Memcached::start();
    let v6 = Memcached::with(Options {
        ipv6: true,
        ..Options::default()
    });
    let unix = Memcached::with(Options {
        unix_socket: true,
        ..Options::default()
    });
    let specs = [
        format!("{}:3", v4.spec()),
        format!("{}:2", v6.spec()),
        unix.spec(),
    ];
    let client = Client::builder()
        .servers(&specs)
        .distribution(DistributionKind::Ketama)
        .build()
        .unwrap();
    assert_eq!(
        client.distribution().kind(),
        DistributionKind::KetamaWeighted
    );
    let keys: Vec<String> = (0..200).map(|i| format!("mixed:{i}")).collect();
    assert!(
        client
            .set_multi(keys.iter().map(|k| (k.as_str(), k.as_str())), "", 0)
            .unwrap()
            .is_empty()
    );
    let hits: HashMap<&str, String> = client
        .get_multi(keys.iter().map(String::as_str), "")
        .unwrap();
    assert_eq!(hits.len(), 200);
    let servers = [v4, v6, unix];
    assert_placement(&client, &servers, &keys[..50]);
}
