//! The wire facts of PROTOCOL.md, checked against a real memcached through
//! a bare connection and the client.

mod support;

use quickmc::protocol::{Extras, NO_CREATE, Opcode, Request, Status};
use quickmc::{Client, Error};
use support::wire::Wire;
use support::{Memcached, Options, key, shared};

fn connect(server: &Memcached) -> Wire {
    Wire::connect(&server.spec())
}

fn store(opcode: Opcode, key: &[u8], value: &'static [u8]) -> Request<'static> {
    let key: &'static [u8] = Box::leak(key.to_vec().into_boxed_slice());
    Request::new(opcode, key)
        .extras(Extras::Store {
            flags: 0,
            expiration: 0,
        })
        .value(value)
}

#[test]
fn each_status_code_path_answers_as_documented() {
    let mut conn = connect(shared());
    let k = key("statuses", "k");
    let k = k.as_bytes();
    let status = |conn: &mut Wire, r: Request<'_>| conn.request(r).status;
    assert_eq!(
        status(&mut conn, Request::new(Opcode::Delete, k)),
        Status::KeyNotFound
    );
    assert_eq!(
        status(&mut conn, store(Opcode::Replace, k, b"v")),
        Status::KeyNotFound
    );
    assert_eq!(
        status(&mut conn, Request::new(Opcode::Append, k).value(b"x")),
        Status::NotStored
    );
    assert_eq!(
        status(&mut conn, store(Opcode::Set, k, b"v").cas(12345)),
        Status::KeyNotFound
    );
    assert_eq!(status(&mut conn, store(Opcode::Add, k, b"v")), Status::Ok);
    assert_eq!(
        status(&mut conn, store(Opcode::Add, k, b"v")),
        Status::KeyExists
    );
    assert_eq!(
        status(&mut conn, store(Opcode::Set, k, b"v").cas(12345)),
        Status::KeyExists
    );
    let counter = Extras::Counter {
        delta: 1,
        initial: 0,
        expiration: NO_CREATE,
    };
    assert_eq!(
        status(
            &mut conn,
            Request::new(Opcode::Increment, k).extras(counter)
        ),
        Status::NonNumeric
    );
    let missing = key("statuses", "missing");
    assert_eq!(
        status(
            &mut conn,
            Request::new(Opcode::Increment, missing.as_bytes()).extras(counter)
        ),
        Status::KeyNotFound
    );
    assert_eq!(
        status(&mut conn, Request::new(Opcode::Stat, b"bogus")),
        Status::KeyNotFound
    );
    conn.noop();
}

#[test]
fn an_increment_with_an_expiration_other_than_no_create_creates_the_key_with_initial() {
    let mut conn = connect(shared());
    let k = key("incr_create", "k");
    let reply = conn.request(Request::new(Opcode::Increment, k.as_bytes()).extras(
        Extras::Counter {
            delta: 5,
            initial: 40,
            expiration: 0,
        },
    ));
    assert_eq!(reply.status, Status::Ok);
    assert_eq!(reply.counter(), Some(40));
}

#[test]
fn a_touch_reply_carries_flags_the_decoder_accepts() {
    let mut conn = connect(shared());
    let k = key("touch_extras", "k");
    let k = k.as_bytes();
    let set = Request::new(Opcode::Set, k)
        .extras(Extras::Store {
            flags: 16,
            expiration: 0,
        })
        .value(b"v");
    conn.request(set);
    let reply = conn.request(Request::new(Opcode::Touch, k).extras(Extras::Expiration(100)));
    assert_eq!(reply.status, Status::Ok);
    assert_eq!(reply.flags(), Some(16));
    let gat = conn.request(Request::new(Opcode::Gat, k).extras(Extras::Expiration(100)));
    assert_eq!((gat.status, gat.value.as_slice()), (Status::Ok, &b"v"[..]));
}

#[test]
fn the_item_size_edge_under_dash_i_1m_is_1048516_bytes_with_a_one_byte_key() {
    let server = Memcached::with(Options {
        item_size: Some("1m"),
        ..Options::default()
    });
    let client = Client::builder()
        .servers([server.spec()])
        .max_connections(1)
        .build()
        .unwrap();
    let fits = vec![b'x'; 1_048_516];
    let too_big = vec![b'x'; 1_048_517];
    assert!(client.set("k", &fits[..], 0).unwrap());
    assert_eq!(
        client.get::<Vec<u8>>("k").unwrap().map(|v| v.len()),
        Some(1_048_516)
    );
    assert!(matches!(
        client.set("k", &too_big[..], 0),
        Err(Error::TooLarge)
    ));
    // The failed set also dropped the old value, as memcached does.
    assert_eq!(client.get::<Vec<u8>>("k").unwrap(), None);
    // The connection stayed in sync and in the pool.
    assert!(client.set("k2", "after", 0).unwrap());
    assert_eq!(
        client.get::<String>("k2").unwrap().as_deref(),
        Some("after")
    );
    assert_eq!(client.pool_state()[0].0, 1);
    // The 250-byte key edge.
    let long_key = "k".repeat(250);
    assert!(
        client
            .set(&long_key, &vec![b'y'; 1_048_267][..], 0)
            .unwrap()
    );
    assert!(matches!(
        client.set(&long_key, &vec![b'y'; 1_048_268][..], 0),
        Err(Error::TooLarge)
    ));
}

#[test]
fn a_value_much_larger_than_the_item_size_is_too_large_and_other_keys_survive() {
    let server = Memcached::with(Options {
        item_size: Some("1m"),
        ..Options::default()
    });
    let client = server.client();
    client.set("neighbour", "safe", 0).unwrap();
    let huge = vec![0u8; 5 << 20];
    assert!(matches!(
        client.set("huge", &huge[..], 0),
        Err(Error::TooLarge)
    ));
    assert_eq!(
        client.get::<String>("neighbour").unwrap().as_deref(),
        Some("safe")
    );
}

#[test]
fn memcached_closes_the_connection_on_a_251_byte_key_which_is_why_quickmc_refuses_it_first() {
    use std::io::{Read, Write};
    let mut raw = Vec::new();
    // Hand-built: the encoder itself refuses such a key.
    let key = vec![b'k'; 251];
    raw.extend_from_slice(&[0x80, 0x00]);
    raw.extend_from_slice(&251u16.to_be_bytes());
    raw.extend_from_slice(&[0, 0, 0, 0]);
    raw.extend_from_slice(&251u32.to_be_bytes());
    raw.extend_from_slice(&[0; 12]);
    raw.extend_from_slice(&key);
    let mut stream = std::net::TcpStream::connect(shared().spec()).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    stream.write_all(&raw).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    assert!(reply.len() >= 24);
    assert_eq!(
        u16::from_be_bytes([reply[6], reply[7]]),
        0x0004,
        "invalid arguments"
    );
    // ... and the server closed the connection (read_to_end returned).
}

#[test]
fn the_version_and_noop_round_trips_work_on_a_unix_socket() {
    let server = Memcached::with(Options {
        unix_socket: true,
        ..Options::default()
    });
    let mut conn = connect(&server);
    conn.noop();
    assert!(conn.version().starts_with("1."));
    let client = server.client();
    client.set("unix", "ok", 0).unwrap();
    assert_eq!(client.get::<String>("unix").unwrap().as_deref(), Some("ok"));
}

#[test]
fn quiet_opcodes_are_refused_on_the_single_request_path() {
    use quickmc::command::{Command, Exchange, Single, Step};
    use quickmc::protocol::Response;
    /// A command that (wrongly) asks for a quiet get, which a miss leaves
    /// unanswered: a single exchange would wait for a reply that never comes.
    struct QuietGet;
    impl Command for QuietGet {
        type Output = ();
        fn request(&self) -> Request<'_> {
            Request::new(Opcode::GetQ, b"k")
        }
        fn outcome(&mut self, _: &Response<'_>) -> Result<Step<()>, quickmc::ProtocolError> {
            Ok(Step::Done(Ok(())))
        }
    }
    let mut command = QuietGet;
    let mut exchange = Single::new(&mut command);
    let mut wire = Vec::new();
    exchange.transmit(&mut 0, &mut wire, 1024);
    assert!(wire.is_empty(), "nothing is sent");
    assert!(matches!(
        exchange.into_outcome(),
        Some(Err(Error::Config(_)))
    ));
    // A connection beside it is unharmed.
    connect(shared()).noop();
}
