//! Where checkouts wait for a connection of one server to come free (or
//! for a connect made for them). They wait on a std condvar, a plain futex,
//! rather than in r2d2, whose parking_lot condvar lists a waiting thread in
//! parking_lot's global table: a fork copies that table without the
//! thread, and a child that then starts threads can crash or hang (see
//! `fork_aside`). r2d2 is still asked, without waiting, for what it has.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

use super::Counted;

/// What happened to a server's pool, for the checkouts waiting on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event {
    /// A connection came back, ready for use.
    Returned,
    /// A connection was discarded: room for a connect.
    Room,
    /// A connect ended (r2d2 puts its connection in right after).
    Connected,
}

/// How many of each [`Event`] so far.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Seen {
    returned: u64,
    room: u64,
    connected: u64,
}

/// What a wait saw happen.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Woken {
    /// A connection came back (it may already be taken).
    pub(super) returned: bool,
    /// There may be room for a connect: ask r2d2, which makes one.
    pub(super) room: bool,
    /// A connect ended: its connection is about to be in the pool.
    pub(super) connected: bool,
}

/// Counts connections handed back, discarded and made, for the checkouts
/// waiting on them.
#[derive(Debug, Default)]
pub(super) struct Freed {
    /// Checkouts between their first miss and their end (so one that
    /// missed just before a connection came back is told).
    waiting: AtomicUsize,
    events: Mutex<Seen>,
    changed: Condvar,
}

impl Freed {
    /// Counts a checkout as waiting: from before it asks the pool, so a
    /// connection handed back after it missed always wakes it.
    pub(super) fn enter(&self) -> Counted<'_> {
        Counted::enter(&self.waiting).1
    }

    /// What has happened so far, read before asking the pool.
    pub(super) fn seen(&self) -> Seen {
        *self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes a waiting checkout, if any (one atomic load when none waits).
    pub(super) fn notify(&self, event: Event) {
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let mut events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::Returned => events.returned += 1,
            Event::Room => events.room += 1,
            Event::Connected => events.connected += 1,
        }
        drop(events);
        self.changed.notify_one();
    }

    /// Waits until something happened after `seen`, or `timeout`; says
    /// what did.
    pub(super) fn wait(&self, seen: Seen, timeout: Duration) -> Woken {
        let events = self.events.lock().unwrap_or_else(PoisonError::into_inner);
        let (events, _) = self
            .changed
            .wait_timeout_while(events, timeout, |events| *events == seen)
            .unwrap_or_else(PoisonError::into_inner);
        Woken {
            returned: events.returned != seen.returned,
            room: events.room != seen.room,
            connected: events.connected != seen.connected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notify_before_the_wait_is_not_lost() {
        let freed = Freed::default();
        let _waiting = freed.enter();
        let seen = freed.seen();
        freed.notify(Event::Connected);
        let woken = freed.wait(seen, Duration::from_secs(10));
        assert!(woken.connected && !woken.returned && !woken.room);
    }

    #[test]
    fn nobody_waiting_means_no_event() {
        let freed = Freed::default();
        let seen = freed.seen();
        freed.notify(Event::Returned);
        assert_eq!(freed.seen(), seen);
        assert_eq!(freed.wait(seen, Duration::from_millis(1)), Woken::default());
    }

    #[test]
    fn a_notify_from_another_thread_wakes_the_waiter() {
        let freed = Freed::default();
        let waiting = freed.enter();
        let seen = freed.seen();
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                freed.notify(Event::Returned);
            });
            assert!(freed.wait(seen, Duration::from_secs(10)).returned);
        });
        drop(waiting);
    }
}
