//! A throwaway memcached on a free loopback port, for `demo` and `bench`
//! when no servers are given. Killed when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct LocalServer {
    child: Child,
    spec: String,
}

pub const INSTALL_HINT: &str = "memcached is not installed; install it with \
`apt-get update && apt-get install -y memcached`, or give --servers";

impl LocalServer {
    pub fn start(memory_mb: u32) -> Result<LocalServer, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("no free port: {e}"))?;
        let child = Command::new("memcached")
            .args(["-u", "root", "-l", "127.0.0.1", "-U", "0", "-t", "2"])
            .args(["-p", &port.to_string(), "-m", &memory_mb.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    INSTALL_HINT.to_string()
                } else {
                    format!("could not start memcached: {e}")
                }
            })?;
        let mut server = LocalServer {
            child,
            spec: format!("127.0.0.1:{port}"),
        };
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if TcpStream::connect(&server.spec).is_ok() {
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("memcached exited at start-up: {status}"));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err("memcached did not start within 5 s".into())
    }

    pub fn spec(&self) -> &str {
        &self.spec
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
