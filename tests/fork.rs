//! A client built before `fork()`, used in the child: a typed error, never
//! the parent's connections (two processes reading one socket take each
//! other's replies). Its own test binary: the child of a process running
//! other tests' threads could inherit a lock one of them held.

mod support;

use quickmc::{Client, Error};
use support::Memcached;

#[test]
fn a_client_built_before_fork_fails_with_forked_in_the_child_and_the_parent_is_unharmed() {
    let server = Memcached::start();
    let pooled = Client::new([server.spec()]).unwrap();
    let pipelined = Client::builder()
        .servers([server.spec()])
        .pipelined(1)
        .build()
        .unwrap();
    // Both hold a live connection the child inherits.
    pooled.set("fork:k", "v", 0).unwrap();
    assert_eq!(
        pipelined.get::<String>("fork:k").unwrap().as_deref(),
        Some("v")
    );

    // SAFETY: the child only runs this client code and then `_exit`s; the
    // test binary runs this one test, so no other test thread holds a lock.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let pooled_refused = matches!(pooled.get::<String>("fork:k"), Err(Error::Forked));
        let shared_refused = matches!(pipelined.get::<String>("fork:k"), Err(Error::Forked));
        let fresh = Client::new([server.spec()]).and_then(|c| c.get::<String>("fork:k"));
        let code = [
            pooled_refused,
            shared_refused,
            fresh.ok().flatten().as_deref() == Some("v"),
        ]
        .iter()
        .enumerate()
        .fold(0, |code, (bit, ok)| code | (i32::from(!ok) << bit));
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "child status {status}");
    // Bit 0: the pooled client was not refused; 1: the pipelined one; 2: a
    // client built in the child did not work.
    assert_eq!(libc::WEXITSTATUS(status), 0);
    assert_eq!(
        pooled.get::<String>("fork:k").unwrap().as_deref(),
        Some("v")
    );
    assert_eq!(
        pipelined.get::<String>("fork:k").unwrap().as_deref(),
        Some("v")
    );
}
