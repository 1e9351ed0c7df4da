//! Server specs: where a server is and how much of the key space it takes.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::Error;

pub use crate::distribution::DEFAULT_PORT;

/// Where a server listens.
///
/// ```
/// use quickmc::Address;
/// let a = Address::Tcp { host: "cache-1".into(), port: 11211 };
/// assert_eq!(a.to_string(), "cache-1:11211");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A host name or IP address and a port.
    Tcp {
        /// The host as written (IPv6 without brackets).
        host: String,
        /// The port.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Address::Tcp { host, port } => write!(f, "{host}:{port}"),
            Address::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One server of a cluster: its address, its weight, and whether it is
/// spoken to over TLS.
///
/// Parses the specs libmemcached and pylibmc accept: `host`, `host:port`,
/// `host:port:weight`, `[v6addr]:port[:weight]`, and Unix socket paths
/// (anything starting with `/`, optionally prefixed `unix:`); a TCP spec
/// prefixed `tls://` is spoken to over TLS (the `tls` feature). The scheme
/// never changes where keys go: continuum points hash the host and port
/// exactly as without it.
///
/// ```
/// use quickmc::{Address, ServerSpec};
/// let s: ServerSpec = "[::1]:11300:5".parse()?;
/// assert_eq!(s.address, Address::Tcp { host: "::1".into(), port: 11300 });
/// assert_eq!(s.weight, 5);
/// let u: ServerSpec = "/run/memcached.sock".parse()?;
/// assert_eq!(u.to_string(), "/run/memcached.sock");
/// let t: ServerSpec = "tls://cache.example.com:11212".parse()?;
/// assert!(t.tls);
/// assert_eq!(t.ketama_host_port(), ("cache.example.com".to_string(), 11212));
/// # Ok::<(), quickmc::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    /// Where the server listens.
    pub address: Address,
    /// Its share of the key space under weighted ketama (default 1).
    pub weight: u32,
    /// Whether the server is spoken to over TLS (`tls://` in the spec).
    pub tls: bool,
}

impl ServerSpec {
    /// The host and port libmemcached hashes for the server's continuum
    /// points (a Unix socket is its path with port 0).
    ///
    /// ```
    /// let s: quickmc::ServerSpec = "cache-b:22122".parse()?;
    /// assert_eq!(s.ketama_host_port(), ("cache-b".to_string(), 22122));
    /// # Ok::<(), quickmc::Error>(())
    /// ```
    pub fn ketama_host_port(&self) -> (String, u16) {
        match &self.address {
            Address::Tcp { host, port } => (host.clone(), *port),
            Address::Unix(path) => (path.display().to_string(), 0),
        }
    }
}

impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls {
            f.write_str("tls://")?;
        }
        write!(f, "{}", self.address)?;
        if self.weight != 1 {
            if matches!(self.address, Address::Unix(_)) {
                write!(f, " (weight {})", self.weight)?;
            } else {
                write!(f, ":{}", self.weight)?;
            }
        }
        Ok(())
    }
}

fn bad(spec: &str, why: &str) -> Error {
    Error::Config(format!("server spec {spec:?}: {why}"))
}

fn parse_number<T: FromStr>(spec: &str, text: &str, what: &str) -> Result<T, Error> {
    text.parse()
        .map_err(|_| bad(spec, &format!("{what} {text:?} is not a valid number")))
}

