//! The async driver of shared connections, for tokio: the same jobs, the
//! same multiplexer and the same rules as the blocking driver; only the
//! waiting differs — socket readiness from tokio's reactor, wake-ups
//! through task wakers, connects on the blocking pool.
//!
//! Dropping the future at any point leaves every connection in order: a
//! job that goes away abandons its requests (their replies are read and
//! dropped) and passes the reader role on (see `Job`'s `Drop`).

use std::future::Future;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::task::JoinHandle;

use super::driver::{Deadline, Failure, Stepped};
use super::io_error;
use super::shared::{Driver, Job, Live, Next, SharedConnection, State, Waiter, connect_live};
use crate::Error;

/// A job's connect, running on tokio's blocking pool.
type Connecting = JoinHandle<Result<Live, Error>>;

/// The connects a drive started, given up if the drive is dropped first:
/// another caller may then connect.
struct Connects<'a> {
    running: Vec<Option<(Connecting, &'a SharedConnection)>>,
}

impl Drop for Connects<'_> {
    fn drop(&mut self) {
        for (handle, shared) in self.running.iter_mut().filter_map(Option::take) {
            handle.abort();
            shared.abandon_connect();
        }
    }
}

/// Runs jobs to completion (or failure) on tokio a step at a time, as
/// the blocking [`SharedDriver`](super::SharedDriver) does: each step runs
/// until a job made progress (read, wrote, connected) or every job is done,
/// then hands control back, so the caller can take what the exchanges have
/// received so far between steps.
pub(crate) struct AsyncDriver<'a> {
    connects: Connects<'a>,
}

