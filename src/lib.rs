//! quickmc: a quick, small memcached client (binary protocol).
mod client;
pub mod connection;
pub mod distribution;
mod error;
mod key;
pub mod pool;
pub mod protocol;
mod server;
pub mod value;

pub use client::{BatchReport, Client, ClientBuilder, KeyFailure, StoreOptions};
pub use connection::{ConnectionOptions, Credentials};
pub use error::{Error, KeyError, ProtocolError, Result};
pub use server::{Address, DEFAULT_PORT, ServerSpec};
