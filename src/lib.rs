//! quickmc: a quick, small memcached client.
//!
//! It speaks the memcached binary protocol, keeps an r2d2 pool of connections
//! per server, and offers pylibmc's operations with pylibmc's semantics,
//! key placement (libmemcached-compatible hashing) and value flags, so a
//! Rust service and a Python service can share one cluster.
//!
//! ```no_run
//! let client = quickmc::Client::new(["127.0.0.1:11211"])?;
//! client.set("greeting", "hello", 0)?;
//! assert_eq!(client.get::<String>("greeting")?.as_deref(), Some("hello"));
//! # Ok::<(), quickmc::Error>(())
//! ```
//!
//! # The client
//!
//! [`Client`] (built with [`Client::builder`]) is all most programs need:
//! single-key and multi-key operations, [`Error`] and its [`ErrorKind`],
//! [`value`] for how Rust values become stored bytes and flags, and
//! [`distribution`] for hashing and server choice.
//!
//! # The low-level API
//!
//! Two sans-I/O modules sit under the client and are public for fuzzers,
//! proxies, test servers and custom drivers: [`protocol`] (binary frames:
//! encode into a buffer, decode from a slice, never panic) and [`command`]
//! (what each operation sends and what its replies mean, and the batch
//! state machine). Neither touches a socket, a clock or a pool.
//!
//! Layers, lowest first: `protocol`, `command` and `value` (sans I/O),
//! `transport` (bytes to and from one server), `connection` (a transport,
//! buffers and the driver that runs exchanges), `pool` (r2d2 and all
//! checkout policy), `distribution`, and the client. Data flows one way; a
//! lower layer never reaches up.
#![warn(missing_docs)]

mod client;
pub mod command;
mod connection;
pub mod distribution;
mod error;
mod pool;
pub mod protocol;
mod server;
mod transport;
pub mod value;

#[cfg(feature = "tokio")]
pub use client::AsyncClient;
pub use client::{
    BatchReport, Client, ClientBuilder, KeyFailure, PerServer, Ping, Reserved, ServerFailure,
    StoreOptions,
};
pub use error::{Error, ErrorKind, KeyError, ProtocolError, Result};
pub use server::{Address, DEFAULT_PORT, ServerSpec};
#[cfg(feature = "tls")]
pub use transport::TlsConfig;
pub use transport::TlsSession;

/// The README's examples, compiled as doctests so they stay accurate
/// (with every feature on: they show TLS and the async client).
#[cfg(all(doctest, feature = "tls", feature = "tokio"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
