//! A client built before `fork()`, used in the child: a typed error, never
//! the parent's connections (two processes reading one socket take each
//! other's replies). Its own test binary: the child of a process running
//! other tests' threads could inherit a lock one of them held.

mod support;

use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use quickmc::{AsyncClient, Client, Error};
use support::Memcached;

/// One fork at a time (the tests of this binary run on threads).
static FORKING: Mutex<()> = Mutex::new(());

/// Forks; the child runs `child` and exits with its code. Returns the
/// child's exit code.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    in_child_within(Duration::from_secs(60), child).expect("the child hung")
}

/// Whether `client` reads "v" under `key`.
fn reads_v(client: &Client, key: &str) -> bool {
    client.get::<String>(key).unwrap().as_deref() == Some("v")
}

fn total_connections(client: &Client) -> String {
    client.stats("").unwrap()[0].1["total_connections"].clone()
}

#[test]
fn a_client_built_before_fork_fails_with_forked_in_the_child_and_the_parent_is_unharmed() {
    let _serial = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let server = Memcached::start();
    let pooled = Client::new([server.spec()]).unwrap();
    let pipelined = Client::builder()
        .servers([server.spec()])
        .pipelined(1)
        .build()
        .unwrap();
    // Both hold a live connection the child inherits.
    pooled.set("fork:k", "v", 0).unwrap();
    assert!(reads_v(&pipelined, "fork:k"));

    let code = in_child(|| {
        let pooled_refused = matches!(pooled.get::<String>("fork:k"), Err(Error::Forked));
        let shared_refused = matches!(pipelined.get::<String>("fork:k"), Err(Error::Forked));
        let fresh = Client::new([server.spec()]).and_then(|c| c.get::<String>("fork:k"));
        [
            pooled_refused,
            shared_refused,
            fresh.ok().flatten().as_deref() == Some("v"),
        ]
        .iter()
        .enumerate()
        .fold(0, |code, (bit, ok)| code | (i32::from(!ok) << bit))
    });
    // Bit 0: the pooled client was not refused; 1: the pipelined one; 2: a
    // client built in the child did not work.
    assert_eq!(code, 0);
    assert!(reads_v(&pooled, "fork:k"));
    assert!(reads_v(&pipelined, "fork:k"));
}

/// Dropping (or disconnecting) clients in the child must leave the
/// parent's connections alone: not shut its sockets down, not unregister
/// them from the epoll instance parent and child share (the async client).
#[test]
fn a_child_dropping_clients_built_before_fork_leaves_the_parents_connections_alone() {
    let _serial = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let server = Memcached::start();
    let mut pooled = Some(Client::new([server.spec()]).unwrap());
    let mut pipelined = Some(
        Client::builder()
            .servers([server.spec()])
            .pipelined(1)
            .build()
            .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut asynchronous = Some(
        AsyncClient::builder()
            .servers([server.spec()])
            .pipelined(1)
            .io_timeout(Some(Duration::from_secs(2)))
            .build_async()
            .unwrap(),
    );
    let (Some(p), Some(s), Some(a)) = (&pooled, &pipelined, &asynchronous) else {
        unreachable!()
    };
    p.set("fork_drop:k", "v", 0).unwrap();
    s.set("fork_drop:k", "v", 0).unwrap();
    runtime.block_on(async { a.set("fork_drop:k", "v", 0).await.unwrap() });
    let before = total_connections(p);
    let code = in_child(|| {
        // The child's copies, disconnected and dropped (the last references
        // in the child; the parent's are untouched by what happens here).
        let clients = (pooled.take(), pipelined.take(), asynchronous.take());
        if let (Some(p), Some(s), Some(a)) = &clients {
            p.disconnect_all();
            s.disconnect_all();
            a.disconnect_all();
        }
        drop(clients);
        0
    });
    assert_eq!(code, 0);
    let (Some(pooled), Some(pipelined), Some(asynchronous)) = (pooled, pipelined, asynchronous)
    else {
        unreachable!("the child's take() happened in the child")
    };
    // The async client's socket is still registered: a reply that comes
    // only after the server was paused still wakes it.
    server.pause();
    let resumed = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            server.resume();
        });
        runtime.block_on(async { asynchronous.get::<String>("fork_drop:k").await })
    });
    assert_eq!(resumed.unwrap().as_deref(), Some("v"));
    assert!(reads_v(&pipelined, "fork_drop:k"));
    assert!(reads_v(&pooled, "fork_drop:k"));
    // Still the same connections: none was closed by the child.
    assert_eq!(total_connections(&pooled), before);
}

