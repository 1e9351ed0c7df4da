//! Hand-written seeds for the targets whose inputs are structured (captured
//! traffic gives the rest; `tests/capture_corpus.rs` writes both into
//! `fuzz/corpus/<target>/`). Each is built with the target's own writers, so
//! it means to the target what its name says.

use quickmc::command::{BatchOp, CounterOp, StoreMode};
use quickmc::protocol::{Opcode, Response, Status};

use super::batch_machine::{write_honest_reply, write_noop, write_setup, write_transmit_all};
use super::commands::{Kind, Params, STATUSES, write_params};
use super::input::{Writer, opcode_index};
use super::mux::{
    write_batch, write_break, write_close, write_give_back, write_header, write_honest,
    write_hostile, write_old_handle, write_open, write_oversized, write_single, write_spec,
    write_take, write_take_output, write_written,
};
use super::text::{write_lines, write_metadump_line, write_stats_group};

/// Named inputs.
pub type Seeds = Vec<(String, Vec<u8>)>;

/// Hand-written inputs: each kind answered as memcached would, a stats
/// stream past each limit, and replies that must be refused.
pub fn commands() -> Seeds {
    let mut seeds = Vec::new();
    let base = Params {
        kind: Kind::Get,
        flags: 16,
        expiration: 60,
        cas: 77,
        delta: 3,
        key: b"seed:key",
        value: b"seed value",
        opaque: u32::MAX,
    };
    // Shape bits: status from the short list, with one byte to pick it.
    let status_pick = |w: &mut Writer, status: Status, rest: &[u8]| {
        let index = STATUSES.iter().position(|&s| s == status).unwrap_or(0) as u8;
        w.u8(0b0_1000)
            .u8(index)
            .u64(5)
            .bytes(&[0, 0, 0, 16])
            .bytes(b"")
            .bytes(rest);
    };
    for kind in Kind::ALL {
        for status in STATUSES {
            let mut w = Writer::default();
            write_params(&mut w, &Params { kind, ..base });
            let value: &[u8] = match kind {
                Kind::Incr | Kind::Decr => &[0, 0, 0, 0, 0, 0, 0, 42],
                _ => b"reply",
            };
            status_pick(&mut w, status, value);
            // Anything after the answer is refused.
            status_pick(&mut w, Status::Ok, value);
            seeds.push((format!("{kind:?}-{status:?}"), w.out));
        }
    }
    // Stats: a stream ended by an empty key; one that never ends (entry
    // limit); one of 64 KiB values (byte limit).
    let stats = Params {
        kind: Kind::Stats,
        key: b"items",
        ..base
    };
    let mut w = Writer::default();
    write_params(&mut w, &stats);
    for (k, v) in [("pid", "42"), ("uptime", "7"), ("version", "1.6.18")] {
        w.u8(0)
            .u64(0)
            .bytes(b"")
            .bytes(k.as_bytes())
            .bytes(v.as_bytes());
    }
    w.u8(0).u64(0).bytes(b"").bytes(b"").bytes(b"");
    seeds.push(("Stats-stream".into(), w.out));
    let mut w = Writer::default();
    write_params(&mut w, &stats);
    w.u8(0x40)
        .u16(u16::MAX)
        .u64(0)
        .bytes(b"")
        .bytes(b"k")
        .bytes(b"v");
    seeds.push(("Stats-entries-limit".into(), w.out));
    let mut w = Writer::default();
    write_params(&mut w, &stats);
    w.u8(0x40)
        .u16(200)
        .u64(0)
        .bytes(b"")
        .bytes(b"big")
        .bytes(&vec![b'x'; 65535]);
    seeds.push(("Stats-bytes-limit".into(), w.out));
    // Replies with another opaque or opcode, oversized values, a hit
    // without flags, a request that cannot be encoded.
    let mut w = Writer::default();
    write_params(&mut w, &base);
    w.u8(0b01).u8(0xff).u64(0).bytes(b"").bytes(b"").bytes(b"");
    w.u8(0b100)
        .u8(opcode_index(Opcode::Set))
        .u64(0)
        .bytes(b"")
        .bytes(b"")
        .bytes(b"");
    w.u8(0x20).u32(1 << 30).u32(1 << 20);
    seeds.push(("Get-oversized".into(), w.out));
    let mut w = Writer::default();
    write_params(
        &mut w,
        &Params {
            kind: Kind::GetAndTouch,
            ..base
        },
    );
    w.u8(0).u64(0).bytes(b"").bytes(b"").bytes(b"no flags");
    seeds.push(("Gat-hit-without-flags".into(), w.out));
    let mut w = Writer::default();
    write_params(&mut w, &Params { key: b"", ..base });
    w.u8(0).u64(0).bytes(&[0; 4]).bytes(b"").bytes(b"");
    seeds.push(("Get-empty-key".into(), w.out));
    seeds
}

