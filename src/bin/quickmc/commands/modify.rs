//! Changing keys in place: delete, incr, decr, touch.

use quickmc::Client;
use serde_json::json;

use crate::keys;
use crate::outcome::{KeyReport, KeyStatus, Outcome};
use crate::output::Failure;

pub fn delete(client: &Client, keys: &[String], json: bool) -> Result<Outcome, Failure> {
    keys::check(keys.iter().map(String::as_str))?;
    let batch = client.delete_multi_report(keys.iter().map(String::as_str), "")?;
    let mut report = KeyReport::new(json);
    for failed in &batch.server_errors {
        report.server_failed(&failed.server, &failed.error);
    }
    for key in keys {
        let status = match batch.failures.iter().find(|f| f.key == key.as_str()) {
            None => KeyStatus::Ok,
            Some(failure) => KeyStatus::from_error(&failure.error)
                .unwrap_or_else(|| KeyStatus::Failed(failure.error.to_string())),
        };
        report.key(key, &status, json!({}));
    }
    report.finish()
}

/// incr (`up`) or decr: prints the new value.
pub fn count(
    client: &Client,
    key: &str,
    delta: u64,
    up: bool,
    json: bool,
) -> Result<Outcome, Failure> {
    keys::check([key])?;
    let result = if up {
        client.incr(key, delta)
    } else {
        client.decr(key, delta)
    };
    let mut report = KeyReport::new(json);
    let fields = match &result {
        Ok(n) => {
            if !json {
                say!("{n}");
            }
            json!({"value": n})
        }
        Err(_) => json!({}),
    };
    report.key_result(key, result.map(|_| KeyStatus::Ok), fields)?;
    report.finish()
}

pub fn touch(client: &Client, key: &str, seconds: u32, json: bool) -> Result<Outcome, Failure> {
    keys::check([key])?;
    let status = client.touch(key, seconds).map(|touched| {
        if touched {
            KeyStatus::Ok
        } else {
            KeyStatus::NotFound
        }
    });
    let mut report = KeyReport::new(json);
    report.key_result(key, status, json!({}))?;
    report.finish()
}
