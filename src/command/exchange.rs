//! What a driver runs: an exchange asked for bytes and fed frames.

use super::{Command, HitValues, KeyEvent, Step};
use crate::protocol::{Opcode, Response};
use crate::{Error, ProtocolError};

/// A conversation a driver runs on one connection, sans I/O: it is asked
/// for request bytes and fed the reply frames, until it is complete. A
/// single command ([`Single`]) and a multi-key batch
/// ([`Batch`](super::Batch)) are both exchanges, so every driver runs both.
///
/// Opaques come from the connection (`next_opaque`), so requests of
/// different exchanges on one connection never share one; a reply is
/// matched to its request by opaque, and a reply that cannot belong to the
/// exchange is a [`ProtocolError`].
///
/// ```
/// use quickmc::command::{Exchange, Noop, Single};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut noop = Noop;
/// let mut exchange = Single::new(&mut noop);
/// let mut opaque = 1;
/// let mut out = Vec::new();
/// exchange.transmit(&mut opaque, &mut out, 1024);
/// assert!(exchange.is_transmitted() && !exchange.is_complete());
/// assert_eq!((out.len(), opaque), (24, 2));
/// exchange.receive(&Response::new(Opcode::Noop, Status::Ok).opaque(1))?;
/// assert!(exchange.is_complete());
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
pub trait Exchange: Send {
    /// Appends requests to `out` until it holds at least `budget` bytes or
    /// every request is encoded. Each request takes the opaque
    /// `*next_opaque`, which then advances.
    fn transmit(&mut self, next_opaque: &mut u32, out: &mut Vec<u8>, budget: usize);

    /// Whether every request has been encoded by [`transmit`](Exchange::transmit).
    fn is_transmitted(&self) -> bool;

    /// Feeds one reply frame.
    fn receive(&mut self, frame: &Response<'_>) -> Result<(), ProtocolError>;

    /// A reply whose header declares a body above the client's limit; its
    /// body is not for the exchange (a pooled connection is abandoned after
    /// this; a shared one skips the body). Returns the error that ends the
    /// exchange on this connection, or `None` if the exchange is complete
    /// with that reply.
    fn receive_oversized(
        &mut self,
        opaque: u32,
        size: u32,
        limit: u32,
    ) -> Result<Option<Error>, ProtocolError>;

    /// Whether every reply has arrived.
    fn is_complete(&self) -> bool;

    /// How the replies to what one [`transmit`](Exchange::transmit) call
    /// sent end (what a multiplexer needs to know where one caller's
    /// replies stop and the next caller's begin).
    fn reply_shape(&self) -> ReplyShape;

    /// How many replies arrived so far.
    fn replies(&self) -> usize;

    /// From now on, every [`transmit`](Exchange::transmit) ends where the
    /// replies to what it sent end, as [`reply_shape`](Exchange::reply_shape)
    /// says (a batch then encodes each window whole). A multiplexer calls
    /// this before it transmits; on a connection of its own, an exchange
    /// may stop anywhere.
    fn whole_segments(&mut self) {}

    /// Whether the answer received leaves the connection unusable (memcached
    /// closes a connection after an authentication error).
    fn spoils_connection(&self) -> bool {
        false
    }

    /// The per-key events recorded since the last call, with the hits'
    /// bytes, so a caller can read them while later replies are still on
    /// their way (`None` for an exchange that records none: only batches
    /// do). Take the values in the order of their events.
    fn received(&mut self) -> Option<(std::vec::Drain<'_, KeyEvent>, &mut HitValues)> {
        None
    }
}

/// How the replies to one transmitted segment end.
///
/// ```
/// use quickmc::command::{Exchange, ReplyShape, Single, Stats};
/// let mut stats = Stats::new("");
/// assert_eq!(Single::new(&mut stats).reply_shape(), ReplyShape::Stream);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyShape {
    /// One reply.
    One,
    /// Replies until one with an empty key or an error status (statistics).
    Stream,
    /// Replies until the Noop with the segment's last opaque (a batch window).
    NoopClosed,
}

/// One [`Command`] as an exchange: one request, its reply (or replies).
///
/// ```
/// use quickmc::command::{Exchange, Single, Version};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut version = Version;
/// let mut exchange = Single::new(&mut version);
/// let mut opaque = 40;
/// exchange.transmit(&mut opaque, &mut Vec::new(), 1024);
/// exchange.receive(&Response::new(Opcode::Version, Status::Ok).opaque(40).value(b"1.6.18"))?;
/// assert_eq!(exchange.into_outcome().unwrap()?, "1.6.18");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Single<'c, C: Command> {
    command: &'c mut C,
    opaque: Option<u32>,
    outcome: Option<Result<C::Output, Error>>,
    replies: usize,
}

