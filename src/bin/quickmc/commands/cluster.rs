//! Commands about servers rather than keys: flush, stats, ping, version.

use std::collections::BTreeMap;

use quickmc::Client;
use serde_json::json;

use crate::outcome::Outcome;
use crate::output::{self, Failure, table};

/// Says each failed server's error on stderr; true if any failed.
pub fn tell_failures<T>(results: &[(String, quickmc::Result<T>)]) -> bool {
    let mut failed = false;
    for (server, result) in results {
        if let Err(e) = result {
            note!("{server}: {e}");
            failed = true;
        }
    }
    failed
}

pub fn flush(client: &Client, delay: u32, json: bool) -> Result<Outcome, Failure> {
    client.flush_all(delay)?;
    if json {
        output::json(&json!({"flushed": true, "delay": delay}))?;
    }
    Ok(Outcome::Ok)
}

pub fn stats(client: &Client, group: Option<&str>, json: bool) -> Result<Outcome, Failure> {
    let results = client.stats_per_server(group.unwrap_or(""));
    let failed = tell_failures(&results);
    let answered: Vec<(String, BTreeMap<String, String>)> = results
        .into_iter()
        .filter_map(|(s, r)| r.ok().map(|m| (s, m)))
        .collect();
    if json {
        let map: serde_json::Map<String, serde_json::Value> = answered
            .iter()
            .map(|(s, m)| (s.clone(), json!(m)))
            .collect();
        output::json(&serde_json::Value::Object(map))?;
    } else if !answered.is_empty() {
        stats_table(&answered)?;
    }
    Ok(Outcome::from_all_ok(!failed))
}

/// One row per statistic, one column per server.
fn stats_table(answered: &[(String, BTreeMap<String, String>)]) -> Result<(), Failure> {
    let mut names: Vec<&String> = answered.iter().flat_map(|(_, m)| m.keys()).collect();
    names.sort();
    names.dedup();
    let header = std::iter::once("stat".to_string()).chain(answered.iter().map(|(s, _)| s.clone()));
    let mut rows = vec![header.collect()];
    for name in names {
        let values = answered
            .iter()
            .map(|(_, m)| m.get(name).cloned().unwrap_or_default());
        rows.push(std::iter::once(name.clone()).chain(values).collect());
    }
    table(&rows)
}

pub fn ping(client: &Client, json: bool) -> Result<Outcome, Failure> {
    let results = client.ping();
    if json {
        let list: Vec<serde_json::Value> = results
            .iter()
            .map(|(s, r)| match r {
                Ok(rtt) => json!({"server": s, "up": true, "rtt_us": rtt.as_micros() as u64}),
                Err(e) => json!({"server": s, "up": false, "error": e.to_string()}),
            })
            .collect();
        output::json(&json!(list))?;
    } else {
        let mut rows = vec![vec![
            "server".to_string(),
            "status".into(),
            "round trip".into(),
        ]];
        for (s, r) in &results {
            rows.push(match r {
                Ok(rtt) => vec![s.clone(), "up".into(), format!("{} µs", rtt.as_micros())],
                Err(e) => vec![s.clone(), "DOWN".into(), e.to_string()],
            });
        }
        table(&rows)?;
    }
    Ok(Outcome::from_all_ok(results.iter().all(|(_, r)| r.is_ok())))
}

pub fn version(client: &Client, json: bool) -> Result<Outcome, Failure> {
    let results = client.version();
    if json {
        let map: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .filter_map(|(s, r)| r.as_ref().ok().map(|v| (s.clone(), json!(v))))
            .collect();
        output::json(&serde_json::Value::Object(map))?;
    } else {
        for (server, version) in &results {
            if let Ok(v) = version {
                say!("{server} {v}");
            }
        }
    }
    Ok(Outcome::from_all_ok(!tell_failures(&results)))
}
