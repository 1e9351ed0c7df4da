//! Every single-key operation against a real memcached, with pylibmc's semantics.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quickmc::value::{Item, Serde, Value, flags};
use quickmc::{Client, Error, KeyError, StoreOptions};
use support::{key, shared};

fn client() -> Client {
    shared().client()
}

/// An empty spec (or a list of only empty ones, as an unset variable
/// gives) is no server: a configuration error, never a client that
/// reports success for cluster-wide commands having reached nobody.
#[test]
fn specs_that_are_all_empty_are_a_configuration_error() {
    for specs in [vec![""], vec![" , "], vec!["", " "], vec![]] {
        let built = Client::new(specs.clone());
        assert!(
            matches!(built, Err(Error::Config(_))),
            "{specs:?}: {built:?}"
        );
    }
}

#[test]
fn get_of_a_missing_key_is_none_and_get_or_gives_the_default() {
    let c = client();
    let k = key("get_missing", "k");
    assert_eq!(c.get::<String>(&k).unwrap(), None);
    assert_eq!(c.get_or(&k, 7u32).unwrap(), 7);
}

#[test]
fn get_of_an_empty_key_is_a_miss_without_io_as_pylibmc() {
    let c = Client::new(["127.0.0.1:1"]).unwrap(); // nothing listens there
    assert_eq!(c.get::<String>("").unwrap(), None);
}

#[test]
fn set_then_get_round_trips_text_bytes_integers_bools_and_serde() {
    let c = client();
    let k = |n| key("roundtrip", n);
    assert!(c.set(k("text"), "héllo", 0).unwrap());
    assert_eq!(
        c.get::<String>(k("text")).unwrap().as_deref(),
        Some("héllo")
    );
    assert!(c.set(k("bytes"), &b"\x00\xff"[..], 0).unwrap());
    assert_eq!(c.get::<Vec<u8>>(k("bytes")).unwrap(), Some(vec![0, 255]));
    assert!(c.set(k("int"), -42i64, 0).unwrap());
    assert_eq!(c.get::<i64>(k("int")).unwrap(), Some(-42));
    assert!(c.set(k("bool"), true, 0).unwrap());
    assert_eq!(c.get::<bool>(k("bool")).unwrap(), Some(true));
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct User {
        id: u32,
        tags: Vec<String>,
    }
    let user = User {
        id: 9,
        tags: vec!["a".into()],
    };
    assert!(c.set(k("serde"), Serde(&user), 0).unwrap());
    assert_eq!(
        c.get::<Serde<User>>(k("serde")).unwrap().map(|s| s.0),
        Some(user)
    );
}

#[test]
fn values_are_stored_with_pylibmc_flags_on_the_wire() {
    let c = client();
    let k = |n| key("flags", n);
    c.set(k("s"), "x", 0).unwrap();
    c.set(k("b"), &b"x"[..], 0).unwrap();
    c.set(k("i"), 5u8, 0).unwrap();
    c.set(k("t"), false, 0).unwrap();
    let flag_of = |name| c.get::<Item<'static>>(k(name)).unwrap().unwrap().flags;
    assert_eq!(flag_of("s"), flags::TEXT);
    assert_eq!(flag_of("b"), flags::BYTES);
    assert_eq!(flag_of("i"), flags::LONG);
    assert_eq!(flag_of("t"), flags::INTEGER);
    let raw = c.get::<Item<'static>>(k("t")).unwrap().unwrap();
    assert_eq!(&*raw.data, b"0");
}

#[test]
fn values_pylibmc_writes_read_back_by_their_flags() {
    let c = client();
    let k = |n| key("pylibmc_values", n);
    // What pylibmc 1.6 writes for b"raw", True, 12345, "text" and a zlib str.
    c.set(k("0"), Item::new(&b"raw"[..], 0), 0).unwrap();
    c.set(k("2"), Item::new(&b"1"[..], 2), 0).unwrap();
    c.set(k("4"), Item::new(&b"12345"[..], 4), 0).unwrap();
    c.set(k("16"), Item::new("text".as_bytes(), 16), 0).unwrap();
    let text = "zlib ".repeat(200);
    let mut zlib = Vec::new();
    {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(&mut zlib, flate2::Compression::default());
        e.write_all(text.as_bytes()).unwrap();
        e.finish().unwrap();
    }
    c.set(k("24"), Item::new(zlib, 16 | 8), 0).unwrap();
    assert_eq!(
        c.get::<Value>(k("0")).unwrap(),
        Some(Value::Bytes(b"raw".to_vec()))
    );
    assert_eq!(c.get::<Value>(k("2")).unwrap(), Some(Value::Bool(true)));
    assert_eq!(c.get::<Value>(k("4")).unwrap(), Some(Value::Int(12345)));
    assert_eq!(c.get::<u32>(k("4")).unwrap(), Some(12345));
    assert_eq!(
        c.get::<Value>(k("16")).unwrap(),
        Some(Value::Text("text".into()))
    );
    assert_eq!(c.get::<String>(k("24")).unwrap(), Some(text));
    // A pickle is a typed error as text, raw bytes as bytes.
    c.set(k("1"), Item::new(&b"\x80\x04K\x01."[..], 1), 0)
        .unwrap();
    assert!(matches!(
        c.get::<String>(k("1")),
        Err(Error::Deserialize { .. })
    ));
    assert_eq!(
        c.get::<Vec<u8>>(k("1")).unwrap(),
        Some(b"\x80\x04K\x01.".to_vec())
    );
}

