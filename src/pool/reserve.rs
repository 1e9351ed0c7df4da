//! Reservations: connections a thread keeps checked out for a run of
//! operations (pylibmc's `ClientPool.reserve()`), returned when it ends.

use std::cell::RefCell;

use super::Pooled;

struct Reservation {
    pools: u64,
    depth: usize,
    conns: Vec<(usize, Pooled)>,
}

thread_local! {
    static RESERVATIONS: RefCell<Vec<Reservation>> = const { RefCell::new(Vec::new()) };
}

/// Opens (or nests) this thread's reservation for the pools `pools`.
pub(super) fn begin(pools: u64) {
    let _ = RESERVATIONS.try_with(|r| {
        let mut all = r.borrow_mut();
        match all.iter_mut().find(|r| r.pools == pools) {
            Some(reservation) => reservation.depth += 1,
            None => all.push(Reservation {
                pools,
                depth: 1,
                conns: Vec::new(),
            }),
        }
    });
}

/// Closes one level; the outermost hands back every kept connection (to be
/// dropped, which returns it to its pool).
pub(super) fn end(pools: u64) -> Vec<(usize, Pooled)> {
    let released = RESERVATIONS
        .try_with(|r| {
            let mut all = r.borrow_mut();
            let at = all.iter().position(|r| r.pools == pools)?;
            let reservation = all.get_mut(at)?;
            reservation.depth -= 1;
            (reservation.depth == 0).then(|| all.swap_remove(at).conns)
        })
        .ok()
        .flatten();
    // Returned to their pools (when dropped) outside the borrow.
    released.unwrap_or_default()
}

/// A connection to server `index` this thread keeps, if any.
pub(super) fn take(pools: u64, index: usize) -> Option<Pooled> {
    RESERVATIONS
        .try_with(|r| {
            let mut all = r.borrow_mut();
            let reservation = all.iter_mut().find(|r| r.pools == pools)?;
            let at = reservation.conns.iter().position(|(i, _)| *i == index)?;
            Some(reservation.conns.swap_remove(at).1)
        })
        .ok()
        .flatten()
}

/// Keeps `conn` if this thread has a reservation open; otherwise hands it
/// back for the caller to drop into the pool.
pub(super) fn keep(pools: u64, index: usize, conn: Pooled) -> Option<Pooled> {
    let mut conn = Some(conn);
    let _ = RESERVATIONS.try_with(|r| {
        let mut all = r.borrow_mut();
        if let Some(reservation) = all.iter_mut().find(|r| r.pools == pools)
            && let Some(c) = conn.take()
        {
            reservation.conns.push((index, c));
        }
    });
    conn
}

/// Gives back every connection this thread keeps (but keeps the
/// reservation open). Called before waiting on a pool: a thread that waits
/// while holding connections another thread waits for would deadlock.
pub(super) fn release_kept(pools: u64) -> Vec<(usize, Pooled)> {
    RESERVATIONS
        .try_with(|r| {
            let mut all = r.borrow_mut();
            let reservation = all.iter_mut().find(|r| r.pools == pools)?;
            Some(std::mem::take(&mut reservation.conns))
        })
        .ok()
        .flatten()
        .unwrap_or_default()
}
