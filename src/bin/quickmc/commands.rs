//! The operator commands: each prints for people, or JSON with `--json`,
//! and reports misses through the exit status.

use std::collections::BTreeMap;
use std::io::Write;

use quickmc::value::{FromValue, Item, Value};
use quickmc::{BatchReport, Client, Error};
use serde_json::json;

use super::{Command, Failure, Outcome};
use crate::output::{self, table};

fn found(ok: bool) -> Outcome {
    if ok { Outcome::Ok } else { Outcome::Miss }
}

/// A stored value as text: by its flags, falling back to lossy UTF-8.
fn display(item: Item<'static>) -> String {
    let data = item.data.clone();
    match Value::from_item(item) {
        Ok(Value::Postcard(bytes)) => format!("<postcard value, {} bytes>", bytes.len()),
        Ok(value) => value.to_string(),
        Err(_) => String::from_utf8_lossy(&data).into_owned(),
    }
}

/// Reports server errors and per-key failures on stderr; true if a server failed.
fn report_errors<K: std::fmt::Display>(report: &BatchReport<K>) -> bool {
    for failed in &report.server_errors {
        eprintln!("{}: {} ({} keys)", failed.server, failed.error, failed.keys);
    }
    for failure in &report.failures {
        eprintln!("{}: {}", failure.key, failure.error);
    }
    !report.server_errors.is_empty()
}

fn per_server_failed<T>(results: &[(String, quickmc::Result<T>)]) -> bool {
    let mut failed = false;
    for (server, result) in results {
        if let Err(e) = result {
            eprintln!("{server}: {e}");
            failed = true;
        }
    }
    failed
}

