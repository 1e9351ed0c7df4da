//! Hand-written seeds for the targets whose inputs are structured (captured
//! traffic gives the rest; `tests/capture_corpus.rs` writes both into
//! `fuzz/corpus/<target>/`). Each is built with the target's own writers, so
//! it means to the target what its name says.

use quickmc::command::{BatchOp, CounterOp, StoreMode};
use quickmc::protocol::{Opcode, Response, Status};

use super::batch_machine::{write_honest_reply, write_noop, write_setup, write_transmit_all};
use super::commands::{Kind, Params, STATUSES, write_params};
use super::input::{Writer, opcode_index};
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
