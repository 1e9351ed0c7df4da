//! Real memcached traffic for the fuzz targets.
//!
//! Drives quickmc (through a recording proxy), raw binary requests and
//! text-protocol commands against a real memcached, turns the captured
//! bytes into inputs for every fuzz target, adds the hand-written seeds
//! (`fuzz/targets/seeds.rs`) and runs each target on them. With
//! `QUICKMC_WRITE_CORPUS=1` it also (re)writes them as seeds under
//! `fuzz/corpus/<target>/`; a comma-separated list of targets instead of `1`
//! rewrites only those targets' seeds:
//!
//! ```sh
//! QUICKMC_WRITE_CORPUS=1 cargo test --test capture_corpus
//! QUICKMC_WRITE_CORPUS=commands,text cargo test --test capture_corpus
//! ```

mod support;

#[path = "../fuzz/targets/mod.rs"]
mod targets;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quickmc::command::{BatchOp, CounterOp, StoreMode};
use quickmc::protocol::{
    Decoded, Extras, NO_CREATE, Opcode, Request, Response, Status, decode_request, decode_response,
    decode_text_line, encode_metadump, encode_text_stats,
};
use quickmc::value::{CompressionAlgorithm, Serde, Value};
use quickmc::{Client, StoreOptions};
use targets::Writer;

#[global_allocator]
static ALLOCATOR: targets::CountingAlloc = targets::CountingAlloc;

/// Bytes one connection carried each way.
#[derive(Debug, Default, Clone)]
struct Traffic {
    requests: Vec<u8>,
    replies: Vec<u8>,
}

/// One named piece of traffic.
#[derive(Debug)]
struct Capture {
    name: String,
    traffic: Traffic,
}

/// A proxy recording the single connection it forwards.
struct Recorder {
    port: u16,
    traffic: Arc<Mutex<Traffic>>,
    mark: Traffic,
}

fn pump(mut from: TcpStream, mut to: TcpStream, traffic: Arc<Mutex<Traffic>>, requests: bool) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Recorded before forwarding: once a reply has reached the client,
        // its bytes (and the request's) are in the record.
        {
            let mut t = traffic.lock().unwrap();
            let side = if requests {
                &mut t.requests
            } else {
                &mut t.replies
            };
            side.extend_from_slice(&buf[..n]);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

impl Recorder {
    fn start(upstream: String) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind recorder");
        let port = listener.local_addr().unwrap().port();
        let traffic = Arc::new(Mutex::new(Traffic::default()));
        let shared = traffic.clone();
        std::thread::spawn(move || {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            let server = TcpStream::connect(&upstream).expect("connect upstream");
            let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let t2 = shared.clone();
            std::thread::spawn(move || pump(c2, s2, t2, true));
            pump(server, client, shared, false);
        });
        Recorder {
            port,
            traffic,
            mark: Traffic::default(),
        }
    }

    /// A one-connection client through the recorder.
    fn client(&self, compression: CompressionAlgorithm) -> Client {
        Client::builder()
            .servers([format!("127.0.0.1:{}", self.port)])
            .max_connections(1)
            .min_idle(0)
            .compression(compression)
            .build()
            .expect("client")
    }

    /// The traffic since the last capture.
    fn capture(&mut self, name: &str) -> Capture {
        let now = self.traffic.lock().unwrap().clone();
        let traffic = Traffic {
            requests: now.requests[self.mark.requests.len()..].to_vec(),
            replies: now.replies[self.mark.replies.len()..].to_vec(),
        };
        self.mark = now;
        Capture {
            name: name.to_string(),
            traffic,
        }
    }
}

