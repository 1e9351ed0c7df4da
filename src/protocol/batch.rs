//! Matching the replies of a quiet batch to the requests that asked for them.
//!
//! A batch is `count` requests with consecutive opaques starting at `first`,
//! closed by a Noop whose opaque is `first + count`. Quiet requests that
//! succeed (or, for gets, miss) are not answered, so replies are matched by
//! opaque, never by position. memcached answers in request order; a reply
//! that breaks that order, repeats, names a request never sent, carries the
//! wrong opcode or echoes the wrong key is a [`BatchError`], and the
//! connection must be dropped.

use super::{Opcode, Response, Status};

/// What a reply turned out to be.
///
/// ```
/// use quickmc::protocol::{BatchMatcher, Matched, Opcode, Response, Status};
/// let mut m = BatchMatcher::new(100, 2, Opcode::GetKQ);
/// let noop = Response::new(Opcode::Noop, Status::Ok).opaque(102);
/// assert_eq!(m.accept(&noop, |_| None), Ok(Matched::End));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// The reply answers request number `index` (0-based, in batch order).
    Reply(usize),
    /// The closing Noop: every request without a reply succeeded or missed.
    End,
}

/// A reply that cannot belong to the batch.
///
/// ```
/// use quickmc::protocol::{BatchError, BatchMatcher, Opcode, Response, Status};
/// let mut m = BatchMatcher::new(0, 1, Opcode::SetQ);
/// let stray = Response::new(Opcode::SetQ, Status::NotStored).opaque(77);
/// assert_eq!(m.accept(&stray, |_| None), Err(BatchError::UnknownOpaque(77)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The opaque names no request of this batch.
    #[error("reply to a request never sent (opaque {0})")]
    UnknownOpaque(u32),
    /// The reply answers a request already answered or passed over.
    #[error("reply out of order or repeated (opaque {0})")]
    OutOfOrder(u32),
    /// The reply's opcode is not the request's.
    #[error("reply opcode {got:?} for a {expected:?} request")]
    UnexpectedOpcode {
        /// The request's opcode.
        expected: Opcode,
        /// The reply's opcode.
        got: Opcode,
    },
    /// A successful GetK-style reply echoes a key other than the one asked for.
    #[error("reply echoes a key other than the one requested")]
    KeyMismatch,
    /// A reply arrived after the closing Noop.
    #[error("reply after the end of the batch")]
    AfterEnd,
    /// The closing Noop came back with an error status.
    #[error("the closing noop failed: {0}")]
    NoopFailed(Status),
}

/// Tracks one batch's replies. Sans-I/O: feed it decoded responses.
///
/// ```
/// use quickmc::protocol::{BatchMatcher, Matched, Opcode, Response, Status};
/// let keys: [&[u8]; 3] = [b"a", b"b", b"c"];
/// let mut m = BatchMatcher::new(10, keys.len(), Opcode::GetKQ);
/// let hit = Response::new(Opcode::GetKQ, Status::Ok).opaque(12).key(b"c");
/// assert_eq!(m.accept(&hit, |i| keys.get(i).copied()), Ok(Matched::Reply(2)));
/// let end = Response::new(Opcode::Noop, Status::Ok).opaque(13);
/// assert_eq!(m.accept(&end, |i| keys.get(i).copied()), Ok(Matched::End));
/// assert!(m.is_done());
/// ```
#[derive(Debug, Clone)]
pub struct BatchMatcher {
    first: u32,
    count: u32,
    opcode: Opcode,
    next: u32,
    done: bool,
}

impl BatchMatcher {
    /// A matcher for `count` requests of `opcode` with opaques `first..first + count`
    /// (wrapping), closed by a Noop with opaque `first + count`.
    ///
    /// `count` above `u32::MAX - 1` is clamped; callers split such batches.
    ///
    /// ```
    /// use quickmc::protocol::{BatchMatcher, Opcode};
    /// let m = BatchMatcher::new(u32::MAX, 3, Opcode::DeleteQ);
    /// assert_eq!(m.noop_opaque(), 2);
    /// ```
    pub fn new(first: u32, count: usize, opcode: Opcode) -> BatchMatcher {
        BatchMatcher {
            first,
            count: u32::try_from(count)
                .unwrap_or(u32::MAX - 1)
                .min(u32::MAX - 1),
            opcode,
            next: 0,
            done: false,
        }
    }

    /// The opaque of request `index`.
    ///
    /// ```
    /// use quickmc::protocol::{BatchMatcher, Opcode};
    /// assert_eq!(BatchMatcher::new(5, 3, Opcode::GetKQ).opaque_of(2), 7);
    /// ```
    pub fn opaque_of(&self, index: usize) -> u32 {
        self.first.wrapping_add(index as u32)
    }

    /// The opaque the closing Noop carries.
    ///
    /// ```
    /// use quickmc::protocol::{BatchMatcher, Opcode};
    /// assert_eq!(BatchMatcher::new(5, 3, Opcode::GetKQ).noop_opaque(), 8);
    /// ```
    pub fn noop_opaque(&self) -> u32 {
        self.first.wrapping_add(self.count)
    }

