//! How a blocking caller of a shared connection waits to be woken: parked
//! on a futex when it waits for others only, or in `poll` with an eventfd
//! beside the sockets it reads for. The waker does whichever the thread is
//! doing (a futex wake is the cheaper of the two, and most waiters park).

use std::cell::RefCell;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use rustix::event::EventfdFlags;

use crate::transport::fork;

/// One thread's wake-up (made once per thread, and again in a forked
/// child, whose copy of the eventfd would be the parent's).
#[derive(Debug)]
pub(crate) struct ThreadWake {
    thread: Thread,
    /// Written to wake the thread while it is in `poll`.
    pub(crate) fd: OwnedFd,
    notified: AtomicBool,
    polling: AtomicBool,
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
            forks: fork::generation(),
        })
    }

    /// Wakes the thread (or makes its next wait return at once).
    pub(crate) fn wake(&self) {
        // SeqCst on both sides: either the thread sees `notified` before it
        // waits, or the waker sees how it waits.
        self.notified.store(true, Ordering::SeqCst);
        if self.polling.load(Ordering::SeqCst) {
            let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
        } else {
            self.thread.unpark();
        }
    }

    /// Parks until woken or `wait` passes (for ever with `None`).
    pub(crate) fn park(&self, wait: Option<Duration>) {
        let until = wait.map(|w| Instant::now() + w);
        while !self.notified.swap(false, Ordering::SeqCst) {
            match until {
                None => std::thread::park(),
                Some(until) => {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return;
                    }
                    std::thread::park_timeout(left);
                }
            }
        }
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
        me.park(Some(Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(5));
        me.park(Some(Duration::from_millis(20)));
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
    fn another_thread_wakes_a_parked_one() {
        let me = ThreadWake::mine().unwrap();
        let other = me.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.wake();
        });
        me.park(Some(Duration::from_secs(30)));
        waker.join().unwrap();
        assert!(!me.notified.load(Ordering::SeqCst));
    }
}
