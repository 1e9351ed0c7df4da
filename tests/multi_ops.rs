//! Multi-key operations against a real memcached: pylibmc's semantics,
//! per-key failures, duplicates and invalid keys.

mod support;

use std::collections::HashMap;

use quickmc::{Client, Error, KeyError, StoreOptions};
use support::{Memcached, Options, shared};

fn client() -> Client {
    shared().client()
}

#[test]
fn get_multi_returns_only_hits_keyed_by_the_callers_unprefixed_keys() {
    let c = client();
    c.set("gm:a", "1", 0).unwrap();
    c.set("gm:c", "3", 0).unwrap();
    let hits: HashMap<&str, String> = c.get_multi(["a", "b", "c"], "gm:").unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits["a"], "1");
    assert_eq!(hits["c"], "3");
    assert!(!hits.contains_key("b"));
}

#[test]
fn get_multi_of_no_keys_is_empty_without_io_and_empty_keys_are_skipped() {
    let dead = Client::new(["127.0.0.1:1"]).unwrap();
    let none: HashMap<String, String> = dead.get_multi(Vec::<String>::new(), "").unwrap();
    assert!(none.is_empty());
    let only_empty: HashMap<&str, String> = dead.get_multi([""], "").unwrap();
    assert!(only_empty.is_empty());
    let c = client();
    c.set("gm_empty_k", "v", 0).unwrap();
    let hits: HashMap<&str, String> = c.get_multi(["", "gm_empty_k"], "").unwrap();
    assert_eq!(hits.len(), 1);
}

#[test]
fn with_a_prefix_the_empty_key_is_the_prefix_itself_as_in_pylibmc() {
    let c = client();
    let stored = c.set_multi([("", "whole"), ("k", "part")], "gm_prefix_only:", 0);
    assert!(stored.unwrap().is_empty());
    assert_eq!(
        c.get::<String>("gm_prefix_only:").unwrap().as_deref(),
        Some("whole")
    );
    let hits: HashMap<&str, String> = c.get_multi(["", "k"], "gm_prefix_only:").unwrap();
    assert_eq!(hits.get(""), Some(&"whole".to_string()));
    assert_eq!(hits.get("k"), Some(&"part".to_string()));
    assert!(c.delete_multi([""], "gm_prefix_only:").unwrap());
    assert_eq!(c.get::<String>("gm_prefix_only:").unwrap(), None);
}

#[test]
fn an_invalid_key_fails_the_whole_call_before_any_io_and_the_pool_is_unharmed() {
    let c = Client::builder()
        .servers([shared().spec()])
        .max_connections(1)
        .build()
        .unwrap();
    let long = "x".repeat(251);
    let r: Result<HashMap<String, String>, _> = c.get_multi(["ok".to_string(), long.clone()], "");
    assert!(matches!(r, Err(Error::BadKey(KeyError::TooLong(251)))));
    // The prefix counts towards the 250 bytes.
    let r: Result<HashMap<String, String>, _> = c.get_multi(["k".repeat(248)], "p:x");
    assert!(matches!(r, Err(Error::BadKey(KeyError::TooLong(251)))));
    assert!(matches!(
        c.set_multi([("", "v")], "", 0),
        Err(Error::BadKey(KeyError::Empty))
    ));
    assert!(matches!(
        c.delete_multi([long.as_str()], ""),
        Err(Error::BadKey(_))
    ));
    c.set("inv:k", "v", 0).unwrap();
    assert_eq!(c.get::<String>("inv:k").unwrap().as_deref(), Some("v"));
    assert_eq!(c.pool_state()[0].0, 1);
}

#[test]
fn duplicate_keys_in_get_multi_are_answered_once_each_without_desync() {
    let c = client();
    c.set("dup:a", "1", 0).unwrap();
    let hits: HashMap<&str, String> = c.get_multi(["a", "a", "b", "a"], "dup:").unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits["a"], "1");
    assert!(c.set("dup:after", "ok", 0).unwrap());
}

#[test]
fn set_multi_stores_every_pair_and_later_duplicates_win() {
    let c = client();
    let failed = c
        .set_multi(
            [("a", "1"), ("b", "2"), ("a", "3")],
            "sm:",
            StoreOptions::expire(60),
        )
        .unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(c.get::<String>("sm:a").unwrap().as_deref(), Some("3"));
    assert_eq!(c.get::<String>("sm:b").unwrap().as_deref(), Some("2"));
}

#[test]
fn set_multi_reports_a_too_large_value_and_still_stores_the_others() {
    let server = Memcached::with(Options {
        item_size: Some("1m"),
        ..Options::default()
    });
    let c = server.client();
    let big = vec![0u8; 2 << 20];
    let small = vec![1u8; 10];
    let items = vec![("a", &small), ("big", &big), ("c", &small)];
    let report = c.set_multi_report(items.clone(), "", 0).unwrap();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].key, "big");
    assert!(matches!(report.failures[0].error, Error::TooLarge));
    assert_eq!(c.get::<Vec<u8>>("a").unwrap(), Some(small.clone()));
    assert_eq!(c.get::<Vec<u8>>("c").unwrap(), Some(small.clone()));
    assert_eq!(c.set_multi(items, "", 0).unwrap(), vec!["big"]);
}

#[test]
fn add_multi_returns_the_keys_that_existed() {
    let c = client();
    c.set("am:exists", "old", 0).unwrap();
    let not_stored = c
        .add_multi([("exists", "new"), ("fresh", "new")], "am:", 0)
        .unwrap();
    assert_eq!(not_stored, vec!["exists"]);
    assert_eq!(
        c.get::<String>("am:exists").unwrap().as_deref(),
        Some("old")
    );
    assert_eq!(c.get::<String>("am:fresh").unwrap().as_deref(), Some("new"));
    let report = c.add_multi_report([("exists", "x")], "am:", 0).unwrap();
    assert!(matches!(report.failures[0].error, Error::Exists));
}