/// Hand-written inputs: each op answered honestly, thousands of keys sent
/// with small budgets, values that fill windows by bytes, items that
/// cannot be sent, opaques wrapping past `u32::MAX`, and each kind of
/// hostile reply.
pub fn batch_machine() -> Seeds {
    let mut seeds = Vec::new();
    let keys: [&[u8]; 6] = [b"a", b"bb", b"", &[b'x'; 251], b"ccc", b"dddd"];
    let set = BatchOp::Store {
        mode: StoreMode::Set,
        expiration: 60,
    };
    let ops = [
        BatchOp::Get,
        BatchOp::GetAndTouch(30),
        set,
        BatchOp::Store {
            mode: StoreMode::Add,
            expiration: 0,
        },
        BatchOp::Store {
            mode: StoreMode::Replace,
            expiration: 0,
        },
        BatchOp::Delete,
        BatchOp::Counter {
            op: CounterOp::Incr,
            delta: 2,
        },
        BatchOp::Counter {
            op: CounterOp::Decr,
            delta: 1,
        },
        BatchOp::Touch(300),
    ];
    let hit = Response::new(Opcode::GetKQ, Status::Ok)
        .extras(&[0, 0, 0, 16])
        .cas(9)
        .value(b"value");
    for (i, op) in ops.into_iter().enumerate() {
        // Honest: a reply after a gap, one right after, the Noop.
        let mut w = Writer::default();
        write_setup(&mut w, op, &keys, 0, &[5, 70], 100);
        write_transmit_all(&mut w);
        write_honest_reply(&mut w, 1, Status::Ok, &hit);
        write_honest_reply(&mut w, 0, Status::KeyNotFound, &hit);
        write_noop(&mut w);
        seeds.push((format!("honest-{i}-{op:?}"), w.out));
        // Each hostile kind after one honest reply.
        for kind in 0..8u8 {
            let mut w = Writer::default();
            write_setup(&mut w, op, &keys, 4, &[], u32::MAX - 3);
            write_transmit_all(&mut w);
            write_honest_reply(&mut w, 0, Status::NotStored, &hit);
            w.u8(5).u8(kind).u8(1).u32(7).bytes(b"a");
            seeds.push((format!("hostile-{kind}-{i}"), w.out));
        }
    }
    // Thousands of keys, small budgets: several windows of 1024, answered
    // while later ones are still to be sent.
    let mut w = Writer::default();
    write_setup(&mut w, BatchOp::Delete, &[], 2600, &[], 0);
    for _ in 0..3 {
        w.u8(0).u8(200); // a budget of 200 bytes
        write_honest_reply(&mut w, 7, Status::KeyNotFound, &hit);
        write_noop(&mut w);
    }
    seeds.push(("windows-of-1024".into(), w.out));
    // Values that close windows by bytes, some failing to serialize.
    let mut w = Writer::default();
    write_setup(&mut w, set, &[], 40, &[100 << 10, 30 << 10, 1], 5);
    let last = w.out.len() - 8;
    // Source byte: values, a fail mask, three sizes.
    w.out.splice(last - 13..last - 12, [0b0011_0010]);
    w.out
        .splice(last - 12..last - 12, 0b1001_0100u64.to_le_bytes());
    w.u8(0).u8(1);
    write_honest_reply(&mut w, 1, Status::NotStored, &hit);
    write_transmit_all(&mut w);
    seeds.push(("windows-by-bytes".into(), w.out));
    // A get batch whose second hit is too large for the client.
    let mut w = Writer::default();
    write_setup(&mut w, BatchOp::Get, &keys, 3, &[], 1);
    write_transmit_all(&mut w);
    write_honest_reply(&mut w, 0, Status::Ok, &hit);
    w.u8(6).u8(0).u32(5 << 20).u32(1 << 20);
    seeds.push(("oversized-hit".into(), w.out));
    seeds
}

