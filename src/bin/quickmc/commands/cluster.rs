//! Commands about servers rather than keys: flush, stats, ping, version, dump.

use std::collections::BTreeMap;

use quickmc::Client;
use serde_json::json;

use crate::outcome::Outcome;
use crate::output::{self, Failure, table};

/// Says each failed server's error on stderr (naming the server once: most
/// errors name it already); true if any failed.
pub fn tell_failures<T>(results: &[(String, quickmc::Result<T>)]) -> bool {
    let mut failed = false;
    for (server, result) in results {
        if let Err(e) = result {
            let message = e.to_string();
            if message.contains(server.as_str()) {
                note!("{message}");
            } else {
                note!("{server}: {message}");
            }
            failed = true;
        }
    }
    failed
}

/// Flushes every server. A server that fails makes the command fail (exit
/// 2) after the others were flushed; `--json` says which were.
pub fn flush(client: &Client, delay: u32, json: bool) -> Result<Outcome, Failure> {
    let results = client.flush_all_per_server(delay);
    let failed = tell_failures(&results);
    if json {
        let servers: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|(server, result)| {
                let outcome = match result {
                    Ok(()) => json!({"status": "ok"}),
                    Err(e) => json!({"status": "failed", "error": e.to_string()}),
                };
                (server.clone(), outcome)
            })
            .collect();
        output::json(&json!({"flushed": !failed, "delay": delay, "servers": servers}))?;
    }
    if failed {
        return Err("not every server was flushed".into());
    }
    Ok(Outcome::Ok)
}

pub fn stats(client: &Client, group: Option<&str>, json: bool) -> Result<Outcome, Failure> {
    let group = group.unwrap_or("");
    let mut results = client.stats_per_server(group);
    // memcached offers some groups (`conns`) only over its text protocol,
    // on the same port: ask there, as memcstat does.
    let unsupported =
        |r: &quickmc::Result<_>| matches!(r, Err(quickmc::Error::UnsupportedStatsGroup { .. }));
    if results.iter().any(|(_, r)| unsupported(r)) {
        let text = client.stats_text(group);
        for ((_, result), (_, over_text)) in results.iter_mut().zip(text) {
            if unsupported(result) {
                *result = over_text;
            }
        }
    }
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
                Ok(ping) => json!({
                    "server": s,
                    "up": true,
                    "rtt_us": ping.round_trip.as_micros() as u64,
                    "tls": ping.tls.as_ref().map(|t| json!({"version": t.version, "cipher": t.cipher})),
                }),
                Err(e) => json!({"server": s, "up": false, "error": e.to_string()}),
            })
            .collect();
        output::json(&json!(list))?;
    } else {
        let mut rows = vec![vec![
            "server".to_string(),
            "status".into(),
            "round trip".into(),
            "tls".into(),
        ]];
        for (s, r) in &results {
            rows.push(match r {
                Ok(ping) => vec![
                    s.clone(),
                    "up".into(),
                    format!("{} µs", ping.round_trip.as_micros()),
                    ping.tls
                        .as_ref()
                        .map_or("-".into(), |t| format!("{} {}", t.version, t.cipher)),
                ],
                Err(e) => vec![s.clone(), "DOWN".into(), e.to_string(), String::new()],
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

/// Every key the servers hold, one per line (as memcdump), or with --json
/// one array of `{server, key, expiration, last_access, cas, size}`
/// streamed as the listing arrives.
pub fn dump(client: &Client, json: bool) -> Result<Outcome, Failure> {
    let servers: Vec<String> = client.servers().iter().map(ToString::to_string).collect();
    let mut written = 0u64;
    let mut out: Result<(), Failure> = if json { output::bytes(b"[") } else { Ok(()) };
    let results = client.dump_keys(|server, entry| {
        let key = String::from_utf8_lossy(&entry.key);
        let line = if json {
            let record = json!({
                "server": servers.get(server),
                "key": key,
                "expiration": entry.expiration,
                "last_access": entry.last_access,
                "cas": entry.cas,
                "size": entry.size,
            });
            let comma = if written == 0 { "" } else { "," };
            output::bytes(format!("{comma}\n{record}").as_bytes())
        } else {
            output::line(format_args!("{key}"))
        };
        written += 1;
        match line {
            Ok(()) => true,
            Err(e) => {
                // stdout closed (or failed): stop listing, report below.
                out = Err(e);
                false
            }
        }
    });
    out?;
    if json {
        output::bytes(b"\n]\n")?;
    }
    Ok(Outcome::from_all_ok(!tell_failures(&results)))
}
