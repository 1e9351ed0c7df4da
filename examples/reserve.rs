//! Keeping connections checked out for a run of operations (pylibmc's
//! `with pool.reserve() as mc:`): while the guard lives, this thread's
//! operations reuse the connections they checked out instead of returning
//! them to the pool after each call.
//!
//! Run: `cargo run --example reserve -- 127.0.0.1:11211`

fn main() -> quickmc::Result<()> {
    let servers: Vec<String> = std::env::args().skip(1).collect();
    let servers = if servers.is_empty() {
        vec!["127.0.0.1:11211".to_string()]
    } else {
        servers
    };
    let client = quickmc::Client::new(&servers)?;
    {
        let mc = client.reserve();
        mc.set("example:reserve:counter", 0u64, 60)?;
        for _ in 0..100 {
            mc.incr("example:reserve:counter", 1)?;
        }
        let total: Option<u64> = mc.get("example:reserve:counter")?;
        println!(
            "counter = {total:?}; connections checked out: {:?}",
            client.pool_state()
        );
    }
    println!(
        "after the reservation: {:?} (open, idle) per server",
        client.pool_state()
    );
    Ok(())
}