/// quickmc's own operations, one capture each.
fn client_captures(spec: &str) -> Vec<Capture> {
    let mut out = Vec::new();
    let mut rec = Recorder::start(spec.to_string());
    let c = rec.client(CompressionAlgorithm::Zstd);

    c.set("cap:text", "héllo wörld", 0).unwrap();
    assert_eq!(
        c.get::<String>("cap:text").unwrap().as_deref(),
        Some("héllo wörld")
    );
    out.push(rec.capture("set-get-text"));

    assert_eq!(c.get::<String>("cap:missing").unwrap(), None);
    out.push(rec.capture("get-miss"));

    c.set("cap:cas", "v1", 0).unwrap();
    let (_, cas) = c.gets::<String>("cap:cas").unwrap().unwrap();
    assert!(c.cas("cap:cas", "v2", cas, 0).unwrap());
    assert!(!c.cas("cap:cas", "v3", cas, 0).unwrap());
    out.push(rec.capture("gets-cas"));

    assert!(!c.add("cap:text", "x", 0).unwrap());
    assert!(!c.replace("cap:missing", "x", 0).unwrap());
    assert!(c.add("cap:added", "x", 60).unwrap());
    out.push(rec.capture("add-replace"));

    assert!(c.append("cap:text", "!", 0).unwrap());
    assert!(c.prepend("cap:text", "¡", 0).unwrap());
    assert!(!c.append("cap:missing", "!", 0).unwrap());
    out.push(rec.capture("append-prepend"));

    c.set("cap:n", 10u64, 0).unwrap();
    assert_eq!(c.incr("cap:n", 5).unwrap(), 15);
    assert_eq!(c.decr("cap:n", 100).unwrap(), 0);
    assert!(c.incr("cap:text", 1).is_err());
    assert!(c.incr("cap:missing", 1).is_err());
    assert_eq!(c.get::<u64>("cap:n").unwrap(), Some(0));
    out.push(rec.capture("counters"));

    assert!(c.touch("cap:added", 120).unwrap());
    assert!(!c.touch("cap:missing", 120).unwrap());
    assert!(c.delete("cap:added").unwrap());
    assert!(!c.delete("cap:added").unwrap());
    out.push(rec.capture("touch-delete"));

    c.set("cap:u64", u64::MAX, 0).unwrap();
    c.set("cap:i64", -42i64, 0).unwrap();
    c.set("cap:bool", true, 0).unwrap();
    c.set("cap:bytes", vec![0u8, 1, 2, 255], 0).unwrap();
    let record = (7u32, "ada".to_string(), vec![1.5f64, -0.0], Some('λ'));
    c.set("cap:serde", Serde(&record), 0).unwrap();
    for key in ["cap:u64", "cap:i64", "cap:bool", "cap:bytes", "cap:serde"] {
        assert!(c.get::<Value>(key).unwrap().is_some());
    }
    type Record = (u32, String, Vec<f64>, Option<char>);
    let back: Serde<Record> = c.get("cap:serde").unwrap().unwrap();
    assert_eq!(back.0, record);
    out.push(rec.capture("typed-values"));

    let text = "the quick brown fox jumps over the lazy dog; ".repeat(400);
    let compress = StoreOptions::expire(0).min_compress_len(100);
    c.set("cap:zstd", text.as_str(), compress).unwrap();
    assert_eq!(c.get::<String>("cap:zstd").unwrap(), Some(text.clone()));
    out.push(rec.capture("zstd-value"));

    assert!(c.set("cap:big", vec![7u8; 2 << 20], 0).is_err());
    out.push(rec.capture("too-large"));

    let items: Vec<(String, String)> = (0..20)
        .map(|i| (format!("m{i}"), format!("value {i} ").repeat(i * 20)))
        .collect();
    let failed = c
        .set_multi(
            items.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            "cap:",
            compress,
        )
        .unwrap();
    assert!(failed.is_empty());
    out.push(rec.capture("set-multi"));

    let keys: Vec<String> = (0..30).map(|i| format!("m{i}")).collect();
    let hits: std::collections::HashMap<&str, Value> = c
        .get_multi(keys.iter().map(String::as_str), "cap:")
        .unwrap();
    assert_eq!(hits.len(), 20);
    out.push(rec.capture("get-multi"));

    let existing = c
        .add_multi([("m1", "x"), ("m2", "y"), ("new1", "z")], "cap:", 0)
        .unwrap();
    assert_eq!(existing.len(), 2);
    out.push(rec.capture("add-multi"));

    c.set_multi([("c1", 1u64), ("c2", 2)], "cap:", 0).unwrap();
    assert!(
        c.incr_multi(["c1", "c2", "m3", "nothing"], "cap:", 3)
            .is_err()
    );
    out.push(rec.capture("incr-multi"));

    let missing = c.touch_multi(["m1", "m2", "nothing"], "cap:", 300).unwrap();
    assert_eq!(missing, vec!["nothing"]);
    out.push(rec.capture("touch-multi"));

    c.delete_multi(["m4", "m5", "nothing"], "cap:")
        .unwrap_or_default();
    out.push(rec.capture("delete-multi"));

    assert!(!c.stats("").unwrap().is_empty());
    assert!(c.stats("no-such-group").is_err());
    out.push(rec.capture("stats"));

    assert!(c.version().iter().all(|(_, v)| v.is_ok()));
    out.push(rec.capture("version"));

    assert_eq!(c.gat::<u64>("cap:n", 600).unwrap(), Some(0));
    assert_eq!(c.gat::<u64>("cap:missing", 600).unwrap(), None);
    out.push(rec.capture("gat"));

    let touched: std::collections::HashMap<&str, Value> =
        c.gat_multi(["m6", "m7", "nothing"], "cap:", 900).unwrap();
    assert_eq!(touched.len(), 2);
    out.push(rec.capture("gat-multi"));

    c.set_multi([("d1", 10u64), ("d2", 0)], "cap:", 0).unwrap();
    assert!(c.decr_multi(["d1", "d2", "nothing"], "cap:", 4).is_err());
    out.push(rec.capture("decr-multi"));

    assert!(c.replace("cap:n", 5u64, 0).unwrap());
    c.flush_all(3600).unwrap();
    out.push(rec.capture("replace-flush"));
    drop(c);

    // pylibmc-style zlib values, through a second client.
    let mut rec = Recorder::start(spec.to_string());
    let c = rec.client(CompressionAlgorithm::Zlib);
    c.set("cap:zlib", text.as_str(), compress).unwrap();
    c.set("cap:zlib-int", 1234567u64, compress).unwrap();
    assert_eq!(c.get::<String>("cap:zlib").unwrap(), Some(text));
    let raw = c
        .get_multi::<_, Value>(["cap:zlib", "cap:zstd", "cap:n"], "")
        .unwrap();
    assert_eq!(raw.len(), 3);
    out.push(rec.capture("zlib-values"));
    out
}

