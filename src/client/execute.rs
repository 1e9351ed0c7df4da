//! Where exchanges run: on connections checked out of the pools, or — in
//! the pipelined mode and for the async client — on connections many
//! callers share. Everything above this (the retry rule, health, reports)
//! is the same for all three.
//!
//! These are the only awaits under the operations: on the blocking client
//! they complete where they stand (the I/O blocks the thread); on the
//! async client the shared connections are driven by tokio.

use super::Client;
use crate::Error;
use crate::command::{Exchange, HitValues, KeyEvent};
use crate::connection::{Deadline, Driver, Failure, Job, Lane, SharedDriver, Stepped, drive};
use crate::pool::Checkout;

/// How one exchange fared.
pub(super) struct Ran {
    pub(super) result: Result<(), Failure>,
    /// Whether its connection existed before it began (for the retry rule).
    pub(super) from_pool: bool,
}

impl Ran {
    fn failed(error: Error) -> Ran {
        Ran {
            result: Err(Failure::unwritten(error)),
            from_pool: false,
        }
    }
}

impl Client {
    /// Runs each `(server, exchange)` to completion, all at once: every
    /// server's requests are written before any reply is waited for.
    /// Pooled connections are checked out in the order given (callers give
    /// ascending servers, so two batches never wait on each other in a cycle).
    ///
    /// `received` is given the per-key events of batches as they arrive
    /// (between reads: decoding hits then overlaps with the replies still
    /// on their way); events it is not given stay in their batches.
    pub(super) async fn execute<R>(
        &self,
        work: &mut [(usize, &mut dyn Exchange)],
        deadline: &Deadline,
        mut received: Option<&mut R>,
    ) -> Vec<Ran>
    where
        R: FnMut(KeyEvent, &mut HitValues),
    {
        if let Some(shared) = &*self.inner.shared {
            return self.execute_shared(shared, work, deadline, received).await;
        }
        let count = work.len();
        let mut checkouts: Vec<Result<Checkout, Error>> = work
            .iter()
            .map(|(index, _)| self.inner.pools.checkout(*index))
            .collect();
        // Where each lane's result goes: the position of its exchange.
        let mut positions = Vec::with_capacity(count);
        let mut results: Vec<Option<Result<(), Failure>>> = (0..count).map(|_| None).collect();
        {
            let mut lanes: Vec<Lane<'_>> = Vec::with_capacity(count);
            for (position, ((_, exchange), checkout)) in
                work.iter_mut().zip(checkouts.iter_mut()).enumerate()
            {
                if let Ok(checkout) = checkout {
                    positions.push(position);
                    let made_for_it = !checkout.from_pool;
                    lanes
                        .push(Lane::new(checkout.conn(), &mut **exchange).made_for_it(made_for_it));
                }
            }
            let mut driver = Driver::begin(&mut lanes);
            loop {
                let stepped = driver.step(&mut lanes, deadline);
                if let Some(received) = received.as_deref_mut() {
                    for lane in lanes.iter_mut() {
                        take_received(lane.exchange(), received);
                    }
                }
                if stepped == Stepped::Done {
                    break;
                }
            }
            for (position, lane) in positions.iter().zip(lanes.iter_mut()) {
                if let Some(slot) = results.get_mut(*position) {
                    *slot = Some(lane.take_result());
                }
            }
        }
        work.iter()
            .zip(checkouts)
            .zip(results)
            .map(
                |(((index, _), checkout), result)| match (checkout, result) {
                    (Ok(checkout), Some(result)) => {
                        let from_pool = checkout.from_pool;
                        self.inner.pools.give_back(*index, checkout);
                        Ran { result, from_pool }
                    }
                    (Err(error), _) => Ran::failed(error),
                    (Ok(_), None) => Ran::failed(Error::NoServers),
                },
            )
            .collect()
    }

    /// [`execute`](Client::execute) for one exchange, without the vectors.
    pub(super) async fn execute_one(
        &self,
        index: usize,
        exchange: &mut dyn Exchange,
        deadline: &Deadline,
    ) -> Ran {
        if self.inner.shared.is_some() {
            let mut work = [(index, exchange)];
            return self
                .execute(
                    &mut work,
                    deadline,
                    None::<&mut fn(KeyEvent, &mut HitValues)>,
                )
                .await
                .pop()
                .unwrap_or_else(|| Ran::failed(Error::NoServers));
        }
        let mut checkout = match self.inner.pools.checkout(index) {
            Ok(checkout) => checkout,
            Err(error) => return Ran::failed(error),
        };
        let result = {
            let made_for_it = !checkout.from_pool;
            let mut lanes = [Lane::new(checkout.conn(), exchange).made_for_it(made_for_it)];
            drive(&mut lanes, deadline);
            lanes[0].take_result()
        };
        let from_pool = checkout.from_pool;
        self.inner.pools.give_back(index, checkout);
        Ran { result, from_pool }
    }

    async fn execute_shared<R>(
        &self,
        shared: &crate::pool::SharedPools,
        work: &mut [(usize, &mut dyn Exchange)],
        deadline: &Deadline,
        mut received: Option<&mut R>,
    ) -> Vec<Ran>
    where
        R: FnMut(KeyEvent, &mut HitValues),
    {
        let mut ran: Vec<Option<Ran>> = (0..work.len()).map(|_| None).collect();
        let mut jobs: Vec<Job<'_>> = Vec::with_capacity(work.len());
        let mut slots = Vec::with_capacity(work.len());
        let forked = self.inner.pools.forked();
        for (slot, (index, exchange)) in work.iter_mut().enumerate() {
            let down = self.inner.pools.is_down(*index);
            match shared.pick(*index) {
                Some(connection) if !down && !forked => {
                    slots.push(slot);
                    jobs.push(Job::new(connection, &mut **exchange));
                }
                _ => {
                    let error = if forked {
                        Error::Forked
                    } else {
                        Error::ServerDown {
                            server: self.server_name(*index),
                        }
                    };
                    if let Some(entry) = ran.get_mut(slot) {
                        *entry = Some(Ran::failed(error));
                    }
                }
            }
        }
        // Each driver hands control back between steps, so hits are taken
        // (and decoded) while later replies are on their way.
        let mut take = |jobs: &mut [Job<'_>]| {
            if let Some(received) = received.as_deref_mut() {
                for job in jobs.iter_mut() {
                    take_received(job.exchange(), received);
                }
            }
        };
        if self.inner.tokio {
            #[cfg(feature = "tokio")]
            if let Some(mut driver) = crate::connection::AsyncDriver::begin(&mut jobs) {
                while driver.step(&mut jobs, deadline).await == Stepped::Again {
                    take(&mut jobs);
                }
            }
        } else if let Some(mut driver) = SharedDriver::begin(&mut jobs) {
            while driver.step(&mut jobs, deadline) == Stepped::Again {
                take(&mut jobs);
            }
        }
        for (slot, job) in slots.into_iter().zip(jobs.iter_mut()) {
            if let Some(entry) = ran.get_mut(slot) {
                *entry = Some(Ran {
                    result: job.take_result(),
                    from_pool: job.from_pool,
                });
            }
        }
        ran.into_iter()
            .map(|r| r.unwrap_or_else(|| Ran::failed(Error::NoServers)))
            .collect()
    }
}

/// Hands what `exchange` received so far to `received`.
fn take_received<R>(exchange: &mut dyn Exchange, received: &mut R)
where
    R: FnMut(KeyEvent, &mut HitValues),
{
    if let Some((events, values)) = exchange.received() {
        for event in events {
            received(event, values);
        }
    }
}
