//! `quickmc bench`: what --verify judges, and what it refuses.

use super::*;

#[test]
fn bench_verify_counts_values_it_did_not_write_apart_and_never_as_mismatches() {
    let server = support::Memcached::start();
    let spec = server.spec();
    let plain = quickmc_at(
        &spec,
        &[
            "bench", "--ratio", "0:1", "--ops", "400", "--keys", "50", "--warmup", "0", "--quiet",
        ],
    );
    assert!(plain.status.success(), "{}", stderr(&plain));
    let o = quickmc_at(
        &spec,
        &[
            "--json", "bench", "--verify", "--ratio", "1:0", "--ops", "400", "--keys", "50",
            "--warmup", "0",
        ],
    );
    let json = json_of(&o);
    assert_eq!(json["verify_mismatches"], 0, "{json}");
    assert!(json["verify_foreign"].as_u64().unwrap_or(0) > 0, "{json}");
    assert!(o.status.success(), "{json}");
}

#[test]
fn bench_verify_still_counts_its_own_value_under_the_wrong_key_as_a_mismatch() {
    let server = support::Memcached::start();
    let spec = server.spec();
    let args = [
        "--json",
        "bench",
        "--verify",
        "--ratio",
        "1:0",
        "--keys",
        "2",
        "--warmup",
        "0",
        "--key-prefix",
        "v:",
    ];
    let first = quickmc_at(&spec, &[&args[..], &["--prefill", "--ops", "10"]].concat());
    assert_eq!(json_of(&first)["verify_mismatches"], 0);
    // One key's value copied under the other: what crosstalk would return.
    let client = server.client();
    let value: Vec<u8> = client.get("v:0").unwrap().unwrap();
    client.set("v:1", &value[..], 0).unwrap();
    let second = quickmc_at(&spec, &[&args[..], &["--ops", "50"]].concat());
    let json = json_of(&second);
    assert!(json["verify_mismatches"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(second.status.code(), Some(1));
}

#[test]
fn bench_refuses_zero_keys_ops_and_duration() {
    for (option, rest) in [
        ("--keys", &["--duration", "1"][..]),
        ("--ops", &[][..]),
        ("--duration", &[][..]),
    ] {
        let o = quickmc(&[&["bench", option, "0", "--warmup", "0"][..], rest].concat());
        assert_eq!(o.status.code(), Some(2), "{option}: {}", stdout(&o));
        assert!(stderr(&o).contains(option), "{option}: {}", stderr(&o));
    }
}

#[test]
fn bench_connections_and_the_pool_size_are_one_option() {
    for option in ["--connections", "--pool-size"] {
        let o = quickmc(&[
            option, "2", "bench", "--ops", "20", "--warmup", "0", "--keys", "5", "--quiet",
        ]);
        assert!(o.status.success(), "{option}: {}", stderr(&o));
        let o = quickmc(&[
            "bench", option, "2", "--ops", "20", "--warmup", "0", "--keys", "5", "--quiet",
        ]);
        assert!(o.status.success(), "{option}: {}", stderr(&o));
    }
}