#[test]
fn compression_applies_only_at_min_compress_len_and_reads_back() {
    let c = client();
    let k = |n| key("compress", n);
    let big = "abcdefgh".repeat(1000);
    let opts = StoreOptions::default().min_compress_len(1000);
    c.set(k("big"), &big, opts).unwrap();
    let (data, f) = support::raw_get(&shared().spec(), k("big").as_bytes()).unwrap();
    assert_eq!(f, flags::TEXT | flags::ZSTD);
    assert!(data.len() < 200, "stored {} bytes", data.len());
    assert_eq!(c.get::<String>(k("big")).unwrap(), Some(big.clone()));
    c.set(k("small"), "abcdefgh", opts).unwrap();
    assert_eq!(
        support::raw_get(&shared().spec(), k("small").as_bytes())
            .unwrap()
            .1,
        flags::TEXT
    );
    c.set(k("off"), &big, 0).unwrap();
    assert_eq!(
        support::raw_get(&shared().spec(), k("off").as_bytes())
            .unwrap()
            .1,
        flags::TEXT
    );
}

#[test]
fn zlib_compression_writes_what_pylibmc_reads() {
    let c = Client::builder()
        .servers([shared().spec()])
        .compression(quickmc::value::CompressionAlgorithm::Zlib)
        .build()
        .unwrap();
    let k = key("zlib_write", "k");
    let text = "pylibmc ".repeat(500);
    c.set(&k, &text, StoreOptions::default().min_compress_len(1))
        .unwrap();
    let (data, f) = support::raw_get(&shared().spec(), k.as_bytes()).unwrap();
    assert_eq!(f, flags::TEXT | flags::ZLIB);
    let mut out = String::new();
    use std::io::Read;
    flate2::read::ZlibDecoder::new(&data[..])
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, text);
}

#[test]
fn add_fails_on_an_existing_key_and_replace_on_a_missing_one() {
    let c = client();
    let k = key("add_replace", "k");
    assert!(!c.replace(&k, "r", 0).unwrap());
    assert!(c.add(&k, "a", 0).unwrap());
    assert!(!c.add(&k, "b", 0).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("a"));
    assert!(c.replace(&k, "r", 0).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("r"));
}

#[test]
fn append_and_prepend_join_bytes_and_fail_on_a_missing_key() {
    let c = client();
    let k = key("append", "k");
    assert!(!c.append(&k, "x", 0).unwrap());
    assert!(!c.prepend(&k, "x", 0).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap(), None, "append never creates");
    c.set(&k, "mid", 0).unwrap();
    assert!(c.append(&k, ">", 0).unwrap());
    assert!(c.prepend(&k, "<", 0).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("<mid>"));
}

#[test]
fn cas_succeeds_with_the_current_id_and_fails_after_a_change_or_on_a_missing_key() {
    let c = client();
    let k = key("cas", "k");
    c.set(&k, "v1", 0).unwrap();
    let (v, id) = c.gets::<String>(&k).unwrap().unwrap();
    assert_eq!(v, "v1");
    assert!(id != 0);
    c.set(&k, "other", 0).unwrap();
    assert!(!c.cas(&k, "v2", id, 0).unwrap(), "stale CAS id must fail");
    let (_, id2) = c.gets::<String>(&k).unwrap().unwrap();
    assert!(c.cas(&k, "v3", id2, 0).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("v3"));
    // A missing key is NotFound, never a mismatch, and is never created
    // (pylibmc in binary mode).
    assert!(matches!(
        c.cas(key("cas", "missing"), "x", id2, 0),
        Err(Error::NotFound)
    ));
    assert_eq!(c.gets::<String>(key("cas", "missing")).unwrap(), None);
}

