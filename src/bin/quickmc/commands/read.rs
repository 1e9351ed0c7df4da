//! Reading keys: get, gets, cat, exists.

use quickmc::Client;
use quickmc::value::Item;
use serde_json::json;

use crate::cli::ShowArgs;
use crate::keys::{self, shown};
use crate::outcome::{KeyReport, KeyStatus, Outcome, failed_server};
use crate::output::{self, Failure};
use crate::show::{self, Format};

/// One key's answer to a read.
enum Answer {
    Hit {
        item: Item<'static>,
        cas: Option<u64>,
    },
    Miss(KeyStatus),
}

/// Reads `keys`, in order: with CAS ids one `gets` per key, else one batch
/// per server. A key whose server failed is a miss of its own kind, never
/// "not found"; the server's error goes to `report` once.
fn read(
    client: &Client,
    keys: &[String],
    with_cas: bool,
    report: &mut KeyReport,
) -> Result<Vec<Answer>, Failure> {
    if with_cas {
        keys.iter()
            .map(|key| read_one(client, key, report))
            .collect()
    } else {
        read_batch(client, keys, report)
    }
}

fn read_one(client: &Client, key: &str, report: &mut KeyReport) -> Result<Answer, Failure> {
    match client.gets::<Item<'static>>(key) {
        Ok(Some((item, cas))) => Ok(Answer::Hit {
            item,
            cas: Some(cas),
        }),
        Ok(None) => Ok(Answer::Miss(KeyStatus::NotFound)),
        Err(error) => match KeyStatus::from_error(&error) {
            Some(status) => {
                if let KeyStatus::ServerFailed(server) = &status {
                    report.server_failed(server, &error);
                }
                Ok(Answer::Miss(status))
            }
            None => Err(format!("{}: {error}", shown(key)).into()),
        },
    }
}

fn read_batch(
    client: &Client,
    keys: &[String],
    report: &mut KeyReport,
) -> Result<Vec<Answer>, Failure> {
    let (hits, batch) =
        client.get_multi_report::<_, Item<'static>>(keys.iter().map(String::as_str), "")?;
    for failed in &batch.server_errors {
        report.server_failed(&failed.server, &failed.error);
    }
    Ok(keys
        .iter()
        .map(|key| {
            if let Some(item) = hits.get(key.as_str()) {
                return Answer::Hit {
                    item: item.clone(),
                    cas: None,
                };
            }
            // The report names every key that was not read: a value that
            // could not be read, or a key its failed server left unasked.
            match batch.failures.iter().find(|f| f.key == key) {
                Some(failure) => Answer::Miss(match failed_server(&failure.error) {
                    Some(server) => KeyStatus::ServerFailed(server),
                    None => KeyStatus::Failed(failure.error.to_string()),
                }),
                None => Answer::Miss(KeyStatus::NotFound),
            }
        })
        .collect())
}

/// A hit's JSON record: the value, how it is encoded, flags, size, CAS id.
fn hit_fields(item: &Item<'static>, cas: Option<u64>, format: Format) -> serde_json::Value {
    let (value, encoding) = show::for_json(item, format);
    let mut fields = json!({
        "value": value,
        "encoding": encoding,
        "flags": item.flags,
        "bytes": item.data.len(),
    });
    if let (Some(cas), Some(map)) = (cas, fields.as_object_mut()) {
        map.insert("cas".into(), json!(cas));
    }
    fields
}

/// `-v`: a line naming the key with its flags, CAS id and size, before the value.
fn header(key: &str, item: &Item<'static>, cas: Option<u64>) -> Result<(), Failure> {
    let cas = cas.map(|c| format!("\tcas {c}")).unwrap_or_default();
    say!(
        "{}\tflags {}{cas}\t{} bytes",
        shown(key),
        item.flags,
        item.data.len()
    );
    Ok(())
}

fn value_line(item: &Item<'static>, format: Format) -> Result<(), Failure> {
    output::bytes(&show::for_people(item, format))?;
    output::bytes(b"\n")
}

pub fn get(
    client: &Client,
    keys: &[String],
    show: &ShowArgs,
    json: bool,
) -> Result<Outcome, Failure> {
    print_hits(client, keys, show, json, false)
}

pub fn gets(
    client: &Client,
    keys: &[String],
    show: &ShowArgs,
    json: bool,
) -> Result<Outcome, Failure> {
    print_hits(client, keys, show, json, true)
}

/// get and gets: each hit's value, in the order given (gets: after its CAS
/// id and a tab, so one shell `read` takes both); misses on stderr.
fn print_hits(
    client: &Client,
    keys: &[String],
    show: &ShowArgs,
    json: bool,
    cas_first: bool,
) -> Result<Outcome, Failure> {
    keys::check(keys.iter().map(String::as_str))?;
    let mut report = KeyReport::new(json);
    // CAS ids come only with single gets; a batch is faster without them.
    let with_cas = cas_first || json || show.verbose;
    let answers = read(client, keys, with_cas, &mut report)?;
    for (key, answer) in keys.iter().zip(answers) {
        match answer {
            Answer::Hit { item, cas } => {
                if json {
                    report.key(key, &KeyStatus::Ok, hit_fields(&item, cas, show.format));
                    continue;
                }
                if show.verbose {
                    header(key, &item, cas)?;
                } else if cas_first {
                    output::bytes(format!("{}\t", cas.unwrap_or_default()).as_bytes())?;
                }
                value_line(&item, show.format)?;
                report.key(key, &KeyStatus::Ok, json!({}));
            }
            Answer::Miss(status) => report.key(key, &status, json!({})),
        }
    }
    report.finish()
}

pub fn cat(client: &Client, keys: &[String], json: bool) -> Result<Outcome, Failure> {
    keys::check(keys.iter().map(String::as_str))?;
    let mut report = KeyReport::new(json);
    let answers = read(client, keys, false, &mut report)?;
    for (key, answer) in keys.iter().zip(answers) {
        match answer {
            Answer::Hit { item, cas } => {
                if json {
                    report.key(key, &KeyStatus::Ok, hit_fields(&item, cas, Format::Raw));
                } else {
                    output::bytes(&item.data)?;
                    report.key(key, &KeyStatus::Ok, json!({}));
                }
            }
            Answer::Miss(status) => report.key(key, &status, json!({})),
        }
    }
    report.finish()
}

pub fn exists(client: &Client, keys: &[String], json: bool) -> Result<Outcome, Failure> {
    keys::check(keys.iter().map(String::as_str))?;
    let mut report = KeyReport::new(json);
    let answers = read(client, keys, false, &mut report)?;
    for (key, answer) in keys.iter().zip(answers) {
        match answer {
            Answer::Hit { .. } => report.key(key, &KeyStatus::Ok, json!({})),
            Answer::Miss(status) => report.key(key, &status, json!({})),
        }
    }
    report.finish()
}
