//! The operator commands: each prints for people, or one JSON document
//! with `--json`, and reports misses through the exit status.

mod analyze;
mod cluster;
mod modify;
mod read;
mod ring;
mod store;

use quickmc::Client;

use crate::cli::Command;
use crate::outcome::Outcome;
use crate::output::Failure;
use store::Store;

pub fn run(client: &Client, command: Command, json: bool) -> Result<Outcome, Failure> {
    match command {
        Command::Get { keys, show } => read::get(client, &keys, &show, json),
        Command::Gets { keys, show } => read::gets(client, &keys, &show, json),
        Command::Cat { keys } => read::cat(client, &keys, json),
        Command::Exists { keys } => read::exists(client, &keys, json),
        Command::Set(a) => store::store(client, Store::Set, &a.key, &a.value, a.ttl, json),
        Command::Add(a) => store::store(client, Store::Add, &a.key, &a.value, a.ttl, json),
        Command::Replace(a) => store::store(client, Store::Replace, &a.key, &a.value, a.ttl, json),
        Command::Append(a) => store::store(client, Store::Append, &a.key, &a.value, 0, json),
        Command::Prepend(a) => store::store(client, Store::Prepend, &a.key, &a.value, 0, json),
        Command::Cas(a) => store::cas(client, &a, json),
        Command::Cp { files, ttl } => store::cp(client, &files, ttl, json),
        Command::Delete { keys } => modify::delete(client, &keys, json),
        Command::Incr(a) => modify::count(client, &a.key, a.delta, true, json),
        Command::Decr(a) => modify::count(client, &a.key, a.delta, false, json),
        Command::Touch { key, seconds } => modify::touch(client, &key, seconds, json),
        Command::Flush { delay } => cluster::flush(client, delay, json),
        Command::Stats { analyze: true, .. } => analyze::analyze(client, json),
        Command::Stats { group, .. } => cluster::stats(client, group.as_deref(), json),
        Command::Ping => cluster::ping(client, json),
        Command::Version => cluster::version(client, json),
        Command::Dump => cluster::dump(client, json),
        Command::Ring { keys } => ring::ring(client, &keys, json),
        Command::Bench(_) | Command::Demo => Err("bench and demo run from main".into()),
    }
}
