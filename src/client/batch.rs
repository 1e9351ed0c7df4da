//! Running a batch on every server it touches at once, with the retry rule.

use std::borrow::Cow;
use std::time::Instant;

use super::Client;
use super::keys::BatchKeys;
use super::retry::{self, Attempt};
use crate::Error;
use crate::command::{Batch, BatchOp, Exchange, HitValues, KeyEvent, ValueSource, Windows};
use crate::connection::Deadline;

/// A server that did not finish its share of a batch.
#[derive(Debug)]
pub(super) struct ServerRun {
    pub(super) server: usize,
    /// The items it did not settle.
    pub(super) unsettled: Vec<u32>,
    pub(super) error: Error,
}

/// What a batch did: the per-key events of every server (with the bytes of
/// their hits), and the servers that failed.
#[derive(Debug, Default)]
pub(super) struct BatchRun {
    pub(super) events: Vec<(Vec<KeyEvent>, HitValues)>,
    pub(super) failed: Vec<ServerRun>,
    pub(super) servers_answered: usize,
}

impl Client {
    /// Runs `op` on every server that has keys: connections are checked out
    /// in server order (so two batches never wait on each other in a
    /// cycle), every server's requests are written before any is waited
    /// on, and the whole batch is bounded by the batch deadline. Keys a
    /// failed server left unsettled are sent again on a fresh connection
    /// when the retry rule says so.
    ///
    /// With `received`, every per-key event goes to it as it arrives (see
    /// [`execute`](Client::execute)) and the run's `events` stay empty.
    pub(super) async fn run_batch<R>(
        &self,
        op: BatchOp,
        keys: &BatchKeys,
        values: Option<&dyn ValueSource>,
        mut received: Option<&mut R>,
    ) -> BatchRun
    where
        R: FnMut(KeyEvent, &mut HitValues),
    {
        let behavior = &self.inner.behavior;
        let deadline = Deadline {
            overall: behavior.batch_deadline.map(|d| Instant::now() + d),
            idle: behavior.io_timeout,
        };
        let mut run = BatchRun::default();
        let mut pending: Vec<(usize, Cow<'_, [u32]>)> = keys
            .routes
            .iter()
            .map(|(server, items)| (*server, Cow::Borrowed(items.as_slice())))
            .collect();
        let mut first = true;
        let windows = match *self.inner.shared {
            Some(_) => Windows::SHARED,
            None => Windows::OWN,
        };
        while !pending.is_empty() {
            let mut batches: Vec<Batch<'_>> = pending
                .iter()
                .map(|(_, items)| Batch::new(op, &keys.table, items, values).windows(windows))
                .collect();
            let ran = {
                let mut work: Vec<(usize, &mut dyn Exchange)> = pending
                    .iter()
                    .zip(batches.iter_mut())
                    .map(|((server, _), batch)| (*server, batch as &mut dyn Exchange))
                    .collect();
                self.execute(&mut work, &deadline, received.as_deref_mut())
                    .await
            };
            let mut next = Vec::new();
            for (((server, _), batch), ran) in pending.iter().zip(batches).zip(ran) {
                let server = *server;
                let unsettled = batch.unsettled();
                let (events, mut hits) = batch.into_events();
                match received.as_deref_mut() {
                    Some(received) => events.into_iter().for_each(|e| received(e, &mut hits)),
                    None => run.events.push((events, hits)),
                }
                let failure = match ran.result {
                    Ok(()) => {
                        self.succeeded(server);
                        run.servers_answered += 1;
                        continue;
                    }
                    Err(failure) => failure,
                };
                let attempt = Attempt {
                    from_pool: ran.from_pool,
                    idempotence: op.idempotence(),
                    first,
                };
                let verdict = retry::classify(&failure, &attempt);
                if !failure.counted {
                    self.blame(server, verdict.blame);
                }
                if verdict.retry && !unsettled.is_empty() {
                    next.push((server, Cow::Owned(unsettled.to_vec())));
                } else {
                    run.failed.push(ServerRun {
                        server,
                        unsettled: unsettled.to_vec(),
                        error: failure.error,
                    });
                }
            }
            pending = next;
            first = false;
        }
        run
    }
}
