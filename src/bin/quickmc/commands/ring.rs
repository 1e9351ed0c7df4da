//! `ring`: how the key space divides across servers, and where keys go.

use quickmc::Client;
use serde_json::json;

use crate::keys;
use crate::outcome::Outcome;
use crate::output::{self, Failure, percent, table};

pub fn ring(client: &Client, keys: &[String], json: bool) -> Result<Outcome, Failure> {
    keys::check(keys.iter().map(String::as_str))?;
    if json {
        print_json(client, keys)?;
    } else if keys.is_empty() {
        print_summary(client)?;
    } else {
        print_placements(client, keys)?;
    }
    Ok(Outcome::Ok)
}

fn print_json(client: &Client, keys: &[String]) -> Result<(), Failure> {
    let servers = client.servers();
    let distribution = client.distribution();
    let summary: Vec<serde_json::Value> = servers
        .iter()
        .zip(distribution.key_space_shares())
        .enumerate()
        .map(|(i, (s, share))| {
            json!({"index": i, "server": s.to_string(), "weight": s.weight, "share": share})
        })
        .collect();
    let placed: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            let i = client.hash(k)?;
            Ok(json!({"key": k, "index": i, "server": servers.get(i).map(|s| s.to_string())}))
        })
        .collect::<quickmc::Result<_>>()?;
    output::json(&json!({
        "distribution": distribution.kind().to_string(),
        "hash": distribution.hash_algorithm().to_string(),
        "servers": summary,
        "keys": placed,
    }))
}

/// KEY<TAB>INDEX<TAB>SERVER per key.
fn print_placements(client: &Client, keys: &[String]) -> Result<(), Failure> {
    let servers = client.servers();
    for key in keys {
        let index = client.hash(key)?;
        let spec = servers
            .get(index)
            .map(|s| s.to_string())
            .unwrap_or_default();
        say!("{key}\t{index}\t{spec}");
    }
    Ok(())
}

fn print_summary(client: &Client) -> Result<(), Failure> {
    let distribution = client.distribution();
    say!(
        "{} distribution, {} hash",
        distribution.kind(),
        distribution.hash_algorithm()
    );
    let mut rows = vec![vec![
        "index".to_string(),
        "server".into(),
        "weight".into(),
        "key space".into(),
    ]];
    for (i, (s, share)) in client
        .servers()
        .iter()
        .zip(distribution.key_space_shares())
        .enumerate()
    {
        rows.push(vec![
            i.to_string(),
            s.address.to_string(),
            s.weight.to_string(),
            percent(share),
        ]);
    }
    table(&rows)
}
