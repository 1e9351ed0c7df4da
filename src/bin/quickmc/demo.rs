//! `quickmc demo`: a walk through the main operations, with their results.

use quickmc::value::{Serde, Value};
use quickmc::{Client, Error, StoreOptions};

fn show(step: &str, result: impl std::fmt::Debug) {
    println!("  {step:<52} -> {result:?}");
}

pub fn run(client: &Client) -> Result<(), Error> {
    let servers: Vec<String> = client.servers().iter().map(|s| s.to_string()).collect();
    println!("quickmc demo against {}", servers.join(", "));
    for (server, version) in client.version() {
        println!("  server {server}: memcached {}", version?);
    }
    let p = |k: &str| format!("quickmc-demo:{k}");

    println!("\nStrings, bytes, integers and bools (pylibmc's flags):");
    show(
        "set(greeting, \"hello\")",
        client.set(p("greeting"), "hello", 0)?,
    );
    show(
        "get::<String>(greeting)",
        client.get::<String>(p("greeting"))?,
    );
    show(
        "set(bytes, b\"\\x00\\x01\")",
        client.set(p("bytes"), &b"\x00\x01"[..], 0)?,
    );
    show("get::<Vec<u8>>(bytes)", client.get::<Vec<u8>>(p("bytes"))?);
    show("set(answer, 42)", client.set(p("answer"), 42u64, 0)?);
    show(
        "get::<Value>(answer)  (by flags)",
        client.get::<Value>(p("answer"))?,
    );
    show(
        "get::<String>(missing)",
        client.get::<String>(p("missing"))?,
    );
    show(
        "get_or(missing, \"default\")",
        client.get_or(p("missing"), "default".to_string())?,
    );

    println!("\nConditional stores:");
    show(
        "add(greeting, \"again\")  (exists)",
        client.add(p("greeting"), "again", 0)?,
    );
    show(
        "replace(nothing, \"x\")  (missing)",
        client.replace(p("nothing"), "x", 0)?,
    );
    show(
        "append(greeting, \", world\")",
        client.append(p("greeting"), ", world", 0)?,
    );
    show(
        "prepend(greeting, \">> \")",
        client.prepend(p("greeting"), ">> ", 0)?,
    );
    show(
        "get::<String>(greeting)",
        client.get::<String>(p("greeting"))?,
    );

    println!("\nCompare-and-swap:");
    let (value, cas) = client
        .gets::<String>(p("greeting"))?
        .ok_or(Error::NotFound)?;
    show("gets(greeting)", (&value, cas));
    show(
        "cas(greeting, \"swapped\", cas)",
        client.cas(p("greeting"), "swapped", cas, 0)?,
    );
    show(
        "cas(greeting, \"again\", same cas)  (stale)",
        client.cas(p("greeting"), "again", cas, 0)?,
    );

    println!("\nCounters (a missing key is an error, never created):");
    show("set(hits, 10)", client.set(p("hits"), 10u64, 0)?);
    show("incr(hits, 5)", client.incr(p("hits"), 5)?);
    show("decr(hits, 20)  (stops at 0)", client.decr(p("hits"), 20)?);
    show(
        "incr(no-counter, 1)",
        client.incr(p("no-counter"), 1).map_err(|e| e.to_string()),
    );

    println!("\nSerde values and compression:");
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    struct Session {
        user: u32,
        roles: Vec<String>,
    }
    let session = Session {
        user: 7,
        roles: vec!["admin".into()],
    };
    show(
        "set(session, Serde(Session{..}), ttl 60)",
        client.set(p("session"), Serde(&session), 60)?,
    );
    show(
        "get::<Serde<Session>>(session)",
        client.get::<Serde<Session>>(p("session"))?.map(|s| s.0),
    );
    let report = "row,".repeat(5000);
    let opts = StoreOptions::expire(60).min_compress_len(1024);
    show(
        "set(report, 20 kB text, min_compress_len 1024)",
        client.set(p("report"), &report, opts)?,
    );
    show(
        "get::<String>(report) length",
        client.get::<String>(p("report"))?.map(|r| r.len()),
    );

    println!("\nExpiry, touch, delete:");
    show("touch(session, 120)", client.touch(p("session"), 120)?);
    show("delete(session)", client.delete(p("session"))?);
    show("delete(session)  (again)", client.delete(p("session"))?);
    show("contains(session)", client.contains(p("session"))?);

    println!("\nErrors are typed:");
    show(
        "set(\"\", ..)",
        client.set("", "x", 0).map_err(|e| e.to_string()),
    );
    show(
        "set(251-byte key, ..)",
        client
            .set("k".repeat(251), "x", 0)
            .map_err(|e| e.to_string()),
    );

    println!("\nKey placement (libmemcached-compatible):");
    show(
        "hash(greeting)  (server index)",
        client.hash(p("greeting"))?,
    );
    show(
        "hash_value(greeting)  (one_at_a_time)",
        client.hash_value(p("greeting")),
    );

    for k in ["greeting", "bytes", "answer", "hits", "report"] {
        client.delete(p(k))?;
    }
    println!("\nDone: demo keys deleted.");
    Ok(())
}