#[test]
fn delete_multi_is_true_only_if_every_key_was_deleted() {
    let c = client();
    c.set_multi([("a", "1"), ("b", "2")], "dm:", 0).unwrap();
    assert!(c.delete_multi(["a", "b"], "dm:").unwrap());
    c.set("dm:a", "1", 0).unwrap();
    assert!(!c.delete_multi(["a", "missing"], "dm:").unwrap());
    assert_eq!(
        c.get::<String>("dm:a").unwrap(),
        None,
        "the existing key was still deleted"
    );
    let report = c.delete_multi_report(["gone"], "dm:").unwrap();
    assert!(matches!(report.failures[0].error, Error::NotFound));
}

#[test]
fn incr_multi_increments_and_errors_if_any_key_is_missing_without_creating_it() {
    let c = client();
    c.set_multi([("a", 1u64), ("b", 10u64)], "im:", 0).unwrap();
    c.incr_multi(["a", "b"], "im:", 5).unwrap();
    assert_eq!(c.get::<u64>("im:a").unwrap(), Some(6));
    assert_eq!(c.get::<u64>("im:b").unwrap(), Some(15));
    assert!(matches!(
        c.incr_multi(["a", "missing"], "im:", 1),
        Err(Error::NotFound)
    ));
    assert_eq!(
        c.get::<u64>("im:a").unwrap(),
        Some(7),
        "the present key was incremented"
    );
    assert_eq!(
        c.get::<String>("im:missing").unwrap(),
        None,
        "never created"
    );
    c.set("im:text", "abc", 0).unwrap();
    let report = c
        .incr_multi_report(["a", "text", "missing"], "im:", 1)
        .unwrap();
    let kinds: Vec<(&str, String)> = report
        .failures
        .iter()
        .map(|f| (f.key, format!("{:?}", f.error)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("text", "NonNumeric".into()),
            ("missing", "NotFound".into())
        ]
    );
    c.decr_multi(["a", "b"], "im:", 100).unwrap();
    assert_eq!(c.get::<u64>("im:b").unwrap(), Some(0));
}

#[test]
fn touch_multi_returns_the_missing_keys() {
    let c = client();
    c.set("tm:a", "1", 1).unwrap();
    let missing = c.touch_multi(["a", "nope"], "tm:", 100).unwrap();
    assert_eq!(missing, vec!["nope"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert!(c.get::<String>("tm:a").unwrap().is_some());
}

#[test]
fn get_multi_decodes_mixed_types_by_flags_and_reports_a_value_it_cannot_read() {
    let c = client();
    c.set("mix:n", 5u64, 0).unwrap();
    c.set("mix:t", "text", 0).unwrap();
    let hits: HashMap<&str, quickmc::value::Value> = c.get_multi(["n", "t"], "mix:").unwrap();
    assert_eq!(hits["n"], quickmc::value::Value::Int(5));
    let (hits, report) = c.get_multi_report::<_, u64>(["n", "t"], "mix:").unwrap();
    assert_eq!(hits.get("n"), Some(&5));
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].key, "t");
    assert!(matches!(
        c.get_multi::<_, u64>(["n", "t"], "mix:"),
        Err(Error::Deserialize { .. })
    ));
    // The connection drained the batch and stays in sync.
    assert_eq!(c.get::<u64>("mix:n").unwrap(), Some(5));
}

#[test]
fn a_batch_of_thousands_of_mixed_operations_keeps_every_value_with_its_key() {
    let c = client();
    let n = 20_000;
    let items: Vec<(String, String)> = (0..n)
        .map(|i| (format!("k{i}"), format!("value-of-{i}")))
        .collect();
    assert!(
        c.set_multi(
            items.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            "bulk:",
            0
        )
        .unwrap()
        .is_empty()
    );
    let keys: Vec<String> = (0..n + 100).map(|i| format!("k{i}")).collect();
    let hits: HashMap<String, String> = c.get_multi(keys, "bulk:").unwrap();
    assert_eq!(hits.len(), n);
    for (k, v) in &hits {
        assert_eq!(v, &format!("value-of-{}", &k[1..]));
    }
}

#[test]
fn a_value_that_cannot_be_serialized_is_reported_and_the_rest_of_the_batch_is_stored() {
    use serde::ser::{Error as _, Serialize, Serializer};
    enum Mixed {
        Good(u32),
        Bad,
    }
    impl Serialize for Mixed {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self {
                Mixed::Good(n) => s.serialize_u32(*n),
                Mixed::Bad => Err(S::Error::custom("refuses to serialize")),
            }
        }
    }
    let c = client();
    let items = [
        ("a", quickmc::value::Serde(Mixed::Good(1))),
        ("bad", quickmc::value::Serde(Mixed::Bad)),
        ("c", quickmc::value::Serde(Mixed::Good(3))),
    ];
    let report = c.set_multi_report(items, "ser:", 0).unwrap();
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].key, "bad");
    assert!(matches!(report.failures[0].error, Error::Serialize(_)));
    assert_eq!(
        c.get::<quickmc::value::Serde<u32>>("ser:a")
            .unwrap()
            .map(|s| s.0),
        Some(1)
    );
    assert_eq!(
        c.get::<quickmc::value::Serde<u32>>("ser:c")
            .unwrap()
            .map(|s| s.0),
        Some(3)
    );
    assert_eq!(c.get::<Vec<u8>>("ser:bad").unwrap(), None);
}
