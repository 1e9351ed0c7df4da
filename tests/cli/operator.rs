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
