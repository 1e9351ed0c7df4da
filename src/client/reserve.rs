//! Reserving connections for a run of operations (pylibmc's
//! `ClientPool.reserve()`): while a [`Reserved`] guard lives, the
//! operations this thread makes with the client keep their connections
//! instead of returning them to the pool after each call.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use super::{Client, Inner, Pooled};

struct Reservation {
    client: *const Inner,
    depth: usize,
    conns: Vec<(usize, Pooled)>,
}

thread_local! {
    static RESERVATIONS: RefCell<Vec<Reservation>> = const { RefCell::new(Vec::new()) };
}

fn key(client: &Client) -> *const Inner {
    Arc::as_ptr(&client.inner)
}

/// A connection this thread reserved for `client`'s server `index`, if any.
pub(super) fn take(client: &Client, index: usize) -> Option<Pooled> {
    let key = key(client);
    RESERVATIONS
        .try_with(|r| {
            let mut all = r.borrow_mut();
            let reservation = all.iter_mut().find(|r| r.client == key)?;
            let at = reservation.conns.iter().position(|(i, _)| *i == index)?;
            Some(reservation.conns.swap_remove(at).1)
        })
        .ok()
        .flatten()
}

/// Keeps `conn` in this thread's reservation for `client`, if one is open;
/// otherwise hands it back so the caller drops it into the pool.
pub(super) fn keep(client: &Client, index: usize, conn: Pooled) -> Option<Pooled> {
    let key = key(client);
    let mut conn = Some(conn);
    let _ = RESERVATIONS.try_with(|r| {
        let mut all = r.borrow_mut();
        if let Some(reservation) = all.iter_mut().find(|r| r.client == key)
            && let Some(c) = conn.take()
        {
            reservation.conns.push((index, c));
        }
    });
    conn
}

/// Keeps connections checked out for a run of operations on this thread;
/// they go back to the pool when the guard drops. Dereferences to the
/// [`Client`], so operations read as usual.
///
/// Useful when a run of operations must not wait on the pool between
/// steps, or to hold a connection per server for a tight loop. Not `Send`:
/// the reservation belongs to the thread that made it.
///
/// ```no_run
/// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
/// {
///     let mc = client.reserve();
///     mc.set("a", "1", 0)?;          // checks a connection out ...
///     let a: Option<String> = mc.get("a")?; // ... and reuses it
/// } // returned to the pool here
/// # Ok::<(), quickmc::Error>(())
/// ```
pub struct Reserved<'c> {
    client: &'c Client,
    _not_send: PhantomData<*const ()>,
}

impl Client {
    /// Reserves connections for a run of operations on this thread (see
    /// [`Reserved`]). Reservations nest; the outermost guard releases.
    ///
    /// ```no_run
    /// let client = quickmc::Client::new(["127.0.0.1:11211"])?;
    /// let mc = client.reserve();
    /// for i in 0..100 {
    ///     mc.set(format!("k{i}"), i, 0)?;
    /// }
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn reserve(&self) -> Reserved<'_> {
        let key = key(self);
        let _ = RESERVATIONS.try_with(|r| {
            let mut all = r.borrow_mut();
            match all.iter_mut().find(|r| r.client == key) {
                Some(reservation) => reservation.depth += 1,
                None => all.push(Reservation {
                    client: key,
                    depth: 1,
                    conns: Vec::new(),
                }),
            }
        });
        Reserved {
            client: self,
            _not_send: PhantomData,
        }
    }
}

impl Deref for Reserved<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        self.client
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        let key = key(self.client);
        let released = RESERVATIONS
            .try_with(|r| {
                let mut all = r.borrow_mut();
                let at = all.iter().position(|r| r.client == key)?;
                let reservation = all.get_mut(at)?;
                reservation.depth -= 1;
                if reservation.depth == 0 {
                    Some(all.swap_remove(at).conns)
                } else {
                    None
                }
            })
            .ok()
            .flatten();
        // Returned to their pools outside the borrow.
        drop(released);
    }
}
