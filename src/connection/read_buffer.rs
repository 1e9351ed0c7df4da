//! A reusable read buffer: bytes received but not yet decoded.

use std::io;
use std::os::fd::AsFd;

use rustix::buffer::spare_capacity;
use rustix::net::RecvFlags;

/// How much room a read asks for at least.
const MIN_READ: usize = 64 * 1024;
/// A buffer that grew past this for one large value shrinks back once empty,
/// so an idle pooled connection does not hold megabytes.
const KEEP_CAPACITY: usize = 256 * 1024;

/// Received bytes live in `buf[start..]`.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    buf: Vec<u8>,
    start: usize,
}

impl ReadBuffer {
    pub(crate) fn with_capacity(capacity: usize) -> ReadBuffer {
        ReadBuffer {
            buf: Vec::with_capacity(capacity),
            start: 0,
        }
    }

    /// The bytes not yet consumed.
    pub(crate) fn data(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Marks `n` bytes as decoded.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf.shrink_to(MIN_READ);
            }
        }
    }

    /// Whether nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// Makes room so the unconsumed data can grow to `needed` bytes (and at
    /// least [`MIN_READ`] more can be read), moving data to the front first.
    fn make_room(&mut self, needed: usize) {
        if self.start > 0
            && (self.start >= self.buf.len() / 2 || self.buf.capacity() - self.buf.len() < MIN_READ)
        {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let have = self.buf.len() - self.start;
        let want = needed.saturating_sub(have).max(MIN_READ);
        self.buf.reserve(want);
    }

    /// One `recv` into the spare capacity; `Ok(0)` means the peer closed.
    /// `needed` is the total unconsumed length the caller is waiting for.
    pub(crate) fn recv(
        &mut self,
        fd: impl AsFd,
        needed: usize,
        nonblocking: bool,
    ) -> io::Result<usize> {
        self.make_room(needed);
        let flags = if nonblocking {
            RecvFlags::DONTWAIT
        } else {
            RecvFlags::empty()
        };
        let (n, _) = loop {
            match rustix::net::recv(&fd, spare_capacity(&mut self.buf), flags) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other?,
            }
        };
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    #[test]
    fn bytes_received_are_kept_until_consumed_and_space_is_reused() {
        let (mut a, b) = UnixStream::pair().unwrap();
        let mut rb = ReadBuffer::with_capacity(8);
        a.write_all(b"hello world").unwrap();
        let n = rb.recv(&b, 11, false).unwrap();
        assert_eq!(n, 11);
        assert_eq!(rb.data(), b"hello world");
        rb.consume(6);
        assert_eq!(rb.data(), b"world");
        a.write_all(b"!").unwrap();
        rb.recv(&b, 6, false).unwrap();
        assert_eq!(rb.data(), b"world!");
        rb.consume(6);
        assert!(rb.is_empty());
    }

    #[test]
    fn a_nonblocking_recv_with_nothing_to_read_would_block() {
        let (_a, b) = UnixStream::pair().unwrap();
        let mut rb = ReadBuffer::default();
        let err = rb.recv(&b, 24, true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_closed_peer_reads_as_zero() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(a);
        let mut rb = ReadBuffer::default();
        assert_eq!(rb.recv(&b, 24, false).unwrap(), 0);
    }
}
