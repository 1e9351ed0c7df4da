//! A fault-injecting TCP proxy in front of a real memcached: replies can be
//! delayed, dribbled byte by byte, truncated, corrupted, duplicated, cut,
//! replaced by an oversized length, swallowed, held at a gate, or (for a
//! Stat reply) turned into an endless flood of entries; new connections can
//! be held before anything is forwarded. Requests always pass unchanged.
//!
//! Every fault is bounded: the proxy stops on its own after a few seconds,
//! when the client goes away, or when the proxy is dropped.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Holds every proxy's replies until `needed` proxies have seen a request
/// (or a bounded wait runs out, which it records).
#[derive(Debug)]
pub struct Gate {
    arrived: AtomicUsize,
    needed: usize,
    timed_out: AtomicBool,
}

impl Gate {
    pub fn new(needed: usize) -> Arc<Gate> {
        Arc::new(Gate {
            arrived: AtomicUsize::new(0),
            needed,
            timed_out: AtomicBool::new(false),
        })
    }

    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::SeqCst)
    }

    fn wait(&self) {
        let end = Instant::now() + Duration::from_secs(3);
        while self.arrived.load(Ordering::SeqCst) < self.needed {
            if Instant::now() > end {
                self.timed_out.store(true, Ordering::SeqCst);
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Forward replies unchanged.
    Pass,
    /// Hold each reply chunk this long.
    Delay(Duration),
    /// Forward half of the next reply chunk, then close the connection.
    Truncate,
    /// Flip the magic byte of the next reply chunk.
    Corrupt,
    /// Send the next reply chunk twice.
    Duplicate,
    /// Close the connection instead of forwarding the next reply.
    Cut,
    /// Replace the next reply with a header declaring a ~4 GB body, then stall.
    OversizedLength,
    /// Replace the next reply with a header declaring a body of this many
    /// bytes (a value, with 4 bytes of flags), then stall.
    Declares(u32),
    /// Never forward replies (a server that accepts and never answers).
    Swallow,
    /// Hold replies at a gate shared with other proxies.
    Gate(Arc<Gate>),
    /// Forward each reply one byte at a time, pausing this long before each
    /// byte (a server that never stalls long enough to trip a read timeout).
    /// Bounded by [`DRIBBLE_FOR`] per connection, after which it is closed.
    Dribble(Duration),
    /// On a Stat reply: forward its entries but not the closing empty-key
    /// entry, then stream more stat entries with the same opaque, as a
    /// hostile server could, until the client goes away, [`FLOOD_FOR`]
    /// passes or [`FLOOD_BYTES`] are sent; then close. Other replies pass.
    StatsFlood,
    /// Instead of the next reply chunk, a Noop reply with opaque 0 (a reply
    /// to an old request, as a server repeating itself would send) every
    /// 5 ms, until the client goes away, [`FLOOD_FOR`] passes or the proxy
    /// stops; then close. The request is never answered.
    StaleFlood,
}

/// How long one connection may dribble before the proxy closes it.
pub const DRIBBLE_FOR: Duration = Duration::from_secs(10);
/// How long a stats flood runs at most on one connection.
pub const FLOOD_FOR: Duration = Duration::from_secs(4);
/// How many bytes a stats flood sends at most on one connection.
pub const FLOOD_BYTES: usize = 256 << 20;
/// The longest connect delay the proxy accepts.
const MAX_CONNECT_DELAY: Duration = Duration::from_secs(5);

struct State {
    upstream: SocketAddr,
    fault: Mutex<(Fault, bool)>,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Request bytes forwarded upstream, over every connection.
    forwarded: AtomicUsize,
    gate_seen: AtomicBool,
    connect_delay: Mutex<Duration>,
}

pub struct Proxy {
    port: u16,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on a free 127.0.0.1 port forwarding to `upstream` (host:port).
    pub fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream: SocketAddr = upstream.parse().expect("upstream host:port");
        let state = Arc::new(State {
            upstream,
            fault: Mutex::new((Fault::Pass, false)),
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            forwarded: AtomicUsize::new(0),
            gate_seen: AtomicBool::new(false),
            connect_delay: Mutex::new(Duration::ZERO),
        });
        let accept_state = state.clone();
        let accept = std::thread::spawn(move || {
            while !accept_state.stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        accept_state.accepted.fetch_add(1, Ordering::SeqCst);
                        let state = accept_state.clone();
                        std::thread::spawn(move || serve(client, state));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Proxy {
            port,
            state,
            accept: Some(accept),
        }
    }

    pub fn spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Applies `fault` to every reply from now on.
    pub fn set_fault(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = (fault, false);
    }

    /// Applies `fault` to the next reply chunk only.
    pub fn set_fault_once(&self, fault: Fault) {
        *self.state.fault.lock().unwrap() = (fault, true);
    }

    /// Holds each new connection this long (at most 5 s) before connecting
    /// upstream and forwarding anything, so whatever the client does first
    /// on it (a SASL handshake, the first request) is that much slower.
    pub fn set_connect_delay(&self, delay: Duration) {
        *self.state.connect_delay.lock().unwrap() = delay.min(MAX_CONNECT_DELAY);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Request bytes the client sent that were forwarded upstream so far
    /// (every connection together): how much a client put on the wire.
    pub fn request_bytes(&self) -> usize {
        self.state.forwarded.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Sleeps `delay` in short steps, ending early when the proxy stops.
fn pause(delay: Duration, state: &State) {
    let end = Instant::now() + delay.min(MAX_CONNECT_DELAY);
    while Instant::now() < end && !state.stop.load(Ordering::SeqCst) {
        std::thread::sleep(
            end.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(5)),
        );
    }
}

fn serve(client: TcpStream, state: Arc<State>) {
    let delay = *state.connect_delay.lock().unwrap();
    pause(delay, &state);
    let Ok(upstream) = TcpStream::connect_timeout(&state.upstream, Duration::from_secs(2)) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(mut c_read), Ok(mut u_write)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let req_state = state.clone();
    // Requests: pass through unchanged; note arrival for gates.
    let requests = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let _ = c_read.set_read_timeout(Some(Duration::from_millis(50)));
        loop {
            if req_state.stop.load(Ordering::SeqCst) {
                break;
            }
            match c_read.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let (Fault::Gate(gate), _) = &*req_state.fault.lock().unwrap()
                        && !req_state.gate_seen.swap(true, Ordering::SeqCst)
                    {
                        gate.arrived.fetch_add(1, Ordering::SeqCst);
                    }
                    if u_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    req_state.forwarded.fetch_add(n, Ordering::SeqCst);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => break,
            }
        }
        let _ = u_write.shutdown(Shutdown::Both);
    });
    replies(client, upstream, &state);
    let _ = requests.join();
}

fn replies(mut client: TcpStream, mut upstream: TcpStream, state: &State) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut dribble_end: Option<Instant> = None;
    let _ = upstream.set_read_timeout(Some(Duration::from_millis(50)));
    loop {
        if state.stop.load(Ordering::SeqCst) {
            break;
        }
        let n = match upstream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        let chunk = &buf[..n];
        let fault = {
            let mut guard = state.fault.lock().unwrap();
            let fault = guard.0.clone();
            if guard.1 {
                *guard = (Fault::Pass, false);
            }
            fault
        };
        let sent = match fault {
            Fault::Pass => client.write_all(chunk),
            Fault::Delay(d) => {
                std::thread::sleep(d);
                client.write_all(chunk)
            }
            Fault::Truncate => {
                let _ = client.write_all(&chunk[..n / 2]);
                break;
            }
            Fault::Corrupt => {
                let mut bad = chunk.to_vec();
                bad[0] ^= 0xff;
                client.write_all(&bad)
            }
            Fault::Duplicate => client
                .write_all(chunk)
                .and_then(|()| client.write_all(chunk)),
            Fault::Cut => break,
            Fault::OversizedLength | Fault::Declares(_) => {
                let (body, extras) = match fault {
                    Fault::Declares(len) => (len, 4),
                    _ => (0xffff_fff0, 0),
                };
                let mut header = [0u8; 24];
                header[..24.min(n)].copy_from_slice(&chunk[..24.min(n)]);
                header[0] = 0x81;
                header[4] = extras;
                header[2] = 0;
                header[3] = 0;
                header[6] = 0;
                header[7] = 0;
                header[8..12].copy_from_slice(&body.to_be_bytes());
                let _ = client.write_all(&header);
                // Stall as a hostile server would, until the client gives up.
                let end = Instant::now() + Duration::from_secs(5);
                while Instant::now() < end && !state.stop.load(Ordering::SeqCst) {
                    let mut probe = [0u8; 1];
                    let _ = client.set_read_timeout(Some(Duration::from_millis(20)));
                    if matches!(client.peek(&mut probe), Ok(0)) {
                        break;
                    }
                }
                break;
            }
            Fault::Swallow => Ok(()),
            Fault::Gate(gate) => {
                gate.wait();
                client.write_all(chunk)
            }
            Fault::Dribble(pause_each) => {
                let end = *dribble_end.get_or_insert_with(|| Instant::now() + DRIBBLE_FOR);
                dribble(&mut client, chunk, pause_each, end, state)
            }
            Fault::StaleFlood => {
                flood_stale(&mut client, state);
                break;
            }
            Fault::StatsFlood => match flood_stats(&mut client, &mut upstream, chunk, state) {
                Flood::NotStats => Ok(()),
                Flood::Done => break,
            },
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
}

/// Writes `chunk` one byte at a time, pausing before each; an error once
/// `end` passes or the proxy stops (the connection is then closed).
fn dribble(
    client: &mut TcpStream,
    chunk: &[u8],
    pause_each: Duration,
    end: Instant,
    state: &State,
) -> std::io::Result<()> {
    for byte in chunk {
        if Instant::now() > end || state.stop.load(Ordering::SeqCst) {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        std::thread::sleep(pause_each.min(Duration::from_secs(1)));
        client.write_all(std::slice::from_ref(byte))?;
    }
    Ok(())
}

const HEADER: usize = 24;
const STAT: u8 = 0x10;

/// The length of the complete reply frame at the start of `bytes`, if any.
fn frame_len(bytes: &[u8]) -> Option<usize> {
    let header = bytes.get(..HEADER)?;
    let body = u32::from_be_bytes([header[8], header[9], header[10], header[11]]) as usize;
    let len = HEADER + body;
    (bytes.len() >= len).then_some(len)
}

enum Flood {
    /// The reply was not a Stat reply: it was forwarded; carry on.
    NotStats,
    /// The flood ran; close the connection.
    Done,
}

/// Forwards a Stat reply's entries without the closing one, then floods.
fn flood_stats(
    client: &mut TcpStream,
    upstream: &mut TcpStream,
    first: &[u8],
    state: &State,
) -> Flood {
    let mut pending = first.to_vec();
    let mut in_stats = false;
    let end = Instant::now() + Duration::from_secs(2);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        while let Some(len) = frame_len(&pending) {
            let frame: Vec<u8> = pending.drain(..len).collect();
            let key_len = u16::from_be_bytes([frame[2], frame[3]]);
            if frame[1] == STAT && key_len == 0 {
                let opaque = [frame[12], frame[13], frame[14], frame[15]];
                stream_stat_entries(client, opaque, state);
                return Flood::Done;
            }
            in_stats |= frame[1] == STAT;
            if client.write_all(&frame).is_err() {
                return Flood::Done;
            }
        }
        if pending.is_empty() && !in_stats {
            return Flood::NotStats;
        }
        if Instant::now() > end || state.stop.load(Ordering::SeqCst) {
            return Flood::Done;
        }
        match upstream.read(&mut buf) {
            Ok(0) => return Flood::Done,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Flood::Done,
        }
    }
}

/// Sends stale Noop replies (opaque 0) every 5 ms; see [`Fault::StaleFlood`].
fn flood_stale(client: &mut TcpStream, state: &State) {
    let mut noop = [0u8; 24];
    noop[0] = 0x81;
    noop[1] = 0x0a;
    let _ = client.set_write_timeout(Some(Duration::from_secs(1)));
    let end = Instant::now() + FLOOD_FOR;
    while Instant::now() < end && !state.stop.load(Ordering::SeqCst) {
        if client.write_all(&noop).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Streams stat entries (never the closing one) until the client goes
/// away or stops reading, the proxy stops, or a time or byte limit passes.
fn stream_stat_entries(client: &mut TcpStream, opaque: [u8; 4], state: &State) {
    let mut block = Vec::with_capacity(64 * 1024);
    let value = [b'7'; 32];
    for i in 0..800u32 {
        let key = format!("flood_stat_{i:05}");
        let body = (key.len() + value.len()) as u32;
        block.extend_from_slice(&[0x81, STAT]);
        block.extend_from_slice(&(key.len() as u16).to_be_bytes());
        block.extend_from_slice(&[0, 0, 0, 0]); // extras, data type, status
        block.extend_from_slice(&body.to_be_bytes());
        block.extend_from_slice(&opaque);
        block.extend_from_slice(&[0; 8]); // cas
        block.extend_from_slice(key.as_bytes());
        block.extend_from_slice(&value);
    }
    // A client that stops reading must not block the proxy for ever.
    let _ = client.set_write_timeout(Some(Duration::from_secs(1)));
    let end = Instant::now() + FLOOD_FOR;
    let mut sent = 0;
    while sent < FLOOD_BYTES && Instant::now() < end && !state.stop.load(Ordering::SeqCst) {
        if client.write_all(&block).is_err() {
            return;
        }
        sent += block.len();
    }
}
