//! The pool-per-thread pattern (pylibmc's ThreadMappedPool): a clone of the
//! Client kept in a `thread_local!`, made on first use by each thread. With
//! quickmc the clones share one set of pools, so this is only a convenience
//! for code that cannot pass the client around.
//!
//! Run: `cargo run --example thread_local -- 127.0.0.1:11211`

use std::cell::OnceCell;
use std::sync::OnceLock;

static CLIENT: OnceLock<quickmc::Client> = OnceLock::new();

thread_local! {
    static MC: OnceCell<quickmc::Client> = const { OnceCell::new() };
}

/// Runs `f` with this thread's client.
fn with_mc<R>(f: impl FnOnce(&quickmc::Client) -> R) -> R {
    MC.with(|cell| f(cell.get_or_init(|| CLIENT.get().expect("client built at start-up").clone())))
}

fn handle_request(user: u32) -> quickmc::Result<String> {
    with_mc(|mc| {
        let key = format!("example:tls:user:{user}");
        if let Some(name) = mc.get::<String>(&key)? {
            return Ok(name);
        }
        let name = format!("user-{user}");
        mc.set(&key, &name, 300)?;
        Ok(name)
    })
}

fn main() -> quickmc::Result<()> {
    let servers: Vec<String> = std::env::args().skip(1).collect();
    let servers = if servers.is_empty() {
        vec!["127.0.0.1:11211".to_string()]
    } else {
        servers
    };
    CLIENT
        .set(quickmc::Client::new(&servers)?)
        .expect("set once");
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                (0..100)
                    .map(|i| handle_request(t * 100 + i % 10))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut served = 0;
    for t in threads {
        for result in t.join().expect("thread panicked") {
            result?;
            served += 1;
        }
    }
    println!("served {served} requests from 8 threads");
    Ok(())
}
