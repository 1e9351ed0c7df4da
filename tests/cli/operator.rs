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
