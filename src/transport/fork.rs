//! Which side of a `fork()` this process is on. What was made before a
//! fork must not be used in the child: its sockets are shared with the
//! parent (two readers would take each other's replies), and the threads
//! a pool connects on were not copied.

use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many forks this process descends from (counted in each child).
static FORKS: AtomicU64 = AtomicU64::new(0);
static WATCH: Once = Once::new();

extern "C" fn in_child() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// This process's fork generation, to compare with [`forked_since`] later.
/// The first call starts counting.
pub(crate) fn generation() -> u64 {
    WATCH.call_once(|| {
        // SAFETY: `pthread_atfork` only records the handler; the handler
        // runs in the child and does one atomic increment, which is
        // async-signal-safe, and it is a plain `extern "C" fn` that lives
        // as long as the process.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
    FORKS.load(Ordering::Relaxed)
}

/// Whether this process forked (and is the child) since `generation` was
/// read.
pub(crate) fn forked_since(generation: u64) -> bool {
    FORKS.load(Ordering::Relaxed) != generation
}
