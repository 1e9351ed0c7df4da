//! A bare binary-protocol connection for tests that check the wire below
//! the client: one request, its reply, over a plain socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use quickmc::protocol::{Decoded, Opcode, Request, Status, decode_response};

/// A reply, owned.
#[derive(Debug, Clone)]
pub struct Reply {
    pub opcode: Opcode,
    pub status: Status,
    pub opaque: u32,
    pub cas: u64,
    pub extras: Vec<u8>,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

impl Reply {
    /// The flags in a Get or Touch reply's extras.
    pub fn flags(&self) -> Option<u32> {
        Some(u32::from_be_bytes(self.extras.get(..4)?.try_into().ok()?))
    }

    /// The new value in a counter reply.
    pub fn counter(&self) -> Option<u64> {
        Some(u64::from_be_bytes(self.value.as_slice().try_into().ok()?))
    }
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// One connection to a server, speaking raw frames.
pub struct Wire {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    opaque: u32,
}

impl Wire {
    /// Connects to a `host:port` or a Unix socket path.
    pub fn connect(spec: &str) -> Wire {
        let timeout = Some(Duration::from_secs(5));
        let stream: Box<dyn Stream> = if spec.starts_with('/') {
            let s = UnixStream::connect(spec).expect("connect");
            s.set_read_timeout(timeout).unwrap();
            Box::new(s)
        } else {
            let s = TcpStream::connect(spec).expect("connect");
            s.set_read_timeout(timeout).unwrap();
            Box::new(s)
        };
        Wire {
            stream,
            buf: Vec::new(),
            opaque: 0,
        }
    }

    /// Sends one request (with the next opaque) and reads its reply.
    pub fn request(&mut self, request: Request<'_>) -> Reply {
        self.opaque += 1;
        let mut out = Vec::new();
        request
            .opaque(self.opaque)
            .encode(&mut out)
            .expect("encode");
        self.stream.write_all(&out).expect("write");
        let reply = self.read_reply();
        assert_eq!(reply.opaque, self.opaque, "the reply answers the request");
        reply
    }

    fn read_reply(&mut self) -> Reply {
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Decoded::Complete { frame, len } =
                decode_response(&self.buf, u32::MAX).expect("a valid frame")
            {
                let reply = Reply {
                    opcode: frame.opcode,
                    status: frame.status,
                    opaque: frame.opaque,
                    cas: frame.cas,
                    extras: frame.extras.to_vec(),
                    key: frame.key.to_vec(),
                    value: frame.value.to_vec(),
                };
                self.buf.drain(..len);
                return reply;
            }
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// A Noop round trip.
    pub fn noop(&mut self) {
        assert_eq!(
            self.request(Request::new(Opcode::Noop, b"")).status,
            Status::Ok
        );
    }

    /// The server's version.
    pub fn version(&mut self) -> String {
        let reply = self.request(Request::new(Opcode::Version, b""));
        assert_eq!(reply.status, Status::Ok);
        String::from_utf8(reply.value).unwrap()
    }
}