impl<'c, C: Command> Single<'c, C> {
    /// An exchange for `command`.
    ///
    /// ```
    /// let mut noop = quickmc::command::Noop;
    /// let exchange = quickmc::command::Single::new(&mut noop);
    /// ```
    pub fn new(command: &'c mut C) -> Single<'c, C> {
        Single {
            command,
            opaque: None,
            outcome: None,
            replies: 0,
        }
    }

    /// The outcome, once complete (or once the request could not be encoded).
    ///
    /// ```
    /// let mut noop = quickmc::command::Noop;
    /// assert!(quickmc::command::Single::new(&mut noop).into_outcome().is_none());
    /// ```
    pub fn into_outcome(self) -> Option<Result<C::Output, Error>> {
        self.outcome
    }
}

impl<C: Command> Exchange for Single<'_, C> {
    fn transmit(&mut self, next_opaque: &mut u32, out: &mut Vec<u8>, _budget: usize) {
        if self.is_transmitted() {
            return;
        }
        let request = self.command.request();
        if request.opcode.is_quiet() {
            // A quiet request may go unanswered: only a batch, closed by a
            // Noop, can tell.
            let message = format!("{:?} is quiet; send it in a batch", request.opcode);
            self.outcome = Some(Err(Error::Config(message)));
            return;
        }
        let opaque = *next_opaque;
        match request.opaque(opaque).encode(out) {
            Ok(()) => {
                *next_opaque = opaque.wrapping_add(1);
                self.opaque = Some(opaque);
            }
            // Nothing was written: the exchange ends before any I/O.
            Err(e) => self.outcome = Some(Err(e.into())),
        }
    }

    fn is_transmitted(&self) -> bool {
        self.opaque.is_some() || self.outcome.is_some()
    }

    fn receive(&mut self, frame: &Response<'_>) -> Result<(), ProtocolError> {
        if self.outcome.is_some() {
            return Err(ProtocolError::Unexpected("a reply after the answer"));
        }
        if Some(frame.opaque) != self.opaque || frame.opcode != self.command.request().opcode {
            return Err(ProtocolError::Unexpected(
                "reply does not answer the request sent",
            ));
        }
        self.replies += 1;
        if let Step::Done(outcome) = self.command.outcome(frame)? {
            self.outcome = Some(outcome);
        }
        Ok(())
    }

    fn receive_oversized(
        &mut self,
        opaque: u32,
        size: u32,
        limit: u32,
    ) -> Result<Option<Error>, ProtocolError> {
        if self.outcome.is_some() || Some(opaque) != self.opaque {
            return Err(ProtocolError::Unexpected(
                "reply does not answer the request sent",
            ));
        }
        let request = self.command.request();
        if !matches!(request.opcode, Opcode::Get | Opcode::Gat) {
            return Err(ProtocolError::Unexpected(
                "a value in a reply that carries none",
            ));
        }
        self.replies += 1;
        let key = request.key;
        self.outcome = Some(Err(Error::ValueTooLarge {
            key: String::from_utf8_lossy(key).into_owned(),
            size: u64::from(size),
            limit: u64::from(limit),
        }));
        Ok(None)
    }

    fn is_complete(&self) -> bool {
        self.outcome.is_some()
    }

    fn spoils_connection(&self) -> bool {
        self.outcome
            .as_ref()
            .is_some_and(|o| o.as_ref().is_err_and(Error::breaks_connection))
    }

    fn reply_shape(&self) -> ReplyShape {
        match self.command.request().opcode {
            Opcode::Stat => ReplyShape::Stream,
            _ => ReplyShape::One,
        }
    }

    fn replies(&self) -> usize {
        self.replies
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Get, Stats};
    use crate::protocol::{Opcode, Status};

    #[test]
    fn a_reply_with_another_opaque_or_opcode_is_refused() {
        let mut get = Get::new(b"k");
        let mut exchange = Single::new(&mut get);
        let mut opaque = 5;
        exchange.transmit(&mut opaque, &mut Vec::new(), 0);
        let other = Response::new(Opcode::Get, Status::KeyNotFound).opaque(4);
        assert!(exchange.receive(&other).is_err());
        let wrong_op = Response::new(Opcode::Set, Status::Ok).opaque(5);
        assert!(exchange.receive(&wrong_op).is_err());
        assert!(!exchange.is_complete());
    }

    #[test]
    fn an_oversized_reply_completes_a_get_with_value_too_large_naming_the_key() {
        let mut get = Get::new(b"big");
        let mut exchange = Single::new(&mut get);
        let mut opaque = 0;
        exchange.transmit(&mut opaque, &mut Vec::new(), 0);
        assert!(matches!(exchange.receive_oversized(0, 100, 10), Ok(None)));
        match exchange.into_outcome() {
            Some(Err(Error::ValueTooLarge { key, size, limit })) => {
                assert_eq!((key.as_str(), size, limit), ("big", 100, 10))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_stats_stream_completes_on_its_empty_entry_and_anything_after_is_refused() {
        let mut stats = Stats::new("");
        let mut exchange = Single::new(&mut stats);
        let mut opaque = 9;
        exchange.transmit(&mut opaque, &mut Vec::new(), 0);
        let entry = Response::new(Opcode::Stat, Status::Ok)
            .opaque(9)
            .key(b"a")
            .value(b"1");
        exchange.receive(&entry).unwrap();
        exchange.receive(&entry).unwrap();
        assert!(!exchange.is_complete());
        exchange
            .receive(&Response::new(Opcode::Stat, Status::Ok).opaque(9))
            .unwrap();
        assert!(exchange.is_complete());
        assert!(exchange.receive(&entry).is_err());
        assert_eq!(exchange.into_outcome().unwrap().unwrap().unwrap().len(), 2);
    }

    #[test]
    fn a_request_that_cannot_be_encoded_completes_without_writing() {
        let mut get = Get::new(b"");
        let mut exchange = Single::new(&mut get);
        let mut out = Vec::new();
        let mut opaque = 0;
        exchange.transmit(&mut opaque, &mut out, 0);
        assert!(out.is_empty() && exchange.is_complete());
        assert_eq!(opaque, 0);
        assert!(matches!(
            exchange.into_outcome(),
            Some(Err(Error::BadKey(_)))
        ));
    }
}
