//! The command line: commands, their arguments, and the cluster options
//! every command shares.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use quickmc::distribution::{DistributionKind, HashAlgorithm};
use quickmc::{Client, Error};

use crate::bench::BenchArgs;
use crate::show::Format;

/// memcached from the command line: get and store values, counters, stats,
/// a load generator and a demo. Speaks the binary protocol; places keys as
/// libmemcached and pylibmc do.
#[derive(Parser)]
#[command(name = "quickmc", version, about, long_about = None)]
#[command(
    after_help = "Exit status: 0 done; 1 a key was missing or not stored, or a server did not answer ping, version, stats or dump; 2 an error (bad arguments, an invalid key, a server that failed a keyed command or flush).\n\nExamples:\n  quickmc demo\n  quickmc bench\n  quickmc --servers 10.0.0.1:11211,10.0.0.2:11211 get user:1 user:2\n  quickmc set greeting hello --ttl 60\n  quickmc --json stats"
)]
pub struct Cli {
    /// Print one JSON document for scripts instead of text for people.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach the cluster (shared by every command).
#[derive(Args)]
#[command(next_help_heading = "Cluster options")]
pub struct ClientArgs {
    /// Servers, comma-separated: host, host:port, host:port:weight,
    /// [v6]:port[:weight], /unix/socket, tls://host:port. Default: $MEMCACHED_SERVERS, else
    /// 127.0.0.1:11211 (demo and bench: a throwaway memcached).
    #[arg(long, global = true, env = "MEMCACHED_SERVERS", value_delimiter = ',')]
    pub servers: Vec<String>,
    /// Key distribution: modula, ketama, ketama-weighted.
    #[arg(long, global = true, default_value = "modula")]
    pub distribution: DistributionKind,
    /// Key hash: default (one_at_a_time), md5, crc, fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, murmur, murmur3, jenkins.
    #[arg(long, global = true, default_value = "default")]
    pub hash: HashAlgorithm,
    /// Connections per server: the size of each server's pool [default: 16; bench: one per thread].
    #[arg(
        long = "pool-size",
        visible_alias = "connections",
        global = true,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub pool_size: Option<u32>,
    /// Connect timeout in milliseconds.
    #[arg(long, global = true, default_value_t = 1000)]
    pub connect_timeout_ms: u64,
    /// Read/write timeout in milliseconds (0: none).
    #[arg(long, global = true, default_value_t = 1000)]
    pub io_timeout_ms: u64,
    /// Pool checkout timeout in milliseconds.
    #[arg(long, global = true, default_value_t = 500)]
    pub checkout_timeout_ms: u64,
    /// Seconds a failed server is skipped.
    #[arg(long, global = true, default_value_t = 2)]
    pub retry_timeout: u64,
    /// Consecutive failures before a server is ejected (with --remove-failed).
    #[arg(long, global = true, default_value_t = 5)]
    pub failure_limit: u32,
    /// Eject failed servers from the ketama continuum.
    #[arg(long, global = true)]
    pub remove_failed: bool,
    /// Seconds an ejected server stays out of the continuum.
    #[arg(long, global = true, default_value_t = 10)]
    pub dead_timeout: u64,
    /// SASL user name (the server runs with -S).
    #[arg(long, global = true, env = "MEMCACHED_USERNAME")]
    pub username: Option<String>,
    /// SASL password.
    #[arg(
        long,
        global = true,
        env = "MEMCACHED_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// TLS (memcached started with -Z): every server, or those given as tls://host:port.
#[derive(Args)]
#[command(next_help_heading = "TLS options")]
pub struct TlsArgs {
    /// Speak TLS to every server (servers given as tls://host:port use TLS anyway).
    #[arg(long, global = true)]
    pub tls: bool,
    /// Trust the CA certificates in this PEM file (default: the platform's roots).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Present this PEM client certificate chain (mutual TLS; with --tls-key).
    #[arg(long, global = true, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, global = true, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The name the servers' certificates must carry (default: each server's host).
    #[arg(long, global = true, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// DANGEROUS: accept any server certificate, unverified (anyone on the
    /// path can read and change everything). For a test server only.
    #[arg(long, global = true)]
    pub tls_dangerously_skip_verification: bool,
}

impl TlsArgs {
    /// The TLS configuration these options ask for, if any.
    fn config(&self) -> Result<Option<quickmc::TlsConfig>, Error> {
        let any = self.tls
            || self.tls_ca.is_some()
            || self.tls_cert.is_some()
            || self.tls_server_name.is_some()
            || self.tls_dangerously_skip_verification;
        if !any {
            return Ok(None);
        }
        let mut config = quickmc::TlsConfig::new();
        if let Some(ca) = &self.tls_ca {
            config = config.ca_file(ca)?;
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            config = config.client_cert_files(cert, key)?;
        }
        if let Some(name) = &self.tls_server_name {
            config = config.server_name(name);
        }
        if self.tls_dangerously_skip_verification {
            config = config.dangerously_accept_any_server_certificate();
        }
        Ok(Some(config))
    }
}

/// The pool size when none is given (bench gives one connection per thread).
const DEFAULT_POOL_SIZE: u32 = 16;

impl ClientArgs {
    /// The servers given, or the default.
    pub fn servers(&self) -> Vec<String> {
        if self.servers.is_empty() {
            vec!["127.0.0.1:11211".to_string()]
        } else {
            self.servers.clone()
        }
    }

