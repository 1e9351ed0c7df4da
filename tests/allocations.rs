//! Encoding allocates nothing beyond the connection's reused buffer, a
//! batch allocates nothing per key, and a reply's declared length is not
//! allocated before its bytes arrive: counted with a counting global
//! allocator.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use quickmc::protocol::{Extras, Opcode, Request};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// The largest allocation asked for since last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged; it only
// counts allocations on the side.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

// One test function: the counter is process-wide, so the measurements must
// not overlap with other tests' allocations.
#[test]
fn encoding_and_batches_allocate_nothing_per_key_and_a_declared_length_waits_for_its_bytes() {
    // Encoding a request into a buffer with capacity allocates nothing.
    let mut buf = Vec::with_capacity(1 << 16);
    let value = [7u8; 100];
    let n = allocations_during(|| {
        for i in 0..1000u32 {
            buf.clear();
            Request::new(Opcode::Set, b"some:key")
                .extras(Extras::Store {
                    flags: 0,
                    expiration: 0,
                })
                .value(&value)
                .opaque(i)
                .encode(&mut buf)
                .unwrap();
            Request::new(Opcode::GetKQ, b"some:key")
                .opaque(i)
                .encode(&mut buf)
                .unwrap();
        }
    });
    assert_eq!(n, 0, "encoding allocated");

    // A get_multi of 10,000 keys allocates about as much as one of 100:
    // the key table, the per-server lists and the result map grow
    // geometrically; nothing is allocated per key (u64 values decode
    // without allocating).
    let server = support::Memcached::start();
    let client = server.client();
    let keys: Vec<String> = (0..10_000).map(|i| format!("alloc:{i}")).collect();
    client
        .set_multi(keys.iter().map(|k| (k.as_str(), 1u64)), "", 0)
        .unwrap();
    let _warm: HashMap<&str, u64> = client
        .get_multi(keys.iter().map(String::as_str), "")
        .unwrap();
    let small = allocations_during(|| {
        let hits: HashMap<&str, u64> = client
            .get_multi(keys[..100].iter().map(String::as_str), "")
            .unwrap();
        assert_eq!(hits.len(), 100);
    });
    let large = allocations_during(|| {
        let hits: HashMap<&str, u64> = client
            .get_multi(keys.iter().map(String::as_str), "")
            .unwrap();
        assert_eq!(hits.len(), 10_000);
    });
    assert!(
        large < small + 80,
        "get_multi of 10,000 keys made {large} allocations, of 100 keys {small}: something allocates per key"
    );
    let set_small = allocations_during(|| {
        client
            .set_multi(keys[..100].iter().map(|k| (k.as_str(), &b"v"[..])), "", 0)
            .unwrap();
    });
    let set_large = allocations_during(|| {
        client
            .set_multi(keys.iter().map(|k| (k.as_str(), &b"v"[..])), "", 0)
            .unwrap();
    });
    assert!(
        set_large < set_small + 80,
        "set_multi of 10,000 keys made {set_large} allocations, of 100 keys {set_small}"
    );

    // A reply header declaring a 60 MiB value, then silence: the client
    // holds what arrived (24 bytes), not what the header promised, until
    // the I/O timeout ends the call — pooled and on a shared connection.
    let proxy = support::proxy::Proxy::start(&server.spec());
    for pipelined in [0, 1] {
        let builder = quickmc::Client::builder()
            .servers([proxy.spec()])
            .io_timeout(Some(std::time::Duration::from_millis(300)));
        let client = support::build_in_mode(builder, pipelined);
        assert!(client.set("alloc:declared", "v", 0).unwrap());
        proxy.set_fault_once(support::proxy::Fault::Declares(60 << 20));
        LARGEST.store(0, Ordering::SeqCst);
        let got = client.get::<Vec<u8>>("alloc:declared");
        let largest = LARGEST.load(Ordering::SeqCst);
        assert!(got.is_err(), "{got:?}");
        assert!(
            largest < 4 << 20,
            "pipelined({pipelined}): a 24-byte header made the client allocate {largest} bytes"
        );
    }
}