    /// Whether the closing Noop has been seen.
    ///
    /// ```
    /// use quickmc::protocol::{BatchMatcher, Opcode};
    /// assert!(!BatchMatcher::new(0, 0, Opcode::GetKQ).is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Matches one reply. `key_of(index)` gives the key request `index` asked
    /// for; successful key-echoing replies (GetK, GetKQ, GATK, GATKQ) must echo it.
    ///
    /// ```
    /// use quickmc::protocol::{BatchError, BatchMatcher, Opcode, Response, Status};
    /// let mut m = BatchMatcher::new(0, 1, Opcode::GetKQ);
    /// let wrong = Response::new(Opcode::GetKQ, Status::Ok).opaque(0).key(b"other");
    /// assert_eq!(m.accept(&wrong, |_| Some(&b"mine"[..])), Err(BatchError::KeyMismatch));
    /// ```
    pub fn accept<'k>(
        &mut self,
        response: &Response<'_>,
        key_of: impl FnOnce(usize) -> Option<&'k [u8]>,
    ) -> Result<Matched, BatchError> {
        if self.done {
            return Err(BatchError::AfterEnd);
        }
        let offset = response.opaque.wrapping_sub(self.first);
        if offset == self.count && response.opcode == Opcode::Noop {
            if response.status != Status::Ok {
                return Err(BatchError::NoopFailed(response.status));
            }
            self.done = true;
            return Ok(Matched::End);
        }
        if offset >= self.count {
            return Err(BatchError::UnknownOpaque(response.opaque));
        }
        if offset < self.next {
            return Err(BatchError::OutOfOrder(response.opaque));
        }
        if response.opcode != self.opcode {
            return Err(BatchError::UnexpectedOpcode {
                expected: self.opcode,
                got: response.opcode,
            });
        }
        let index = offset as usize;
        if self.opcode.echoes_key()
            && response.status == Status::Ok
            && key_of(index) != Some(response.key)
        {
            return Err(BatchError::KeyMismatch);
        }
        self.next = offset + 1;
        Ok(Matched::Reply(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(opaque: u32) -> Response<'static> {
        Response::new(Opcode::SetQ, Status::NotStored).opaque(opaque)
    }

    #[test]
    fn replies_in_order_with_gaps_match_their_requests() {
        let mut m = BatchMatcher::new(40, 5, Opcode::SetQ);
        assert_eq!(m.accept(&reply(41), |_| None), Ok(Matched::Reply(1)));
        assert_eq!(m.accept(&reply(44), |_| None), Ok(Matched::Reply(4)));
        let end = Response::new(Opcode::Noop, Status::Ok).opaque(45);
        assert_eq!(m.accept(&end, |_| None), Ok(Matched::End));
        assert_eq!(m.accept(&reply(44), |_| None), Err(BatchError::AfterEnd));
    }

    #[test]
    fn a_repeated_or_backward_reply_is_refused() {
        let mut m = BatchMatcher::new(0, 5, Opcode::SetQ);
        m.accept(&reply(2), |_| None).unwrap();
        assert_eq!(
            m.accept(&reply(2), |_| None),
            Err(BatchError::OutOfOrder(2))
        );
        assert_eq!(
            m.accept(&reply(1), |_| None),
            Err(BatchError::OutOfOrder(1))
        );
    }

    #[test]
    fn a_noop_with_the_wrong_opaque_or_a_wrong_opcode_is_refused() {
        let mut m = BatchMatcher::new(0, 2, Opcode::SetQ);
        let early_noop = Response::new(Opcode::Noop, Status::Ok).opaque(1);
        assert!(matches!(
            m.accept(&early_noop, |_| None),
            Err(BatchError::UnexpectedOpcode { .. })
        ));
        let add = Response::new(Opcode::AddQ, Status::KeyExists).opaque(0);
        assert!(matches!(
            m.accept(&add, |_| None),
            Err(BatchError::UnexpectedOpcode { .. })
        ));
    }

    #[test]
    fn opaques_wrap_around_u32() {
        let mut m = BatchMatcher::new(u32::MAX - 1, 3, Opcode::SetQ);
        assert_eq!(m.accept(&reply(0), |_| None), Ok(Matched::Reply(2)));
        let end = Response::new(Opcode::Noop, Status::Ok).opaque(1);
        assert_eq!(m.accept(&end, |_| None), Ok(Matched::End));
    }

    #[test]
    fn a_get_miss_reply_with_an_error_status_need_not_echo_the_key() {
        let mut m = BatchMatcher::new(0, 1, Opcode::GetKQ);
        let err = Response::new(Opcode::GetKQ, Status::OutOfMemory).opaque(0);
        assert_eq!(m.accept(&err, |_| Some(&b"k"[..])), Ok(Matched::Reply(0)));
    }
}