/// Requests quickmc's client does not send, written raw; the replies are
/// read up to the closing Noop.
fn raw_capture(spec: &str, name: &str, requests: &[Request<'_>]) -> Capture {
    let mut stream = TcpStream::connect(spec).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut wire = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        request.opaque(100 + i as u32).encode(&mut wire).unwrap();
    }
    let end = 100 + requests.len() as u32;
    Request::new(Opcode::Noop, b"")
        .opaque(end)
        .encode(&mut wire)
        .unwrap();
    stream.write_all(&wire).unwrap();
    let mut replies = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    'read: loop {
        let n = stream.read(&mut buf).expect("replies");
        assert!(n > 0, "{name}: memcached closed the connection");
        replies.extend_from_slice(&buf[..n]);
        let mut rest = &replies[..];
        while let Ok(Decoded::Complete { frame, len }) = decode_response(rest, 1 << 20) {
            if frame.opcode == Opcode::Noop && frame.opaque == end {
                break 'read;
            }
            rest = &rest[len..];
        }
    }
    Capture {
        name: name.to_string(),
        traffic: Traffic {
            requests: wire,
            replies,
        },
    }
}

fn raw_captures(spec: &str) -> Vec<Capture> {
    let store = Extras::Store {
        flags: 16,
        expiration: 0,
    };
    let counter = Extras::Counter {
        delta: 2,
        initial: 40,
        expiration: 0,
    };
    let no_create = Extras::Counter {
        delta: 1,
        initial: 0,
        expiration: NO_CREATE,
    };
    let touch = Extras::Expiration(300);
    vec![
        raw_capture(
            spec,
            "raw-getk-gat",
            &[
                Request::new(Opcode::Set, b"raw:k")
                    .extras(store)
                    .value(b"raw value"),
                Request::new(Opcode::GetK, b"raw:k"),
                Request::new(Opcode::GetK, b"raw:missing"),
                Request::new(Opcode::GetQ, b"raw:k"),
                Request::new(Opcode::GetQ, b"raw:missing"),
                Request::new(Opcode::Gat, b"raw:k").extras(touch),
                Request::new(Opcode::Gatk, b"raw:k").extras(touch),
                Request::new(Opcode::Gatq, b"raw:missing").extras(touch),
                Request::new(Opcode::Gatkq, b"raw:k").extras(touch),
                Request::new(Opcode::Touch, b"raw:k").extras(touch),
            ],
        ),
        raw_capture(
            spec,
            "raw-quiet-errors",
            &[
                Request::new(Opcode::AddQ, b"raw:k")
                    .extras(store)
                    .value(b"x"),
                Request::new(Opcode::ReplaceQ, b"raw:missing")
                    .extras(store)
                    .value(b"x"),
                Request::new(Opcode::DeleteQ, b"raw:missing"),
                Request::new(Opcode::IncrementQ, b"raw:k").extras(counter),
                Request::new(Opcode::DecrementQ, b"raw:missing").extras(no_create),
                Request::new(Opcode::AppendQ, b"raw:missing").value(b"x"),
                Request::new(Opcode::PrependQ, b"raw:missing").value(b"x"),
                Request::new(Opcode::SetQ, b"raw:k")
                    .extras(store)
                    .value(b"quiet"),
                Request::new(Opcode::SetQ, b"raw:k")
                    .extras(store)
                    .value(b"cas")
                    .cas(1),
            ],
        ),
        raw_capture(
            spec,
            "raw-counters",
            &[
                Request::new(Opcode::Increment, b"raw:count").extras(counter),
                Request::new(Opcode::Increment, b"raw:count").extras(counter),
                Request::new(Opcode::Decrement, b"raw:count").extras(counter),
                Request::new(Opcode::Increment, b"raw:none").extras(no_create),
                Request::new(Opcode::Get, b"raw:count"),
            ],
        ),
        raw_capture(
            spec,
            "raw-admin",
            &[
                Request::new(Opcode::Version, b""),
                Request::new(Opcode::Stat, b"settings"),
                Request::new(Opcode::SaslListMechs, b""),
                Request::new(Opcode::FlushQ, b"").extras(Extras::Expiration(3600)),
            ],
        ),
    ]
}

