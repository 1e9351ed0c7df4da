//! A reusable read buffer: bytes received but not yet decoded.

use std::io;

use crate::transport::{Transport, Wait};

/// How much room a read asks for at least.
const MIN_READ: usize = 64 * 1024;
/// A buffer that grew past this for one large value shrinks back once empty,
/// so an idle pooled connection does not hold megabytes.
const KEEP_CAPACITY: usize = 256 * 1024;

/// Received bytes live in `buf[start..end]`. The whole of `buf` stays
/// initialised, so any transport can read into `buf[end..]` as a plain
/// slice, and the zeroing happens once per growth, not per read.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    /// The bytes not yet consumed.
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Marks `n` bytes as decoded.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > KEEP_CAPACITY {
                self.buf = vec![0; MIN_READ];
            }
        }
    }

    /// Whether nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Makes room towards `needed` unconsumed bytes (at least [`MIN_READ`]
    /// more), moving data to the front first. The room grows with what
    /// arrived, at most doubling it: a length a header declares is a
    /// promise, and a server that sends a few bytes of a large frame must
    /// not make the client hold that much memory.
    fn make_room(&mut self, needed: usize) {
        let have = self.end - self.start;
        if self.start > 0 && (self.start >= self.end / 2 || self.buf.len() - self.end < MIN_READ) {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = have;
        }
        let missing = needed.saturating_sub(have);
        let want = self.end + missing.min(have.max(MIN_READ)).max(MIN_READ);
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
    }

    /// One read from `transport` into the spare room; `Ok(0)` means the
    /// peer closed. `needed` is the total unconsumed length the caller waits for.
    pub(crate) fn recv(
        &mut self,
        transport: &mut dyn Transport,
        needed: usize,
        wait: Wait,
    ) -> io::Result<usize> {
        self.recv_with(needed, |spare| transport.recv(spare, wait))
    }

    /// One read by `read` into the spare room (see [`recv`](ReadBuffer::recv)).
    pub(crate) fn recv_with(
        &mut self,
        needed: usize,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.make_room(needed);
        let spare = self.buf.get_mut(self.end..).unwrap_or_default();
        let n = read(spare)?;
        self.end = (self.end + n).min(self.buf.len());
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Socket;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn bytes_received_are_kept_until_consumed_and_space_is_reused() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut socket = Socket::Unix(b);
        let mut rb = ReadBuffer::default();
        a.write_all(b"hello world").unwrap();
        let n = rb.recv(&mut socket, 11, Wait::Block).unwrap();
        assert_eq!(n, 11);
        assert_eq!(rb.data(), b"hello world");
        rb.consume(6);
        assert_eq!(rb.data(), b"world");
        a.write_all(b"!").unwrap();
        rb.recv(&mut socket, 6, Wait::Block).unwrap();
        assert_eq!(rb.data(), b"world!");
        rb.consume(6);
        assert!(rb.is_empty());
    }

    #[test]
    fn a_buffer_grows_with_the_bytes_received_not_the_length_declared() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut socket = Socket::Unix(b);
        let mut rb = ReadBuffer::default();
        a.write_all(b"x").unwrap();
        rb.recv(&mut socket, 1 << 30, Wait::Block).unwrap();
        assert!(rb.buf.len() <= 2 * MIN_READ, "{}", rb.buf.len());
    }

    #[test]
    fn a_buffer_grown_for_a_large_value_shrinks_once_empty() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut socket = Socket::Unix(b);
        let mut rb = ReadBuffer::default();
        let value = vec![7u8; 1 << 20];
        let writer = std::thread::spawn(move || a.write_all(&value).unwrap());
        while rb.data().len() < 1 << 20 {
            assert!(rb.recv(&mut socket, 1 << 20, Wait::Block).unwrap() > 0);
        }
        writer.join().unwrap();
        assert!(rb.buf.len() >= 1 << 20);
        assert!(rb.data().iter().all(|&b| b == 7));
        rb.consume(1 << 20);
        assert_eq!(rb.buf.len(), MIN_READ);
    }

    #[test]
    fn a_closed_peer_reads_as_zero() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let mut socket = Socket::Unix(b);
        let mut rb = ReadBuffer::default();
        assert_eq!(rb.recv(&mut socket, 24, Wait::Block).unwrap(), 0);
    }
}
