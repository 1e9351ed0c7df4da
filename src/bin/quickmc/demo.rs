//! `quickmc demo`: a walk through the main operations, with their results.

use quickmc::value::{Serde, Value};
use quickmc::{Client, Error, StoreOptions};
use serde_json::json;

use crate::outcome::Outcome;
use crate::output::{self, Failure};

/// The walk's output: lines for people, or one JSON document at the end.
struct Walk {
    json: bool,
    section: String,
    steps: Vec<serde_json::Value>,
}

impl Walk {
    fn section(&mut self, title: &str) -> Result<(), Failure> {
        if !self.json {
            say!("\n{title}:");
        }
        self.section = title.to_string();
        Ok(())
    }

    fn step(&mut self, step: &str, result: impl std::fmt::Debug) -> Result<(), Failure> {
        let result = format!("{result:?}");
        if self.json {
            self.steps
                .push(json!({"section": self.section, "step": step, "result": result}));
        } else {
            say!("  {step:<52} -> {result}");
        }
        Ok(())
    }
}

pub fn run(client: &Client, json: bool) -> Result<Outcome, Failure> {
    let servers: Vec<String> = client.servers().iter().map(|s| s.to_string()).collect();
    let mut versions = serde_json::Map::new();
    if !json {
        say!("quickmc demo against {}", servers.join(", "));
    }
    for (server, version) in client.version() {
        let version = version?;
        if !json {
            say!("  server {server}: memcached {version}");
        }
        versions.insert(server, json!(version));
    }
    let mut walk = Walk {
        json,
        section: String::new(),
        steps: Vec::new(),
    };
    let p = |k: &str| format!("quickmc-demo:{k}");

    walk.section("Strings, bytes, integers and bools (pylibmc's flags)")?;
    walk.step(
        "set(greeting, \"hello\")",
        client.set(p("greeting"), "hello", 0)?,
    )?;
    walk.step(
        "get::<String>(greeting)",
        client.get::<String>(p("greeting"))?,
    )?;
    walk.step(
        "set(bytes, b\"\\x00\\x01\")",
        client.set(p("bytes"), &b"\x00\x01"[..], 0)?,
    )?;
    walk.step("get::<Vec<u8>>(bytes)", client.get::<Vec<u8>>(p("bytes"))?)?;
    walk.step("set(answer, 42)", client.set(p("answer"), 42u64, 0)?)?;
    walk.step(
        "get::<Value>(answer)  (by flags)",
        client.get::<Value>(p("answer"))?,
    )?;
    walk.step(
        "get::<String>(missing)",
        client.get::<String>(p("missing"))?,
    )?;
    walk.step(
        "get_or(missing, \"default\")",
        client.get_or(p("missing"), "default".to_string())?,
    )?;

    walk.section("Conditional stores")?;
    walk.step(
        "add(greeting, \"again\")  (exists)",
        client.add(p("greeting"), "again", 0)?,
    )?;
    walk.step(
        "replace(nothing, \"x\")  (missing)",
        client.replace(p("nothing"), "x", 0)?,
    )?;
    walk.step(
        "append(greeting, \", world\")",
        client.append(p("greeting"), ", world", 0)?,
    )?;
    walk.step(
        "prepend(greeting, \">> \")",
        client.prepend(p("greeting"), ">> ", 0)?,
    )?;
    walk.step(
        "get::<String>(greeting)",
        client.get::<String>(p("greeting"))?,
    )?;

    walk.section("Compare-and-swap")?;
    let (value, cas) = client
        .gets::<String>(p("greeting"))?
        .ok_or(Error::NotFound)?;
    walk.step("gets(greeting)", (&value, cas))?;
    walk.step(
        "cas(greeting, \"swapped\", cas)",
        client.cas(p("greeting"), "swapped", cas, 0)?,
    )?;
    walk.step(
        "cas(greeting, \"again\", same cas)  (stale)",
        client.cas(p("greeting"), "again", cas, 0)?,
    )?;

    walk.section("Counters (a missing key is an error, never created)")?;
    walk.step("set(hits, 10)", client.set(p("hits"), 10u64, 0)?)?;
    walk.step("incr(hits, 5)", client.incr(p("hits"), 5)?)?;
    walk.step("decr(hits, 20)  (stops at 0)", client.decr(p("hits"), 20)?)?;
    walk.step(
        "incr(no-counter, 1)",
        client.incr(p("no-counter"), 1).map_err(|e| e.to_string()),
    )?;

    walk.section("Serde values and compression")?;
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    struct Session {
        user: u32,
        roles: Vec<String>,
    }
    let session = Session {
        user: 7,
        roles: vec!["admin".into()],
    };
    walk.step(
        "set(session, Serde(Session{..}), ttl 60)",
        client.set(p("session"), Serde(&session), 60)?,
    )?;
    walk.step(
        "get::<Serde<Session>>(session)",
        client.get::<Serde<Session>>(p("session"))?.map(|s| s.0),
    )?;
    let report = "row,".repeat(5000);
    let opts = StoreOptions::expire(60).min_compress_len(1024);
    walk.step(
        "set(report, 20 kB text, min_compress_len 1024)",
        client.set(p("report"), &report, opts)?,
    )?;
    walk.step(
        "get::<String>(report) length",
        client.get::<String>(p("report"))?.map(|r| r.len()),
    )?;

    walk.section("Expiry, touch, delete")?;
    walk.step("touch(session, 120)", client.touch(p("session"), 120)?)?;
    walk.step("delete(session)", client.delete(p("session"))?)?;
    walk.step("delete(session)  (again)", client.delete(p("session"))?)?;
    walk.step("contains(session)", client.contains(p("session"))?)?;

    walk.section("Errors are typed")?;
    walk.step(
        "set(\"\", ..)",
        client.set("", "x", 0).map_err(|e| e.to_string()),
    )?;
    walk.step(
        "set(251-byte key, ..)",
        client
            .set("k".repeat(251), "x", 0)
            .map_err(|e| e.to_string()),
    )?;

    walk.section("Key placement (libmemcached-compatible)")?;
    walk.step(
        "hash(greeting)  (server index)",
        client.hash(p("greeting"))?,
    )?;
    walk.step(
        "hash_value(greeting)  (one_at_a_time)",
        client.hash_value(p("greeting")),
    )?;

    for k in ["greeting", "bytes", "answer", "hits", "report"] {
        client.delete(p(k))?;
    }
    if json {
        output::json(&json!({
            "servers": servers,
            "versions": versions,
            "steps": walk.steps,
            "done": true,
        }))?;
    } else {
        say!("\nDone: demo keys deleted.");
    }
    Ok(Outcome::Ok)
}
