//! Statistics: the one command answered by a stream of frames.

use super::{Command, Step, status_error};
use crate::ProtocolError;
use crate::protocol::{Opcode, Request, Response, Status};

/// The most statistics one reply may carry. memcached's largest group
/// (`items` with 63 slab classes) has a few thousand.
pub const MAX_STATS_ENTRIES: usize = 65_536;

/// The most bytes (names and values) one statistics reply may carry.
pub const MAX_STATS_BYTES: usize = 16 << 20;

/// Stat: one reply per statistic, ended by one with an empty key. `None`
/// when the server does not offer the group over the binary protocol
/// (memcached answers `conns` and unknown groups with "not found").
///
/// A reply past [`MAX_STATS_ENTRIES`] or [`MAX_STATS_BYTES`] is a protocol
/// violation, so a server that never ends the list cannot grow the client.
///
/// ```
/// use quickmc::command::{Command, Stats, Step};
/// use quickmc::protocol::{Opcode, Response, Status};
/// let mut stats = Stats::new("");
/// let pid = Response::new(Opcode::Stat, Status::Ok).key(b"pid").value(b"42");
/// assert!(matches!(stats.outcome(&pid)?, Step::More));
/// let end = Response::new(Opcode::Stat, Status::Ok);
/// let Step::Done(Ok(Some(all))) = stats.outcome(&end)? else { panic!() };
/// assert_eq!(all, vec![("pid".to_string(), "42".to_string())]);
/// # Ok::<(), quickmc::ProtocolError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Stats<'a> {
    group: &'a str,
    entries: Vec<(String, String)>,
    bytes: usize,
}

impl<'a> Stats<'a> {
    /// Statistics of `group` (empty for the general ones).
    ///
    /// ```
    /// let slabs = quickmc::command::Stats::new("slabs");
    /// ```
    pub fn new(group: &'a str) -> Stats<'a> {
        Stats {
            group,
            entries: Vec::new(),
            bytes: 0,
        }
    }
}

impl Command for Stats<'_> {
    type Output = Option<Vec<(String, String)>>;

    fn request(&self) -> Request<'_> {
        Request::new(Opcode::Stat, self.group.as_bytes())
    }

    fn outcome(&mut self, reply: &Response<'_>) -> Result<Step<Self::Output>, ProtocolError> {
        match reply.status {
            Status::Ok => {}
            Status::KeyNotFound if self.entries.is_empty() => return Ok(Step::Done(Ok(None))),
            other => return Ok(Step::Done(Err(status_error(other, reply.value)))),
        }
        if reply.key.is_empty() {
            return Ok(Step::Done(Ok(Some(std::mem::take(&mut self.entries)))));
        }
        self.bytes += reply.key.len() + reply.value.len();
        if self.bytes > MAX_STATS_BYTES {
            return Err(ProtocolError::StatsTooLarge {
                what: "bytes",
                limit: MAX_STATS_BYTES,
            });
        }
        if self.entries.len() >= MAX_STATS_ENTRIES {
            return Err(ProtocolError::StatsTooLarge {
                what: "entries",
                limit: MAX_STATS_ENTRIES,
            });
        }
        self.entries.push((
            String::from_utf8_lossy(reply.key).into_owned(),
            String::from_utf8_lossy(reply.value).into_owned(),
        ));
        Ok(Step::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_never_ends_is_cut_off_at_the_entry_limit() {
        let mut stats = Stats::new("");
        let entry = Response::new(Opcode::Stat, Status::Ok)
            .key(b"k")
            .value(b"v");
        let mut seen = 0;
        let error = loop {
            match stats.outcome(&entry) {
                Ok(Step::More) => seen += 1,
                Ok(Step::Done(_)) => panic!("no end was sent"),
                Err(e) => break e,
            }
        };
        assert_eq!(seen, MAX_STATS_ENTRIES);
        assert!(matches!(
            error,
            ProtocolError::StatsTooLarge {
                what: "entries",
                ..
            }
        ));
    }

    #[test]
    fn large_entries_are_cut_off_at_the_byte_limit() {
        let mut stats = Stats::new("");
        let big = vec![b'x'; 1 << 20];
        let entry = Response::new(Opcode::Stat, Status::Ok)
            .key(b"k")
            .value(&big);
        let mut error = None;
        for _ in 0..17 {
            if let Err(e) = stats.outcome(&entry) {
                error = Some(e);
                break;
            }
        }
        assert!(matches!(
            error,
            Some(ProtocolError::StatsTooLarge { what: "bytes", .. })
        ));
    }

    #[test]
    fn a_group_the_server_does_not_offer_is_none_not_a_miss() {
        let mut stats = Stats::new("conns");
        let not_found = Response::new(Opcode::Stat, Status::KeyNotFound);
        assert!(matches!(
            stats.outcome(&not_found),
            Ok(Step::Done(Ok(None)))
        ));
    }
}
