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
//! Layers, lowest first: [`protocol`] (sans-I/O frames), [`value`] (Rust
//! values as bytes and flags), [`connection`] (one socket), [`pool`] (the
//! r2d2 manager), [`distribution`] (hashing and server choice), and the
//! [`Client`].
#![warn(missing_docs)]

mod client;
pub mod connection;
pub mod distribution;
mod error;
mod key;
pub mod pool;
pub mod protocol;
mod server;
pub mod value;

pub use client::{BatchReport, Client, ClientBuilder, KeyFailure, Reserved, StoreOptions};
pub use connection::{ConnectionOptions, Credentials};
pub use error::{Error, KeyError, ProtocolError, Result};
pub use server::{Address, DEFAULT_PORT, ServerSpec};

/// The README's examples, compiled as doctests so they stay accurate.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