impl FromStr for ServerSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<ServerSpec, Error> {
        let trimmed = spec.trim();
        if trimmed.is_empty() {
            return Err(bad(spec, "empty"));
        }
        let (tls, trimmed) = match trimmed.strip_prefix("tls://") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let unix = trimmed.strip_prefix("unix:").unwrap_or(trimmed);
        if unix.starts_with('/') {
            if tls {
                return Err(bad(spec, "TLS is spoken over TCP, not a Unix socket"));
            }
            return Ok(ServerSpec {
                address: Address::Unix(PathBuf::from(unix)),
                weight: 1,
                tls,
            });
        }
        let (host, rest) = if let Some(after) = trimmed.strip_prefix('[') {
            let (host, rest) = after
                .split_once(']')
                .ok_or_else(|| bad(spec, "missing ']'"))?;
            host.parse::<Ipv6Addr>()
                .map_err(|_| bad(spec, "not an IPv6 address inside [...]"))?;
            let rest = match rest {
                "" => None,
                r => Some(
                    r.strip_prefix(':')
                        .ok_or_else(|| bad(spec, "expected ':' after ']'"))?,
                ),
            };
            (host, rest)
        } else if trimmed.parse::<Ipv6Addr>().is_ok() {
            (trimmed, None)
        } else {
            match trimmed.split_once(':') {
                Some((host, rest)) => (host, Some(rest)),
                None => (trimmed, None),
            }
        };
        if host.is_empty() {
            return Err(bad(spec, "empty host"));
        }
        let (port, weight) = match rest {
            None => (DEFAULT_PORT, 1),
            Some(rest) => match rest.split_once(':') {
                Some((port, weight)) => (
                    parse_number(spec, port, "port")?,
                    parse_number(spec, weight, "weight")?,
                ),
                None => (parse_number(spec, rest, "port")?, 1),
            },
        };
        if port == 0 {
            return Err(bad(spec, "port 0"));
        }
        Ok(ServerSpec {
            address: Address::Tcp {
                host: host.to_string(),
                port,
            },
            weight,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16, weight: u32) -> ServerSpec {
        ServerSpec {
            address: Address::Tcp {
                host: host.into(),
                port,
            },
            weight,
            tls: false,
        }
    }

    #[test]
    fn every_documented_spec_form_parses() {
        let cases = [
            ("cache-a", tcp("cache-a", 11211, 1)),
            ("cache-a:22122", tcp("cache-a", 22122, 1)),
            ("10.0.0.1:11211:600", tcp("10.0.0.1", 11211, 600)),
            ("[::1]", tcp("::1", 11211, 1)),
            ("[::1]:11300", tcp("::1", 11300, 1)),
            ("[fe80::1]:11300:3", tcp("fe80::1", 11300, 3)),
            ("::1", tcp("::1", 11211, 1)),
            (" host:1 ", tcp("host", 1, 1)),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<ServerSpec>().unwrap(), expected, "{text}");
        }
        let unix: ServerSpec = "unix:/tmp/mc.sock".parse().unwrap();
        assert_eq!(unix.address, Address::Unix("/tmp/mc.sock".into()));
    }

    #[test]
    fn malformed_specs_are_config_errors() {
        for text in [
            "",
            ":11211",
            "host:",
            "host:port",
            "host:70000",
            "host:1:x",
            "[::1",
            "[nothost]:1",
            "[::1]x",
            "host:0",
            "tls:///tmp/mc.sock",
            "tls://",
        ] {
            assert!(
                matches!(text.parse::<ServerSpec>(), Err(Error::Config(_))),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_tls_scheme_leaves_the_continuum_point_unchanged() {
        let plain: ServerSpec = "cache-b:22122:3".parse().unwrap();
        let tls: ServerSpec = "tls://cache-b:22122:3".parse().unwrap();
        assert!(tls.tls && !plain.tls);
        assert_eq!(tls.ketama_host_port(), plain.ketama_host_port());
        assert_eq!((tls.address, tls.weight), (plain.address, plain.weight));
    }

    #[test]
    fn display_round_trips_through_parse() {
        for text in [
            "cache-a:11211",
            "[::1]:11300:5",
            "h:1:7",
            "/tmp/x.sock",
            "tls://h:1:7",
            "tls://[::1]:5",
        ] {
            let spec: ServerSpec = text.parse().unwrap();
            assert_eq!(spec.to_string(), text);
        }
    }
}
