//! What happened to each key, said one way in every command: `KEY: what`
//! on stderr for people, `{"KEY": {"status": ...}}` under `--json`.

use quickmc::Error;
use serde_json::json;

use crate::keys::shown;

/// The outcome of one key in one command.
#[derive(Debug, Clone)]
pub enum KeyStatus {
    /// Done: found, stored, deleted, touched.
    Ok,
    /// The key is not in the cache.
    NotFound,
    /// add: the key is already there.
    Exists,
    /// The server did not store it, for no reason above.
    NotStored,
    /// cas: the value changed since its CAS id was read (or is gone).
    Stale,
    /// The key was not asked about: its server failed (said once, apart).
    ServerFailed(String),
    /// Anything else that failed this key alone (a value the server
    /// refused as too large, one that does not decompress ...).
    Failed(String),
}

impl KeyStatus {
    /// The word scripts match on.
    pub fn code(&self) -> &'static str {
        match self {
            KeyStatus::Ok => "ok",
            KeyStatus::NotFound => "not_found",
            KeyStatus::Exists => "exists",
            KeyStatus::NotStored => "not_stored",
            KeyStatus::Stale => "stale",
            KeyStatus::ServerFailed(_) => "server_failed",
            KeyStatus::Failed(_) => "failed",
        }
    }

    /// What people read after `KEY: `.
    pub fn message(&self) -> String {
        match self {
            KeyStatus::Ok => "ok".into(),
            KeyStatus::NotFound => "not found".into(),
            KeyStatus::Exists => "exists".into(),
            KeyStatus::NotStored => "not stored".into(),
            KeyStatus::Stale => "not stored: changed since its CAS id was read".into(),
            KeyStatus::ServerFailed(server) => format!("not asked, its server {server} failed"),
            KeyStatus::Failed(why) => why.clone(),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, KeyStatus::Ok)
    }

    /// `{"status": ...}`, with the server or error when there is one.
    pub fn json(&self) -> serde_json::Value {
        match self {
            KeyStatus::ServerFailed(server) => json!({"status": self.code(), "server": server}),
            KeyStatus::Failed(why) => json!({"status": self.code(), "error": why}),
            _ => json!({"status": self.code()}),
        }
    }

    /// Says it on stderr, unless it is `Ok` (success is silent) or the
    /// output is JSON (where it is in the document).
    pub fn tell(&self, key: &str, json: bool) {
        if !self.is_ok() && !json {
            note!("{}: {}", shown(key), self.message());
        }
    }

    /// A single-key operation's error as a key's outcome, when it is one:
    /// its server failed, or the server refused this value.
    pub fn from_error(error: &Error) -> Option<KeyStatus> {
        if let Some(server) = failed_server(error) {
            return Some(KeyStatus::ServerFailed(server));
        }
        match error {
            Error::NotFound => Some(KeyStatus::NotFound),
            Error::Exists => Some(KeyStatus::Exists),
            Error::NotStored => Some(KeyStatus::NotStored),
            Error::TooLarge
            | Error::ValueTooLarge { .. }
            | Error::NonNumeric
            | Error::Deserialize { .. }
            | Error::Compression { .. } => Some(KeyStatus::Failed(error.to_string())),
            _ => None,
        }
    }
}

/// The server an error blames, when it says the server failed.
pub fn failed_server(error: &Error) -> Option<String> {
    match error {
        Error::Connect { server, .. }
        | Error::HostLookup { server, .. }
        | Error::Tls { server, .. }
        | Error::Io { server, .. }
        | Error::Timeout { server }
        | Error::ServerDown { server }
        | Error::Protocol { server, .. }
        | Error::PoolTimeout { server } => Some(server.to_string()),
        _ => None,
    }
}

/// How a command ended, for the exit status (errors are exit 2).
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: a key was missing or not stored.
    Miss,
}

impl Outcome {
    pub fn from_all_ok(all_ok: bool) -> Outcome {
        if all_ok { Outcome::Ok } else { Outcome::Miss }
    }
}

/// The outcomes of a command's keys, in the order given: tells people of
/// each miss as it comes, builds the JSON document, says each failed
/// server once, and picks the exit status.
pub struct KeyReport {
    json: bool,
    document: serde_json::Map<String, serde_json::Value>,
    missed: bool,
    /// One entry per failed server: (server, what went wrong).
    failed_servers: Vec<(String, String)>,
}

impl KeyReport {
    pub fn new(json: bool) -> KeyReport {
        KeyReport {
            json,
            document: serde_json::Map::new(),
            missed: false,
            failed_servers: Vec::new(),
        }
    }

    /// Records a key's outcome; `fields` join its JSON record (a value, a CAS id ...).
    pub fn key(&mut self, key: &str, status: &KeyStatus, fields: serde_json::Value) {
        status.tell(key, self.json);
        self.missed |= !status.is_ok();
        let mut record = status.json();
        if let (Some(record), serde_json::Value::Object(fields)) = (record.as_object_mut(), fields)
        {
            record.extend(fields);
        }
        self.document.insert(key.to_string(), record);
    }

    /// Records that `server` failed with `error` (only its first error is kept).
    pub fn server_failed(&mut self, server: &str, error: &Error) {
        if self.failed_servers.iter().all(|(s, _)| s != server) {
            self.failed_servers
                .push((server.to_string(), error.to_string()));
        }
    }

    /// A single-key operation's result: its outcome, or the error that is
    /// not about the key (returned, for exit 2).
    pub fn key_result(
        &mut self,
        key: &str,
        result: Result<KeyStatus, Error>,
        fields: serde_json::Value,
    ) -> Result<(), crate::output::Failure> {
        let status = match result {
            Ok(status) => status,
            Err(error) => match KeyStatus::from_error(&error) {
                Some(status) => {
                    if let KeyStatus::ServerFailed(server) = &status {
                        self.server_failed(server, &error);
                    }
                    status
                }
                None => return Err(format!("{}: {error}", shown(key)).into()),
            },
        };
        self.key(key, &status, fields);
        Ok(())
    }

    /// Prints the JSON document (under `--json`); a failed server makes the
    /// command fail (exit 2), after every key has been accounted for.
    pub fn finish(self) -> Result<Outcome, crate::output::Failure> {
        if self.json {
            crate::output::json(&serde_json::Value::Object(self.document))?;
        }
        if !self.failed_servers.is_empty() {
            let errors: Vec<String> = self.failed_servers.into_iter().map(|(_, e)| e).collect();
            return Err(errors.join("; ").into());
        }
        Ok(Outcome::from_all_ok(!self.missed))
    }
}