/// Splits a stream into its frames.
fn responses(bytes: &[u8]) -> Vec<Response<'_>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match decode_response(rest, u32::MAX) {
            Ok(Decoded::Complete { frame, len }) => {
                out.push(frame);
                rest = &rest[len..];
            }
            other => panic!("captured replies do not decode: {other:?}"),
        }
    }
    out
}

fn requests(bytes: &[u8]) -> Vec<Request<'_>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        match decode_request(rest, u32::MAX) {
            Ok(Decoded::Complete { frame, len }) => {
                out.push(frame);
                rest = &rest[len..];
            }
            other => panic!("captured requests do not decode: {other:?}"),
        }
    }
    out
}

/// What the [`targets::Writer`] can express (it bounds lengths).
fn fits_request(r: &Request<'_>) -> bool {
    r.key.len() <= 300 && r.value.len() <= usize::from(u16::MAX)
}

fn fits_response(r: &Response<'_>) -> bool {
    r.extras.len() <= 300 && r.key.len() <= 1024 && r.value.len() <= usize::from(u16::MAX)
}

/// A fuzz target's body.
type Target = fn(&[u8]);

/// Named inputs per target.
type Seeds = BTreeMap<&'static str, Vec<(String, Vec<u8>)>>;

/// Seeds per target, named after their capture.
fn seeds(captures: &[Capture]) -> Seeds {
    const SMALL: usize = 64 << 10;
    let mut seeds = Seeds::new();
    let mut add = |target: &'static str, name: String, data: Vec<u8>| {
        seeds.entry(target).or_default().push((name, data));
    };
    let mut all_requests = Vec::new();
    for capture in captures {
        let name = &capture.name;
        let Traffic {
            requests: req,
            replies: rep,
        } = &capture.traffic;
        let reqs = requests(req);
        let reps = responses(rep);
        assert!(!reps.is_empty(), "{name}: no replies");

        // decode: the raw bytes each way.
        if rep.len() <= SMALL {
            add("decode", format!("{name}.replies"), rep.clone());
        }
        if req.len() <= SMALL && all_requests.len() + req.len() <= SMALL {
            all_requests.extend_from_slice(req);
        }

        // roundtrip: every frame of the capture that the mirror can hold.
        let mut w = Writer::default();
        for r in reqs.iter().filter(|r| fits_request(r)) {
            w.u8(0);
            targets::write_request(&mut w, r);
        }
        for r in reps.iter().filter(|r| fits_response(r)) {
            w.u8(1);
            targets::write_response(&mut w, r);
        }
        if w.out.len() <= SMALL {
            add("roundtrip", name.clone(), w.out);
        }

        // chunked: the replies, cut at a few points, and byte by byte.
        let frames: Vec<Response<'_>> = reps.iter().copied().filter(fits_response).collect();
        let mut w = Writer::default();
        let cuts = [
            0x0800_0000,
            0x4000_0000,
            0x5555_5555,
            0x8000_0001,
            0xf000_0000,
        ];
        targets::write_chunked(&mut w, &cuts, 1, &frames);
        if w.out.len() <= SMALL {
            add("chunked", name.clone(), w.out);
        }
        if name.starts_with("raw-getk") || name == "get-multi" {
            let mut w = Writer::default();
            targets::write_chunked(&mut w, &[], 0x80, &frames);
            add("chunked", format!("{name}.bytewise"), w.out);
        }

        // batch: each run of requests closed by a Noop, with its replies.
        let mut start = 0;
        for (i, r) in reqs.iter().enumerate() {
            if r.opcode != Opcode::Noop {
                continue;
            }
            let batch = &reqs[start..i];
            start = i + 1;
            let Some(first) = batch.first() else {
                continue;
            };
            if batch.len() >= 0x80 || batch.iter().any(|b| b.opcode != first.opcode) {
                continue;
            }
            let count = batch.len() as u32;
            let keys: Vec<&[u8]> = batch.iter().map(|b| b.key).collect();
            let mut w = Writer::default();
            targets::write_batch_header(&mut w, first.opaque, first.opcode, &keys);
            for reply in &reps {
                let offset = reply.opaque.wrapping_sub(first.opaque);
                if offset <= count && reply.key.len() <= 250 {
                    targets::write_batch_reply(&mut w, reply);
                }
            }
            add("batch", format!("{name}.{:?}", first.opcode), w.out);
        }

        // commands: each single request with its replies.
        for (i, request) in reqs.iter().enumerate() {
            let Some(params) = targets::commands::params_of(request) else {
                continue;
            };
            // Every batch ends with a Noop: one capture of it is enough.
            if request.opcode == Opcode::Noop && name != "raw-admin" {
                continue;
            }
            let answers: Vec<&Response<'_>> = reps
                .iter()
                .filter(|r| r.opaque == request.opaque && fits_response(r))
                .collect();
            if answers.is_empty() || !fits_request(request) {
                continue;
            }
            let mut w = Writer::default();
            targets::commands::write_params(&mut w, &params);
            for reply in answers {
                targets::commands::write_reply(&mut w, reply);
            }
            if w.out.len() <= SMALL {
                add(
                    "commands",
                    format!("{name}.{i}.{:?}", request.opcode),
                    w.out,
                );
            }
        }

        // batch_machine: each quiet batch with its replies, in order.
        for (op, run, replies) in batches(&reqs, &reps) {
            let keys: Vec<&[u8]> = run.iter().map(|r| r.key).collect();
            let sizes: Vec<u32> = run.iter().take(15).map(|r| r.value.len() as u32).collect();
            let first = run[0].opaque;
            let mut w = Writer::default();
            targets::batch_machine::write_setup(&mut w, op, &keys, 0, &sizes, first);
            targets::batch_machine::write_transmit_all(&mut w);
            let mut next = 0;
            for reply in replies {
                if reply.opcode == Opcode::Noop {
                    targets::batch_machine::write_noop(&mut w);
                    continue;
                }
                let offset = reply.opaque.wrapping_sub(first);
                let gap = u8::try_from(offset - next).expect("a gap under 8");
                targets::batch_machine::write_honest_reply(&mut w, gap, reply.status, reply);
                next = offset + 1;
            }
            add("batch_machine", format!("{name}.{op:?}"), w.out);
        }

        // value: the first few values get-style replies returned.
        let mut values = 0;
        for (i, reply) in reps.iter().enumerate() {
            let getter = matches!(
                reply.opcode,
                Opcode::Get
                    | Opcode::GetQ
                    | Opcode::GetK
                    | Opcode::GetKQ
                    | Opcode::Gat
                    | Opcode::Gatq
                    | Opcode::Gatk
                    | Opcode::Gatkq
            );
            if getter && reply.status == Status::Ok && reply.value.len() <= SMALL && values < 5 {
                values += 1;
                let mut w = Writer::default();
                targets::write_value(&mut w, reply.flags().unwrap_or(0), reply.value);
                add("value", format!("{name}.{i}"), w.out);
            }
        }
    }
    add("decode", "all.requests".into(), all_requests);
    seeds
}