    /// A client for `servers`; `pool_size` unless --pool-size was given.
    pub fn build(&self, servers: &[String], pool_size: Option<u32>) -> Result<Client, Error> {
        self.builder(servers, pool_size)?.build()
    }

    /// A client in the pipelined mode: `connections` shared per server
    /// (or --pool-size of them).
    pub fn build_pipelined(&self, servers: &[String], connections: u32) -> Result<Client, Error> {
        let connections = self.pool_size.unwrap_or(connections);
        self.builder(servers, None)?
            .pipelined(connections as usize)
            .build()
    }

    /// The async client: `connections` shared per server (or --pool-size of them).
    pub fn build_async(
        &self,
        servers: &[String],
        connections: u32,
    ) -> Result<quickmc::AsyncClient, Error> {
        let connections = self.pool_size.unwrap_or(connections);
        self.builder(servers, None)?
            .pipelined(connections as usize)
            .build_async()
    }

    fn builder(
        &self,
        servers: &[String],
        pool_size: Option<u32>,
    ) -> Result<quickmc::ClientBuilder, Error> {
        let pool_size = self.pool_size.or(pool_size).unwrap_or(DEFAULT_POOL_SIZE);
        let mut builder = Client::builder()
            .servers(servers)
            .distribution(self.distribution)
            .hash(self.hash)
            .connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .io_timeout(Some(Duration::from_millis(self.io_timeout_ms)).filter(|d| !d.is_zero()))
            .max_connections(pool_size)
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
        if let Some(tls) = self.tls.config()? {
            builder = builder.tls(tls);
        }
        Ok(builder)
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Print each hit's value, one per line, fetched as one batch per
    /// server (exit 1 if any key is missing).
    #[command(
        after_help = "Values that are not text print as <N bytes, flags F>; --format shows their bytes.\n\nExamples:\n  quickmc get user:1 user:2\n  quickmc get -v session:42\n  quickmc get --format hex blob"
    )]
    Get {
        /// Keys to read.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[command(flatten)]
        show: ShowArgs,
    },
    /// Write each value's raw bytes to stdout, back to back (exit 1 if any key is missing).
    #[command(after_help = "Example: quickmc cat report.csv > report.csv")]
    Cat {
        /// Keys to read.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Print each hit's CAS id and value, tab-separated, for a later `cas`
    /// (exit 1 if any key is missing).
    #[command(
        after_help = "Example:\n  IFS=$'\\t' read -r cas value < <(quickmc gets counter)\n  quickmc cas counter \"$((value + 1))\" \"$cas\""
    )]
    Gets {
        /// Keys to read.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[command(flatten)]
        show: ShowArgs,
    },
    /// Exit 0 if every KEY is present, 1 if any is missing (as memcexist).
    #[command(after_help = "Example: quickmc exists lock:job && echo busy")]
    Exists {
        /// Keys to look for.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Store a value under KEY.
    #[command(
        after_help = "Examples:\n  quickmc set greeting hello --ttl 60\n  quickmc set config --file ./config.json\n  gzip -c big.csv | quickmc set big.csv.gz -"
    )]
    Set(StoreArgs),
    /// Store only if KEY is missing (exit 1 if it exists).
    #[command(after_help = "Example: quickmc add lock:job owner-1 --ttl 30")]
    Add(StoreArgs),
    /// Store only if KEY exists (exit 1 if it is missing).
    #[command(after_help = "Example: quickmc replace config v2")]
    Replace(StoreArgs),
    /// Append the value to KEY's value (exit 1 if KEY is missing).
    #[command(after_help = "Example: quickmc append log ' more'")]
    Append(ConcatArgs),
    /// Prepend the value to KEY's value (exit 1 if KEY is missing).
    #[command(after_help = "Example: quickmc prepend log 'first '")]
    Prepend(ConcatArgs),
    /// Store only if KEY still has the CAS id `gets` printed (exit 1 if it
    /// changed or is gone).
    #[command(after_help = "Example: quickmc cas counter 42 1337")]
    Cas(CasArgs),
    /// Store files as raw bytes, each under its file name (exit 1 if any was not stored).
    #[command(after_help = "Example: quickmc cp ./static/logo.png ./static/app.css --ttl 3600")]
    Cp {
        /// Files to store; each one's key is its file name.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Expiration in seconds (0: never).
        #[arg(long, default_value_t = 0)]
        ttl: u32,
    },
    /// Delete KEYs, as one batch per server (exit 1 if any was missing).
    #[command(after_help = "Example: quickmc delete session:42 session:43")]
    Delete {
        /// Keys to delete.
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
    },
    /// Add DELTA (default 1) to a counter and print the new value.
    #[command(after_help = "Example: quickmc incr hits 5")]
    Incr(CounterArgs),
    /// Subtract DELTA (default 1, stopping at 0) and print the new value.
    #[command(after_help = "Example: quickmc decr stock 2")]
    Decr(CounterArgs),
    /// Set KEY's expiration to SECONDS (exit 1 if it is missing).
    #[command(after_help = "Example: quickmc touch session:42 3600")]
    Touch {
        /// The key to touch.
        key: String,
        /// New expiration in seconds from now (0: never).
        seconds: u32,
    },
    /// Invalidate every item on every server.
    #[command(after_help = "Example: quickmc flush --delay 10")]
    Flush {
        /// Seconds before the flush takes effect.
        #[arg(long, default_value_t = 0)]
        delay: u32,
    },
    /// Each server's statistics, as a table (one column per server), or a
    /// summary with --analyze.
    #[command(
        after_help = "Examples:\n  quickmc stats\n  quickmc stats slabs\n  quickmc stats --analyze\n  quickmc --json stats items"
    )]
    Stats {
        /// A stats group: items, slabs, settings, sizes, conns (default: the
        /// general statistics). Groups memcached offers only over its text
        /// protocol (conns) are fetched there.
        group: Option<String>,
        /// Per server: hit ratio, evictions, memory fill, items; then the
        /// cluster as a whole (as memcstat --analyze).
        #[arg(long, conflicts_with = "group")]
        analyze: bool,
    },
    /// Each server's reachability and Noop round-trip time (exit 1 if any is down).
    #[command(after_help = "Example: quickmc --servers 10.0.0.1,10.0.0.2 ping")]
    Ping,
    /// Each server's version.
    #[command(after_help = "Example: quickmc version")]
    Version,
    /// List every key the servers hold, one per line (as memcdump), using
    /// memcached's `lru_crawler metadump all` over its text protocol. Not
    /// available on a SASL server (memcached serves it no text commands).
    #[command(after_help = "Examples:\n  quickmc dump | wc -l\n  quickmc --json dump")]
    Dump,
    /// How the key space divides across servers, and where each KEY goes.
    #[command(
        after_help = "Example: quickmc --servers a:11211,b:11211:2 --distribution ketama ring user:1 user:2"
    )]
    Ring {
        /// Keys to place (none: a summary of the key space per server).
        #[arg(value_name = "KEY")]
        keys: Vec<String>,
    },
    /// A load generator: throughput, errors and latency percentiles. With no --servers, starts a throwaway memcached.
    #[command(
        after_help = "Examples:\n  quickmc bench\n  quickmc --servers 10.0.0.1,10.0.0.2 bench --threads 16 --batch 100 --duration 60\n  quickmc bench --key-distribution zipf --ratio 1:1 --verify --json"
    )]
    Bench(BenchArgs),
    /// Walk through the main operations. With no --servers, starts a throwaway memcached.
    #[command(after_help = "Example: quickmc demo")]
    Demo,
}

