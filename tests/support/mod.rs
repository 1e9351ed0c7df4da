//! Test support: real memcached processes on free loopback ports or Unix
//! sockets, started for the tests and stopped afterwards.
//!
//! Each memcached runs under a tiny `sh` guard reading our pipe: when the
//! test process exits for any reason the pipe closes and the guard kills
//! memcached, so no server outlives the tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub mod load;
pub mod proxy;
#[cfg(feature = "tls")]
pub mod tls;
pub mod wire;

const INSTALL_HINT: &str = "memcached is not installed: these tests run against real memcached \
processes. Install it with `apt-get update && apt-get install -y memcached` (Debian/Ubuntu), \
or run ./scripts/test.sh, which does so.";

/// Fails (never skips) when memcached is missing.
pub fn memcached_binary() -> &'static str {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        Command::new("memcached")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    assert!(found, "{INSTALL_HINT}");
    "memcached"
}

/// How to start a memcached.
#[derive(Debug, Clone)]
pub struct Options {
    pub item_size: Option<&'static str>,
    pub memory_mb: u32,
    pub threads: u32,
    pub unix_socket: bool,
    pub ipv6: bool,
    pub sasl_dir: Option<PathBuf>,
    pub extra: Vec<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            item_size: None,
            memory_mb: 64,
            threads: 2,
            unix_socket: false,
            ipv6: false,
            sasl_dir: None,
            extra: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
enum Listen {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// The SASL user of [`Memcached::start_sasl`].
pub const SASL_USER: &str = "alice";
/// Its password.
pub const SASL_PASSWORD: &str = "secret";

/// A running memcached; killed when dropped.
pub struct Memcached {
    guard: Child,
    guard_stdin: Option<ChildStdin>,
    pid: u32,
    listen: Listen,
    options: Options,
}

fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A fresh directory under this test process's own one,
/// `$TMPDIR/quickmc-test-<pid>`. Servers shared through statics are never
/// dropped, so nothing removes their files as the process exits; instead
/// the first call removes the directories of test processes that are gone.
pub fn temp_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    static MINE: OnceLock<PathBuf> = OnceLock::new();
    let mine = MINE.get_or_init(|| {
        remove_dead_processes_dirs();
        std::env::temp_dir().join(format!("quickmc-test-{}", std::process::id()))
    });
    let dir = mine.join(format!("{tag}-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Removes `$TMPDIR/quickmc-test-<pid>...` entries whose process no longer
/// runs (as /proc tells).
fn remove_dead_processes_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("quickmc-test-")) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if !pid.is_empty() && !Path::new("/proc").join(&pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Memcached {
    /// A memcached with default options on a free 127.0.0.1 port.
    pub fn start() -> Memcached {
        Memcached::with(Options::default())
    }

    pub fn with(options: Options) -> Memcached {
        let listen = if options.unix_socket {
            Listen::Unix(temp_dir("sock").join("memcached.sock"))
        } else if options.ipv6 {
            Listen::Tcp {
                host: "::1".into(),
                port: free_port("::1"),
            }
        } else {
            Listen::Tcp {
                host: "127.0.0.1".into(),
                port: free_port("127.0.0.1"),
            }
        };
        Memcached::launch(listen, options)
    }

    fn launch(listen: Listen, options: Options) -> Memcached {
        for attempt in 0..5 {
            let listen = match (&listen, attempt) {
                (Listen::Tcp { host, .. }, n) if n > 0 => Listen::Tcp {
                    host: host.clone(),
                    port: free_port(host),
                },
                (other, _) => other.clone(),
            };
            if let Some(server) = Memcached::try_launch(listen, options.clone()) {
                return server;
            }
        }
        panic!("memcached did not start after 5 attempts");
    }

    fn try_launch(listen: Listen, options: Options) -> Option<Memcached> {
        let binary = memcached_binary();
        let mut args: Vec<String> = vec![
            "-u".into(),
            "root".into(),
            "-m".into(),
            options.memory_mb.to_string(),
            "-t".into(),
            options.threads.to_string(),
            "-c".into(),
            "4096".into(),
        ];
        match &listen {
            Listen::Tcp { host, port } => {
                args.extend([
                    "-l".into(),
                    host.clone(),
                    "-p".into(),
                    port.to_string(),
                    "-U".into(),
                    "0".into(),
                ]);
            }
            Listen::Unix(path) => {
                let _ = std::fs::remove_file(path);
                args.extend(["-s".into(), path.display().to_string()]);
            }
        }
        if let Some(size) = options.item_size {
            args.extend(["-I".into(), size.into()]);
        }
        if options.sasl_dir.is_some() {
            args.push("-S".into());
        }
        args.extend(options.extra.iter().cloned());
        // The guard: start memcached, print its pid, wait for our pipe to
        // close, then kill it.
        let script = format!(
            "{binary} \"$@\" & pid=$!; echo $pid; read _unused; kill -CONT $pid 2>/dev/null; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null"
        );
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg("memcached-guard")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(dir) = &options.sasl_dir {
            command.env("SASL_CONF_PATH", dir);
        }
        let mut guard = command.spawn().expect("spawn sh");
        let stdout = guard.stdout.take().expect("guard stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("memcached pid");
        let pid: u32 = line.trim().parse().expect("memcached pid is a number");
        let server = Memcached {
            guard_stdin: guard.stdin.take(),
            guard,
            pid,
            listen,
            options,
        };
        if server.wait_ready(Duration::from_secs(5)) {
            Some(server)
        } else {
            None
        }
    }

    fn wait_ready(&self, within: Duration) -> bool {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if !self.is_running() {
                return false;
            }
            let up = match &self.listen {
                Listen::Tcp { host, port } => TcpStream::connect((host.as_str(), *port))
                    .map(|mut s| answered(&mut s, |s, t| s.set_read_timeout(t)))
                    .is_ok(),
                Listen::Unix(path) => std::os::unix::net::UnixStream::connect(path)
                    .map(|mut s| answered(&mut s, |s, t| s.set_read_timeout(t)))
                    .is_ok(),
            };
            if up {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    fn is_running(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
            && !std::fs::read_to_string(format!("/proc/{}/stat", self.pid))
                .map(|s| s.contains(") Z "))
                .unwrap_or(true)
    }

    /// The server spec to give a client.
    pub fn spec(&self) -> String {
        match &self.listen {
            Listen::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
            Listen::Tcp { host, port } => format!("{host}:{port}"),
            Listen::Unix(path) => path.display().to_string(),
        }
    }

    pub fn port(&self) -> u16 {
        match &self.listen {
            Listen::Tcp { port, .. } => *port,
            Listen::Unix(_) => 0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }

    /// SIGSTOP: the server accepts connections (the kernel does) but never
    /// answers. Returns once every thread of it has stopped (a signal is
    /// delivered asynchronously: a worker already running could otherwise
    /// still answer one more request).
    pub fn pause(&self) {
        self.signal("-STOP");
        let end = Instant::now() + Duration::from_secs(2);
        while !self.all_threads_stopped() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn all_threads_stopped(&self) -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return false;
        };
        tasks.flatten().all(|task| {
            std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
                stat.rsplit_once(") ")
                    .is_some_and(|(_, rest)| rest.starts_with('T'))
            })
        })
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// Kills the server (it stays down until `restart`).
    pub fn kill(&mut self) {
        self.signal("-CONT");
        self.signal("-KILL");
        let end = Instant::now() + Duration::from_secs(5);
        while self.is_running() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(2));
        }
        self.guard_stdin.take();
        let _ = self.guard.wait();
    }

    /// Starts a new memcached on the same port or socket (empty, as after a restart).
    pub fn restart(&mut self) {
        self.kill();
        for _ in 0..50 {
            if let Some(server) = Memcached::try_launch(self.listen.clone(), self.options.clone()) {
                *self = server;
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("memcached did not restart on {}", self.spec());
    }

    /// A memcached requiring SASL PLAIN (`-S`), with user [`SASL_USER`] and
    /// password [`SASL_PASSWORD`] in a sasldb made here (saslpasswd2 from
    /// Debian's sasl2-bin).
    pub fn start_sasl() -> Memcached {
        Memcached::start_sasl_with(Vec::new())
    }

    /// [`start_sasl`](Memcached::start_sasl) with more memcached arguments.
    pub fn start_sasl_with(extra: Vec<String>) -> Memcached {
        let saslpasswd2 = Command::new("saslpasswd2").arg("-v").output();
        assert!(
            saslpasswd2.is_ok(),
            "saslpasswd2 is not installed: install it with `apt-get install -y sasl2-bin` (or run ./scripts/test.sh)"
        );
        let dir = temp_dir("sasl");
        let db = dir.join("sasldb2");
        let mut child = Command::new("saslpasswd2")
            .args(["-p", "-a", "memcached", "-c", "-f"])
            .arg(&db)
            .arg(SASL_USER)
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn saslpasswd2");
        child
            .stdin
            .take()
            .expect("saslpasswd2 stdin")
            .write_all(SASL_PASSWORD.as_bytes())
            .expect("write the password");
        assert!(child.wait().expect("saslpasswd2 runs").success());
        std::fs::write(
            dir.join("memcached.conf"),
            format!("mech_list: plain\nsasldb_path: {}\n", db.display()),
        )
        .expect("write memcached.conf");
        Memcached::with(Options {
            sasl_dir: Some(dir),
            extra,
            ..Options::default()
        })
    }

    /// A client for this server with default behaviors.
    pub fn client(&self) -> quickmc::Client {
        quickmc::Client::new([self.spec()]).expect("client")
    }
}

impl Drop for Memcached {
    fn drop(&mut self) {
        self.kill();
        if let Listen::Unix(path) = &self.listen {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// One memcached shared by the tests of a test binary that do not disturb
/// it (each uses its own keys). Stopped by its guard when the binary exits.
pub fn shared() -> &'static Memcached {
    static SHARED: OnceLock<Memcached> = OnceLock::new();
    SHARED.get_or_init(Memcached::start)
}

/// `builder`'s client: pooled when `pipelined` is 0, else with that many
/// shared connections per server (tests that run in both modes).
pub fn build_in_mode(builder: quickmc::ClientBuilder, pipelined: usize) -> quickmc::Client {
    let builder = if pipelined > 0 {
        builder.pipelined(pipelined)
    } else {
        builder
    };
    builder.build().unwrap()
}

/// A key space of its own for each test: `prefix:name`.
pub fn key(test: &str, name: &str) -> String {
    format!("{test}:{name}")
}

/// Writes raw bytes to a server and reads `reply_len` bytes back (for
/// checks below the client).
pub fn raw_exchange(spec: &str, request: &[u8], reply_len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut stream = TcpStream::connect(spec).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut reply = vec![0; reply_len];
    stream.read_exact(&mut reply).unwrap();
    reply
}

/// The bytes and flags stored under `key`, as on the wire (no transcoder).
pub fn raw_get(spec: &str, key: &[u8]) -> Option<(Vec<u8>, u32)> {
    use quickmc::protocol::{Opcode, Request, Status};
    let reply = wire::Wire::connect(spec).request(Request::new(Opcode::Get, key));
    match reply.status {
        Status::Ok => Some((reply.value.clone(), reply.flags().unwrap())),
        Status::KeyNotFound => None,
        other => panic!("raw get: {other}"),
    }
}

/// Waits (200 ms at most) for any answer to a binary Noop on a readiness
/// probe: a reply, an error, a TLS alert or the close. memcached counts a
/// connection in `total_connections` only once a worker thread takes it
/// up, which may be after a later client's; a probe that was answered has
/// been counted before any test reads the counter.
fn answered<S: std::io::Read + std::io::Write>(
    stream: &mut S,
    set_read_timeout: impl Fn(&S, Option<Duration>) -> std::io::Result<()>,
) {
    let mut noop = [0u8; 24];
    noop[0] = 0x80;
    noop[1] = 0x0a;
    let _ = set_read_timeout(stream, Some(Duration::from_millis(200)));
    if stream.write_all(&noop).is_ok() {
        let _ = stream.read(&mut [0u8; 64]);
    }
}