/// The batch op a run of quiet requests is, if it is one.
fn batch_op(first: &Request<'_>) -> Option<BatchOp> {
    let store = |mode| match first.extras {
        Extras::Store { expiration, .. } => Some(BatchOp::Store { mode, expiration }),
        _ => None,
    };
    let counter = |op| match first.extras {
        Extras::Counter { delta, .. } => Some(BatchOp::Counter { op, delta }),
        _ => None,
    };
    let expiration = match first.extras {
        Extras::Expiration(e) => e,
        _ => 0,
    };
    match first.opcode {
        Opcode::GetKQ => Some(BatchOp::Get),
        Opcode::Gatkq => Some(BatchOp::GetAndTouch(expiration)),
        Opcode::SetQ => store(StoreMode::Set),
        Opcode::AddQ => store(StoreMode::Add),
        Opcode::ReplaceQ => store(StoreMode::Replace),
        Opcode::DeleteQ => Some(BatchOp::Delete),
        Opcode::IncrementQ => counter(CounterOp::Incr),
        Opcode::DecrementQ => counter(CounterOp::Decr),
        Opcode::Touch => Some(BatchOp::Touch(expiration)),
        _ => None,
    }
}

/// Each run of one batch op's requests closed by a Noop (under 64 keys,
/// opaques consecutive), with the replies to it in order.
fn batches<'a>(
    reqs: &'a [Request<'a>],
    reps: &'a [Response<'a>],
) -> Vec<(BatchOp, &'a [Request<'a>], Vec<&'a Response<'a>>)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, r) in reqs.iter().enumerate() {
        if r.opcode != Opcode::Noop {
            continue;
        }
        let run = &reqs[start..i];
        start = i + 1;
        let Some(first) = run.first() else {
            continue;
        };
        let Some(op) = batch_op(first) else {
            continue;
        };
        let uniform = run.iter().enumerate().all(|(k, q)| {
            batch_op(q) == Some(op) && q.opaque == first.opaque.wrapping_add(k as u32)
        });
        if !uniform || run.len() >= 64 || r.opaque != first.opaque.wrapping_add(run.len() as u32) {
            continue;
        }
        let replies = reps
            .iter()
            .filter(|reply| {
                reply.opaque.wrapping_sub(first.opaque) <= run.len() as u32
                    && reply.value.len() <= 1024
            })
            .collect();
        out.push((op, run, replies));
    }
    out
}

