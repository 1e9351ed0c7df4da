//! Reserving connections for a run of operations (pylibmc's
//! `ClientPool.reserve()`).

use std::marker::PhantomData;
use std::ops::Deref;

use super::Client;

/// Keeps connections checked out for a run of operations on this thread;
/// they go back to the pool when the guard drops. Dereferences to the
/// [`Client`], so operations read as usual.
///
/// Useful when a run of operations must not wait on the pool between
/// steps, or to hold a connection per server for a tight loop. A thread
/// never waits on a pool while it keeps reserved connections: when it needs
/// one it does not have and none is free, it gives its reserved ones back
/// first, so reservations cannot deadlock each other. Not `Send`: the
/// reservation belongs to the thread that made it.
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
        self.inner.pools.reserve();
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
        self.client.inner.pools.unreserve();
    }
}
