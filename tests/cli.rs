//! The `quickmc` command-line tool, run as a user would.

mod support;

// The regression tests of issue 9's CLI items, by topic.
#[path = "cli/bench.rs"]
mod bench;
#[path = "cli/help.rs"]
mod help;
#[path = "cli/messages.rs"]
mod messages;
#[path = "cli/operator.rs"]
mod operator;
#[path = "cli/output.rs"]
mod output;
#[path = "cli/scripts.rs"]
mod scripts;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::shared;

fn quickmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quickmc"))
        .env_remove("MEMCACHED_SERVERS")
        .args(["--servers", &shared().spec()])
        .args(args)
        .output()
        .expect("run quickmc")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quickmc"));
    command.env_remove("MEMCACHED_SERVERS");
    command
}

fn quickmc_at(spec: &str, args: &[&str]) -> Output {
    bin()
        .args(["--servers", spec])
        .args(args)
        .output()
        .expect("run quickmc")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = bin()
        .args(["--servers", &shared().spec()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run quickmc");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("quickmc output")
}

/// Runs quickmc with its stdout (or stderr) already closed by the reader,
/// as `quickmc stats | head -1` does once head has its line. Returns the
/// exit status (141 for death by SIGPIPE) and stderr.
fn with_closed(stream: &str, args: &[&str]) -> (i32, String) {
    use std::os::unix::process::ExitStatusExt;
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run quickmc");
    match stream {
        "stdout" => drop(child.stdout.take()),
        _ => drop(child.stderr.take()),
    }
    let o = child.wait_with_output().expect("quickmc output");
    let code = o
        .status
        .code()
        .or_else(|| o.status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    (code, stderr(&o))
}

fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn set_then_get_prints_the_value_and_a_missing_key_exits_1() {
    assert!(
        quickmc(&["set", "cli:a", "hello world", "--ttl", "60"])
            .status
            .success()
    );
    let o = quickmc(&["get", "cli:a"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "hello world\n");
    let o = quickmc(&["get", "cli:a", "cli:missing"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "hello world\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("cli:missing"));
}

#[test]
fn values_set_from_the_cli_are_text_with_flag_16() {
    quickmc(&["set", "cli:flag", "x"]);
    assert_eq!(
        support::raw_get(&shared().spec(), b"cli:flag").unwrap().1,
        16
    );
}

#[test]
fn add_replace_append_prepend_report_not_stored_with_exit_1() {
    quickmc(&["delete", "cli:b"]);
    assert_eq!(quickmc(&["replace", "cli:b", "x"]).status.code(), Some(1));
    assert_eq!(quickmc(&["append", "cli:b", "x"]).status.code(), Some(1));
    assert!(quickmc(&["add", "cli:b", "mid"]).status.success());
    assert_eq!(quickmc(&["add", "cli:b", "again"]).status.code(), Some(1));
    assert!(quickmc(&["append", "cli:b", ">"]).status.success());
    assert!(quickmc(&["prepend", "cli:b", "<"]).status.success());
    assert_eq!(stdout(&quickmc(&["get", "cli:b"])), "<mid>\n");
    assert!(quickmc(&["replace", "cli:b", "new"]).status.success());
    assert!(quickmc(&["delete", "cli:b"]).status.success());
    assert_eq!(quickmc(&["delete", "cli:b"]).status.code(), Some(1));
}

#[test]
fn incr_and_decr_print_the_new_value_and_a_missing_counter_exits_1() {
    quickmc(&["set", "cli:n", "10"]);
    assert_eq!(stdout(&quickmc(&["incr", "cli:n"])), "11\n");
    assert_eq!(stdout(&quickmc(&["incr", "cli:n", "9"])), "20\n");
    assert_eq!(stdout(&quickmc(&["decr", "cli:n", "25"])), "0\n");
    assert_eq!(quickmc(&["incr", "cli:no-counter"]).status.code(), Some(1));
    let negative = quickmc(&["incr", "cli:n", "-5"]);
    assert_eq!(
        negative.status.code(),
        Some(2),
        "a negative delta is refused"
    );
}

#[test]
fn touch_flush_stats_and_version_work() {
    quickmc(&["set", "cli:t", "v"]);
    assert!(quickmc(&["touch", "cli:t", "100"]).status.success());
    assert_eq!(
        quickmc(&["touch", "cli:never-set", "100"]).status.code(),
        Some(1)
    );
    let stats = stdout(&quickmc(&["stats"]));
    assert!(stats.contains("curr_connections"), "{stats}");
    assert!(stdout(&quickmc(&["stats", "settings"])).contains("item_size_max"));
    assert!(stdout(&quickmc(&["version"])).contains("1.6"));
}

#[test]
fn flush_with_a_delay_on_a_private_server() {
    let server = support::Memcached::start();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_quickmc"))
            .args(["--servers", &server.spec()])
            .args(args)
            .output()
            .unwrap()
    };
    run(&["set", "k", "v"]);
    assert!(run(&["flush"]).status.success());
    assert_eq!(run(&["get", "k"]).status.code(), Some(1));
    run(&["set", "k", "v"]);
    assert!(run(&["flush", "--delay", "100"]).status.success());
    assert!(
        run(&["get", "k"]).status.success(),
        "a delayed flush has not happened yet"
    );
}

#[test]
fn flush_with_a_down_server_flushes_the_others_exits_2_and_says_which_in_json() {
    let server = support::Memcached::start();
    let servers = format!("{},127.0.0.1:1", server.spec());
    let run = |args: &[&str]| quickmc_at(&servers, args);
    quickmc_at(&server.spec(), &["set", "k", "v"]);
    let o = run(&["--json", "flush"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["flushed"], false);
    assert_eq!(doc["servers"][server.spec().as_str()]["status"], "ok");
    assert_eq!(doc["servers"]["127.0.0.1:1"]["status"], "failed");
    assert!(stderr(&o).contains("127.0.0.1:1"), "{}", stderr(&o));
    assert_eq!(
        quickmc_at(&server.spec(), &["get", "k"]).status.code(),
        Some(1),
        "the live server was flushed"
    );
}

#[test]
fn servers_default_to_the_environment_variable() {
    quickmc(&["set", "cli:env", "from-env"]);
    let o = Command::new(env!("CARGO_BIN_EXE_quickmc"))
        .env("MEMCACHED_SERVERS", shared().spec())
        .args(["get", "cli:env"])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "from-env\n");
}

#[test]
fn an_unreachable_server_is_an_error_on_stderr_with_exit_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_quickmc"))
        .args(["--servers", "127.0.0.1:1", "get", "k"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("127.0.0.1:1"));
}

#[test]
fn demo_without_servers_starts_its_own_memcached_and_walks_through_the_operations() {
    let o = Command::new(env!("CARGO_BIN_EXE_quickmc"))
        .env_remove("MEMCACHED_SERVERS")
        .arg("demo")
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("started a throwaway memcached"));
    assert!(out.contains("incr(hits, 5)"));
    assert!(out.contains("Done"));
}

#[test]
fn demo_against_given_servers_uses_them() {
    let out = stdout(&quickmc(&["demo"]));
    assert!(out.contains(&shared().spec()), "{out}");
    assert!(!out.contains("throwaway"));
}

#[test]
fn every_command_has_help_with_an_example() {
    for command in [
        "get", "set", "add", "replace", "append", "prepend", "delete", "incr", "decr", "touch",
        "flush", "stats", "version", "demo",
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_quickmc"))
            .args([command, "--help"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{command}");
        assert!(
            stdout(&o).contains("Example"),
            "{command} --help has no example"
        );
    }
}

#[test]
fn get_and_delete_of_many_keys_print_in_the_order_given_and_report_misses() {
    quickmc(&["set", "cli:m1", "one"]);
    quickmc(&["set", "cli:m2", "two"]);
    let o = quickmc(&["get", "cli:m2", "cli:nope", "cli:m1"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stdout(&o), "two\none\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("cli:nope: not found"));
    assert_eq!(
        quickmc(&["delete", "cli:m1", "cli:m2"]).status.code(),
        Some(0)
    );
    assert_eq!(
        quickmc(&["delete", "cli:m1", "cli:m2"]).status.code(),
        Some(1)
    );
}

#[test]
fn ring_prints_the_index_and_spec_each_key_maps_to_as_the_library_places_it() {
    let servers = ["10.0.0.1:11211", "10.0.0.2:11211:2", "cache-c:22122"];
    for (distribution, hash) in [
        ("modula", "default"),
        ("ketama", "md5"),
        ("ketama-weighted", "md5"),
        ("ketama", "fnv1a_32"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_quickmc"))
            .args([
                "--servers",
                &servers.join(","),
                "--distribution",
                distribution,
                "--hash",
                hash,
                "ring",
            ])
            .args(["user:1", "user:2", "session:abc"])
            .output()
            .unwrap();
        assert!(o.status.success());
        let client = quickmc::Client::builder()
            .servers(servers)
            .distribution(distribution.parse().unwrap())
            .hash(hash.parse().unwrap())
            .build()
            .unwrap();
        let specs = client.servers();
        let expected: String = ["user:1", "user:2", "session:abc"]
            .iter()
            .map(|k| {
                let i = client.hash(k).unwrap();
                format!("{k}\t{i}\t{}\n", specs[i])
            })
            .collect();
        assert_eq!(stdout(&o), expected, "{distribution} {hash}");
    }
}

#[test]
fn ping_shows_each_server_up_with_a_round_trip_and_a_down_one_exits_1() {
    let o = quickmc(&["ping"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("up"), "{}", stdout(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_quickmc"))
        .args([
            "--servers",
            &format!("{},127.0.0.1:1", shared().spec()),
            "--json",
            "ping",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let list = json_of(&o);
    assert_eq!(list[0]["up"], true);
    assert!(list[0]["rtt_us"].is_u64());
    assert_eq!(list[1]["up"], false);
}

#[test]
fn stats_print_a_table_with_a_column_per_server_and_json_for_scripts() {
    let text = stdout(&quickmc(&["stats"]));
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("stat") && header.contains(&shared().spec()),
        "{header}"
    );
    assert!(text.lines().any(|l| l.starts_with("curr_connections")));
    let json = json_of(&quickmc(&["--json", "stats", "settings"]));
    assert!(json[shared().spec()]["item_size_max"].is_string());
}

#[test]
fn ring_without_keys_summarises_how_the_key_space_divides() {
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_quickmc"))
            .args(["--servers", "a:11211,b:11211:3", "--distribution", "ketama"])
            .args(extra)
            .output()
            .unwrap()
    };
    let text = stdout(&run(&["ring"]));
    assert!(text.contains("ketama-weighted distribution"), "{text}");
    assert!(text.contains("b:11211") && text.contains('%'));
    let json = json_of(&run(&["--json", "ring", "user:1"]));
    let total: f64 = json["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["share"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-6, "{total}");
    assert!(
        json["servers"][1]["share"].as_f64().unwrap()
            > json["servers"][0]["share"].as_f64().unwrap()
    );
    assert!(json["keys"][0]["index"].is_u64());
}

#[test]
fn cp_stores_files_under_their_names_and_cat_writes_the_raw_bytes_back() {
    let dir = support::temp_dir("cp");
    let file = dir.join("cli-cp-blob.bin");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    std::fs::write(&file, &bytes).unwrap();
    let o = quickmc(&["cp", file.to_str().unwrap(), "--ttl", "60"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("stored cli-cp-blob.bin (10000 bytes)"));
    let o = quickmc(&["cat", "cli-cp-blob.bin"]);
    assert!(o.status.success());
    assert_eq!(o.stdout, bytes);
    assert_eq!(
        quickmc(&["cat", "cli-cp-blob.bin", "cli-cp-missing"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn get_json_maps_keys_to_values() {
    quickmc(&["set", "cli:j1", "one"]);
    let json = json_of(&quickmc(&["--json", "get", "cli:j1"]));
    assert_eq!(json["cli:j1"]["value"], "one");
}

#[test]
fn bench_without_servers_starts_its_own_memcached_and_reports_json() {
    let o = Command::new(env!("CARGO_BIN_EXE_quickmc"))
        .env_remove("MEMCACHED_SERVERS")
        .args([
            "--json",
            "bench",
            "--duration",
            "1",
            "--warmup",
            "0",
            "--threads",
            "2",
            "--keys",
            "1000",
            "--verify",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json = json_of(&o);
    assert!(json["operations"].as_u64().unwrap() > 0);
    assert!(json["throughput"].as_f64().unwrap() > 0.0);
    assert_eq!(json["verify_mismatches"], 0);
    for p in ["p50", "p90", "p99", "p99_9", "max"] {
        assert!(json["latency_us"][p].is_u64(), "{p}");
    }
}

#[test]
fn bench_verify_reports_zero_mismatches_while_servers_are_stopped_killed_and_restarted_in_every_mode()
 {
    for mode in ["pooled", "pipelined", "async"] {
        let mut servers: Vec<support::Memcached> =
            (0..3).map(|_| support::Memcached::start()).collect();
        let specs: Vec<String> = servers.iter().map(|s| s.spec()).collect();
        // Short timeouts under faults; generous ones for the clean run, so a
        // busy machine is not taken for a fault.
        let bench = |seconds: &str, timeout_ms: &str| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_quickmc"));
            command
                .args([
                    "--servers",
                    &specs.join(","),
                    "--distribution",
                    "ketama",
                    "--retry-timeout",
                    "0",
                ])
                .args(["--io-timeout-ms", timeout_ms])
                .args(["--connect-timeout-ms", timeout_ms])
                .args(["--checkout-timeout-ms", timeout_ms])
                .args(["--json", "bench", "--mode", mode, "--duration", seconds])
                .args(["--warmup", "0", "--concurrency", "4", "--keys", "2000"])
                .args(["--verify", "--ratio", "1:1", "--batch", "10"])
                .stdout(std::process::Stdio::piped());
            command
        };
        let child = bench("4", "200").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        servers[0].pause();
        std::thread::sleep(std::time::Duration::from_millis(700));
        servers[0].resume();
        servers[1].kill();
        std::thread::sleep(std::time::Duration::from_millis(700));
        servers[1].restart();
        servers[2].restart();
        let o = child.wait_with_output().unwrap();
        let json = json_of(&o);
        assert_eq!(json["verify_mismatches"], 0, "{mode}: {json}");
        assert!(json["operations"].as_u64().unwrap() > 100, "{mode}: {json}");
        let errors = |json: &serde_json::Value| -> u64 {
            json["errors"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum()
        };
        assert!(
            errors(&json) > 0,
            "{mode}: the faults were seen and counted: {json}"
        );
        assert!(o.status.success(), "{mode}");

        // Once the servers are back, a run is clean.
        let o = bench("1", "2000").output().unwrap();
        let json = json_of(&o);
        assert!(o.status.success(), "{mode}: {json}");
        assert_eq!(json["verify_mismatches"], 0, "{mode}: {json}");
        assert_eq!(errors(&json), 0, "{mode}: a clean run after: {json}");
        assert!(json["operations"].as_u64().unwrap() > 100, "{mode}: {json}");
    }
}

#[path = "cli/tls.rs"]
mod tls;