pub fn run(client: &Client, command: Command, json: bool) -> Result<Outcome, Failure> {
    Ok(match command {
        Command::Get { keys } => {
            let (mut hits, report) =
                client.get_multi_report::<_, Item<'static>>(keys.iter().map(String::as_str), "")?;
            let server_failed = report_errors(&report);
            let mut missing = false;
            let mut values = serde_json::Map::new();
            for key in &keys {
                match hits.remove(key.as_str()) {
                    Some(item) if json => {
                        values.insert(key.clone(), json!(display(item)));
                    }
                    Some(item) => println!("{}", display(item)),
                    None => {
                        if !json && report.failures.iter().all(|f| f.key != key) {
                            eprintln!("{key}: not found");
                        }
                        missing = true;
                    }
                }
            }
            if json {
                output::json(&serde_json::Value::Object(values));
            }
            if server_failed {
                return Err("some servers did not answer".into());
            }
            found(!missing)
        }
        Command::Cat { keys } => {
            let (mut hits, report) =
                client.get_multi_report::<_, Vec<u8>>(keys.iter().map(String::as_str), "")?;
            let server_failed = report_errors(&report);
            let mut stdout = std::io::stdout().lock();
            let mut missing = false;
            for key in &keys {
                match hits.remove(key.as_str()) {
                    Some(bytes) => stdout.write_all(&bytes)?,
                    None => {
                        eprintln!("{key}: not found");
                        missing = true;
                    }
                }
            }
            stdout.flush()?;
            if server_failed {
                return Err("some servers did not answer".into());
            }
            found(!missing)
        }
        Command::Set(a) => found(client.set(&a.key, &a.value, a.ttl)?),
        Command::Add(a) => found(client.add(&a.key, &a.value, a.ttl)?),
        Command::Replace(a) => found(client.replace(&a.key, &a.value, a.ttl)?),
        Command::Append(a) => found(client.append(&a.key, &a.value, 0)?),
        Command::Prepend(a) => found(client.prepend(&a.key, &a.value, 0)?),
        Command::Cp { files, ttl } => {
            let mut all = true;
            let mut stored = Vec::new();
            for path in &files {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("{}: not a file name", path.display()))?;
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                match client.set(&name, &bytes[..], ttl) {
                    Ok(true) => stored.push(json!({"key": name, "bytes": bytes.len()})),
                    Ok(false) => {
                        eprintln!("{name}: not stored");
                        all = false;
                    }
                    Err(e @ (Error::TooLarge | Error::BadKey(_))) => {
                        eprintln!("{name}: {e}");
                        all = false;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if json {
                output::json(&json!(stored));
            } else {
                for s in &stored {
                    println!(
                        "stored {} ({} bytes)",
                        s["key"].as_str().unwrap_or(""),
                        s["bytes"]
                    );
                }
            }
            found(all)
        }
        Command::Delete { keys } => {
            let report = client.delete_multi_report(keys.iter().map(String::as_str), "")?;
            if report_errors(&report) {
                return Err("some servers did not answer".into());
            }
            found(report.failures.is_empty())
        }
        Command::Incr { key, delta } => counter(client.incr(&key, delta), json)?,
        Command::Decr { key, delta } => counter(client.decr(&key, delta), json)?,
        Command::Touch { key, seconds } => found(client.touch(&key, seconds)?),
        Command::Flush { delay } => {
            client.flush_all(delay)?;
            Outcome::Ok
        }
        Command::Stats { group } => {
            let results = client.stats_per_server(group.as_deref().unwrap_or(""));
            let failed = per_server_failed(&results);
            let ok: Vec<(String, BTreeMap<String, String>)> = results
                .into_iter()
                .filter_map(|(s, r)| r.ok().map(|m| (s, m)))
                .collect();
            if json {
                let map: serde_json::Map<String, serde_json::Value> =
                    ok.iter().map(|(s, m)| (s.clone(), json!(m))).collect();
                output::json(&serde_json::Value::Object(map));
            } else if !ok.is_empty() {
                let mut names: Vec<&String> = ok.iter().flat_map(|(_, m)| m.keys()).collect();
                names.sort();
                names.dedup();
                let mut rows = vec![
                    std::iter::once("stat".to_string())
                        .chain(ok.iter().map(|(s, _)| s.clone()))
                        .collect(),
                ];
                for name in names {
                    rows.push(
                        std::iter::once(name.clone())
                            .chain(
                                ok.iter()
                                    .map(|(_, m)| m.get(name).cloned().unwrap_or_default()),
                            )
                            .collect(),
                    );
                }
                table(&rows);
            }
            found(!failed)
        }
        Command::Ping => {
            let results = client.ping();
            if json {
                let list: Vec<serde_json::Value> = results
                    .iter()
                    .map(|(s, r)| match r {
                        Ok(rtt) => {
                            json!({"server": s, "up": true, "rtt_us": rtt.as_micros() as u64})
                        }
                        Err(e) => json!({"server": s, "up": false, "error": e.to_string()}),
                    })
                    .collect();
                output::json(&json!(list));
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
                table(&rows);
            }
            found(results.iter().all(|(_, r)| r.is_ok()))
        }
        Command::Version => {
            let results = client.version();
            if json {
                let map: serde_json::Map<String, serde_json::Value> = results
                    .iter()
                    .filter_map(|(s, r)| r.as_ref().ok().map(|v| (s.clone(), json!(v))))
                    .collect();
                output::json(&serde_json::Value::Object(map));
            } else {
                for (server, version) in &results {
                    if let Ok(v) = version {
                        println!("{server} {v}");
                    }
                }
            }
            found(!per_server_failed(&results))
        }
        Command::Ring { keys } => ring(client, &keys, json)?,
        Command::Bench(_) | Command::Demo => unreachable!("handled in main"),
    })
}

fn counter(result: quickmc::Result<u64>, json: bool) -> Result<Outcome, Failure> {
    match result {
        Ok(n) => {
            if json {
                output::json(&json!(n));
            } else {
                println!("{n}");
            }
            Ok(Outcome::Ok)
        }
        Err(Error::NotFound) => {
            eprintln!("not found");
            Ok(Outcome::Miss)
        }
        Err(e) => Err(e.into()),
    }
}

fn ring(client: &Client, keys: &[String], json: bool) -> Result<Outcome, Failure> {
    let servers = client.servers();
    let distribution = client.distribution();
    let shares = distribution.key_space_shares();
    if json {
        let summary: Vec<serde_json::Value> = servers
            .iter()
            .zip(&shares)
            .enumerate()
            .map(|(i, (s, share))| json!({"index": i, "server": s.to_string(), "weight": s.weight, "share": share}))
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
        }));
        return Ok(Outcome::Ok);
    }
    for key in keys {
        let index = client.hash(key)?;
        let spec = servers
            .get(index)
            .map(|s| s.to_string())
            .unwrap_or_default();
        println!("{key}\t{index}\t{spec}");
    }
    if keys.is_empty() {
        println!(
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
        for (i, (s, share)) in servers.iter().zip(&shares).enumerate() {
            rows.push(vec![
                i.to_string(),
                s.address.to_string(),
                s.weight.to_string(),
                format!("{:.1}%", share * 100.0),
            ]);
        }
        table(&rows);
    }
    Ok(Outcome::Ok)
}
