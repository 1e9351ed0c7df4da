//! Reading keys: get, cat.

use quickmc::Client;
use quickmc::value::{FromValue, Item, Value};
use serde_json::json;

use crate::keys;
use crate::outcome::{KeyReport, KeyStatus, Outcome};
use crate::output::{self, Failure};

/// One key's answer to a read.
enum Answer {
    Hit(Item<'static>),
    Miss(KeyStatus),
}

/// Reads `keys`, in order, as one batch per server. A key whose server
/// failed is a miss of its own kind, never "not found"; the server's error
/// goes to `report` once.
fn read(client: &Client, keys: &[String], report: &mut KeyReport) -> Result<Vec<Answer>, Failure> {
    let (hits, batch) =
        client.get_multi_report::<_, Item<'static>>(keys.iter().map(String::as_str), "")?;
    for (server, _, error) in &batch.server_errors {
        report.server_failed(server, error);
    }
    let failed: Vec<&str> = batch
        .server_errors
        .iter()
        .map(|(server, _, _)| server.as_str())
        .collect();
    Ok(keys
        .iter()
        .map(|key| {
            if let Some(item) = hits.get(key.as_str()) {
                return Answer::Hit(item.clone());
            }
            if let Some(failure) = batch.failures.iter().find(|f| f.key == key) {
                return Answer::Miss(KeyStatus::Failed(failure.error.to_string()));
            }
            match server_of(client, key) {
                Some(server) if failed.contains(&server.as_str()) => {
                    Answer::Miss(KeyStatus::ServerFailed(server))
                }
                _ => Answer::Miss(KeyStatus::NotFound),
            }
        })
        .collect())
}

/// The server a key was sent to (named as the client names servers in errors).
fn server_of(client: &Client, key: &str) -> Option<String> {
    let index = client.hash(key).ok()?;
    client.servers().get(index).map(|s| s.address.to_string())
}

/// A stored value as text: by its flags, falling back to lossy UTF-8.
fn display(item: &Item<'static>) -> String {
    match Value::from_item(item.clone()) {
        Ok(Value::Postcard(bytes)) => format!("<postcard value, {} bytes>", bytes.len()),
        Ok(value) => value.to_string(),
        Err(_) => String::from_utf8_lossy(&item.data).into_owned(),
    }
}

pub fn get(client: &Client, keys: &[String], json: bool) -> Result<Outcome, Failure> {
    keys::check(keys.iter().map(String::as_str))?;
    let mut report = KeyReport::new(json);
    let answers = read(client, keys, &mut report)?;
    for (key, answer) in keys.iter().zip(answers) {
        match answer {
            Answer::Hit(item) => {
                let text = display(&item);
                if !json {
                    say!("{text}");
                }
                report.key(key, &KeyStatus::Ok, json!({"value": text}));
            }
            Answer::Miss(status) => report.key(key, &status, json!({})),
        }
    }
    report.finish()
}

pub fn cat(client: &Client, keys: &[String], json: bool) -> Result<Outcome, Failure> {
    keys::check(keys.iter().map(String::as_str))?;
    let mut report = KeyReport::new(json);
    let answers = read(client, keys, &mut report)?;
    for (key, answer) in keys.iter().zip(answers) {
        match answer {
            Answer::Hit(item) => {
                if !json {
                    output::bytes(&item.data)?;
                }
                report.key(key, &KeyStatus::Ok, json!({"bytes": item.data.len()}));
            }
            Answer::Miss(status) => report.key(key, &status, json!({})),
        }
    }
    report.finish()
}
