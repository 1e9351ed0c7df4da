//! Storing values: set, add, replace, append, prepend, cas, cp.

use std::io::Read;
use std::path::PathBuf;

use quickmc::Client;
use quickmc::value::ToValue;
use serde_json::json;

use crate::cli::{CasArgs, ValueArgs};
use crate::keys;
use crate::outcome::{KeyReport, KeyStatus, Outcome};
use crate::output::Failure;

/// The store commands that take a key and a value.
#[derive(Clone, Copy)]
pub enum Store {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
}

impl Store {
    /// Why the server did not store: what the command's condition says.
    fn refused(self) -> KeyStatus {
        match self {
            Store::Set => KeyStatus::NotStored,
            Store::Add => KeyStatus::Exists,
            Store::Replace | Store::Append | Store::Prepend => KeyStatus::NotFound,
        }
    }
}

/// A value as given: text from the command line, or bytes from stdin or a file.
enum Payload {
    Text(String),
    Bytes(Vec<u8>),
}

impl Payload {
    fn from_args(value: &ValueArgs) -> Result<Payload, Failure> {
        match (&value.value, &value.file) {
            (_, Some(path)) => read_file(path).map(Payload::Bytes),
            (Some(text), None) => Payload::from_text_or_dash(text),
            (None, None) => Err("give a value, - for stdin, or --file PATH".into()),
        }
    }

    fn from_text_or_dash(text: &str) -> Result<Payload, Failure> {
        if text == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("reading the value from stdin: {e}"))?;
            Ok(Payload::Bytes(bytes))
        } else {
            Ok(Payload::Text(text.to_string()))
        }
    }
}

fn read_file(path: &PathBuf) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()).into())
}

fn apply<V: ToValue>(
    client: &Client,
    op: Store,
    key: &str,
    value: V,
    ttl: u32,
) -> quickmc::Result<bool> {
    match op {
        Store::Set => client.set(key, value, ttl),
        Store::Add => client.add(key, value, ttl),
        Store::Replace => client.replace(key, value, ttl),
        Store::Append => client.append(key, value, ttl),
        Store::Prepend => client.prepend(key, value, ttl),
    }
}

/// set, add, replace (with `ttl`), append and prepend (`ttl` unused: they keep the item's).
pub fn store(
    client: &Client,
    op: Store,
    key: &str,
    value: &ValueArgs,
    ttl: u32,
    json: bool,
) -> Result<Outcome, Failure> {
    keys::check([key])?;
    let payload = Payload::from_args(value)?;
    let stored = match &payload {
        Payload::Text(text) => apply(client, op, key, text.as_str(), ttl),
        Payload::Bytes(bytes) => apply(client, op, key, &bytes[..], ttl),
    };
    let status = stored.map(|ok| if ok { KeyStatus::Ok } else { op.refused() });
    let mut report = KeyReport::new(json);
    report.key_result(key, status, json!({}))?;
    report.finish()
}

pub fn cas(client: &Client, args: &CasArgs, json: bool) -> Result<Outcome, Failure> {
    keys::check([args.key.as_str()])?;
    let stored = match Payload::from_text_or_dash(&args.value)? {
        Payload::Text(text) => client.cas(&args.key, text.as_str(), args.cas, args.ttl),
        Payload::Bytes(bytes) => client.cas(&args.key, &bytes[..], args.cas, args.ttl),
    };
    let status = stored.map(|ok| if ok { KeyStatus::Ok } else { KeyStatus::Stale });
    let mut report = KeyReport::new(json);
    report.key_result(&args.key, status, json!({}))?;
    report.finish()
}

pub fn cp(client: &Client, files: &[PathBuf], ttl: u32, json: bool) -> Result<Outcome, Failure> {
    let names = files
        .iter()
        .map(|path| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| format!("{}: not a file name", path.display()))
        })
        .collect::<Result<Vec<String>, String>>()?;
    keys::check(names.iter().map(String::as_str))?;
    let mut report = KeyReport::new(json);
    for (path, name) in files.iter().zip(&names) {
        let bytes = read_file(path)?;
        let status = client.set(name, &bytes[..], ttl).map(|ok| {
            if ok {
                KeyStatus::Ok
            } else {
                KeyStatus::NotStored
            }
        });
        if !json && matches!(status, Ok(KeyStatus::Ok)) {
            say!("stored {name} ({} bytes)", bytes.len());
        }
        report.key_result(name, status, json!({"bytes": bytes.len()}))?;
    }
    report.finish()
}
