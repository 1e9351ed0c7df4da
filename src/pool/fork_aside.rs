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

use std::cell::RefCell;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use scheduled_thread_pool::ScheduledThreadPool;

/// How long a fork waits for a thread that is busy (say, connecting) to
/// take its job. One that does not come in time is not parked either.
const ARRIVAL_LIMIT: Duration = Duration::from_millis(100);

/// Every live client's connect threads, with how many threads each has.
type Registry = Vec<(Weak<ScheduledThreadPool>, usize)>;

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

    /// Wait until every expected thread waits at the gate, or `limit`
    /// passed.
    fn await_arrivals(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.arrived < self.expected {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            state = self
                .all_came
                .wait_timeout(state, left)
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

/// Makes `pool`'s `threads` step aside at every fork while it lives.
pub(super) fn register(pool: &Arc<ScheduledThreadPool>, threads: usize) {
    WATCH.call_once(|| {
        // SAFETY: `pthread_atfork` only records the handlers: plain
        // `extern "C" fn`s that live as long as the process and never
        // unwind (they neither panic nor call what could).
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
    let mut registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    registry.retain(|(pool, _)| pool.strong_count() > 0);
    registry.push((Arc::downgrade(pool), threads));
}

extern "C" fn prepare() {
    let registry = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let live: Vec<(Arc<ScheduledThreadPool>, usize)> = registry
        .iter()
        .filter_map(|(pool, threads)| Some((pool.upgrade()?, *threads)))
        .collect();
    let gate = Arc::new(Gate::new(live.iter().map(|(_, n)| n).sum()));
    for (pool, threads) in &live {
        for _ in 0..*threads {
            let gate = gate.clone();
            pool.execute(move || gate.wait());
        }
    }
    gate.await_arrivals(ARRIVAL_LIMIT);
    let held = live.into_iter().map(|(pool, _)| pool).collect();
    let forking = Forking {
        registry,
        held,
        gate,
    };
    FORKING.with(|slot| *slot.borrow_mut() = Some(forking));
}

extern "C" fn parent() {
    if let Some(forking) = FORKING.with(|slot| slot.borrow_mut().take()) {
        forking.gate.open();
    }
}

extern "C" fn child() {
    if let Some(Forking {
        mut registry,
        held,
        gate,
    }) = FORKING.with(|slot| slot.borrow_mut().take())
    {
        // The parent's pools and their threads are not the child's: never
        // wait for them at a later fork, never drop them here (their
        // locks were copied in whatever state the parent's threads left).
        std::mem::forget(std::mem::take(&mut *registry));
        std::mem::forget(held);
        std::mem::forget(gate);
    }
}
