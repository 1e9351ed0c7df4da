//! A fault-injecting TCP proxy in front of a real memcached: replies can be
//! delayed, truncated, corrupted, duplicated, cut, replaced by an oversized
//! length, swallowed, or held at a gate. Requests always pass unchanged.

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
    /// Never forward replies (a server that accepts and never answers).
    Swallow,
    /// Hold replies at a gate shared with other proxies.
    Gate(Arc<Gate>),
}

struct State {
    upstream: SocketAddr,
    fault: Mutex<(Fault, bool)>,
    stop: AtomicBool,
    accepted: AtomicUsize,
    gate_seen: AtomicBool,
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
            gate_seen: AtomicBool::new(false),
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

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
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

fn serve(client: TcpStream, state: Arc<State>) {
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
            Fault::OversizedLength => {
                let mut header = [0u8; 24];
                header[..24.min(n)].copy_from_slice(&chunk[..24.min(n)]);
                header[0] = 0x81;
                header[4] = 0;
                header[2] = 0;
                header[3] = 0;
                header[8..12].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
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
        };
        if sent.is_err() {
            break;
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
}