/// Hand-written inputs: each kind of reply line (at the limit, CRLF or LF,
/// not UTF-8), metadump lines (escaped, malformed), stats groups (words and
/// ones that would break the line).
pub fn text() -> Seeds {
    let mut seeds = Vec::new();
    let replies: [(&str, u16, &[u8]); 8] = [
        (
            "stats",
            1024,
            b"STAT pid 42\r\nSTAT version 1.6.18\r\nSTAT novalue\r\nEND\r\n",
        ),
        (
            "errors",
            1024,
            b"ERROR\r\nCLIENT_ERROR bad command line format\r\nSERVER_ERROR out of memory\r\n",
        ),
        ("busy", 64, b"BUSY currently processing crawler request\r\n"),
        (
            "metadump",
            4096,
            b"key=a%20b exp=-1 la=1 cas=2 fetch=no cls=1 size=66\nEND\r\n",
        ),
        ("at-the-limit", 8, b"123456\r\n1234567\r\n"),
        ("no-limit", 0, b"END\r\n"),
        ("not-utf8", 64, b"STAT \xff\xfe x\r\n"),
        ("partial", 1024, b"STAT curr_connections 10\r"),
    ];
    for (name, max, reply) in replies {
        let mut w = Writer::default();
        write_lines(&mut w, max, reply);
        seeds.push((format!("lines-{name}"), w.out));
    }
    let lines = [
        "key=user%3A1 exp=-1 la=1700000000 cas=7 fetch=no cls=1 size=70",
        "key=%FF%00bin exp=1700000100 la=1 cas=3 fetch=yes cls=12 size=65",
        "key=a%2 size=1",
        "key=%zz",
        "exp=5 la=1",
        "key= exp=1",
        "key=a exp=+5 size=-1",
        "key=a=b  exp=1  junk",
    ];
    for (i, line) in lines.iter().enumerate() {
        let mut w = Writer::default();
        write_metadump_line(&mut w, line);
        seeds.push((format!("metadump-{i}"), w.out));
    }
    for (i, group) in [
        "",
        "conns",
        "items",
        "a b",
        "conns\r\nflush_all",
        "détail",
        "x\0",
    ]
    .iter()
    .enumerate()
    {
        let mut w = Writer::default();
        write_stats_group(&mut w, group);
        seeds.push((format!("stats-group-{i}"), w.out));
    }
    seeds
}

