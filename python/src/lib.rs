//! `quickmc._quickmc`: the Rust half of the `quickmc` Python package, a
//! drop-in replacement for pylibmc built on the quickmc crate.
//!
//! Rust does the work (I/O with the GIL released, key placement, batching,
//! compression, pylibmc's value encoding); the Python package around it
//! (`python/quickmc/`) is thin: server specs, behavior names, the mapping
//! interface, pools.

use pyo3::prelude::*;

mod client;
mod codec;
mod config;
mod errors;
mod keys;
mod transcoder;

#[pymodule]
fn _quickmc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<client::Client>()?;
    errors::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
