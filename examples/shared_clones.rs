//! A pool of worker threads sharing one Client: each gets a clone (an Arc
//! clone), and each operation checks a connection out of the target
//! server's pool and returns it.
//!
//! Run: `cargo run --example shared_clones -- 127.0.0.1:11211`

use std::time::Instant;

fn main() -> quickmc::Result<()> {
    let servers: Vec<String> = std::env::args().skip(1).collect();
    let servers = if servers.is_empty() {
        vec!["127.0.0.1:11211".to_string()]
    } else {
        servers
    };
    // Built once at start-up.
    let client = quickmc::Client::builder()
        .servers(&servers)
        .max_connections(8)
        .build()?;
    let start = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|worker| {
            let client = client.clone(); // cheap: shares pools and server health
            std::thread::spawn(move || -> quickmc::Result<u32> {
                let mut hits = 0;
                for i in 0..1000 {
                    let key = format!("example:shared:{worker}:{}", i % 50);
                    if client.get::<u64>(&key)?.is_some() {
                        hits += 1;
                    } else {
                        client.set(&key, i as u64, 60)?;
                    }
                }
                Ok(hits)
            })
        })
        .collect();
    let mut hits = 0;
    for w in workers {
        hits += w.join().expect("worker panicked")?;
    }
    println!(
        "16 threads, 16,000 operations, {hits} hits in {:?}; connections per server: {:?}",
        start.elapsed(),
        client.pool_state()
    );
    Ok(())
}