/// Reads a text-protocol reply up to its last line (`END`, an error, or
/// `BUSY`).
fn read_text_reply(stream: &mut TcpStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = stream.read(&mut buf).expect("a text reply");
        assert!(n > 0, "memcached closed the connection");
        reply.extend_from_slice(&buf[..n]);
        let mut rest = &reply[..];
        while let Ok(Decoded::Complete { frame, len }) = decode_text_line(rest, 1 << 16) {
            use quickmc::protocol::TextLine;
            if matches!(
                frame,
                TextLine::End | TextLine::Error(_) | TextLine::Busy(_)
            ) {
                return reply;
            }
            rest = &rest[len..];
        }
    }
}

/// One text command on a fresh connection, and its reply.
fn text_exchange(spec: &str, command: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(spec).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(command).unwrap();
    read_text_reply(&mut stream)
}

/// Text-protocol replies from memcached (which answers text on the binary
/// port): stats groups the binary protocol lacks, errors, and a metadump of
/// keys with bytes that metadump escapes. Seeds for the `text` target.
fn text_seeds(spec: &str) -> Vec<(String, Vec<u8>)> {
    let client = Client::builder().servers([spec]).build().expect("client");
    for key in ["sp ace", "nl\nx", "per%cent", "tab\tkey", "ünï"] {
        client.set(key, "v", 0).unwrap();
    }
    client.set(&b"\xff\x00bin"[..], "v", 0).unwrap();
    let mut seeds = Vec::new();
    for group in ["", "settings", "conns", "items", "slabs", "nosuch-group"] {
        let mut command = Vec::new();
        encode_text_stats(group, &mut command).unwrap();
        let reply = text_exchange(spec, &command);
        let mut w = Writer::default();
        targets::text::write_lines(&mut w, 1024, &reply);
        let name = if group.is_empty() { "general" } else { group };
        seeds.push((format!("stats-{name}"), w.out));
        let mut w = Writer::default();
        targets::text::write_stats_group(&mut w, group);
        seeds.push((format!("group-{name}"), w.out));
    }
    let reply = text_exchange(spec, b"no_such_command\r\n");
    let mut w = Writer::default();
    targets::text::write_lines(&mut w, 64, &reply);
    seeds.push(("error".into(), w.out));

    // The crawler may still be busy with an earlier request: retry.
    let mut command = Vec::new();
    encode_metadump(&mut command);
    let dump = (0..50)
        .map(|_| text_exchange(spec, &command))
        .find(|reply| !reply.starts_with(b"BUSY"))
        .expect("the LRU crawler stays busy");
    assert!(dump.windows(7).any(|w| w == b"sp%20ac"), "{dump:?}");
    for (max, name) in [(4096, "metadump"), (48, "metadump.short-limit")] {
        let mut w = Writer::default();
        targets::text::write_lines(&mut w, max, &dump);
        seeds.push((name.into(), w.out));
    }
    let lines = String::from_utf8(dump).expect("metadump is ASCII");
    // The keys written above (escaped), and a few of the earlier captures'.
    let keys = lines.lines().filter(|l| l.starts_with("key="));
    let odd = keys.clone().filter(|l| l.replace("%3A", "").contains('%'));
    let usual = keys.filter(|l| !l.replace("%3A", "").contains('%'));
    for (i, line) in odd.chain(usual.take(3)).enumerate() {
        let mut w = Writer::default();
        targets::text::write_metadump_line(&mut w, line);
        seeds.push((format!("metadump-line.{i}"), w.out));
    }
    seeds
}

