//! `quickmc`: memcached from the command line, built on the quickmc client.

mod demo;
mod local_server;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use quickmc::distribution::{DistributionKind, HashAlgorithm};
use quickmc::value::{Item, Value};
use quickmc::{Client, Error};

/// memcached from the command line: get and store values, counters, stats,
/// and a demo. Speaks the binary protocol; places keys as libmemcached and
/// pylibmc do.
#[derive(Parser)]
#[command(name = "quickmc", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  quickmc demo\n  quickmc --servers 10.0.0.1:11211,10.0.0.2:11211 get user:1 user:2\n  quickmc set greeting hello --ttl 60\n  quickmc incr hits 5"
)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: Command,
}

/// How to reach the cluster (shared by every command).
#[derive(Args)]
struct ClientArgs {
    /// Servers, comma-separated: host, host:port, host:port:weight,
    /// [v6]:port[:weight], /unix/socket. Default: $MEMCACHED_SERVERS, else 127.0.0.1:11211.
    #[arg(long, global = true, env = "MEMCACHED_SERVERS", value_delimiter = ',')]
    servers: Vec<String>,
    /// Key distribution: modula, ketama, ketama-weighted.
    #[arg(long, global = true, default_value = "modula")]
    distribution: DistributionKind,
    /// Key hash: default (one_at_a_time), md5, crc, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, murmur, murmur3, jenkins.
    #[arg(long, global = true, default_value = "default")]
    hash: HashAlgorithm,
    /// Connect timeout in milliseconds.
    #[arg(long, global = true, default_value_t = 1000)]
    connect_timeout_ms: u64,
    /// Read/write timeout in milliseconds (0: none).
    #[arg(long, global = true, default_value_t = 1000)]
    io_timeout_ms: u64,
    /// Connections per server.
    #[arg(long, global = true, default_value_t = 16)]
    pool_size: u32,
    /// Pool checkout timeout in milliseconds.
    #[arg(long, global = true, default_value_t = 500)]
    checkout_timeout_ms: u64,
    /// Seconds a failed server is skipped.
    #[arg(long, global = true, default_value_t = 2)]
    retry_timeout: u64,
    /// Consecutive failures before a server is ejected (with --remove-failed).
    #[arg(long, global = true, default_value_t = 5)]
    failure_limit: u32,
    /// Eject failed servers from the ketama continuum.
    #[arg(long, global = true)]
    remove_failed: bool,
    /// Seconds an ejected server stays out of the continuum.
    #[arg(long, global = true, default_value_t = 10)]
    dead_timeout: u64,
    /// SASL user name (the server runs with -S).
    #[arg(long, global = true, env = "MEMCACHED_USERNAME")]
    username: Option<String>,
    /// SASL password.
    #[arg(
        long,
        global = true,
        env = "MEMCACHED_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
}

impl ClientArgs {
    fn servers(&self) -> Vec<String> {
        if self.servers.is_empty() {
            vec!["127.0.0.1:11211".to_string()]
        } else {
            self.servers.clone()
        }
    }

    fn build(&self, servers: &[String]) -> Result<Client, Error> {
        let mut builder = Client::builder()
            .servers(servers)
            .distribution(self.distribution)
            .hash(self.hash)
            .connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .io_timeout(Some(Duration::from_millis(self.io_timeout_ms)).filter(|d| !d.is_zero()))
            .max_connections(self.pool_size)
            .checkout_timeout(Duration::from_millis(self.checkout_timeout_ms))
            .retry_timeout(Duration::from_secs(self.retry_timeout))
            .failure_limit(self.failure_limit)
            .remove_failed(self.remove_failed)
            .dead_timeout(Duration::from_secs(self.dead_timeout));
        match (&self.username, &self.password) {
            (Some(user), Some(password)) => builder = builder.credentials(user, password),
            (None, None) => {}
            _ => return Err(Error::Config("give both --username and --password".into())),
        }
        builder.build()
    }
}

