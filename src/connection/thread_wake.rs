//! How a blocking caller of a shared connection waits to be woken: spinning
//! then parked on a futex when it waits for others only, or in `poll` with
//! an eventfd beside the sockets it reads for. The waker does whichever the
//! thread is doing (a flag alone for a spinning thread, a futex wake for a
//! parked one, an eventfd write for a polling one).

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use rustix::event::EventfdFlags;

use crate::transport::fork;

/// The spin a thread tries first once its waits end within the cap.
const FIRST_SPIN: Duration = Duration::from_micros(10);

/// Busy looks between two `sched_yield`s while spinning: a yield lets any
/// thread that has work run first (on a few cores, callers outnumber them).
const SPINS_PER_YIELD: u32 = 8;

/// Nanoseconds from a fixed instant of the process's to `at` (0 before it).
fn since_base(at: Instant) -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(at.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
}

/// One thread's wake-up (made once per thread, and again in a forked
/// child, whose copy of the eventfd would be the parent's).
#[derive(Debug)]
pub(crate) struct ThreadWake {
    thread: Thread,
    /// Written to wake the thread while it is in `poll`.
    pub(crate) fd: OwnedFd,
    notified: AtomicBool,
    polling: AtomicBool,
    /// How long (ns) the thread spins before it parks ([`park`](Self::park)).
    spin: AtomicU64,
    /// When the last [`wake`](Self::wake) was called ([`since_base`]).
    woken_at: AtomicU64,
    /// The fork generation it was made in.
    forks: u64,
}

impl ThreadWake {
    /// This thread's wake-up; `None` if the process is out of descriptors.
    pub(crate) fn mine() -> Option<Arc<ThreadWake>> {
        thread_local! {
            static WAKE: RefCell<Option<Arc<ThreadWake>>> = const { RefCell::new(None) };
        }
        WAKE.with(|slot| {
            let mut slot = slot.borrow_mut();
            match &*slot {
                Some(wake) if !fork::forked_since(wake.forks) => Some(wake.clone()),
                _ => {
                    *slot = ThreadWake::new().map(Arc::new);
                    slot.clone()
                }
            }
        })
    }

    fn new() -> Option<ThreadWake> {
        let fd = rustix::event::eventfd(0, EventfdFlags::NONBLOCK | EventfdFlags::CLOEXEC).ok()?;
        Some(ThreadWake {
            thread: std::thread::current(),
            fd,
            notified: AtomicBool::new(false),
            polling: AtomicBool::new(false),
            spin: AtomicU64::new(0),
            woken_at: AtomicU64::new(0),
            forks: fork::generation(),
        })
    }

    /// Wakes the thread (or makes its next wait return at once).
    pub(crate) fn wake(&self) {
        self.woken_at
            .store(since_base(Instant::now()), Ordering::Relaxed);
        // SeqCst on both sides: either the thread sees `notified` before it
        // waits, or the waker sees how it waits (and the thread sees
        // `woken_at` once it sees `notified`).
        self.notified.store(true, Ordering::SeqCst);
        if self.polling.load(Ordering::SeqCst) {
            let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
        } else {
            self.thread.unpark();
        }
    }

    /// Waits until woken or `wait` passes (for ever with `None`): first
    /// spinning, yielding the processor every few looks, for as long as this
    /// thread's recent waits say a spin pays (at most `spin`), then parked.
    ///
    /// A reply on a nearby server comes back in tens of microseconds. A
    /// parked thread's wake-up costs a futex call on each side and, on an
    /// idle processor (a virtual one above all), a wake from its idle
    /// state: with 8 threads on 2 cores, spinning about doubled the
    /// pipelined mode's gets per second, for less CPU per get. The spin
    /// adapts as KVM's halt polling does ([`learn`](Self::learn)): a reply
    /// within the cap doubles the next spin, a slower one halves it, so a
    /// thread whose replies take longer than `spin` soon parks at once. A
    /// zero `spin` neither spins nor changes what the thread learnt for
    /// other clients.
    pub(crate) fn park(&self, wait: Option<Duration>, spin: Duration) {
        let start = Instant::now();
        let budget = self.spin_budget().min(spin).min(wait.unwrap_or(spin));
        let woken = self.spin(start, budget) || self.park_until(wait.map(|w| start + w));
        if spin.is_zero() {
            // Spinning is off for this client: what the thread learnt on
            // others' behalf stays as it is.
            return;
        }
        if woken {
            // How long the reply took: until the waker's call, not until
            // this thread ran again (the wake-up's delay is what a spin
            // saves).
            let at = self.woken_at.load(Ordering::Relaxed);
            self.learn(
                Duration::from_nanos(at.saturating_sub(since_base(start))),
                spin,
            );
        } else if start.elapsed() > spin {
            // Timed out well past any spin: a slow reply.
            self.learn(start.elapsed(), spin);
        }
    }

    /// This thread's spin before parking, as [`learn`](Self::learn) left it.
    fn spin_budget(&self) -> Duration {
        Duration::from_nanos(self.spin.load(Ordering::Relaxed))
    }

    /// Spins until woken (true) or `budget` from `start` passes (false).
    fn spin(&self, start: Instant, budget: Duration) -> bool {
        let mut looks = 0u32;
        while start.elapsed() < budget {
            if self.notified.load(Ordering::Relaxed) && self.notified.swap(false, Ordering::SeqCst)
            {
                return true;
            }
            looks = looks.wrapping_add(1);
            if looks.is_multiple_of(SPINS_PER_YIELD) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        false
    }

    /// Parks until woken (true) or `until` passes (false).
    fn park_until(&self, until: Option<Instant>) -> bool {
        while !self.notified.swap(false, Ordering::SeqCst) {
            match until {
                None => std::thread::park(),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    std::thread::park_timeout(left);
                }
            }
        }
        true
    }

