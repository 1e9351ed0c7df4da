//! `quickmc`: memcached from the command line, built on the quickmc client.

mod bench;
mod commands;
mod demo;
mod local_server;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use quickmc::distribution::{DistributionKind, HashAlgorithm};
use quickmc::{Client, Error};

/// memcached from the command line: get and store values, counters, stats,
/// and a demo. Speaks the binary protocol; places keys as libmemcached and
/// pylibmc do.
#[derive(Parser)]
#[command(name = "quickmc", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  quickmc demo\n  quickmc bench\n  quickmc --servers 10.0.0.1:11211,10.0.0.2:11211 get user:1 user:2\n  quickmc set greeting hello --ttl 60\n  quickmc --json stats"
)]
struct Cli {
    #[command(flatten)]
    client: ClientArgs,
    /// Print JSON for scripts instead of text for people.
    #[arg(long, global = true)]
    json: bool,
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
    /// Write each value's raw bytes to stdout, back to back (exit 1 if any key is missing).
    #[command(after_help = "Example: quickmc cat report.csv > report.csv")]
    Cat {
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
    /// Store files as raw bytes, each under its file name (exit 1 if any was not stored).
    #[command(after_help = "Example: quickmc cp ./static/logo.png ./static/app.css --ttl 3600")]
    Cp {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Expiration in seconds (0: never).
        #[arg(long, default_value_t = 0)]
        ttl: u32,
    },
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
    /// Each server's statistics, as a table (one column per server).
    #[command(
        after_help = "Examples:\n  quickmc stats\n  quickmc stats slabs\n  quickmc --json stats items"
    )]
    Stats {
        /// A stats group: items, slabs, settings, conns ...
        group: Option<String>,
    },
    /// Each server's reachability and Noop round-trip time (exit 1 if any is down).
    #[command(after_help = "Example: quickmc --servers 10.0.0.1,10.0.0.2 ping")]
    Ping,
    /// Each server's version.
    #[command(after_help = "Example: quickmc version")]
    Version,
    /// How the key space divides across servers, and where each KEY goes.
    #[command(
        after_help = "Example: quickmc --servers a:11211,b:11211:2 --distribution ketama ring user:1 user:2"
    )]
    Ring { keys: Vec<String> },
    /// A load generator: throughput, errors and latency percentiles. With no --servers, starts a throwaway memcached.
    #[command(
        after_help = "Examples:\n  quickmc bench\n  quickmc --servers 10.0.0.1,10.0.0.2 bench --threads 16 --batch 100 --duration 60\n  quickmc bench --key-distribution zipf --ratio 1:1 --verify --json"
    )]
    Bench(bench::BenchArgs),
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
    /// The command ran, but a key was missing or not stored, or a server was down.
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

type Failure = Box<dyn std::error::Error>;

fn run(cli: Cli) -> Result<Outcome, Failure> {
    let json = cli.json;
    // demo and bench bring their own memcached when no servers are given.
    if matches!(cli.command, Command::Demo | Command::Bench(_)) {
        let local;
        let servers = if cli.client.servers.is_empty() {
            let memory = match &cli.command {
                Command::Bench(b) => {
                    ((b.keys as usize * (b.value_size + 80)) >> 20).clamp(64, 4096) as u32
                }
                _ => 64,
            };
            local = local_server::LocalServer::start(memory)?;
            if !json {
                println!("(started a throwaway memcached on {})", local.spec());
            }
            vec![local.spec().to_string()]
        } else {
            cli.client.servers()
        };
        return match cli.command {
            Command::Bench(args) => {
                let mut client_args = cli.client;
                if let Some(n) = args.connections {
                    client_args.pool_size = n;
                } else {
                    client_args.pool_size = args.threads.max(1) as u32;
                }
                let client = client_args.build(&servers)?;
                Ok(if bench::run(client, &servers, args, json)? {
                    Outcome::Ok
                } else {
                    Outcome::Miss
                })
            }
            _ => {
                demo::run(&cli.client.build(&servers)?)?;
                Ok(Outcome::Ok)
            }
        };
    }
    let servers = cli.client.servers();
    let client = cli.client.build(&servers)?;
    commands::run(&client, cli.command, json)
}