#[test]
fn delete_reports_whether_the_key_existed() {
    let c = client();
    let k = key("delete", "k");
    assert!(!c.delete(&k).unwrap());
    c.set(&k, "v", 0).unwrap();
    assert!(c.delete(&k).unwrap());
    assert_eq!(c.get::<String>(&k).unwrap(), None);
}

#[test]
fn incr_and_decr_return_the_new_value_and_never_create_a_missing_key() {
    let c = client();
    let k = key("counter", "k");
    assert!(matches!(c.incr(&k, 1), Err(Error::NotFound)));
    assert!(matches!(c.decr(&k, 1), Err(Error::NotFound)));
    assert_eq!(
        c.get::<String>(&k).unwrap(),
        None,
        "0xffffffff expiration: not created"
    );
    c.set(&k, 10u64, 0).unwrap();
    assert_eq!(c.incr(&k, 5).unwrap(), 15);
    assert_eq!(c.decr(&k, 6).unwrap(), 9);
    assert_eq!(c.decr(&k, 100).unwrap(), 0, "decrement stops at 0");
    assert_eq!(c.get::<u64>(&k).unwrap(), Some(0));
}

#[test]
fn decrementing_ten_leaves_a_padded_value_that_still_reads_as_nine() {
    let c = client();
    let k = key("decr_pad", "k");
    c.set(&k, 10u64, 0).unwrap();
    assert_eq!(c.decr(&k, 1).unwrap(), 9);
    let raw = c.get::<Item<'static>>(&k).unwrap().unwrap();
    assert_eq!(&*raw.data, b"9 ", "memcached pads with a space");
    assert_eq!(c.get::<u64>(&k).unwrap(), Some(9));
    assert_eq!(c.get::<Value>(&k).unwrap(), Some(Value::Int(9)));
}

#[test]
fn incr_wraps_at_u64_max() {
    let c = client();
    let k = key("incr_wrap", "k");
    c.set(&k, u64::MAX, 0).unwrap();
    assert_eq!(c.incr(&k, 1).unwrap(), 0);
    c.set(&k, u64::MAX - 1, 0).unwrap();
    assert_eq!(c.incr(&k, 3).unwrap(), 1);
}

#[test]
fn incr_on_non_numeric_values_has_its_own_error_and_the_connection_stays_usable() {
    let c = client();
    let k = key("incr_nan", "k");
    for bad in ["abc", "-5", "123456789012345678901"] {
        c.set(&k, bad, 0).unwrap();
        assert!(matches!(c.incr(&k, 1), Err(Error::NonNumeric)), "{bad}");
    }
    c.set(&k, "1", 0).unwrap();
    assert_eq!(c.incr(&k, 1).unwrap(), 2);
}

#[test]
fn touch_changes_expiry_and_reports_a_missing_key() {
    let c = client();
    let k = key("touch", "k");
    assert!(!c.touch(&k, 10).unwrap());
    c.set(&k, "v", 1).unwrap();
    assert!(c.touch(&k, 100).unwrap());
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(
        c.get::<String>(&k).unwrap().as_deref(),
        Some("v"),
        "touch extended it"
    );
}

#[test]
fn relative_and_absolute_expirations_expire_and_a_past_absolute_time_expires_at_once() {
    let c = client();
    let k = |n| key("expiry", n);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32;
    c.set(k("rel"), "v", 1).unwrap();
    c.set(k("abs"), "v", now + 1).unwrap();
    c.set(k("past"), "v", now - 100).unwrap();
    c.set(k("never"), "v", 0).unwrap();
    assert_eq!(c.get::<String>(k("past")).unwrap(), None);
    assert!(c.get::<String>(k("rel")).unwrap().is_some());
    // memcached's clock ticks once a second; allow two ticks.
    std::thread::sleep(Duration::from_millis(2600));
    assert_eq!(c.get::<String>(k("rel")).unwrap(), None);
    assert_eq!(c.get::<String>(k("abs")).unwrap(), None);
    assert!(c.get::<String>(k("never")).unwrap().is_some());
}

#[test]
fn keys_with_nul_space_and_newline_work_in_binary_and_strict_mode_refuses_them() {
    let c = client();
    let k = b"bin\0key with space\nand newline".to_vec();
    c.set(&k, "v", 0).unwrap();
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some("v"));
    let strict = Client::builder()
        .servers([shared().spec()])
        .strict_keys(true)
        .build()
        .unwrap();
    assert!(matches!(
        strict.get::<String>(&k),
        Err(Error::BadKey(KeyError::Unsafe(0)))
    ));
}

