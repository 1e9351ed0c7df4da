//! quickmc: a quick, small memcached client (binary protocol).
pub mod distribution;
mod error;
mod key;
pub mod protocol;
mod server;
pub mod value;

pub use error::{Error, KeyError, ProtocolError, Result};
pub use server::{Address, DEFAULT_PORT, ServerSpec};
