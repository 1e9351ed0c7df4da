//! Behaviors (pylibmc's names and units, already checked and normalised by
//! the Python layer) and the constructor's connection options (SASL
//! credentials, TLS) to a `quickmc::ClientBuilder`. One option, one line:
//! a new builder option is a name in `quickmc/_behaviors.py` and a line
//! here.

use std::str::FromStr;
use std::time::Duration;

use pyo3::conversion::FromPyObjectOwned;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use quickmc::distribution::{DistributionKind, HashAlgorithm};
use quickmc::value::CompressionAlgorithm;

use crate::errors::{NotSupportedError, TLSConfigError};
use crate::transcoder::StoredFlags;

/// What the Python-facing client needs besides the Rust client.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `pickle.dumps` protocol (pylibmc's `pickle_protocol`).
    pub pickle_protocol: i32,
    /// pylibmc's `binary` flag: with it, `replace` of a missing key raises
    /// NotFound as pylibmc's binary mode does; without, it returns False.
    pub binary: bool,
    /// The compressor values are written with.
    pub compression: CompressionAlgorithm,
    /// pylibmc's `verify_keys` (the core's strict keys): write batches
    /// leave refused keys out, as not written.
    pub verify_keys: bool,
}

struct Options<'a, 'py>(&'a Bound<'py, PyDict>);

impl<'py> Options<'_, 'py> {
    fn get<T: FromPyObjectOwned<'py>>(&self, name: &str, default: T) -> PyResult<T> {
        match self.0.get_item(name)? {
            Some(value) if !value.is_none() => value.extract().map_err(|_| {
                PyValueError::new_err(format!("behavior {name} has an invalid value {value}"))
            }),
            _ => Ok(default),
        }
    }

    fn flag(&self, name: &str, default: bool) -> PyResult<bool> {
        match self.0.get_item(name)? {
            Some(value) if !value.is_none() => value.is_truthy(),
            _ => Ok(default),
        }
    }
}

fn distribution(name: &str) -> PyResult<DistributionKind> {
    match name {
        "modula" => Ok(DistributionKind::Modula),
        "consistent" | "consistent ketama" => Ok(DistributionKind::Ketama),
        "consistent weighted" => Ok(DistributionKind::KetamaWeighted),
        other => Err(NotSupportedError::new_err(format!(
            "distribution {other:?} is not supported by quickmc \
             (modula, consistent, consistent ketama and consistent weighted are)"
        ))),
    }
}

/// The TLS configuration the `tls*` options ask for, and whether it is for
/// every server (`tls=True`) or only those given as `tls://host:port`;
/// `None` when no TLS option is set. A file that cannot be used is a
/// `TLSConfigError` naming the option.
fn tls(o: &Options<'_, '_>) -> PyResult<Option<(quickmc::TlsConfig, bool)>> {
    let everywhere = o.flag("tls", false)?;
    let ca: Option<String> = o.get("tls_ca", None)?;
    let cert: Option<String> = o.get("tls_cert", None)?;
    let key: Option<String> = o.get("tls_key", None)?;
    let name: Option<String> = o.get("tls_server_name", None)?;
    let skip = o.flag("tls_dangerously_skip_verification", false)?;
    let any = everywhere || ca.is_some() || cert.is_some() || name.is_some() || skip;
    if !any {
        return Ok(None);
    }
    let unusable =
        |option: &str, e: quickmc::Error| TLSConfigError::new_err(format!("{option}: {e}"));
    let mut config = quickmc::TlsConfig::new();
    if let Some(ca) = ca {
        config = config.ca_file(&ca).map_err(|e| unusable("tls_ca", e))?;
    }
    match (cert, key) {
        (Some(cert), Some(key)) => {
            config = config
                .client_cert_files(&cert, &key)
                .map_err(|e| unusable("tls_cert/tls_key", e))?;
        }
        (None, None) => {}
        _ => {
            return Err(PyValueError::new_err(
                "a client certificate needs both tls_cert and tls_key",
            ));
        }
    }
    if let Some(name) = name {
        config = config.server_name(name);
    }
    if skip {
        config = config.dangerously_accept_any_server_certificate();
    }
    Ok(Some((config, everywhere)))
}

