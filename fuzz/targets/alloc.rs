//! Allocation counting: a global allocator that counts per thread, and
//! [`measure`], which reports what a closure allocated. The decode target
//! asserts the decoders allocate nothing; the value target bounds what
//! decompression holds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// A global allocator that counts, per thread, allocations and the peak of
/// live bytes, delegating everything to the system allocator.
pub struct CountingAlloc;

static COUNTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(bytes: usize) {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(bytes);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

// SAFETY: every call is passed unchanged to the system allocator; the
// bookkeeping on the side touches only const-initialised thread-locals of
// `Cell<usize>`, which neither allocate nor register destructors.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNTING.store(true, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        COUNTING.store(true, Ordering::Relaxed);
        grew(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            shrank(layout.size() - new_size);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What a closure allocated on this thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Allocations and reallocations.
    pub allocations: usize,
    /// The most bytes live at once beyond what was live before.
    pub peak: usize,
}

/// Runs `f` and reports its allocations; `None` when [`CountingAlloc`] is
/// not the global allocator (nothing can be measured then).
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Option<Usage>) {
    let count_before = ALLOCATIONS.with(Cell::get);
    let live_before = LIVE.with(Cell::get);
    let peak_before = PEAK.with(|peak| peak.replace(live_before));
    let result = f();
    let usage = Usage {
        allocations: ALLOCATIONS.with(Cell::get) - count_before,
        peak: PEAK.with(Cell::get).saturating_sub(live_before),
    };
    PEAK.with(|peak| peak.set(peak.get().max(peak_before)));
    let counting = COUNTING.load(Ordering::Relaxed);
    (result, counting.then_some(usage))
}

pub fn assert_allocates_nothing(usage: Option<Usage>, what: &str) {
    if let Some(usage) = usage {
        assert_eq!(usage.allocations, 0, "{what} allocated: {usage:?}");
    }
}