/// Forks; the child runs `child` and exits with its code. Returns the
/// child's exit code, or `None` when it was still running after `limit`
/// (it is then killed).
fn in_child_within(limit: Duration, child: impl FnOnce() -> i32) -> Option<i32> {
    // SAFETY: the child runs `child` (client code that takes no lock a
    // thread of this binary could hold: forks are serialised) and `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let deadline = std::time::Instant::now() + limit;
    let mut status = 0;
    loop {
        // SAFETY: polls the child forked above.
        let waited = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if waited == pid {
            assert!(libc::WIFEXITED(status), "child status {status}");
            return Some(libc::WEXITSTATUS(status));
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: kills and reaps the child forked above.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The parent's connect threads idle parked in parking_lot's global table;
/// a child that starts threads of its own (here: 30 clients) is handed
/// their stacks. Before they stepped aside at forks, 8 to 12 children of
/// 40 hung for good.
#[test]
fn children_that_start_many_threads_never_hang_on_the_parents_idle_connect_threads() {
    let _serial = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let server = Memcached::start();
    let build = || {
        Client::builder()
            .servers([server.spec()])
            .pipelined(1)
            .build()
            .unwrap()
    };
    let parents: Vec<Client> = (0..30).map(|_| build()).collect();
    for (i, client) in parents.iter().enumerate() {
        client.set(format!("fork_threads:{i}"), "v", 0).unwrap();
    }
    let mut hung = 0;
    for _ in 0..40 {
        let outcome = in_child_within(Duration::from_secs(5), || {
            let mine: Vec<Client> = (0..30).map(|_| build()).collect();
            let read = mine
                .iter()
                .enumerate()
                .all(|(i, c)| reads_v(c, &format!("fork_threads:{i}")));
            i32::from(!read)
        });
        match outcome {
            Some(code) => assert_eq!(code, 0, "a child read the wrong value"),
            None => hung += 1,
        }
    }
    assert_eq!(hung, 0, "children that hung, of 40");
}

/// A fork from a thread-local destructor that runs after quickmc's own
/// thread-local on that thread is gone goes through (the fork handler used
/// to panic there, which aborted the process).
#[test]
fn a_fork_from_a_thread_local_destructor_goes_through() {
    static CHILD_CODE: AtomicI32 = AtomicI32::new(-1);
    struct ForkOnDrop;
    impl Drop for ForkOnDrop {
        fn drop(&mut self) {
            CHILD_CODE.store(in_child(|| 0), Ordering::SeqCst);
        }
    }
    thread_local! {
        static LAST: RefCell<Option<ForkOnDrop>> = const { RefCell::new(None) };
    }
    let _serial = FORKING.lock().unwrap_or_else(|e| e.into_inner());
    let server = Memcached::start();
    let client = Client::new([server.spec()]).unwrap();
    client.set("fork_dtor:k", "v", 0).unwrap();
    std::thread::spawn(|| {
        // Registered first, so destroyed after quickmc's, which the first
        // fork on this thread makes.
        LAST.with(|last| *last.borrow_mut() = Some(ForkOnDrop));
        assert_eq!(in_child(|| 0), 0);
    })
    .join()
    .unwrap();
    assert_eq!(CHILD_CODE.load(Ordering::SeqCst), 0);
    assert!(reads_v(&client, "fork_dtor:k"));
}
