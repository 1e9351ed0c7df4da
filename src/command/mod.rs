//! What each operation *is*, sans I/O.
//!
//! A [`Command`] is one request and the meaning of its reply: it builds its
//! [`Request`] and turns the reply frame (or
//! frames, for statistics) into a typed outcome. Statuses become errors in
//! [`status_error`] and nowhere else. A [`Batch`] is the state machine of a
//! multi-key operation: it is asked for bytes ([`Exchange::transmit`]), fed
//! reply frames ([`Exchange::receive`]), yields per-key [`KeyEvent`]s and
//! knows when it is complete; it cuts its requests into windows closed by a
//! Noop, so memory and the bytes in flight stay bounded whatever the size.
//!
//! Nothing here touches a socket, a clock or a pool. A driver — the
//! blocking connection today, a pipelined or async one tomorrow — only
//! moves bytes between an [`Exchange`] and a transport, so every driver runs
//! the same operations.
//!
//! ```
//! use quickmc::command::{Exchange, Get, Single};
//! use quickmc::protocol::{decode_response, Decoded, Opcode, Response, Status};
//! let mut get = Get::new(b"greeting");
//! let mut exchange = Single::new(&mut get);
//! let (mut opaque, mut wire) = (7, Vec::new());
//! exchange.transmit(&mut opaque, &mut wire, 64 << 10);
//! // ... the driver writes `wire`, then feeds back what the server says:
//! let reply = Response::new(Opcode::Get, Status::Ok).opaque(7).extras(&[0, 0, 0, 16]).value(b"hi");
//! exchange.receive(&reply)?;
//! let hit = exchange.into_outcome().unwrap()?.unwrap();
//! assert_eq!((hit.flags, hit.value.as_slice()), (16, &b"hi"[..]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod exchange;
mod keys;
mod mux;
mod single;
mod stats;
mod status;

pub use batch::{Batch, BatchOp, HitValues, KeyEvent, KeyOutcome, ValueRef, ValueSource, Windows};
pub use exchange::{Exchange, ReplyShape, Single};
pub use keys::KeyTable;
pub use mux::{Delivery, DirectRun, Mux, MuxError, MuxLimits, Oversized, Ticket};
pub use single::{
    Cas, Concat, ConcatMode, Counter, CounterOp, Delete, Flush, Get, Hit, Noop, SaslPlain, Store,
    StoreMode, Touch, Version,
};
pub use stats::{MAX_STATS_BYTES, MAX_STATS_ENTRIES, Stats};
pub use status::status_error;

use crate::protocol::{Request, Response};
use crate::{Error, ProtocolError};

/// Whether a command is finished after a reply frame.
///
/// ```
/// use quickmc::command::Step;
/// let step: Step<u64> = Step::Done(Ok(3));
/// assert!(matches!(step, Step::Done(Ok(3))));
/// ```
#[derive(Debug)]
pub enum Step<T> {
    /// More frames belong to this command (statistics stream).
    More,
    /// The command is answered: its outcome, a status error included.
    Done(Result<T, Error>),
}

/// One operation: its request and what its reply means.
///
/// ```
/// use quickmc::command::{Command, Delete, Step};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut delete = Delete::new(b"k");
/// assert_eq!(delete.request().opcode, Opcode::Delete);
/// let missing = Response::new(Opcode::Delete, Status::KeyNotFound);
/// assert!(matches!(delete.outcome(&missing)?, Step::Done(Ok(false))));
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
pub trait Command: Send {
    /// What a completed command yields.
    type Output: Send;
    /// The request (its opaque is set by whoever sends it).
    fn request(&self) -> Request<'_>;
    /// Turns one reply frame (already matched to the request by opaque and
    /// opcode) into the outcome. A reply that cannot answer the request is a
    /// [`ProtocolError`]: the connection it came on cannot be trusted.
    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<Self::Output>, ProtocolError>;
}

/// Whether running a command twice leaves the same state as running it once
/// (reads, set, replace, delete, touch): such a command may be sent again
/// on a fresh connection after a pooled one turned out dead.
///
/// ```
/// use quickmc::command::{Idempotence, StoreMode};
/// assert_eq!(StoreMode::Add.idempotence(), Idempotence::Once);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// Reads, and writes whose repetition leaves the same state.
    Repeatable,
    /// Writes that would apply twice (add, cas, append, prepend, incr, decr).
    Once,
}