    /// Sets the next spin from how long this wait took: unchanged if the
    /// spin caught it, doubled (from [`FIRST_SPIN`], up to `cap`) if a
    /// longer spin would have, halved (to nothing) if none could. (The
    /// cost: replies that often take about the cap keep a thread spinning
    /// for little gain.)
    fn learn(&self, waited: Duration, cap: Duration) {
        let budget = self.spin_budget().min(cap);
        let next = if waited <= budget {
            budget
        } else if waited <= cap {
            budget.saturating_mul(2).max(FIRST_SPIN).min(cap)
        } else if budget / 2 < FIRST_SPIN {
            Duration::ZERO
        } else {
            budget / 2
        };
        let nanos = u64::try_from(next.as_nanos()).unwrap_or(u64::MAX);
        self.spin.store(nanos, Ordering::Relaxed);
    }

    /// Runs `poll` (which must include `fd`, and says whether `fd` was
    /// readable) unless already woken. Clears the wake-up.
    pub(crate) fn polling(&self, poll: impl FnOnce() -> bool) {
        self.polling.store(true, Ordering::SeqCst);
        let fired = !self.notified.load(Ordering::SeqCst) && poll();
        self.polling.store(false, Ordering::SeqCst);
        self.notified.store(false, Ordering::SeqCst);
        if fired {
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(&self.fd, &mut buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_before_the_park_is_not_lost_and_a_park_times_out_alone() {
        let me = ThreadWake::mine().unwrap();
        me.wake();
        let start = Instant::now();
        me.park(Some(Duration::from_secs(10)), Duration::ZERO);
        assert!(start.elapsed() < Duration::from_secs(5));
        me.park(Some(Duration::from_millis(20)), Duration::ZERO);
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[test]
    fn a_forked_child_gets_an_eventfd_of_its_own() {
        use std::os::fd::AsRawFd;
        let parents = ThreadWake::mine().unwrap();
        // SAFETY: the child only makes its wake-up (an eventfd and one
        // allocation, which glibc's malloc allows after a fork) and exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let same = ThreadWake::mine().is_none_or(|w| Arc::ptr_eq(&w, &parents));
            let again = ThreadWake::mine().zip(ThreadWake::mine());
            let kept = again.is_some_and(|(a, b)| {
                Arc::ptr_eq(&a, &b) && a.fd.as_raw_fd() != parents.fd.as_raw_fd()
            });
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(i32::from(same || !kept)) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status}"
        );
        assert!(Arc::ptr_eq(&ThreadWake::mine().unwrap(), &parents));
    }

    #[test]
    fn a_spin_doubles_while_replies_come_within_the_cap_and_stops_once_they_do_not() {
        let me = ThreadWake::new().unwrap();
        let cap = Duration::from_micros(200);
        let us = Duration::from_micros;
        me.learn(us(5), cap);
        assert_eq!(
            me.spin_budget(),
            FIRST_SPIN,
            "a quick reply starts the spin"
        );
        for expected in [20, 40, 80, 160, 200, 200] {
            me.learn(us(190), cap);
            assert_eq!(me.spin_budget(), us(expected), "doubled up to the cap");
        }
        me.learn(us(30), cap);
        assert_eq!(me.spin_budget(), us(200), "a wait the spin caught keeps it");
        for expected in [100, 50, 25, 12, 0, 0] {
            me.learn(us(5000), cap);
            assert_eq!(me.spin_budget().as_micros(), expected, "halved to nothing");
        }
    }

    #[test]
    fn a_client_that_never_spins_leaves_what_the_thread_learnt_for_others() {
        let me = ThreadWake::mine().unwrap();
        me.spin.store(160_000, Ordering::Relaxed);
        me.park(Some(Duration::from_millis(5)), Duration::ZERO);
        me.wake();
        me.park(Some(Duration::from_secs(10)), Duration::ZERO);
        assert_eq!(me.spin_budget(), Duration::from_micros(160));
    }

    #[test]
    fn a_wake_during_the_spin_ends_the_wait_and_a_timed_out_wait_shrinks_the_spin() {
        let me = ThreadWake::mine().unwrap();
        let long = Duration::from_secs(30);
        // A spin as long as the wait: unless the spin sees the wake, the
        // wait lasts the whole 30 s.
        me.spin
            .store(u64::try_from(long.as_nanos()).unwrap(), Ordering::Relaxed);
        let other = me.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.wake();
        });
        let start = Instant::now();
        me.park(Some(long), long);
        waker.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the spin saw the wake"
        );
        assert!(!me.notified.load(Ordering::SeqCst));
        // A wait that times out, longer than the cap, halves the spin.
        let cap = Duration::from_micros(200);
        me.spin.store(150_000, Ordering::Relaxed);
        me.park(Some(Duration::from_millis(20)), cap);
        assert_eq!(me.spin_budget(), Duration::from_micros(75));
    }

    #[test]
    fn another_thread_wakes_a_parked_one() {
        let me = ThreadWake::mine().unwrap();
        let other = me.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.wake();
        });
        me.park(Some(Duration::from_secs(30)), Duration::ZERO);
        waker.join().unwrap();
        assert!(!me.notified.load(Ordering::SeqCst));
    }
}
