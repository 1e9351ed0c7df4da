//! Server health as libmemcached tracks it: a server that could not be
//! connected to is skipped for `retry_timeout`; after `failure_limit`
//! consecutive failures of any kind (a timeout, a connection dying), with
//! `remove_failed` on, it leaves the ketama continuum until `dead_timeout`.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The health behaviors (pylibmc names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HealthPolicy {
    pub(crate) retry_timeout: Duration,
    pub(crate) failure_limit: u32,
    pub(crate) remove_failed: bool,
    pub(crate) dead_timeout: Duration,
}

/// What a recorded failure changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not ejected (marked down for the retry timeout if it was
    /// unreachable).
    Down,
    /// Reached the failure limit: eject it from the continuum.
    Eject,
}

/// One server's health. Lock-free: the fast path of a healthy server is
/// two relaxed atomic loads per operation.
#[derive(Debug)]
pub(crate) struct Health {
    epoch: Instant,
    failures: AtomicU32,
    /// Nanoseconds after `epoch` until which the server is skipped; 0 = not down.
    down_until: AtomicU64,
    /// Nanoseconds after `epoch` until which the server is ejected; 0 = not ejected.
    ejected_until: AtomicU64,
}

impl Health {
    pub(crate) fn new(epoch: Instant) -> Health {
        Health {
            epoch,
            failures: AtomicU32::new(0),
            down_until: AtomicU64::new(0),
            ejected_until: AtomicU64::new(0),
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        // Never 0, so 0 can mean "unset".
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether the server is to be skipped now (within its retry timeout).
    pub(crate) fn is_down(&self) -> bool {
        let until = self.down_until.load(Ordering::Relaxed);
        until != 0 && self.nanos(Instant::now()) < until
    }

    /// Whether the server is ejected now.
    pub(crate) fn is_ejected(&self, now: Instant) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && self.nanos(now) < until
    }

    /// Whether an ejection has run out (the server may rejoin).
    pub(crate) fn ejection_expired(&self, now: Instant) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0 && self.nanos(now) >= until
    }

    /// Clears an ejection that has run out; true if it did.
    pub(crate) fn end_ejection(&self, now: Instant) -> bool {
        let until = self.ejected_until.load(Ordering::Relaxed);
        until != 0
            && self.nanos(now) >= until
            && self
                .ejected_until
                .compare_exchange(until, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// The server answered: the failure count resets. Returns true if it was
    /// ejected (so the continuum must take it back).
    pub(crate) fn record_success(&self) -> bool {
        if self.failures.load(Ordering::Relaxed) == 0
            && self.down_until.load(Ordering::Relaxed) == 0
        {
            return false;
        }
        self.failures.store(0, Ordering::Relaxed);
        self.down_until.store(0, Ordering::Relaxed);
        self.ejected_until.swap(0, Ordering::AcqRel) != 0
    }

    /// The server failed; `unreachable` if connecting to it did, which
    /// skips it for the retry timeout (any other failure is only counted:
    /// one slow reply must not fail every call to the server for seconds).
    /// `can_eject` is false under modula, which never ejects.
    pub(crate) fn record_failure(
        &self,
        policy: &HealthPolicy,
        unreachable: bool,
        can_eject: bool,
    ) -> Verdict {
        let now = Instant::now();
        let failures = self
            .failures
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        if unreachable && !policy.retry_timeout.is_zero() {
            let retry = self.nanos(now + policy.retry_timeout);
            self.down_until.store(retry, Ordering::Relaxed);
        }
        if can_eject && policy.remove_failed && failures >= policy.failure_limit.max(1) {
            let until = self.nanos(now + policy.dead_timeout);
            if self.ejected_until.swap(until, Ordering::AcqRel) == 0 {
                return Verdict::Eject;
            }
        }
        Verdict::Down
    }

    /// Consecutive failures so far.
    #[cfg(test)]
    pub(crate) fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retry_ms: u64, limit: u32, remove: bool) -> HealthPolicy {
        HealthPolicy {
            retry_timeout: Duration::from_millis(retry_ms),
            failure_limit: limit,
            remove_failed: remove,
            dead_timeout: Duration::from_millis(50),
        }
    }

    #[test]
    fn a_failure_marks_the_server_down_for_the_retry_timeout_then_it_is_tried_again() {
        let h = Health::new(Instant::now());
        assert!(!h.is_down());
        assert_eq!(
            h.record_failure(&policy(30, 5, true), true, true),
            Verdict::Down
        );
        assert!(h.is_down());
        std::thread::sleep(Duration::from_millis(40));
        assert!(!h.is_down());
    }

    #[test]
    fn a_failure_other_than_connecting_is_counted_but_skips_nothing() {
        let h = Health::new(Instant::now());
        let p = policy(30_000, 2, true);
        assert_eq!(h.record_failure(&p, false, true), Verdict::Down);
        assert!(!h.is_down(), "tried again at once");
        assert_eq!(h.failures(), 1);
        assert_eq!(h.record_failure(&p, false, true), Verdict::Eject);
    }

    #[test]
    fn the_failure_limit_ejects_only_when_remove_failed_and_not_under_modula() {
        let h = Health::new(Instant::now());
        let p = policy(0, 2, true);
        assert_eq!(h.record_failure(&p, true, true), Verdict::Down);
        assert_eq!(h.record_failure(&p, true, true), Verdict::Eject);
        assert!(h.is_ejected(Instant::now()));
        let modula = Health::new(Instant::now());
        for _ in 0..5 {
            assert_eq!(modula.record_failure(&p, true, false), Verdict::Down);
        }
        let keep = Health::new(Instant::now());
        for _ in 0..5 {
            assert_eq!(
                keep.record_failure(&policy(0, 2, false), true, true),
                Verdict::Down
            );
        }
    }

    #[test]
    fn a_success_resets_the_count_and_ends_an_ejection() {
        let h = Health::new(Instant::now());
        let p = policy(10, 2, true);
        h.record_failure(&p, true, true);
        assert!(!h.record_success());
        assert_eq!(h.failures(), 0);
        assert!(!h.is_down());
        h.record_failure(&p, true, true);
        h.record_failure(&p, true, true);
        assert!(h.record_success());
        assert!(!h.is_ejected(Instant::now()));
    }

    #[test]
    fn an_ejection_expires_after_the_dead_timeout() {
        let h = Health::new(Instant::now());
        let p = policy(0, 1, true);
        assert_eq!(h.record_failure(&p, true, true), Verdict::Eject);
        std::thread::sleep(Duration::from_millis(60));
        assert!(h.ejection_expired(Instant::now()));
        assert!(h.end_ejection(Instant::now()));
        assert!(!h.is_ejected(Instant::now()));
    }
}