#[derive(Subcommand)]
enum Command {
    /// Print each hit's value as text, one per line, fetched as one batch per
    /// server (exit 1 if any key is missing).
    #[command(after_help = "Example: quickmc get user:1 user:2")]
    Get {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Store VALUE as text under KEY.
    #[command(after_help = "Example: quickmc set greeting hello --ttl 60")]
    Set(StoreArgs),
    /// Store only if KEY is missing (exit 1 if it exists).
    #[command(after_help = "Example: quickmc add lock:job owner-1 --ttl 30")]
    Add(StoreArgs),
    /// Store only if KEY exists (exit 1 if it is missing).
    #[command(after_help = "Example: quickmc replace config v2")]
    Replace(StoreArgs),
    /// Append VALUE to KEY's value (exit 1 if KEY is missing).
    #[command(after_help = "Example: quickmc append log ' more'")]
    Append(StoreArgs),
    /// Prepend VALUE to KEY's value (exit 1 if KEY is missing).
    #[command(after_help = "Example: quickmc prepend log 'first '")]
    Prepend(StoreArgs),
    /// Delete KEYs, as one batch per server (exit 1 if any was missing).
    #[command(after_help = "Example: quickmc delete session:42 session:43")]
    Delete {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Add DELTA (default 1) to a counter and print the new value.
    #[command(after_help = "Example: quickmc incr hits 5")]
    Incr {
        key: String,
        #[arg(default_value_t = 1)]
        delta: u64,
    },
    /// Subtract DELTA (default 1, stopping at 0) and print the new value.
    #[command(after_help = "Example: quickmc decr stock 2")]
    Decr {
        key: String,
        #[arg(default_value_t = 1)]
        delta: u64,
    },
    /// Set KEY's expiration to SECONDS (exit 1 if it is missing).
    #[command(after_help = "Example: quickmc touch session:42 3600")]
    Touch { key: String, seconds: u32 },
    /// Invalidate every item on every server.
    #[command(after_help = "Example: quickmc flush --delay 10")]
    Flush {
        /// Seconds before the flush takes effect.
        #[arg(long, default_value_t = 0)]
        delay: u32,
    },
    /// Print each server's statistics.
    #[command(after_help = "Example: quickmc stats")]
    Stats {
        /// A stats group: items, slabs, settings, conns ...
        group: Option<String>,
    },
    /// Print each server's version.
    #[command(after_help = "Example: quickmc version")]
    Version,
    /// Print the index and spec of the server each KEY maps to.
    #[command(
        after_help = "Example: quickmc --servers a:11211,b:11211 --distribution ketama ring user:1 user:2"
    )]
    Ring {
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Walk through the main operations. With no --servers, starts a throwaway memcached.
    #[command(after_help = "Example: quickmc demo")]
    Demo,
}

#[derive(Args)]
struct StoreArgs {
    key: String,
    value: String,
    /// Expiration in seconds (0: never).
    #[arg(long, default_value_t = 0)]
    ttl: u32,
}

enum Outcome {
    Ok,
    /// The command ran, but a key was missing or not stored.
    Miss,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Miss) => ExitCode::from(1),
        Err(e) => {
            eprintln!("quickmc: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<Outcome, Box<dyn std::error::Error>> {
    if let Command::Demo = cli.command {
        let local;
        let servers = if cli.client.servers.is_empty() {
            local = local_server::LocalServer::start(64)?;
            println!("(started a throwaway memcached on {})", local.spec());
            vec![local.spec().to_string()]
        } else {
            cli.client.servers()
        };
        demo::run(&cli.client.build(&servers)?)?;
        return Ok(Outcome::Ok);
    }
    let client = cli.client.build(&cli.client.servers())?;
    let found = |ok: bool| if ok { Outcome::Ok } else { Outcome::Miss };
    Ok(match cli.command {
        Command::Get { keys } => {
            let (mut hits, report) =
                client.get_multi_report::<_, Item<'static>>(keys.iter().map(String::as_str), "")?;
            for (server, _, error) in &report.server_errors {
                eprintln!("{server}: {error}");
            }
            for failure in &report.failures {
                eprintln!("{}: {}", failure.key, failure.error);
            }
            let mut outcome = Outcome::Ok;
            for key in &keys {
                match hits.remove(key.as_str()) {
                    Some(item) => println!("{}", display(item)),
                    None => {
                        if report.failures.iter().all(|f| f.key != key) {
                            eprintln!("{key}: not found");
                        }
                        outcome = Outcome::Miss;
                    }
                }
            }
            if !report.server_errors.is_empty() {
                return Err("some servers did not answer".into());
            }
            outcome
        }
        Command::Set(a) => found(client.set(&a.key, &a.value, a.ttl)?),
        Command::Add(a) => found(client.add(&a.key, &a.value, a.ttl)?),
        Command::Replace(a) => found(client.replace(&a.key, &a.value, a.ttl)?),
        Command::Append(a) => found(client.append(&a.key, &a.value)?),
        Command::Prepend(a) => found(client.prepend(&a.key, &a.value)?),
        Command::Delete { keys } => {
            let report = client.delete_multi_report(keys.iter().map(String::as_str), "")?;
            for failure in &report.failures {
                eprintln!("{}: {}", failure.key, failure.error);
            }
            if !report.server_errors.is_empty() {
                return Err("some servers did not answer".into());
            }
            found(report.failures.is_empty())
        }
        Command::Ring { keys } => {
            let servers = client.servers();
            for key in &keys {
                let index = client.hash(key)?;
                let spec = servers
                    .get(index)
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                println!("{key}\t{index}\t{spec}");
            }
            Outcome::Ok
        }
        Command::Incr { key, delta } => counter(client.incr(&key, delta))?,
        Command::Decr { key, delta } => counter(client.decr(&key, delta))?,
        Command::Touch { key, seconds } => found(client.touch(&key, seconds)?),
        Command::Flush { delay } => {
            client.flush_all(delay)?;
            Outcome::Ok
        }
        Command::Stats { group } => {
            let mut failed = false;
            for (server, stats) in client.stats_per_server(group.as_deref().unwrap_or("")) {
                match stats {
                    Ok(stats) => {
                        println!("{server}");
                        for (name, value) in stats {
                            println!("  {name} {value}");
                        }
                    }
                    Err(e) => {
                        eprintln!("{server}: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Err("some servers did not answer".into());
            }
            Outcome::Ok
        }
        Command::Version => {
            let mut failed = false;
            for (server, version) in client.version() {
                match version {
                    Ok(v) => println!("{server} {v}"),
                    Err(e) => {
                        eprintln!("{server}: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Err("some servers did not answer".into());
            }
            Outcome::Ok
        }
        Command::Demo => Outcome::Ok,
    })
}

fn counter(result: Result<u64, Error>) -> Result<Outcome, Error> {
    match result {
        Ok(n) => {
            println!("{n}");
            Ok(Outcome::Ok)
        }
        Err(Error::NotFound) => {
            eprintln!("not found");
            Ok(Outcome::Miss)
        }
        Err(e) => Err(e),
    }
}

/// A stored value as text: by its flags, falling back to lossy UTF-8.
fn display(item: Item<'static>) -> String {
    let data = item.data.clone();
    match quickmc::value::FromValue::from_item(item) {
        Ok(Value::Postcard(bytes)) => format!("<postcard value, {} bytes>", bytes.len()),
        Ok(value) => value.to_string(),
        Err(_) => String::from_utf8_lossy(&data).into_owned(),
    }
}
