//! What the load and chaos tests share: a small deterministic random
//! source, the server's connection count, and how errors under an outage
//! are judged.

use std::time::{Duration, Instant};

use quickmc::{Client, Error};

use super::Memcached;

/// A xorshift generator: deterministic per seed, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A general statistic of a server, asked by a plain client of its own
/// (memcached counts that client's connection, as it counts its listening
/// sockets, in `curr_connections`).
pub fn stat(spec: &str, name: &str) -> u64 {
    let probe = Client::new([spec]).unwrap();
    let stats = probe.stats("").unwrap();
    stats[0].1[name].parse().unwrap()
}

/// The server's `curr_connections`.
pub fn curr_connections(spec: &str) -> u64 {
    stat(spec, "curr_connections")
}

/// The server's `curr_connections` once it is steady: memcached counts a
/// connection when a worker thread takes it up (or lets it go), a moment
/// after the fact, so a count taken just after start-up or a close may
/// still move. Two equal readings in a row (for at most 1 s) settle it.
pub fn steady_connections(spec: &str) -> u64 {
    let end = Instant::now() + Duration::from_secs(1);
    let mut last = curr_connections(spec);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        let now = curr_connections(spec);
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// Polls `curr_connections` (for at most 5 s) until it is back to
/// `baseline`; returns the last count seen.
pub fn settle_connections(spec: &str, baseline: u64) -> u64 {
    let end = Instant::now() + Duration::from_secs(5);
    let mut now = curr_connections(spec);
    while now != baseline && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        now = curr_connections(spec);
    }
    now
}

/// Errors a call may end with while its server is stopped, killed or
/// restarting: typed, and never a value gone wrong.
pub fn is_outage(error: &Error) -> bool {
    matches!(
        error,
        Error::Timeout { .. } | Error::Io { .. } | Error::Connect { .. } | Error::ServerDown { .. }
    )
}

/// The variant's name, for counting errors by kind.
pub fn kind_of(error: &Error) -> String {
    format!("{error:?}")
        .split([' ', '(', '{'])
        .next()
        .unwrap_or("")
        .to_string()
}

/// The chaos the load tests run under: four rounds, each taking the first
/// or second server in turn, stopped (SIGSTOP) for a while, then killed and
/// restarted later, then restarted at once (killed under load).
pub fn chaos(servers: &mut [Memcached]) {
    let quiet = || std::thread::sleep(Duration::from_millis(250));
    for round in 0..4 {
        let Some(victim) = servers.get_mut(round % 2) else {
            return;
        };
        quiet();
        victim.pause();
        std::thread::sleep(Duration::from_millis(400));
        victim.resume();
        quiet();
        victim.kill();
        std::thread::sleep(Duration::from_millis(200));
        victim.restart();
        quiet();
        victim.restart();
    }
    quiet();
}
