//! Operator commands: values from stdin or files, exists, gets/cas,
//! stats --analyze.

use super::*;

#[test]
fn a_value_comes_from_stdin_with_a_dash_or_from_a_file_and_2_mb_work() {
    let big = support::Memcached::with(support::Options {
        item_size: Some("4m"),
        ..Default::default()
    });
    let value: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let dir = support::temp_dir("value-file");
    let file = dir.join("value.bin");
    std::fs::write(&file, &value).unwrap();
    let o = quickmc_at(
        &big.spec(),
        &["set", "cli:file", "--file", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(quickmc_at(&big.spec(), &["cat", "cli:file"]).stdout, value);

    let mut child = bin()
        .args(["--servers", &big.spec(), "set", "cli:stdin", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&value).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(quickmc_at(&big.spec(), &["cat", "cli:stdin"]).stdout, value);

    let o = with_stdin(&["append", "cli:stdin-small", "-"], b"x");
    assert_eq!(o.status.code(), Some(1), "append to a missing key");
    assert!(
        with_stdin(&["set", "cli:stdin-small", "-"], b"piped")
            .status
            .success()
    );
    assert_eq!(stdout(&quickmc(&["get", "cli:stdin-small"])), "piped\n");
}

#[test]
fn exists_answers_with_the_exit_status() {
    quickmc(&["set", "cli:ex", "v"]);
    quickmc(&["delete", "cli:ex-not"]);
    let o = quickmc(&["exists", "cli:ex"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        quickmc(&["exists", "cli:ex", "cli:ex-not"]).status.code(),
        Some(1)
    );
}

#[test]
fn gets_then_cas_swaps_only_while_the_value_is_unchanged() {
    quickmc(&["set", "cli:cas", "one"]);
    let o = quickmc(&["gets", "cli:cas"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let (cas, value) = text.trim_end().split_once('\t').expect("CAS<TAB>VALUE");
    assert_eq!(value, "one");
    let o = quickmc(&["cas", "cli:cas", "two", cas]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = quickmc(&["cas", "cli:cas", "three", cas]);
    assert_eq!(o.status.code(), Some(1), "a stale CAS id");
    assert!(stderr(&o).starts_with("cli:cas: "), "{}", stderr(&o));
    assert_eq!(stdout(&quickmc(&["get", "cli:cas"])), "two\n");
    let json = json_of(&quickmc(&["--json", "gets", "cli:cas"]));
    assert!(json["cli:cas"]["cas"].as_u64().unwrap() > 0);
}

#[test]
fn stats_analyze_summarises_hit_ratio_evictions_and_fill_per_server() {
    let server = support::Memcached::start();
    let spec = server.spec();
    quickmc_at(&spec, &["set", "a", "v"]);
    quickmc_at(&spec, &["get", "a"]);
    quickmc_at(&spec, &["get", "b"]);
    let o = quickmc_at(&spec, &["stats", "--analyze"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for word in ["hit ratio", "evictions", "fill", "50.0%", spec.as_str()] {
        assert!(text.contains(word), "{word}:\n{text}");
    }
    let json = json_of(&quickmc_at(&spec, &["--json", "stats", "--analyze"]));
    let s = &json["servers"][&spec];
    assert_eq!(s["hit_ratio"], 0.5, "{json}");
    assert_eq!(s["evictions"], 0);
    assert!(s["fill"].as_f64().unwrap() > 0.0);
    assert_eq!(json["cluster"]["items"], 1);
}

/// Issue 9, item 12: memcached answers a binary Stat for `conns` with "not
/// found"; the tool asks the text protocol of the same port instead.
#[test]
fn stats_conns_is_fetched_over_the_text_protocol_of_the_same_port() {
    let o = quickmc(&["stats", "conns"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(":addr"), "{out}");
    assert!(!stderr(&o).contains("not found"), "{}", stderr(&o));
    let o = quickmc(&["--json", "stats", "conns"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let stats = doc[shared().spec()]
        .as_object()
        .expect("the server's stats");
    assert!(stats.keys().any(|k| k.ends_with(":state")), "{stats:?}");
}

/// Issue 9, item 23: `dump` lists the keys (memcached's `lru_crawler
/// metadump all`), one per line, or as one JSON array.
#[test]
fn dump_lists_every_key_the_server_holds_as_memcdump_does() {
    let server = support::Memcached::start();
    let spec = server.spec();
    for key in ["dump:a", "dump:b", "dump:with space"] {
        let o = quickmc_at(&spec, &["set", key, "v"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let o = quickmc_at(&spec, &["dump"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut keys: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    keys.sort();
    assert_eq!(keys, ["dump:a", "dump:b", "dump:with space"]);
    let o = quickmc_at(&spec, &["--json", "dump"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let entries = doc.as_array().expect("an array");
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e["server"] == spec.as_str()));
    assert!(entries.iter().all(|e| e["size"].as_u64().unwrap_or(0) > 0));
}

/// Issue 9, items 12 and 23: a SASL server never answers the text
/// protocol; the tool says so at once instead of waiting for a timeout.
#[test]
fn text_protocol_commands_on_a_sasl_server_say_so_at_once() {
    let server = support::Memcached::start_sasl();
    let login = [
        "--username",
        support::SASL_USER,
        "--password",
        support::SASL_PASSWORD,
        "--io-timeout-ms",
        "10000",
    ];
    for command in [&["dump"][..], &["stats", "conns"][..]] {
        let start = std::time::Instant::now();
        let args: Vec<&str> = login.iter().chain(command).copied().collect();
        let o = quickmc_at(&server.spec(), &args);
        assert_eq!(o.status.code(), Some(1), "{command:?}: a server failed");
        assert!(stderr(&o).contains("SASL"), "{command:?}: {}", stderr(&o));
        assert!(
            start.elapsed() < std::time::Duration::from_secs(8),
            "{command:?} waited for the 10 s timeout"
        );
    }
}