impl<'a> AsyncDriver<'a> {
    /// A driver for `jobs`; `None`, with every job failed with
    /// [`Error::Config`], outside a tokio runtime.
    pub(crate) fn begin(jobs: &mut [Job<'a>]) -> Option<AsyncDriver<'a>> {
        if tokio::runtime::Handle::try_current().is_err() {
            for job in jobs.iter_mut() {
                let error = Error::Config("the async client runs inside a tokio runtime".into());
                job.result = Some(Err(Failure::unwritten(error)));
            }
            return None;
        }
        Some(AsyncDriver {
            connects: Connects {
                running: jobs.iter().map(|_| None).collect(),
            },
        })
    }

    /// Runs the jobs until one made progress or all are done.
    pub(crate) async fn step(&mut self, jobs: &mut [Job<'a>], deadline: &Deadline) -> Stepped {
        let mut timer = std::pin::pin!(tokio::time::sleep_until(tokio::time::Instant::now()));
        let running = &mut self.connects.running;
        std::future::poll_fn(|cx| poll_jobs(cx, jobs, running, timer.as_mut(), deadline)).await
    }
}

fn poll_jobs<'a>(
    cx: &mut Context<'_>,
    jobs: &mut [Job<'a>],
    connects: &mut [Option<(Connecting, &'a SharedConnection)>],
    mut timer: Pin<&mut tokio::time::Sleep>,
    deadline: &Deadline,
) -> Poll<Stepped> {
    let waiter = Waiter::Task(cx.waker().clone());
    loop {
        let now = Instant::now();
        let mut pending = false;
        let mut again = false;
        let mut wake_at = deadline.overall;
        for (job, connect) in jobs.iter_mut().zip(connects.iter_mut()) {
            if let Some((handle, _)) = connect.as_mut() {
                match Pin::new(handle).poll(cx) {
                    Poll::Pending => {
                        pending = true;
                        continue;
                    }
                    Poll::Ready(joined) => {
                        *connect = None;
                        let made = joined.unwrap_or_else(|e| {
                            Err(io_error(&job.shared.server, std::io::Error::other(e)))
                        });
                        if let Err(error) = job.shared.install(made) {
                            job.result = Some(Err(Failure::unwritten(error)));
                            continue;
                        }
                    }
                }
            }
            match step(cx, job, &waiter, now, deadline, &mut wake_at) {
                JobStep::Done => {}
                JobStep::Pending => pending = true,
                JobStep::Again => again = true,
                JobStep::Connect => {
                    let (address, options, server, limits) = job.shared.connect_params();
                    let handle = tokio::task::spawn_blocking(move || {
                        connect_live(&address, &options, server, limits)
                    });
                    *connect = Some((handle, job.shared));
                    again = true;
                }
            }
        }
        if again {
            return Poll::Ready(Stepped::Again);
        }
        if !pending {
            return Poll::Ready(Stepped::Done);
        }
        if let Some(at) = wake_at {
            timer.as_mut().reset(tokio::time::Instant::from_std(at));
            if timer.as_mut().poll(cx).is_ready() {
                continue;
            }
        }
        return Poll::Pending;
    }
}

/// What one job's step came to.
enum JobStep {
    Done,
    Pending,
    /// Progress was made: step everything again.
    Again,
    Connect,
}

/// One job's step, then its reading or writing when the socket is ready.
fn step(
    cx: &mut Context<'_>,
    job: &mut Job<'_>,
    waiter: &Waiter,
    now: Instant,
    deadline: &Deadline,
    wake_at: &mut Option<Instant>,
) -> JobStep {
    let shared = job.shared;
    let mut st = shared.lock();
    // The rule every driver applies: a connection whose oldest request is
    // past the I/O timeout breaks.
    if let (Some(live), Some(timeout)) = (st.live.as_ref(), deadline.idle)
        && let Some(oldest) = live.mux.oldest()
    {
        if now.duration_since(oldest) >= timeout {
            let error = Error::Timeout {
                server: shared.server.clone(),
            };
            shared.break_connection(&mut st, error);
        } else {
            let at = oldest + timeout;
            *wake_at = Some(wake_at.map_or(at, |w| w.min(at)));
        }
    }
    let write = match job.step(&mut st, now, deadline, waiter, Driver::Tasks) {
        Next::Done => return JobStep::Done,
        Next::Wake => return JobStep::Pending,
        Next::Connect => return JobStep::Connect,
        Next::Read { write } => write,
    };
    let Some(ticket) = job.ticket.map(|(t, _)| t) else {
        return JobStep::Pending;
    };
    if write {
        // The reader writes for everyone, but only after letting the tasks
        // scheduled with it run once: what they queue goes in the same write.
        // (Alone on the connection, it has nobody to wait for.)
        if !job.write_deferred && st.waiters.len() > 1 {
            job.write_deferred = true;
            cx.waker().wake_by_ref();
            return JobStep::Pending;
        }
        job.write_deferred = false;
        shared.flush(&mut st);
    }
    if st
        .live
        .as_ref()
        .is_some_and(|l| l.conn.transport.has_buffered_input())
    {
        let _ = job.read_and_route(&mut st);
        return JobStep::Again;
    }
    let unwritten = st
        .live
        .as_ref()
        .is_some_and(|l| !l.mux.output().is_empty() || l.conn.transport.has_pending_output());
    let Some((readiness, fresh)) = registered(&mut st) else {
        // Not registered with the reactor (out of descriptors?): the
        // connection cannot be waited on.
        let error = io_error(&shared.server, std::io::Error::other("no readiness"));
        shared.break_connection(&mut st, error);
        return JobStep::Again;
    };
    drop(st);
    if unwritten && let Poll::Ready(Ok(mut guard)) = readiness.poll_write_ready(cx) {
        // The socket took part of the output: the rest once it has room.
        let mut st = shared.lock();
        shared.flush(&mut st);
        let still = st
            .live
            .as_ref()
            .is_some_and(|l| !l.mux.output().is_empty() || l.conn.transport.has_pending_output());
        if still {
            guard.clear_ready();
        }
        return JobStep::Again;
    }
    match readiness.poll_read_ready(cx) {
        Poll::Ready(Ok(mut guard)) => {
            let mut st = shared.lock();
            if st.reader == Some(ticket) && job.read_and_route(&mut st) {
                guard.clear_ready();
            }
            JobStep::Again
        }
        Poll::Ready(Err(e)) => {
            // Readiness fails when the runtime the socket was registered
            // with is gone (the client outlived it): the socket is fine,
            // so it is registered again, with this task's runtime. Only a
            // registration just made failing breaks the connection.
            let mut st = shared.lock();
            match st.live.as_mut() {
                _ if fresh => shared.break_connection(&mut st, io_error(&shared.server, e)),
                Some(live)
                    if live
                        .readiness
                        .as_ref()
                        .is_some_and(|r| Arc::ptr_eq(r, &readiness)) =>
                {
                    live.readiness = None;
                }
                _ => {} // replaced meanwhile
            }
            JobStep::Again
        }
        Poll::Pending => JobStep::Pending,
    }
}

/// The connection's socket registered with tokio's reactor (once per
/// connection, with the runtime that first waits on it), and whether
/// that registration was made just now.
fn registered(st: &mut State) -> Option<(Arc<AsyncFd<Arc<OwnedFd>>>, bool)> {
    let live = st.live.as_mut()?;
    let fresh = live.readiness.is_none();
    if fresh {
        // SAFETY: the descriptor is `poll_fd`, a duplicate of the socket
        // owned by the `Arc<OwnedFd>` moved into the `AsyncFd`: it stays
        // open, and names the same socket, until the `AsyncFd` is dropped,
        // and `as_raw_fd` on it always returns that one descriptor.
        let fd = unsafe {
            AsyncFd::register_with_interest(
                live.poll_fd.clone(),
                Interest::READABLE | Interest::WRITABLE,
            )
        }
        .ok()?;
        live.readiness = Some(Arc::new(fd));
    }
    live.readiness.clone().map(|readiness| (readiness, fresh))
}
