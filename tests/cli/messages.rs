//! What the tool says about each key: one form, once per key, the same
//! for an invalid key in every command.

use super::*;

/// Keys that modula places on server 0 and on server 1 of `servers`.
fn keys_by_server(servers: &[String], prefix: &str) -> (Vec<String>, Vec<String>) {
    let client = quickmc::Client::new(servers).unwrap();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for n in 0..100 {
        let key = format!("{prefix}{n}");
        match client.hash(&key).unwrap() {
            0 if first.len() < 2 => first.push(key),
            1 if second.len() < 2 => second.push(key),
            _ => {}
        }
    }
    (first, second)
}

#[test]
fn get_with_a_down_server_says_once_per_key_whether_it_was_missing_or_not_asked() {
    let servers = vec![shared().spec(), "127.0.0.1:1".to_string()];
    let (up, down) = keys_by_server(&servers, "cli:down:");
    quickmc(&["set", &up[0], "here"]);
    quickmc(&["delete", &up[1]]);
    let mut args = vec!["get"];
    args.extend(up.iter().chain(&down).map(String::as_str));
    let o = quickmc_at(&servers.join(","), &args);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "here\n");
    let err = stderr(&o);
    for key in up.iter().chain(&down) {
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with(&format!("{key}:")))
            .collect();
        let expected = if key == &up[0] { 0 } else { 1 };
        assert_eq!(lines.len(), expected, "{key}:\n{err}");
    }
    assert!(err.contains(&format!("{}: not found", up[1])), "{err}");
    for key in &down {
        let line = err
            .lines()
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap();
        assert!(!line.contains("not found"), "{line}");
        assert!(
            line.contains("not asked") && line.contains("127.0.0.1:1"),
            "{line}"
        );
    }
}

#[test]
fn every_miss_prints_one_line_naming_the_key_in_one_form() {
    quickmc(&["set", "cli:msg:exists", "v"]);
    let missing = "cli:msg:missing";
    quickmc(&["delete", missing]);
    for args in [
        vec!["get", missing],
        vec!["cat", missing],
        vec!["replace", missing, "v"],
        vec!["append", missing, "v"],
        vec!["prepend", missing, "v"],
        vec!["touch", missing, "10"],
        vec!["incr", missing],
        vec!["decr", missing, "2"],
        vec!["delete", missing],
        vec!["exists", missing],
    ] {
        let o = quickmc(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&o), format!("{missing}: not found\n"), "{args:?}");
        assert_eq!(stdout(&o), "", "{args:?}");
    }
    let o = quickmc(&["add", "cli:msg:exists", "v"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "cli:msg:exists: exists\n");
}

#[test]
fn an_invalid_key_gets_one_message_and_exit_2_in_every_command() {
    let long = "k".repeat(251);
    for key in ["", long.as_str()] {
        let mut messages = Vec::new();
        for args in [
            vec!["get", key],
            vec!["cat", key],
            vec!["gets", key],
            vec!["exists", key],
            vec!["set", key, "v"],
            vec!["add", key, "v"],
            vec!["replace", key, "v"],
            vec!["append", key, "v"],
            vec!["prepend", key, "v"],
            vec!["cas", key, "v", "1"],
            vec!["delete", key],
            vec!["incr", key],
            vec!["decr", key],
            vec!["touch", key, "1"],
            vec!["ring", key],
            vec!["get", "cli:fine", key],
        ] {
            let o = quickmc(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            messages.push((args[0], stderr(&o)));
        }
        let first = messages[0].1.clone();
        assert!(first.contains("invalid key"), "{first}");
        for (command, message) in &messages {
            assert_eq!(message, &first, "{command}");
        }
    }
}