/// A seed's name as a plain file name: letters, digits, `.`, `-` and `_`.
fn file_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() || ".-".contains(c) {
            c
        } else {
            '_'
        };
        if !(c == '_' && out.ends_with('_')) {
            out.push(c);
        }
    }
    out.trim_end_matches('_').to_string()
}

#[test]
fn real_traffic_feeds_every_fuzz_target() {
    let server = support::Memcached::start();
    let spec = server.spec();
    let mut captures = client_captures(&spec);
    captures.extend(raw_captures(&spec));
    let mut seeds = seeds(&captures);
    seeds.entry("text").or_default().extend(text_seeds(&spec));
    let handwritten = [
        ("commands", targets::seeds::commands()),
        ("batch_machine", targets::seeds::batch_machine()),
        ("text", targets::seeds::text()),
        ("mux", targets::seeds::mux()),
    ];
    for (target, inputs) in handwritten {
        let named = inputs
            .into_iter()
            .map(|(name, data)| (format!("hand.{name}"), data));
        seeds.entry(target).or_default().extend(named);
    }

    let run: [(&str, Target); 9] = [
        ("decode", targets::decode),
        ("roundtrip", targets::roundtrip),
        ("chunked", targets::chunked),
        ("batch", targets::batch),
        ("value", targets::value),
        ("commands", targets::commands),
        ("batch_machine", targets::batch_machine),
        ("text", targets::text),
        ("mux", targets::mux),
    ];
    for (target, f) in run {
        let inputs = seeds.get(target).map(Vec::as_slice).unwrap_or_default();
        assert!(
            inputs.len() >= 3,
            "few seeds for {target}: {}",
            inputs.len()
        );
        for (name, data) in inputs {
            eprintln!("{target}: {name} ({} bytes)", data.len());
            f(data);
        }
    }

    let write = std::env::var("QUICKMC_WRITE_CORPUS").unwrap_or_default();
    if !write.is_empty() {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let chosen = |target: &str| write == "1" || write.split(',').any(|t| t == target);
        for (target, inputs) in seeds.iter().filter(|(target, _)| chosen(target)) {
            let dir = corpus.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for (name, data) in inputs {
                std::fs::write(dir.join(file_name(name)), data).unwrap();
            }
        }
    }
}
