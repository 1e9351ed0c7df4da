//! The `quickmc` command-line tool, run as a user would.

mod support;

use std::process::{Command, Output};

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
