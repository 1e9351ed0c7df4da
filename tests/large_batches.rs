//! No deadlock and bounded memory at any batch size: a get_multi of 500,000
//! keys and a set_multi of over 100 MB against a real memcached, with the
//! client's memory counted by a counting allocator.
//!
//! memcached stops reading a connection while it cannot write its replies;
//! a client that wrote such batches without reading would block forever.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::{Memcached, Options};

struct Tracking;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: delegates every call to the system allocator unchanged and only
// keeps byte counts on the side.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        grew(new_size);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Runs `f`; returns its result, the bytes it left allocated, and the peak
/// above the starting point.
fn measure<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let start = CURRENT.load(Ordering::SeqCst);
    PEAK.store(start, Ordering::SeqCst);
    let r = f();
    let end = CURRENT.load(Ordering::SeqCst);
    (
        r,
        end.saturating_sub(start),
        PEAK.load(Ordering::SeqCst) - start,
    )
}

const MB: usize = 1 << 20;

// One test: the counters are process-wide.
#[test]
fn huge_batches_complete_without_deadlock_and_memory_stays_near_the_result_size() {
    let server = Memcached::with(Options {
        memory_mb: 1024,
        threads: 2,
        ..Options::default()
    });
    let client = quickmc::Client::builder()
        .servers([server.spec()])
        .io_timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap();

    // set_multi of 100 MB: 102,400 values of 1 KiB.
    let value = vec![b'x'; 1024];
    let keys: Vec<String> = (0..102_400).map(|i| format!("big:{i}")).collect();
    let total = keys.len() * value.len();
    assert!(total >= 100 * MB);
    let (failed, _, peak) = measure(|| {
        client
            .set_multi(keys.iter().map(|k| (k.as_str(), &value[..])), "", 0)
            .unwrap()
    });
    assert!(failed.is_empty(), "{} keys not stored", failed.len());
    println!(
        "set_multi of {} MB: peak client memory {:.1} MB",
        total / MB,
        peak as f64 / MB as f64
    );
    assert!(
        peak < total / 10,
        "set_multi of {} MB peaked at {} MB of client memory: requests must be encoded a chunk at a time",
        total / MB,
        peak / MB
    );
    // The same 100 MB read back in one get_multi (replies far larger than
    // any socket buffer).
    let (hits, result_bytes, peak) = measure(|| {
        let hits: HashMap<&str, Vec<u8>> = client
            .get_multi(keys.iter().map(String::as_str), "")
            .unwrap();
        hits
    });
    assert_eq!(hits.len(), keys.len());
    assert!(hits.values().all(|v| v == &value));
    println!(
        "get_multi of {} MB: result {:.1} MB, peak {:.1} MB",
        total / MB,
        result_bytes as f64 / MB as f64,
        peak as f64 / MB as f64
    );
    assert!(
        peak < result_bytes + result_bytes / 2 + 16 * MB,
        "get_multi peaked at {} MB for a {} MB result",
        peak / MB,
        result_bytes / MB
    );
    drop(hits);

    // get_multi of 500,000 keys (half of them present).
    let keys: Vec<String> = (0..500_000).map(|i| format!("many:{i}")).collect();
    assert!(
        client
            .set_multi(
                keys.iter().step_by(2).map(|k| (k.as_str(), k.as_str())),
                "",
                0
            )
            .unwrap()
            .is_empty()
    );
    let (hits, result_bytes, peak) = measure(|| {
        let hits: HashMap<&str, String> = client
            .get_multi(keys.iter().map(String::as_str), "")
            .unwrap();
        hits
    });
    assert_eq!(hits.len(), 250_000);
    assert!(hits.iter().all(|(k, v)| k == v));
    println!(
        "get_multi of 500,000 keys: result {:.1} MB, peak {:.1} MB",
        result_bytes as f64 / MB as f64,
        peak as f64 / MB as f64
    );
    assert!(
        peak < 2 * result_bytes + 16 * MB,
        "get_multi of 500,000 keys peaked at {} MB for a {} MB result",
        peak / MB,
        result_bytes / MB
    );
    drop(hits);

    // A reply declaring a ~4 GB body (from a proxy standing in for a
    // hostile server) is refused from its header: nothing near that size
    // is allocated.
    let proxy = support::proxy::Proxy::start(&server.spec());
    let hostile = quickmc::Client::builder()
        .servers([proxy.spec()])
        .retry_timeout(Duration::ZERO)
        .build()
        .unwrap();
    hostile.set("hostile", "v", 0).unwrap();
    proxy.set_fault_once(support::proxy::Fault::OversizedLength);
    let (result, _, peak) = measure(|| hostile.get::<String>("hostile"));
    assert!(
        matches!(result, Err(quickmc::Error::Protocol { .. })),
        "{result:?}"
    );
    assert!(
        peak < MB,
        "a hostile length made the client allocate {peak} bytes"
    );
}