/// How `get` and `gets` print values.
#[derive(Args)]
pub struct ShowArgs {
    /// How to print values.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Also print each value's key, flags, CAS id and size.
    #[arg(short, long)]
    pub verbose: bool,
}

/// Where a stored value comes from.
#[derive(Args)]
pub struct ValueArgs {
    /// The value, stored as text (flags 16); `-` stores the raw bytes read
    /// from stdin (flags 0).
    #[arg(required_unless_present = "file")]
    pub value: Option<String>,
    /// Store the raw bytes of the file at PATH (flags 0), for values too
    /// big or too binary for an argument.
    #[arg(long, value_name = "PATH", conflicts_with = "value")]
    pub file: Option<PathBuf>,
}

#[derive(Args)]
pub struct StoreArgs {
    /// The key to store under.
    pub key: String,
    #[command(flatten)]
    pub value: ValueArgs,
    /// Expiration in seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub ttl: u32,
}

#[derive(Args)]
pub struct ConcatArgs {
    /// The key whose value grows.
    pub key: String,
    #[command(flatten)]
    pub value: ValueArgs,
}

#[derive(Args)]
pub struct CasArgs {
    /// The key to store under.
    pub key: String,
    /// The value, stored as text (flags 16); `-` stores the raw bytes read
    /// from stdin (flags 0).
    pub value: String,
    /// The CAS id `quickmc gets KEY` printed (never 0).
    #[arg(value_parser = clap::value_parser!(u64).range(1..))]
    pub cas: u64,
    /// Expiration in seconds (0: never).
    #[arg(long, default_value_t = 0)]
    pub ttl: u32,
}

#[derive(Args)]
pub struct CounterArgs {
    /// The counter's key (its value is a decimal number).
    pub key: String,
    /// How much to add or subtract.
    #[arg(default_value_t = 1)]
    pub delta: u64,
}
