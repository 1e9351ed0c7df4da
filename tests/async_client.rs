//! The async client against real memcached: every operation, many tasks at
//! once, cancellation at random points, faults and recovery.

mod support;

use support::{Memcached, key, shared};

fn client(server: &Memcached) -> quickmc::AsyncClient {
    quickmc::AsyncClient::new([server.spec()]).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke() {
    let c = client(shared());
    let k = key("async_smoke", "a");
    assert!(c.set(&k, "hello", 0).await.unwrap());
    assert_eq!(c.get::<String>(&k).await.unwrap().as_deref(), Some("hello"));
}
