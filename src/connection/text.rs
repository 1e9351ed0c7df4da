//! The text-protocol side door: one command on a connection of its own.
//!
//! memcached picks the protocol per connection from its first byte, so a
//! text command cannot share a pooled binary connection. These commands are
//! for operators (a stats group the binary protocol lacks, the key listing),
//! not the hot path: each opens a connection, sends one command, reads its
//! reply line by line until `END`, and closes it.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ConnectionOptions, closed, io_error};
use crate::protocol::{Decoded, TextLine, decode_text_line};
use crate::transport::{self, Wait};
use crate::{Address, Error, ProtocolError, Result};

/// The longest reply line accepted.
const MAX_LINE: usize = 64 * 1024;

/// Sends `command` and hands every reply line before `END` to `on_line`,
/// which may stop early by returning `false`. The I/O timeout bounds each
/// wait for bytes; `reply_within`, if any, the whole reply from when the
/// command was sent (a key listing can be long: it has none), give or take
/// one such wait. Memory stays at one line whatever the reply's length.
pub(crate) fn text_command(
    address: &Address,
    options: &ConnectionOptions,
    server: &Arc<str>,
    command: &[u8],
    reply_within: Option<Duration>,
    mut on_line: impl FnMut(TextLine<'_>) -> Result<bool>,
) -> Result<()> {
    let mut transport = transport::connect(address, &options.transport)
        .map_err(|e| super::connect_error(server, e))?;
    let send_deadline = Instant::now() + options.io_timeout.unwrap_or(Duration::from_secs(5));
    send_all(&mut *transport, command, server, send_deadline)?;
    let deadline = reply_within.map(|within| Instant::now() + within);
    let protocol = |error: ProtocolError| Error::Protocol {
        server: server.clone(),
        error,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_LINE);
    let mut chunk = vec![0u8; MAX_LINE];
    loop {
        while let Decoded::Complete { frame, len } =
            decode_text_line(&buf, MAX_LINE).map_err(|e| protocol(e.into()))?
        {
            match frame {
                TextLine::End => return Ok(()),
                TextLine::Error(message) | TextLine::Busy(message) => {
                    return Err(Error::Refused {
                        server: server.clone(),
                        message: message.to_string(),
                    });
                }
                line => {
                    if !on_line(line)? {
                        return Ok(());
                    }
                }
            }
            buf.drain(..len);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::Timeout {
                server: server.clone(),
            });
        }
        let n = transport
            .recv(&mut chunk, Wait::Block)
            .map_err(|e| io_error(server, e))?;
        if n == 0 {
            return Err(closed(server));
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Writes all of `bytes` by `deadline`.
fn send_all(
    transport: &mut dyn transport::Transport,
    mut bytes: &[u8],
    server: &Arc<str>,
    deadline: Instant,
) -> Result<()> {
    while !bytes.is_empty() {
        match transport.send(bytes) {
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            // A command of a few dozen bytes into an empty socket buffer:
            // waiting for room is all but impossible; a short sleep is enough.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(Error::Timeout {
                        server: server.clone(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(io_error(server, e)),
        }
        transport.flush().map_err(|e| io_error(server, e))?;
    }
    Ok(())
}