/// What "wait for ever" means for a connect: libmemcached's largest
/// timeout (an int of milliseconds, about 24.8 days).
const FOREVER: Duration = Duration::from_millis(i32::MAX as u64);

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Builds the Rust client for `servers` (canonical specs) with `options`.
pub fn build(
    servers: &[String],
    options: &Bound<'_, PyDict>,
) -> PyResult<(quickmc::Client, Settings)> {
    let o = Options(options);
    let hash_name: String = o.get("hash", "default".to_string())?;
    let hash = HashAlgorithm::from_str(&hash_name).map_err(|_| {
        NotSupportedError::new_err(format!("hash {hash_name:?} is not supported by quickmc"))
    })?;
    let distribution = distribution(&o.get("distribution", "modula".to_string())?)?;

    // libmemcached: connect_timeout in ms; send/receive timeouts in µs, set
    // only when positive, and otherwise every wait is bounded by the poll
    // timeout (ms). A negative poll or connect timeout waits for ever (C's
    // `poll(-1)`); a negative retry or dead timeout retries at once.
    let connect_timeout = match o.get("connect_timeout", 4000i64)? {
        ..0 => FOREVER,
        ms => millis(ms.unsigned_abs().max(1)),
    };
    let io_micros = o
        .get("receive_timeout", 0i64)?
        .max(o.get("send_timeout", 0i64)?);
    let io_timeout = match (io_micros, o.get("_poll_timeout", 5000i64)?) {
        (1.., _) => Some(Duration::from_micros(io_micros.unsigned_abs())),
        (_, ..0) => None,
        (_, ms) => Some(millis(ms.unsigned_abs()).max(Duration::from_micros(1))),
    };
    let seconds = |s: i64| Duration::from_secs(s.max(0).unsigned_abs());
    let retry_timeout = seconds(o.get("retry_timeout", 2i64)?);
    // libmemcached's dead_timeout 0 lets an ejected server back after the
    // retry timeout.
    let dead_timeout = match o.get("dead_timeout", 0i64)? {
        0 => retry_timeout,
        s => seconds(s),
    };
    let compression = match o.get("compression", "zlib".to_string())?.as_str() {
        "zlib" => CompressionAlgorithm::Zlib,
        "zstd" => CompressionAlgorithm::Zstd,
        other => {
            return Err(PyValueError::new_err(format!(
                "compression must be \"zlib\" or \"zstd\", not {other:?}"
            )));
        }
    };

    let mut builder = quickmc::Client::builder()
        .servers(servers)
        .hash(hash)
        .distribution(distribution)
        .connect_timeout(connect_timeout)
        .io_timeout(io_timeout)
        // pylibmc's threads each have a connection of their own; here they
        // share a pool, and one that waits for a free connection waits as
        // long as it would for a reply (a stalled server holding every
        // connection is waited out, as pylibmc waits for it).
        .checkout_timeout(io_timeout.unwrap_or(FOREVER).max(Duration::from_millis(1)))
        .retry_timeout(retry_timeout)
        .dead_timeout(dead_timeout.max(Duration::from_millis(1)))
        .failure_limit(o.get("failure_limit", 5u32)?)
        .remove_failed(o.flag("remove_failed", false)? || o.flag("auto_eject", false)?)
        .tcp_nodelay(o.flag("tcp_nodelay", true)?)
        .tcp_keepalive(o.flag("tcp_keepalive", false)?)
        .strict_keys(o.flag("verify_keys", false)?)
        .max_connections(o.get("max_connections", 16u32)?.max(1));
    // zlib (flag 8) is what pylibmc reads; zstd is quickmc's own flag.
    // (Not `pylibmc_compatible`: a subclass's `serialize` may use flags of
    // its own, which pylibmc allows.)
    builder = builder.transcoder(StoredFlags::new(compression));
    // Pipelined: that many connections per server, shared by every thread.
    let pipelined = o.get("pipelined", 0usize)?;
    if pipelined > 0 {
        builder = builder
            .pipelined(pipelined)
            .pipeline_spin(Duration::from_micros(o.get("pipeline_spin", 200u64)?));
    }
    match tls(&o)? {
        Some((config, true)) => builder = builder.tls(config),
        Some((config, false)) => builder = builder.tls_config(config),
        None => {}
    }
    let username: Option<String> = o.get("username", None)?;
    let password: Option<String> = o.get("password", None)?;
    if let (Some(username), Some(password)) = (username, password) {
        builder = builder.credentials(username, password);
    }
    let client = builder
        .build()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let settings = Settings {
        pickle_protocol: o.get("pickle_protocol", -1i32)?,
        binary: o.flag("binary", false)?,
        compression,
        verify_keys: o.flag("verify_keys", false)?,
    };
    Ok((client, settings))
}
