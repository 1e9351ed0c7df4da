//! The connect threads step aside while the process forks.
//!
//! They idle parked in parking_lot's global table (scheduled-thread-pool,
//! which r2d2 connects on, waits on a parking_lot condvar). A fork copies
//! that table with their entries but not the threads, and glibc gives the
//! dead threads' stacks to the threads the child starts, freeing the
//! thread-locals the copied table still links: a child that started
//! threads hung for good about one time in four, in parking_lot's locks.
//! So just before a fork (`pthread_atfork`'s prepare handler), every live
//! client's connect threads are given a job that waits on a std lock (a
//! plain futex, in no table), and the parent lets them go after the fork.
//! A thread busy connecting is not waited for: it is in no table, and it
//! takes its job once done (or a job queued before it), waiting in the
//! table at most for the thread pool's lock on the way: a brief window.
//!
//! Checkouts waiting for a connection keep out of the table too (see
//! `freed`).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use scheduled_thread_pool::ScheduledThreadPool;

use super::Counted;

/// How long a fork waits at most for the threads to take their jobs (one
/// that has not by then may still be listed in the table, waiting for the
/// thread pool's lock).
const ARRIVAL_LIMIT: Duration = Duration::from_millis(100);

/// How often a fork looks again at what the threads are doing.
const BUSY_POLL: Duration = Duration::from_millis(1);

/// One client's connect threads: how many, and how many are connecting.
struct Registered {
    pool: Weak<ScheduledThreadPool>,
    threads: usize,
    connecting: Connecting,
}

type Registry = Vec<Registered>;

static REGISTRY: Mutex<Registry> = Mutex::new(Vec::new());
static WATCH: Once = Once::new();

thread_local! {
    /// What the forking thread holds from the prepare handler to the
    /// parent's or the child's.
    static FORKING: RefCell<Option<Forking>> = const { RefCell::new(None) };
}

struct Forking {
    /// Held through the fork, so no other thread holds it in the child.
    registry: MutexGuard<'static, Registry>,
    /// The pools whose threads wait at the gate, kept alive meanwhile.
    held: Vec<Arc<ScheduledThreadPool>>,
    gate: Arc<Gate>,
}

/// Where the connect threads wait during one fork.
struct Gate {
    /// How many threads are to come.
    expected: usize,
    state: Mutex<GateState>,
    /// Signalled when the last one came (the forking thread waits on it).
    all_came: Condvar,
    /// Signalled when the fork is done (the connect threads wait on it).
    opened: Condvar,
}

#[derive(Default)]
struct GateState {
    arrived: usize,
    open: bool,
}

impl Gate {
    fn new(expected: usize) -> Gate {
        Gate {
            expected,
            state: Mutex::default(),
            all_came: Condvar::new(),
            opened: Condvar::new(),
        }
    }

    /// Run by a connect thread: wait until the fork is done.
    fn wait(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.arrived += 1;
        if state.arrived == self.expected {
            self.all_came.notify_one();
        }
        while !state.open {
            state = self
                .opened
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Wait until every expected thread waits at the gate or is
    /// `connecting()`, or `limit` passed.
    fn await_arrivals(&self, limit: Duration, connecting: impl Fn() -> usize) {
        let deadline = Instant::now() + limit;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let busy = connecting();
            if state.arrived + busy >= self.expected {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            // The last arrival signals; a thread that starts or stops
            // connecting does not, so look again soon.
            state = self
                .all_came
                .wait_timeout(state, left.min(BUSY_POLL))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn open(&self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open = true;
        self.opened.notify_all();
    }
}

/// Counts a client's connect threads that are connecting.
#[derive(Clone, Debug, Default)]
pub(super) struct Connecting(Arc<AtomicUsize>);

impl Connecting {
    /// Counts this thread as connecting until the guard is dropped.
    pub(super) fn enter(&self) -> Counted<'_> {
        Counted::enter(&self.0).1
    }
}

/// Builds a client's connect threads (`threads` of them, by `build`) and
/// makes them step aside at every fork while they live. Registered under
/// the lock a fork holds, so none is started unregistered meanwhile.
pub(super) fn registered(
    threads: usize,
    connecting: &Connecting,
    build: impl FnOnce() -> ScheduledThreadPool,
) -> Arc<ScheduledThreadPool> {
    WATCH.call_once(|| {
        // SAFETY: `pthread_atfork` only records the handlers: plain
        // `extern "C" fn`s that live as long as the process and do not
        // unwind (no panic: locks are taken whatever their poisoning, and
        // the thread-local is reached with `try_with`).
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    registry.retain(|entry| entry.pool.strong_count() > 0);
    let pool = Arc::new(build());
    registry.push(Registered {
        pool: Arc::downgrade(&pool),
        threads,
        connecting: connecting.clone(),
    });
    pool
}

extern "C" fn prepare() {
    // (A fork from a thread that is ending, its thread-locals gone, goes
    // without.)
    let _ = FORKING.try_with(|slot| *slot.borrow_mut() = Some(step_aside()));
}

/// Has every live client's connect threads wait at a gate (opened by the
/// parent after the fork), holding the registry meanwhile.
fn step_aside() -> Forking {
    let registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let live: Vec<(Arc<ScheduledThreadPool>, &Registered)> = registry
        .iter()
        .filter_map(|entry| Some((entry.pool.upgrade()?, entry)))
        .collect();
    let gate = Arc::new(Gate::new(live.iter().map(|(_, e)| e.threads).sum()));
    for (pool, entry) in &live {
        for _ in 0..entry.threads {
            let gate = gate.clone();
            pool.execute(move || gate.wait());
        }
    }
    let connecting = || {
        live.iter()
            .map(|(_, e)| e.connecting.0.load(Ordering::Acquire))
            .sum()
    };
    gate.await_arrivals(ARRIVAL_LIMIT, connecting);
    let held = live.into_iter().map(|(pool, _)| pool).collect();
    Forking {
        registry,
        held,
        gate,
    }
}

extern "C" fn parent() {
    if let Ok(Some(forking)) = FORKING.try_with(|slot| slot.borrow_mut().take()) {
        forking.gate.open();
    }
}

extern "C" fn child() {
    if let Ok(Some(Forking {
        mut registry,
        held,
        gate,
    })) = FORKING.try_with(|slot| slot.borrow_mut().take())
    {
        // The parent's pools and their threads are not the child's: never
        // wait for them at a later fork, and never drop the pools here
        // (their locks were copied in whatever state the parent's threads
        // left).
        registry.clear();
        std::mem::forget(held);
        drop(gate);
    }
}