/// Hand-written inputs for the multiplexer: callers' requests answered in
/// order (singles, a stats stream, batch windows with gaps), partial
/// writes, a caller giving up, tight limits and a segment held back,
/// opaques wrapping, each kind of hostile reply, an oversized reply, a
/// break and old handles.
pub fn mux() -> Seeds {
    let mut seeds = Vec::new();
    let get = |w: &mut Writer, pick: u8, key: &[u8]| write_single(w, pick, 0, key, 0, 0);
    let take_all = |w: &mut Writer, n: u8| {
        for pick in 0..n {
            write_take(w, pick);
        }
    };
    // Three callers: a get, a set and a delete go out in one write and are
    // answered in order.
    let mut w = Writer::default();
    write_header(&mut w, 6, None, 1, 0);
    for _ in 0..3 {
        write_open(&mut w);
    }
    get(&mut w, 0, b"a");
    write_single(&mut w, 1, 2, b"b", 10, 16);
    write_single(&mut w, 2, 4, b"c", 0, 0);
    write_written(&mut w, None);
    write_honest(&mut w, Status::Ok, 0, 5);
    write_honest(&mut w, Status::Ok, 0, 0);
    write_honest(&mut w, Status::KeyNotFound, 0, 0);
    take_all(&mut w, 3);
    seeds.push(("three-callers".into(), w.out));
    // Partial writes: replies only once each request is written.
    let mut w = Writer::default();
    write_header(&mut w, 6, Some(4096), 0, 0);
    write_open(&mut w);
    write_open(&mut w);
    get(&mut w, 0, b"first");
    write_single(&mut w, 1, 5, b"", 0, 0);
    for _ in 0..8 {
        write_written(&mut w, Some(7));
    }
    write_honest(&mut w, Status::KeyNotFound, 0, 0);
    write_honest(&mut w, Status::Ok, 0, 0);
    take_all(&mut w, 2);
    seeds.push(("partial-writes".into(), w.out));
    // A writer takes the output, a caller enqueues while it sends, and the
    // socket takes only part: the rest goes out first, then the newcomer's.
    let mut w = Writer::default();
    write_header(&mut w, 6, None, 0, 0);
    write_open(&mut w);
    write_open(&mut w);
    get(&mut w, 0, b"first");
    write_take_output(&mut w);
    write_single(&mut w, 1, 5, b"", 0, 0);
    write_give_back(&mut w, 10);
    write_take_output(&mut w);
    write_give_back(&mut w, 30);
    write_written(&mut w, None);
    write_honest(&mut w, Status::KeyNotFound, 0, 0);
    write_honest(&mut w, Status::Ok, 0, 0);
    take_all(&mut w, 2);
    seeds.push(("taken-output".into(), w.out));
    // A stats stream: entries, then the empty one.
    let mut w = Writer::default();
    write_header(&mut w, 6, None, 9, 0);
    write_open(&mut w);
    write_single(&mut w, 0, 7, b"", 0, 0);
    write_written(&mut w, None);
    for extra in [1, 2, 1, 0] {
        write_honest(&mut w, Status::Ok, 0, extra);
    }
    write_take(&mut w, 0);
    seeds.push(("stats-stream".into(), w.out));
    // Batches: a get over 2 windows (1,024 requests each) and a set whose
    // values fill windows by bytes (some fail to serialize), answered with
    // gaps, opaques wrapping past u32::MAX.
    let mut w = Writer::default();
    write_header(&mut w, 6, None, u32::MAX - 40, 2);
    write_spec(&mut w, 0, &[b"x", b"", b"yy"], 1100, 0, &[]);
    write_spec(&mut w, 2, &[b"s"], 6, 0b0100, &[60 << 10, 10]);
    write_open(&mut w);
    write_open(&mut w);
    write_batch(&mut w, 0, 0);
    write_batch(&mut w, 1, 1);
    write_batch(&mut w, 0, 0);
    write_written(&mut w, None);
    for gap in [0, 3, 1, 2, 200] {
        write_honest(&mut w, Status::Ok, gap, 1);
    }
    write_take(&mut w, 0);
    write_batch(&mut w, 1, 1);
    write_written(&mut w, Some(1000));
    for gap in [0, 0, 1, 200, 200, 200] {
        write_honest(&mut w, Status::NotStored, gap, 0);
    }
    take_all(&mut w, 2);
    seeds.push(("batch-windows".into(), w.out));
    // A caller gives up with its get in flight: its reply is read and
    // dropped, the next caller gets its own; its slot is reused.
    let mut w = Writer::default();
    write_header(&mut w, 6, None, 100, 0);
    write_open(&mut w);
    write_open(&mut w);
    get(&mut w, 0, b"gone");
    get(&mut w, 1, b"here");
    write_written(&mut w, None);
    write_close(&mut w, 0);
    write_honest(&mut w, Status::Ok, 0, 3);
    write_hostile(&mut w, 0, 0, 0, 0, 0);
    write_open(&mut w);
    write_honest(&mut w, Status::Ok, 0, 3);
    take_all(&mut w, 2);
    write_old_handle(&mut w, 0, false);
    write_old_handle(&mut w, 0, true);
    seeds.push(("caller-gives-up".into(), w.out));
    // Tight limits: one segment at a time, then 100 bytes with a set too
    // big to join (held back until the others are answered).
    for (name, segments, bytes) in [("one-segment", 1, None), ("100-bytes", 6, Some(100))] {
        let mut w = Writer::default();
        write_header(&mut w, segments, bytes, 0, 0);
        for _ in 0..3 {
            write_open(&mut w);
        }
        write_single(&mut w, 0, 5, b"", 0, 0);
        write_single(&mut w, 1, 2, b"big", 300, 0);
        get(&mut w, 2, b"c");
        for _ in 0..3 {
            write_written(&mut w, None);
            write_honest(&mut w, Status::Ok, 0, 0);
            get(&mut w, 2, b"c");
        }
        take_all(&mut w, 3);
        seeds.push((format!("limits-{name}"), w.out));
    }
    // Each kind of hostile reply after one honest one, with two batch
    // windows and a get in flight.
    for kind in 0..8u8 {
        let mut w = Writer::default();
        write_header(&mut w, 6, None, 1 << 31, 1);
        write_spec(&mut w, 1, &[b"d1", b"d2", b"d3"], 0, 0, &[]);
        write_open(&mut w);
        write_open(&mut w);
        get(&mut w, 0, b"g");
        write_batch(&mut w, 1, 0);
        get(&mut w, 0, b"h");
        write_written(&mut w, None);
        write_honest(&mut w, Status::Ok, 0, 2);
        write_hostile(&mut w, kind, 1, 0, 12345, kind);
        take_all(&mut w, 2);
        seeds.push((format!("hostile-{kind}"), w.out));
    }
    // An oversized reply to a get, then what follows it on the connection.
    let mut w = Writer::default();
    write_header(&mut w, 6, None, 5, 0);
    write_open(&mut w);
    write_open(&mut w);
    get(&mut w, 0, b"huge");
    get(&mut w, 1, b"next");
    write_written(&mut w, None);
    write_oversized(&mut w, 0, 0, 1 << 30);
    take_all(&mut w, 2);
    get(&mut w, 0, b"after");
    seeds.push(("oversized-reply".into(), w.out));
    let mut w = Writer::default();
    write_header(&mut w, 6, None, 5, 0);
    write_open(&mut w);
    write_open(&mut w);
    get(&mut w, 0, b"answered");
    write_written(&mut w, None);
    write_honest(&mut w, Status::Ok, 0, 4);
    get(&mut w, 1, b"in-flight");
    write_close(&mut w, 1);
    write_break(&mut w);
    take_all(&mut w, 2);
    write_open(&mut w);
    get(&mut w, 1, b"refused");
    seeds.push(("break".into(), w.out));
    seeds
}
