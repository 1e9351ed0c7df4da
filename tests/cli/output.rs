//! What the tool prints: nothing breaks on a closed pipe, one JSON
//! document per command, values shown as what they are.

use super::*;

#[test]
fn a_closed_stdout_or_stderr_ends_every_command_quietly_never_with_a_panic() {
    quickmc(&["set", "cli:pipe", "v"]);
    let spec = shared().spec();
    let with_servers = |args: &[&str]| -> Vec<String> {
        ["--servers", spec.as_str()]
            .iter()
            .chain(args)
            .map(|s| s.to_string())
            .collect()
    };
    let runs: Vec<Vec<String>> = vec![
        with_servers(&["stats"]),
        with_servers(&["--json", "stats"]),
        with_servers(&["get", "cli:pipe"]),
        with_servers(&["cat", "cli:pipe"]),
        with_servers(&["version"]),
        with_servers(&["ping"]),
        with_servers(&["ring", "a", "b"]),
        with_servers(&["demo"]),
        with_servers(&[
            "bench", "--ops", "50", "--warmup", "0", "--keys", "10", "--quiet",
        ]),
        vec!["demo".to_string()],
    ];
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = with_closed("stdout", &args);
        assert!(code == 0 || code == 141, "{args:?}: exit {code}\n{err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A miss is reported on stderr; with stderr closed the exit status
    // still says "miss", not "panic" (101).
    let (code, _) = with_closed("stderr", &["--servers", &spec, "get", "cli:pipe-missing"]);
    assert_eq!(code, 1);
}

#[test]
fn every_command_prints_one_json_document_under_json() {
    quickmc(&["set", "cli:json:a", "v"]);
    quickmc(&["set", "cli:json:n", "1"]);
    let server = support::Memcached::start();
    let private = server.spec();
    let runs: Vec<(String, Vec<&str>)> = vec![
        (shared().spec(), vec!["set", "cli:json:a", "v"]),
        (shared().spec(), vec!["add", "cli:json:a", "v"]),
        (shared().spec(), vec!["replace", "cli:json:a", "v"]),
        (shared().spec(), vec!["append", "cli:json:a", "w"]),
        (shared().spec(), vec!["prepend", "cli:json:a", "u"]),
        (shared().spec(), vec!["touch", "cli:json:a", "100"]),
        (shared().spec(), vec!["touch", "cli:json:none", "100"]),
        (shared().spec(), vec!["incr", "cli:json:n"]),
        (shared().spec(), vec!["decr", "cli:json:none"]),
        (shared().spec(), vec!["get", "cli:json:a", "cli:json:none"]),
        (shared().spec(), vec!["gets", "cli:json:a"]),
        (shared().spec(), vec!["exists", "cli:json:a"]),
        (shared().spec(), vec!["cat", "cli:json:a"]),
        (
            shared().spec(),
            vec!["delete", "cli:json:a", "cli:json:none"],
        ),
        (shared().spec(), vec!["stats"]),
        (shared().spec(), vec!["stats", "--analyze"]),
        (shared().spec(), vec!["version"]),
        (shared().spec(), vec!["ping"]),
        (shared().spec(), vec!["ring", "k"]),
        (shared().spec(), vec!["demo"]),
        (private.clone(), vec!["flush"]),
    ];
    for (spec, args) in runs {
        let o = quickmc_at(&spec, &[&["--json"][..], &args].concat());
        assert!(
            o.status.code() == Some(0) || o.status.code() == Some(1),
            "{args:?}: {}",
            stderr(&o)
        );
        let text = stdout(&o);
        let mut documents =
            serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
        assert!(
            matches!(documents.next(), Some(Ok(_))),
            "{args:?}: not JSON: {text:?}"
        );
        assert!(
            documents.next().is_none(),
            "{args:?}: more than one document: {text}"
        );
    }
}

#[test]
fn get_shows_binary_and_pickled_values_clearly_and_verbose_output_has_flags_and_cas() {
    use quickmc::value::Value;
    let client = shared().client();
    client
        .set("cli:bin", &[0u8, 0xff, 0x10, 0x80][..], 0)
        .unwrap();
    client
        .set(
            "cli:pickle",
            Value::Pickle(b"\x80\x04\x95\x05.".to_vec()),
            0,
        )
        .unwrap();
    let o = quickmc(&["get", "cli:bin", "cli:pickle"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(!text.contains('\u{fffd}'), "{text}");
    assert_eq!(
        text,
        "<4 bytes, flags 0>\n<5 bytes, flags 1: a Python pickle>\n"
    );
    assert_eq!(
        stdout(&quickmc(&["get", "--format", "hex", "cli:bin"])),
        "00ff1080\n"
    );
    assert_eq!(
        stdout(&quickmc(&["get", "--format", "base64", "cli:bin"])),
        "AP8QgA==\n"
    );
    assert_eq!(
        quickmc(&["get", "--format", "raw", "cli:bin"]).stdout,
        b"\x00\xff\x10\x80\n"
    );
    let (_, cas) = client.gets::<Vec<u8>>("cli:bin").unwrap().unwrap();
    let verbose = stdout(&quickmc(&["get", "-v", "cli:bin"]));
    assert!(
        verbose.contains("flags 0") && verbose.contains(&format!("cas {cas}")),
        "{verbose}"
    );
    let json = json_of(&quickmc(&["--json", "get", "cli:bin"]));
    assert_eq!(json["cli:bin"]["flags"], 0);
    assert_eq!(json["cli:bin"]["cas"], cas);
    assert_eq!(json["cli:bin"]["value"], "AP8QgA==");
    assert_eq!(json["cli:bin"]["encoding"], "base64");
}