#[test]
fn empty_and_overlong_keys_are_refused_before_any_io() {
    let c = Client::new(["127.0.0.1:1"]).unwrap(); // nothing listens there
    let long = "k".repeat(251);
    assert!(matches!(
        c.set("", "v", 0),
        Err(Error::BadKey(KeyError::Empty))
    ));
    assert!(matches!(
        c.set(&long, "v", 0),
        Err(Error::BadKey(KeyError::TooLong(251)))
    ));
    assert!(matches!(c.get::<String>(&long), Err(Error::BadKey(_))));
    assert!(matches!(c.delete(""), Err(Error::BadKey(_))));
    assert!(matches!(c.incr(&long, 1), Err(Error::BadKey(_))));
    assert!(matches!(c.touch("", 1), Err(Error::BadKey(_))));
    let ok = shared().client();
    let k250 = "k".repeat(250);
    assert!(ok.set(&k250, "v", 0).unwrap());
    assert_eq!(ok.get::<String>(&k250).unwrap().as_deref(), Some("v"));
}

#[test]
fn empty_values_store_and_read_back_empty() {
    let c = client();
    let k = key("empty_value", "k");
    c.set(&k, "", 0).unwrap();
    assert_eq!(c.get::<String>(&k).unwrap().as_deref(), Some(""));
    c.set(&k, &b""[..], 0).unwrap();
    assert_eq!(c.get::<Vec<u8>>(&k).unwrap(), Some(vec![]));
}

#[test]
fn mapping_helpers_turn_misses_into_errors() {
    let c = client();
    let k = key("mapping", "k");
    assert!(!c.contains(&k).unwrap());
    assert!(matches!(c.fetch::<String>(&k), Err(Error::NotFound)));
    assert!(matches!(c.remove(&k), Err(Error::NotFound)));
    c.insert(&k, "v").unwrap();
    assert!(c.contains(&k).unwrap());
    assert_eq!(c.fetch::<String>(&k).unwrap(), "v");
    c.remove(&k).unwrap();
    assert!(!c.contains(&k).unwrap());
}

#[test]
fn reading_a_value_as_the_wrong_type_is_a_typed_error_and_the_connection_stays_usable() {
    let c = Client::builder()
        .servers([shared().spec()])
        .max_connections(1)
        .build()
        .unwrap();
    let k = key("wrong_type", "k");
    c.set(&k, "not a number", 0).unwrap();
    assert!(matches!(c.get::<u64>(&k), Err(Error::Deserialize { .. })));
    assert_eq!(
        c.get::<String>(&k).unwrap().as_deref(),
        Some("not a number")
    );
    assert_eq!(c.pool_state()[0].0, 1, "the one connection was kept");
}

#[test]
fn serialize_and_deserialize_are_exposed_and_a_transcoder_replaces_them() {
    let c = client();
    let (bytes, f) = c.serialize(&"hi", StoreOptions::default()).unwrap();
    assert_eq!((bytes.as_slice(), f), (&b"hi"[..], flags::TEXT));
    assert_eq!(c.deserialize::<String>(&bytes, f).unwrap(), "hi");

    #[derive(Debug)]
    struct Reverse;
    impl quickmc::value::Transcoder for Reverse {
        fn encode<'a>(
            &self,
            item: Item<'a>,
            _: quickmc::value::Compression,
        ) -> quickmc::Result<Item<'a>> {
            let mut d = item.data.into_owned();
            d.reverse();
            Ok(Item::new(d, item.flags))
        }
        fn decode<'a>(&self, item: Item<'a>) -> quickmc::Result<Item<'a>> {
            self.encode(item, Default::default())
        }
    }
    let custom = Client::builder()
        .servers([shared().spec()])
        .transcoder(Reverse)
        .build()
        .unwrap();
    let k = key("transcoder", "k");
    custom.set(&k, "abc", 0).unwrap();
    assert_eq!(
        c.get::<String>(&k).unwrap().as_deref(),
        Some("cba"),
        "stored reversed"
    );
    assert_eq!(custom.get::<String>(&k).unwrap().as_deref(), Some("abc"));
}

#[test]
fn stats_and_version_answer_per_server() {
    let c = client();
    let stats = c.stats("").unwrap();
    assert_eq!(stats.len(), 1);
    assert!(stats[0].1.contains_key("curr_connections"));
    assert!(
        c.stats("settings").unwrap()[0]
            .1
            .contains_key("item_size_max")
    );
    assert!(matches!(
        c.stats("no-such-group"),
        Err(Error::UnsupportedStatsGroup { .. })
    ));
    let versions = c.version();
    assert!(versions[0].1.as_ref().unwrap().starts_with("1."));
    // The connection is still in sync after the failed group.
    assert!(c.set(key("stats", "k"), "v", 0).unwrap());
}

#[test]
fn hash_is_zero_with_one_server() {
    assert_eq!(client().hash("anything").unwrap(), 0);
}
