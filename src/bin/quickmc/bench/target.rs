//! What the benchmark drives: the blocking client (pooled or pipelined) or
//! the async client, behind one set of async calls so every mode runs the
//! same worker loop. On the blocking client the calls complete where they
//! stand (each blocks its worker thread).

use std::collections::HashMap;
use std::time::Duration;

use quickmc::{AsyncClient, BatchReport, Client, Result};

#[derive(Clone)]
pub enum Target {
    Blocking(Client),
    Async(AsyncClient),
}

impl Target {
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Target::Blocking(client) => client.get(key),
            Target::Async(client) => client.get(key).await,
        }
    }

    pub async fn get_multi_report<'k>(
        &self,
        keys: &'k [String],
    ) -> Result<(HashMap<&'k str, Vec<u8>>, BatchReport<&'k str>)> {
        let keys = keys.iter().map(String::as_str);
        match self {
            Target::Blocking(client) => client.get_multi_report(keys, ""),
            Target::Async(client) => client.get_multi_report(keys, "").await,
        }
    }

    pub async fn set(&self, key: &str, value: &[u8]) -> Result<bool> {
        match self {
            Target::Blocking(client) => client.set(key, value, 0),
            Target::Async(client) => client.set(key, value, 0).await,
        }
    }

    pub async fn set_multi_report<'k>(
        &self,
        items: Vec<(&'k str, &[u8])>,
    ) -> Result<BatchReport<&'k str>> {
        match self {
            Target::Blocking(client) => client.set_multi_report(items, "", 0),
            Target::Async(client) => client.set_multi_report(items, "", 0).await,
        }
    }

    /// Waits a while (after an error), as a thread or as a task.
    pub async fn pause(&self, wait: Duration) {
        match self {
            Target::Blocking(_) => std::thread::sleep(wait),
            Target::Async(_) => tokio::time::sleep(wait).await,
        }
    }
}
